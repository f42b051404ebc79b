use super::*;
use crate::domain::text::{Lang, Mode};

const T0: Millis = 1_641_258_000_000;

fn actor(name: &str, role: Role, crew: Vec<CrewPosition>) -> Actor {
    Actor {
        participant: name.into(),
        name: name.into(),
        role,
        mode: Mode::InRoom,
        lang: Lang::Zh,
        affiliation: None,
        crew,
    }
}

fn chair() -> Actor {
    actor("Ji Weidong", Role::Moderator, vec![])
}

fn audio() -> Actor {
    actor("Wang (audio)", Role::Av, vec![CrewPosition::Audio])
}

fn standby(sheet: &mut CueSheet, target: CueTarget) -> u64 {
    let op =
        CueOp::Standby { target, text: Localized::same("Mic 3 live"), preset: None, segment: Some(2), speaker: None };
    let cue = sheet.apply(op, &chair(), T0).unwrap();
    sheet.record(&cue);
    cue.id
}

fn step(sheet: &mut CueSheet, op: CueOp, by: &Actor, at: Millis) -> Result<Cue, Rejection> {
    let cue = sheet.apply(op, by, at)?;
    sheet.record(&cue);
    Ok(cue)
}

#[test]
fn a_cue_runs_standby_standing_by_go_done_and_records_who_and_when() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    let cue = step(&mut sheet, CueOp::StandingBy(id), &audio(), T0 + 3_200).unwrap();
    assert_eq!(cue.state, CueState::StandingBy);
    assert_eq!(cue.standing_by, Some(Step { at: T0 + 3_200, by: "Wang (audio)".into() }));
    step(&mut sheet, CueOp::Go(id), &chair(), T0 + 5_000).unwrap();
    let done = step(&mut sheet, CueOp::Done(id), &audio(), T0 + 6_000).unwrap();
    assert_eq!(done.state, CueState::Done);
    assert_eq!(done.standby.at, T0);
    assert_eq!(done.go.as_ref().unwrap().by, "Ji Weidong");
    assert_eq!(done.done.as_ref().unwrap().at - done.go.as_ref().unwrap().at, 1_000);
}

#[test]
fn go_without_standing_by_is_allowed_and_leaves_no_answer_recorded() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Video));
    let cue = step(&mut sheet, CueOp::Go(id), &chair(), T0 + 1).unwrap();
    assert_eq!(cue.state, CueState::Go);
    assert_eq!(cue.standing_by, None, "the console can see the crew never confirmed");
    let late = step(&mut sheet, CueOp::StandingBy(id), &actor("video", Role::Av, vec![]), T0 + 2);
    assert_eq!(late.unwrap_err().code(), "invalid_state");
}

#[test]
fn answering_a_cancelled_cue_is_refused() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    step(&mut sheet, CueOp::Cancel(id), &chair(), T0 + 1).unwrap();
    for op in [CueOp::StandingBy(id), CueOp::Done(id)] {
        assert_eq!(step(&mut sheet, op, &audio(), T0 + 2).unwrap_err().code(), "invalid_state");
    }
    assert_eq!(step(&mut sheet, CueOp::Go(id), &chair(), T0 + 3).unwrap_err().code(), "invalid_state");
}

#[test]
fn a_double_answer_is_refused_and_changes_nothing() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    step(&mut sheet, CueOp::StandingBy(id), &audio(), T0 + 1).unwrap();
    let before = sheet.clone();
    assert_eq!(step(&mut sheet, CueOp::StandingBy(id), &audio(), T0 + 2).unwrap_err().code(), "invalid_state");
    step(&mut sheet, CueOp::Go(id), &chair(), T0 + 3).unwrap();
    assert_eq!(step(&mut sheet, CueOp::Go(id), &chair(), T0 + 4).unwrap_err().code(), "invalid_state");
    step(&mut sheet, CueOp::Done(id), &audio(), T0 + 5).unwrap();
    assert_eq!(step(&mut sheet, CueOp::Done(id), &audio(), T0 + 6).unwrap_err().code(), "invalid_state");
    assert_ne!(before, sheet);
}

#[test]
fn done_before_go_is_refused() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    assert_eq!(step(&mut sheet, CueOp::Done(id), &audio(), T0).unwrap_err().code(), "invalid_state");
}

#[test]
fn a_cue_for_a_position_nobody_watches_is_still_a_valid_cue() {
    // Whether a screen is watching is known to the hub, which warns the sender; the cue itself
    // stands, so that a screen that connects late shows it.
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Lighting));
    assert_eq!(sheet.cues[0].id, id);
    assert_eq!(sheet.cues[0].state, CueState::Standby);
}

