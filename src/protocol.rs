//! Wire frames (docs/protocol.md): client frames decoded into typed values before anything
//! acts on them, server frames encoded once into shared bytes. No I/O here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::automation::Automation;
use crate::domain::captions::{Line, Track};
use crate::domain::cues::{CrewPosition, Cue, StageMessage};
use crate::domain::live::{ActualRun, LiveState, Phase};
use crate::domain::presence::{Counts, Cursor, Present, Sample};
use crate::domain::queue::{EntryState, Policy, Queue, QueueEntry, RequestKind};
use crate::domain::show::{Channel, CuePreset, EventInfo, PlannedCue, RunOfShow, Segment, SegmentKind, Speaker};
use crate::domain::text::{Lang, Localized, Mode};
use crate::domain::{Actor, Change, Command, EventState, Millis, Rejection, Role};
use crate::wire::Frame;

pub const PROTOCOL_VERSION: u32 = 1;
/// Larger frames close the connection with 1009: no legitimate frame comes near it.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
const MAX_ID_CHARS: usize = 64;

/// A stable, client-facing error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    InvalidField,
    UnsupportedVersion,
    UnknownEvent,
    Unauthorized,
    NotJoined,
    AlreadyJoined,
    Forbidden,
    Conflict,
    InvalidState,
    TooLarge,
    BinaryFrame,
    BadResume,
    InvalidUtf8,
    RateLimited,
    EventFull,
    /// A caption line whose seq is not the next of its track.
    OutOfOrder,
    Internal,
    /// A cluster node cannot reach the cluster's store: nothing was applied.
    Unavailable,
}

impl ErrorCode {
    /// The code as the frames spell it.
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    fn from_rejection(rejection: &Rejection) -> Self {
        match rejection {
            Rejection::Forbidden(_) => ErrorCode::Forbidden,
            Rejection::Conflict(_) => ErrorCode::Conflict,
            Rejection::InvalidState(_) => ErrorCode::InvalidState,
            Rejection::InvalidField(_) => ErrorCode::InvalidField,
        }
    }
}

/// A frame the server refuses, with the id of the command it answers when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FrameError { id: None, code, message: message.into() }
    }

    pub fn rejected(id: &str, rejection: &Rejection) -> Self {
        FrameError {
            id: Some(id.to_owned()),
            code: ErrorCode::from_rejection(rejection),
            message: rejection.to_string(),
        }
    }

    pub fn encode(&self) -> Frame {
        encode(&ServerFrame::Error { id: self.id.as_deref(), code: self.code, message: &self.message })
    }
}

/// The first frame of every connection.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: u32,
    pub event: String,
    pub token: String,
    pub name: String,
    pub mode: Mode,
    pub lang: Lang,
    pub participant: Option<String>,
    pub affiliation: Option<String>,
    pub resume: Option<Resume>,
    /// For AV screens: the crew positions watched; absent means all.
    pub crew: Option<Vec<CrewPosition>>,
    /// The event's attendee code, for events that require one.
    pub code: Option<String>,
    /// This connection is a screen (a stage screen), not a person.
    pub screen: Option<bool>,
    /// The caption track to receive: `zh`, `ja`, `en` or `floor`; none when absent.
    pub captions: Option<Track>,
}

/// Where a reconnecting client left off.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub epoch: String,
    pub seq: u64,
    /// The presence `version` the client last applied (chair and crew), so that it gets the
    /// joins and leaves it missed instead of the list again.
    pub presence: Option<u64>,
}

/// What a welcome gives a client: see "Resuming" in docs/protocol.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeOutcome {
    None,
    Replay,
    Snapshot,
}

/// A decoded client frame.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    Hello(Box<Hello>),
    Ping {
        t: f64,
    },
    Command {
        id: String,
        command: Command,
    },
    /// A page of the full presence list (chair and crew).
    PresencePage {
        id: String,
        after: Option<Cursor>,
        limit: usize,
    },
    /// Another language for this connection, and with it another caption track.
    SetLang {
        id: String,
        lang: Lang,
        captions: CaptionChoice,
    },
}

