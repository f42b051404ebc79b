//! The pure core: run of show, live state, commands and the changes they cause.
//! No tokio, no sockets, no clock reads: `now` is always passed in.

pub mod automation;
pub mod captions;
pub mod cues;
pub mod live;
pub mod plan;
pub mod presence;
pub mod queue;
pub mod record;
pub mod show;
pub mod text;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use cues::{CrewPosition, Cue, CueOp, CueSheet, CueState, CueTarget, SignalKind, StageMessage};
use live::{ActualRun, LiveState, Phase, ShowOp};
use plan::{AddSegment, PlanOp, UpdateEvent, UpdateSegment, PLAN_UNDO_DEPTH};
use queue::{Policy, Queue, QueueEntry, QueueOp, RequestKind, EVENT_QUEUE};
use show::{RunOfShow, Segment, SegmentKind};
use text::{Lang, Localized, Mode};

/// Milliseconds since the Unix epoch, or a duration in milliseconds.
pub type Millis = i64;

/// An `extend`'s amount: seconds as a client writes them, whole or not, so that the
/// websocket, the control API and OSC take the same numbers. Counted to the millisecond.
#[derive(Clone, Copy, Debug)]
pub struct Seconds(f64);

impl Seconds {
    /// The smallest amount either way: a millisecond.
    const LEAST: f64 = 0.001;

    /// `None` when `seconds` is not a finite number.
    pub fn parse(seconds: f64) -> Option<Self> {
        seconds.is_finite().then_some(Seconds(seconds))
    }

    /// The amount in milliseconds (to the nearest one), when it is at least a millisecond
    /// and at most `max` seconds either way; compared as written, so that the bounds are
    /// exactly those docs/openapi.json states.
    pub fn millis_within(self, max: f64) -> Option<Millis> {
        let magnitude = self.0.abs();
        (Self::LEAST..=max).contains(&magnitude).then(|| (self.0 * 1000.0).round() as Millis)
    }
}

/// Two amounts are the same when written the same.
impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Seconds {}

impl From<i32> for Seconds {
    fn from(seconds: i32) -> Self {
        Seconds(f64::from(seconds))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Seconds::parse(seconds).ok_or_else(|| serde::de::Error::custom("seconds must be a finite number"))
    }
}

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
    fn chairs(self) -> bool {
        matches!(self, Role::Organizer | Role::Moderator)
    }

    /// Who may ask to speak: not the crew's screens.
    fn may_request(self) -> bool {
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

/// An operation a client asks for, as decoded from its frame.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Next {
        version: u64,
    },
    Previous {
        version: u64,
    },
    Goto {
        version: u64,
        segment: String,
    },
    NextSpeaker {
        version: u64,
    },
    GotoSpeaker {
        version: u64,
        speaker: usize,
    },
    Hold {
        version: u64,
    },
    Resume {
        version: u64,
    },
    Extend {
        version: u64,
        seconds: Seconds,
    },
    End {
        version: u64,
    },
    Undo {
        version: u64,
    },
    QueueRequest {
        queue: String,
        #[serde(default)]
        kind: RequestKind,
        topic: Option<String>,
    },
    QueueWithdraw {
        queue: String,
    },
    QueueNext {
        queue: String,
        version: u64,
    },
    QueueCall {
        queue: String,
        version: u64,
        entry: Option<u64>,
    },
    QueueStart {
        queue: String,
        version: u64,
    },
    QueueStop {
        queue: String,
        version: u64,
    },
    QueueMove {
        queue: String,
        version: u64,
        entry: u64,
        to: usize,
    },
    QueueDismiss {
        queue: String,
        version: u64,
        entry: u64,
    },
    QueueClear {
        queue: String,
        version: u64,
    },
    QueueSettings {
        queue: String,
        version: u64,
        policy: Option<Policy>,
        topics_public: Option<bool>,
        panellists_first: Option<bool>,
        speaking_limit_s: Option<u32>,
        carry_over: Option<bool>,
    },
    CueStandby {
        target: Option<CueTarget>,
        text: Option<Localized>,
        preset: Option<String>,
        segment: Option<String>,
        speaker: Option<usize>,
    },
    CueStandingBy {
        cue: u64,
    },
    CueGo {
        cue: u64,
    },
    CueDone {
        cue: u64,
    },
    CueCancel {
        cue: u64,
    },
    StageSignal {
        signal: SignalKind,
        text: Option<String>,
        pinned: Option<bool>,
        speaker: Option<usize>,
    },
    StageClear {},
    PlanAddSegment(Box<AddSegment>),
    PlanDuplicateSegment {
        plan_version: u64,
        segment: String,
        /// The copy's id; generated when absent.
        new_segment: Option<String>,
    },
    PlanRemoveSegment {
        plan_version: u64,
        segment: String,
    },
    PlanMoveSegment {
        plan_version: u64,
        segment: String,
        after: Option<String>,
    },
    PlanUpdateSegment(Box<UpdateSegment>),
    PlanUpdateEvent(Box<UpdateEvent>),
    PlanUndo {
        plan_version: u64,
    },
    /// The whole list of automations; the organizer's.
    PlanUpdateAutomations {
        plan_version: u64,
        automations: Vec<automation::Automation>,
    },
    /// A whole plan brought in from a file (`eventhub import`): built by the server from a
    /// parsed file, never decoded from a frame.
    #[serde(skip)]
    PlanReplace {
        plan_version: u64,
        plan: Box<RunOfShow>,
        /// Replace it even while the show is live.
        force: bool,
    },
}

