//! How one connection sees the event: who sees what (the audience, the routing of each
//! change, public tags for participant ids) and the views of the snapshot, the plan, the
//! live state, the queues and each change that the frames carry.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::booth::{SideTimer, StageControls};
use crate::domain::cues::{CrewPosition, Cue, StageMessage};
use crate::domain::live::{ActualRun, LiveState, Phase};
use crate::domain::notes::{Note, NotePreset};
use crate::domain::questions::{Board, QaMode};
use crate::domain::queue::{EntryState, Policy, Queue, QueueEntry, RequestKind};
use crate::domain::show::{
    Automation, Branding, Channel, CuePreset, EventInfo, PlannedCue, RunOfShow, Segment, SegmentKind, Side, Speaker,
};
use crate::domain::speaking::{Person, SpeakingRecord, Tally};
use crate::domain::text::{Lang, Localized, Mode};
use crate::domain::votes::QuestionTally;
use crate::domain::{Change, EventState, Millis, Role};

use super::tagger::Tagger;
use super::voice::{PollCountView, PollView, PollsView, QuestionView, QuestionsView, Viewer};

/// Who sees what. The chair sees every queue topic; others only public ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Chair,
    Public,
}

impl Audience {
    pub fn of(role: Role) -> Self {
        match role {
            Role::Organizer | Role::Moderator => Audience::Chair,
            Role::Av | Role::Speaker | Role::Attendee | Role::Display | Role::Captioner => Audience::Public,
        }
    }
}

/// Which connections a change is for. The others get it as `hidden`, so that every client
/// still sees every seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    Everyone,
    /// The chair and the AV screens that watch this position (`None`: all of them).
    Crew(Option<CrewPosition>),
    /// The chair, the AV crew and the speaker's stage screen.
    Stage,
    /// The chair only (and, by [`owner`], a note's sender).
    Chair,
}

impl Routing {
    pub fn of(change: &Change) -> Self {
        match change {
            Change::Cue { cue, .. } => Routing::Crew(cue.target.position()),
            Change::Stage { .. } | Change::Screen { .. } | Change::Timers { .. } => Routing::Stage,
            Change::Note { .. } => Routing::Chair,
            Change::Live { .. }
            | Change::Queue { .. }
            | Change::Plan { .. }
            | Change::Question { .. }
            | Change::Board { .. }
            | Change::Poll { .. }
            | Change::Votes { .. } => Routing::Everyone,
        }
    }

    /// Whether a connection with `role`, watching `crew` positions, receives such changes.
    pub fn reaches(self, role: Role, crew: &[CrewPosition]) -> bool {
        match (self, role) {
            (Routing::Everyone, _) | (_, Role::Organizer | Role::Moderator) => true,
            (Routing::Crew(position), Role::Av) => crew.is_empty() || position.is_none_or(|p| crew.contains(&p)),
            (Routing::Stage, Role::Av | Role::Speaker) => true,
            _ => false,
        }
    }
}

#[derive(Serialize)]
pub struct EntryView<'a> {
    id: u64,
    who: String,
    name: &'a str,
    affiliation: Option<&'a str>,
    mode: Mode,
    lang: Lang,
    kind: RequestKind,
    topic: Option<&'a str>,
    panellist: bool,
    /// The side they speak for, when the event has sides.
    side: Option<&'a str>,
    state: EntryState,
    /// Holds the place the chair gave it in `waiting`; the others are ordered around it.
    pinned: bool,
    requested_at: Millis,
    called_at: Option<Millis>,
    started_at: Option<Millis>,
    ended_at: Option<Millis>,
}

#[derive(Serialize)]
pub struct QueueView<'a> {
    version: u64,
    policy: Policy,
    topics_public: bool,
    panellists_first: bool,
    speaking_limit_ms: Option<Millis>,
    carry_over: bool,
    /// No new requests: the list of speakers is closed.
    closed: bool,
    /// The side `alternate` puts first in each priority group, so that a second console can
    /// predict the order; null under `first_come` or before anyone was called.
    next_side: Option<Mode>,
    speaking: Option<EntryView<'a>>,
    on_deck: Option<EntryView<'a>>,
    waiting: Vec<EntryView<'a>>,
}

