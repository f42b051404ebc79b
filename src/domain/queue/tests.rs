use super::*;
use crate::domain::speaking::Standing;
use crate::domain::text::{Lang, Mode};

const T0: Millis = 1_641_258_000_000;

fn person(participant: &str, mode: Mode) -> Actor {
    Actor {
        participant: participant.into(),
        name: format!("name of {participant}"),
        role: Role::Attendee,
        mode,
        lang: Lang::Ja,
        affiliation: None,
        crew: vec![],
    }
}

fn chair() -> Actor {
    Actor { role: Role::Moderator, ..person("chair", Mode::InRoom) }
}

fn ask(queue: &mut Queue, participant: &str, mode: Mode, at: Millis) {
    queue
        .apply(
            QueueOp::Request { kind: RequestKind::Speak, topic: None, side: None, speaker: None },
            &person(participant, mode),
            at,
            &Standing::default(),
        )
        .unwrap();
}

fn ask_kind(queue: &mut Queue, participant: &str, kind: RequestKind, at: Millis) {
    queue
        .apply(
            QueueOp::Request { kind, topic: None, side: None, speaker: None },
            &person(participant, Mode::InRoom),
            at,
            &Standing::default(),
        )
        .unwrap();
}

fn waiting(queue: &Queue) -> Vec<&str> {
    queue.waiting.iter().map(|e| e.participant.as_str()).collect()
}

fn run(queue: &mut Queue, op: QueueOp) -> Result<Vec<QueueEntry>, Rejection> {
    queue.apply(op, &chair(), T0 + 1000, &Standing::default())
}

fn move_to(queue: &mut Queue, participant: &str, to: usize) {
    let entry = id_of(queue, participant);
    run(queue, QueueOp::Move { entry, to }).unwrap();
}

fn id_of(queue: &Queue, participant: &str) -> u64 {
    queue.waiting.iter().find(|e| e.participant == participant).unwrap().id
}

#[test]
fn first_come_first_served_keeps_the_order_of_requests() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::Remote, T0);
    ask(&mut queue, "b", Mode::InRoom, T0 + 1);
    ask(&mut queue, "c", Mode::Remote, T0 + 2);
    assert_eq!(waiting(&queue), ["a", "b", "c"]);
    assert!(queue.waiting.iter().all(|e| e.state == EntryState::Waiting));
    assert_eq!(queue.version, 0, "requests do not bump the chair's version");
}

#[test]
fn alternate_interleaves_remote_and_in_room_with_uneven_sides() {
    let mut queue = Queue::new(None);
    run(&mut queue, QueueOp::Settings(Settings { policy: Some(Policy::Alternate), ..Settings::default() })).unwrap();
    ask(&mut queue, "r1", Mode::Remote, T0);
    ask(&mut queue, "r2", Mode::Remote, T0 + 1);
    ask(&mut queue, "r3", Mode::Remote, T0 + 2);
    ask(&mut queue, "i1", Mode::InRoom, T0 + 3);
    assert_eq!(waiting(&queue), ["r1", "i1", "r2", "r3"], "the single in-room request is not stuck behind three");
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "r1");
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "i1");
    ask(&mut queue, "i2", Mode::InRoom, T0 + 4);
    assert_eq!(waiting(&queue), ["r2", "i2", "r3"], "after the in-room on deck, a remote one comes next");
}

#[test]
fn alternate_starts_with_the_side_not_called_last() {
    let mut queue = Queue::new(None);
    queue.policy = Policy::Alternate;
    ask(&mut queue, "r1", Mode::Remote, T0);
    run(&mut queue, QueueOp::Next).unwrap();
    ask(&mut queue, "r2", Mode::Remote, T0 + 1);
    ask(&mut queue, "i1", Mode::InRoom, T0 + 2);
    assert_eq!(waiting(&queue), ["i1", "r2"]);
}

