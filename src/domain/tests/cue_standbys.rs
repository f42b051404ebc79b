//! Cues standing by when their segment ends.

use super::*;

fn standby_for(state: &mut EventState, segment: Option<&str>, now: Millis) -> u64 {
    let standby = Command::CueStandby {
        target: Some(cues::CueTarget::Position(CrewPosition::Video)),
        text: Some(Localized::same("slides")),
        preset: None,
        segment: segment.map(str::to_owned),
        speaker: None,
    };
    let changes = state.apply(&standby, &moderator(), now).unwrap();
    let Some(Change::Cue { cue, .. }) = changes.last() else { panic!("a cue change: {changes:?}") };
    cue.id
}

fn cue_state(state: &EventState, id: u64) -> cues::CueState {
    state.cues.cues.iter().find(|c| c.id == id).expect("the cue is kept").state
}

#[test]
fn next_closes_the_ended_segments_standbys_in_the_same_command() {
    let mut state = forum();
    let opening = standby_for(&mut state, Some("opening"), T0);
    let keynotes = standby_for(&mut state, Some("keynotes"), T0);
    let whole_day = standby_for(&mut state, None, T0);
    run(&mut state, next, T0).unwrap();
    assert_eq!(cue_state(&state, opening), cues::CueState::Standby, "starting the show ends no segment");

    let changes = run(&mut state, next, T0 + 10 * MIN).unwrap();
    assert!(matches!(changes[0], Change::Live { .. }));
    let closed: Vec<&cues::Cue> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Cue { op, cue } if op == "next" => Some(&**cue),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), 1, "{changes:?}");
    assert_eq!((closed[0].id, closed[0].reason), (opening, Some(cues::CancelReason::SegmentEnded)));
    assert_eq!(closed[0].cancelled.as_ref().map(|s| s.by.as_str()), Some("Ji Weidong"));
    assert_eq!(cue_state(&state, keynotes), cues::CueState::Standby, "the segment now live keeps its cues");
    assert_eq!(cue_state(&state, whole_day), cues::CueState::Standby, "a cue of no segment carries on");

    run(&mut state, |version| Command::Undo { version }, T0 + 10 * MIN).unwrap();
    assert_eq!(cue_state(&state, opening), cues::CueState::Cancelled, "undo moves the show, not the cues");
}

#[test]
fn end_closes_the_last_segments_standbys() {
    let mut state = started();
    run(&mut state, |version| Command::Goto { version, segment: "closing".into() }, T0).unwrap();
    let closing = standby_for(&mut state, Some("closing"), T0 + MIN);
    run(&mut state, |version| Command::End { version }, T0 + 5 * MIN).unwrap();
    assert_eq!(cue_state(&state, closing), cues::CueState::Cancelled);
}
