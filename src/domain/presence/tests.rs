use super::*;
use crate::domain::text::DisplayName;

const T0: Millis = 1_641_258_000_000;

fn person(participant: &str, mode: Mode, lang: Lang) -> Actor {
    Actor {
        participant: participant.into(),
        name: format!("Name {participant}"),
        role: Role::Attendee,
        mode,
        lang,
        affiliation: None,
        crew: vec![],
    }
}

fn remote(participant: &str) -> Actor {
    person(participant, Mode::Remote, Lang::Ja)
}

#[test]
fn several_tabs_are_one_person_present_until_the_last_closes() {
    let mut presence = Presence::default();
    presence.connect(&remote("tanaka"), T0);
    presence.connect(&remote("tanaka"), T0 + 5);
    assert_eq!(presence.counts().total, 1);
    let diff = presence.diff().unwrap();
    assert_eq!(diff.joined.len(), 1);
    assert_eq!(diff.joined[0].connections, 2);
    assert_eq!(diff.joined[0].since, T0);

    presence.disconnect("tanaka");
    assert!(presence.is_present("tanaka"), "one tab is still open");
    assert_eq!(presence.diff(), None, "nothing changed for anyone else");
    presence.disconnect("tanaka");
    assert!(!presence.is_present("tanaka"));
    assert_eq!(presence.diff().unwrap().left, ["tanaka"]);
}

#[test]
fn a_join_and_a_leave_within_one_interval_cancel_out() {
    let mut presence = Presence::default();
    presence.connect(&remote("flaky"), T0);
    presence.disconnect("flaky");
    assert_eq!(presence.diff(), None);

    presence.connect(&remote("steady"), T0);
    presence.diff();
    presence.disconnect("steady");
    presence.connect(&remote("steady"), T0 + 100);
    assert_eq!(presence.diff(), None, "a reconnect within the interval is no leave");
    assert!(presence.is_present("steady"));
}

#[test]
fn a_diff_coalesces_many_joins_and_leaves_into_one() {
    let mut presence = Presence::default();
    for k in 0..100 {
        presence.connect(&remote(&format!("p{k}")), T0 + k);
    }
    for k in 0..10 {
        presence.disconnect(&format!("p{k}"));
    }
    let diff = presence.diff().unwrap();
    assert_eq!(diff.joined.len(), 90);
    assert!(diff.left.is_empty(), "they joined and left within the interval");
    assert_eq!(presence.diff(), None, "a diff is taken once");
}

#[test]
fn counts_are_by_mode_and_by_language() {
    let mut presence = Presence::default();
    presence.connect(&person("a", Mode::InRoom, Lang::Zh), T0);
    presence.connect(&person("b", Mode::InRoom, Lang::Ja), T0);
    presence.connect(&person("c", Mode::Remote, Lang::Ja), T0);
    presence.connect(&person("d", Mode::Remote, Lang::En), T0);
    presence.connect(&person("d", Mode::Remote, Lang::En), T0);
    let counts = presence.counts();
    assert_eq!((counts.total, counts.in_room, counts.remote), (4, 2, 2));
    assert_eq!(counts.by_lang, ByLang { zh: 1, ja: 2, en: 1 });
    presence.disconnect("b");
    presence.disconnect("d");
    assert_eq!(presence.counts().total, 3, "d still has a tab open");
    presence.disconnect("d");
    let counts = presence.counts();
    assert_eq!((counts.total, counts.in_room, counts.remote), (2, 1, 1));
    assert_eq!(counts.by_lang, ByLang { zh: 1, ja: 1, en: 0 });
}

#[test]
fn only_speaker_tokens_count_as_speakers_here() {
    let mut presence = Presence::default();
    presence.connect(&Actor { role: Role::Speaker, ..remote("sakano") }, T0);
    presence.connect(&remote("lookalike"), T0);
    assert_eq!(presence.speaker_names().collect::<Vec<_>>(), ["Name sakano"]);
    presence.disconnect("sakano");
    assert_eq!(presence.speaker_names().count(), 0);
}

#[test]
fn a_connection_unheard_for_too_long_is_dead() {
    let mut liveness = Liveness::new(T0);
    assert!(!liveness.is_dead(T0 + DEAD_AFTER_MS));
    assert!(liveness.is_dead(T0 + DEAD_AFTER_MS + 1));
    liveness.heard(T0 + 20_000);
    assert!(!liveness.is_dead(T0 + DEAD_AFTER_MS + 1));
    liveness.heard(T0);
    assert!(liveness.is_dead(T0 + 20_000 + DEAD_AFTER_MS + 1), "an older report does not revive it");
}

#[test]
fn recent_joins_are_newest_first_bounded_and_only_those_still_here() {
    let mut presence = Presence::default();
    for k in 0..(RECENT_JOINS + 3) {
        presence.connect(&remote(&format!("p{k}")), T0 + k as Millis);
    }
    presence.disconnect(&format!("p{}", RECENT_JOINS + 2));
    let recent: Vec<&str> = presence.recent().iter().map(|p| p.participant.as_str()).collect();
    assert_eq!(recent.len(), RECENT_JOINS - 1);
    assert_eq!(recent[0], format!("p{}", RECENT_JOINS + 1));
}

fn page_names(presence: &Presence, after: Option<&Cursor>, limit: usize) -> Vec<String> {
    presence.page(after, limit).iter().map(|p| p.participant.clone()).collect()
}

