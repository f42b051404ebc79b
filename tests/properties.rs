//! Property tests over the frame decoder and the domain's apply: arbitrary input never
//! panics, a rejected command changes nothing, and the log replays to the same state.
//! CI runs them with a fixed number of cases; PROPTEST_CASES raises it for a longer fuzz.

use eventhub::config::parse_event;
use eventhub::domain::cues::{CrewPosition, CueTarget, SignalKind};
use std::collections::BTreeSet;

use eventhub::domain::plan::{AddSegment, LocalizedEdit, SpeakerInput, UpdateSegment};
use eventhub::domain::queue::{EntryState, Policy, Queue, QueueEntry, RequestKind, EVENT_QUEUE};
use eventhub::domain::show::SegmentKind;
use eventhub::domain::text::{Lang, Localized, Mode};
use eventhub::domain::{Actor, Command, EventState, Role};
use eventhub::protocol::decode;
use proptest::prelude::*;
use serde_json::{json, Value};

/// `default` cases, or PROPTEST_CASES when set (for a longer fuzzing run).
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig::with_cases(cases)
}

fn demo() -> EventState {
    let text = include_str!("../config/events/sjtu-forum.toml");
    EventState::new(parse_event(text, "2022-01-04T00:00:00Z".parse().unwrap()).unwrap())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn frame_type() -> impl Strategy<Value = String> {
    let mut known: Vec<String> = Command::TYPES.iter().map(|s| s.to_string()).collect();
    known.extend(["hello", "ping", "presence_page", "bogus"].map(String::from));
    prop::sample::select(known)
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn decoding_any_text_never_panics(text in ".{0,300}") {
        let _ = decode(&text);
    }

    #[test]
    fn decoding_any_frame_shaped_object_never_panics(
        kind in frame_type(),
        fields in prop::collection::btree_map("[a-z_]{1,12}", json_value(), 0..8),
    ) {
        let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
        object.insert("type".into(), Value::from(kind));
        let text = Value::Object(object).to_string();
        if let Err(error) = decode(&text) {
            prop_assert!(!error.message.is_empty());
        }
    }
}

fn actor() -> impl Strategy<Value = Actor> {
    let roles = prop::sample::select(Role::ALL.to_vec());
    let modes = prop::sample::select(vec![Mode::InRoom, Mode::Remote]);
    let crews = prop::collection::vec(prop::sample::select(CrewPosition::ALL.to_vec()), 0..2);
    (roles, 0..6u8, modes, crews).prop_map(|(role, who, mode, crew)| Actor {
        participant: format!("p{who}"),
        name: format!("person {who}"),
        role,
        mode,
        lang: Lang::Ja,
        affiliation: None,
        crew,
    })
}

fn queue_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["opening".to_owned(), "round-table".to_owned(), "event".to_owned(), "nope".to_owned()])
}

