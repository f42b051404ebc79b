//! Moving the show: next, previous, goto, speakers, hold, extend, end, undo, the clocks,
//! conflicts and who may move it.

use super::*;

#[test]
fn next_from_standby_starts_the_first_segment_with_its_first_speaker() {
    let state = started();
    assert_eq!(state.live.phase, Phase::Live);
    assert_eq!(state.live.segment, Some(0));
    assert_eq!(state.live.speaker, Some(0));
    assert_eq!(state.live.segment_started_at, Some(T0));
    assert_eq!(state.live.show_started_at, Some(T0));
    assert_eq!(state.live.version, 1);
}

#[test]
fn next_moves_to_the_following_segment_and_records_the_actual_times() {
    let mut state = started();
    let changes = run(&mut state, next, T0 + 12 * MIN).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(state.live.segment, Some(1));
    assert_eq!(state.live.actual[0].ended_at, Some(T0 + 12 * MIN));
    assert_eq!(state.live.actual[1].started_at, T0 + 12 * MIN);
    assert_eq!(state.live.actual[1].ended_at, None);
}

#[test]
fn next_at_the_last_segment_is_refused_and_changes_nothing() {
    let mut state = started();
    run(&mut state, |version| Command::Goto { version, segment: "closing".into() }, T0).unwrap();
    let before = state.clone();
    let err = run(&mut state, next, T0 + MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    assert_eq!(state, before);
}

#[test]
fn a_segment_without_speakers_has_no_current_speaker() {
    let mut state = started();
    run(&mut state, |version| Command::Goto { version, segment: "closing".into() }, T0).unwrap();
    assert_eq!(state.live.speaker, None);
    assert_eq!(run(&mut state, |version| Command::NextSpeaker { version }, T0).unwrap_err().code(), "invalid_state");
}

#[test]
fn previous_goes_back_one_segment_and_restarts_its_timer() {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::Previous { version }, T0 + 11 * MIN).unwrap();
    assert_eq!(state.live.segment, Some(0));
    assert_eq!(state.live.segment_started_at, Some(T0 + 11 * MIN));
}

#[test]
fn previous_at_the_first_segment_and_in_standby_is_refused() {
    let mut state = forum();
    assert_eq!(run(&mut state, |version| Command::Previous { version }, T0).unwrap_err().code(), "invalid_state");
    let mut state = started();
    assert_eq!(run(&mut state, |version| Command::Previous { version }, T0).unwrap_err().code(), "invalid_state");
}

#[test]
fn goto_jumps_to_any_segment_and_unknown_ids_are_invalid_fields() {
    let mut state = forum();
    run(&mut state, |version| Command::Goto { version, segment: "keynotes".into() }, T0).unwrap();
    assert_eq!(state.live.segment, Some(1));
    let err = run(&mut state, |version| Command::Goto { version, segment: "lunch".into() }, T0).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
}

#[test]
fn next_speaker_walks_the_speakers_and_stops_at_the_last() {
    let mut state = started();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 4 * MIN).unwrap();
    assert_eq!(state.live.speaker, Some(1));
    assert_eq!(state.live.speaker_started_at, Some(T0 + 4 * MIN));
    let err = run(&mut state, |version| Command::NextSpeaker { version }, T0 + 5 * MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
}

#[test]
fn goto_speaker_checks_the_index() {
    let mut state = started();
    run(&mut state, |version| Command::GotoSpeaker { version, speaker: 1 }, T0).unwrap();
    assert_eq!(state.live.speaker, Some(1));
    let err = run(&mut state, |version| Command::GotoSpeaker { version, speaker: 2 }, T0).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
}

#[test]
fn hold_and_resume_pause_the_timers() {
    let mut state = started();
    run(&mut state, |version| Command::Hold { version }, T0 + 2 * MIN).unwrap();
    let held = timing(&state.show, &state.live, T0 + 7 * MIN);
    assert_eq!(held.elapsed_ms, 2 * MIN, "the clock stands still on hold");
    run(&mut state, |version| Command::Resume { version }, T0 + 7 * MIN).unwrap();
    assert_eq!(state.live.segment_paused_ms, 5 * MIN);
    let resumed = timing(&state.show, &state.live, T0 + 8 * MIN);
    assert_eq!(resumed.elapsed_ms, 3 * MIN);
    assert_eq!(resumed.remaining_ms, 7 * MIN);
}