#[test]
fn the_full_list_pages_by_name_from_a_cursor() {
    let mut presence = Presence::default();
    for k in 0..25 {
        presence.connect(&remote(&format!("p{k:02}")), T0);
    }
    assert!(presence.page(None, 10).is_empty(), "pages show the published state: nothing before a diff");
    presence.diff();
    let first = presence.page(None, 20);
    let last = first.last().unwrap();
    let cursor = (last.name.clone(), last.who.clone());
    assert_eq!(page_names(&presence, Some(&cursor), 10), ["p20", "p21", "p22", "p23", "p24"]);
}

#[test]
fn people_who_stay_are_on_exactly_one_page_while_others_come_and_go() {
    let mut presence = Presence::default();
    for k in 0..30 {
        presence.connect(&remote(&format!("p{k:02}")), T0);
    }
    presence.diff();
    let mut seen = page_names(&presence, None, 10);
    let cursor = |presence: &Presence, seen: &[String]| {
        let last = presence.page(None, 100).into_iter().find(|p| &p.participant == seen.last().unwrap()).unwrap();
        (last.name.clone(), last.who.clone())
    };
    let after = cursor(&presence, &seen);
    for gone in ["p03", "p12", "p13"] {
        presence.disconnect(gone);
    }
    presence.connect(&remote("p00a"), T0);
    presence.connect(&remote("p29z"), T0);
    presence.diff();
    seen.extend(page_names(&presence, Some(&after), 10));
    let after = cursor(&presence, &seen);
    seen.extend(page_names(&presence, Some(&after), 100));
    let stayed = (0..30).map(|k| format!("p{k:02}")).filter(|p| !["p03", "p12", "p13"].contains(&p.as_str()));
    for person in stayed {
        assert_eq!(seen.iter().filter(|p| **p == person).count(), 1, "{person} is on one page");
    }
    assert!(seen.contains(&"p29z".to_owned()), "a newcomer after the cursor is paged");
    assert!(!seen.contains(&"p00a".to_owned()), "one before the cursor comes in the diff instead");
}

#[test]
fn a_reconnecting_client_gets_what_changed_since_its_version_while_it_is_kept() {
    let mut presence = Presence::default();
    presence.connect(&remote("a"), T0);
    presence.connect(&remote("b"), T0);
    presence.diff();
    let seen = presence.version();
    presence.disconnect("a");
    presence.connect(&remote("c"), T0);
    presence.diff();
    presence.connect(&remote("d"), T0);
    presence.disconnect("d");
    presence.diff();
    let missed = presence.since(seen).unwrap();
    assert_eq!(missed.joined.iter().map(|p| p.participant.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(missed.left, ["a"]);
    assert_eq!(presence.since(presence.version()), Some(Diff::default()), "nothing missed");
    assert_eq!(presence.since(presence.version() + 1), None, "a version from elsewhere");
    for k in 0..KEEP_DIFFS + 1 {
        presence.connect(&remote(&format!("x{k}")), T0);
        presence.diff();
    }
    assert_eq!(presence.since(seen), None, "too old: the client reads the list again");
}

#[test]
fn speakers_are_matched_by_name_in_any_language_and_spacing() {
    let programme = BTreeMap::from([
        (match_key("Shunming Sakano"), vec![(1, 3)]),
        (match_key("坂野俊明"), vec![(1, 3)]),
        (match_key("Fukuda"), vec![(2, 0), (3, 0)]),
    ]);
    let here = ["  shunming   SAKANO ", "坂野俊明", "Fukuda", "someone else"];
    assert_eq!(speakers_present(here.into_iter(), &programme), [(1, 3), (2, 0), (3, 0)]);
}

/// The chair as the demo programme lists them, and the names a speaker-token client might
/// join with.
fn chair_here(joined_as: &str) -> Vec<(usize, usize)> {
    let programme = BTreeMap::from([(match_key("Ji Weidong"), vec![(0, usize::MAX)])]);
    let mut presence = Presence::default();
    let name = DisplayName::parse(joined_as).unwrap();
    presence.connect(&Actor { role: Role::Speaker, name: name.as_str().to_owned(), ..remote("ji") }, T0);
    speakers_present(presence.speaker_names(), &programme)
}

#[test]
fn a_name_with_zero_width_characters_never_passes_for_the_programme_chair() {
    assert_eq!(chair_here("Ji\u{200b}Wei\u{2060}dong"), []);
    assert_eq!(chair_here("\u{202e}Ji\u{200d}Wei\u{feff}dong"), []);
}

#[test]
fn a_full_width_spelling_of_the_chair_is_the_chair() {
    assert_eq!(chair_here("ＪＩ\u{3000}ＷＥＩＤＯＮＧ"), [(0, usize::MAX)]);
    assert_eq!(chair_here(" ji\u{a0}\u{a0}weidong "), [(0, usize::MAX)]);
}

#[test]
fn the_attendance_history_is_sampled_and_bounded() {
    let mut presence = Presence::default();
    presence.connect(&person("a", Mode::InRoom, Lang::Zh), T0);
    presence.connect(&remote("b"), T0);
    let sample = presence.sample(T0 + 60_000);
    assert_eq!(sample, Sample { at: T0 + 60_000, in_room: 1, remote: 1 });
    for k in 0..HISTORY_LEN {
        presence.sample(T0 + k as Millis);
    }
    assert_eq!(presence.history().len(), HISTORY_LEN);
}