/// Commands with small, often valid, sometimes stale or absurd arguments.
fn command() -> impl Strategy<Value = Command> {
    let version = 0..8u64;
    let segment = prop::sample::select(vec!["opening", "keynotes", "closing", "lunch"]).prop_map(String::from);
    prop_oneof![
        version.clone().prop_map(|version| Command::Next { version }),
        version.clone().prop_map(|version| Command::Previous { version }),
        (version.clone(), segment.clone()).prop_map(|(version, segment)| Command::Goto { version, segment }),
        version.clone().prop_map(|version| Command::NextSpeaker { version }),
        (version.clone(), 0..6usize).prop_map(|(version, speaker)| Command::GotoSpeaker { version, speaker }),
        version.clone().prop_map(|version| Command::Hold { version }),
        version.clone().prop_map(|version| Command::Resume { version }),
        (version.clone(), -4000..4000i32)
            .prop_map(|(version, seconds)| Command::Extend { version, seconds: seconds.into() }),
        version.clone().prop_map(|version| Command::End { version }),
        version.clone().prop_map(|version| Command::Undo { version }),
        (queue_name(), prop::sample::select(vec![RequestKind::Speak, RequestKind::Reply, RequestKind::PointOfOrder]))
            .prop_map(|(queue, kind)| Command::QueueRequest { queue, kind, topic: Some("topic".into()), side: None }),
        queue_name().prop_map(|queue| Command::QueueWithdraw { queue }),
        (queue_name(), version.clone()).prop_map(|(queue, version)| Command::QueueNext { queue, version }),
        (queue_name(), version.clone(), prop::option::of(0..8u64))
            .prop_map(|(queue, version, entry)| Command::QueueCall { queue, version, entry }),
        (queue_name(), version.clone()).prop_map(|(queue, version)| Command::QueueStart { queue, version }),
        (queue_name(), version.clone()).prop_map(|(queue, version)| Command::QueueStop { queue, version }),
        (queue_name(), version.clone(), 0..8u64, 0..10usize)
            .prop_map(|(queue, version, entry, to)| Command::QueueMove { queue, version, entry, to }),
        (queue_name(), version.clone(), 0..8u64).prop_map(|(queue, version, entry)| Command::QueueDismiss {
            queue,
            version,
            entry
        }),
        (queue_name(), version.clone()).prop_map(|(queue, version)| Command::QueueClear { queue, version }),
        (queue_name(), version.clone(), any::<bool>(), 0..200u32).prop_map(|(queue, version, alternate, limit)| {
            Command::QueueSettings {
                queue,
                version,
                policy: Some(if alternate { Policy::Alternate } else { Policy::FirstCome }),
                topics_public: Some(alternate),
                panellists_first: None,
                speaking_limit_s: Some(limit),
                carry_over: Some(limit % 2 == 0),
                closed: None,
            }
        }),
        prop::sample::select(CrewPosition::ALL.to_vec()).prop_map(|position| Command::CueStandby {
            target: Some(CueTarget::Position(position)),
            text: Some(Localized::same("cue")),
            preset: None,
            segment: None,
            speaker: None,
        }),
        (0..5u64).prop_map(|cue| Command::CueStandingBy { cue }),
        (0..5u64).prop_map(|cue| Command::CueGo { cue }),
        (0..5u64).prop_map(|cue| Command::CueDone { cue }),
        (0..5u64).prop_map(|cue| Command::CueCancel { cue }),
        (any::<bool>(), prop::option::of(0..6usize)).prop_map(|(pinned, speaker)| Command::StageSignal {
            signal: SignalKind::WrapUp,
            text: None,
            pinned: Some(pinned),
            speaker
        }),
        Just(Command::StageClear {}),
        plan_command(),
    ]
}

/// Plan edits: ids sometimes new, sometimes taken or unknown; the plan version is set
/// when the command is applied, fresh or stale.
fn plan_command() -> BoxedStrategy<Command> {
    let segment = prop::sample::select(vec!["opening", "keynotes", "round-table", "closing", "break-2", "nope"])
        .prop_map(String::from);
    let after = prop::option::of(segment.clone());
    let kinds = prop::sample::select(vec![SegmentKind::Break, SegmentKind::Panel, SegmentKind::Qa]);
    let names = prop::collection::vec(
        (
            prop::sample::select(vec!["Zhang Ying", "Lu Ming", "Someone New"]),
            prop::sample::select(vec![None, Some("keynotes-1"), Some("round-table-2"), Some("new-person")]),
        ),
        0..3,
    );
    prop_oneof![
        (after.clone(), kinds, 1..90u32).prop_map(|(after, kind, duration_min)| {
            Command::PlanAddSegment(Box::new(AddSegment {
                plan_version: 0,
                after,
                new_segment: None,
                kind,
                title: Localized::same("Added"),
                duration_min,
            }))
        }),
        segment.clone().prop_map(|segment| Command::PlanDuplicateSegment {
            plan_version: 0,
            segment,
            new_segment: None
        }),
        segment.clone().prop_map(|segment| Command::PlanRemoveSegment { plan_version: 0, segment }),
        (segment.clone(), after).prop_map(|(segment, after)| Command::PlanMoveSegment {
            plan_version: 0,
            segment,
            after
        }),
        (segment, prop::option::of(1..90u32), prop::option::of(names)).prop_map(|(segment, duration_min, names)| {
            Command::PlanUpdateSegment(Box::new(UpdateSegment {
                plan_version: 0,
                segment,
                kind: None,
                title: Some(LocalizedEdit { ja: Some("新しい".into()), ..Default::default() }),
                chair: None,
                speakers: names.map(|names| {
                    names
                        .into_iter()
                        .map(|(name, id)| SpeakerInput {
                            id: id.map(String::from),
                            lang: None,
                            name: Localized::same(name),
                            affiliation: None,
                            topic: None,
                            mode: None,
                            minutes: Some(5),
                            side: None,
                        })
                        .collect()
                }),
                duration_min,
                av_notes: Some("notes".into()),
                warning_s: None,
                danger_s: None,
                speaking_limit_min: None,
                join_url: None,
                cues: None,
                interpretation: None,
                side_budgets: None,
            }))
        }),
        Just(Command::PlanUndo { plan_version: 0 }),
        prop::bool::ANY.prop_map(|force| {
            let mut plan = (*demo().show).clone();
            plan.segments.reverse();
            Command::PlanReplace { plan_version: 0, plan: Box::new(plan), force }
        }),
    ]
    .boxed()
}

