//! The speaker queues: who may run them and ask, and where open requests go when a
//! segment ends.

use super::*;

#[test]
fn every_segment_has_a_queue_and_the_event_has_one_more() {
    let state = forum();
    let names: Vec<&str> = state.queues.keys().map(String::as_str).collect();
    assert_eq!(names, ["closing", "event", "keynotes", "opening"]);
}

#[test]
fn only_the_chair_runs_a_queue_and_crew_screens_cannot_ask() {
    let mut state = forum();
    let ask =
        Command::QueueRequest { queue: "event".into(), kind: Default::default(), topic: Some("Q".into()), side: None };
    state.apply(&ask, &attendee("a"), T0).unwrap();
    let next = Command::QueueNext { queue: "event".into(), version: 0 };
    assert_eq!(state.apply(&next, &attendee("a"), T0).unwrap_err().code(), "forbidden");
    for role in [Role::Av, Role::Display] {
        let crew = Actor { role, ..attendee("crew") };
        assert_eq!(state.apply(&ask, &crew, T0).unwrap_err().code(), "forbidden");
    }
    let changes = state.apply(&next, &moderator(), T0).unwrap();
    assert!(matches!(&changes[0], Change::Queue { queue, .. } if queue == "event"));
    assert_eq!(state.queues["event"].speaking.as_ref().unwrap().participant, "a");
}

#[test]
fn a_stale_call_next_is_a_conflict_and_requests_do_not_cause_one() {
    let mut state = forum();
    let ask = Command::QueueRequest { queue: "keynotes".into(), kind: Default::default(), topic: None, side: None };
    state.apply(&ask, &attendee("a"), T0).unwrap();
    state.apply(&ask, &attendee("b"), T0).unwrap();
    let next = Command::QueueNext { queue: "keynotes".into(), version: 0 };
    state.apply(&next, &moderator(), T0).unwrap();
    assert_eq!(state.apply(&next, &moderator(), T0).unwrap_err().code(), "conflict");
    state.apply(&ask, &attendee("c"), T0).unwrap();
    let fresh = Command::QueueNext { queue: "keynotes".into(), version: 1 };
    assert!(state.apply(&fresh, &moderator(), T0).is_ok(), "a request in between is no conflict");
}

#[test]
fn unknown_queues_and_bad_speaking_limits_are_invalid_fields() {
    let mut state = forum();
    let ask = Command::QueueRequest { queue: "lunch".into(), kind: Default::default(), topic: None, side: None };
    assert_eq!(state.apply(&ask, &attendee("a"), T0).unwrap_err().code(), "invalid_field");
    let settings = |s| Command::QueueSettings {
        queue: "event".into(),
        version: 0,
        policy: None,
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: Some(s),
        carry_over: None,
        closed: None,
    };
    assert_eq!(state.apply(&settings(5), &moderator(), T0).unwrap_err().code(), "invalid_field");
    state.apply(&settings(120), &moderator(), T0).unwrap();
    assert_eq!(state.queues["event"].speaking_limit_ms, Some(120_000));
}

#[test]
fn replaying_queue_changes_rebuilds_the_queues() {
    let mut state = forum();
    let mut log = Vec::new();
    let ask =
        Command::QueueRequest { queue: "event".into(), kind: Default::default(), topic: Some("Q".into()), side: None };
    log.extend(state.apply(&ask, &attendee("a"), T0).unwrap());
    log.extend(state.apply(&Command::QueueNext { queue: "event".into(), version: 0 }, &moderator(), T0).unwrap());
    let mut replayed = forum();
    log.iter().for_each(|c| replayed.evolve(c));
    assert_eq!(replayed, state);
}

fn carry_over(state: &mut EventState, queue: &str, on: bool) {
    let settings = Command::QueueSettings {
        queue: queue.into(),
        version: state.queues[queue].version,
        policy: None,
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: None,
        carry_over: Some(on),
        closed: None,
    };
    state.apply(&settings, &moderator(), T0).unwrap();
}

fn participants<'a>(entries: impl IntoIterator<Item = &'a QueueEntry>) -> Vec<(&'a str, EntryState)> {
    entries.into_iter().map(|e| (e.participant.as_str(), e.state)).collect()
}