/// How one connection sees the state: participant ids become tags, private topics vanish,
/// cues and stage messages reach only those they are for.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub audience: Audience,
    pub role: Role,
    pub crew: &'a [CrewPosition],
    pub tagger: &'a Tagger,
    /// The viewer's participant, for what is theirs alone (their own questions and votes);
    /// none for frames shared by many.
    pub me: Option<&'a str>,
}

impl<'a> View<'a> {
    fn entry(self, entry: &'a QueueEntry, topics_public: bool) -> EntryView<'a> {
        let show_topic = topics_public || self.audience == Audience::Chair;
        EntryView {
            id: entry.id,
            who: self.tagger.who(&entry.participant),
            name: &entry.name,
            affiliation: entry.affiliation.as_deref(),
            mode: entry.mode,
            lang: entry.lang,
            kind: entry.kind,
            topic: entry.topic.as_deref().filter(|_| show_topic),
            panellist: entry.panellist,
            side: entry.side.as_deref(),
            state: entry.state,
            pinned: entry.pinned,
            requested_at: entry.requested_at,
            called_at: entry.called_at,
            started_at: entry.started_at,
            ended_at: entry.ended_at,
        }
    }

    fn queue(self, queue: &'a Queue) -> QueueView<'a> {
        let entry = |e: &'a QueueEntry| self.entry(e, queue.topics_public);
        QueueView {
            version: queue.version,
            policy: queue.policy,
            topics_public: queue.topics_public,
            panellists_first: queue.panellists_first,
            speaking_limit_ms: queue.speaking_limit_ms,
            carry_over: queue.carry_over,
            closed: queue.closed,
            next_side: queue.next_side(),
            speaking: queue.speaking.as_ref().map(entry),
            on_deck: queue.on_deck.as_ref().map(entry),
            waiting: queue.waiting.iter().map(entry).collect(),
        }
    }

    fn viewer(self) -> Viewer<'a> {
        Viewer { chair: self.audience == Audience::Chair, me: self.me, tagger: self.tagger }
    }

    /// AV notes and planned cues are the crew's business, and a quarter of an attendee's
    /// welcome: they go to the chair and the crew only.
    fn crew(self) -> bool {
        matches!(self.role, Role::Organizer | Role::Moderator | Role::Av)
    }

    fn segments(self, show: &'a RunOfShow) -> Vec<SegmentView<'a>> {
        show.segments.iter().map(|segment| SegmentView::of(segment, self.crew())).collect()
    }

    pub fn snapshot(self, state: &'a EventState) -> SnapshotView<'a> {
        let reaches = |routing: Routing| routing.reaches(self.role, self.crew);
        let crew = self.crew();
        SnapshotView {
            event: &state.show.event,
            plan_version: state.plan_version,
            sides: &state.show.sides,
            segments: self.segments(&state.show),
            qa: state.show.qa,
            cue_presets: crew.then_some(state.show.cue_presets.as_slice()),
            automations: crew.then_some(state.show.automations.as_slice()),
            live: LiveView::of(&state.live),
            queues: state.queues.iter().map(|(name, queue)| (name.as_str(), self.queue(queue))).collect(),
            cues: state.cues.cues.iter().filter(|c| reaches(Routing::Crew(c.target.position()))).collect(),
            stage: state.stage.as_ref().filter(|_| reaches(Routing::Stage)),
            screen: reaches(Routing::Stage).then_some(&state.screen),
            timers: reaches(Routing::Stage).then_some(state.timers.timers.as_slice()),
            notes: state
                .notes
                .notes
                .iter()
                .filter(|n| self.audience == Audience::Chair || self.me == Some(&n.participant))
                .collect(),
            note_presets: self.role.may_send_notes().then_some(state.show.note_presets.as_slice()),
            branding: (reaches(Routing::Stage) || self.role == Role::Display)
                .then_some(state.show.branding.as_ref())
                .flatten(),
            questions: self.viewer().questions(&state.questions),
            polls: self.viewer().polls(state),
            speaking: self.speaking(&state.speaking),
        }
    }

    /// A person as clients name them: `speaker:<id>` for a programme speaker, `who:<tag>`
    /// for someone called from a queue, whose participant id is never sent.
    fn person(self, person: &Person) -> String {
        match person {
            Person::Speaker(id) => format!("speaker:{id}"),
            Person::Participant(participant) => format!("who:{}", self.tagger.who(participant)),
        }
    }

    fn speaking(self, record: &'a SpeakingRecord) -> SpeakingView<'a> {
        let mut sides: Vec<SideView<'a>> = Vec::new();
        for tally in &record.sides {
            let id = tally.side.as_deref();
            let side = match sides.iter().position(|s| s.id == id) {
                Some(at) => &mut sides[at],
                None => {
                    sides.push(SideView { id, spoken_ms: 0, turns: 0, segments: BTreeMap::new() });
                    sides.last_mut().expect("just pushed")
                }
            };
            side.spoken_ms += tally.tally.spoken_ms;
            side.turns += tally.tally.turns;
            side.segments.insert(&tally.segment, tally.tally);
        }
        SpeakingView {
            sides,
            people: record
                .people
                .iter()
                .map(|p| PersonView {
                    key: self.person(&p.person),
                    name: &p.name,
                    side: p.side.as_deref(),
                    spoken_ms: p.tally.spoken_ms,
                    turns: p.tally.turns,
                })
                .collect(),
            open: record
                .open
                .iter()
                .map(|o| OpenView {
                    key: self.person(&o.turn.person),
                    side: o.turn.side.as_deref(),
                    segment: &o.turn.segment,
                    since: o.since,
                })
                .collect(),
        }
    }

    /// How this viewer sees `change`: hidden when it is not for them.
    pub fn change(self, change: &'a Change) -> ChangeView<'a> {
        let own = matches!(change, Change::Note { note, .. } if self.me == Some(note.participant.as_str()));
        if !own && !Routing::of(change).reaches(self.role, self.crew) {
            return ChangeView::Hidden;
        }
        match change {
            Change::Live { op, live, speaking } => ChangeView::Live {
                op,
                live: LiveView::of(live),
                speaking: speaking.as_deref().map(|r| self.speaking(r)),
            },
            Change::Cue { op, cue } => ChangeView::Cue { op, cue },
            Change::Stage { op, message } => ChangeView::Stage { op, message: message.as_ref() },
            Change::Screen { op, screen } => ChangeView::Screen { op, screen },
            Change::Timers { op, timers } => ChangeView::Timers { op, timers: &timers.timers },
            Change::Note { op, note } => ChangeView::Note { op, note },
            Change::Plan { op, plan_version, plan, speaking } => ChangeView::Plan {
                op,
                plan_version: *plan_version,
                plan: PlanView {
                    event: &plan.event,
                    sides: &plan.sides,
                    segments: self.segments(plan),
                    qa: plan.qa,
                    automations: self.crew().then_some(plan.automations.as_slice()),
                },
                speaking: speaking.as_deref().map(|r| self.speaking(r)),
            },
            Change::Queue { op, queue, state, closed, speaking } => ChangeView::Queue {
                op,
                queue,
                state: Box::new(self.queue(state)),
                closed: closed.iter().map(|e| self.entry(e, state.topics_public)).collect(),
                speaking: speaking.as_deref().map(|r| self.speaking(r)),
            },
            Change::Question { op, question } => match self.viewer().question(question) {
                Some(question) => ChangeView::Question { op, question },
                None => ChangeView::Hidden,
            },
            Change::Board { op, board } => ChangeView::Board { op, board },
            Change::Poll { op, poll } => match self.viewer().poll(poll) {
                Some(poll) => ChangeView::Poll { op, poll: Box::new(poll) },
                None => ChangeView::Hidden,
            },
            Change::Votes { op, questions, polls, .. } => {
                ChangeView::Votes { op, questions, polls: self.viewer().poll_counts(polls) }
            }
        }
    }
}

/// The live state as clients see it: the undo history, up to 32 earlier states, would make
/// every live frame many times larger, so only its length goes out, for the Undo button.
#[derive(Serialize)]
pub struct LiveView<'a> {
    version: u64,
    phase: Phase,
    segment: Option<usize>,
    speaker: Option<usize>,
    segment_started_at: Option<Millis>,
    speaker_started_at: Option<Millis>,
    held_since: Option<Millis>,
    segment_paused_ms: Millis,
    speaker_paused_ms: Millis,
    extended_ms: Millis,
    speaker_extended_ms: Millis,
    show_started_at: Option<Millis>,
    ended_at: Option<Millis>,
    actual: &'a [ActualRun],
    undo_depth: usize,
}

impl<'a> LiveView<'a> {
    pub fn of(live: &'a LiveState) -> Self {
        LiveView {
            version: live.version,
            phase: live.phase,
            segment: live.segment,
            speaker: live.speaker,
            segment_started_at: live.segment_started_at,
            speaker_started_at: live.speaker_started_at,
            held_since: live.held_since,
            segment_paused_ms: live.segment_paused_ms,
            speaker_paused_ms: live.speaker_paused_ms,
            extended_ms: live.extended_ms,
            speaker_extended_ms: live.speaker_extended_ms,
            show_started_at: live.show_started_at,
            ended_at: live.ended_at,
            actual: &live.actual,
            undo_depth: live.undo_depth(),
        }
    }
}

/// A segment of the run of show; the crew's notes and cues only for the chair and crew.
#[derive(Serialize)]
pub struct SegmentView<'a> {
    id: &'a str,
    kind: SegmentKind,
    title: &'a Localized,
    chair: Option<&'a Localized>,
    speakers: &'a [Speaker],
    planned_start: Millis,
    duration_ms: Millis,
    speaking_limit_ms: Option<Millis>,
    warning_ms: Millis,
    danger_ms: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    av_notes: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cues: Option<&'a [PlannedCue]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    join_url: Option<&'a str>,
    interpretation: &'a [Channel],
    /// Each side's floor time in the segment, by side id.
    side_budgets_ms: &'a BTreeMap<String, Millis>,
    /// How the segment takes written questions when the plan says; else the event's `qa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    qa: Option<QaMode>,
}

impl<'a> SegmentView<'a> {
    fn of(segment: &'a Segment, crew: bool) -> Self {
        SegmentView {
            id: &segment.id,
            kind: segment.kind,
            title: &segment.title,
            chair: segment.chair.as_ref(),
            speakers: &segment.speakers,
            planned_start: segment.planned_start,
            duration_ms: segment.duration_ms,
            speaking_limit_ms: segment.speaking_limit_ms,
            warning_ms: segment.warning_ms,
            danger_ms: segment.danger_ms,
            av_notes: crew.then_some(segment.av_notes.as_str()),
            cues: crew.then_some(segment.cues.as_slice()),
            join_url: segment.join_url.as_deref(),
            interpretation: &segment.interpretation,
            side_budgets_ms: &segment.side_budgets,
            qa: segment.qa,
        }
    }
}

/// The plan as one audience sees it, in a plan change.
#[derive(Serialize)]
pub struct PlanView<'a> {
    event: &'a EventInfo,
    sides: &'a [Side],
    segments: Vec<SegmentView<'a>>,
    qa: QaMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    automations: Option<&'a [Automation]>,
}

#[derive(Serialize)]
pub struct SnapshotView<'a> {
    event: &'a EventInfo,
    plan_version: u64,
    sides: &'a [Side],
    segments: Vec<SegmentView<'a>>,
    /// How the event takes written questions where a segment's plan does not say.
    qa: QaMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    cue_presets: Option<&'a [CuePreset]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    automations: Option<&'a [Automation]>,
    live: LiveView<'a>,
    queues: BTreeMap<&'a str, QueueView<'a>>,
    cues: Vec<&'a Cue>,
    stage: Option<&'a StageMessage>,
    /// For those who see the stage messages; absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    screen: Option<&'a StageControls>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timers: Option<&'a [SideTimer]>,
    /// The chair's every note; a sender's own; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<&'a Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note_presets: Option<&'a [NotePreset]>,
    /// For the stage and hall screens (and the chair and crew, who see their miniatures).
    #[serde(skip_serializing_if = "Option::is_none")]
    branding: Option<&'a Branding>,
    questions: QuestionsView<'a>,
    polls: PollsView<'a>,
    speaking: SpeakingView<'a>,
}

/// Who has spoken how long (docs/protocol.md, "Sides and speaking time"): closed totals, and
/// the turns whose time runs, each since when.
#[derive(Serialize)]
pub struct SpeakingView<'a> {
    sides: Vec<SideView<'a>>,
    people: Vec<PersonView<'a>>,
    open: Vec<OpenView<'a>>,
}