/// `command` against plan version `version`, when it is a plan edit.
fn against_plan(command: Command, version: u64) -> Command {
    match command {
        Command::PlanAddSegment(mut add) => {
            add.plan_version = version;
            Command::PlanAddSegment(add)
        }
        Command::PlanDuplicateSegment { segment, new_segment, .. } => {
            Command::PlanDuplicateSegment { plan_version: version, segment, new_segment }
        }
        Command::PlanRemoveSegment { segment, .. } => Command::PlanRemoveSegment { plan_version: version, segment },
        Command::PlanMoveSegment { segment, after, .. } => {
            Command::PlanMoveSegment { plan_version: version, segment, after }
        }
        Command::PlanUpdateSegment(mut update) => {
            update.plan_version = version;
            Command::PlanUpdateSegment(update)
        }
        Command::PlanUndo { .. } => Command::PlanUndo { plan_version: version },
        Command::PlanReplace { plan, force, .. } => Command::PlanReplace { plan_version: version, plan, force },
        other => other,
    }
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn any_command_sequence_keeps_the_state_consistent(
        steps in prop::collection::vec((command(), actor(), 0..120_000i64, prop::bool::weighted(0.8)), 1..60),
    ) {
        let mut state = demo();
        let mut log = Vec::new();
        let mut now = 1_641_258_000_000;
        for (command, actor, later, fresh) in steps {
            now += later;
            let command = against_plan(command, if fresh { state.plan_version } else { state.plan_version.wrapping_sub(1) });
            let before = state.clone();
            match state.apply(&command, &actor, now) {
                Ok(changes) => {
                    prop_assert!(!changes.is_empty());
                    log.extend(changes);
                }
                Err(_) => prop_assert_eq!(&state, &before, "a rejected command changes nothing"),
            }
            if state.live.version != before.live.version {
                prop_assert_eq!(state.live.version, before.live.version + 1);
            }
            let plan_edit = command != against_plan(command.clone(), u64::MAX);
            if plan_edit {
                let place = |s: &EventState| {
                    s.live.segment.map(|k| {
                        let segment = &s.show.segments[k];
                        (segment.id.clone(), s.live.speaker.map(|p| segment.speakers[p].id.clone()))
                    })
                };
                prop_assert_eq!(place(&state), place(&before), "a plan edit never moves the show");
            }
            if let Some(index) = state.live.segment {
                prop_assert!(index < state.show.segments.len(), "the live segment is in the plan");
                if let Some(speaker) = state.live.speaker {
                    prop_assert!(speaker < state.show.segments[index].speakers.len(), "the speaker is in the segment");
                }
            }
            prop_assert!(state.queues.keys().all(|q| q == EVENT_QUEUE || state.show.segment_index(q).is_some()));
            prop_assert!(state.show.segments.iter().all(|s| state.queues.contains_key(&s.id)), "every segment has a queue");
            for queue in state.queues.values() {
                let open: Vec<&str> = queue.speaking.iter().chain(queue.on_deck.iter()).chain(queue.waiting.iter())
                    .map(|e| e.participant.as_str()).collect();
                let mut unique = open.clone();
                unique.sort_unstable();
                unique.dedup();
                prop_assert_eq!(unique.len(), open.len(), "one open place per participant");
                prop_assert!(queue.waiting.iter().all(|e| e.state == EntryState::Waiting));
                prop_assert!(queue.speaking.iter().all(|e| e.state == EntryState::Speaking && e.started_at.is_some()));
            }
        }
        let mut replayed = demo();
        log.iter().for_each(|change| replayed.evolve(change));
        prop_assert_eq!(replayed, state, "the log replays to the same state");
    }
}

/// One step on the event queue. Entries are picked by index among those open, so that most
/// picks name a real entry.
#[derive(Clone, Debug)]
enum QueueStep {
    Request { who: u8, mode: Mode, panellist: bool, kind: RequestKind },
    Withdraw { who: u8 },
    Next,
    Call { pick: Option<usize> },
    Start,
    Stop,
    Move { pick: usize, to: usize },
    Dismiss { pick: usize },
    Clear,
    Settings { alternate: bool, panellists_first: bool },
}

