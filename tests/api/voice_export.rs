//! The organizer's exports of questions and polls: CSV read back with the csv crate, and
//! workbooks read back with openpyxl, as a spreadsheet script reads them; text a spreadsheet
//! would run stays text.

use std::process::Stdio;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::export::download_bytes;
use crate::helpers::{spawn_app, EVENT};
use crate::retries::join_as;

/// The CSV's rows as maps from column to value.
fn rows(csv: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv);
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| headers.iter().map(str::to_owned).zip(r.unwrap().iter().map(str::to_owned)).collect())
        .collect()
}

/// Every cell of the workbook's first sheet as openpyxl reads it: `[value, data_type]`.
async fn openpyxl_cells(workbook: &[u8]) -> Value {
    let python = std::env::var("EVENTHUB_PYTHON")
        .unwrap_or_else(|_| panic!("run through ./test, or set EVENTHUB_PYTHON to a python with openpyxl 3.1.5"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xlsx");
    std::fs::write(&path, workbook).unwrap();
    let script = "import json, sys, openpyxl\n\
                  ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n\
                  print(json.dumps({'title': ws.title, 'rows': [[[str(c.value) if c.value is not None else None, c.data_type] for c in r] for r in ws.iter_rows()]}))";
    let output = tokio::process::Command::new(python)
        .args(["-c", script])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("python runs: install openpyxl 3.1.5 (./test does)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn questions_and_poll_results_export_as_csv_and_workbooks_with_formulas_kept_as_text() {
    let app = spawn_app().await;
    let (mut chair, _) = join_as(app.addr, app.token(Role::Moderator), "Fukuda", "chair").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let formula = r#"=HYPERLINK("https://evil.example","Click")"#;
    let (mut mei, _) = join_as(app.addr, app.token(Role::Attendee), "Mei Lin", "mei").await;
    let ask = json!({"text": formula, "anonymous": true, "lang": "zh"});
    assert_eq!(mei.run("question_ask", ask).await["type"], "ack");
    let (mut sato, _) = join_as(app.addr, app.token(Role::Attendee), "Sato", "sato").await;
    assert_eq!(sato.run("question_ask", json!({"text": "データの主権は？"})).await["type"], "ack");
    assert_eq!(chair.run("question_approve", json!({"question": 2})).await["type"], "ack");
    assert_eq!(mei.run("question_vote", json!({"question": 2})).await["type"], "ack");
    assert_eq!(chair.run("question_reject", json!({"question": 1, "reason": "@SUM(1)"})).await["type"], "ack");
    let define = json!({"poll": "named", "question": {"zh": "谁？", "ja": "誰？", "en": "Who?"},
        "options": [{"zh": "甲", "ja": "甲", "en": "+A"}, {"zh": "乙", "ja": "乙", "en": "B"}], "anonymous": false});
    assert_eq!(chair.run("poll_define", define).await["type"], "ack");
    assert_eq!(chair.run("poll_open", json!({"poll": "named"})).await["type"], "ack");
    assert_eq!(mei.run("poll_vote", json!({"poll": "named", "choices": [0]})).await["type"], "ack");
    assert_eq!(sato.run("poll_vote", json!({"poll": "named", "choices": [0]})).await["type"], "ack");

    let questions = rows(&download_bytes(&app, "questions.csv").await);
    assert_eq!(questions.len(), 2);
    let first = &questions[0];
    assert_eq!(first["text"], format!("'{formula}"), "quoted so that it does not run");
    assert_eq!((first["asker"].as_str(), first["anonymous"].as_str()), ("Mei Lin", "yes"), "the organizer knows");
    assert_eq!(
        (first["state"].as_str(), first["reason"].as_str(), first["lang"].as_str()),
        ("rejected", "'@SUM(1)", "zh")
    );
    assert_eq!((questions[1]["votes"].as_str(), questions[1]["state"].as_str()), ("1", "approved"));

    let polls = rows(&download_bytes(&app, "polls.csv").await);
    let named: Vec<_> = polls.iter().filter(|r| r["poll"] == "named").collect();
    assert_eq!((named[0]["ballots"].as_str(), named[0]["option_text"].as_str()), ("2", "'+A"));
    assert_eq!(named[0]["named_voters"], "Mei Lin; Sato");
    assert_eq!((named[1]["ballots"].as_str(), named[1]["voters"].as_str()), ("0", "2"));
    assert!(polls.iter().any(|r| r["poll"] == "next-forum" && r["state"] == "draft"), "prepared polls too");

    let book = openpyxl_cells(&download_bytes(&app, "questions.xlsx").await).await;
    assert_eq!(book["title"], "questions");
    let text = &book["rows"][1][5];
    assert_eq!(text, &json!([formula, "s"]), "a string cell, never a formula: {book}");
    let book = openpyxl_cells(&download_bytes(&app, "polls.xlsx").await).await;
    let option = book["rows"].as_array().unwrap().iter().find(|r| r[0][0] == "named").unwrap();
    assert_eq!((&option[10], &option[11]), (&json!(["+A", "s"]), &json!(["2", "n"])), "{book}");
}

#[tokio::test]
async fn the_voice_exports_need_the_organizer_token() {
    let app = spawn_app().await;
    for file in ["questions.csv", "questions.xlsx", "polls.csv", "polls.xlsx"] {
        let token = app.token(Role::Moderator);
        let (status, _, _) = app.get(&format!("/api/events/{EVENT}/{file}?token={token}")).await;
        assert_eq!(status, 401, "{file}");
        let (status, _, _) = app.get(&format!("/api/events/nope/{file}?token={token}")).await;
        assert_eq!(status, 404, "{file}");
    }
}
