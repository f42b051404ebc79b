use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{http_request, spawn_app, TestApp, EVENT};

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
    let rows: Vec<&str> = csv.lines().collect();
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
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[1].starts_with("opening,"), "{csv}");
    assert!(rows[2].starts_with("tea,Tea,"), "the break added live is the second run: {csv}");
    assert_eq!(rows.len(), 6, "a header, two runs and three segments not yet run: {csv}");
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