fn queue(name: &str, version: Option<u64>, op: QueueOp) -> Result<Target<'_>, Rejection> {
    Ok(Target::Queue { name, version, op })
}

/// What a command acts on, decoded.
enum Target<'a> {
    Show { version: u64, op: ShowOp },
    Queue { name: &'a str, version: Option<u64>, op: QueueOp },
    Cue(CueOp),
    Stage(Option<StageSignal>),
}

/// A signal to the speaker, decoded.
struct StageSignal {
    kind: SignalKind,
    text: Option<String>,
    pinned: bool,
    speaker: Option<usize>,
}

const MAX_STAGE_TEXT_CHARS: usize = 140;

impl Command {
    /// Every command `type`, so that the decoder can tell an unknown type from a bad field.
    pub const TYPES: [&'static str; 35] = [
        "next",
        "previous",
        "goto",
        "next_speaker",
        "goto_speaker",
        "hold",
        "resume",
        "extend",
        "end",
        "undo",
        "queue_request",
        "queue_withdraw",
        "queue_next",
        "queue_call",
        "queue_start",
        "queue_stop",
        "queue_move",
        "queue_dismiss",
        "queue_clear",
        "queue_settings",
        "cue_standby",
        "cue_standing_by",
        "cue_go",
        "cue_done",
        "cue_cancel",
        "stage_signal",
        "stage_clear",
        "plan_add_segment",
        "plan_duplicate_segment",
        "plan_remove_segment",
        "plan_move_segment",
        "plan_update_segment",
        "plan_update_event",
        "plan_undo",
        "plan_update_automations",
    ];
    const MAX_EXTEND_SECONDS: i32 = 3600;
    const SPEAKING_LIMIT_S: std::ops::RangeInclusive<u32> = 10..=3600;

