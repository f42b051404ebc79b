//! Exports for the organizer: the change log, the planned-vs-actual record and the plan,
//! as CSV and XLSX, with text a spreadsheet would run quoted.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{Duration, NaiveDate};
use eventhub::domain::Role;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::{http_request, read_to_close, spawn_app, tcp_connect, TestApp, EVENT};

#[tokio::test]
async fn organizers_download_the_change_log_and_the_planned_vs_actual_record() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    for kind in ["next", "next", "hold"] {
        chair.command(kind, json!({})).await;
        chair.expect("change").await;
        chair.expect("ack").await;
    }
    let token = app.token(Role::Organizer);
    let (status, head, body) = app.get(&format!("/api/events/{EVENT}/log.jsonl?token={token}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("attachment"), "{head}");
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 3);
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], k as u64 + 1);
        assert_eq!(line["actor"]["name"], "Ji Weidong");
        assert_eq!(line["actor"]["role"], "moderator");
        assert!(line["at"].as_i64().is_some());
    }
    assert_eq!(lines[2]["change"]["op"], "hold");

    let (status, _, csv) = app.get(&format!("/api/events/{EVENT}/record.csv?token={token}")).await;
    assert_eq!(status, 200);
    let rows = planned_vs_actual(&csv);
    assert!(rows[0].starts_with("segment,title,planned_start,planned_minutes,actual_start"), "{csv}");
    assert_eq!(rows.len(), 5, "a header, two runs and two segments not yet run: {csv}");
    assert!(rows[1].starts_with("opening,Opening ceremony,"), "{csv}");
    assert!(rows[1].contains("+08:00"), "times are in the venue's zone: {csv}");
    assert!(rows[4].starts_with("closing,"), "{csv}");
}

#[tokio::test]
async fn exports_need_the_organizer_token() {
    let app = spawn_app().await;
    let path = format!("/api/events/{EVENT}/log.jsonl");
    assert_eq!(app.get(&path).await.0, 401);
    assert_eq!(app.get(&format!("{path}?token={}", app.token(Role::Moderator))).await.0, 401);
    assert_eq!(app.get(&format!("{path}?token={}", app.token(Role::Attendee))).await.0, 401);
    let organizer = app.token(Role::Organizer);
    assert_eq!(app.get(&format!("/api/events/nope/log.jsonl?token={organizer}")).await.0, 404);
}

#[tokio::test]
async fn the_record_follows_plan_edits_made_during_the_day() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let plan_version = welcome["snapshot"]["plan_version"].as_u64().unwrap();
    let fields = json!({"plan_version": plan_version, "after": "opening", "kind": "break", "new_segment": "tea",
                        "title": "Tea", "duration_min": 15});
    assert_eq!(chair.run("plan_add_segment", fields).await["type"], "ack");
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let token = app.token(Role::Organizer);
    let (status, _, csv) = app.get(&format!("/api/events/{EVENT}/record.csv?token={token}")).await;
    assert_eq!(status, 200);
    let rows = planned_vs_actual(&csv);
    assert!(rows[1].starts_with("opening,"), "{csv}");
    assert!(rows[2].starts_with("tea,Tea,"), "the break added live is the second run: {csv}");
    assert_eq!(rows.len(), 6, "a header, two runs and three segments not yet run: {csv}");
}

/// The lines of the record's first table, planned vs actual: those before the empty row
/// that leads to the speaking table.
fn planned_vs_actual(csv: &str) -> Vec<&str> {
    csv.lines().take_while(|line| !line.trim_matches(',').is_empty()).collect()
}

/// Status and JSON answer of a CSV plan upload.
async fn import_csv(app: &TestApp, query: &str, file: &str) -> (u16, Value) {
    let bearer = format!("Bearer {}", app.token(Role::Organizer));
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "text/csv")];
    let path = format!("/api/events/{EVENT}/plan?{query}");
    let (status, body) = http_request(app.addr, "POST", &path, &headers, file.as_bytes()).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| json!(body)))
}