fn queue_step() -> impl Strategy<Value = QueueStep> {
    let modes = prop::sample::select(vec![Mode::InRoom, Mode::Remote]);
    let kinds = prop::sample::select(vec![
        RequestKind::Speak,
        RequestKind::Speak,
        RequestKind::Reply,
        RequestKind::PointOfOrder,
    ]);
    prop_oneof![
        8 => (0..8u8, modes, prop::bool::weighted(0.2), kinds)
            .prop_map(|(who, mode, panellist, kind)| QueueStep::Request { who, mode, panellist, kind }),
        2 => (0..8u8).prop_map(|who| QueueStep::Withdraw { who }),
        2 => Just(QueueStep::Next),
        2 => prop::option::of(0..8usize).prop_map(|pick| QueueStep::Call { pick }),
        1 => Just(QueueStep::Start),
        1 => Just(QueueStep::Stop),
        2 => (0..8usize, 0..10usize).prop_map(|(pick, to)| QueueStep::Move { pick, to }),
        1 => (0..10usize).prop_map(|pick| QueueStep::Dismiss { pick }),
        1 => Just(QueueStep::Clear),
        1 => (prop::bool::weighted(0.8), prop::bool::weighted(0.7))
            .prop_map(|(alternate, panellists_first)| QueueStep::Settings { alternate, panellists_first }),
    ]
}

fn queue_person(who: u8, mode: Mode, panellist: bool) -> Actor {
    Actor {
        participant: format!("p{who}"),
        name: format!("person {who}"),
        role: if panellist { Role::Speaker } else { Role::Attendee },
        mode,
        lang: Lang::En,
        affiliation: None,
        crew: vec![],
    }
}

fn queue_chair() -> Actor {
    Actor { role: Role::Moderator, ..queue_person(99, Mode::InRoom, false) }
}

/// The command for `step` against `queue` as it stands, with the actor who sends it.
fn queue_command(step: &QueueStep, queue: &Queue) -> (Command, Actor) {
    let name = EVENT_QUEUE.to_owned();
    let version = queue.version;
    let waiting_id = |pick: usize| queue.waiting.get(pick % queue.waiting.len().max(1)).map_or(999, |e| e.id);
    let chair = queue_chair();
    match *step {
        QueueStep::Request { who, mode, panellist, kind } => {
            (Command::QueueRequest { queue: name, kind, topic: None, side: None }, queue_person(who, mode, panellist))
        }
        QueueStep::Withdraw { who } => (Command::QueueWithdraw { queue: name }, queue_person(who, Mode::Remote, false)),
        QueueStep::Next => (Command::QueueNext { queue: name, version }, chair),
        QueueStep::Call { pick } => (Command::QueueCall { queue: name, version, entry: pick.map(waiting_id) }, chair),
        QueueStep::Start => (Command::QueueStart { queue: name, version }, chair),
        QueueStep::Stop => (Command::QueueStop { queue: name, version }, chair),
        QueueStep::Move { pick, to } => {
            (Command::QueueMove { queue: name, version, entry: waiting_id(pick), to }, chair)
        }
        QueueStep::Dismiss { pick } => {
            let open: Vec<u64> =
                queue.speaking.iter().chain(&queue.on_deck).chain(&queue.waiting).map(|e| e.id).collect();
            let entry = open.get(pick % open.len().max(1)).copied().unwrap_or(999);
            (Command::QueueDismiss { queue: name, version, entry }, chair)
        }
        QueueStep::Clear => (Command::QueueClear { queue: name, version }, chair),
        QueueStep::Settings { alternate, panellists_first } => (
            Command::QueueSettings {
                queue: name,
                version,
                policy: Some(if alternate { Policy::Alternate } else { Policy::FirstCome }),
                topics_public: None,
                panellists_first: Some(panellists_first),
                speaking_limit_s: None,
                carry_over: None,
                closed: None,
            },
            chair,
        ),
    }
}

/// docs/protocol.md, "Speaker queues", restated: what the model needs to know besides the
/// queue's own settings and entries.
#[derive(Default)]
struct QueueModel {
    /// The side of the entry called last, to speak or on deck.
    last_called: Option<Mode>,
    /// Entries the chair placed (moved, or pushed back from on deck) that still wait.
    pinned: BTreeSet<u64>,
}

fn other_side(mode: Mode) -> Mode {
    match mode {
        Mode::Remote => Mode::InRoom,
        Mode::InRoom => Mode::Remote,
    }
}