#[test]
fn switching_policy_reorders_the_waiting_list() {
    let mut queue = Queue::new(None);
    for (k, mode) in [Mode::Remote, Mode::Remote, Mode::InRoom].into_iter().enumerate() {
        ask(&mut queue, &format!("p{k}"), mode, T0 + k as Millis);
    }
    run(&mut queue, QueueOp::Settings(Settings { policy: Some(Policy::Alternate), ..Settings::default() })).unwrap();
    assert_eq!(waiting(&queue), ["p0", "p2", "p1"]);
    run(&mut queue, QueueOp::Settings(Settings { policy: Some(Policy::FirstCome), ..Settings::default() })).unwrap();
    assert_eq!(waiting(&queue), ["p0", "p1", "p2"]);
}

#[test]
fn a_point_of_order_goes_to_the_top_and_a_reply_before_ordinary_requests() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    ask(&mut queue, "b", Mode::InRoom, T0 + 1);
    ask_kind(&mut queue, "reply", RequestKind::Reply, T0 + 2);
    ask_kind(&mut queue, "order", RequestKind::PointOfOrder, T0 + 3);
    assert_eq!(waiting(&queue), ["order", "reply", "a", "b"]);
}

#[test]
fn panellists_go_first_unless_the_chair_turns_it_off() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::Remote, T0);
    let panellist = Actor { role: Role::Speaker, ..person("panel", Mode::Remote) };
    queue
        .apply(
            QueueOp::Request { kind: RequestKind::Speak, topic: None, side: None, speaker: None },
            &panellist,
            T0 + 1,
            &Standing::default(),
        )
        .unwrap();
    assert_eq!(waiting(&queue), ["panel", "a"]);
    assert!(queue.waiting[0].panellist);
    run(&mut queue, QueueOp::Settings(Settings { panellists_first: Some(false), ..Settings::default() })).unwrap();
    assert_eq!(waiting(&queue), ["a", "panel"]);
}

#[test]
fn one_participant_holds_one_place_even_from_two_tabs() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "tanaka", Mode::Remote, T0);
    let second_tab = queue.apply(
        QueueOp::Request { kind: RequestKind::Reply, topic: None, side: None, speaker: None },
        &person("tanaka", Mode::Remote),
        T0 + 5,
        &Standing::default(),
    );
    assert_eq!(second_tab.unwrap_err().code(), "invalid_state");
    assert_eq!(queue.waiting.len(), 1);
    run(&mut queue, QueueOp::Next).unwrap();
    let while_speaking = queue.apply(
        QueueOp::Request { kind: RequestKind::Speak, topic: None, side: None, speaker: None },
        &person("tanaka", Mode::Remote),
        T0 + 6,
        &Standing::default(),
    );
    assert!(while_speaking.is_err(), "the speaker cannot queue again until done");
}

#[test]
fn a_withdrawn_participant_may_ask_again_and_goes_to_the_back() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    ask(&mut queue, "b", Mode::InRoom, T0 + 1);
    let closed = queue.apply(QueueOp::Withdraw, &person("a", Mode::InRoom), T0 + 2, &Standing::default()).unwrap();
    assert_eq!(closed[0].state, EntryState::Withdrawn);
    assert_eq!(closed[0].ended_at, Some(T0 + 2));
    ask(&mut queue, "a", Mode::InRoom, T0 + 3);
    assert_eq!(waiting(&queue), ["b", "a"]);
    assert_ne!(queue.waiting[1].id, closed[0].id, "a new request is a new entry");
}

#[test]
fn withdrawing_without_a_place_or_while_speaking_is_refused() {
    let mut queue = Queue::new(None);
    assert_eq!(
        queue.apply(QueueOp::Withdraw, &person("a", Mode::InRoom), T0, &Standing::default()).unwrap_err().code(),
        "invalid_state"
    );
    ask(&mut queue, "a", Mode::InRoom, T0);
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(
        queue.apply(QueueOp::Withdraw, &person("a", Mode::InRoom), T0, &Standing::default()).unwrap_err().code(),
        "invalid_state"
    );
}