#[test]
fn only_the_crew_answers_and_only_for_its_own_position() {
    let mut sheet = CueSheet::default();
    let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Video));
    assert_eq!(step(&mut sheet, CueOp::StandingBy(id), &chair(), T0).unwrap_err().code(), "forbidden");
    assert_eq!(step(&mut sheet, CueOp::StandingBy(id), &audio(), T0).unwrap_err().code(), "forbidden");
    let all_positions = actor("stage manager", Role::Av, vec![]);
    step(&mut sheet, CueOp::StandingBy(id), &all_positions, T0).unwrap();
}

#[test]
fn attendees_and_speakers_cannot_call_cues() {
    let sheet = CueSheet::default();
    for role in [Role::Attendee, Role::Speaker, Role::Display] {
        let op = CueOp::Standby {
            target: CueTarget::Position(CrewPosition::Audio),
            text: Localized::same("x"),
            preset: None,
            segment: None,
            speaker: None,
        };
        assert_eq!(sheet.apply(op, &actor("x", role, vec![]), T0).unwrap_err().code(), "forbidden");
    }
}

#[test]
fn av_staff_may_call_cues_too() {
    let mut sheet = CueSheet::default();
    let op = CueOp::Standby {
        target: CueTarget::Person { person: "Lu Ming".into() },
        text: Localized::same("Slides for Lu Ming"),
        preset: None,
        segment: None,
        speaker: Some(1),
    };
    let cue = step(&mut sheet, op, &audio(), T0).unwrap();
    assert_eq!(cue.target.position(), None, "a person's cue shows on every screen");
}

#[test]
fn old_closed_cues_are_forgotten_but_open_ones_kept() {
    let mut sheet = CueSheet::default();
    let open = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    for _ in 0..KEEP_CLOSED + 10 {
        let id = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
        step(&mut sheet, CueOp::Cancel(id), &chair(), T0).unwrap();
    }
    assert_eq!(sheet.cues.len(), KEEP_CLOSED + 1);
    assert!(sheet.cues.iter().any(|c| c.id == open));
    let next = standby(&mut sheet, CueTarget::Position(CrewPosition::Audio));
    assert_eq!(next, KEEP_CLOSED as u64 + 12, "ids keep counting");
}

fn standby_in(sheet: &mut CueSheet, segment: Option<usize>) -> u64 {
    let op = CueOp::Standby {
        target: CueTarget::Position(CrewPosition::Video),
        text: Localized::same("Slides"),
        preset: None,
        segment,
        speaker: None,
    };
    step(sheet, op, &chair(), T0).unwrap().id
}

#[test]
fn a_segments_end_closes_its_cues_still_standing_by_and_says_why() {
    let mut sheet = CueSheet::default();
    let waiting = standby_in(&mut sheet, Some(0));
    let answered = standby_in(&mut sheet, Some(0));
    step(&mut sheet, CueOp::StandingBy(answered), &actor("video", Role::Av, vec![]), T0 + 1).unwrap();
    let gone = standby_in(&mut sheet, Some(0));
    step(&mut sheet, CueOp::Go(gone), &chair(), T0 + 2).unwrap();
    standby_in(&mut sheet, Some(1));
    standby_in(&mut sheet, None);

    let closed = sheet.segment_ended(0, &chair(), T0 + 60_000);
    assert_eq!(closed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![waiting, answered]);
    for cue in &closed {
        assert_eq!(cue.state, CueState::Cancelled);
        assert_eq!(cue.reason, Some(CancelReason::SegmentEnded));
        assert_eq!(cue.cancelled, Some(Step { at: T0 + 60_000, by: "Ji Weidong".into() }));
        assert_eq!(cue.segment, Some(0), "a closed cue still says where it belonged");
    }
    assert!(sheet.segment_ended(2, &chair(), T0).is_empty(), "a segment without cues closes none");
}

#[test]
fn a_cue_gone_go_or_without_a_segment_carries_on_when_a_segment_ends() {
    let mut sheet = CueSheet::default();
    let gone = standby_in(&mut sheet, Some(0));
    step(&mut sheet, CueOp::Go(gone), &chair(), T0 + 1).unwrap();
    standby_in(&mut sheet, None);
    standby_in(&mut sheet, Some(1));
    assert!(sheet.segment_ended(0, &chair(), T0 + 2).is_empty(), "the crew still confirms the GO done");
}

#[test]
fn a_cue_cancelled_by_hand_has_no_reason() {
    let mut sheet = CueSheet::default();
    let id = standby_in(&mut sheet, Some(0));
    let cue = step(&mut sheet, CueOp::Cancel(id), &chair(), T0 + 1).unwrap();
    assert_eq!((cue.state, cue.reason), (CueState::Cancelled, None));
    assert!(sheet.segment_ended(0, &chair(), T0 + 2).is_empty(), "a closed cue closes once");
}
