//! Importing and exporting the run of show as files: over HTTP, and with `eventhub import`.

use std::net::SocketAddr;
use std::process::Stdio;

use eventhub::domain::Role;
use rust_xlsxwriter::Workbook;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::crash::launch;
use crate::helpers::{read_to_close, spawn_app, tcp_connect, Client, TestApp, EVENT, HTTP_PATIENCE};

const CSV: &str = "text/csv";
pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Status, head and body bytes of an HTTP/1.0 request.
async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = tcp_connect(addr).await;
    let request = format!("{head}Host: {addr}\r\nContent-Length: {}\r\n\r\n", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    read_to_close(&mut stream, &mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |k| k + 4);
    let status = String::from_utf8_lossy(&response[..split]).split_whitespace().nth(1).and_then(|s| s.parse().ok());
    (status.unwrap_or(0), response[split..].to_vec())
}

/// Status and JSON answer of a plan upload with `query`.
pub(crate) async fn upload(app: &TestApp, token: &str, query: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let head = format!(
        "POST /api/events/{EVENT}/plan?{query} HTTP/1.0\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
    );
    let (status, body) = request(app.addr, &head, body).await;
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body))))
}

async fn download(app: &TestApp, file: &str) -> Vec<u8> {
    let token = app.token(Role::Organizer);
    let (status, body) =
        request(app.addr, &format!("GET /api/events/{EVENT}/{file}?token={token} HTTP/1.0\r\n"), b"").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

/// A small plan written as Excel would: numbers as numbers, speakers one per line.
fn workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let rows: [[&str; 5]; 3] = [
        ["id", "kind", "duration", "title_en", "speakers_en"],
        ["welcome", "ceremony", "10", "Welcome, day two", "Ji Weidong"],
        ["talks", "keynote", "45", "Talks of day two", "Zhang Ying\nLu Ming"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) => sheet.write_number(r as u32, c as u16, n).unwrap(),
                Err(_) => sheet.write_string(r as u32, c as u16, *cell).unwrap(),
            };
        }
    }
    book.save_to_buffer().unwrap()
}

/// The next plan change, skipping other changes.
async fn next_plan(client: &mut Client) -> Value {
    loop {
        let frame = client.expect("change").await;
        if frame["change"]["kind"] == "plan" {
            return frame;
        }
    }
}

async fn plan_version(app: &TestApp) -> u64 {
    let (_, welcome) = app.join(Role::Organizer, "Checker").await;
    welcome["snapshot"]["plan_version"].as_u64().unwrap()
}

#[tokio::test]
async fn an_applied_xlsx_reaches_every_client_as_one_plan_change() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let seq = chair.seq;
    let (status, answer) = upload(&app, app.token(Role::Organizer), "apply=true", XLSX, &workbook()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], true);
    assert_eq!(answer["plan_version"], 1);
    assert!(answer["differences"].as_array().unwrap().iter().any(|d| d == "- segment \"opening\""), "{answer}");
    let change = next_plan(&mut chair).await;
    assert_eq!(change["seq"], seq + 1, "no gap in seq: {change}");
    assert_eq!(change["change"]["op"], "plan_replace");
    assert_eq!(change["change"]["plan_version"], 1);
    let segments = change["change"]["plan"]["segments"].as_array().unwrap();
    assert_eq!(segments[0]["title"]["en"], "Welcome, day two");
    assert_eq!(segments[1]["speakers"][1]["name"]["en"], "Lu Ming");
}

#[tokio::test]
async fn a_csv_with_errors_is_refused_whole_with_every_error_by_row_and_column() {
    let app = spawn_app().await;
    let file = "kind,duration,title_en\nspeech,1h20,Talk\ntalk,20,Panel\nbreak,10,\n";
    let (status, answer) = upload(&app, app.token(Role::Organizer), "apply=true", CSV, file.as_bytes()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "invalid_file");
    let errors: Vec<(u64, &str)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "duration"), (3, "kind"), (4, "title_en")], "{answer}");
    assert_eq!(plan_version(&app).await, 0, "nothing was applied");
}

#[tokio::test]
async fn a_dry_run_lists_the_differences_and_changes_nothing() {
    let app = spawn_app().await;
    let plan = String::from_utf8(download(&app, "plan.csv").await).unwrap().replace(",Keynote speeches,", ",Keynotes,");
    let (status, answer) = upload(&app, app.token(Role::Organizer), "", CSV, plan.as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"applied": false, "plan_version": 0, "differences": ["~ \"keynotes\" title en: \"Keynote speeches\" → \"Keynotes\""]})
    );
    assert_eq!(plan_version(&app).await, 0);
}

