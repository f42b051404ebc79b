use chrono::{DateTime, TimeZone, Utc};
use rust_xlsxwriter::{Format as XlsxFormat, Workbook};

use super::*;
use crate::domain::cues::{CrewPosition, CueTarget};
use crate::domain::show::SegmentKind;
use crate::domain::text::Mode;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 1, 4, 0, 0, 0).unwrap()
}

fn demo() -> RunOfShow {
    crate::config::parse_event(include_str!("../../config/events/sjtu-forum.toml"), now()).unwrap()
}

fn csv(text: &str) -> Result<RunOfShow, Vec<String>> {
    read_plan(Format::Csv, text.as_bytes(), &demo()).map_err(|errors| errors.iter().map(|e| e.to_string()).collect())
}

/// A workbook of one sheet, each cell written by `write`.
fn workbook(write: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = Workbook::new();
    write(book.add_worksheet());
    book.save_to_buffer().unwrap()
}

#[test]
fn the_demo_plan_comes_back_the_same_through_csv_and_xlsx() {
    let plan = demo();
    let through_csv = read_plan(Format::Csv, plan_csv(&plan).as_bytes(), &plan).unwrap();
    assert_eq!(through_csv, plan);
    let xlsx = plan_xlsx(&plan).unwrap();
    assert_eq!(Format::of(Some("application/octet-stream"), &xlsx), Some(Format::Xlsx));
    let through_xlsx = read_plan(Format::Xlsx, &xlsx, &plan).unwrap();
    assert_eq!(through_xlsx, plan);
    assert_eq!(differences(&plan, &through_xlsx), Vec::<String>::new());
}

#[test]
fn every_column_is_read() {
    let header = COLUMNS.join(",");
    let row = [
        "talk-1",
        "09:30",
        "45",
        "Keynote",
        "Cities",
        "城市",
        "都市",
        "Ji Weidong",
        "季卫东",
        "",
        "\"Zhang Ying\nLu Ming\"",
        "\"张英\n\"",
        "",
        "\"zy\n\"",
        "\"20\n25\"",
        "\"in_room\nremote\"",
        "\"zh\nja\"",
        "\"cn\n\"",
        "\"SJTU\nAntai\"",
        "\"交大\n\"",
        "",
        "\"Big data\n\"",
        "",
        "",
        "\"video\nperson:Ma Li\"",
        "\"Slides\nWave\"",
        "",
        "\"\nウェーブ\"",
        "\"slides\n\"",
        "Lectern mic",
        "90",
        "20",
        "3",
        "https://meet.example.org/x",
        "\"cn=300\njp = 240\"",
    ]
    .join(",");
    let plan = csv(&format!("{header}\n{row}\n")).unwrap();
    assert_eq!(plan.segments.len(), 1);
    let s = &plan.segments[0];
    assert_eq!((s.id.as_str(), s.kind, s.duration_ms), ("talk-1", SegmentKind::Keynote, 45 * 60_000));
    assert_eq!((s.title.en.as_str(), s.title.zh.as_str(), s.title.ja.as_str()), ("Cities", "城市", "都市"));
    let chair = s.chair.as_ref().unwrap();
    assert_eq!((chair.zh.as_str(), chair.ja.as_str()), ("季卫东", "Ji Weidong"));
    let zone: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    assert_eq!(plan.event.planned_start, zone.with_ymd_and_hms(2022, 1, 4, 9, 30, 0).unwrap().timestamp_millis());
    let [zhang, lu] = &s.speakers[..] else { panic!("two speakers: {:?}", s.speakers) };
    assert_eq!((zhang.id.as_str(), zhang.name.zh.as_str(), zhang.duration_ms), ("zy", "张英", Some(20 * 60_000)));
    assert_eq!((zhang.mode, zhang.lang), (Some(Mode::InRoom), Some(Lang::Zh)));
    assert_eq!(zhang.affiliation.as_ref().map(|a| (a.en.as_str(), a.zh.as_str())), Some(("SJTU", "交大")));
    assert_eq!(zhang.topic.as_ref().map(|t| t.ja.as_str()), Some("Big data"));
    assert_eq!((lu.name.zh.as_str(), lu.mode, lu.lang), ("Lu Ming", Some(Mode::Remote), Some(Lang::Ja)));
    assert!(!lu.id.is_empty(), "a speaker without an id gets one");
    assert_eq!(lu.affiliation.as_ref().map(|a| a.zh.as_str()), Some("Antai"));
    let [slides, wave] = &s.cues[..] else { panic!("two cues: {:?}", s.cues) };
    assert_eq!(
        (&slides.target, slides.text.en.as_str(), slides.preset.as_deref()),
        (&CueTarget::Position(CrewPosition::Video), "Slides", Some("slides"))
    );
    assert_eq!(wave.target, CueTarget::Person { person: "Ma Li".into() });
    assert_eq!((wave.text.en.as_str(), wave.text.ja.as_str()), ("Wave", "ウェーブ"));
    assert_eq!((s.av_notes.as_str(), s.warning_ms, s.danger_ms), ("Lectern mic", 90_000, 20_000));
    assert_eq!((s.speaking_limit_ms, s.join_url.as_deref()), (Some(180_000), Some("https://meet.example.org/x")));
    assert_eq!((zhang.side.as_deref(), lu.side.as_deref()), (Some("cn"), None));
    let budgets: Vec<(&str, Millis)> = s.side_budgets.iter().map(|(side, ms)| (side.as_str(), *ms)).collect();
    assert_eq!(budgets, [("cn", 300_000), ("jp", 240_000)]);
}

