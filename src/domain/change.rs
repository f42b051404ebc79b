//! What an accepted command changed: each change carries the new value of the part of the
//! state it replaces, for the log, for replay and for every client.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::booth::{SideTimers, StageControls};
use super::cues::{Cue, StageMessage};
use super::live::LiveState;
use super::notes::Note;
use super::polls::Poll;
use super::questions::{Board, Question};
use super::queue::{Queue, QueueEntry};
use super::show::RunOfShow;
use super::speaking::SpeakingRecord;
use super::votes::{Ballot, PollTally, QuestionTally};

/// An accepted change. Each carries the new value of the part of the state it replaces,
/// so that replaying the log and a client applying it are both a plain assignment. The
/// speaking record has no change of its own: the last change of the show, a queue or the
/// plan that a command makes carries it (`speaking`) when the command moved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Live {
        op: String,
        live: LiveState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaking: Option<Box<SpeakingRecord>>,
    },
    Queue {
        op: String,
        queue: String,
        state: Box<Queue>,
        closed: Vec<QueueEntry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaking: Option<Box<SpeakingRecord>>,
    },
    Cue {
        op: String,
        cue: Box<Cue>,
    },
    Stage {
        op: String,
        message: Option<StageMessage>,
    },
    /// The stage screens' controls, whole.
    Screen {
        op: String,
        screen: Box<StageControls>,
    },
    /// The side timers, all of them.
    Timers {
        op: String,
        timers: Box<SideTimers>,
    },
    /// One note to the chair, whole.
    Note {
        op: String,
        note: Box<Note>,
    },
    /// The whole plan after an edit, and the plan version it is.
    Plan {
        op: String,
        plan_version: u64,
        plan: Arc<RunOfShow>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        speaking: Option<Box<SpeakingRecord>>,
    },
    Question {
        op: String,
        question: Box<Question>,
    },
    /// The chair's arrangement of the questions: their order, the one on screen, settings.
    Board {
        op: String,
        board: Box<Board>,
    },
    Poll {
        op: String,
        poll: Box<Poll>,
    },
    /// A window's votes: every ballot, and the new counts of what they touched.
    Votes {
        op: String,
        ballots: Vec<Ballot>,
        questions: Vec<QuestionTally>,
        polls: Vec<PollTally>,
    },
}

/// The op of a plan change that walks back to the plan before, rather than forward.
pub const PLAN_UNDO: &str = "plan_undo";

impl Change {
    /// The plan this change sets, if it sets it.
    pub fn plan(&self) -> Option<&Arc<RunOfShow>> {
        match self {
            Change::Plan { plan, .. } => Some(plan),
            _ => None,
        }
    }

    /// The speaking record this change carries, if the command that made it moved it.
    pub fn speaking(&self) -> Option<&SpeakingRecord> {
        match self {
            Change::Live { speaking, .. } | Change::Queue { speaking, .. } | Change::Plan { speaking, .. } => {
                speaking.as_deref()
            }
            _ => None,
        }
    }

    /// Where a change of the show, a queue or the plan carries the speaking record.
    pub(super) fn speaking_mut(&mut self) -> Option<&mut Option<Box<SpeakingRecord>>> {
        match self {
            Change::Live { speaking, .. } | Change::Queue { speaking, .. } | Change::Plan { speaking, .. } => {
                Some(speaking)
            }
            _ => None,
        }
    }

    /// The run-of-show state this change sets, if it sets it.
    pub fn live(&self) -> Option<&LiveState> {
        match self {
            Change::Live { live, .. } => Some(live),
            _ => None,
        }
    }
}