    pub fn name(&self) -> &'static str {
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
            Command::Undo { .. } => "undo",
            Command::QueueRequest { .. } => "queue_request",
            Command::QueueWithdraw { .. } => "queue_withdraw",
            Command::QueueNext { .. } => "queue_next",
            Command::QueueCall { .. } => "queue_call",
            Command::QueueStart { .. } => "queue_start",
            Command::QueueStop { .. } => "queue_stop",
            Command::QueueMove { .. } => "queue_move",
            Command::QueueDismiss { .. } => "queue_dismiss",
            Command::QueueClear { .. } => "queue_clear",
            Command::QueueSettings { .. } => "queue_settings",
            Command::CueStandby { .. } => "cue_standby",
            Command::CueStandingBy { .. } => "cue_standing_by",
            Command::CueGo { .. } => "cue_go",
            Command::CueDone { .. } => "cue_done",
            Command::CueCancel { .. } => "cue_cancel",
            Command::StageSignal { .. } => "stage_signal",
            Command::StageClear {} => "stage_clear",
            Command::PlanAddSegment(_) => "plan_add_segment",
            Command::PlanDuplicateSegment { .. } => "plan_duplicate_segment",
            Command::PlanRemoveSegment { .. } => "plan_remove_segment",
            Command::PlanMoveSegment { .. } => "plan_move_segment",
            Command::PlanUpdateSegment(_) => "plan_update_segment",
            Command::PlanUpdateEvent(_) => "plan_update_event",
            Command::PlanUndo { .. } => "plan_undo",
            Command::PlanReplace { .. } => "plan_replace",
            Command::PlanUpdateAutomations { .. } => "plan_update_automations",
        }
    }

    /// For a plan edit: the plan version it was made against, and the edit (none for an
    /// undo, which restores the plan before the latest edit).
    fn plan_edit(&self) -> Option<(u64, Option<PlanOp<'_>>)> {
        Some(match self {
            Command::PlanAddSegment(add) => (add.plan_version, Some(PlanOp::Add(add))),
            Command::PlanDuplicateSegment { plan_version, segment, new_segment } => {
                (*plan_version, Some(PlanOp::Duplicate { segment, id: new_segment.as_deref() }))
            }
            Command::PlanRemoveSegment { plan_version, segment } => (*plan_version, Some(PlanOp::Remove(segment))),
            Command::PlanMoveSegment { plan_version, segment, after } => {
                (*plan_version, Some(PlanOp::Move { segment, after: after.as_deref() }))
            }
            Command::PlanUpdateSegment(update) => (update.plan_version, Some(PlanOp::Update(update))),
            Command::PlanUpdateEvent(update) => (update.plan_version, Some(PlanOp::Event(update))),
            Command::PlanUndo { plan_version } => (*plan_version, None),
            Command::PlanReplace { plan_version, plan, .. } => (*plan_version, Some(PlanOp::Replace(plan))),
            Command::PlanUpdateAutomations { plan_version, automations } => {
                (*plan_version, Some(PlanOp::Automations(automations)))
            }
            _ => return None,
        })
    }

    fn target(&self, show: &RunOfShow) -> Result<Target<'_>, Rejection> {
        match self {
            Command::QueueRequest { queue: name, kind, topic } => {
                let topic = queue::parse_topic(topic.as_deref())?;
                queue(name, None, QueueOp::Request { kind: *kind, topic })
            }
            Command::QueueWithdraw { queue: name } => queue(name, None, QueueOp::Withdraw),
            Command::QueueNext { queue: name, version } => queue(name, Some(*version), QueueOp::Next),
            Command::QueueCall { queue: name, version, entry } => {
                queue(name, Some(*version), QueueOp::Call { entry: *entry })
            }
            Command::QueueStart { queue: name, version } => queue(name, Some(*version), QueueOp::Start),
            Command::QueueStop { queue: name, version } => queue(name, Some(*version), QueueOp::Stop),
            Command::QueueMove { queue: name, version, entry, to } => {
                queue(name, Some(*version), QueueOp::Move { entry: *entry, to: *to })
            }
            Command::QueueDismiss { queue: name, version, entry } => {
                queue(name, Some(*version), QueueOp::Dismiss { entry: *entry })
            }
            Command::QueueClear { queue: name, version } => queue(name, Some(*version), QueueOp::Clear),
            Command::QueueSettings {
                queue: name,
                version,
                policy,
                topics_public,
                panellists_first,
                speaking_limit_s,
                carry_over,
            } => {
                let speaking_limit_ms = match speaking_limit_s {
                    None => None,
                    Some(0) => Some(None),
                    Some(s) if Self::SPEAKING_LIMIT_S.contains(s) => Some(Some(Millis::from(*s) * 1000)),
                    Some(_) => {
                        return Err(Rejection::InvalidField("speaking_limit_s must be 0 (none) or 10-3600".into()))
                    }
                };
                let settings = queue::Settings {
                    policy: *policy,
                    topics_public: *topics_public,
                    panellists_first: *panellists_first,
                    speaking_limit_ms,
                    carry_over: *carry_over,
                };
                queue(name, Some(*version), QueueOp::Settings(settings))
            }
            Command::CueStandby { target, text, preset, segment, speaker } => {
                let preset_cue = match preset {
                    Some(id) => Some(
                        show.cue_presets
                            .iter()
                            .find(|p| &p.id == id)
                            .ok_or_else(|| Rejection::InvalidField(format!("no cue preset {id:?}")))?,
                    ),
                    None => None,
                };
                let target = target
                    .clone()
                    .map(CueTarget::parse)
                    .transpose()
                    .map_err(|e| Rejection::InvalidField(format!("person name {e}")))?
                    .or_else(|| preset_cue.map(|p| p.target.clone()))
                    .ok_or_else(|| Rejection::InvalidField("a cue needs a target or a preset".into()))?;
                let text = match (text, preset_cue) {
                    (Some(text), _) => Localized {
                        zh: clean_cue_text(&text.zh)?,
                        ja: clean_cue_text(&text.ja)?,
                        en: clean_cue_text(&text.en)?,
                    },
                    (None, Some(preset)) => preset.text.clone(),
                    (None, None) => return Err(Rejection::InvalidField("a cue needs a text or a preset".into())),
                };
                let segment = match segment {
                    Some(id) => Some(
                        show.segment_index(id)
                            .ok_or_else(|| Rejection::InvalidField(format!("no segment has id {id:?}")))?,
                    ),
                    None => None,
                };
                Ok(Target::Cue(CueOp::Standby { target, text, preset: preset.clone(), segment, speaker: *speaker }))
            }
            Command::CueStandingBy { cue } => Ok(Target::Cue(CueOp::StandingBy(*cue))),
            Command::CueGo { cue } => Ok(Target::Cue(CueOp::Go(*cue))),
            Command::CueDone { cue } => Ok(Target::Cue(CueOp::Done(*cue))),
            Command::CueCancel { cue } => Ok(Target::Cue(CueOp::Cancel(*cue))),
            Command::StageSignal { signal, text, pinned, speaker } => {
                let text = match text {
                    Some(text) => text::clean_optional(text, MAX_STAGE_TEXT_CHARS)
                        .map_err(|e| Rejection::InvalidField(format!("text {e}")))?,
                    None => None,
                };
                if *signal == SignalKind::Message && text.is_none() {
                    return Err(Rejection::InvalidField("a message signal needs a text".into()));
                }
                let (pinned, speaker) = (pinned.unwrap_or(false), *speaker);
                Ok(Target::Stage(Some(StageSignal { kind: *signal, text, pinned, speaker })))
            }
            Command::StageClear {} => Ok(Target::Stage(None)),
            _ => {
                let (version, op) = self.show_op(show)?;
                Ok(Target::Show { version, op })
            }
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
                let by = seconds.millis_within(f64::from(Self::MAX_EXTEND_SECONDS)).ok_or_else(|| {
                    Rejection::InvalidField(format!(
                        "seconds must be between -{max} and {max}, and at least 0.001 either way",
                        max = Self::MAX_EXTEND_SECONDS
                    ))
                })?;
                (*version, ShowOp::Extend(by))
            }
            Command::End { version } => (*version, ShowOp::End),
            Command::Undo { version } => (*version, ShowOp::Undo),
            _ => return Err(Rejection::InvalidField(format!("{} is not a run-of-show command", self.name()))),
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