/// What `set_lang` does to the caption track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptionChoice {
    /// `captions` absent: a connection with captions follows its new language.
    Follow,
    /// `captions: null`: none.
    Off,
    Track(Track),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetLang {
    lang: Lang,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresencePage {
    after: Option<String>,
    limit: usize,
}

/// A page cursor as clients see it: the last entry's `who` (16 hex digits), then its name.
pub fn cursor_text((name, who): &Cursor) -> String {
    format!("{who}{name}")
}

fn parse_cursor(text: &str) -> Option<Cursor> {
    let who = text.get(..16).filter(|who| who.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some((text[16..].to_owned(), who.to_owned()))
}

/// The most entries one presence page holds.
pub const MAX_PRESENCE_PAGE: usize = 500;
/// A caption track counts as live while its latest line is at most this old.
pub const LIVE_TRACK_MS: crate::domain::Millis = 10 * 60_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ping {
    t: f64,
}

/// Parses one text frame. Unknown types and bad fields are told apart so that clients get
/// `unknown_type` for a frame this server version does not know.
pub fn decode(text: &str) -> Result<ClientFrame, FrameError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| FrameError::new(ErrorCode::BadJson, format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(FrameError::new(ErrorCode::BadJson, "a frame must be a JSON object"));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(FrameError::new(ErrorCode::InvalidField, "`type` must be a string")),
        None => return Err(FrameError::new(ErrorCode::InvalidField, "missing `type`")),
    };
    let invalid = |e: serde_json::Error| FrameError::new(ErrorCode::InvalidField, format!("{kind}: {e}"));
    match kind.as_str() {
        "hello" => {
            object.remove("type");
            let hello: Hello = serde_json::from_value(Value::Object(object)).map_err(invalid)?;
            Ok(ClientFrame::Hello(Box::new(hello)))
        }
        "ping" => {
            object.remove("type");
            let ping: Ping = serde_json::from_value(Value::Object(object)).map_err(invalid)?;
            Ok(ClientFrame::Ping { t: ping.t })
        }
        "presence_page" => {
            object.remove("type");
            let id = take_id(&mut object)?;
            let page: PresencePage = serde_json::from_value(Value::Object(object))
                .map_err(|e| FrameError { id: Some(id.clone()), ..invalid(e) })?;
            if !(1..=MAX_PRESENCE_PAGE).contains(&page.limit) {
                let message = format!("limit must be 1-{MAX_PRESENCE_PAGE}");
                return Err(FrameError { id: Some(id), ..FrameError::new(ErrorCode::InvalidField, message) });
            }
            let after = match page.after.as_deref().map(parse_cursor) {
                None => None,
                Some(Some(cursor)) => Some(cursor),
                Some(None) => {
                    let message = "after must be the `next` of an earlier page";
                    return Err(FrameError { id: Some(id), ..FrameError::new(ErrorCode::InvalidField, message) });
                }
            };
            Ok(ClientFrame::PresencePage { id, after, limit: page.limit })
        }
        "set_lang" => {
            object.remove("type");
            let id = take_id(&mut object)?;
            let field = |e: serde_json::Error| FrameError { id: Some(id.clone()), ..invalid(e) };
            let captions = match object.remove("captions") {
                None => CaptionChoice::Follow,
                Some(Value::Null) => CaptionChoice::Off,
                Some(track) => CaptionChoice::Track(serde_json::from_value(track).map_err(field)?),
            };
            let set: SetLang = serde_json::from_value(Value::Object(object)).map_err(field)?;
            Ok(ClientFrame::SetLang { id, lang: set.lang, captions })
        }
        kind if Command::TYPES.contains(&kind) => {
            let id = take_id(&mut object)?;
            let command = serde_json::from_value(Value::Object(object))
                .map_err(|e| FrameError { id: Some(id.clone()), ..invalid(e) })?;
            Ok(ClientFrame::Command { id, command })
        }
        _ => Err(FrameError::new(ErrorCode::UnknownType, format!("unknown frame type {kind:?}"))),
    }
}

fn take_id(object: &mut Map<String, Value>) -> Result<String, FrameError> {
    match object.remove("id") {
        Some(Value::String(id)) if (1..=MAX_ID_CHARS).contains(&id.chars().count()) => Ok(id),
        _ => Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("a command needs an `id` string of 1-{MAX_ID_CHARS} characters"),
        )),
    }
}

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
}

