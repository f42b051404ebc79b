//! The speaking record: programme speakers' turns as their clock counts them, queue turns
//! from start to end, per person, per side and per segment, and the same on replay.

use super::*;
use crate::domain::speaking::{Person, Tally};

/// Floor time and turns of `person` at `now`, running turn included.
fn spoken(state: &EventState, person: Person, now: Millis) -> (Millis, u32) {
    let found = state.speaking.people_at(now).into_iter().find(|p| p.person == person);
    found.map_or((0, 0), |p| (p.tally.spoken_ms, p.tally.turns))
}

fn speaker(id: &str) -> Person {
    Person::Speaker(id.into())
}

fn side(state: &EventState, side: Option<&str>, now: Millis) -> Tally {
    state.speaking.standing(now).of(side)
}

fn ask_for(state: &mut EventState, queue: &str, who: &str, side: Option<&str>, now: Millis) {
    let request = Command::QueueRequest {
        queue: queue.into(),
        kind: RequestKind::Speak,
        topic: None,
        side: side.map(Into::into),
    };
    state.apply(&request, &attendee(who), now).unwrap();
}

fn chair(state: &mut EventState, queue: &str, make: impl Fn(String, u64) -> Command, now: Millis) {
    let version = state.queues[queue].version;
    state.apply(&make(queue.into(), version), &moderator(), now).unwrap();
}

#[test]
fn a_programme_speakers_turn_is_their_time_on_the_floor_without_holds() {
    let mut state = two_sides();
    run(&mut state, next, T0).unwrap();
    run(&mut state, |version| Command::Hold { version }, T0 + 2 * MIN).unwrap();
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 3 * MIN), (2 * MIN, 1), "a hold stops the time");
    run(&mut state, |version| Command::Resume { version }, T0 + 3 * MIN).unwrap();
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 4 * MIN), (3 * MIN, 1), "and is not another turn");
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 5 * MIN).unwrap();
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 9 * MIN), (4 * MIN, 1), "the floor passed");
    assert_eq!(spoken(&state, speaker("hideki-akamatsu"), T0 + 7 * MIN), (2 * MIN, 1));
    assert_eq!(side(&state, Some("cn"), T0 + 7 * MIN), Tally { spoken_ms: 4 * MIN, turns: 1 });
    assert_eq!(side(&state, Some("jp"), T0 + 7 * MIN), Tally { spoken_ms: 2 * MIN, turns: 1 });
}

#[test]
fn the_record_runs_across_segments_and_keeps_each_segments_share() {
    let mut state = two_sides();
    run(&mut state, next, T0).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 4 * MIN).unwrap();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 18 * MIN).unwrap();
    run(&mut state, next, T0 + 30 * MIN).unwrap();
    run(&mut state, |version| Command::End { version }, T0 + 35 * MIN).unwrap();
    let now = T0 + 60 * MIN;
    assert_eq!(side(&state, Some("cn"), now), Tally { spoken_ms: 12 * MIN, turns: 2 }, "Zhou 4 and Zhang 8");
    assert_eq!(side(&state, Some("jp"), now), Tally { spoken_ms: 6 * MIN, turns: 1 });
    assert_eq!(side(&state, None, now), Tally { spoken_ms: 12 * MIN, turns: 1 }, "Lu Ming speaks for no side");
    assert!(state.speaking.open.is_empty(), "nobody has the floor after the end");
    let by_segment: Vec<(Option<&str>, &str, Millis)> =
        state.speaking.sides.iter().map(|s| (s.side.as_deref(), s.segment.as_str(), s.tally.spoken_ms)).collect();
    assert_eq!(
        by_segment,
        [
            (Some("cn"), "opening", 4 * MIN),
            (Some("jp"), "opening", 6 * MIN),
            (Some("cn"), "keynotes", 8 * MIN),
            (None, "keynotes", 12 * MIN)
        ]
    );
}

#[test]
fn a_queue_turn_runs_from_its_start_to_its_end_and_stops_the_programme_speaker() {
    let mut state = two_sides();
    run(&mut state, next, T0).unwrap();
    ask_for(&mut state, "opening", "a", Some("jp"), T0 + MIN);
    chair(&mut state, "opening", |queue, version| Command::QueueNext { queue, version }, T0 + 2 * MIN);
    run(&mut state, |version| Command::Hold { version }, T0 + 3 * MIN).unwrap();
    let a = Person::Participant("a".into());
    assert_eq!(spoken(&state, a.clone(), T0 + 4 * MIN), (2 * MIN, 1), "a hold does not stop someone from a queue");
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 4 * MIN), (2 * MIN, 1), "the floor is theirs");
    run(&mut state, |version| Command::Resume { version }, T0 + 4 * MIN).unwrap();
    chair(&mut state, "opening", |queue, version| Command::QueueStop { queue, version }, T0 + 5 * MIN);
    assert_eq!(spoken(&state, a, T0 + 9 * MIN), (3 * MIN, 1));
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 6 * MIN), (3 * MIN, 1), "back to them, the same turn");
    assert_eq!(side(&state, Some("jp"), T0 + 6 * MIN), Tally { spoken_ms: 3 * MIN, turns: 1 });
}