#[test]
fn speakers_and_budgets_name_only_the_sides_the_event_has() {
    let errors = csv("kind,duration,title_en,speakers_en,speaker_sides,side_budgets\n\
                      panel,60,Table,Ann,cn,jp:600\n\
                      panel,60,Table 2,Bo,,cn=0\n")
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "row 2, side_budgets: \"jp:600\" is not a side and its seconds, as cn=600",
            "row 3, side_budgets: 0 must be 1-86400 seconds"
        ]
    );
    let errors = csv("kind,duration,title_en,speakers_en,speaker_sides\npanel,60,Table,Ann,kr\n").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("row 2: ") && errors[0].contains("\"kr\""), "{errors:?}");
    assert!(errors[0].contains("cn, jp, floor"), "the sides it has: {errors:?}");
}

#[test]
fn only_kind_duration_and_the_english_title_are_needed_and_ids_are_made_from_the_kind() {
    let plan = csv("Title_EN,KIND,duration\nTea,break,15\nMore tea,break,10\nTalk,speech,20\nBreak,break,5\n").unwrap();
    let ids: Vec<&str> = plan.segments.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["break-1", "break-2", "speech-1", "break-3"]);
    assert_eq!(plan.segments[0].title.zh, "Tea", "other languages default to English");
    assert_eq!(plan.event.planned_start, demo().event.planned_start, "no start keeps the event's");
    assert_eq!(plan.segments[3].planned_start, plan.event.planned_start + 45 * 60_000);
}

#[test]
fn a_preset_gives_a_cue_its_target_and_text() {
    let plan = csv("kind,duration,title_en,cue_presets\nspeech,10,Talk,\"lectern-mic\nslides\"\n").unwrap();
    let cues = &plan.segments[0].cues;
    assert_eq!(cues[0].target, CueTarget::Position(CrewPosition::Audio));
    assert_eq!(cues[1].text.en, "Speaker's slides on screen");
}