impl QueueModel {
    /// Learns who was called and who was placed from what the step did to the queue.
    fn observe(&mut self, step: &QueueStep, command: &Command, before: &Queue, after: &Queue) {
        let id = |entry: &Option<QueueEntry>| entry.as_ref().map(|e| e.id);
        if after.on_deck.is_some() && id(&after.on_deck) != id(&before.on_deck) {
            self.last_called = after.on_deck.as_ref().map(|e| e.mode);
        } else if let Some(speaker) = &after.speaking {
            if Some(speaker.id) != id(&before.speaking) && Some(speaker.id) != id(&before.on_deck) {
                self.last_called = Some(speaker.mode);
            }
        }
        if let (QueueStep::Move { .. }, Command::QueueMove { entry, .. }) = (step, command) {
            self.pinned.insert(*entry);
        }
        if let (QueueStep::Call { .. }, Some(previous)) = (step, &before.on_deck) {
            if after.waiting.iter().any(|e| e.id == previous.id) {
                self.pinned.insert(previous.id);
            }
        }
        self.pinned.retain(|id| after.waiting.iter().any(|e| e.id == *id));
    }

    /// The documented order of the entries nobody placed: by kind (point of order, reply,
    /// speak), then panellists when `panellists_first`, then in the order they asked; under
    /// `alternate`, each of those groups takes the side not called last (before any call, the
    /// side of the group's earliest request), then always the other side while it has
    /// anyone left.
    fn order(&self, queue: &Queue, free: &[&QueueEntry]) -> Vec<u64> {
        let kind_rank = |kind: RequestKind| match kind {
            RequestKind::PointOfOrder => 0,
            RequestKind::Reply => 1,
            RequestKind::Speak => 2,
        };
        let group = |e: &QueueEntry| (kind_rank(e.kind), !(queue.panellists_first && e.panellist));
        let mut sorted: Vec<&QueueEntry> = free.to_vec();
        sorted.sort_by_key(|e| (group(e), e.id));
        if queue.policy == Policy::FirstCome {
            return sorted.iter().map(|e| e.id).collect();
        }
        let mut order = Vec::new();
        for key in sorted.iter().map(|e| group(e)).collect::<BTreeSet<_>>() {
            let mut left: Vec<&QueueEntry> = sorted.iter().copied().filter(|e| group(e) == key).collect();
            let mut wanted = self.last_called.map(other_side).unwrap_or(left[0].mode);
            while !left.is_empty() {
                let at = left.iter().position(|e| e.mode == wanted).unwrap_or(0);
                let taken = left.remove(at);
                order.push(taken.id);
                wanted = other_side(taken.mode);
            }
        }
        order
    }
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn after_any_queue_operations_waiting_is_in_the_documented_order(
        steps in prop::collection::vec((queue_step(), 0..60_000i64), 1..80),
    ) {
        let mut state = demo();
        let mut model = QueueModel::default();
        let mut now = 1_641_258_000_000;
        for (step, later) in steps {
            now += later;
            let before = state.queues[EVENT_QUEUE].clone();
            let (command, actor) = queue_command(&step, &before);
            if state.apply(&command, &actor, now).is_err() {
                continue;
            }
            let after = &state.queues[EVENT_QUEUE];
            model.observe(&step, &command, &before, after);

            let pinned: BTreeSet<u64> = after.waiting.iter().filter(|e| e.pinned).map(|e| e.id).collect();
            prop_assert_eq!(&pinned, &model.pinned, "pinned are the placed entries still waiting");
            let free: Vec<&QueueEntry> = after.waiting.iter().filter(|e| !e.pinned).collect();
            let ids: Vec<u64> = free.iter().map(|e| e.id).collect();
            prop_assert_eq!(ids, model.order(after, &free), "after {:?}", step);
            let expected_side = model.last_called.filter(|_| after.policy == Policy::Alternate).map(other_side);
            prop_assert_eq!(after.next_side(), expected_side);
            match (&step, &command) {
                (QueueStep::Move { .. }, Command::QueueMove { entry, to, .. }) => {
                    prop_assert_eq!(after.waiting[(*to).min(after.waiting.len() - 1)].id, *entry, "a moved entry stays put");
                }
                (QueueStep::Call { .. }, _) if before.on_deck.is_some() => {
                    prop_assert_eq!(after.waiting[0].id, before.on_deck.as_ref().unwrap().id, "back to the top");
                }
                _ => {}
            }
        }
    }
}