#[test]
fn hold_twice_and_resume_without_hold_are_refused() {
    let mut state = started();
    assert_eq!(run(&mut state, |version| Command::Resume { version }, T0).unwrap_err().code(), "invalid_state");
    run(&mut state, |version| Command::Hold { version }, T0).unwrap();
    let before = state.clone();
    assert_eq!(run(&mut state, |version| Command::Hold { version }, T0).unwrap_err().code(), "invalid_state");
    assert_eq!(state, before);
}

#[test]
fn hold_in_standby_is_refused() {
    let mut state = forum();
    assert_eq!(run(&mut state, |version| Command::Hold { version }, T0).unwrap_err().code(), "invalid_state");
}

#[test]
fn moving_on_releases_a_hold() {
    let mut state = started();
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 3 * MIN).unwrap();
    assert_eq!(state.live.held_since, None);
    assert_eq!(state.live.segment_paused_ms, 2 * MIN);
    assert_eq!(timing(&state.show, &state.live, T0 + 4 * MIN).speaker_elapsed_ms, Some(MIN));
    run(&mut state, |version| Command::Hold { version }, T0 + 4 * MIN).unwrap();
    run(&mut state, next, T0 + 5 * MIN).unwrap();
    assert_eq!(state.live.held_since, None);
    assert_eq!(state.live.segment_paused_ms, 0);
}

#[test]
fn extend_adds_planned_time_and_cannot_go_below_zero() {
    let mut state = started();
    run(&mut state, |version| Command::Extend { version, seconds: 120.into() }, T0).unwrap();
    assert_eq!(timing(&state.show, &state.live, T0 + MIN).remaining_ms, 11 * MIN);
    let err = run(&mut state, |version| Command::Extend { version, seconds: (-3600).into() }, T0).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    for seconds in [0.0, 0.0009, -1e-105, 3600.0001, -3600.0001, 1e300, -1e300] {
        let seconds = Seconds::parse(seconds).unwrap();
        let err = run(&mut state, |version| Command::Extend { version, seconds }, T0).unwrap_err();
        assert_eq!(err.code(), "invalid_field", "{seconds:?}");
    }
    let half = Seconds::parse(30.5).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: half }, T0).unwrap();
    assert_eq!(timing(&state.show, &state.live, T0 + MIN).remaining_ms, 11 * MIN + 30_500);
    assert_eq!(Seconds::parse(f64::NAN), None);
    let least = Seconds::parse(-0.001).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: least }, T0).unwrap();
    assert_eq!(timing(&state.show, &state.live, T0 + MIN).remaining_ms, 11 * MIN + 30_499);
}

#[test]
fn end_closes_the_day_and_previous_reopens_the_last_segment() {
    let mut state = started();
    run(&mut state, |version| Command::End { version }, T0 + 30 * MIN).unwrap();
    assert_eq!(state.live.phase, Phase::Ended);
    assert_eq!(state.live.ended_at, Some(T0 + 30 * MIN));
    assert_eq!(state.live.actual[0].ended_at, Some(T0 + 30 * MIN));
    assert_eq!(run(&mut state, next, T0 + 31 * MIN).unwrap_err().code(), "invalid_state");
    assert_eq!(run(&mut state, |version| Command::End { version }, T0).unwrap_err().code(), "invalid_state");
    run(&mut state, |version| Command::Previous { version }, T0 + 32 * MIN).unwrap();
    assert_eq!(state.live.segment, Some(2));
    assert_eq!(state.live.phase, Phase::Live);
    assert_eq!(state.live.ended_at, None);
}

