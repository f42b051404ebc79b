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
    presence.connect(&remote("tanaka"), false, T0);
    presence.connect(&remote("tanaka"), false, T0 + 5);
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
    presence.connect(&remote("flaky"), false, T0);
    presence.disconnect("flaky");
    assert_eq!(presence.diff(), None);

    presence.connect(&remote("steady"), false, T0);
    presence.diff();
    presence.disconnect("steady");
    presence.connect(&remote("steady"), false, T0 + 100);
    assert_eq!(presence.diff(), None, "a reconnect within the interval is no leave");
    assert!(presence.is_present("steady"));
}

#[test]
fn a_diff_coalesces_many_joins_and_leaves_into_one() {
    let mut presence = Presence::default();
    for k in 0..100 {
        presence.connect(&remote(&format!("p{k}")), false, T0 + k);
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
    presence.connect(&person("a", Mode::InRoom, Lang::Zh), false, T0);
    presence.connect(&person("b", Mode::InRoom, Lang::Ja), false, T0);
    presence.connect(&person("c", Mode::Remote, Lang::Ja), false, T0);
    presence.connect(&person("d", Mode::Remote, Lang::En), false, T0);
    presence.connect(&person("d", Mode::Remote, Lang::En), false, T0);
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
fn speaker_tokens_and_chair_consoles_may_be_programme_speakers_but_not_attendees_or_screens() {
    let mut presence = Presence::default();
    presence.connect(&Actor { role: Role::Speaker, ..remote("sakano") }, false, T0);
    presence.connect(&Actor { role: Role::Moderator, mode: Mode::InRoom, ..remote("ji") }, false, T0);
    presence.connect(&Actor { role: Role::Speaker, ..remote("stage-1") }, true, T0);
    presence.connect(&remote("lookalike"), false, T0);
    let mut names: Vec<(&str, Mode)> = presence.speaker_names().collect();
    names.sort_by_key(|(name, _)| *name);
    assert_eq!(names, [("Name ji", Mode::InRoom), ("Name sakano", Mode::Remote)]);
    presence.disconnect("sakano");
    assert_eq!(presence.speaker_names().count(), 1);
}

#[test]
fn only_the_audience_is_counted_the_chair_crew_and_screens_are_listed() {
    let mut presence = Presence::default();
    presence.connect(&remote("tanaka"), false, T0);
    presence.connect(&Actor { role: Role::Speaker, ..remote("panellist") }, false, T0);
    presence.connect(&Actor { role: Role::Speaker, ..remote("stage-screen") }, true, T0);
    presence.connect(&Actor { role: Role::Moderator, ..remote("chair") }, false, T0);
    presence.connect(&Actor { role: Role::Av, ..remote("audio") }, false, T0);
    assert_eq!(presence.counts().total, 2, "tanaka and the panellist");
    let recent: Vec<&str> = presence.recent().iter().map(|p| p.participant.as_str()).collect();
    assert_eq!(recent, ["panellist", "tanaka"]);
    presence.diff();
    assert_eq!(presence.published_total(), 5, "the chair's list holds everyone");
    presence.disconnect("chair");
    presence.disconnect("tanaka");
    assert_eq!(presence.counts().total, 1);
}

/// The chair as the demo programme lists them, and the names a speaker-token client might
/// join with.
fn chair_here(joined_as: &str) -> Vec<(usize, usize)> {
    let programme = BTreeMap::from([(match_key("Ji Weidong"), vec![(0, usize::MAX)])]);
    let mut presence = Presence::default();
    let name = DisplayName::parse(joined_as).unwrap();
    presence.connect(&Actor { role: Role::Speaker, name: name.as_str().to_owned(), ..remote("ji") }, false, T0);
    speakers_present(presence.speaker_names().map(|(name, _)| name), &programme)
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
    presence.connect(&person("a", Mode::InRoom, Lang::Zh), false, T0);
    presence.connect(&remote("b"), false, T0);
    let sample = presence.sample(T0 + 60_000);
    assert_eq!(sample, Sample { at: T0 + 60_000, in_room: 1, remote: 1 });
    for k in 0..HISTORY_LEN {
        presence.sample(T0 + k as Millis);
    }
    assert_eq!(presence.history().len(), HISTORY_LEN);
}

#[test]
fn a_version_from_an_earlier_life_gets_no_diff() {
    let mut before = Presence::default().starting_at(1_000);
    before.connect(&remote("tanaka"), false, T0);
    before.diff().unwrap();
    let kept = before.version();
    assert_eq!(kept, 1_001);
    assert!(before.since(kept).is_some_and(|d| d.joined.is_empty() && d.left.is_empty()));

    // The server restarted: tanaka left meanwhile, suzuki came, and the new life's versions
    // start past every version of the old one.
    let mut after = Presence::default().starting_at(5_000_000);
    after.connect(&remote("suzuki"), false, T0 + 10);
    after.diff().unwrap();
    assert_eq!(after.version(), 5_000_001);
    assert_eq!(after.since(kept), None, "the full list, not a diff against another life's version");
    assert_eq!(after.since(4_999_999), None);
    assert!(after.since(5_000_000).is_some_and(|d| d.joined.len() == 1));
}

fn reported(participant: &str, connections: u32, since: Millis) -> Present {
    Present {
        participant: participant.into(),
        who: participant.into(),
        name: format!("Name {participant}"),
        affiliation: None,
        role: Role::Attendee,
        mode: Mode::Remote,
        lang: Lang::Ja,
        since,
        connections,
        audience: true,
        speaker: false,
    }
}

#[test]
fn people_on_other_nodes_are_listed_and_diffed_but_not_counted_here() {
    let mut presence = Presence::default();
    presence.connect(&remote("here"), false, T0);
    presence.elsewhere("node-b", "there".into(), Some(reported("there", 1, T0)));
    let diff = presence.diff().unwrap();
    let joined: Vec<&str> = diff.joined.iter().map(|p| p.participant.as_str()).collect();
    assert_eq!(joined, ["here", "there"]);
    assert_eq!(presence.published_total(), 2);
    assert_eq!(presence.counts().total, 1, "each node counts its own; the totals are summed apart");

    presence.elsewhere("node-b", "there".into(), None);
    assert_eq!(presence.diff().unwrap().left, ["there"]);
    assert_eq!(presence.published_total(), 1);
}

#[test]
fn someone_on_two_nodes_is_one_entry_and_leaves_only_when_gone_from_both() {
    let mut presence = Presence::default();
    presence.connect(&remote("tanaka"), false, T0 + 50);
    presence.elsewhere("node-b", "tanaka".into(), Some(reported("tanaka", 2, T0)));
    let diff = presence.diff().unwrap();
    assert_eq!(diff.joined.len(), 1);
    assert_eq!((diff.joined[0].connections, diff.joined[0].since), (3, T0), "every node's tabs, since the first");

    presence.disconnect("tanaka");
    assert_eq!(presence.diff(), None, "still connected to node b");
    presence.elsewhere("node-b", "tanaka".into(), None);
    assert_eq!(presence.diff().unwrap().left, ["tanaka"]);
}

#[test]
fn a_shared_presence_keeps_this_nodes_comings_and_goings_for_the_others() {
    let mut unshared = Presence::default();
    unshared.connect(&remote("a"), false, T0);
    assert!(unshared.local_changes().is_empty(), "nothing is kept without a cluster");

    let mut presence = Presence::default().shared();
    presence.connect(&remote("a"), false, T0);
    presence.connect(&remote("a"), false, T0 + 1);
    presence.connect(&remote("b"), false, T0);
    presence.elsewhere("node-b", "c".into(), Some(reported("c", 1, T0)));
    let mut changes = presence.local_changes();
    changes.sort_by(|x, y| x.0.cmp(&y.0));
    let seen: Vec<(&str, Option<u32>)> =
        changes.iter().map(|(p, now)| (p.as_str(), now.as_ref().map(|e| e.connections))).collect();
    assert_eq!(seen, [("a", Some(2)), ("b", Some(1))], "other nodes' people are theirs to report");
    presence.disconnect("b");
    let changes = presence.local_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].0.as_str(), changes[0].1.is_none()), ("b", true));
    assert!(presence.local_changes().is_empty());
}

#[test]
fn a_programme_speaker_on_another_node_is_here_until_that_node_says_they_left() {
    let mut presence = Presence::default();
    let panellist = Present { role: Role::Speaker, speaker: true, ..reported("panellist", 1, T0) };
    presence.elsewhere("node-b", "panellist".into(), Some(panellist));
    presence.elsewhere("node-b", "lookalike".into(), Some(reported("lookalike", 1, T0)));
    let names: Vec<(&str, Mode)> = presence.speaker_names().collect();
    assert_eq!(names, [("Name panellist", Mode::Remote)], "an attendee never passes for a speaker");
    presence.elsewhere("node-b", "panellist".into(), None);
    assert_eq!(presence.speaker_names().count(), 0);
}
