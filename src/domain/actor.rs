//! Who acts: the roles a token grants, the crew positions an AV screen watches, and the
//! actor a command comes from, as the change log records it.

use serde::{Deserialize, Serialize};

use super::text::{Lang, Mode};

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Organizer,
    Moderator,
    Av,
    Speaker,
    Attendee,
    Display,
    /// Writes the caption tracks: a captioning service, or a person at the /caption page.
    Captioner,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Organizer, Role::Moderator, Role::Av, Role::Speaker, Role::Attendee, Role::Display, Role::Captioner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Organizer => "organizer",
            Role::Moderator => "moderator",
            Role::Av => "av",
            Role::Speaker => "speaker",
            Role::Attendee => "attendee",
            Role::Display => "display",
            Role::Captioner => "captioner",
        }
    }

    /// The chair's authority: moving the show and running the queues.
    pub(super) fn chairs(self) -> bool {
        matches!(self, Role::Organizer | Role::Moderator)
    }

    /// Who runs the stage screens' controls and the side timers: the chair and the AV crew.
    pub(super) fn runs_booth(self) -> bool {
        matches!(self, Role::Organizer | Role::Moderator | Role::Av)
    }

    /// Who may send the chair a note: the crew, the stage, the captioner and the chairs.
    pub fn may_send_notes(self) -> bool {
        !matches!(self, Role::Attendee | Role::Display)
    }

    /// Who may ask to speak: not the crew's screens.
    pub(super) fn may_request(self) -> bool {
        !matches!(self, Role::Av | Role::Display | Role::Captioner)
    }
}

/// Who issued a command, as the change log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable across a person's tabs and devices.
    pub participant: String,
    pub name: String,
    pub role: Role,
    pub mode: Mode,
    pub lang: Lang,
    pub affiliation: Option<String>,
    /// The crew positions an AV screen watches; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crew: Vec<CrewPosition>,
}

/// A crew position that watches a cue screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrewPosition {
    Audio,
    Video,
    Lighting,
    Interpretation,
    Stage,
}

impl CrewPosition {
    pub const ALL: [CrewPosition; 5] = [
        CrewPosition::Audio,
        CrewPosition::Video,
        CrewPosition::Lighting,
        CrewPosition::Interpretation,
        CrewPosition::Stage,
    ];
}