#[test]
fn a_panellist_from_the_queue_speaks_as_their_programme_self() {
    let mut state = two_sides();
    let panellist =
        Actor { participant: "p-hideki".into(), name: "Hideki Akamatsu".into(), role: Role::Speaker, ..attendee("x") };
    let request = Command::QueueRequest { queue: "event".into(), kind: RequestKind::Speak, topic: None, side: None };
    state.apply(&request, &panellist, T0).unwrap();
    chair(&mut state, "event", |queue, version| Command::QueueNext { queue, version }, T0);
    chair(&mut state, "event", |queue, version| Command::QueueStop { queue, version }, T0 + 2 * MIN);
    assert_eq!(spoken(&state, speaker("hideki-akamatsu"), T0 + 5 * MIN), (2 * MIN, 1));
    assert_eq!(side(&state, Some("jp"), T0 + 5 * MIN).spoken_ms, 2 * MIN);
    assert_eq!(state.speaking.sides[0].segment, "event", "a turn of the event's queue belongs to it");
}

#[test]
fn a_side_corrected_mid_turn_splits_the_time_but_not_the_turn() {
    let mut state = two_sides();
    ask_for(&mut state, "event", "a", None, T0);
    chair(&mut state, "event", |queue, version| Command::QueueNext { queue, version }, T0);
    let entry = state.queues["event"].speaking.as_ref().unwrap().id;
    let set = move |queue, version| Command::QueueSide { queue, version, entry, side: Some("cn".into()) };
    chair(&mut state, "event", set, T0 + MIN);
    chair(&mut state, "event", |queue, version| Command::QueueStop { queue, version }, T0 + 3 * MIN);
    assert_eq!(side(&state, None, T0 + 5 * MIN), Tally { spoken_ms: MIN, turns: 1 });
    assert_eq!(side(&state, Some("cn"), T0 + 5 * MIN), Tally { spoken_ms: 2 * MIN, turns: 0 });
    assert_eq!(spoken(&state, Person::Participant("a".into()), T0 + 5 * MIN), (3 * MIN, 1));
}

#[test]
fn an_undo_gives_the_floor_back_from_then_on_and_the_time_before_stays_spoken() {
    let mut state = two_sides();
    run(&mut state, next, T0).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 2 * MIN).unwrap();
    run(&mut state, undo, T0 + 3 * MIN).unwrap();
    assert_eq!(spoken(&state, speaker("hideki-akamatsu"), T0 + 10 * MIN), (MIN, 1), "the minute they had the floor");
    assert_eq!(spoken(&state, speaker("zhou-cheng"), T0 + 4 * MIN), (3 * MIN, 2), "given the floor again");
}

#[test]
fn sides_are_held_to_the_events_and_the_live_segments_budgets_past_zero() {
    let mut show = two_sides().show.as_ref().clone();
    show.sides[0].budget_ms = Some(5 * MIN);
    show.segments[1].side_budgets = [("cn".to_owned(), 3 * MIN)].into();
    let mut state = EventState::new(show);
    run(&mut state, next, T0).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 4 * MIN).unwrap();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    let now = T0 + 14 * MIN;
    let sides = state.speaking.sides_at(&state.show, Some("keynotes"), now);
    let cn = sides.iter().find(|s| s.id.as_deref() == Some("cn")).unwrap();
    assert_eq!((cn.spoken_ms, cn.budget_ms, cn.remaining_ms), (8 * MIN, Some(5 * MIN), Some(-3 * MIN)));
    assert_eq!((cn.segment_spoken_ms, cn.segment_remaining_ms), (4 * MIN, Some(-MIN)));
    let jp = sides.iter().find(|s| s.id.as_deref() == Some("jp")).unwrap();
    assert_eq!((jp.spoken_ms, jp.remaining_ms, jp.segment_budget_ms), (6 * MIN, None, None));
    assert_eq!(sides.len(), 2, "nobody spoke for no side, so no such line");
}

