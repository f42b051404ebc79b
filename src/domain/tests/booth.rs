//! The booth's stage controls and side timers.

use super::*;
use crate::domain::booth::{TimerDef, TimerDirection};

fn av() -> Actor {
    Actor { role: Role::Av, name: "Fukuda".into(), participant: "p-av".into(), ..moderator() }
}

fn timer(id: &str, direction: TimerDirection, seconds: Option<i32>) -> Command {
    Command::TimerCreate(Box::new(TimerDef {
        timer: Some(id.into()),
        name: "Break ends in".into(),
        direction,
        seconds: seconds.map(Into::into),
        stage: None,
        cues: Some(false),
        start: false,
    }))
}

fn by(state: &mut EventState, actor: &Actor, command: Command, now: Millis) -> Result<Vec<Change>, Rejection> {
    state.apply(&command, actor, now)
}

#[test]
fn a_count_down_runs_pauses_gains_time_and_resets_to_its_plan() {
    let mut state = forum();
    let changes = by(&mut state, &av(), timer("break", TimerDirection::Down, Some(600)), T0).unwrap();
    assert!(matches!(&changes[..], [Change::Timers { op, .. }] if op == "timer_create"));
    let start = Command::TimerStart { timer: "break".into() };
    by(&mut state, &moderator(), start.clone(), T0).unwrap();
    let t = &state.timers.timers[0];
    assert_eq!((t.stage, t.cues, t.shown_at(T0 + MIN)), (true, false, 9 * MIN));
    assert!(matches!(by(&mut state, &moderator(), start, T0), Err(Rejection::InvalidState(_))), "a second start");

    by(&mut state, &moderator(), Command::TimerPause { timer: "break".into() }, T0 + 2 * MIN).unwrap();
    assert_eq!(state.timers.timers[0].shown_at(T0 + 5 * MIN), 8 * MIN, "paused, it stands still");
    let plus = Command::TimerAdjust { timer: "break".into(), seconds: 60.into() };
    by(&mut state, &moderator(), plus, T0 + 3 * MIN).unwrap();
    assert_eq!(state.timers.timers[0].shown_at(T0 + 3 * MIN), 9 * MIN);
    by(&mut state, &moderator(), Command::TimerStart { timer: "break".into() }, T0 + 3 * MIN).unwrap();
    assert_eq!(state.timers.timers[0].shown_at(T0 + 13 * MIN), -MIN, "over, it counts on below zero");

    by(&mut state, &moderator(), Command::TimerReset { timer: "break".into() }, T0 + 14 * MIN).unwrap();
    let t = &state.timers.timers[0];
    assert_eq!((t.running_since, t.shown_at(T0 + 20 * MIN)), (None, 10 * MIN), "back to its plan, stopped");
}

#[test]
fn a_count_up_counts_from_zero_and_its_adjustment_moves_what_it_counted() {
    let mut state = forum();
    by(&mut state, &moderator(), timer("link", TimerDirection::Up, None), T0).unwrap();
    by(&mut state, &moderator(), Command::TimerStart { timer: "link".into() }, T0).unwrap();
    let minus = Command::TimerAdjust { timer: "link".into(), seconds: (-90).into() };
    by(&mut state, &moderator(), minus, T0 + MIN).unwrap();
    assert_eq!(state.timers.timers[0].shown_at(T0 + MIN), 0, "never below zero");
    assert_eq!(state.timers.timers[0].shown_at(T0 + 2 * MIN), MIN, "and running on");
}

#[test]
fn timers_are_refused_to_the_audience_and_bad_definitions_change_nothing() {
    let mut state = forum();
    let refused = by(&mut state, &attendee("a"), timer("x", TimerDirection::Down, Some(60)), T0);
    assert!(matches!(refused, Err(Rejection::Forbidden(_))));
    for bad in [
        timer("has space", TimerDirection::Down, Some(60)),
        timer("x", TimerDirection::Down, None),
        timer("x", TimerDirection::Down, Some(0)),
        timer("x", TimerDirection::Down, Some(90_000)),
        Command::TimerStart { timer: "missing".into() },
        Command::TimerAdjust { timer: "x".into(), seconds: 0.into() },
    ] {
        assert!(matches!(by(&mut state, &moderator(), bad, T0), Err(Rejection::InvalidField(_))));
    }
    by(&mut state, &moderator(), timer("x", TimerDirection::Down, Some(60)), T0).unwrap();
    let again = by(&mut state, &moderator(), timer("x", TimerDirection::Up, None), T0);
    assert!(matches!(again, Err(Rejection::InvalidField(_))), "ids are unique");
    assert_eq!(state.timers.timers.len(), 1);
}