#[test]
fn remaining_time_turns_into_overrun() {
    let state = started();
    let on_time = timing(&state.show, &state.live, T0 + 4 * MIN);
    assert_eq!((on_time.remaining_ms, on_time.overrun_ms()), (6 * MIN, 0));
    let late = timing(&state.show, &state.live, T0 + 13 * MIN);
    assert_eq!((late.remaining_ms, late.overrun_ms()), (-3 * MIN, 3 * MIN));
}

#[test]
fn a_timed_speaker_has_their_own_countdown() {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    let t = timing(&state.show, &state.live, T0 + 19 * MIN);
    assert_eq!(t.speaker_elapsed_ms, Some(9 * MIN));
    assert_eq!(t.speaker_remaining_ms, Some(-MIN));
}

#[test]
fn drift_is_zero_on_plan_and_follows_a_late_start_and_an_overrun() {
    let state = started();
    let on_plan = timing(&state.show, &state.live, T0 + 5 * MIN);
    assert_eq!(on_plan.drift_ms, 0);
    assert_eq!(on_plan.projected_end, T0 + 35 * MIN);

    let mut late = forum();
    run(&mut late, next, T0 + 4 * MIN).unwrap();
    assert_eq!(timing(&late.show, &late.live, T0 + 5 * MIN).drift_ms, 4 * MIN);
    // An overrun pushes the day back minute for minute.
    assert_eq!(timing(&late.show, &late.live, T0 + 16 * MIN).drift_ms, 6 * MIN);
}

#[test]
fn finishing_early_puts_the_day_ahead_of_plan() {
    let mut state = started();
    run(&mut state, next, T0 + 6 * MIN).unwrap();
    let t = timing(&state.show, &state.live, T0 + 6 * MIN);
    assert_eq!(t.drift_ms, -4 * MIN);
    assert_eq!(t.projected_end, T0 + 31 * MIN);
}

#[test]
fn in_standby_the_projected_end_follows_the_clock_once_the_start_is_missed() {
    let state = forum();
    assert_eq!(timing(&state.show, &state.live, T0 - 10 * MIN).drift_ms, 0);
    assert_eq!(timing(&state.show, &state.live, T0 + 3 * MIN).drift_ms, 3 * MIN);
}

#[test]
fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let mut state = started();
    let stale = state.live.version;
    run(&mut state, next, T0 + MIN).unwrap();
    let before = state.clone();
    let err = state.apply(&Command::Next { version: stale }, &moderator(), T0 + MIN).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(state, before);
}

#[test]
fn only_moderators_and_organizers_move_the_show() {
    for role in Role::ALL {
        let mut state = forum();
        let actor = Actor {
            participant: "p".into(),
            name: "someone".into(),
            role,
            mode: Mode::Remote,
            lang: Lang::Ja,
            affiliation: None,
            crew: vec![],
        };
        let result = state.apply(&Command::Next { version: 0 }, &actor, T0);
        let allowed = matches!(role, Role::Moderator | Role::Organizer);
        assert_eq!(result.is_ok(), allowed, "{role:?}");
        if !allowed {
            assert_eq!(result.unwrap_err().code(), "forbidden");
            assert_eq!(state.live.version, 0);
        }
    }
}

#[test]
fn replaying_the_changes_rebuilds_the_same_state() {
    let mut state = forum();
    let mut log = Vec::new();
    log.extend(run(&mut state, next, T0).unwrap());
    log.extend(run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap());
    log.extend(run(&mut state, next, T0 + 3 * MIN).unwrap());
    let mut replayed = forum();
    log.iter().for_each(|change| replayed.evolve(change));
    assert_eq!(replayed, state);
}

#[test]
fn every_command_type_is_listed_for_the_decoder() {
    for name in Command::TYPES {
        let frame = serde_json::json!({"type": name, "version": 0, "segment": "x", "speaker": 0, "seconds": 1});
        let err = serde_json::from_value::<Command>(frame).unwrap_err().to_string();
        assert!(!err.contains("unknown variant"), "{name}: {err}");
    }
}

