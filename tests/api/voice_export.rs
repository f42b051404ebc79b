//! The organizer's exports of questions and polls: CSV read back with the csv crate, and
//! workbooks read back with openpyxl, as a spreadsheet script reads them; text a spreadsheet
//! would run stays text.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::export::download_bytes;
use crate::helpers::{python_json, spawn_app, EVENT};
use crate::import::{upload, XLSX};
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

/// Runs a python `script` with openpyxl on the workbook (its path is `sys.argv[1]`; what
/// it saves to `sys.argv[2]` comes back): what it prints, as JSON, and what it saved.
async fn openpyxl(script: &str, workbook: &[u8]) -> (Value, Option<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let (path, saved) = (dir.path().join("export.xlsx"), dir.path().join("saved.xlsx"));
    std::fs::write(&path, workbook).unwrap();
    let script = format!("import json, sys, openpyxl\n{script}");
    let printed = python_json(&script, &[&path, &saved], "openpyxl 3.1.5").await;
    (printed, std::fs::read(saved).ok())
}

/// Every cell of the workbook's first sheet as openpyxl reads it: `[value, data_type]`.
async fn openpyxl_cells(workbook: &[u8]) -> Value {
    let script = "ws = openpyxl.load_workbook(sys.argv[1]).worksheets[0]\n\
                  print(json.dumps({'title': ws.title, 'rows': [[[str(c.value) if c.value is not None else None, c.data_type] for c in r] for r in ws.iter_rows()]}))";
    openpyxl(script, workbook).await.0
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

#[tokio::test]
async fn prepared_polls_go_out_and_come_back_in_the_plan_workbooks_polls_sheet() {
    let app = spawn_app().await;
    let organizer = app.token(Role::Organizer);
    // A spreadsheet user's edit: the demo poll reworded, a second poll added.
    let script = "book = openpyxl.load_workbook(sys.argv[1])\n\
                  ws = book['Polls']\n\
                  rows = [[c.value for c in r] for r in ws.iter_rows()]\n\
                  head = rows[0]\n\
                  ws.cell(row=2, column=head.index('question_en') + 1, value='Where shall we meet next?')\n\
                  new = {'id': 'lunch', 'segment': 'round-table', 'question_en': 'Lunch?', 'question_ja': '昼食は？',\n\
                         'options_en': 'Noodles\\nDumplings', 'options_ja': '麺\\n餃子', 'multiple': 'yes', 'results': 'live'}\n\
                  ws.append([new.get(h) for h in head])\n\
                  book.save(sys.argv[2])\n\
                  print(json.dumps({'sheets': book.sheetnames, 'rows': rows}))";
    let (read, edited) = openpyxl(script, &download_bytes(&app, "plan.xlsx").await).await;
    assert_eq!(read["sheets"], json!(["Run of show", "Polls", "Columns"]));
    let (head, demo) = (&read["rows"][0], &read["rows"][1]);
    assert_eq!(
        head,
        &json!([
            "id",
            "segment",
            "question_en",
            "question_zh",
            "question_ja",
            "options_en",
            "options_zh",
            "options_ja",
            "multiple",
            "anonymous",
            "results"
        ])
    );
    assert_eq!(
        (&demo[0], &demo[1], &demo[8], &demo[10]),
        (&json!("next-forum"), &json!("round-table"), &json!("no"), &json!("closed"))
    );
    assert_eq!(demo[5].as_str().unwrap().lines().count(), 3, "one option per line: {demo}");

    let (mut watching, _) = join_as(app.addr, app.token(Role::Moderator), "Kato", "kato").await;
    let (status, answer) = upload(&app, organizer, "apply=true", XLSX, &edited.unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["differences"], json!(["~ poll \"next-forum\"", "+ poll \"lunch\" (2 options)"]));
    // An open console's poll list follows: a poll change for each draft the import made.
    let mut drafted = Vec::new();
    while drafted.len() < 2 {
        let frame = watching.next_frame().await;
        if frame["type"] == "change" && frame["change"]["kind"] == "poll" {
            assert_eq!(frame["change"]["op"], "plan_replace", "{frame}");
            drafted.push(frame["change"]["poll"]["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(drafted, ["next-forum", "lunch"]);
    let (_, welcome) = join_as(app.addr, app.token(Role::Moderator), "Fukuda", "chair").await;
    let polls = welcome["snapshot"]["polls"]["polls"].as_array().unwrap();
    let poll = |id: &str| polls.iter().find(|p| p["id"] == id).unwrap_or_else(|| panic!("{id} in {polls:?}"));
    assert_eq!(poll("next-forum")["question"]["en"], "Where shall we meet next?", "a draft takes the new wording");
    let lunch = poll("lunch");
    assert_eq!(
        (lunch["state"].as_str(), lunch["multiple"].as_bool(), lunch["results"].as_str()),
        (Some("draft"), Some(true), Some("live"))
    );
    assert_eq!(
        (lunch["options"][1]["ja"].as_str(), lunch["options"][1]["zh"].as_str()),
        (Some("餃子"), Some("Dumplings"))
    );

    // A poll of one option, in a workbook a spreadsheet saved: refused whole, the sheet named.
    let script = "book = openpyxl.load_workbook(sys.argv[1])\n\
                  book['Polls'].append(['one', None, 'Only one?', None, None, 'Yes'])\n\
                  book.save(sys.argv[2])\n\
                  print('{}')";
    let (_, bad) = openpyxl(script, &download_bytes(&app, "plan.xlsx").await).await;
    let (status, answer) = upload(&app, organizer, "apply=true", XLSX, &bad.unwrap()).await;
    assert_eq!((status, answer["code"].as_str()), (422, Some("invalid_file")), "{answer}");
    let error = &answer["errors"][0];
    assert_eq!((error["sheet"].as_str(), error["row"].as_u64()), (Some("Polls"), Some(4)), "{answer}");
    assert!(error["message"].as_str().unwrap().contains("2 to 10 options"), "{answer}");
}
