//! Property tests over the frame decoder and the domain's apply: arbitrary input never
//! panics, a rejected command changes nothing, and the log replays to the same state.
//! CI runs them with a fixed number of cases; PROPTEST_CASES raises it for a longer fuzz.

use eventhub::config::parse_event;
use eventhub::domain::cues::{CrewPosition, CueTarget};
use eventhub::domain::queue::{EntryState, Policy, RequestKind};
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
        (version.clone(), -4000..4000i32).prop_map(|(version, seconds)| Command::Extend { version, seconds }),
        version.clone().prop_map(|version| Command::End { version }),
        (queue_name(), prop::sample::select(vec![RequestKind::Speak, RequestKind::Reply, RequestKind::PointOfOrder]))
            .prop_map(|(queue, kind)| Command::QueueRequest { queue, kind, topic: Some("topic".into()) }),
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
        Just(Command::StageClear {}),
    ]
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn any_command_sequence_keeps_the_state_consistent(
        steps in prop::collection::vec((command(), actor(), 0..120_000i64), 1..60),
    ) {
        let mut state = demo();
        let mut log = Vec::new();
        let mut now = 1_641_258_000_000;
        for (command, actor, later) in steps {
            now += later;
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