#[test]
fn the_on_deck_participant_may_withdraw() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    queue.apply(QueueOp::Withdraw, &person("a", Mode::InRoom), T0, &Standing::default()).unwrap();
    assert!(queue.on_deck.is_none());
}

#[test]
fn next_moves_the_line_along_speaker_on_deck_and_waiting() {
    let mut queue = Queue::new(Some(120_000));
    for (k, p) in ["a", "b", "c"].into_iter().enumerate() {
        ask(&mut queue, p, Mode::InRoom, T0 + k as Millis);
    }
    assert!(run(&mut queue, QueueOp::Next).unwrap().is_empty());
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "a");
    assert_eq!(queue.speaking.as_ref().unwrap().started_at, Some(T0 + 1000));
    assert_eq!(queue.on_deck.as_ref().unwrap().state, EntryState::OnDeck);
    let closed = run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!((closed[0].participant.as_str(), closed[0].state), ("a", EntryState::Done));
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "b");
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "c");
    run(&mut queue, QueueOp::Next).unwrap();
    run(&mut queue, QueueOp::Next).unwrap();
    assert!(queue.speaking.is_none() && queue.on_deck.is_none());
    assert_eq!(run(&mut queue, QueueOp::Next).unwrap_err().code(), "invalid_state");
    assert_eq!(queue.version, 4, "each chair operation bumps the version");
}

#[test]
fn call_start_and_stop_step_through_one_speaker() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    ask(&mut queue, "b", Mode::Remote, T0 + 1);
    let b = id_of(&queue, "b");
    run(&mut queue, QueueOp::Call { entry: Some(b) }).unwrap();
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "b");
    assert_eq!(queue.on_deck.as_ref().unwrap().called_at, Some(T0 + 1000));
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "a");
    assert_eq!(waiting(&queue), ["b"], "whoever was on deck goes back to the top");
    run(&mut queue, QueueOp::Start).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().state, EntryState::Speaking);
    assert_eq!(run(&mut queue, QueueOp::Start).unwrap_err().code(), "invalid_state");
    let closed = run(&mut queue, QueueOp::Stop).unwrap();
    assert_eq!(closed[0].state, EntryState::Done);
    assert_eq!(run(&mut queue, QueueOp::Stop).unwrap_err().code(), "invalid_state");
}

#[test]
fn calling_from_an_empty_queue_or_an_unknown_entry_is_refused() {
    let mut queue = Queue::new(None);
    assert_eq!(run(&mut queue, QueueOp::Call { entry: None }).unwrap_err().code(), "invalid_state");
    assert_eq!(run(&mut queue, QueueOp::Call { entry: Some(99) }).unwrap_err().code(), "invalid_field");
    assert_eq!(queue.version, 0, "a refused operation changes nothing");
}

#[test]
fn dismissing_the_speaker_leaves_the_floor_empty() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    ask(&mut queue, "b", Mode::InRoom, T0 + 1);
    run(&mut queue, QueueOp::Next).unwrap();
    let speaker = queue.speaking.as_ref().unwrap().id;
    let closed = run(&mut queue, QueueOp::Dismiss { entry: speaker }).unwrap();
    assert_eq!(closed[0].state, EntryState::Dismissed);
    assert!(queue.speaking.is_none());
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "b");
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "b");
}

