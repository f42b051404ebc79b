use std::sync::Arc;

use super::automation::Escape;
use super::cues::{CrewPosition, SignalKind};
use super::live::{timing, LiveState, Phase};
use super::queue::{EntryState, Queue, QueueEntry, RequestKind};
use super::show::{EventInfo, RunOfShow, Segment, SegmentKind, Speaker};
use super::text::{Lang, Localized, Mode};
use super::*;

const MIN: Millis = 60_000;
const T0: Millis = 1_641_258_000_000;

fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

fn speaker(name: &str, minutes: Option<Millis>) -> Speaker {
    Speaker {
        id: slug(name),
        lang: None,
        name: Localized::same(name),
        affiliation: None,
        topic: None,
        mode: None,
        duration_ms: minutes.map(|m| m * MIN),
    }
}

fn segment(id: &str, start_min: Millis, minutes: Millis, speakers: Vec<Speaker>) -> Segment {
    Segment {
        id: id.to_owned(),
        kind: SegmentKind::Keynote,
        title: Localized::same(id),
        chair: None,
        speakers,
        planned_start: T0 + start_min * MIN,
        duration_ms: minutes * MIN,
        speaking_limit_ms: None,
        warning_ms: 120_000,
        danger_ms: 30_000,
        cues: vec![],
        interpretation: vec![],
        av_notes: String::new(),
        join_url: None,
    }
}

/// Opening 10 min (two speakers), keynotes 20 min (two timed speakers), closing 5 min.
fn forum() -> EventState {
    EventState::new(forum_show())
}

fn forum_show() -> RunOfShow {
    RunOfShow {
        event: EventInfo {
            id: "forum".into(),
            title: Localized::same("Forum"),
            venue: Localized::same("Hall"),
            time_zone: "Asia/Shanghai".into(),
            languages: vec![Lang::Zh, Lang::Ja, Lang::En],
            hybrid: true,
            planned_start: T0,
            planned_end: T0 + 35 * MIN,
            standby_alert_ms: 10_000,
        },
        segments: vec![
            segment("opening", 0, 10, vec![speaker("Zhou Cheng", None), speaker("Hideki Akamatsu", None)]),
            segment("keynotes", 10, 20, vec![speaker("Zhang Ying", Some(8)), speaker("Lu Ming", Some(12))]),
            segment("closing", 30, 5, vec![]),
        ],
        cue_presets: vec![],
        automations: vec![],
    }
}

fn moderator() -> Actor {
    Actor {
        participant: "p-mod".into(),
        name: "Ji Weidong".into(),
        role: Role::Moderator,
        mode: Mode::InRoom,
        lang: Lang::Zh,
        affiliation: None,
        crew: vec![],
    }
}

/// Applies a command as the moderator against the current version.
fn run(state: &mut EventState, make: impl Fn(u64) -> Command, now: Millis) -> Result<Vec<Change>, Rejection> {
    let version = state.live.version;
    state.apply(&make(version), &moderator(), now)
}

fn next(version: u64) -> Command {
    Command::Next { version }
}

fn started() -> EventState {
    let mut state = forum();
    run(&mut state, next, T0).unwrap();
    state
}

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

fn attendee(participant: &str) -> Actor {
    Actor {
        participant: participant.into(),
        name: participant.into(),
        role: Role::Attendee,
        mode: Mode::Remote,
        lang: Lang::Ja,
        affiliation: None,
        crew: vec![],
    }
}

#[test]
fn every_segment_has_a_queue_and_the_event_has_one_more() {
    let state = forum();
    let names: Vec<&str> = state.queues.keys().map(String::as_str).collect();
    assert_eq!(names, ["closing", "event", "keynotes", "opening"]);
}

#[test]
fn only_the_chair_runs_a_queue_and_crew_screens_cannot_ask() {
    let mut state = forum();
    let ask = Command::QueueRequest { queue: "event".into(), kind: Default::default(), topic: Some("Q".into()) };
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
    let ask = Command::QueueRequest { queue: "keynotes".into(), kind: Default::default(), topic: None };
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
    let ask = Command::QueueRequest { queue: "lunch".into(), kind: Default::default(), topic: None };
    assert_eq!(state.apply(&ask, &attendee("a"), T0).unwrap_err().code(), "invalid_field");
    let settings = |s| Command::QueueSettings {
        queue: "event".into(),
        version: 0,
        policy: None,
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: Some(s),
        carry_over: None,
    };
    assert_eq!(state.apply(&settings(5), &moderator(), T0).unwrap_err().code(), "invalid_field");
    state.apply(&settings(120), &moderator(), T0).unwrap();
    assert_eq!(state.queues["event"].speaking_limit_ms, Some(120_000));
}