impl Routing {
    pub fn of(change: &Change) -> Self {
        match change {
            Change::Live { .. } | Change::Queue { .. } | Change::Plan { .. } => Routing::Everyone,
            Change::Cue { cue, .. } => Routing::Crew(cue.target.position()),
            Change::Stage { .. } => Routing::Stage,
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

/// Turns participant ids, which act as a person's key across tabs and are never broadcast,
/// into public tags that a client can match against its own `you.who`.
#[derive(Clone, Debug)]
pub struct Tagger {
    namespace: uuid::Uuid,
}

impl Tagger {
    pub fn new(epoch: &str) -> Self {
        let namespace =
            uuid::Uuid::parse_str(epoch).unwrap_or_else(|_| uuid::Uuid::new_v5(&uuid::Uuid::nil(), epoch.as_bytes()));
        Tagger { namespace }
    }

    pub fn who(&self, participant: &str) -> String {
        let tag = uuid::Uuid::new_v5(&self.namespace, participant.as_bytes()).simple().to_string();
        tag[..16].to_owned()
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
            next_side: queue.next_side(),
            speaking: queue.speaking.as_ref().map(entry),
            on_deck: queue.on_deck.as_ref().map(entry),
            waiting: queue.waiting.iter().map(entry).collect(),
        }
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
            segments: self.segments(&state.show),
            cue_presets: crew.then_some(state.show.cue_presets.as_slice()),
            automations: crew.then_some(state.show.automations.as_slice()),
            live: LiveView::of(&state.live),
            queues: state.queues.iter().map(|(name, queue)| (name.as_str(), self.queue(queue))).collect(),
            cues: state.cues.cues.iter().filter(|c| reaches(Routing::Crew(c.target.position()))).collect(),
            stage: state.stage.as_ref().filter(|_| reaches(Routing::Stage)),
        }
    }

    /// How this viewer sees `change`: hidden when it is not for them.
    pub fn change(self, change: &'a Change) -> ChangeView<'a> {
        if !Routing::of(change).reaches(self.role, self.crew) {
            return ChangeView::Hidden;
        }
        match change {
            Change::Live { op, live } => ChangeView::Live { op, live: LiveView::of(live) },
            Change::Cue { op, cue } => ChangeView::Cue { op, cue },
            Change::Stage { op, message } => ChangeView::Stage { op, message: message.as_ref() },
            Change::Plan { op, plan_version, plan } => ChangeView::Plan {
                op,
                plan_version: *plan_version,
                plan: PlanView {
                    event: &plan.event,
                    segments: self.segments(plan),
                    automations: self.crew().then_some(plan.automations.as_slice()),
                },
            },
            Change::Queue { op, queue, state, closed } => ChangeView::Queue {
                op,
                queue,
                state: Box::new(self.queue(state)),
                closed: closed.iter().map(|e| self.entry(e, state.topics_public)).collect(),
            },
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
        }
    }
}

/// The plan as one audience sees it, in a plan change.
#[derive(Serialize)]
pub struct PlanView<'a> {
    event: &'a EventInfo,
    segments: Vec<SegmentView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    automations: Option<&'a [Automation]>,
}

#[derive(Serialize)]
pub struct SnapshotView<'a> {
    event: &'a EventInfo,
    plan_version: u64,
    segments: Vec<SegmentView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cue_presets: Option<&'a [CuePreset]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    automations: Option<&'a [Automation]>,
    live: LiveView<'a>,
    queues: BTreeMap<&'a str, QueueView<'a>>,
    cues: Vec<&'a Cue>,
    stage: Option<&'a StageMessage>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeView<'a> {
    Live {
        op: &'a str,
        live: LiveView<'a>,
    },
    Queue {
        op: &'a str,
        queue: &'a str,
        state: Box<QueueView<'a>>,
        closed: Vec<EntryView<'a>>,
    },
    Cue {
        op: &'a str,
        cue: &'a Cue,
    },
    Stage {
        op: &'a str,
        message: Option<&'a StageMessage>,
    },
    Plan {
        op: &'a str,
        plan_version: u64,
        plan: PlanView<'a>,
    },
    /// A change for others; it only moves this client's seq on.
    Hidden,
}

/// Whether the chair and the public see `change` differently (when it reaches them).
pub fn differs_by_audience(change: &Change) -> bool {
    matches!(change, Change::Queue { .. } | Change::Plan { .. })
}

/// Whether the AV crew sees `change` as the chair does rather than as the public: the
/// plan's notes and cues are theirs, the queues' private topics are not.
pub fn crew_sees_as_chair(change: &Change) -> bool {
    matches!(change, Change::Plan { .. })
}

/// Someone present, as the chair and crew see them.
#[derive(Serialize)]
pub struct PresentView<'a> {
    who: String,
    name: &'a str,
    affiliation: Option<&'a str>,
    role: Role,
    mode: Mode,
    lang: Lang,
    since: Millis,
    connections: u32,
}