#[test]
fn reordering_at_the_edges_clamps_and_keeps_the_moved_entry_in_place() {
    let mut queue = Queue::new(None);
    for (k, p) in ["a", "b", "c", "d"].into_iter().enumerate() {
        ask(&mut queue, p, Mode::InRoom, T0 + k as Millis);
    }
    move_to(&mut queue, "d", 0);
    assert_eq!(waiting(&queue), ["d", "a", "b", "c"]);
    move_to(&mut queue, "a", 99);
    assert_eq!(waiting(&queue), ["d", "b", "c", "a"], "past the end means last");
    move_to(&mut queue, "d", 0);
    assert_eq!(waiting(&queue), ["d", "b", "c", "a"], "moving the first to the top changes nothing");
    ask_kind(&mut queue, "order", RequestKind::PointOfOrder, T0 + 10);
    assert_eq!(waiting(&queue), ["d", "order", "b", "a", "c"], "placed entries keep their position from the top");
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    assert_eq!(waiting(&queue), ["order", "b", "a", "c"], "and move up with the line");
    assert_eq!(run(&mut queue, QueueOp::Move { entry: 404, to: 0 }).unwrap_err().code(), "invalid_field");
}

#[test]
fn clear_dismisses_everyone_waiting_and_on_deck_but_not_the_speaker() {
    let mut queue = Queue::new(None);
    for (k, p) in ["a", "b", "c"].into_iter().enumerate() {
        ask(&mut queue, p, Mode::InRoom, T0 + k as Millis);
    }
    run(&mut queue, QueueOp::Next).unwrap();
    let closed = run(&mut queue, QueueOp::Clear).unwrap();
    assert_eq!(closed.len(), 2);
    assert!(closed.iter().all(|e| e.state == EntryState::Dismissed));
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "a");
    assert_eq!(run(&mut queue, QueueOp::Clear).unwrap_err().code(), "invalid_state");
}

#[test]
fn the_queue_is_bounded() {
    let mut queue = Queue::new(None);
    for k in 0..MAX_WAITING {
        ask(&mut queue, &format!("p{k}"), Mode::Remote, T0);
    }
    let full = queue.apply(
        QueueOp::Request { kind: RequestKind::Speak, topic: None, side: None, speaker: None },
        &person("late", Mode::Remote),
        T0,
        &Standing::default(),
    );
    assert_eq!(full.unwrap_err().code(), "invalid_state");
}

#[test]
fn topics_are_cleaned_and_bounded() {
    assert_eq!(parse_topic(Some("  data\t\u{200b}trust ")).unwrap(), Some("data trust".into()));
    assert_eq!(parse_topic(Some("data\u{0007} trust")).unwrap_err().code(), "invalid_field");
    assert_eq!(parse_topic(Some("   ")).unwrap(), None);
    assert_eq!(parse_topic(Some(&"x".repeat(141))).unwrap_err().code(), "invalid_field");
}

fn alternating() -> Queue {
    let mut queue = Queue::new(None);
    run(&mut queue, QueueOp::Settings(Settings { policy: Some(Policy::Alternate), ..Settings::default() })).unwrap();
    queue
}

/// Asks for r1, i1, r2, i2, r3 in that order (r remote, i in room).
fn five_alternating_requests(queue: &mut Queue) {
    for (k, p) in ["r1", "i1", "r2", "i2", "r3"].into_iter().enumerate() {
        let mode = if p.starts_with('r') { Mode::Remote } else { Mode::InRoom };
        ask(queue, p, mode, T0 + 10 + k as Millis);
    }
}

fn speaker(queue: &Queue) -> &str {
    queue.speaking.as_ref().unwrap().participant.as_str()
}

#[test]
fn after_a_withdrawal_alternate_still_gives_the_floor_to_the_other_side() {
    let mut queue = alternating();
    five_alternating_requests(&mut queue);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    run(&mut queue, QueueOp::Start).unwrap();
    assert_eq!(speaker(&queue), "r1");
    queue.apply(QueueOp::Withdraw, &person("i1", Mode::InRoom), T0 + 2000, &Standing::default()).unwrap();
    assert_eq!(waiting(&queue), ["i2", "r2", "r3"], "remote spoke last, so in-room comes first");
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(speaker(&queue), "i2");
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "r2");
}