#[test]
fn going_back_keeps_one_record_per_segment_with_its_first_start_and_last_end() {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::Previous { version }, T0 + 12 * MIN).unwrap();
    run(&mut state, next, T0 + 15 * MIN).unwrap();
    assert_eq!(state.live.actual.len(), 2);
    assert_eq!(state.live.actual[0].started_at, T0);
    assert_eq!(state.live.actual[0].ended_at, Some(T0 + 15 * MIN));
    assert_eq!(state.live.actual[1].started_at, T0 + 10 * MIN);
    assert_eq!(state.live.actual[1].ended_at, None, "running again");
}

/// `command` at `now` from a keynote running for five minutes on hold, then `undo`: the live
/// state is back exactly as it was, under a version two higher.
fn undo_restores_what(command: impl Fn(u64) -> Command, now: Millis) {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 14 * MIN).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: 90.into() }, T0 + 14 * MIN).unwrap();
    run(&mut state, |version| Command::Hold { version }, T0 + 15 * MIN).unwrap();
    let before = state.live.clone();
    run(&mut state, &command, now).unwrap();
    let changes = run(&mut state, undo, now + MIN).unwrap();
    assert!(matches!(&changes[..], [Change::Live { op, .. }] if op == "undo"));
    assert_eq!(state.live, LiveState { version: before.version + 2, ..before });
}

#[test]
fn undo_after_next_restores_the_segment_and_speaker_with_their_times() {
    undo_restores_what(next, T0 + 16 * MIN);
}

#[test]
fn undo_after_goto_restores_the_segment_that_was_running() {
    undo_restores_what(|version| Command::Goto { version, segment: "opening".into() }, T0 + 16 * MIN);
}

#[test]
fn undo_after_resume_puts_the_hold_back() {
    undo_restores_what(|version| Command::Resume { version }, T0 + 16 * MIN);
}

#[test]
fn undo_after_extend_takes_the_extension_back() {
    let mut state = started();
    let before = state.live.clone();
    run(&mut state, |version| Command::Extend { version, seconds: 300.into() }, T0 + MIN).unwrap();
    run(&mut state, undo, T0 + 2 * MIN).unwrap();
    assert_eq!(state.live, LiveState { version: before.version + 2, ..before });
}

#[test]
fn undo_after_hold_lets_the_clock_run_as_if_never_held() {
    let mut state = started();
    let before = state.live.clone();
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    run(&mut state, undo, T0 + 2 * MIN).unwrap();
    assert_eq!(state.live, LiveState { version: before.version + 2, ..before });
    assert_eq!(timing(&state.show, &state.live, T0 + 3 * MIN).elapsed_ms, 3 * MIN);
}

#[test]
fn undo_after_end_reopens_the_day_where_it_stood() {
    undo_restores_what(|version| Command::End { version }, T0 + 16 * MIN);
    let mut state = started();
    run(&mut state, |version| Command::End { version }, T0 + 9 * MIN).unwrap();
    run(&mut state, undo, T0 + 10 * MIN).unwrap();
    assert_eq!((state.live.phase, state.live.segment, state.live.ended_at), (Phase::Live, Some(0), None));
    assert_eq!(state.live.actual[0].ended_at, None);
}

#[test]
fn undo_walks_back_through_the_last_thirty_two_show_commands() {
    let mut state = started();
    let mut seen = vec![state.live.clone()];
    for k in 0..40 {
        run(&mut state, |version| Command::Extend { version, seconds: (60 + k).into() }, T0 + MIN).unwrap();
        seen.push(state.live.clone());
    }
    seen.pop();
    assert_eq!(state.live.undo_depth(), live::UNDO_DEPTH);
    for _ in 0..live::UNDO_DEPTH {
        let version = state.live.version;
        run(&mut state, undo, T0 + 2 * MIN).unwrap();
        assert_eq!(state.live.extended_ms, seen.pop().unwrap().extended_ms);
        assert_eq!(state.live.version, version + 1, "versions only grow");
    }
    let oldest_kept = state.live.extended_ms;
    assert_eq!(run(&mut state, undo, T0 + 3 * MIN).unwrap_err().code(), "invalid_state");
    assert_eq!(state.live.extended_ms, oldest_kept);
}