#[test]
fn generated_timer_ids_are_never_given_twice() {
    let mut state = forum();
    let unnamed = || {
        Command::TimerCreate(Box::new(TimerDef {
            timer: None,
            name: "Q&A".into(),
            direction: TimerDirection::Up,
            seconds: None,
            stage: None,
            cues: None,
            start: true,
        }))
    };
    by(&mut state, &moderator(), unnamed(), T0).unwrap();
    by(&mut state, &moderator(), Command::TimerRemove { timer: "timer-1".into() }, T0).unwrap();
    by(&mut state, &moderator(), unnamed(), T0).unwrap();
    let t = &state.timers.timers[..];
    assert_eq!((t.len(), t[0].id.as_str(), t[0].running_since), (1, "timer-2", Some(T0)));
}

#[test]
fn blackout_on_air_flash_and_full_screen_message() {
    let mut state = started();
    let changes = by(&mut state, &av(), Command::StageBlackout { on: true }, T0).unwrap();
    assert!(matches!(&changes[..], [Change::Screen { op, screen }] if op == "stage_blackout" && screen.blackout));
    let twice = by(&mut state, &moderator(), Command::StageBlackout { on: true }, T0);
    assert!(matches!(twice, Err(Rejection::InvalidState(_))), "a late second press changes nothing");
    by(&mut state, &moderator(), Command::StageOnAir { on: true }, T0).unwrap();
    by(&mut state, &moderator(), Command::StageFlash {}, T0 + 5).unwrap();
    let message = Command::StageFullscreen { text: "  Lunch\u{3000}break ".into(), seconds: Some(30.into()) };
    by(&mut state, &moderator(), message, T0 + 10).unwrap();
    let screen = &state.screen;
    assert!(screen.blackout && screen.on_air);
    assert_eq!(screen.flash_at, Some(T0 + 5));
    let shown = screen.fullscreen.as_ref().unwrap();
    assert_eq!((shown.text.as_str(), shown.until, shown.by.as_str()), ("Lunch break", Some(T0 + 30_010), "Ji Weidong"));

    by(&mut state, &moderator(), Command::StageFullscreenClear {}, T0 + 20).unwrap();
    let again = by(&mut state, &moderator(), Command::StageFullscreenClear {}, T0 + 20);
    assert!(matches!(again, Err(Rejection::InvalidState(_))));
    let speaker = Actor { role: Role::Speaker, ..attendee("s") };
    assert!(matches!(by(&mut state, &speaker, Command::StageFlash {}, T0), Err(Rejection::Forbidden(_))));
    let empty = Command::StageFullscreen { text: "\u{200b} ".into(), seconds: None };
    assert!(matches!(by(&mut state, &moderator(), empty, T0), Err(Rejection::InvalidField(_))));
    run(&mut state, next, T0 + MIN).unwrap();
    assert!(state.screen.blackout && state.screen.on_air, "the screen's controls outlast the segment");
}

#[test]
fn booth_changes_replay_to_the_same_state() {
    let mut state = forum();
    let mut changes = by(&mut state, &av(), timer("break", TimerDirection::Down, Some(600)), T0).unwrap();
    changes.extend(by(&mut state, &av(), Command::StageOnAir { on: true }, T0).unwrap());
    let mut replayed = forum();
    changes.iter().for_each(|change| replayed.evolve(change));
    assert_eq!(replayed, state);
}