#[test]
fn an_on_deck_entry_that_withdraws_still_counts_as_the_side_called_last() {
    let mut queue = alternating();
    five_alternating_requests(&mut queue);
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(queue.on_deck.as_ref().unwrap().participant, "i1");
    queue.apply(QueueOp::Withdraw, &person("i1", Mode::InRoom), T0 + 2000, &Standing::default()).unwrap();
    assert_eq!(queue.next_side(), Some(Mode::Remote));
    assert_eq!(waiting(&queue), ["r2", "i2", "r3"]);
}

#[test]
fn after_a_dismissal_alternate_closes_the_gap_with_the_same_side() {
    let mut queue = alternating();
    ask(&mut queue, "i0", Mode::InRoom, T0);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    five_alternating_requests(&mut queue);
    assert_eq!(waiting(&queue), ["r1", "i1", "r2", "i2", "r3"]);
    let i1 = id_of(&queue, "i1");
    run(&mut queue, QueueOp::Dismiss { entry: i1 }).unwrap();
    assert_eq!(waiting(&queue), ["r1", "i2", "r2", "r3"]);
}

#[test]
fn after_a_move_alternate_reorders_the_entries_around_the_moved_one() {
    let mut queue = alternating();
    for (k, (p, mode)) in
        [("r1", Mode::Remote), ("i1", Mode::InRoom), ("r2", Mode::Remote), ("i2", Mode::InRoom)].into_iter().enumerate()
    {
        ask(&mut queue, p, mode, T0 + k as Millis);
    }
    assert_eq!(waiting(&queue), ["r1", "i1", "r2", "i2"]);
    move_to(&mut queue, "i1", 3);
    assert_eq!(waiting(&queue), ["r1", "i2", "r2", "i1"], "the others keep alternating");
    assert!(queue.waiting[3].pinned);
    assert_eq!(queue.waiting.iter().filter(|e| e.pinned).count(), 1);
}

#[test]
fn calling_a_given_entry_makes_its_side_the_one_called_last() {
    let mut queue = alternating();
    five_alternating_requests(&mut queue);
    assert_eq!(queue.next_side(), None, "nobody was called yet");
    let i2 = id_of(&queue, "i2");
    run(&mut queue, QueueOp::Call { entry: Some(i2) }).unwrap();
    assert_eq!(queue.next_side(), Some(Mode::Remote));
    assert_eq!(waiting(&queue), ["r1", "i1", "r2", "r3"]);
    let r3 = id_of(&queue, "r3");
    run(&mut queue, QueueOp::Call { entry: Some(r3) }).unwrap();
    assert_eq!(waiting(&queue), ["i2", "i1", "r1", "r2"], "the pushed-back entry holds the top, in-room follows");
    assert!(queue.waiting[0].pinned);
    assert_eq!(queue.next_side(), Some(Mode::InRoom));
}

#[test]
fn alternate_starts_each_priority_group_with_the_side_not_called_last() {
    let mut queue = alternating();
    ask(&mut queue, "r0", Mode::Remote, T0);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    let reply = QueueOp::Request { kind: RequestKind::Reply, topic: None, side: None, speaker: None };
    queue.apply(reply.clone(), &person("rr", Mode::Remote), T0 + 1, &Standing::default()).unwrap();
    ask(&mut queue, "r1", Mode::Remote, T0 + 2);
    ask(&mut queue, "i1", Mode::InRoom, T0 + 3);
    queue.apply(reply, &person("ir", Mode::InRoom), T0 + 4, &Standing::default()).unwrap();
    assert_eq!(waiting(&queue), ["ir", "rr", "i1", "r1"]);
}

#[test]
fn next_side_is_none_under_first_come_and_before_anyone_is_called() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "r1", Mode::Remote, T0);
    ask(&mut queue, "i1", Mode::InRoom, T0 + 1);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    assert_eq!(queue.next_side(), None, "first come has no side");
    run(&mut queue, QueueOp::Settings(Settings { policy: Some(Policy::Alternate), ..Settings::default() })).unwrap();
    assert_eq!(queue.next_side(), Some(Mode::InRoom));
    assert!(alternating().next_side().is_none());
}

