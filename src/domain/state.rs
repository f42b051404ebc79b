//! One event's whole state (the plan, the show, the queues, the cues, the stage screen),
//! how it starts and how an accepted change moves it on, live and in replay. What a
//! command does to it is `apply`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::booth::{SideTimers, StageControls};
use super::change::{Change, PLAN_UNDO};
use super::cues::{CueSheet, CueState, StageMessage};
use super::live::{LiveState, Phase};
use super::notes::Notes;
use super::plan::PLAN_UNDO_DEPTH;
use super::polls::Polls;
use super::questions::{QaMode, Questions};
use super::queue::{Queue, EVENT_QUEUE};
use super::show::{RunOfShow, Segment, SegmentKind};
use super::speaking::SpeakingRecord;
use super::votes;

/// One event's whole state: the plan and where the show stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventState {
    /// Shared, since the plan changes only by whole plan changes and the hub keeps a copy
    /// of the state to fall back to when the store refuses a batch.
    #[serde(flatten)]
    pub show: Arc<RunOfShow>,
    /// Bumped by every plan edit; plan edits name the version they were made against.
    #[serde(default)]
    pub plan_version: u64,
    /// The plans before the latest edits, oldest first: what `plan_undo` restores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_history: Vec<Arc<RunOfShow>>,
    pub live: LiveState,
    /// One speaker queue per segment id, and [`EVENT_QUEUE`] for open Q&A.
    pub queues: BTreeMap<String, Queue>,
    pub cues: CueSheet,
    /// What the speaker's stage screen shows from the chair.
    pub stage: Option<StageMessage>,
    /// Blackout, ON AIR, a flash and a full-screen message on the stage screens.
    #[serde(default)]
    pub screen: StageControls,
    #[serde(default)]
    pub timers: SideTimers,
    /// The crew's notes to the chair.
    #[serde(default)]
    pub notes: Notes,
    /// The audience's written questions.
    #[serde(default)]
    pub questions: Questions,
    #[serde(default)]
    pub polls: Polls,
    /// Who has spoken how long, per person and per side.
    #[serde(default)]
    pub speaking: SpeakingRecord,
}

impl EventState {
    pub fn new(show: RunOfShow) -> Self {
        let mut queues: BTreeMap<String, Queue> =
            show.segments.iter().map(|s| (s.id.clone(), segment_queue(s))).collect();
        queues.insert(EVENT_QUEUE.to_owned(), Queue::new(None));
        let mut polls = Polls::default();
        polls.add_planned(&show.prepared_polls);
        EventState {
            show: Arc::new(show),
            plan_version: 0,
            plan_history: Vec::new(),
            live: LiveState::default(),
            queues,
            cues: CueSheet::default(),
            stage: None,
            screen: StageControls::default(),
            timers: SideTimers::default(),
            notes: Notes::default(),
            questions: Questions::default(),
            polls,
            speaking: SpeakingRecord::default(),
        }
    }

    /// How segment `segment` (or, for `None`, the event outside any segment) takes written
    /// questions: the chair's live setting, else the plan's, else the event's.
    pub fn qa_mode(&self, segment: Option<&str>) -> QaMode {
        let modes = &self.questions.board.modes;
        let planned = segment.and_then(|id| self.show.segments.iter().find(|s| s.id == id)).and_then(|s| s.qa);
        segment
            .and_then(|id| modes.get(id).copied())
            .or(planned)
            .or_else(|| modes.get(EVENT_QUEUE).copied())
            .unwrap_or(self.show.qa)
    }

    /// The cue a "go" without a cue named fires (the console's G, the control API and OSC
    /// alike): of the current segment's cues the crew has answered (standing by), the
    /// oldest. The current segment is the live one, before the start the first one, after
    /// the end none. A cue nobody answered, of another segment or of the whole day goes only
    /// when it is named.
    pub fn cue_to_go(&self) -> Option<u64> {
        let current = match self.live.phase {
            Phase::Live => self.live.segment,
            Phase::Standby => (!self.show.segments.is_empty()).then_some(0),
            Phase::Ended => None,
        }?;
        let answered = self.cues.cues.iter().filter(|c| c.state == CueState::StandingBy && c.segment == Some(current));
        answered.map(|c| c.id).min()
    }

    /// Whether the state holds nothing of `participant`'s own (a question, a vote, a ballot,
    /// a note): then they see it exactly as anyone of their audience does.
    pub fn holds_nothing_of(&self, participant: &str) -> bool {
        !self.questions.items.values().any(|q| q.participant == participant)
            && self.questions.voted_by(participant).is_empty()
            && self.polls.ballots_of(participant).is_empty()
            && !self.notes.notes.iter().any(|n| n.participant == participant)
    }

    /// Applies an accepted change: used live and when replaying the log.
    pub fn evolve(&mut self, change: &Change) {
        if let Some(record) = change.speaking() {
            self.speaking = record.clone();
        }
        match change {
            Change::Live { live, .. } => self.live = live.clone(),
            Change::Queue { queue, state, .. } => {
                self.queues.insert(queue.clone(), (**state).clone());
            }
            Change::Cue { cue, .. } => self.cues.record(cue),
            Change::Stage { message, .. } => self.stage = message.clone(),
            Change::Screen { screen, .. } => self.screen = (**screen).clone(),
            Change::Timers { timers, .. } => self.timers = (**timers).clone(),
            Change::Note { note, .. } => self.notes.record(note),
            Change::Plan { op, plan_version, plan, .. } => {
                let previous = std::mem::replace(&mut self.show, plan.clone());
                if op == PLAN_UNDO {
                    self.plan_history.pop();
                } else {
                    self.plan_history.push(previous);
                    if self.plan_history.len() > PLAN_UNDO_DEPTH {
                        self.plan_history.remove(0);
                    }
                }
                self.plan_version = *plan_version;
                self.queues.retain(|name, _| name == EVENT_QUEUE || plan.segment_index(name).is_some());
                self.polls.add_planned(&plan.prepared_polls);
            }
            Change::Question { question, .. } => self.questions.record(question),
            Change::Board { board, .. } => self.questions.board = (**board).clone(),
            Change::Poll { poll, .. } => self.polls.record(poll),
            Change::Votes { ballots, .. } => votes::replay(&mut self.questions, &mut self.polls, ballots),
        }
    }
}

/// A segment's queue as it starts. Panels and Q&A hand the floor on: their questions still
/// stand after the segment.
pub(super) fn segment_queue(segment: &Segment) -> Queue {
    Queue {
        carry_over: matches!(segment.kind, SegmentKind::Panel | SegmentKind::Qa),
        ..Queue::new(segment.speaking_limit_ms)
    }
}