#[test]
fn replaying_the_log_gives_the_record_the_show_kept_live() {
    let mut state = two_sides();
    let mut log = Vec::new();
    let mut step = |state: &mut EventState, command: Command, actor: &Actor, now| {
        log.extend(state.apply(&command, actor, now).unwrap());
    };
    step(&mut state, Command::Next { version: 0 }, &moderator(), T0);
    let ask = |who: &str| Command::QueueRequest {
        queue: "opening".into(),
        kind: RequestKind::Speak,
        topic: None,
        side: Some(if who == "a" { "jp" } else { "cn" }.into()),
    };
    step(&mut state, ask("a"), &attendee("a"), T0 + MIN);
    step(&mut state, ask("b"), &attendee("b"), T0 + MIN);
    step(&mut state, Command::QueueNext { queue: "opening".into(), version: 0 }, &moderator(), T0 + 2 * MIN);
    step(&mut state, Command::Hold { version: 1 }, &moderator(), T0 + 3 * MIN);
    step(&mut state, Command::QueueNext { queue: "opening".into(), version: 1 }, &moderator(), T0 + 4 * MIN);
    step(&mut state, Command::Resume { version: 2 }, &moderator(), T0 + 5 * MIN);
    step(&mut state, Command::Next { version: 3 }, &moderator(), T0 + 7 * MIN);
    assert!(state.speaking.people.len() >= 4, "{:?}", state.speaking.people);
    assert!(log.iter().any(|c| c.speaking().is_some()), "the changes carry it");
    let log: Vec<Change> = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
    let mut replayed = two_sides();
    log.iter().for_each(|change| replayed.evolve(change));
    assert_eq!(replayed.speaking, state.speaking);
    assert_eq!(replayed, state);
}

fn balance(state: &mut EventState, queue: &str) {
    let version = state.queues[queue].version;
    let settings = Command::QueueSettings {
        queue: queue.into(),
        version,
        policy: Some(queue::Policy::Balanced),
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: None,
        carry_over: None,
        closed: None,
    };
    state.apply(&settings, &moderator(), T0).unwrap();
}

fn waiting_in<'a>(state: &'a EventState, queue: &str) -> Vec<&'a str> {
    state.queues[queue].waiting.iter().map(|e| e.participant.as_str()).collect()
}

#[test]
fn balanced_counts_the_current_speakers_time_so_far_and_calls_the_side_that_spoke_least() {
    let mut state = two_sides();
    balance(&mut state, "event");
    run(&mut state, next, T0).unwrap();
    ask_for(&mut state, "event", "c", Some("cn"), T0 + MIN);
    ask_for(&mut state, "event", "j", Some("jp"), T0 + MIN + 1);
    assert_eq!(waiting_in(&state, "event"), ["j", "c"], "Zhou Cheng has spoken a minute for cn, so far");
    chair(&mut state, "event", |queue, version| Command::QueueNext { queue, version }, T0 + 2 * MIN);
    assert_eq!(state.queues["event"].speaking.as_ref().unwrap().participant, "j");
}

#[test]
fn a_turn_ending_places_a_balanced_queue_again_with_the_command_that_ended_it() {
    let mut state = two_sides();
    balance(&mut state, "event");
    run(&mut state, next, T0).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + MIN).unwrap();
    ask_for(&mut state, "event", "c", Some("cn"), T0 + 2 * MIN);
    ask_for(&mut state, "event", "j", Some("jp"), T0 + 2 * MIN);
    assert_eq!(waiting_in(&state, "event"), ["c", "j"], "a minute each so far, a turn each: the lower id");
    let changes = run(&mut state, next, T0 + 5 * MIN).unwrap();
    assert_eq!(waiting_in(&state, "event"), ["c", "j"], "jp 4 min, cn 1 min");
    assert!(
        !changes.iter().any(|c| matches!(c, Change::Queue { queue, .. } if queue == "event")),
        "no move, no change"
    );
    let changes = run(&mut state, |version| Command::NextSpeaker { version }, T0 + 9 * MIN).unwrap();
    let placed = changes.iter().find_map(|c| match c {
        Change::Queue { op, queue, state, .. } if queue == "event" => Some((op.as_str(), state)),
        _ => None,
    });
    let (op, placed) = placed.expect("the queue's new order is sent");
    assert_eq!(op, "next_speaker");
    assert_eq!(placed.waiting.iter().map(|e| e.participant.as_str()).collect::<Vec<_>>(), ["j", "c"]);
    assert_eq!(waiting_in(&state, "event"), ["j", "c"], "Zhang Ying's 4 min make cn's 5: jp has spoken least");
    assert!(changes.last().unwrap().speaking().is_some(), "the last change carries the record");
}