#[test]
fn a_placed_entry_loses_its_pin_once_called() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    ask(&mut queue, "b", Mode::InRoom, T0 + 1);
    move_to(&mut queue, "b", 0);
    run(&mut queue, QueueOp::Call { entry: None }).unwrap();
    let on_deck = queue.on_deck.as_ref().unwrap();
    assert_eq!((on_deck.participant.as_str(), on_deck.pinned), ("b", false));
}

#[test]
fn a_closed_list_refuses_new_requests_and_keeps_those_made() {
    let mut queue = Queue::new(None);
    ask(&mut queue, "a", Mode::InRoom, T0);
    run(&mut queue, QueueOp::Settings(Settings { closed: Some(true), ..Settings::default() })).unwrap();
    let late = QueueOp::Request { kind: RequestKind::Speak, topic: None, side: None, speaker: None };
    let error = queue.apply(late.clone(), &person("b", Mode::Remote), T0 + 1, &Standing::default()).unwrap_err();
    assert_eq!(error, Rejection::InvalidState("the list of speakers is closed".into()));
    assert_eq!(waiting(&queue), ["a"], "the requests made stay");
    run(&mut queue, QueueOp::Next).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().participant, "a", "the chair still calls them");
    run(&mut queue, QueueOp::Settings(Settings { closed: Some(false), ..Settings::default() })).unwrap();
    queue.apply(late, &person("b", Mode::Remote), T0 + 2, &Standing::default()).unwrap();
    assert_eq!(waiting(&queue), ["b"]);
}

#[test]
fn the_chair_sets_and_clears_the_side_of_any_open_entry() {
    let mut queue = Queue::new(None);
    let request = QueueOp::Request { kind: RequestKind::Speak, topic: None, side: Some("cn".into()), speaker: None };
    queue.apply(request, &person("a", Mode::InRoom), T0, &Standing::default()).unwrap();
    ask(&mut queue, "b", Mode::Remote, T0 + 1);
    assert_eq!(queue.waiting[0].side.as_deref(), Some("cn"));
    run(&mut queue, QueueOp::Next).unwrap();
    let (a, b) = (queue.speaking.as_ref().unwrap().id, queue.on_deck.as_ref().unwrap().id);
    let version = queue.version;
    run(&mut queue, QueueOp::Side { entry: a, side: Some("jp".into()) }).unwrap();
    run(&mut queue, QueueOp::Side { entry: b, side: Some("floor".into()) }).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().side.as_deref(), Some("jp"), "even while they speak");
    assert_eq!(queue.on_deck.as_ref().unwrap().side.as_deref(), Some("floor"));
    run(&mut queue, QueueOp::Side { entry: a, side: None }).unwrap();
    assert_eq!(queue.speaking.as_ref().unwrap().side, None);
    assert_eq!(queue.version, version + 3, "a chair's operation");
    let error = run(&mut queue, QueueOp::Side { entry: 99, side: None }).unwrap_err();
    assert_eq!(error.code(), "invalid_field");
}

/// Each side's floor time as `(side, ms, turns)`, none for those of no side.
fn standing(sides: &[(Option<&str>, Millis, u32)]) -> Standing {
    use crate::domain::speaking::{SideTally, SpeakingRecord, Tally};
    let tally = |(side, spoken_ms, turns): &(Option<&str>, Millis, u32)| SideTally {
        side: side.map(str::to_owned),
        segment: "s".into(),
        tally: Tally { spoken_ms: *spoken_ms, turns: *turns },
    };
    SpeakingRecord { sides: sides.iter().map(tally).collect(), ..SpeakingRecord::default() }.standing(T0)
}

fn balanced() -> Queue {
    Queue { policy: Policy::Balanced, ..Queue::new(None) }
}