impl<'a> PresentView<'a> {
    pub fn of(present: &'a Present, tagger: &Tagger) -> Self {
        PresentView {
            who: tagger.who(&present.participant),
            name: &present.name,
            affiliation: present.affiliation.as_deref(),
            role: present.role,
            mode: present.mode,
            lang: present.lang,
            since: present.since,
            connections: present.connections,
        }
    }
}

/// A recent join, as attendees see it.
#[derive(Serialize)]
pub struct RecentView<'a> {
    who: String,
    name: &'a str,
    mode: Mode,
    lang: Lang,
    since: Millis,
}

impl<'a> RecentView<'a> {
    pub fn of(present: &'a Present, tagger: &Tagger) -> Self {
        RecentView {
            who: tagger.who(&present.participant),
            name: &present.name,
            mode: present.mode,
            lang: present.lang,
            since: present.since,
        }
    }
}

/// Who is here, as one audience sees it. Fields that are `None` are left out.
#[derive(Serialize)]
pub struct PresenceView<'a> {
    /// The published presence state this view is of: one more with every diff.
    pub version: u64,
    pub counts: Counts,
    /// For the chair and crew: how many are on the full list (the audience, consoles,
    /// cue and stage screens) as of `version`, to check a list held against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<usize>,
    pub recent: Vec<RecentView<'a>>,
    /// (segment, speaker) of each programme speaker who is here; a chair is speaker -1.
    #[serde(serialize_with = "places")]
    pub speakers: Vec<(usize, usize)>,
    /// Those of `speakers` who are in the hall; the others are online.
    #[serde(serialize_with = "places")]
    pub speakers_in_room: Vec<(usize, usize)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<&'a [Sample]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<PresentView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<Vec<PresentView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Vec<String>>,
    /// After a welcome's `list`: where the next page starts, when there is more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn places<S: serde::Serializer>(places: &[(usize, usize)], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(places.len()))?;
    for &(segment, speaker) in places {
        let speaker = if speaker == usize::MAX { -1 } else { speaker as i64 };
        seq.serialize_element(&(segment, speaker))?;
    }
    seq.end()
}

/// Who the server took a client to be.
#[derive(Clone, Debug, Serialize)]
pub struct You<'a> {
    pub participant: &'a str,
    /// The public tag of this participant in queue entries.
    pub who: String,
    pub role: Role,
    pub name: &'a str,
    pub mode: Mode,
    pub lang: Lang,
}

/// Who caused a change, as every client sees it: `who` is the sender's public tag, so that
/// a sender knows its own changes and two consoles with one name are told apart.
#[derive(Clone, Debug, Serialize)]
pub struct By<'a> {
    pub name: &'a str,
    pub role: Role,
    pub who: String,
}