/// One language of a cue's text: required, bounded, cleaned as all typed text is.
fn clean_cue_text(text: &str) -> Result<String, Rejection> {
    text::clean(text, MAX_STAGE_TEXT_CHARS).map_err(|e| Rejection::InvalidField(format!("cue text {e}")))
}

fn forbidden(actor: &Actor, command: &Command, why: &str) -> Rejection {
    Rejection::Forbidden(format!("a {} may not {}; {why}", actor.role.as_str(), command.name()))
}

fn check_version(what: &str, current: u64, named: u64) -> Result<(), Rejection> {
    if current == named {
        return Ok(());
    }
    Err(Rejection::Conflict(format!("{what} moved on (version {current}, not {named}); look again and retry")))
}

/// An accepted change. Each carries the new value of the part of the state it replaces,
/// so that replaying the log and a client applying it are both a plain assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Live {
        op: String,
        live: LiveState,
    },
    Queue {
        op: String,
        queue: String,
        state: Box<Queue>,
        closed: Vec<QueueEntry>,
    },
    Cue {
        op: String,
        cue: Box<Cue>,
    },
    Stage {
        op: String,
        message: Option<StageMessage>,
    },
    /// The whole plan after an edit, and the plan version it is.
    Plan {
        op: String,
        plan_version: u64,
        plan: Arc<RunOfShow>,
    },
}

/// The op of a plan change that walks back to the plan before, rather than forward.
pub const PLAN_UNDO: &str = "plan_undo";

impl Change {
    /// The plan this change sets, if it sets it.
    pub fn plan(&self) -> Option<&Arc<RunOfShow>> {
        match self {
            Change::Plan { plan, .. } => Some(plan),
            Change::Live { .. } | Change::Queue { .. } | Change::Cue { .. } | Change::Stage { .. } => None,
        }
    }

    /// The run-of-show state this change sets, if it sets it.
    pub fn live(&self) -> Option<&LiveState> {
        match self {
            Change::Live { live, .. } => Some(live),
            Change::Queue { .. } | Change::Cue { .. } | Change::Stage { .. } | Change::Plan { .. } => None,
        }
    }
}

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
}