#[test]
fn a_crew_note_stands_until_the_chair_reads_it_and_only_the_chair_and_its_sender_see_it() {
    let mut state = started();
    let preset = Command::NoteSend { preset: Some("mic-dead".into()), text: None };
    let changes = by(&mut state, &av(), preset, T0).unwrap();
    let [Change::Note { op, note }] = &changes[..] else { panic!("one note change: {changes:?}") };
    assert_eq!((op.as_str(), note.id, note.text.en.as_str(), note.read.as_ref()), ("note_send", 1, "Mic dead", None));
    let typed = Command::NoteSend { preset: None, text: Some("  need 2\u{200b} minutes ".into()) };
    let speaker = Actor { role: Role::Speaker, ..attendee("green-room") };
    by(&mut state, &speaker, typed, T0 + 1).unwrap();
    assert_eq!(state.notes.notes[1].text.ja, "need 2 minutes", "typed text goes through the text policy");

    for bad in [
        Command::NoteSend { preset: Some("nope".into()), text: None },
        Command::NoteSend { preset: None, text: None },
        Command::NoteSend { preset: Some("mic-dead".into()), text: Some("both".into()) },
        Command::NoteSend { preset: None, text: Some("\u{200b}".into()) },
    ] {
        assert!(matches!(by(&mut state, &av(), bad, T0), Err(Rejection::InvalidField(_))));
    }
    let refused = by(&mut state, &attendee("a"), Command::NoteSend { preset: None, text: Some("hi".into()) }, T0);
    assert!(matches!(refused, Err(Rejection::Forbidden(_))));
    assert!(matches!(by(&mut state, &av(), Command::NoteRead { note: 1 }, T0), Err(Rejection::Forbidden(_))));

    let read = by(&mut state, &moderator(), Command::NoteRead { note: 1 }, T0 + 5).unwrap();
    assert!(matches!(&read[..], [Change::Note { note, .. }] if note.read.as_ref().is_some_and(|r| r.at == T0 + 5)));
    let again = by(&mut state, &moderator(), Command::NoteRead { note: 1 }, T0 + 6);
    assert!(matches!(again, Err(Rejection::InvalidState(_))));
    assert!(matches!(by(&mut state, &moderator(), Command::NoteRead { note: 9 }, T0), Err(Rejection::InvalidField(_))));
}

#[test]
fn read_notes_beyond_the_kept_ones_are_forgotten_unread_ones_never() {
    let mut state = forum();
    let send = || Command::NoteSend { preset: Some("mic-dead".into()), text: None };
    for k in 0..(crate::domain::notes::KEEP_READ as i64 + 5) {
        by(&mut state, &av(), send(), T0 + k).unwrap();
        let id = state.notes.next_id;
        by(&mut state, &moderator(), Command::NoteRead { note: id }, T0 + k).unwrap();
    }
    by(&mut state, &av(), send(), T0 + 100).unwrap();
    let notes = &state.notes.notes;
    assert_eq!(notes.len(), crate::domain::notes::KEEP_READ + 1);
    assert!(notes.last().is_some_and(|n| n.read.is_none()), "the unread note stays");
}

#[test]
fn short_links_are_a_plan_edit_checked_like_the_event_file() {
    use crate::domain::screens::ShortLink;
    let mut state = forum();
    let link = |id: &str, page: &str| ShortLink {
        id: id.into(),
        page: page.into(),
        name: Some(" Lectern ".into()),
        view: Default::default(),
    };
    let edit = |links| Command::PlanUpdateShortLinks { plan_version: 0, short_links: links };
    let changes = by(&mut state, &moderator(), edit(vec![link("lectern", "stage")]), T0).unwrap();
    assert!(matches!(&changes[..], [Change::Plan { op, .. }] if op == "plan_update_short_links"));
    assert_eq!(state.show.short_links[0].name.as_deref(), Some("Lectern"));
    let refused = by(
        &mut state,
        &moderator(),
        Command::PlanUpdateShortLinks { plan_version: 1, short_links: vec![link("x", "console")] },
        T0,
    );
    assert!(matches!(refused, Err(Rejection::InvalidField(_))));
    let twice =
        Command::PlanUpdateShortLinks { plan_version: 1, short_links: vec![link("a", "stage"), link("a", "cues")] };
    assert!(matches!(by(&mut state, &moderator(), twice, T0), Err(Rejection::InvalidField(_))));
    assert!(matches!(
        by(&mut state, &av(), Command::PlanUpdateShortLinks { plan_version: 1, short_links: vec![] }, T0),
        Err(Rejection::Forbidden(_))
    ));
}
