//! The event files and the settings as the server reads them: the demo forum, the minimal
//! file the README names, and the errors a bad file gets.

use super::*;

const DEMO: &str = include_str!("../../config/events/sjtu-forum.toml");

/// Late on 3 January in London is already 4 January in Shanghai.
fn day() -> DateTime<Utc> {
    "2022-01-03T20:00:00Z".parse().unwrap()
}

#[test]
fn the_demo_forum_has_its_four_segments_in_order() {
    let show = parse_event(DEMO, day()).unwrap();
    let ids: Vec<&str> = show.segments.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["opening", "keynotes", "round-table", "closing"]);
    assert_eq!(show.segments[1].speakers.len(), 4);
    assert_eq!(show.segments[2].speakers.len(), 5);
    assert_eq!(show.segments[0].chair.as_ref().unwrap().get(Lang::En), "Ji Weidong");
    for segment in &show.segments {
        for lang in [Lang::Zh, Lang::Ja, Lang::En] {
            assert!(!segment.title.get(lang).is_empty());
        }
        assert_ne!(segment.title.zh, segment.title.en, "{} needs a Chinese title", segment.id);
        assert_ne!(segment.title.ja, segment.title.en, "{} needs a Japanese title", segment.id);
    }
}

#[test]
fn planned_times_are_local_to_the_venue_and_follow_each_other() {
    let show = parse_event(DEMO, day()).unwrap();
    let nine_in_shanghai = chrono::DateTime::parse_from_rfc3339("2022-01-04T09:00:00+08:00").unwrap();
    assert_eq!(show.event.planned_start, nine_in_shanghai.timestamp_millis());
    for pair in show.segments.windows(2) {
        assert_eq!(pair[0].planned_start + pair[0].duration_ms, pair[1].planned_start);
    }
    let last = show.segments.last().unwrap();
    assert_eq!(show.event.planned_end, last.planned_start + last.duration_ms);
}

#[test]
fn planned_cues_take_target_and_text_from_their_preset() {
    let show = parse_event(DEMO, day()).unwrap();
    let opening = &show.segments[0];
    assert_eq!(opening.cues.len(), 3);
    assert_eq!(opening.cues[1].target, CueTarget::Position(crate::domain::cues::CrewPosition::Audio));
    assert_eq!(opening.cues[1].text.en, "Lectern mic 1 live");
    assert_eq!(show.event.standby_alert_ms, 10_000);
    let text = DEMO.replacen("preset = \"slides\"", "preset = \"fog-machine\"", 1);
    let err = format!("{:#}", parse_event(&text, day()).unwrap_err());
    assert!(err.contains("fog-machine"), "{err}");
}