#[test]
fn undo_of_an_undo_walks_further_back_instead_of_redoing() {
    let mut state = started();
    run(&mut state, next, T0 + MIN).unwrap();
    run(&mut state, undo, T0 + 2 * MIN).unwrap();
    assert_eq!(state.live.segment, Some(0));
    run(&mut state, undo, T0 + 2 * MIN).unwrap();
    assert_eq!(state.live.phase, Phase::Standby);
    assert_eq!(state.live.version, 4);
}

#[test]
fn undo_with_nothing_to_undo_is_an_invalid_state() {
    let mut state = forum();
    assert_eq!(run(&mut state, undo, T0).unwrap_err().code(), "invalid_state");
    assert_eq!(state, forum());
}

#[test]
fn a_stale_undo_is_a_conflict_and_changes_nothing() {
    let mut state = started();
    let stale = state.live.version;
    run(&mut state, next, T0 + MIN).unwrap();
    let before = state.clone();
    assert_eq!(state.apply(&undo(stale), &moderator(), T0 + MIN).unwrap_err().code(), "conflict");
    assert_eq!(state, before);
}

#[test]
fn an_attendee_may_not_undo() {
    let mut state = started();
    let before = state.clone();
    let err = state.apply(&undo(state.live.version), &attendee("p-1"), T0 + MIN).unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert_eq!(state, before);
}

#[test]
fn replaying_the_log_rebuilds_the_undo_history() {
    let mut state = forum();
    let mut log = Vec::new();
    log.extend(run(&mut state, next, T0).unwrap());
    log.extend(run(&mut state, next, T0 + MIN).unwrap());
    log.extend(run(&mut state, undo, T0 + 2 * MIN).unwrap());
    let mut replayed = forum();
    log.iter().for_each(|change| replayed.evolve(change));
    assert_eq!(replayed, state);
    run(&mut replayed, undo, T0 + 3 * MIN).unwrap();
    assert_eq!(replayed.live.phase, Phase::Standby);
}

#[test]
fn extend_with_a_planned_speaker_slot_moves_the_speakers_clock_and_the_segments() {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: 120.into() }, T0 + 11 * MIN).unwrap();
    let t = timing(&state.show, &state.live, T0 + 12 * MIN);
    assert_eq!(t.speaker_remaining_ms, Some(8 * MIN), "8 planned + 2 given - 2 spoken");
    assert_eq!(t.remaining_ms, 20 * MIN);
    assert_eq!((state.live.speaker_extended_ms, state.live.extended_ms), (2 * MIN, 2 * MIN));
    let err =
        run(&mut state, |version| Command::Extend { version, seconds: (-601).into() }, T0 + 12 * MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state", "the slot cannot go below zero");
}

#[test]
fn the_next_speaker_starts_with_their_own_slot_unextended() {
    let mut state = started();
    run(&mut state, next, T0 + 10 * MIN).unwrap();
    run(&mut state, |version| Command::Extend { version, seconds: 120.into() }, T0 + 11 * MIN).unwrap();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + 20 * MIN).unwrap();
    assert_eq!(state.live.speaker_extended_ms, 0);
    assert_eq!(state.live.extended_ms, 2 * MIN, "the segment keeps its extension");
    assert_eq!(timing(&state.show, &state.live, T0 + 20 * MIN).speaker_remaining_ms, Some(12 * MIN));
}

#[test]
fn extend_without_a_planned_speaker_slot_moves_the_segment_only() {
    let mut state = started();
    run(&mut state, |version| Command::Extend { version, seconds: 60.into() }, T0 + MIN).unwrap();
    assert_eq!((state.live.speaker_extended_ms, state.live.extended_ms), (0, MIN));
    let t = timing(&state.show, &state.live, T0 + MIN);
    assert_eq!((t.speaker_remaining_ms, t.remaining_ms), (None, 10 * MIN));
}
