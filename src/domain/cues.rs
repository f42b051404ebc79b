//! Chair cues to the AV crew, called as in theatre (standby, standing by, go, done), and
//! the chair's signals to the speaker's stage screen. Pure, no I/O.

use serde::{Deserialize, Serialize};

use super::actor::{Actor, Role};
use super::rejection::Rejection;
use super::text::{DisplayName, Localized, TextError};
use super::time::Millis;

pub use super::actor::CrewPosition;

/// Who a cue is for: a crew position, or a named person (shown on every cue screen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CueTarget {
    Position(CrewPosition),
    Person { person: String },
}

impl CueTarget {
    /// The position whose screens show the cue; `None` means every cue screen.
    pub fn position(&self) -> Option<CrewPosition> {
        match self {
            CueTarget::Position(position) => Some(*position),
            CueTarget::Person { .. } => None,
        }
    }

    /// The target with a person's name cleaned and bounded as any typed name is: it is
    /// shown on every cue screen and written to the log.
    pub fn parse(self) -> Result<CueTarget, TextError> {
        match self {
            CueTarget::Person { person } => {
                Ok(CueTarget::Person { person: DisplayName::parse(&person)?.as_str().to_owned() })
            }
            position @ CueTarget::Position(_) => Ok(position),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CueState {
    Standby,
    StandingBy,
    Go,
    Done,
    Cancelled,
}

/// Why a cue was cancelled when nobody cancelled it by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Its segment ended while it still stood by: the moment it was called for has passed.
    SegmentEnded,
}

/// Who did a step of a cue, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: Millis,
    pub by: String,
}

impl Step {
    fn of(actor: &Actor, now: Millis) -> Self {
        Step { at: now, by: actor.name.clone() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cue {
    pub id: u64,
    pub target: CueTarget,
    pub text: Localized,
    pub preset: Option<String>,
    pub segment: Option<usize>,
    pub speaker: Option<usize>,
    pub state: CueState,
    pub standby: Step,
    pub standing_by: Option<Step>,
    pub go: Option<Step>,
    pub done: Option<Step>,
    pub cancelled: Option<Step>,
    /// Set when the cue was cancelled by a rule rather than by someone's `cue_cancel`; the
    /// crew's screens say why. Absent in logs written before the rule.
    #[serde(default)]
    pub reason: Option<CancelReason>,
}

/// A cue operation, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CueOp {
    Standby {
        target: CueTarget,
        text: Localized,
        preset: Option<String>,
        segment: Option<usize>,
        speaker: Option<usize>,
    },
    StandingBy(u64),
    Go(u64),
    Done(u64),
    Cancel(u64),
}

/// Cues kept in the state: every open one, and the latest closed ones for the console.
pub const KEEP_CLOSED: usize = 50;
/// Open cues at most, so that a runaway script cannot grow the state without bound.
pub const MAX_OPEN: usize = 200;

fn invalid(message: String) -> Rejection {
    Rejection::InvalidState(message)
}

/// All cues of an event, in the order they were given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueSheet {
    pub cues: Vec<Cue>,
    pub next_id: u64,
}

impl CueSheet {
    /// Applies `op` for `actor`; returns the cue as it now stands. The sheet itself changes
    /// only when the resulting change is recorded.
    pub fn apply(&self, op: CueOp, actor: &Actor, now: Millis) -> Result<Cue, Rejection> {
        let calls = matches!(actor.role, Role::Organizer | Role::Moderator | Role::Av);
        let forbidden = || Rejection::Forbidden(format!("a {} may not do that to a cue", actor.role.as_str()));
        let id = match op {
            CueOp::Standby { target, text, preset, segment, speaker } => {
                if !calls {
                    return Err(forbidden());
                }
                if self.cues.iter().filter(|c| !is_closed(c.state)).count() >= MAX_OPEN {
                    return Err(invalid(format!("{MAX_OPEN} cues are open; finish or cancel some first")));
                }
                return Ok(Cue {
                    id: self.next_id + 1,
                    target,
                    text,
                    preset,
                    segment,
                    speaker,
                    state: CueState::Standby,
                    standby: Step::of(actor, now),
                    standing_by: None,
                    go: None,
                    done: None,
                    cancelled: None,
                    reason: None,
                });
            }
            CueOp::Go(id) | CueOp::Cancel(id) if calls => id,
            CueOp::StandingBy(id) | CueOp::Done(id) if actor.role == Role::Av => id,
            _ => return Err(forbidden()),
        };
        let mut cue = self
            .cues
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| Rejection::InvalidField(format!("no cue {id}")))?;
        let answering = matches!(op, CueOp::StandingBy(_) | CueOp::Done(_));
        if let (true, Some(position)) = (answering, cue.target.position()) {
            if !actor.crew.is_empty() && !actor.crew.contains(&position) {
                return Err(Rejection::Forbidden(format!("cue {id} is for another crew position")));
            }
        }
        let step = Some(Step::of(actor, now));
        match (op, cue.state) {
            (_, CueState::Cancelled) => return Err(invalid(format!("cue {id} was cancelled"))),
            (_, CueState::Done) => return Err(invalid(format!("cue {id} is already done"))),
            (CueOp::StandingBy(_), CueState::Standby) => {
                cue.state = CueState::StandingBy;
                cue.standing_by = step;
            }
            (CueOp::StandingBy(_), _) => return Err(invalid(format!("cue {id} was already answered"))),
            (CueOp::Go(_), CueState::Standby | CueState::StandingBy) => {
                cue.state = CueState::Go;
                cue.go = step;
            }
            (CueOp::Go(_), _) => return Err(invalid(format!("cue {id} is already go"))),
            (CueOp::Done(_), CueState::Go) => {
                cue.state = CueState::Done;
                cue.done = step;
            }
            (CueOp::Done(_), _) => return Err(invalid(format!("cue {id} is not go yet"))),
            (CueOp::Cancel(_), _) => {
                cue.state = CueState::Cancelled;
                cue.cancelled = step;
            }
            (CueOp::Standby { .. }, _) => return Err(invalid("a cue is given standby only once".into())),
        }
        Ok(cue)
    }