impl<'a> By<'a> {
    pub fn of(actor: &'a Actor, tagger: &Tagger) -> Self {
        By { name: &actor.name, role: actor.role, who: tagger.who(&actor.participant) }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        protocol: u32,
        epoch: &'a str,
        seq: u64,
        resume: ResumeOutcome,
        server_time: Millis,
        you: You<'a>,
        snapshot: Option<Box<SnapshotView<'a>>>,
        presence: Box<PresenceView<'a>>,
    },
    Change {
        seq: u64,
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<By<'a>>,
        /// The id of the command that caused it, as its sender gave it.
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<&'a str>,
        change: ChangeView<'a>,
    },
    Ack {
        id: &'a str,
        seq: u64,
        /// Applied, but something the sender should know: a cue nobody is watching.
        #[serde(skip_serializing_if = "Option::is_none")]
        warning: Option<&'a str>,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        code: ErrorCode,
        message: &'a str,
    },
    Pong {
        t: f64,
        server_time: Millis,
    },
    Presence(PresenceView<'a>),
    PresencePage {
        id: &'a str,
        /// The published state the page was read from.
        version: u64,
        /// Where the next page starts; null after the last.
        next: Option<String>,
        total: usize,
        entries: Vec<PresentView<'a>>,
    },
    /// A caption line of the track this connection follows.
    Caption {
        line: &'a Line,
    },
    /// The latest lines of a track, when a connection starts to follow it.
    Captions {
        track: Track,
        lines: Vec<&'a Line>,
        /// The tracks with a final line in the last [`LIVE_TRACK_MS`], so that a viewer of
        /// a silent track can be offered those that run.
        live: Vec<Track>,
    },
}

pub fn encode(frame: &ServerFrame<'_>) -> Frame {
    // Serializing these types cannot fail: all keys are strings and no value is a map.
    Frame::text(|buf| {
        let _ = serde_json::to_writer(buf, frame);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        decode(text).unwrap_err().code
    }

    #[test]
    fn a_command_frame_becomes_a_typed_command_with_its_id() {
        let frame = decode(r#"{"type":"next","id":"c1","version":3}"#).unwrap();
        assert_eq!(frame, ClientFrame::Command { id: "c1".into(), command: Command::Next { version: 3 } });
    }

    #[test]
    fn a_new_segments_id_is_its_own_field_not_the_commands_id() {
        let text = r#"{"type":"plan_duplicate_segment","id":"c1","plan_version":0,"segment":"opening","new_segment":"opening-b"}"#;
        let frame = decode(text).unwrap();
        let command = Command::PlanDuplicateSegment {
            plan_version: 0,
            segment: "opening".into(),
            new_segment: Some("opening-b".into()),
        };
        assert_eq!(frame, ClientFrame::Command { id: "c1".into(), command });
    }

    #[test]
    fn a_plan_edit_decodes_with_its_fields_and_refuses_unknown_ones() {
        let text = r#"{"type":"plan_update_segment","id":"c1","plan_version":2,"segment":"opening","duration_min":20}"#;
        let Ok(ClientFrame::Command { command: Command::PlanUpdateSegment(update), .. }) = decode(text) else {
            panic!("a plan_update_segment command")
        };
        assert_eq!((update.plan_version, update.duration_min), (2, Some(20)));
        assert_eq!(code(&text.replace("\"duration_min\"", "\"length\"")), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"plan_undo","id":"c1"}"#), ErrorCode::InvalidField);
    }

    #[test]
    fn broken_json_and_non_objects_are_bad_json() {
        assert_eq!(code("{\"type\":"), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadJson);
    }

    #[test]
    fn unknown_types_are_told_apart_from_bad_fields() {
        assert_eq!(code(r#"{"type":"launch_rockets","id":"c1"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"next","id":"c1"}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":"3"}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":3,"force":true}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":1e400}"#), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":18446744073709551616}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::InvalidField);
    }

    #[test]
    fn a_bad_field_error_names_the_command_id() {
        let err = decode(r#"{"type":"goto","id":"c9","version":1}"#).unwrap_err();
        assert_eq!(err.id.as_deref(), Some("c9"));
    }

    #[test]
    fn commands_need_an_id() {
        assert_eq!(code(r#"{"type":"next","version":3}"#), ErrorCode::InvalidField);
        assert_eq!(
            code(&format!(r#"{{"type":"next","version":3,"id":"{}"}}"#, "x".repeat(65))),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn hello_rejects_unknown_modes_and_extra_fields() {
        let ok = r#"{"type":"hello","protocol":1,"event":"e","token":"t","name":"n","mode":"remote","lang":"ja"}"#;
        assert!(matches!(decode(ok), Ok(ClientFrame::Hello(_))));
        assert_eq!(code(&ok.replace("remote", "hologram")), ErrorCode::InvalidField);
        assert_eq!(code(&ok.replace("\"lang\"", "\"admin\":true,\"lang\"")), ErrorCode::InvalidField);
    }

    #[test]
    fn error_frames_carry_code_message_and_id() {
        let text = FrameError { id: Some("c1".into()), code: ErrorCode::Conflict, message: "moved on".into() }.encode();
        let value: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(value, serde_json::json!({"type":"error","id":"c1","code":"conflict","message":"moved on"}));
    }
}