fn ask_as(queue: &mut Queue, who: &str, side: Option<&str>, kind: RequestKind, at: Millis, stands: &Standing) {
    let op = QueueOp::Request { kind, topic: None, side: side.map(str::to_owned), speaker: None };
    queue.apply(op, &person(who, Mode::InRoom), at, stands).unwrap();
}

#[test]
fn balanced_puts_first_the_side_that_has_spoken_least_and_no_side_is_a_side_of_its_own() {
    let stands = standing(&[(Some("cn"), 5 * 60_000, 2), (Some("jp"), 2 * 60_000, 2), (None, 3 * 60_000, 1)]);
    let mut queue = balanced();
    for (k, (who, side)) in
        [("c1", Some("cn")), ("j1", Some("jp")), ("n1", None), ("c2", Some("cn")), ("j2", Some("jp"))]
            .into_iter()
            .enumerate()
    {
        ask_as(&mut queue, who, side, RequestKind::Speak, T0 + k as Millis, &stands);
    }
    assert_eq!(waiting(&queue), ["j1", "j2", "n1", "c1", "c2"]);
    assert_eq!(queue.next_side(), None, "remote and in-room play no part");
    let first_come = standing(&[]);
    assert!(queue.rebalance(&first_come), "with nobody having spoken, requests keep their order");
    assert_eq!(waiting(&queue), ["c1", "j1", "n1", "c2", "j2"]);
    assert!(!queue.rebalance(&first_come), "nothing moved");
}

#[test]
fn balanced_ties_go_to_the_fewer_turns_then_the_earlier_request_then_the_lower_id() {
    let stands = standing(&[(Some("cn"), 60_000, 1), (Some("jp"), 60_000, 3), (Some("kr"), 60_000, 1)]);
    let mut queue = balanced();
    ask_as(&mut queue, "j", Some("jp"), RequestKind::Speak, T0, &stands);
    ask_as(&mut queue, "k", Some("kr"), RequestKind::Speak, T0 + 2, &stands);
    ask_as(&mut queue, "c", Some("cn"), RequestKind::Speak, T0 + 1, &stands);
    ask_as(&mut queue, "c2", Some("cn"), RequestKind::Speak, T0 + 1, &stands);
    assert_eq!(waiting(&queue), ["c", "c2", "k", "j"], "equal time: fewer turns, earlier, lower id");
}

#[test]
fn balanced_keeps_priority_groups_panellists_first_and_the_chairs_pins() {
    let stands = standing(&[(Some("cn"), 9 * 60_000, 3)]);
    let mut queue = balanced();
    ask_as(&mut queue, "j", Some("jp"), RequestKind::Speak, T0, &stands);
    ask_as(&mut queue, "c-order", Some("cn"), RequestKind::PointOfOrder, T0 + 1, &stands);
    let panellist = Actor { role: Role::Speaker, ..person("c-panel", Mode::InRoom) };
    let op = QueueOp::Request { kind: RequestKind::Speak, topic: None, side: Some("cn".into()), speaker: None };
    queue.apply(op, &panellist, T0 + 2, &stands).unwrap();
    ask_as(&mut queue, "j-reply", Some("jp"), RequestKind::Reply, T0 + 3, &stands);
    assert_eq!(waiting(&queue), ["c-order", "j-reply", "c-panel", "j"]);
    let j = id_of(&queue, "j");
    queue.apply(QueueOp::Move { entry: j, to: 0 }, &chair(), T0 + 4, &stands).unwrap();
    ask_as(&mut queue, "j2", Some("jp"), RequestKind::PointOfOrder, T0 + 5, &stands);
    assert_eq!(waiting(&queue), ["j", "j2", "c-order", "j-reply", "c-panel"], "the pinned entry keeps its place");
    assert!(queue.rebalance(&standing(&[(Some("jp"), 60 * 60_000, 9)])), "now Japan has spoken most");
    assert_eq!(waiting(&queue), ["j", "c-order", "j2", "j-reply", "c-panel"], "each within its group");
}