async fn download(app: &TestApp, file: &str) -> String {
    let (status, _, body) = app.get(&format!("/api/events/{EVENT}/{file}?token={}", app.token(Role::Organizer))).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// An organizer's download, as bytes (a workbook, or a CSV).
pub(crate) async fn download_bytes(app: &TestApp, file: &str) -> Vec<u8> {
    let mut stream = tcp_connect(app.addr).await;
    let token = app.token(Role::Organizer);
    let request = format!("GET /api/events/{EVENT}/{file}?token={token} HTTP/1.0\r\nHost: {}\r\n\r\n", app.addr);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    read_to_close(&mut stream, &mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    assert!(response.starts_with(b"HTTP/1.0 200") || response.starts_with(b"HTTP/1.1 200"));
    response.split_off(split)
}

/// The records of a CSV file, each as its fields.
fn records(csv: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(csv.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

#[tokio::test]
async fn text_that_a_spreadsheet_would_run_is_quoted_in_csv_exports_and_imports_back_unchanged() {
    let app = spawn_app().await;
    let hyperlink = r#"=HYPERLINK("https://evil.example","Click")"#;
    let plan = download(&app, "plan.csv").await.replacen(
        ",Keynote speeches,",
        r#","=HYPERLINK(""https://evil.example"",""Click"")","#,
        1,
    );
    let plan = plan.replacen(",Opening ceremony,", ",@SUM(1+1),", 1);
    let (status, answer) = import_csv(&app, "apply=true", &plan).await;
    assert_eq!(status, 200, "{answer}");

    let exported = download(&app, "plan.csv").await;
    let rows = records(&exported);
    let title = rows[0].iter().position(|c| c == "title_en").unwrap();
    let titles: Vec<&str> = rows[1..].iter().map(|r| r[title].as_str()).collect();
    assert!(titles.contains(&"'@SUM(1+1)") && titles.contains(&format!("'{hyperlink}").as_str()), "{titles:?}");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?} would run as a formula");
        }
    }
    let (status, answer) = import_csv(&app, "", &exported).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["differences"], json!([]), "the quotes are taken off again");
    let (_, welcome) = app.join(Role::Organizer, "Checker").await;
    let segments = welcome["snapshot"]["segments"].as_array().unwrap();
    assert!(segments.iter().any(|s| s["title"]["en"] == hyperlink), "the plan holds the text as typed");

    let record = records(&download(&app, "record.csv").await);
    let titles: Vec<&str> = record[1..].iter().map(|r| r[1].as_str()).collect();
    assert!(titles.contains(&"'@SUM(1+1)") && titles.contains(&format!("'{hyperlink}").as_str()), "{titles:?}");
}