    /// The cues of `segment` that close as it ends: those still on standby or standing by,
    /// whose moment has passed, come back cancelled for the reason that their segment ended.
    /// A cue gone GO stays open until the crew confirms it done, and a cue with no segment
    /// carries on through the show.
    pub fn segment_ended(&self, segment: usize, actor: &Actor, now: Millis) -> Vec<Cue> {
        self.cues
            .iter()
            .filter(|c| c.segment == Some(segment) && matches!(c.state, CueState::Standby | CueState::StandingBy))
            .map(|c| Cue {
                state: CueState::Cancelled,
                cancelled: Some(Step::of(actor, now)),
                reason: Some(CancelReason::SegmentEnded),
                ..c.clone()
            })
            .collect()
    }

    /// Puts `cue` in the sheet, and forgets the oldest closed cues beyond [`KEEP_CLOSED`].
    pub fn record(&mut self, cue: &Cue) {
        self.next_id = self.next_id.max(cue.id);
        match self.cues.iter_mut().find(|c| c.id == cue.id) {
            Some(existing) => *existing = cue.clone(),
            None => self.cues.push(cue.clone()),
        }
        let closed = self.cues.iter().filter(|c| is_closed(c.state)).count();
        let mut forget = closed.saturating_sub(KEEP_CLOSED);
        self.cues.retain(|c| {
            let drop = forget > 0 && is_closed(c.state);
            forget -= usize::from(drop);
            !drop
        });
    }
}

fn is_closed(state: CueState) -> bool {
    matches!(state, CueState::Done | CueState::Cancelled)
}

/// What the chair shows on the speaker's stage screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    TwoMinutes,
    WrapUp,
    TimeUp,
    Message,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMessage {
    pub kind: SignalKind,
    pub text: Option<String>,
    pub at: Millis,
    pub by: String,
    /// Kept when the segment changes; other messages end with their segment.
    #[serde(default)]
    pub pinned: bool,
    /// The speaker of the current segment (index) whose screen it is for; `None`: every
    /// stage screen.
    #[serde(default)]
    pub speaker: Option<usize>,
}

impl StageMessage {
    /// Whether the message still stands once its segment has ended. One aimed at a speaker
    /// never does, even pinned: its index names a speaker of the segment that ended.
    pub fn outlives_its_segment(&self) -> bool {
        self.pinned && self.speaker.is_none()
    }
}

#[cfg(test)]
mod tests;