#[test]
fn every_error_of_the_file_is_reported_with_its_row_and_column() {
    let file = "id,start,kind,duration,title_en,speakers_en,speaker_minutes,speaker_modes,cue_targets,cue_presets\n\
                a,09:00,speech,20,Talk,,,,,\n\
                b,,talk,1h20,Panel,,,,,\n\
                a,,speech,20.5,,,,,,\n\
                ,09:50,break,10,Tea,\"Mei\nLu\",\"5\n5\n5\",zoom,sound,nope\n\
                event,,closing,0,Bye,,,,,\n";
    let errors = csv(file).unwrap_err();
    let expected = [
        "row 3, duration: \"1h20\" is not a number of minutes",
        "row 3, kind: \"talk\" is not one of ceremony, speech, keynote, panel, qa, break, closing",
        "row 4, duration: \"20.5\" is not a number of minutes",
        "row 4, title_en: is empty; every segment needs an English title",
        "row 5, speaker_minutes: 3 lines, but 2 speakers in speakers_en",
        "row 5, speaker_modes: \"zoom\" is not in_room or remote",
        "row 5, cue_presets: line 1: no cue preset \"nope\" (this event has lectern-mic, panel-mics, slides, remote-feed, interp-ja, house-lights)",
        "row 6, duration: 0 must be 1-1440 minutes",
    ];
    for line in expected {
        assert!(errors.iter().any(|e| e == line), "{line:?} missing from {errors:#?}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn ids_and_starts_are_checked_across_rows() {
    let file = "id,start,kind,duration,title_en\na,09:00,speech,20,Talk\na,09:20,speech,20,Again\n\
                event,,break,10,Tea\nd,10:40,closing,10,Bye\n";
    let errors = csv(file).unwrap_err();
    assert_eq!(
        errors,
        [
            "row 3, id: \"a\" is already the id of row 2",
            "row 4, id: \"event\" must be 1-64 letters, digits, '-' or '_', and not \"event\"",
            "row 5, start: '10:40' does not follow from the rows above (09:50); leave it empty or fix the durations",
        ]
    );
}

#[test]
fn headers_must_be_known_and_the_required_ones_present() {
    let errors = csv("kind,title_en,colour\nspeech,Talk,red\n").unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("row 1, colour: unknown column; the columns are id, start,"), "{errors:?}");
    assert_eq!(errors[1], "row 1: the column \"duration\" is missing");
    assert_eq!(csv("").unwrap_err(), ["the file is empty; row 1 must hold the column headers"]);
}

#[test]
fn what_the_plan_check_refuses_names_its_row_and_a_file_wide_refusal_is_reported_too() {
    let long = "x".repeat(300);
    let errors = csv(&format!("kind,duration,title_en\nspeech,10,Talk\nspeech,10,{long}\n")).unwrap_err();
    assert_eq!(errors, ["row 3: title is longer than 200 characters"]);
    let errors =
        csv("kind,duration,title_en,speaker_ids,speakers_en\nspeech,10,A,p,Ann\nspeech,10,B,p,Bo\n").unwrap_err();
    assert_eq!(errors, ["row 3, speaker_ids: \"p\" is already a speaker in row 2"]);
}

#[test]
fn excel_numbers_and_times_are_read_as_people_typed_them() {
    let time = XlsxFormat::new().set_num_format("hh:mm");
    let file = workbook(|sheet| {
        for (c, name) in ["start", "duration", "kind", "title_en", "speaker_minutes", "speakers_en"].iter().enumerate()
        {
            sheet.write_string(0, c as u16, *name).unwrap();
        }
        sheet.write_number_with_format(1, 0, 9.5 / 24.0, &time).unwrap();
        sheet.write_number(1, 1, 60.0).unwrap();
        sheet.write_string(1, 2, "keynote").unwrap();
        sheet.write_string(1, 3, "Talk").unwrap();
        sheet.write_number(1, 4, 20.0).unwrap();
        sheet.write_string(1, 5, "Ann").unwrap();
        sheet.write_number(2, 0, 10.5 / 24.0).unwrap();
        sheet.write_number(2, 1, 15.0).unwrap();
        sheet.write_string(2, 2, "break").unwrap();
        sheet.write_string(2, 3, "Tea").unwrap();
    });
    let plan = read_plan(Format::Xlsx, &file, &demo()).unwrap();
    let zone: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    assert_eq!(plan.event.planned_start, zone.with_ymd_and_hms(2022, 1, 4, 9, 30, 0).unwrap().timestamp_millis());
    assert_eq!(plan.segments[0].duration_ms, 60 * 60_000);
    assert_eq!(plan.segments[0].speakers[0].duration_ms, Some(20 * 60_000));
    let bad = workbook(|sheet| {
        for (c, name) in ["duration", "kind", "title_en"].iter().enumerate() {
            sheet.write_string(0, c as u16, *name).unwrap();
        }
        sheet.write_number(1, 0, 60.5).unwrap();
        sheet.write_string(1, 1, "speech").unwrap();
        sheet.write_string(1, 2, "Talk").unwrap();
    });
    let errors = read_plan(Format::Xlsx, &bad, &demo()).unwrap_err();
    assert_eq!(errors[0].to_string(), "row 2, duration: \"60.5\" is not a number of minutes");
    assert!(read_plan(Format::Xlsx, b"PK\x03\x04 not really", &demo()).is_err());
}

#[test]
fn a_sheet_named_run_of_show_is_read_whatever_its_place() {
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Notes").unwrap().write_string(0, 0, "nothing here").unwrap();
    let sheet = book.add_worksheet().set_name("run of show").unwrap();
    for (c, value) in ["kind", "duration", "title_en"].iter().enumerate() {
        sheet.write_string(0, c as u16, *value).unwrap();
    }
    sheet.write_string(1, 0, "qa").unwrap().write_number(1, 1, 5).unwrap().write_string(1, 2, "Q&A").unwrap();
    let plan = read_plan(Format::Xlsx, &book.save_to_buffer().unwrap(), &demo()).unwrap();
    assert_eq!(plan.segments[0].id, "qa-1");
}

#[test]
fn an_event_file_replaces_the_event_fields_too() {
    let text = include_str!("../../config/events/sjtu-forum.toml")
        .replace("start = \"09:00\"", "start = \"09:30\"")
        .replace("en = \"Opening ceremony\"", "en = \"Opening\"");
    let plan = read_plan(Format::Toml, text.as_bytes(), &demo()).unwrap();
    assert_eq!(
        differences(&demo(), &plan),
        ["~ event start 09:00 → 09:30", "~ \"opening\" title en: \"Opening ceremony\" → \"Opening\""]
    );
    let other = text.replace("id = \"sjtu-forum\"", "id = \"other\"");
    let errors = read_plan(Format::Toml, other.as_bytes(), &demo()).unwrap_err();
    assert!(errors[0].message.contains("not \"sjtu-forum\""), "{errors:?}");
}

#[test]
fn differences_say_what_an_import_changes() {
    let old = demo();
    let mut new = old.clone();
    let keynotes = new.segment_index("keynotes").unwrap();
    new.segments[keynotes].duration_ms = 70 * 60_000;
    new.segments[keynotes].title.ja = "基調".into();
    let mut coffee = new.segments[keynotes].clone();
    coffee.id = "coffee".into();
    coffee.kind = SegmentKind::Break;
    coffee.duration_ms = 15 * 60_000;
    new.segments.insert(keynotes + 1, coffee);
    let panel = new.segment_index("round-table").unwrap();
    new.segments[panel].speakers.remove(0);
    let mut mei = new.segments[panel].speakers[0].clone();
    mei.id = "mei".into();
    mei.name = Localized::same("Mei Lin");
    new.segments[panel].speakers.push(mei);
    let closing = new.segments.pop().unwrap();
    new.segments.insert(panel, closing);
    new.segments.remove(0);
    new.event.planned_start += 30 * 60_000;
    let lines = differences(&old, &new);
    assert_eq!(
        lines,
        [
            "~ event start 09:00 → 09:30",
            "- segment \"opening\"",
            "+ segment \"coffee\" (break, 15 min) after \"keynotes\"",
            "moved \"closing\" before \"round-table\"",
            "~ \"keynotes\" duration 80 → 70 min",
            "~ \"keynotes\" title ja: \"基調講演\" → \"基調\"",
            "~ \"round-table\" speakers: + \"Mei Lin\", - \"Ma Junjie\"",
        ]
    );
    assert!(differences(&old, &old).is_empty());
}

#[test]
fn the_templates_parse_and_say_the_same() {
    let csv_plan = read_plan(Format::Csv, include_bytes!("../../config/run-of-show-template.csv"), &demo()).unwrap();
    let xlsx_plan = read_plan(Format::Xlsx, include_bytes!("../../config/run-of-show-template.xlsx"), &demo()).unwrap();
    assert_eq!(
        csv_plan.segments, xlsx_plan.segments,
        "the XLSX template is the CSV one: import the CSV into an event and save its GET /api/events/{{event}}/plan.xlsx"
    );
    let polls: Vec<(&str, Option<&str>)> =
        xlsx_plan.prepared_polls.iter().map(|p| (p.id.as_str(), p.segment.as_deref())).collect();
    assert_eq!(polls, [("mobility", Some("panel"))], "the workbook's polls sheet has an example");
    assert!(csv_plan.segments.len() >= 5);
    let fields = NewEvent {
        id: "workshop".into(),
        title_en: "Workshop".into(),
        venue_en: "Room 1".into(),
        time_zone: Some("Asia/Tokyo".into()),
        date: Some("2026-05-20".into()),
        languages: Some("zh,ja,en".into()),
        ..NewEvent::default()
    };
    let new =
        read_new_event(Format::Csv, include_bytes!("../../config/run-of-show-template.csv"), &fields, now()).unwrap();
    assert_eq!(new.event.languages, [Lang::Zh, Lang::Ja, Lang::En]);
    let ids = |plan: &RunOfShow| plan.segments.iter().map(|s| (s.id.clone(), s.title.clone())).collect::<Vec<_>>();
    assert_eq!(ids(&new), ids(&csv_plan));
}

#[test]
fn a_new_event_needs_a_start_and_valid_fields() {
    let file = b"kind,duration,title_en\nspeech,10,Talk\n";
    let fields = NewEvent { id: "w".into(), title_en: "W".into(), venue_en: "Hall".into(), ..NewEvent::default() };
    let errors = read_new_event(Format::Csv, file, &fields, now()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "row 2, start: is empty; give the first segment's start (HH:MM) or the event's start"
    );
    let fields = NewEvent { start: Some("10:00".into()), ..fields };
    let plan = read_new_event(Format::Csv, file, &fields, now()).unwrap();
    assert_eq!(plan.event.planned_start, Utc.with_ymd_and_hms(2022, 1, 4, 10, 0, 0).unwrap().timestamp_millis());
    let bad = NewEvent { id: "no spaces".into(), ..fields };
    assert!(read_new_event(Format::Csv, file, &bad, now()).is_err());
}

/// A workbook of a run of show of one panel, `round-table`, and a polls sheet of `polls`
/// rows under `header` (none: no polls sheet).
fn with_polls(header: Option<&[&str]>, polls: &[&[&str]]) -> Vec<u8> {
    let mut book = Workbook::new();
    let plan = book.add_worksheet().set_name("Run of show").unwrap();
    for (c, text) in ["id", "kind", "duration", "title_en", "start"].iter().enumerate() {
        plan.write_string(0, c as u16, *text).unwrap();
    }
    for (c, text) in ["round-table", "panel", "60", "Round table", "09:00"].iter().enumerate() {
        plan.write_string(1, c as u16, *text).unwrap();
    }
    if let Some(header) = header {
        let sheet = book.add_worksheet().set_name("polls").unwrap();
        for (r, row) in std::iter::once(header).chain(polls.iter().copied()).enumerate() {
            for (c, text) in row.iter().enumerate() {
                sheet.write_string(r as u32, c as u16, *text).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

#[test]
fn the_polls_sheet_gives_the_plan_its_prepared_polls() {
    let header: &[&str] =
        &["id", "segment", "question_en", "question_ja", "options_en", "options_ja", "multiple", "results"];
    let file = with_polls(
        Some(header),
        &[&["lunch", "round-table", "Where next?", "次は？", "Tokyo\nShanghai", "東京\n", "yes", "Live"]],
    );
    let plan = read_plan(Format::Xlsx, &file, &demo()).unwrap();
    assert_eq!(plan.prepared_polls.len(), 1, "the sheet's polls replace the plan's");
    let poll = &plan.prepared_polls[0];
    assert_eq!((poll.id.as_str(), poll.segment.as_deref()), ("lunch", Some("round-table")));
    assert_eq!((poll.question.ja.as_str(), poll.question.zh.as_str()), ("次は？", "Where next?"));
    assert_eq!((poll.options[0].ja.as_str(), poll.options[1].ja.as_str()), ("東京", "Shanghai"));
    assert!(poll.multiple && poll.anonymous);
    assert_eq!(poll.results, crate::domain::polls::ResultsShown::Live);
    let lines = differences(&demo(), &plan);
    assert!(
        lines.contains(&"- poll \"next-forum\"".to_owned())
            && lines.contains(&"+ poll \"lunch\" (2 options)".to_owned()),
        "{lines:?}"
    );

    let kept = read_plan(Format::Xlsx, &with_polls(None, &[]), &demo()).unwrap();
    assert_eq!(kept.prepared_polls, demo().prepared_polls, "without a polls sheet the plan keeps its polls");
    let none = read_plan(Format::Xlsx, &with_polls(Some(header), &[]), &demo()).unwrap();
    assert!(none.prepared_polls.is_empty(), "a polls sheet of no rows: no polls");
}

#[test]
fn the_demo_polls_come_back_from_the_exported_workbook_alone() {
    let plan = demo();
    let without = RunOfShow { prepared_polls: Vec::new(), ..plan.clone() };
    let read = read_plan(Format::Xlsx, &plan_xlsx(&plan).unwrap(), &without).unwrap();
    assert_eq!(read.prepared_polls, plan.prepared_polls);
}

#[test]
fn each_error_of_the_polls_sheet_names_the_sheet_its_row_and_its_column() {
    let header: &[&str] = &["id", "segment", "question_en", "options_en", "options_zh", "anonymous", "results"];
    let rows: &[&[&str]] = &[
        &["a", "lunch", "Where?", "Tokyo\nShanghai", "", "", ""],
        &["b", "", "Where?", "Tokyo\n\nShanghai", "", "maybe", "soon"],
        &["", "", "", "Tokyo\nShanghai", "东京\n上海\n北京", "", ""],
        &["c", "", "Where?", "Tokyo", "", "", ""],
    ];
    let errors: Vec<String> = read_plan(Format::Xlsx, &with_polls(Some(header), rows), &demo())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let expected = [
        "sheet \"Polls\", row 2, segment: \"lunch\" is no segment of the plan; the segments are round-table",
        "sheet \"Polls\", row 3, options_en: line 2 is empty; give one option per line",
        "sheet \"Polls\", row 3, anonymous: \"maybe\" is not yes or no",
        "sheet \"Polls\", row 3, results: \"soon\" is not one of live, closed, chair",
        "sheet \"Polls\", row 4, id: is empty; give each poll an id",
        "sheet \"Polls\", row 4, question_en: is empty; give the question in English",
        "sheet \"Polls\", row 4, options_zh: 3 lines, but 2 options in options_en",
    ];
    for line in expected {
        assert!(errors.contains(&line.to_owned()), "{line} in {errors:?}");
    }
    assert!(
        errors.iter().any(|e| e.starts_with("sheet \"Polls\", row 5: ") && e.contains("2 to 10 options")),
        "{errors:?}"
    );
    let unknown = read_plan(Format::Xlsx, &with_polls(Some(&["id", "question"]), &[]), &demo()).unwrap_err();
    assert_eq!(unknown[0].sheet, Some("Polls"));
    assert_eq!(unknown[0].column.as_deref(), Some("question"));
}