#[tokio::test]
async fn a_live_show_needs_force_and_keeps_its_live_segment() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let plan = String::from_utf8(download(&app, "plan.csv").await).unwrap().replace(",Keynote speeches,", ",Keynotes,");
    let token = app.token(Role::Organizer);
    let (status, answer) = upload(&app, token, "apply=true", CSV, plan.as_bytes()).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("invalid_state")), "{answer}");
    let (status, answer) = upload(&app, token, "apply=true&force=true", CSV, plan.as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let change = next_plan(&mut chair).await;
    assert_eq!(change["change"]["plan"]["segments"][1]["title"]["en"], "Keynotes");
    let (_, welcome) = app.join(Role::Organizer, "Checker").await;
    assert_eq!(welcome["snapshot"]["live"]["segment"], 0, "{welcome}");
    assert_eq!(welcome["snapshot"]["live"]["phase"], chair.live["phase"]);
}

#[tokio::test]
async fn an_import_reviewed_against_an_older_plan_is_a_conflict() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let edit = json!({"plan_version": 0, "segment": "opening", "duration_min": 25});
    assert_eq!(chair.run("plan_update_segment", edit).await["type"], "ack");
    let (status, answer) =
        upload(&app, app.token(Role::Organizer), "apply=true&plan_version=0", XLSX, &workbook()).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("conflict")), "{answer}");
}

#[tokio::test]
async fn only_the_organizer_token_may_import_or_export() {
    let app = spawn_app().await;
    let (status, answer) = upload(&app, app.token(Role::Attendee), "apply=true", XLSX, &workbook()).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")), "{answer}");
    let (status, answer) = upload(&app, "nope", "", XLSX, &workbook()).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("unauthorized")), "{answer}");
    let (status, answer) = upload(&app, app.token(Role::Organizer), "", "image/png", b"\x89PNG").await;
    assert_eq!((status, answer["code"].as_str()), (415, Some("unsupported_media_type")), "{answer}");
    let (status, _) = request(app.addr, &format!("GET /api/events/{EVENT}/plan.xlsx HTTP/1.0\r\n"), b"").await;
    assert_eq!(status, 401);
    let head =
        format!("POST /api/events/nope/plan HTTP/1.0\r\nAuthorization: Bearer {}\r\n", app.token(Role::Organizer));
    assert_eq!(request(app.addr, &head, b"").await.0, 404);
}

#[tokio::test]
async fn an_exported_plan_imports_with_no_differences() {
    let app = spawn_app().await;
    let xlsx = download(&app, "plan.xlsx").await;
    let (status, answer) = upload(&app, app.token(Role::Organizer), "", XLSX, &xlsx).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["differences"], json!([]));
    let record = download(&app, "record.xlsx").await;
    assert!(record.starts_with(b"PK\x03\x04"), "the record is a workbook");
}

/// Runs `eventhub import` against `server`; returns its exit code and output.
async fn cli(server: SocketAddr, token: &str, file: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventhub"));
    command
        .arg("import")
        .arg(file)
        .args(["--event", EVENT, "--server", &format!("http://{server}")])
        .args(extra)
        .env("EVENTHUB_TOKEN", token)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(HTTP_PATIENCE, command.output())
        .await
        .unwrap_or_else(|_| panic!("eventhub import did not finish within {HTTP_PATIENCE:?}"))
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn the_import_command_dry_runs_applies_and_reports_file_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let token = server.tokens["organizer"].clone();
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("day-two.xlsx");
    std::fs::write(&good, workbook()).unwrap();
    let (code, out, err) = cli(server.addr, &token, &good, &[]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("+ segment \"welcome\" (ceremony, 10 min) first"), "{out}");
    assert!(out.contains("dry run: nothing changed; add --apply"), "{out}");
    let (code, out, err) = cli(server.addr, &token, &good, &["--apply"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("applied: plan version 1"), "{out}");
    let bad = files.path().join("bad.csv");
    std::fs::write(&bad, "kind,duration,title_en\nspeech,1h20,Talk\ntalk,20,Panel\n").unwrap();
    let (code, out, err) = cli(server.addr, &token, &bad, &["--apply"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("row 2, duration: \"1h20\" is not a number of minutes"), "{err}");
    assert!(err.contains("row 3, kind:"), "{err}");
    let (code, _, err) = cli(server.addr, "wrong", &good, &[]).await;
    assert_eq!(code, 2, "{err}");
}

#[tokio::test]
async fn the_import_command_refuses_a_file_past_the_limit_without_reading_it() {
    let files = tempfile::tempdir().unwrap();
    let huge = files.path().join("huge.csv");
    // Sparse: three gigabytes long, next to nothing on disk.
    std::fs::File::create(&huge).unwrap().set_len(3_000_000_000).unwrap();
    // No server listens there: the file is refused before anything is sent.
    let nowhere: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (code, out, err) = cli(nowhere, "token", &huge, &[]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("larger than 2 MiB, the most a plan file may be"), "{err}");
}