#[test]
fn replaying_queue_changes_rebuilds_the_queues() {
    let mut state = forum();
    let mut log = Vec::new();
    let ask = Command::QueueRequest { queue: "event".into(), kind: Default::default(), topic: Some("Q".into()) };
    log.extend(state.apply(&ask, &attendee("a"), T0).unwrap());
    log.extend(state.apply(&Command::QueueNext { queue: "event".into(), version: 0 }, &moderator(), T0).unwrap());
    let mut replayed = forum();
    log.iter().for_each(|c| replayed.evolve(c));
    assert_eq!(replayed, state);
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

fn undo(version: u64) -> Command {
    Command::Undo { version }
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

fn ask(state: &mut EventState, queue: &str, participant: &str, now: Millis) {
    let request = Command::QueueRequest { queue: queue.into(), kind: RequestKind::Speak, topic: None };
    state.apply(&request, &attendee(participant), now).unwrap();
}

fn queue_next(state: &mut EventState, queue: &str, now: Millis) {
    let version = state.queues[queue].version;
    state.apply(&Command::QueueNext { queue: queue.into(), version }, &moderator(), now).unwrap();
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
    };
    state.apply(&settings, &moderator(), T0).unwrap();
}

/// The opening running, with a speaking, b on deck, c and d waiting in its queue.
fn opening_with_requests() -> EventState {
    let mut state = started();
    for (k, who) in ["a", "b", "c", "d"].into_iter().enumerate() {
        ask(&mut state, "opening", who, T0 + k as Millis * 1000);
    }
    queue_next(&mut state, "opening", T0 + MIN);
    state
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

fn signal(state: &mut EventState, pinned: Option<bool>, speaker: Option<usize>) -> Result<Vec<Change>, Rejection> {
    let command = Command::StageSignal { signal: SignalKind::WrapUp, text: None, pinned, speaker };
    state.apply(&command, &moderator(), T0 + MIN)
}

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

/// Applies a plan edit as the moderator against the current plan version.
fn edit(state: &mut EventState, make: impl Fn(u64) -> Command, now: Millis) -> Result<Vec<Change>, Rejection> {
    let version = state.plan_version;
    state.apply(&make(version), &moderator(), now)
}

/// Edits the fields of `segment` that `set` sets, against the current plan version.
fn edit_segment(
    state: &mut EventState,
    segment: &str,
    set: impl Fn(&mut plan::UpdateSegment),
    now: Millis,
) -> Result<Vec<Change>, Rejection> {
    edit(
        state,
        |v| {
            let mut update = update(segment)(v);
            set(&mut update);
            Command::PlanUpdateSegment(Box::new(update))
        },
        now,
    )
}

fn ids(state: &EventState) -> Vec<&str> {
    state.show.segments.iter().map(|s| s.id.as_str()).collect()
}

fn update(segment: &str) -> impl Fn(u64) -> plan::UpdateSegment + '_ {
    move |plan_version| plan::UpdateSegment {
        plan_version,
        segment: segment.into(),
        kind: None,
        title: None,
        chair: None,
        speakers: None,
        duration_min: None,
        av_notes: None,
        warning_s: None,
        danger_s: None,
        speaking_limit_min: None,
        join_url: None,
        cues: None,
        interpretation: None,
    }
}

fn add_break(after: Option<&str>) -> impl Fn(u64) -> Command + '_ {
    move |plan_version| {
        Command::PlanAddSegment(Box::new(plan::AddSegment {
            plan_version,
            after: after.map(String::from),
            new_segment: None,
            kind: SegmentKind::Break,
            title: Localized::same("Tea"),
            duration_min: 15,
        }))
    }
}

fn remove(segment: &str) -> impl Fn(u64) -> Command + '_ {
    move |plan_version| Command::PlanRemoveSegment { plan_version, segment: segment.into() }
}

fn move_after<'a>(segment: &'a str, after: Option<&'a str>) -> impl Fn(u64) -> Command + 'a {
    move |plan_version| Command::PlanMoveSegment {
        plan_version,
        segment: segment.into(),
        after: after.map(String::from),
    }
}

fn planned_starts(state: &EventState) -> Vec<Millis> {
    state.show.segments.iter().map(|s| (s.planned_start - T0) / MIN).collect()
}

#[test]
fn adding_a_segment_places_it_gives_it_an_id_and_a_queue_and_retimes_the_day() {
    let mut state = forum();
    let changes = edit(&mut state, add_break(Some("opening")), T0).unwrap();
    assert_eq!(ids(&state), ["opening", "break-2", "keynotes", "closing"]);
    assert_eq!(planned_starts(&state), [0, 10, 25, 45]);
    assert_eq!(state.show.event.planned_end, T0 + 50 * MIN);
    assert_eq!(state.plan_version, 1);
    assert!(state.queues.contains_key("break-2"));
    assert!(matches!(&changes[0], Change::Plan { op, plan_version: 1, .. } if op == "plan_add_segment"));
    edit(&mut state, add_break(None), T0).unwrap();
    assert_eq!(ids(&state)[0], "break-3");
}

#[test]
fn new_segment_ids_are_checked_like_the_event_files() {
    let mut state = forum();
    for id in ["keynotes", "event", "has space", ""] {
        let command =
            Command::PlanDuplicateSegment { plan_version: 0, segment: "opening".into(), new_segment: Some(id.into()) };
        assert_eq!(state.apply(&command, &moderator(), T0).unwrap_err().code(), "invalid_field", "{id:?}");
    }
    let command = Command::PlanDuplicateSegment { plan_version: 0, segment: "opening".into(), new_segment: None };
    state.apply(&command, &moderator(), T0).unwrap();
    assert_eq!(ids(&state), ["opening", "opening-2", "keynotes", "closing"]);
    let names = |k: usize| state.show.segments[k].speakers.iter().map(|p| p.name.en.clone()).collect::<Vec<_>>();
    assert_eq!(names(1), names(0));
    let copies: Vec<&str> = state.show.segments[1].speakers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(copies, ["opening-2-1", "opening-2-2"], "the copy's slots are other speakers");
}

#[test]
fn a_stale_plan_version_is_a_conflict_and_changes_nothing() {
    let mut state = forum();
    edit(&mut state, add_break(None), T0).unwrap();
    let before = state.clone();
    let err = state.apply(&add_break(None)(0), &moderator(), T0).unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(state, before);
}

#[test]
fn only_moderators_and_organizers_edit_the_plan() {
    for role in [Role::Attendee, Role::Speaker, Role::Av, Role::Display] {
        let mut state = forum();
        let actor = Actor { role, ..moderator() };
        let err = state.apply(&remove("closing")(0), &actor, T0).unwrap_err();
        assert_eq!(err.code(), "forbidden", "{role:?}");
    }
    let mut state = forum();
    let organizer = Actor { role: Role::Organizer, ..moderator() };
    state.apply(&remove("closing")(0), &organizer, T0).unwrap();
}

