//! Editing the plan while the show runs: what it changes, what it refuses, and how the
//! show, the queues, the cues and the stage follow it.

use super::*;

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
        side_budgets: None,
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
    let request =
        Command::QueueRequest { queue: "keynotes".into(), kind: queue::RequestKind::Speak, topic: None, side: None };
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
                side: None,
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
            side: None,
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
        sides: None,
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
        side: None,
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
        closed: None,
    };
    state.apply(&settings, &moderator(), T0).unwrap();
    for who in ["p-a", "p-b"] {
        let attendee = Actor { role: Role::Attendee, participant: who.into(), ..moderator() };
        let request = Command::QueueRequest {
            queue: "keynotes".into(),
            kind: queue::RequestKind::Speak,
            topic: None,
            side: None,
        };
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