/// An Excel date-time as the local time it shows, to the second.
fn excel_time(days: f64) -> String {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let at = epoch + Duration::milliseconds((days * 86_400_000.0).round() as i64);
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The sheet's rows, the header first.
fn sheet_rows(workbook: &[u8]) -> Vec<Vec<Data>> {
    let mut book = Xlsx::new(Cursor::new(workbook.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    book.worksheet_range(&name).unwrap().rows().map(<[Data]>::to_vec).collect()
}

#[tokio::test]
async fn workbooks_hold_planned_starts_and_record_times_as_time_cells() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");

    let plan = sheet_rows(&download_bytes(&app, "plan.xlsx").await);
    let start = plan[0].iter().position(|c| c == &Data::String("start".into())).unwrap();
    let csv = records(&download(&app, "plan.csv").await);
    for (row, text) in plan[1..].iter().zip(&csv[1..]) {
        let Data::DateTime(at) = &row[start] else { panic!("the start {:?} is not a time cell", row[start]) };
        assert!(at.is_datetime() && (0.0..1.0).contains(&at.as_f64()), "a time of day: {at:?}");
        assert_eq!(excel_time(at.as_f64())[11..16], text[start], "the time the CSV gives");
    }

    let record = sheet_rows(&download_bytes(&app, "record.xlsx").await);
    let csv = records(&planned_vs_actual(&download(&app, "record.csv").await).join("\n"));
    assert_eq!(record.len(), csv.len());
    for (row, text) in record[1..].iter().zip(&csv[1..]) {
        for column in [2, 4, 5] {
            match &row[column] {
                Data::DateTime(at) => {
                    assert!(at.as_f64() > 40_000.0, "a date and a time: {at:?}");
                    assert!(text[column].starts_with(&excel_time(at.as_f64())), "{at:?} is {}", text[column]);
                }
                Data::Empty => assert_eq!(text[column], ""),
                other => panic!("{other:?} in column {column} is not a time cell"),
            }
        }
        assert!(matches!(row[3], Data::Float(_)), "minutes are numbers: {:?}", row[3]);
    }
    assert!(matches!(record[1][4], Data::DateTime(_)), "the first segment has started: {:?}", record[1]);
}

#[tokio::test]
async fn the_record_adds_each_sides_and_each_persons_floor_time_as_a_second_table() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let formula = "=cmd|' /C calc'!A0";
    let (mut attendee, _) = app.join(Role::Attendee, formula).await;
    let ask = json!({"queue": "round-table", "side": "jp"});
    assert_eq!(attendee.run("queue_request", ask).await["type"], "ack");
    assert_eq!(chair.run("queue_next", json!({"queue": "round-table", "version": 0})).await["type"], "ack");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(chair.run("queue_stop", json!({"queue": "round-table", "version": 1})).await["type"], "ack");

    let rows = records(&download(&app, "record.csv").await);
    assert!(rows.iter().all(|r| r.len() == 9), "one valid table of nine columns: {rows:?}");
    let blank = rows.iter().position(|r| r.iter().all(String::is_empty)).expect("an empty row between the tables");
    let header = &rows[blank + 1];
    assert_eq!(header[..6], ["speaking", "segment", "side", "name", "person", "spoken_minutes"]);
    let speaking = &rows[blank + 2..];
    let row = |kind: &str, side: &str| {
        speaking
            .iter()
            .find(|r| r[0] == kind && r[2] == side)
            .unwrap_or_else(|| panic!("no {kind} {side}: {speaking:?}"))
    };
    let cn = row("side", "cn");
    assert_eq!((cn[3].as_str(), cn[6].as_str(), cn[7].as_str()), ("Chinese delegation", "1", "30.0"), "{cn:?}");
    assert_eq!(row("side", "jp")[6], "1");
    assert_eq!(row("side", "floor")[6], "0", "every side is listed");
    let floor_here = row("side in segment", "floor");
    assert_eq!((floor_here[1].as_str(), floor_here[7].as_str()), ("round-table", "10.0"), "its budget there");
    let ma = speaking.iter().find(|r| r[0] == "person" && r[4] == "speaker:round-table-1").expect("Ma Junjie");
    assert_eq!((ma[2].as_str(), ma[3].as_str(), ma[6].as_str()), ("cn", "Ma Junjie", "1"));
    let asked = speaking.iter().find(|r| r[0] == "person" && r[2] == "jp").expect("the attendee who spoke");
    assert_eq!(asked[3], format!("'{formula}"), "quoted, so that a spreadsheet does not run it");
    assert!(asked[4].starts_with("who:"), "{asked:?}");
    for cell in rows.iter().flatten() {
        assert!(!cell.starts_with(['=', '+', '@', '\t', '\r']), "{cell:?} would run as a formula");
    }

    let mut book = Xlsx::new(Cursor::new(download_bytes(&app, "record.xlsx").await)).unwrap();
    assert_eq!(book.sheet_names(), ["Planned vs actual", "Speaking time"]);
    let sheet: Vec<Vec<Data>> = book.worksheet_range("Speaking time").unwrap().rows().map(<[Data]>::to_vec).collect();
    assert_eq!(sheet.len(), speaking.len() + 1, "the same table under its header");
    let asked = sheet.iter().find(|r| r[2] == Data::String("jp".into()) && r[0] == Data::String("person".into()));
    let asked = asked.expect("the attendee's row");
    assert_eq!(asked[3], Data::String(formula.into()), "a text cell, as typed");
    assert!(matches!((&asked[5], &asked[6]), (Data::Float(_), Data::Float(_))), "numbers: {asked:?}");
}