#[test]
fn editing_the_live_segments_duration_moves_its_countdown_and_the_days_end_at_once() {
    let mut state = started();
    let now = T0 + 4 * MIN;
    assert_eq!(timing(&state.show, &state.live, now).remaining_ms, 6 * MIN);
    let changes = edit_segment(
        &mut state,
        "opening",
        |u| {
            u.duration_min = Some(20);
        },
        now,
    )
    .unwrap();
    assert_eq!(changes.len(), 1, "the show itself does not move");
    let after = timing(&state.show, &state.live, now);
    assert_eq!(after.remaining_ms, 16 * MIN);
    assert_eq!(planned_starts(&state), [0, 20, 40]);
    assert_eq!(after.drift_ms, 0, "the plan moved with the projection");
    assert_eq!(after.projected_end, T0 + 45 * MIN);
}

#[test]
fn moving_the_segments_to_come_keeps_the_show_on_the_live_one_and_its_speaker() {
    let mut state = started();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + MIN).unwrap();
    let version = state.live.version;
    edit(&mut state, move_after("closing", Some("opening")), T0 + 2 * MIN).unwrap();
    assert_eq!(ids(&state), ["opening", "closing", "keynotes"]);
    assert_eq!((state.live.segment, state.live.speaker), (Some(0), Some(1)));
    assert_eq!(state.live.version, version, "nothing moved under the show");
}

#[test]
fn the_running_and_the_finished_segments_stay_where_they_are() {
    let mut state = started();
    run(&mut state, next, T0 + MIN).unwrap();
    let before = (state.show.clone(), state.plan_version, state.live.clone());
    // The running keynotes above the finished opening; the finished opening after the keynotes.
    for op in
        [move_after("keynotes", None), move_after("opening", Some("keynotes")), move_after("opening", Some("closing"))]
    {
        let err = edit(&mut state, op, T0 + 2 * MIN).unwrap_err();
        assert_eq!(err.code(), "invalid_state", "{err:?}");
    }
    // Nothing to come may go among what has run, where `next` would never reach it.
    let err = edit(&mut state, move_after("closing", None), T0 + 2 * MIN).unwrap_err();
    assert!(format!("{err:?}").contains("already run"), "{err:?}");
    let err = edit(&mut state, add_break(Some("opening")), T0 + 2 * MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    let err =
        edit(&mut state, |plan_version| Command::PlanRemoveSegment { plan_version, segment: "opening".into() }, T0)
            .unwrap_err();
    assert!(format!("{err:?}").contains("has run"), "{err:?}");
    assert_eq!((state.show.clone(), state.plan_version, state.live.clone()), before, "nothing changed");
    // After the running segment anything goes.
    edit(&mut state, add_break(Some("keynotes")), T0 + 3 * MIN).unwrap();
    edit(&mut state, move_after("closing", Some("keynotes")), T0 + 3 * MIN).unwrap();
    assert_eq!(ids(&state)[..2], ["opening", "keynotes"]);
}

#[test]
fn a_skipped_segment_can_still_be_moved_on_after_the_live_one() {
    let mut state = started();
    run(&mut state, |version| Command::Goto { version, segment: "closing".into() }, T0 + MIN).unwrap();
    edit(&mut state, move_after("keynotes", Some("closing")), T0 + 2 * MIN).unwrap();
    assert_eq!(ids(&state), ["opening", "closing", "keynotes"]);
    run(&mut state, next, T0 + 3 * MIN).unwrap();
    assert_eq!(state.show.segments[state.live.segment.unwrap()].id, "keynotes", "the skipped one runs next");
}

#[test]
fn the_live_segment_cannot_be_removed_but_the_next_one_can() {
    let mut state = started();
    let before = state.clone();
    assert_eq!(edit(&mut state, remove("opening"), T0).unwrap_err().code(), "invalid_state");
    assert_eq!(state, before);
    edit(&mut state, remove("keynotes"), T0 + MIN).unwrap();
    assert_eq!(ids(&state), ["opening", "closing"]);
    assert_eq!(state.live.segment, Some(0));
    run(&mut state, next, T0 + 2 * MIN).unwrap();
    assert_eq!(state.show.segments[state.live.segment.unwrap()].id, "closing", "next up is the one after");
    assert_eq!(planned_starts(&state), [0, 10]);
}

#[test]
fn removing_a_segment_expires_its_waiting_requests_and_drops_its_queue() {
    let mut state = started();
    let attendee = Actor { role: Role::Attendee, participant: "p-a".into(), ..moderator() };
    let request = Command::QueueRequest { queue: "keynotes".into(), kind: queue::RequestKind::Speak, topic: None };
    state.apply(&request, &attendee, T0).unwrap();
    let changes = edit(&mut state, remove("keynotes"), T0 + MIN).unwrap();
    let Change::Queue { queue, closed, .. } = &changes[0] else { panic!("{changes:?}") };
    assert_eq!(queue, "keynotes");
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].state, EntryState::Expired);
    assert!(!state.queues.contains_key("keynotes"));
}