impl EventState {
    pub fn new(show: RunOfShow) -> Self {
        let mut queues: BTreeMap<String, Queue> =
            show.segments.iter().map(|s| (s.id.clone(), segment_queue(s))).collect();
        queues.insert(EVENT_QUEUE.to_owned(), Queue::new(None));
        EventState {
            show: Arc::new(show),
            plan_version: 0,
            plan_history: Vec::new(),
            live: LiveState::default(),
            queues,
            cues: CueSheet::default(),
            stage: None,
        }
    }

    /// Checks a plan edit and lays out what it does: the requests of removed segments
    /// expire, the plan is replaced, the live state, the cues and the new segments' queues
    /// follow it so that the show stays on the same segment and speaker.
    fn edit_plan(
        &self,
        command: &Command,
        actor: &Actor,
        named: u64,
        edit: Option<PlanOp<'_>>,
        now: Millis,
    ) -> Result<Vec<Change>, Rejection> {
        if !actor.role.chairs() {
            return Err(forbidden(actor, command, "only the moderator or organizer edits the plan"));
        }
        if matches!(command, Command::PlanUpdateAutomations { .. }) && actor.role != Role::Organizer {
            return Err(forbidden(actor, command, "only the organizer edits the automations"));
        }
        check_version("the plan", self.plan_version, named)?;
        if matches!(command, Command::PlanReplace { force: false, .. }) && self.live.phase == Phase::Live {
            return Err(Rejection::InvalidState(
                "the show is live; replacing its whole plan needs force (edit it segment by segment instead)".into(),
            ));
        }
        let old = &self.show;
        let moved = match &edit {
            Some(PlanOp::Move { segment, .. }) => Some(*segment),
            _ => None,
        };
        let plan = match edit {
            Some(edit) => plan::edited(old, edit)?,
            None => {
                let previous = self
                    .plan_history
                    .last()
                    .ok_or_else(|| Rejection::InvalidState("there is no plan edit to undo".into()))?;
                plan::retimed((**previous).clone())
            }
        };
        let places = Places { old, new: &plan };
        self.keeps_the_past(&places, moved)?;
        if let Some(index) = self.live.segment {
            if places.segment(index).is_none() {
                return Err(Rejection::InvalidState(format!(
                    "{:?} is live and cannot be removed; move the show on first",
                    old.segments[index].id
                )));
            }
            if let Some(speaker) = self.live.speaker {
                if places.speaker(index, speaker).is_none() {
                    return Err(Rejection::InvalidState(format!(
                        "{} is speaking and cannot be removed; move to the next speaker first",
                        old.segments[index].speakers[speaker].name.en
                    )));
                }
            }
        }
        let op = command.name().to_owned();
        let mut changes = Vec::new();
        // Receivers of carried requests, in the order they first received, so that a queue
        // that takes from two removed segments is sent once, with both.
        let mut receivers: Vec<(String, Queue)> = Vec::new();
        for (k, segment) in old.segments.iter().enumerate().filter(|(_, s)| plan.segment_index(&s.id).is_none()) {
            let Some(mut queue) = self.queues.get(&segment.id).cloned() else { continue };
            // As when a segment ends: carried to the segment that takes its place (the next
            // one that stays), or to the event's queue when none follows.
            let receiver = old.segments[k + 1..]
                .iter()
                .find(|s| plan.segment_index(&s.id).is_some())
                .map_or(EVENT_QUEUE, |s| s.id.as_str());
            let Some((mut closed, carried)) = queue.end_segment(self.queues.contains_key(receiver), now) else {
                continue;
            };
            if !carried.is_empty() {
                let at = match receivers.iter().position(|(name, _)| name == receiver) {
                    Some(at) => at,
                    None => {
                        receivers.push((receiver.to_owned(), self.queues[receiver].clone()));
                        receivers.len() - 1
                    }
                };
                closed.extend(receivers[at].1.receive(carried, now));
            }
            changes.push(Change::Queue { op: op.clone(), queue: segment.id.clone(), state: Box::new(queue), closed });
        }
        changes.extend(receivers.into_iter().map(|(queue, state)| Change::Queue {
            op: op.clone(),
            queue,
            state: Box::new(state),
            closed: Vec::new(),
        }));
        let live = places.live(&self.live);
        let cues: Vec<Cue> = self
            .cues
            .cues
            .iter()
            .filter_map(|cue| {
                let segment = cue.segment.and_then(|s| places.segment(s));
                (segment != cue.segment).then(|| Cue { segment, ..cue.clone() })
            })
            .collect();
        // A message aimed at one speaker follows them, and ends with them when they are gone.
        let stage = match (&self.stage, self.live.segment) {
            (Some(message @ StageMessage { speaker: Some(k), .. }), Some(segment)) => {
                match places.speaker(segment, *k) {
                    Some(moved) if moved == *k => None,
                    moved => Some(moved.map(|speaker| StageMessage { speaker: Some(speaker), ..message.clone() })),
                }
            }
            _ => None,
        };
        let added: Vec<(String, Queue)> = plan
            .segments
            .iter()
            .filter(|s| !self.queues.contains_key(&s.id))
            .map(|s| (s.id.clone(), segment_queue(s)))
            .collect();
        changes.push(Change::Plan { op: op.clone(), plan_version: self.plan_version + 1, plan: Arc::new(plan) });
        if live != self.live {
            changes.push(Change::Live { op: op.clone(), live: LiveState { version: self.live.version + 1, ..live } });
        }
        changes.extend(added.into_iter().map(|(queue, state)| Change::Queue {
            op: op.clone(),
            queue,
            state: Box::new(state),
            closed: Vec::new(),
        }));
        changes.extend(cues.into_iter().map(|cue| Change::Cue { op: op.clone(), cue: Box::new(cue) }));
        changes.extend(stage.map(|message| Change::Stage { op, message }));
        Ok(changes)
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

    /// No plan edit re-plans what has run: the segments that ran or are running stay, in
    /// their order, and nothing is placed (added, moved, brought back by an undo) among them,
    /// where `next` would never reach it and the record would show it as skipped. A segment
    /// skipped earlier may still be moved on, after them.
    fn keeps_the_past(&self, places: &Places<'_>, moved: Option<&str>) -> Result<(), Rejection> {
        let mut ran: Vec<usize> = self.live.actual.iter().map(|run| run.segment).chain(self.live.segment).collect();
        ran.sort_unstable();
        ran.dedup();
        let Some(&last) = ran.last() else { return Ok(()) };
        let has_run = |index: usize| places.old.segments[index].id.as_str();
        if let Some(index) = moved.and_then(|id| places.old.segment_index(id)).filter(|k| ran.contains(k)) {
            let what = if Some(index) == self.live.segment { "is running" } else { "has run" };
            return Err(Rejection::InvalidState(format!("{:?} {what} and stays where it is", has_run(index))));
        }
        let mut new_places = Vec::with_capacity(ran.len());
        for &index in &ran {
            let place = places.segment(index).ok_or_else(|| {
                Rejection::InvalidState(format!("{:?} has run; it stays in the plan with its record", has_run(index)))
            })?;
            new_places.push(place);
        }
        if new_places.windows(2).any(|pair| pair[0] > pair[1]) {
            return Err(Rejection::InvalidState(
                "segments that have run keep their order; only what is still to come can move".into(),
            ));
        }
        let boundary = places.segment(last).unwrap_or_default();
        for (index, segment) in places.new.segments.iter().enumerate().take(boundary) {
            let was = places.old.segment_index(&segment.id);
            let moved_into_the_past = match was {
                None => true,
                Some(was) => was > last,
            };
            if moved_into_the_past {
                return Err(Rejection::InvalidState(format!(
                    "{:?} would come at {} among segments that have already run, where the show would never reach it; \
                     place it after {:?}",
                    segment.id,
                    index + 1,
                    has_run(last)
                )));
            }
        }
        Ok(())
    }

    /// Checks `command` against the actor's authority and the current state; on success
    /// the state has moved on and the changes to log and publish are returned.
    ///
    /// A stage message belongs to whoever had the floor when it was sent: when the floor
    /// passes (the next speaker, someone called from a queue, another segment) the message
    /// ends with it, unless the chair pinned it.
    pub fn apply(&mut self, command: &Command, actor: &Actor, now: Millis) -> Result<Vec<Change>, Rejection> {
        let (segment, speaker, since, speaking) = self.floor();
        let floor = (segment.map(str::to_owned), speaker.map(str::to_owned), since, speaking);
        let mut changes = self.command_changes(command, actor, now)?;
        let (segment, speaker, since, speaking) = self.floor();
        let passed = (segment.map(str::to_owned), speaker.map(str::to_owned), since, speaking) != floor;
        if passed && self.stage.as_ref().is_some_and(|message| !message.pinned) {
            let cleared = Change::Stage { op: command.name().to_owned(), message: None };
            self.evolve(&cleared);
            changes.push(cleared);
        }
        Ok(changes)
    }

    /// Who has the floor: the segment and speaker live, by id (a plan edit that reorders
    /// them passes no floor), since when (the same speaker called again is a new turn), and
    /// whoever speaks from a queue.
    fn floor(&self) -> (Option<&str>, Option<&str>, Option<Millis>, Vec<u64>) {
        let segment = self.live.segment.and_then(|k| self.show.segments.get(k));
        let speaker = segment.zip(self.live.speaker).and_then(|(s, k)| s.speakers.get(k)).map(|p| p.id.as_str());
        let speaking = self.queues.values().filter_map(|q| q.speaking.as_ref().map(|e| e.id)).collect();
        (segment.map(|s| s.id.as_str()), speaker, self.live.speaker_started_at, speaking)
    }

    fn command_changes(&mut self, command: &Command, actor: &Actor, now: Millis) -> Result<Vec<Change>, Rejection> {
        if let Some((named, edit)) = command.plan_edit() {
            let changes = self.edit_plan(command, actor, named, edit, now)?;
            changes.iter().for_each(|change| self.evolve(change));
            return Ok(changes);
        }
        let op = command.name().to_owned();
        let change = match command.target(&self.show)? {
            Target::Show { version, op: show_op } => {
                if !actor.role.chairs() {
                    return Err(forbidden(actor, command, "only the moderator or organizer moves the show"));
                }
                check_version("the show", self.live.version, version)?;
                let live = self.live.transition(&self.show, &show_op, now)?;
                let ended = match self.live.segment {
                    Some(index) if show_op != ShowOp::Undo && live.segment != Some(index) => Some(index),
                    _ => None,
                };
                let mut changes =
                    ended.map(|index| self.segment_ended(index, &live, &op, actor, now)).unwrap_or_default();
                changes.insert(0, Change::Live { op, live });
                changes.iter().for_each(|change| self.evolve(change));
                return Ok(changes);
            }
            Target::Queue { name, version, op: queue_op } => {
                let queue =
                    self.queues.get(name).ok_or_else(|| Rejection::InvalidField(format!("no queue named {name:?}")))?;
                match version {
                    Some(_) if !actor.role.chairs() => {
                        return Err(forbidden(actor, command, "only the chair runs the queue"));
                    }
                    None if !actor.role.may_request() => {
                        return Err(forbidden(actor, command, "crew screens cannot ask to speak"));
                    }
                    Some(version) => check_version("the queue", queue.version, version)?,
                    None => {}
                }
                let mut state = queue.clone();
                let closed = state.apply(queue_op, actor, now)?;
                Change::Queue { op, queue: name.to_owned(), state: Box::new(state), closed }
            }
            Target::Cue(cue_op) => Change::Cue { op, cue: Box::new(self.cues.apply(cue_op, actor, now)?) },
            Target::Stage(signal) => {
                if !actor.role.chairs() {
                    return Err(forbidden(actor, command, "only the chair signals the speaker"));
                }
                if signal.is_none() && self.stage.is_none() {
                    return Err(Rejection::InvalidState("the stage screen shows no message".into()));
                }
                if let Some(speaker) = signal.as_ref().and_then(|s| s.speaker) {
                    let segment = self
                        .live
                        .segment
                        .ok_or_else(|| Rejection::InvalidState("no segment is live, so no speaker to aim at".into()))?;
                    if speaker >= self.show.segments[segment].speakers.len() {
                        return Err(Rejection::InvalidField(format!("the segment has no speaker {speaker}")));
                    }
                }
                let message = signal.map(|s| StageMessage {
                    kind: s.kind,
                    text: s.text,
                    at: now,
                    by: actor.name.clone(),
                    pinned: s.pinned,
                    speaker: s.speaker,
                });
                Change::Stage { op, message }
            }
        };
        self.evolve(&change);
        Ok(vec![change])
    }

    /// What follows from the end of segment `index` as the show moves to `live`: its queue
    /// closes, its cues still standing by close, and the stage message ends with it unless
    /// the chair pinned it.
    fn segment_ended(&self, index: usize, live: &LiveState, op: &str, actor: &Actor, now: Millis) -> Vec<Change> {
        let mut changes = self.queue_closed(index, live, op, now);
        changes.extend(
            self.cues
                .segment_ended(index, actor, now)
                .into_iter()
                .map(|cue| Change::Cue { op: op.to_owned(), cue: Box::new(cue) }),
        );
        if self.stage.as_ref().is_some_and(|message| !message.outlives_its_segment()) {
            changes.push(Change::Stage { op: op.to_owned(), message: None });
        }
        changes
    }

    /// The ended segment's queue closes, carrying its open requests to the queue of the
    /// segment now live (or, when the show ends, to the event's) or expiring them.
    fn queue_closed(&self, index: usize, live: &LiveState, op: &str, now: Millis) -> Vec<Change> {
        let name = &self.show.segments[index].id;
        let Some(mut source) = self.queues.get(name).cloned() else { return Vec::new() };
        let target_name = live.segment.map_or(EVENT_QUEUE, |k| self.show.segments[k].id.as_str());
        let target = self.queues.get(target_name).cloned();
        let Some((mut closed, carried)) = source.end_segment(target.is_some(), now) else { return Vec::new() };
        let target = target.filter(|_| !carried.is_empty()).map(|mut target| {
            closed.extend(target.receive(carried, now));
            target
        });
        let mut changes =
            vec![Change::Queue { op: op.to_owned(), queue: name.clone(), state: Box::new(source), closed }];
        changes.extend(target.map(|state| Change::Queue {
            op: op.to_owned(),
            queue: target_name.to_owned(),
            state: Box::new(state),
            closed: Vec::new(),
        }));
        changes
    }

    /// Applies an accepted change: used live and when replaying the log.
    pub fn evolve(&mut self, change: &Change) {
        match change {
            Change::Live { live, .. } => self.live = live.clone(),
            Change::Queue { queue, state, .. } => {
                self.queues.insert(queue.clone(), (**state).clone());
            }
            Change::Cue { cue, .. } => self.cues.record(cue),
            Change::Stage { message, .. } => self.stage = message.clone(),
            Change::Plan { op, plan_version, plan } => {
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
            }
        }
    }
}

/// A segment's queue as it starts. Panels and Q&A hand the floor on: their questions still
/// stand after the segment.
fn segment_queue(segment: &Segment) -> Queue {
    Queue {
        carry_over: matches!(segment.kind, SegmentKind::Panel | SegmentKind::Qa),
        ..Queue::new(segment.speaking_limit_ms)
    }
}

/// Where a segment and speaker of the plan before an edit are in the plan after it:
/// segments by id, speakers by name, so that no edit moves the show.
struct Places<'a> {
    old: &'a RunOfShow,
    new: &'a RunOfShow,
}

