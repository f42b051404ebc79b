//! The crew's back-channel to the chair: the AV crew, the stage and the speakers in the green
//! room send a short note ("mic 3 dead", "speaker ready"), a preset of the plan or typed; it
//! stands in the chair's cockpit until the chair has read it, and its sender sees when.
//! Pure, no I/O.

use serde::{Deserialize, Serialize};

use super::actor::{Actor, CrewPosition, Role};
use super::cues::Step;
use super::rejection::Rejection;
use super::text::{self, Localized};
use super::time::Millis;

/// A typed note at most, in characters: a few words over the intercom.
pub const MAX_NOTE_CHARS: usize = 140;
/// Unread notes an event holds at most; then the chair must read some first.
pub const MAX_UNREAD: usize = 100;
/// Read notes kept for the console's list and the senders' screens.
pub const KEEP_READ: usize = 50;
/// Presets an event file may hold.
pub const MAX_NOTE_PRESETS: usize = 50;

/// A note the crew sends often, in the plan, with one tap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotePreset {
    pub id: String,
    pub text: Localized,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: u64,
    /// The preset it was sent from; its text in every language then.
    pub preset: Option<String>,
    pub text: Localized,
    pub name: String,
    pub role: Role,
    /// The positions of an AV screen that sent it (empty: all, or not the crew).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crew: Vec<CrewPosition>,
    /// Who sent it: they alone, and the chair, see it.
    pub participant: String,
    pub at: Millis,
    /// When the chair read it, and who.
    pub read: Option<Step>,
}

/// The notes of an event: every unread one and the latest read ones, in the order sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notes {
    pub notes: Vec<Note>,
    pub next_id: u64,
}

impl Notes {
    /// The note `actor` sends: from `preset` of `presets`, or typed as `text`.
    pub fn send(
        &self,
        presets: &[NotePreset],
        preset: Option<&str>,
        typed: Option<&str>,
        actor: &Actor,
        now: Millis,
    ) -> Result<Note, Rejection> {
        if !actor.role.may_send_notes() {
            return Err(Rejection::Forbidden(format!("a {} may not send the chair a note", actor.role.as_str())));
        }
        let text = match (preset, typed) {
            (Some(id), None) => presets
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.text.clone())
                .ok_or_else(|| Rejection::InvalidField(format!("no note preset {id:?}")))?,
            (None, Some(typed)) => Localized::same(
                &text::clean(typed, MAX_NOTE_CHARS).map_err(|e| Rejection::InvalidField(format!("text {e}")))?,
            ),
            _ => return Err(Rejection::InvalidField("a note is a preset or a text, one of the two".into())),
        };
        if self.notes.iter().filter(|n| n.read.is_none()).count() >= MAX_UNREAD {
            return Err(Rejection::InvalidState(format!("{MAX_UNREAD} notes wait to be read; try again soon")));
        }
        Ok(Note {
            id: self.next_id + 1,
            preset: preset.map(str::to_owned),
            text,
            name: actor.name.clone(),
            role: actor.role,
            crew: actor.crew.clone(),
            participant: actor.participant.clone(),
            at: now,
            read: None,
        })
    }

    /// Note `id` as the chair `actor` has read it.
    pub fn read(&self, id: u64, actor: &Actor, now: Millis) -> Result<Note, Rejection> {
        if !matches!(actor.role, Role::Organizer | Role::Moderator) {
            return Err(Rejection::Forbidden(format!("a {} may not mark notes read", actor.role.as_str())));
        }
        let note = self.notes.iter().find(|n| n.id == id).ok_or_else(|| no_note(id))?;
        if note.read.is_some() {
            return Err(Rejection::InvalidState(format!("note {id} was read already")));
        }
        Ok(Note { read: Some(Step { at: now, by: actor.name.clone() }), ..note.clone() })
    }

    /// Puts `note` in, and forgets the oldest read notes beyond [`KEEP_READ`].
    pub fn record(&mut self, note: &Note) {
        self.next_id = self.next_id.max(note.id);
        match self.notes.iter_mut().find(|n| n.id == note.id) {
            Some(existing) => *existing = note.clone(),
            None => self.notes.push(note.clone()),
        }
        let mut forget = self.notes.iter().filter(|n| n.read.is_some()).count().saturating_sub(KEEP_READ);
        self.notes.retain(|n| {
            let drop = forget > 0 && n.read.is_some();
            forget -= usize::from(drop);
            !drop
        });
    }
}

fn no_note(id: u64) -> Rejection {
    Rejection::InvalidField(format!("no note {id}"))
}