/// A side's floor time, in all and by segment; `id` null for those who speak for none.
#[derive(Serialize)]
struct SideView<'a> {
    id: Option<&'a str>,
    spoken_ms: Millis,
    turns: u32,
    segments: BTreeMap<&'a str, Tally>,
}

#[derive(Serialize)]
struct PersonView<'a> {
    key: String,
    name: &'a Localized,
    side: Option<&'a str>,
    spoken_ms: Millis,
    turns: u32,
}

#[derive(Serialize)]
struct OpenView<'a> {
    key: String,
    side: Option<&'a str>,
    segment: &'a str,
    since: Millis,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeView<'a> {
    Live {
        op: &'a str,
        live: LiveView<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        speaking: Option<SpeakingView<'a>>,
    },
    Queue {
        op: &'a str,
        queue: &'a str,
        state: Box<QueueView<'a>>,
        closed: Vec<EntryView<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        speaking: Option<SpeakingView<'a>>,
    },
    Cue {
        op: &'a str,
        cue: &'a Cue,
    },
    Stage {
        op: &'a str,
        message: Option<&'a StageMessage>,
    },
    Screen {
        op: &'a str,
        screen: &'a StageControls,
    },
    Timers {
        op: &'a str,
        timers: &'a [SideTimer],
    },
    Note {
        op: &'a str,
        note: &'a Note,
    },
    Plan {
        op: &'a str,
        plan_version: u64,
        plan: PlanView<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        speaking: Option<SpeakingView<'a>>,
    },
    Question {
        op: &'a str,
        question: QuestionView<'a>,
    },
    Board {
        op: &'a str,
        board: &'a Board,
    },
    Poll {
        op: &'a str,
        poll: Box<PollView<'a>>,
    },
    Votes {
        op: &'a str,
        questions: &'a [QuestionTally],
        polls: Vec<PollCountView<'a>>,
    },
    /// A change for others; it only moves this client's seq on.
    Hidden,
}

/// Whether the chair and the public see `change` differently (when it reaches them).
pub fn differs_by_audience(change: &Change) -> bool {
    matches!(
        change,
        Change::Queue { .. }
            | Change::Plan { .. }
            | Change::Question { .. }
            | Change::Poll { .. }
            | Change::Votes { .. }
    )
}

/// The participant who sees `change` unlike the rest of the public: a question's asker.
pub fn owner(change: &Change) -> Option<&str> {
    match change {
        Change::Question { question, .. } => Some(&question.participant),
        Change::Note { note, .. } => Some(&note.participant),
        _ => None,
    }
}

/// Whether the AV crew sees `change` as the chair does rather than as the public: the
/// plan's notes and cues are theirs, the queues' private topics are not.
pub fn crew_sees_as_chair(change: &Change) -> bool {
    matches!(change, Change::Plan { .. })
}
