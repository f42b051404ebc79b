//! Messages to the speaker's stage screen, and when they end with the floor.

use super::*;

#[test]
fn a_stage_message_ends_with_its_segment() {
    let mut state = started();
    signal(&mut state, None, None).unwrap();
    let changes = run(&mut state, next, T0 + 3 * MIN).unwrap();
    assert!(matches!(changes.last(), Some(Change::Stage { op, message: None }) if op == "next"));
    assert_eq!(state.stage, None);
}

#[test]
fn a_stage_message_ends_when_the_next_speaker_takes_the_floor_unless_pinned() {
    let mut state = started();
    signal(&mut state, None, None).unwrap();
    let changes = run(&mut state, |version| Command::NextSpeaker { version }, T0 + 2 * MIN).unwrap();
    assert!(matches!(changes.last(), Some(Change::Stage { op, message: None }) if op == "next_speaker"));
    assert_eq!(state.stage, None, "the new speaker does not start under the last one's time-up");

    let mut state = started();
    signal(&mut state, Some(true), None).unwrap();
    assert_eq!(run(&mut state, |version| Command::NextSpeaker { version }, T0 + 2 * MIN).unwrap().len(), 1);
    assert!(state.stage.is_some(), "a pinned message stays");

    let mut state = started();
    signal(&mut state, None, None).unwrap();
    run(&mut state, |version| Command::Hold { version }, T0 + 2 * MIN).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: 60.into() }, T0 + 2 * MIN).unwrap();
    assert!(state.stage.is_some(), "hold and extend leave the floor where it is");
}

#[test]
fn a_stage_message_ends_when_someone_is_called_from_the_queue() {
    let mut state = started();
    let segment = state.show.segments[0].id.clone();
    ask(&mut state, &segment, "a", T0 + MIN);
    signal(&mut state, None, None).unwrap();
    let call = Command::QueueNext { queue: segment.clone(), version: state.queues[&segment].version };
    let changes = state.apply(&call, &moderator(), T0 + 2 * MIN).unwrap();
    assert!(state.queues[&segment].speaking.is_some());
    assert!(matches!(changes.last(), Some(Change::Stage { message: None, .. })), "{changes:?}");
    assert_eq!(state.stage, None);
}

#[test]
fn a_pinned_stage_message_outlasts_its_segment() {
    let mut state = started();
    signal(&mut state, Some(true), None).unwrap();
    assert_eq!(run(&mut state, next, T0 + 3 * MIN).unwrap().len(), 1);
    assert!(state.stage.as_ref().is_some_and(|m| m.pinned));
}

#[test]
fn a_message_aimed_at_one_speaker_names_them_and_ends_with_the_segment_even_pinned() {
    let mut state = started();
    signal(&mut state, Some(true), Some(1)).unwrap();
    assert_eq!(state.stage.as_ref().and_then(|m| m.speaker), Some(1));
    run(&mut state, |version| Command::Goto { version, segment: "closing".into() }, T0 + 3 * MIN).unwrap();
    assert_eq!(state.stage, None);
}

#[test]
fn a_message_aimed_at_a_speaker_the_segment_lacks_is_refused() {
    let mut state = forum();
    assert_eq!(signal(&mut state, None, Some(0)).unwrap_err().code(), "invalid_state", "nothing is live");
    let mut state = started();
    assert_eq!(signal(&mut state, None, Some(2)).unwrap_err().code(), "invalid_field");
    assert_eq!(state.stage, None);
}
