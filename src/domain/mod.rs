//! The pure core: run of show, live state, commands and the changes they cause.
//! No tokio, no sockets, no clock reads: `now` is always passed in.
//!
//! - `time`, `rejection`, `text`, `actor`: the vocabulary (instants, refusals, typed text,
//!   who acts).
//! - `show` (the plan, with its automation rules), `sides` (whom people speak for, and the
//!   checks of what names a side), `live` (the show's transitions), `queue`, `cues`,
//!   `presence`, `captions`: the parts of an event, each with its own rules.
//! - `command` (what a client may ask), `target` (what it acts on), `change` (what it
//!   changed), `state` (the event's whole state), `apply` (the dispatcher), `plan_edit`
//!   and `plan` (editing the plan while the show runs).
//! - `booth` (the stage screens' controls and the side timers), `notes` (the crew's
//!   back-channel to the chair) and `booth_commands` (their commands).
//! - `questions`, `polls`, `votes`: the audience's voice (written questions, live polls,
//!   and the votes for both, applied in batches).
//!   changed), `state` (the event's whole state), `apply` (the dispatcher), `plan_edit`,
//!   `plan` and `plan_fields` (editing the plan while the show runs).
//! - `automation` (when the plan's automations fire, what they send), `record` (planned
//!   versus actual), `speaking` (who has spoken how long) and `floor` (who holds the floor,
//!   as the turns the speaking record follows).

pub mod automation;
pub mod booth;
pub mod captions;
pub mod cues;
pub mod live;
pub mod notes;
pub mod plan;
pub mod polls;
pub mod presence;
pub mod questions;
pub mod queue;
pub mod record;
pub mod screens;
pub mod show;
pub mod sides;
pub mod speaking;
pub mod text;
pub mod votes;

mod actor;
mod apply;
mod booth_commands;
mod change;
mod command;
mod floor;
mod plan_edit;
mod plan_fields;
mod rejection;
mod state;
mod target;
mod time;
mod voice;

pub use actor::{Actor, Role};
pub use change::{Change, PLAN_UNDO};
pub use command::Command;
pub use rejection::Rejection;
pub use state::EventState;
pub use time::{Millis, Seconds};

#[cfg(test)]
mod tests;