fn queue_change<'a>(changes: &'a [Change], name: &str) -> (&'a Queue, &'a [QueueEntry]) {
    changes
        .iter()
        .find_map(|c| match c {
            Change::Queue { queue, state, closed, .. } if queue == name => Some((&**state, closed.as_slice())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no change to the {name} queue in {changes:?}"))
}

#[test]
fn panels_and_qa_carry_requests_over_by_default_and_other_segments_do_not() {
    let mut show = forum_show();
    show.segments[1].kind = SegmentKind::Panel;
    show.segments[2].kind = SegmentKind::Qa;
    let state = EventState::new(show);
    let carry: Vec<bool> = ["opening", "keynotes", "closing", "event"].map(|q| state.queues[q].carry_over).into();
    assert_eq!(carry, [false, true, true, false]);
}

#[test]
fn when_a_segment_ends_its_speaker_is_done_and_open_requests_expire_in_order() {
    let mut state = opening_with_requests();
    let changes = run(&mut state, next, T0 + 10 * MIN).unwrap();
    assert_eq!(changes.len(), 2, "the live change and the opening queue's");
    assert!(matches!(&changes[0], Change::Live { op, .. } if op == "next"));
    assert!(matches!(&changes[1], Change::Queue { op, .. } if op == "next"));
    let (queue, closed) = queue_change(&changes, "opening");
    use EntryState::{Done, Expired};
    assert_eq!(participants(closed), [("a", Done), ("b", Expired), ("c", Expired), ("d", Expired)]);
    assert!(closed.iter().all(|e| e.ended_at == Some(T0 + 10 * MIN)));
    assert_eq!((queue.speaking.as_ref(), queue.on_deck.as_ref(), queue.waiting.len()), (None, None, 0));
    assert_eq!(state.queues["opening"], *queue);
    assert!(state.queues["keynotes"].waiting.is_empty());
}

#[test]
fn carried_requests_keep_their_order_in_the_next_segments_queue() {
    let mut state = opening_with_requests();
    carry_over(&mut state, "opening", true);
    ask(&mut state, "keynotes", "z", T0 + 2 * MIN);
    let changes = run(&mut state, next, T0 + 10 * MIN).unwrap();
    assert_eq!(changes.len(), 3);
    let (_, closed) = queue_change(&changes, "opening");
    assert_eq!(participants(closed), [("a", EntryState::Done)]);
    let (keynotes, closed) = queue_change(&changes, "keynotes");
    assert!(closed.is_empty());
    let waiting = participants(&keynotes.waiting);
    assert_eq!(waiting.iter().map(|(p, _)| *p).collect::<Vec<_>>(), ["b", "c", "d", "z"], "as they asked");
    assert!(keynotes.waiting.iter().all(|e| e.state == EntryState::Waiting && e.called_at.is_none()));
    let mut ids: Vec<u64> = keynotes.waiting.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "new ids in the queue they moved to");
    assert_eq!(state.queues["keynotes"], *keynotes);
}

#[test]
fn at_the_end_of_the_show_carried_requests_go_to_the_event_queue() {
    let mut state = opening_with_requests();
    carry_over(&mut state, "opening", true);
    let changes = run(&mut state, |version| Command::End { version }, T0 + 10 * MIN).unwrap();
    let (event, _) = queue_change(&changes, "event");
    assert_eq!(participants(&event.waiting).iter().map(|(p, _)| *p).collect::<Vec<_>>(), ["b", "c", "d"]);
}

#[test]
fn a_carried_request_whose_person_already_waits_there_expires() {
    let mut state = opening_with_requests();
    carry_over(&mut state, "opening", true);
    ask(&mut state, "keynotes", "c", T0 + 2 * MIN);
    let changes = run(&mut state, next, T0 + 10 * MIN).unwrap();
    let (_, closed) = queue_change(&changes, "opening");
    assert_eq!(participants(closed), [("a", EntryState::Done), ("c", EntryState::Expired)]);
    let keynotes = &state.queues["keynotes"];
    assert_eq!(keynotes.waiting.iter().filter(|e| e.participant == "c").count(), 1);
}

#[test]
fn an_empty_queue_a_restarted_segment_and_an_undo_leave_the_queues_alone() {
    let mut state = started();
    assert_eq!(run(&mut state, next, T0 + MIN).unwrap().len(), 1, "nobody had asked");
    ask(&mut state, "keynotes", "a", T0 + 2 * MIN);
    let queues = state.queues.clone();
    let restart = |version| Command::Goto { version, segment: "keynotes".into() };
    assert_eq!(run(&mut state, restart, T0 + 3 * MIN).unwrap().len(), 1);
    run(&mut state, |version| Command::Hold { version }, T0 + 4 * MIN).unwrap();
    assert_eq!(run(&mut state, undo, T0 + 5 * MIN).unwrap().len(), 1);
    assert_eq!(state.queues, queues);
}

#[test]
fn undo_after_next_leaves_expired_requests_expired() {
    let mut state = opening_with_requests();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    let queues = state.queues.clone();
    assert_eq!(run(&mut state, undo, T0 + 11 * MIN).unwrap().len(), 1);
    assert_eq!(state.live.segment, Some(0));
    assert_eq!(state.queues, queues);
}