#[test]
fn names_in_the_event_file_are_cleaned_as_typed_names_are() {
    let text = DEMO.replacen(r#"en = "Ji Weidong" }"#, r#"en = "Ji\u200b Weidong\u3000\u202e" }"#, 1);
    let show = parse_event(&text, day()).unwrap();
    assert_eq!(show.segments[0].chair.as_ref().unwrap().en, "Ji Weidong");
    let person = r#"target = { person = "Lu\u202eMing" }"#;
    let show = parse_event(&DEMO.replacen(r#"target = "lighting""#, person, 1), day()).unwrap();
    assert_eq!(show.cue_presets[5].target, CueTarget::Person { person: "LuMing".into() });
    let err = parse_event(&DEMO.replacen(r#"target = "lighting""#, r#"target = { person = "\u0000" }"#, 1), day());
    assert!(format!("{:#}", err.unwrap_err()).contains("control character"));
}

#[test]
fn an_unknown_time_zone_is_named_in_the_error() {
    let text = DEMO.replace("Asia/Shanghai", "Mars/Olympus");
    let err = format!("{:#}", parse_event(&text, day()).unwrap_err());
    assert!(err.contains("Mars/Olympus"), "{err}");
}

#[test]
fn a_join_url_must_be_an_http_link() {
    let show = parse_event(DEMO, day()).unwrap();
    assert_eq!(show.segments[2].join_url.as_deref(), Some("https://meet.example.org/sjtu-forum/round-table"));
    let text = DEMO.replace("https://meet.example.org", "javascript:alert(1)//");
    let err = format!("{:#}", parse_event(&text, day()).unwrap_err());
    assert!(err.contains("join_url"), "{err}");
}

#[test]
fn duplicate_segment_ids_are_refused() {
    let text = DEMO.replace("id = \"closing\"", "id = \"opening\"");
    assert!(parse_event(&text, day()).is_err());
}

/// An event file with only the fields the README names.
const MINIMAL: &str = include_str!("../../tests/fixtures/workshop.toml");

#[test]
fn every_demo_speaker_says_which_language_they_speak() {
    let show = parse_event(DEMO, day()).unwrap();
    for person in show.segments.iter().flat_map(|s| &s.speakers) {
        assert!(person.lang.is_some(), "{} has a language", person.name.en);
    }
    let akamatsu = show.segments[0].speakers.iter().find(|p| p.name.en == "Hideki Akamatsu").unwrap();
    assert_eq!(akamatsu.lang, Some(Lang::Ja));
}

#[test]
fn fields_the_readme_does_not_name_have_defaults() {
    let show = parse_event_file(MINIMAL, day(), Some("workshop")).unwrap();
    assert_eq!(show.event.id, "workshop", "the file's name");
    assert_eq!(show.event.languages, [Lang::Zh, Lang::Ja, Lang::En]);
    assert!(show.event.hybrid);
    assert_eq!(show.segments[0].warning_ms, 120_000);
    let error = parse_event(MINIMAL, day()).unwrap_err();
    assert!(format!("{error:#}").contains("needs an id"), "{error:#}");
}

#[test]
fn an_event_file_keeps_to_the_plan_limits_and_the_text_policy() {
    // `title` is TOML: a basic string with TOML's escapes.
    let with_title = |title: &str| MINIMAL.replace("title = \"A talk\"", &format!("title = \"{title}\""));
    let error = |text: &str| format!("{:#}", parse_event_file(text, day(), Some("w")).unwrap_err());
    assert!(error(&with_title(&"x".repeat(900_000))).contains("longer than"));
    assert!(error(&with_title("Ring\\u0007")).contains("control character"));
    assert!(error(&with_title("\\u001b[31mred")).contains("control character"));
    let show = parse_event_file(&with_title("evil\\u202etxt.exe"), day(), Some("w")).unwrap();
    assert_eq!(show.segments[0].title.en, "eviltxt.exe", "a bidi override is removed");
    let mut many = MINIMAL.to_owned();
    for k in 0..15_000 {
        many.push_str(&format!("[[segments]]\nid = \"s{k}\"\nkind = \"speech\"\ntitle = \"T\"\nduration_min = 1\n"));
    }
    assert!(error(&many).contains("at most 200 segments"));
}

#[test]
fn a_bad_event_file_keeps_only_its_own_event_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-forum.toml"), DEMO).unwrap();
    std::fs::write(dir.path().join("b-broken.toml"), MINIMAL.replace("duration_min = 30", "")).unwrap();
    std::fs::write(dir.path().join("c-workshop.toml"), MINIMAL).unwrap();
    std::fs::write(dir.path().join("d-again.toml"), DEMO).unwrap();
    let loaded = load_events(dir.path(), day()).unwrap();
    let ids: Vec<&str> = loaded.events.iter().map(|e| e.event.id.as_str()).collect();
    assert_eq!(ids, ["sjtu-forum", "c-workshop"]);
    let failed: Vec<(String, &str)> = loaded
        .failed
        .iter()
        .map(|(path, why)| (path.file_name().unwrap().to_string_lossy().into_owned(), why.as_str()))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].0 == "b-broken.toml" && failed[0].1.contains("duration_min"), "{failed:?}");
    assert!(failed[1].0 == "d-again.toml" && failed[1].1.contains("sjtu-forum"), "{failed:?}");
}

#[test]
fn the_shipped_settings_parse() {
    let settings: Settings = toml::from_str(include_str!("../../config/default.toml")).unwrap();
    assert_eq!(settings.server.events_dir, Path::new("config/events"));
}

#[test]
fn the_demo_round_table_takes_moderated_questions_and_has_a_poll_ready() {
    use crate::domain::questions::QaMode;
    let show = parse_event(DEMO, day()).unwrap();
    let qa: Vec<Option<QaMode>> = show.segments.iter().map(|s| s.qa).collect();
    assert_eq!(qa, [None, None, Some(QaMode::Moderated), None]);
    assert_eq!(show.qa, QaMode::Off);
    let poll = &show.prepared_polls[0];
    assert_eq!((poll.id.as_str(), poll.segment.as_deref(), poll.options.len()), ("next-forum", Some("round-table"), 3));
}

#[test]
fn a_poll_of_a_segment_the_file_lacks_or_with_one_option_is_refused() {
    let poll = "\n[[polls]]\nid = \"p\"\nsegment = \"nowhere\"\nquestion = { zh = \"问\", ja = \"問\", en = \"Q\" }\n\
                options = [{ zh = \"一\", ja = \"一\", en = \"one\" }, { zh = \"二\", ja = \"二\", en = \"two\" }]\n";
    let error = parse_event(&format!("{DEMO}{poll}"), day()).unwrap_err().to_string();
    assert!(error.contains("nowhere"), "{error}");
    let one = poll.replace("segment = \"nowhere\"\n", "").replace(", { zh = \"二\", ja = \"二\", en = \"two\" }", "");
    let error = parse_event(&format!("{DEMO}{one}"), day()).unwrap_err().to_string();
    assert!(error.contains("2 to 10 options"), "{error}");
}

#[test]
fn the_demo_round_table_balances_the_chinese_and_japanese_panellists() {
    let show = parse_event(DEMO, day()).unwrap();
    let sides: Vec<(&str, &str, &str, &str)> = show
        .sides
        .iter()
        .map(|s| (s.id.as_str(), s.name.en.as_str(), s.name.zh.as_str(), s.name.ja.as_str()))
        .collect();
    assert_eq!(
        sides,
        [
            ("cn", "Chinese delegation", "中方", "中国側"),
            ("jp", "Japanese delegation", "日方", "日本側"),
            ("floor", "Floor", "现场提问", "会場")
        ]
    );
    assert_eq!(show.sides[0].budget_ms, Some(1_800_000));
    let table = &show.segments[2];
    let by_side: Vec<(&str, Option<&str>)> =
        table.speakers.iter().map(|p| (p.name.en.as_str(), p.side.as_deref())).collect();
    assert_eq!(
        by_side,
        [
            ("Ma Junjie", Some("cn")),
            ("Yu Qianghua", Some("cn")),
            ("Song Ye", Some("cn")),
            ("Chai Shan Zhengming", Some("jp")),
            ("Tomohiko Li", Some("jp"))
        ]
    );
    assert_eq!(table.side_budgets.get("cn"), Some(&1_200_000));
    assert_eq!(table.side_budgets.get("jp"), Some(&1_200_000));
}

#[test]
fn a_side_the_event_does_not_have_is_refused_with_the_sides_it_has() {
    let error = |text: &str| format!("{:#}", parse_event(text, day()).unwrap_err());
    let speaker = error(&DEMO.replacen("side = \"jp\"", "side = \"kr\"", 1));
    assert!(speaker.contains("\"kr\"") && speaker.contains("Chai Shan Zhengming"), "{speaker}");
    assert!(speaker.contains("cn, jp, floor"), "{speaker}");
    let budget = error(&DEMO.replace("floor = 600 }", "kr = 600 }"));
    assert!(budget.contains("round-table") && budget.contains("\"kr\""), "{budget}");
    let twice = error(&DEMO.replacen("id = \"jp\"", "id = \"cn\"", 1));
    assert!(twice.contains("side id \"cn\" must be unique"), "{twice}");
    let zero = error(&DEMO.replacen("budget_s = 1800", "budget_s = 0", 1));
    assert!(zero.contains("budget"), "{zero}");
}

#[test]
fn short_links_and_note_presets_are_checked_like_the_rest_of_the_file() {
    let show = parse_event(DEMO, day()).unwrap();
    assert_eq!((show.short_links[0].id.as_str(), show.short_links[0].page.as_str()), ("lectern", "stage"));
    assert_eq!(show.note_presets[0].text.ja, "マイク不調");
    for (from, to, says) in [
        (r#"page = "stage""#, r#"page = "console""#, "not a screen's page"),
        (r#"view = { tracks = "zh,ja" }"#, r#"view = { colour = "red" }"#, "colour"),
        (r#"id = "hall-captions""#, r#"id = "lectern""#, "unique"),
        (r#"id = "stream-down""#, r#"id = "mic-dead""#, "unique"),
        (r#"name = "Lectern""#, "name = \"\u{200b}\"", "name"),
    ] {
        let err = format!("{:#}", parse_event(&DEMO.replacen(from, to, 1), day()).unwrap_err());
        assert!(err.contains(says), "{to}: {err}");
    }
}

#[test]
fn the_branding_takes_an_image_data_url_and_colours_only() {
    let show = parse_event(DEMO, day()).unwrap();
    let branding = show.branding.unwrap();
    assert!(branding.logo.is_some_and(|l| l.starts_with("data:image/svg+xml;base64,")));
    assert_eq!(branding.accent.as_deref(), Some("#c8102e"));
    for (from, to) in [
        (r##"accent = "#c8102e""##, r##"accent = "red""##),
        (r##"background = "#0b1a33""##, r##"background = "#0b1a3""##),
        ("logo = \"data:image/svg+xml;base64,", "logo = \"https://example.org/logo.svg?"),
    ] {
        let err = format!("{:#}", parse_event(&DEMO.replacen(from, to, 1), day()).unwrap_err());
        assert!(err.contains("branding"), "{to}: {err}");
    }
}
