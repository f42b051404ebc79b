//! The pure core: run of show, live state, commands and the changes they cause.
//! No tokio, no sockets, no clock reads: `now` is always passed in.

pub mod live;
pub mod record;
pub mod show;
pub mod text;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use live::{LiveState, ShowOp};
use show::RunOfShow;

/// Milliseconds since the Unix epoch, or a duration in milliseconds.
pub type Millis = i64;

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
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Organizer, Role::Moderator, Role::Av, Role::Speaker, Role::Attendee, Role::Display];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Organizer => "organizer",
            Role::Moderator => "moderator",
            Role::Av => "av",
            Role::Speaker => "speaker",
            Role::Attendee => "attendee",
            Role::Display => "display",
        }
    }

    fn may_run_show(self) -> bool {
        matches!(self, Role::Organizer | Role::Moderator)
    }
}

/// Who issued a command, as the change log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub participant: String,
    pub name: String,
    pub role: Role,
}

/// An operation a client asks for, as decoded from its frame.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Next { version: u64 },
    Previous { version: u64 },
    Goto { version: u64, segment: String },
    NextSpeaker { version: u64 },
    GotoSpeaker { version: u64, speaker: usize },
    Hold { version: u64 },
    Resume { version: u64 },
    Extend { version: u64, seconds: i32 },
    End { version: u64 },
}

impl Command {
    /// Every command `type`, so that the decoder can tell an unknown type from a bad field.
    pub const TYPES: [&'static str; 9] =
        ["next", "previous", "goto", "next_speaker", "goto_speaker", "hold", "resume", "extend", "end"];
    const MAX_EXTEND_SECONDS: i32 = 3600;

    fn name(&self) -> &'static str {
        match self {
            Command::Next { .. } => "next",
            Command::Previous { .. } => "previous",
            Command::Goto { .. } => "goto",
            Command::NextSpeaker { .. } => "next_speaker",
            Command::GotoSpeaker { .. } => "goto_speaker",
            Command::Hold { .. } => "hold",
            Command::Resume { .. } => "resume",
            Command::Extend { .. } => "extend",
            Command::End { .. } => "end",
        }
    }

    /// The show operation and the version it was issued against.
    fn show_op(&self, show: &RunOfShow) -> Result<(u64, ShowOp), Rejection> {
        Ok(match self {
            Command::Next { version } => (*version, ShowOp::Next),
            Command::Previous { version } => (*version, ShowOp::Previous),
            Command::Goto { version, segment } => {
                let index = show
                    .segment_index(segment)
                    .ok_or_else(|| Rejection::InvalidField(format!("no segment has id {segment:?}")))?;
                (*version, ShowOp::Goto(index))
            }
            Command::NextSpeaker { version } => (*version, ShowOp::NextSpeaker),
            Command::GotoSpeaker { version, speaker } => (*version, ShowOp::GotoSpeaker(*speaker)),
            Command::Hold { version } => (*version, ShowOp::Hold),
            Command::Resume { version } => (*version, ShowOp::Resume),
            Command::Extend { version, seconds } => {
                if *seconds == 0 || seconds.abs() > Self::MAX_EXTEND_SECONDS {
                    return Err(Rejection::InvalidField(format!(
                        "seconds must be between -{max} and {max}, and not 0",
                        max = Self::MAX_EXTEND_SECONDS
                    )));
                }
                (*version, ShowOp::Extend(Millis::from(*seconds) * 1000))
            }
            Command::End { version } => (*version, ShowOp::End),
        })
    }
}

/// Why a command was not applied. Each maps to a stable client-facing code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidField(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Forbidden(_) => "forbidden",
            Rejection::Conflict(_) => "conflict",
            Rejection::InvalidState(_) => "invalid_state",
            Rejection::InvalidField(_) => "invalid_field",
        }
    }
}

/// An accepted change. Each carries the new value of the part of the state it replaces,
/// so that replaying the log and a client applying it are both a plain assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Live { op: String, live: LiveState },
}

impl Change {
    /// The run-of-show state this change sets, if it sets it.
    pub fn live(&self) -> Option<&LiveState> {
        match self {
            Change::Live { live, .. } => Some(live),
        }
    }
}

/// One event's whole state: the plan and where the show stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventState {
    /// Shared, since the plan does not change while the show runs and the hub keeps a copy
    /// of the state to fall back to when the store refuses a batch.
    #[serde(flatten)]
    pub show: Arc<RunOfShow>,
    pub live: LiveState,
}

impl EventState {
    pub fn new(show: RunOfShow) -> Self {
        EventState { show: Arc::new(show), live: LiveState::default() }
    }

    /// Checks `command` against the actor's authority and the current state; on success
    /// the state has moved on and the changes to log and publish are returned.
    pub fn apply(&mut self, command: &Command, actor: &Actor, now: Millis) -> Result<Vec<Change>, Rejection> {
        if !actor.role.may_run_show() {
            return Err(Rejection::Forbidden(format!(
                "a {} may not {}; only the moderator or organizer moves the show",
                actor.role.as_str(),
                command.name()
            )));
        }
        let (version, op) = command.show_op(&self.show)?;
        if version != self.live.version {
            return Err(Rejection::Conflict(format!(
                "the show moved on (version {}, not {version}); look again and retry",
                self.live.version
            )));
        }
        let live = self.live.transition(&self.show, &op, now)?;
        let changes = vec![Change::Live { op: command.name().to_owned(), live }];
        changes.iter().for_each(|change| self.evolve(change));
        Ok(changes)
    }

    /// Applies an accepted change: used live and when replaying the log.
    pub fn evolve(&mut self, change: &Change) {
        match change {
            Change::Live { live, .. } => self.live = live.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