#[test]
fn the_speaking_speaker_cannot_be_removed_and_the_others_can_be_reordered() {
    let mut state = started();
    let speakers = |names: &[&str]| {
        names
            .iter()
            .map(|n| plan::SpeakerInput {
                id: Some(slug(n)),
                lang: None,
                name: Localized::same(n),
                affiliation: None,
                topic: None,
                mode: None,
                minutes: Some(5),
            })
            .collect::<Vec<_>>()
    };
    let only = speakers(&["Hideki Akamatsu"]);
    let err = edit_segment(
        &mut state,
        "opening",
        |u| {
            u.speakers = Some(only.clone());
        },
        T0,
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    let swapped = speakers(&["Hideki Akamatsu", "Zhou Cheng"]);
    edit_segment(
        &mut state,
        "opening",
        |u| {
            u.speakers = Some(swapped.clone());
        },
        T0,
    )
    .unwrap();
    assert_eq!(state.live.speaker, Some(1), "Zhou Cheng still speaks");
}

#[test]
fn a_stage_message_for_one_speaker_follows_them_when_the_speakers_are_reordered() {
    let mut state = started();
    let signal = Command::StageSignal { signal: SignalKind::WrapUp, text: None, pinned: None, speaker: Some(0) };
    state.apply(&signal, &moderator(), T0).unwrap();
    let swapped = ["Hideki Akamatsu", "Zhou Cheng"]
        .map(|n| plan::SpeakerInput {
            id: Some(slug(n)),
            lang: None,
            name: Localized::same(n),
            affiliation: None,
            topic: None,
            mode: None,
            minutes: None,
        })
        .to_vec();
    let changes = edit_segment(
        &mut state,
        "opening",
        |u| {
            u.speakers = Some(swapped.clone());
        },
        T0,
    )
    .unwrap();
    assert!(matches!(changes.last(), Some(Change::Stage { .. })));
    assert_eq!(state.stage.as_ref().and_then(|m| m.speaker), Some(1));
}

#[test]
fn a_cues_segment_follows_a_move_and_is_forgotten_with_a_removal() {
    let mut state = forum();
    let standby = Command::CueStandby {
        target: Some(cues::CueTarget::Position(CrewPosition::Video)),
        text: Some(Localized::same("slides")),
        preset: None,
        segment: Some("keynotes".into()),
        speaker: None,
    };
    state.apply(&standby, &moderator(), T0).unwrap();
    edit(&mut state, move_after("keynotes", None), T0).unwrap();
    assert_eq!(state.cues.cues[0].segment, Some(0));
    edit(&mut state, remove("keynotes"), T0).unwrap();
    assert_eq!(state.cues.cues[0].segment, None);
}

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

#[test]
fn segment_fields_go_through_the_text_policy() {
    let mut state = forum();
    let long = plan::LocalizedEdit { ja: Some("あ".repeat(201)), ..Default::default() };
    let err = edit_segment(
        &mut state,
        "opening",
        |u| {
            u.title = Some(long.clone());
        },
        T0,
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    let ja = plan::LocalizedEdit { ja: Some("  開会\u{200b}式 ".into()), ..Default::default() };
    edit_segment(
        &mut state,
        "opening",
        |u| {
            u.title = Some(ja.clone());
            u.av_notes = Some("mic 2".into());
        },
        T0,
    )
    .unwrap();
    assert_eq!(state.show.segments[0].title.ja, "開会式");
    assert_eq!(state.show.segments[0].title.en, "opening", "the other languages stay");
    assert_eq!(state.show.segments[0].av_notes, "mic 2");
}

#[test]
fn updating_the_event_start_moves_every_planned_start() {
    let mut state = forum();
    let command = Command::PlanUpdateEvent(Box::new(plan::UpdateEvent {
        plan_version: 0,
        title: None,
        venue: Some(plan::LocalizedEdit { en: Some("Room B".into()), ..Default::default() }),
        start: Some("09:30".into()),
        date: None,
        time_zone: None,
    }));
    let nine = state.show.event.planned_start;
    state.apply(&command, &moderator(), T0).unwrap();
    assert_eq!(state.show.event.venue.en, "Room B");
    assert_eq!(state.show.segments[1].planned_start, state.show.event.planned_start + 10 * MIN);
    assert_ne!(state.show.event.planned_start, nine);
}

#[test]
fn plan_undo_restores_the_previous_plan_under_a_new_version() {
    let mut state = forum();
    let original = state.show.clone();
    edit(&mut state, remove("keynotes"), T0).unwrap();
    edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap();
    assert_eq!(state.show, original);
    assert_eq!(state.plan_version, 2);
    assert!(state.queues.contains_key("keynotes"), "the queue is back, empty");
    let err = edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
}

#[test]
fn plan_changes_replay_to_the_same_state() {
    let mut state = started();
    let mut replayed = state.clone();
    let mut log = Vec::new();
    log.extend(edit(&mut state, add_break(Some("keynotes")), T0).unwrap());
    log.extend(edit(&mut state, move_after("closing", Some("break-2")), T0).unwrap());
    log.extend(edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap());
    let log: Vec<Change> = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
    log.iter().for_each(|change| replayed.evolve(change));
    assert_eq!(replayed, state);
}

fn speaker_input(id: Option<&str>, name: &str) -> plan::SpeakerInput {
    plan::SpeakerInput {
        id: id.map(str::to_owned),
        name: Localized::same(name),
        affiliation: None,
        topic: None,
        mode: None,
        lang: Some(Lang::Ja),
        minutes: None,
    }
}

#[test]
fn a_renamed_speaker_keeps_their_id_and_goes_on_speaking() {
    let mut state = started();
    run(&mut state, |version| Command::NextSpeaker { version }, T0 + MIN).unwrap();
    let renamed =
        vec![speaker_input(Some("zhou-cheng"), "Zhou Cheng"), speaker_input(Some("hideki-akamatsu"), "赤松秀樹")];
    edit_segment(&mut state, "opening", |u| u.speakers = Some(renamed.clone()), T0 + MIN).unwrap();
    assert_eq!(state.live.speaker, Some(1));
    assert_eq!(state.show.segments[0].speakers[1].name.en, "赤松秀樹");
    assert_eq!(state.show.segments[0].speakers[1].lang, Some(Lang::Ja));
    let added = vec![
        speaker_input(Some("zhou-cheng"), "Zhou Cheng"),
        speaker_input(Some("hideki-akamatsu"), "赤松秀樹"),
        speaker_input(None, "Mei Lin"),
    ];
    edit_segment(&mut state, "opening", |u| u.speakers = Some(added.clone()), T0 + MIN).unwrap();
    assert_eq!(state.show.segments[0].speakers[2].id, "opening-1", "a new speaker gets a fresh id");
}

#[test]
fn a_speaker_id_used_elsewhere_in_the_event_is_refused() {
    let mut state = forum();
    let keynote_speaker = state.show.segments[1].speakers[0].id.clone();
    let twice = vec![speaker_input(Some(&keynote_speaker), "Somebody")];
    let err = edit_segment(&mut state, "opening", |u| u.speakers = Some(twice.clone()), T0).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    let same = vec![speaker_input(Some("x"), "A"), speaker_input(Some("x"), "B")];
    let err = edit_segment(&mut state, "opening", |u| u.speakers = Some(same.clone()), T0).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
}

#[test]
fn planned_cues_are_edited_with_presets_resolved_and_texts_cleaned() {
    let mut state = forum();
    state.show = Arc::new(RunOfShow {
        cue_presets: vec![show::CuePreset {
            id: "walk-in".into(),
            target: cues::CueTarget::Position(CrewPosition::Audio),
            text: Localized::same("Walk-in music"),
        }],
        ..(*state.show).clone()
    });
    let cues = vec![
        plan::CueInput { target: None, text: None, preset: Some("walk-in".into()) },
        plan::CueInput {
            target: Some(cues::CueTarget::Position(CrewPosition::Video)),
            text: Some(Localized::same("Slides\u{202e} up")),
            preset: None,
        },
    ];
    edit_segment(&mut state, "keynotes", |u| u.cues = Some(cues.clone()), T0).unwrap();
    let planned = &state.show.segments[1].cues;
    assert_eq!(planned[0].text.en, "Walk-in music");
    assert_eq!(planned[0].target, cues::CueTarget::Position(CrewPosition::Audio));
    assert_eq!(planned[1].text.en, "Slides up");
    let unknown = vec![plan::CueInput { target: None, text: None, preset: Some("fog".into()) }];
    let err = edit_segment(&mut state, "keynotes", |u| u.cues = Some(unknown.clone()), T0).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
}

fn replace(plan: RunOfShow, force: bool) -> impl Fn(u64) -> Command {
    move |plan_version| Command::PlanReplace { plan_version, plan: Box::new(plan.clone()), force }
}

#[test]
fn a_whole_plan_replaces_the_segments_keeps_the_event_and_can_be_undone() {
    let mut state = forum();
    let original = state.show.clone();
    let mut new = (*state.show).clone();
    new.event.title = Localized::same("Taken\u{200b} from an import");
    new.event.languages = vec![Lang::En];
    new.segments.swap(0, 2);
    new.segments[2].speakers[0].id = String::new();
    edit(&mut state, replace(new, false), T0).unwrap();
    assert_eq!(ids(&state), ["closing", "keynotes", "opening"]);
    assert_eq!(state.show.event.title.en, "Taken from an import");
    assert_eq!(state.show.event.languages, original.event.languages, "an import keeps the languages");
    assert_eq!(state.show.segments[0].planned_start, original.event.planned_start);
    assert_eq!(state.show.segments[2].speakers[0].id, "opening-1", "a speaker without an id gets one");
    edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap();
    assert_eq!(state.show, original);
}

#[test]
fn a_whole_plan_is_refused_while_live_unless_forced_and_never_without_the_live_segment() {
    let mut state = started();
    let mut new = (*state.show).clone();
    new.segments[1..].reverse();
    let err = edit(&mut state, replace(new.clone(), false), T0 + MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
    edit(&mut state, replace(new, true), T0 + MIN).unwrap();
    assert_eq!(state.show.segments[state.live.segment.unwrap()].id, "opening", "the show stays where it is");
    let mut reversed = (*state.show).clone();
    reversed.segments.reverse();
    let err = edit(&mut state, replace(reversed, true), T0 + MIN).unwrap_err();
    assert!(format!("{err:?}").contains("already run"), "nothing to come goes before the live segment: {err:?}");
    let mut without = (*state.show).clone();
    without.segments.retain(|s| s.id != "opening");
    let err = edit(&mut state, replace(without, true), T0 + MIN).unwrap_err();
    assert_eq!(err.code(), "invalid_state");
}

#[test]
fn a_whole_plan_is_checked_as_edits_are() {
    let mut state = forum();
    let mut bad = (*state.show).clone();
    bad.segments[1].id = "opening".into();
    assert_eq!(edit(&mut state, replace(bad, false), T0).unwrap_err().code(), "invalid_field");
    let mut bad = (*state.show).clone();
    bad.segments[1].title.ja = "\u{200b}".into();
    assert_eq!(edit(&mut state, replace(bad, false), T0).unwrap_err().code(), "invalid_field");
    let mut bad = (*state.show).clone();
    bad.segments[1].duration_ms = 90_500;
    assert_eq!(edit(&mut state, replace(bad, false), T0).unwrap_err().code(), "invalid_field");
    assert_eq!(state.plan_version, 0);
}

#[test]
fn removing_a_segment_that_carries_over_moves_its_requests_to_the_one_that_follows() {
    let mut state = started();
    let version = state.queues["keynotes"].version;
    let settings = Command::QueueSettings {
        queue: "keynotes".into(),
        version,
        policy: None,
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: None,
        carry_over: Some(true),
    };
    state.apply(&settings, &moderator(), T0).unwrap();
    for who in ["p-a", "p-b"] {
        let attendee = Actor { role: Role::Attendee, participant: who.into(), ..moderator() };
        let request = Command::QueueRequest { queue: "keynotes".into(), kind: queue::RequestKind::Speak, topic: None };
        state.apply(&request, &attendee, T0).unwrap();
    }
    let changes = edit(&mut state, remove("keynotes"), T0 + MIN).unwrap();
    let Change::Queue { queue, closed, .. } = &changes[0] else { panic!("{changes:?}") };
    assert_eq!((queue.as_str(), closed.len()), ("keynotes", 0), "nothing expires");
    let Change::Queue { queue, state: closing, .. } = &changes[1] else { panic!("{changes:?}") };
    assert_eq!(queue, "closing");
    let waiting: Vec<&str> = closing.waiting.iter().map(|e| e.participant.as_str()).collect();
    assert_eq!(waiting, ["p-a", "p-b"], "in their order");
    assert_eq!(state.queues["closing"].waiting.len(), 2);
}

fn triggers(old: &EventState, new: &EventState) -> Vec<automation::Trigger> {
    automation::fired(old, new).into_iter().map(|f| f.trigger).collect()
}

#[test]
fn automations_see_segments_start_and_end_speakers_holds_cues_and_the_end() {
    use automation::Trigger::*;
    let standby = forum();
    let live = started();
    assert_eq!(triggers(&standby, &live), [SegmentStart, SpeakerStart]);
    let mut state = live.clone();
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    assert_eq!(triggers(&live, &state), [Hold]);
    let held = state.clone();
    run(&mut state, |version| Command::Resume { version }, T0 + 2 * MIN).unwrap();
    assert_eq!(triggers(&held, &state), [Resume]);
    let before = state.clone();
    run(&mut state, next, T0 + 3 * MIN).unwrap();
    assert_eq!(triggers(&before, &state), [SegmentEnd, SegmentStart, SpeakerStart]);
    let fired = automation::fired(&before, &state);
    assert_eq!((fired[0].segment, fired[1].segment), (Some(0), Some(1)));
    let standby = Command::CueStandby {
        target: Some(cues::CueTarget::Position(CrewPosition::Lighting)),
        text: Some(Localized::same("house down")),
        preset: None,
        segment: None,
        speaker: None,
    };
    state.apply(&standby, &moderator(), T0 + 4 * MIN).unwrap();
    let before = state.clone();
    let id = state.cues.cues[0].id;
    state.apply(&Command::CueGo { cue: id }, &moderator(), T0 + 4 * MIN).unwrap();
    let fired = automation::fired(&before, &state);
    assert_eq!((fired[0].trigger, fired[0].cue), (CueGo, Some(id)));
    let before = state.clone();
    run(&mut state, |version| Command::End { version }, T0 + 5 * MIN).unwrap();
    assert_eq!(triggers(&before, &state), [SegmentEnd, ShowEnd]);
}

#[test]
fn thresholds_ahead_count_down_from_the_live_segment_and_stand_still_while_held() {
    use automation::Trigger::*;
    let mut state = started();
    // Opening: 10 minutes, amber at 2:00 left, red at 0:30.
    let ahead = automation::thresholds_ahead(&state, T0 + MIN);
    assert_eq!(ahead, [(Warning, T0 + 8 * MIN), (Danger, T0 + 10 * MIN - 30_000), (Overrun, T0 + 10 * MIN)]);
    assert_eq!(
        automation::thresholds_ahead(&state, T0 + 9 * MIN),
        [(Danger, T0 + 10 * MIN - 30_000), (Overrun, T0 + 10 * MIN)]
    );
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    assert!(automation::thresholds_ahead(&state, T0 + 2 * MIN).is_empty());
    run(&mut state, |version| Command::Resume { version }, T0 + 3 * MIN).unwrap();
    assert_eq!(automation::thresholds_ahead(&state, T0 + 3 * MIN)[0], (Warning, T0 + 10 * MIN), "two minutes later");
}

fn osc_automation(trigger: automation::Trigger) -> automation::Automation {
    automation::Automation {
        trigger,
        segments: vec![],
        kinds: vec![],
        targets: vec![],
        osc: Some(automation::OscOutput {
            host: "127.0.0.1".into(),
            port: 53000,
            address: "/cue/{{segment.number}}/start".into(),
            args: vec![],
        }),
        http: None,
    }
}

#[test]
fn automations_match_by_trigger_segment_kind_and_cue_target() {
    let state = started();
    let firing = automation::fired(&forum(), &state).remove(0);
    let mut a = osc_automation(automation::Trigger::SegmentStart);
    assert!(a.matches(&firing, &state));
    a.segments = vec!["keynotes".into()];
    assert!(!a.matches(&firing, &state));
    a.segments = vec![];
    a.kinds = vec![SegmentKind::Keynote];
    assert!(a.matches(&firing, &state), "the test forum's segments are keynotes");
    a.kinds = vec![SegmentKind::Panel];
    assert!(!a.matches(&firing, &state));
    assert!(!osc_automation(automation::Trigger::SegmentEnd).matches(&firing, &state));
}

#[test]
fn automations_are_checked_and_only_the_organizer_edits_them() {
    let mut state = forum();
    let mut bad = osc_automation(automation::Trigger::Warning);
    bad.osc = None;
    let organizer = Actor { role: Role::Organizer, ..moderator() };
    let command = |automations| Command::PlanUpdateAutomations { plan_version: 0, automations };
    assert_eq!(state.apply(&command(vec![bad]), &organizer, T0).unwrap_err().code(), "invalid_field");
    let mut targeted = osc_automation(automation::Trigger::Warning);
    targeted.targets = vec![CrewPosition::Audio];
    assert_eq!(state.apply(&command(vec![targeted]), &organizer, T0).unwrap_err().code(), "invalid_field");
    let good = vec![osc_automation(automation::Trigger::SegmentStart)];
    assert_eq!(state.apply(&command(good.clone()), &moderator(), T0).unwrap_err().code(), "forbidden");
    state.apply(&command(good.clone()), &organizer, T0).unwrap();
    assert_eq!(state.show.automations, good);
    edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap();
    assert!(state.show.automations.is_empty(), "plan undo covers automations");
}

#[test]
fn clocks_read_as_a_key_shows_them() {
    use super::live::{clock_text, remaining_text};
    assert_eq!(clock_text(0), "00:00");
    assert_eq!(clock_text(59_999), "00:59");
    assert_eq!(clock_text(-65_000), "-01:05");
    assert_eq!(clock_text(3_723_000), "1:02:03");
    assert_eq!(remaining_text(59_001), "01:00", "a countdown rounds up");
    assert_eq!(remaining_text(-400), "00:00");
}

#[test]
fn templates_name_the_segment_speaker_cue_and_clock_of_a_firing() {
    let state = started();
    let firing = automation::fired(&forum(), &state).remove(0);
    let at = T0 + MIN + 500;
    let text = automation::render(
        "/cue/{{segment.number}}/start {{ segment.id }} {{trigger}} {{remaining}} {{elapsed}} {{speaker.name}}",
        Escape::Plain,
        &firing,
        &state,
        at,
    );
    let first = &state.show.segments[0];
    let speaker = first.speakers[0].name.get(Lang::En);
    assert_eq!(text, format!("/cue/1/start {} segment_start 09:00 01:00 {speaker}", first.id));
    assert_eq!(
        automation::render("{{segment.title.ja}}", Escape::Plain, &firing, &state, at),
        first.title.get(Lang::Ja)
    );
    assert_eq!(automation::render("{{next.id}}", Escape::Plain, &firing, &state, at), state.show.segments[1].id);
    for unknown in ["{{nope}}", "{{segment.title.fr}}", "{{cue.id}}", "open {{ no end"] {
        assert_eq!(automation::render(unknown, Escape::Plain, &firing, &state, at), unknown, "left as written");
    }
}

#[test]
fn a_value_in_a_url_is_percent_encoded_and_in_a_json_body_escaped() {
    let mut state = started();
    let mut show = (*state.show).clone();
    show.segments[0].title.en = "x?delete=all#/../admin \"quoted\" 日本".into();
    state.show = std::sync::Arc::new(show);
    let firing = automation::fired(&forum(), &state).remove(0);
    let url = automation::render("http://desk/hook?title={{segment.title}}", Escape::Url, &firing, &state, T0);
    assert_eq!(url, "http://desk/hook?title=x%3Fdelete%3Dall%23%2F..%2Fadmin%20%22quoted%22%20%E6%97%A5%E6%9C%AC");
    let body = automation::render(r#"{"t": "{{segment.title}}"}"#, Escape::Json, &firing, &state, T0);
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("still JSON");
    assert_eq!(parsed["t"], "x?delete=all#/../admin \"quoted\" 日本");
    assert_eq!(Escape::for_body(Some("application/json; charset=utf-8")), Escape::Json);
    assert_eq!(Escape::for_body(None), Escape::Plain);
}

#[test]
fn automation_urls_with_a_user_or_a_templated_host_are_refused() {
    let http = |url: &str| automation::Automation {
        trigger: automation::Trigger::SegmentStart,
        segments: Vec::new(),
        kinds: Vec::new(),
        targets: Vec::new(),
        osc: None,
        http: Some(automation::HttpOutput { method: "GET".into(), url: url.into(), body: None, content_type: None }),
    };
    for bad in ["http://admin:pw@desk/hook", "http://user@desk/", "http://{{segment.id}}.local/x", "http:///path"] {
        assert!(automation::checked(&[http(bad)]).is_err(), "{bad}");
    }
    assert!(automation::checked(&[http("http://10.0.0.4:8080/hook?s={{segment.id}}")]).is_ok());
}

#[test]
fn destinations_refuse_link_local_unless_listed_and_keep_to_the_list() {
    use automation::Destinations;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let open = Destinations::parse(&[]).unwrap();
    assert!(open.allows("desk", ip("10.0.0.4")) && open.allows("localhost", ip("127.0.0.1")));
    assert!(!open.allows("metadata", ip("169.254.169.254")));
    assert!(!open.allows("x", ip("::ffff:169.254.169.254")), "an IPv4-mapped address is the same address");
    assert!(!open.allows("x", ip("fe80::1")));
    let listed = Destinations::parse(&["10.0.0.0/8".into(), "qlab.local".into(), "169.254.10.0/24".into()]).unwrap();
    assert!(listed.allows("anything", ip("10.200.1.1")));
    assert!(listed.allows("QLab.local", ip("192.168.1.9")), "a listed host name, whatever it resolves to");
    assert!(!listed.allows("other", ip("192.168.1.9")));
    assert!(!listed.allows("qlab.local", ip("169.254.169.254")), "link-local only where a network lists it");
    assert!(listed.allows("x", ip("169.254.10.7")));
    for bad in ["10.0.0.0/33", "not a host", "", "::1/200"] {
        assert!(Destinations::parse(&[bad.into()]).is_err(), "{bad}");
    }
}

#[test]
fn a_caption_track_takes_the_next_seq_ignores_the_last_and_places_lines_in_the_live_segment() {
    use super::captions::{CaptionError, Taken, Track, TrackState};
    let state = started();
    let mut track = TrackState::default();
    let Ok(Taken::Line(first)) = track.take(Track::Ja, 1, " 皆さん\n こんにちは ", true, &state, T0) else {
        panic!("the first line is seq 1")
    };
    assert_eq!(first.text, "皆さん こんにちは", "one text policy");
    assert_eq!(first.segment.as_deref(), Some(state.show.segments[0].id.as_str()));
    assert_eq!(first.speaker.as_ref().map(|s| s.id.as_str()), Some(state.show.segments[0].speakers[0].id.as_str()));
    track.keep(first);
    assert_eq!(track.take(Track::Ja, 1, "again", true, &state, T0), Ok(Taken::Repeated));
    assert_eq!(
        track.take(Track::Ja, 3, "gap", true, &state, T0),
        Err(CaptionError::OutOfOrder { got: 3, expected: 2 })
    );
    assert!(matches!(track.take(Track::Ja, 2, "", true, &state, T0), Err(CaptionError::Text(_))));
    for seq in 2..=30 {
        let Ok(Taken::Line(line)) = track.take(Track::Ja, seq, "x", true, &state, T0) else { panic!("{seq}") };
        track.keep(line);
    }
    assert_eq!((track.last, track.recent.len()), (30, super::captions::RECENT_LINES));
    assert_eq!(track.recent.front().map(|l| l.seq), Some(11));
}

#[test]
fn a_caption_line_names_whoever_speaks_from_the_live_segments_queue() {
    use super::captions::{Taken, Track, TrackState};
    let mut state = opening_with_requests();
    let speaking = state.queues["opening"].speaking.clone().unwrap();
    let line = |state: &EventState| match TrackState::default().take(Track::En, 1, "Thank you", true, state, T0) {
        Ok(Taken::Line(line)) => line.speaker.unwrap(),
        other => panic!("{other:?}"),
    };
    let from_queue = line(&state);
    assert_eq!(from_queue.id, format!("queue:opening:{}", speaking.id), "names the queue entry, not the participant");
    assert_eq!(from_queue.name, Localized::same(&speaking.name));

    let version = state.queues["opening"].version;
    state.apply(&Command::QueueStop { queue: "opening".into(), version }, &moderator(), T0 + 2 * MIN).unwrap();
    assert_eq!(line(&state).id, state.show.segments[0].speakers[0].id, "the floor is the programme speaker's again");
}

#[test]
fn a_caption_line_after_the_end_names_whoever_speaks_from_the_events_queue() {
    use super::captions::{Taken, Track, TrackState};
    let mut state = started();
    run(&mut state, |version| Command::End { version }, T0 + MIN).unwrap();
    let take = |state: &EventState| match TrackState::default().take(Track::Zh, 1, "谢谢", true, state, T0 + 2 * MIN)
    {
        Ok(Taken::Line(line)) => (line.segment, line.speaker),
        other => panic!("{other:?}"),
    };
    assert_eq!(take(&state), (None, None));
    ask(&mut state, "event", "q", T0 + 2 * MIN);
    queue_next(&mut state, "event", T0 + 2 * MIN);
    let (_, speaker) = take(&state);
    assert!(speaker.is_some_and(|s| s.id.starts_with("queue:event:")));
}

#[test]
fn transcript_cues_last_until_the_next_line_within_bounds() {
    use super::captions::{srt, Line, Track};
    let state = started();
    let line = |seq, at| Line {
        track: Track::En,
        seq,
        text: format!("line {seq}"),
        at,
        segment: None,
        speaker: None,
        is_final: true,
    };
    let lines = [line(1, T0), line(2, T0 + 200), line(3, T0 + 3_000), line(4, T0 + 60_000)];
    let text = srt(&lines, &state);
    let timings: Vec<&str> = text.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(
        timings,
        [
            "00:00:00,000 --> 00:00:01,000",
            "00:00:00,200 --> 00:00:03,000",
            "00:00:03,000 --> 00:00:10,000",
            "00:01:00,000 --> 00:01:07,000",
        ],
        "at least 1 s, at most 7 s, else until the next line"
    );
}

#[test]
fn interpretation_channels_are_edited_whole_and_checked() {
    use super::show::Channel;
    let mut state = forum();
    let segment = state.show.segments[0].id.clone();
    let channel =
        |channel, from, to, url: Option<&str>| Channel { channel, from, to, listen_url: url.map(str::to_owned) };
    let with = |channels: Vec<Channel>| {
        let segment = segment.clone();
        move |plan_version| {
            let mut fields = update(&segment)(plan_version);
            fields.interpretation = Some(channels.clone());
            Command::PlanUpdateSegment(Box::new(fields))
        }
    };
    let good = vec![
        channel(1, Lang::Ja, Lang::Zh, Some("https://listen.example.org/zh")),
        channel(2, Lang::Zh, Lang::Ja, None),
    ];
    edit(&mut state, with(good.clone()), T0).unwrap();
    assert_eq!(state.show.segments[0].interpretation, good);
    for bad in [
        vec![channel(0, Lang::Ja, Lang::Zh, None)],
        vec![channel(1, Lang::Ja, Lang::Zh, None), channel(1, Lang::Zh, Lang::Ja, None)],
        vec![channel(3, Lang::Ja, Lang::Ja, None)],
        vec![channel(4, Lang::Ja, Lang::En, Some("ftp://listen.example.org"))],
    ] {
        assert_eq!(edit(&mut state, with(bad.clone()), T0).unwrap_err().code(), "invalid_field", "{bad:?}");
    }
    edit(&mut state, with(vec![]), T0).unwrap();
    assert!(state.show.segments[0].interpretation.is_empty());
}