impl Places<'_> {
    fn segment(&self, index: usize) -> Option<usize> {
        self.new.segment_index(&self.old.segments.get(index)?.id)
    }

    /// By id; plans stored before speakers had ids match by name.
    fn speaker(&self, segment: usize, speaker: usize) -> Option<usize> {
        let old = self.old.segments.get(segment)?.speakers.get(speaker)?;
        let speakers = &self.new.segments[self.segment(segment)?].speakers;
        if !old.id.is_empty() {
            return speakers.iter().position(|s| s.id == old.id);
        }
        let name = text::match_key(&old.name.en);
        speakers.iter().position(|s| text::match_key(&s.name.en) == name)
    }

    /// A live state's segment and speaker in the new plan; `None` when either is gone.
    fn place(&self, live: &LiveState) -> Option<(Option<usize>, Option<usize>)> {
        let Some(segment) = live.segment else { return Some((None, None)) };
        let speaker = match live.speaker {
            Some(k) => Some(self.speaker(segment, k)?),
            None => None,
        };
        Some((Some(self.segment(segment)?), speaker))
    }

    /// `live` pointed into the new plan. The record drops runs of removed segments; undo
    /// keeps only the states after the latest one that no longer has a place.
    fn live(&self, live: &LiveState) -> LiveState {
        let mut next = live.clone();
        if let Some((segment, speaker)) = self.place(live) {
            (next.segment, next.speaker) = (segment, speaker);
        }
        next.actual = live
            .actual
            .iter()
            .filter_map(|run| Some(ActualRun { segment: self.segment(run.segment)?, ..run.clone() }))
            .collect();
        let kept = live.history.iter().rposition(|state| self.place(state).is_none()).map_or(0, |k| k + 1);
        next.history = live.history[kept..]
            .iter()
            .map(|state| {
                let mut state = self.live(state);
                state.history = Vec::new();
                state
            })
            .collect();
        next
    }
}

#[cfg(test)]
mod tests;
