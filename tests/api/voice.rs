//! The audience's voice over the wire: written questions (moderation, anonymity, what each
//! viewer sees), votes gathered into batches and acknowledged once, polls with live and
//! hidden results, each command's errors by role, and nothing acknowledged lost to a kill -9.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::crash::{kill_9, launch};
use crate::helpers::{spawn_app, Client, TestApp};
use crate::retries::{join_as, reply_to};

/// Reads frames until one satisfies `wanted`, and returns it.
async fn until(client: &mut Client, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = client.next_frame().await;
        if wanted(&frame) {
            return frame;
        }
    }
}

/// The change frame with `seq`.
async fn change_at(client: &mut Client, seq: u64) -> Value {
    until(client, |f| f["type"] == "change" && f["seq"] == seq).await
}

/// Sends a command and returns the change frames that came before its reply, and the reply.
async fn run_seeing(client: &mut Client, kind: &str, fields: Value) -> (Vec<Value>, Value) {
    let id = client.command(kind, fields).await;
    let mut changes = Vec::new();
    loop {
        let frame = client.next_frame().await;
        if frame["id"] == id.as_str() {
            return (changes, frame);
        }
        if frame["type"] == "change" {
            changes.push(frame);
        }
    }
}

fn acked(reply: &Value) -> u64 {
    assert_eq!(reply["type"], "ack", "{reply}");
    reply["seq"].as_u64().unwrap()
}

async fn chair_at_round_table(app: &TestApp) -> Client {
    let (mut chair, _) = join_as(app.addr, app.token(Role::Moderator), "Fukuda", "chair").await;
    acked(&chair.run("goto", json!({"segment": "round-table"})).await);
    chair
}

async fn attendee(app: &TestApp, participant: &str) -> (Client, String) {
    let (client, welcome) = join_as(app.addr, app.token(Role::Attendee), participant, participant).await;
    (client, welcome["you"]["who"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_moderated_question_reaches_the_chair_and_its_asker_first_and_everyone_once_approved() {
    let app = spawn_app().await;
    let mut chair = chair_at_round_table(&app).await;
    let (mut asker, asker_who) = attendee(&app, "asker").await;
    let (mut other, _) = attendee(&app, "other").await;

    let ask = json!({"text": "データ共有の\u{200b}ルールは？", "lang": "ja", "anonymous": true});
    let (mut changes, reply) = run_seeing(&mut asker, "question_ask", ask).await;
    let seq = acked(&reply);
    let own = changes.pop().unwrap();
    assert_eq!(own["seq"].as_u64(), Some(seq));
    assert_eq!(own["change"]["kind"], "question", "{own}");
    let question = &own["change"]["question"];
    assert_eq!(
        (question["state"].as_str(), question["text"].as_str()),
        (Some("pending"), Some("データ共有のルールは？"))
    );
    assert_eq!((question["who"].as_str(), question["name"].as_str()), (Some(asker_who.as_str()), Some("asker")));
    assert_eq!(change_at(&mut other, seq).await["change"]["kind"], "hidden", "pending is for the chair and the asker");
    let seen = change_at(&mut chair, seq).await;
    assert_eq!(
        (seen["change"]["question"]["name"].as_str(), seen["change"]["question"]["anonymous"].as_bool()),
        (Some("asker"), Some(true))
    );
    let id = seen["change"]["question"]["id"].as_u64().unwrap();

    let approved = acked(&chair.run("question_approve", json!({"question": id})).await);
    let public = until(&mut other, |f| f["type"] == "change" && f["change"]["kind"] == "question").await;
    assert_eq!(public["seq"].as_u64().unwrap(), approved - 1, "the question, then the board");
    let question = &public["change"]["question"];
    assert_eq!(question["state"], "approved");
    assert_eq!(
        (question["name"].clone(), question["who"].clone()),
        (Value::Null, Value::Null),
        "anonymous to the audience"
    );
    let board = change_at(&mut other, approved).await;
    assert_eq!(board["change"]["board"]["order"], json!([id]));
    let again = chair.run("question_approve", json!({"question": id})).await;
    assert_eq!(again["code"], "invalid_state", "a double click approves once: {again}");

    // A page joining later sees it, anonymous, in its welcome; the chair sees who asked.
    let (_, welcome) = join_as(app.addr, app.token(Role::Attendee), "late", "late").await;
    let items = &welcome["snapshot"]["questions"]["items"];
    assert_eq!((items[0]["text"].as_str(), items[0]["name"].clone()), (Some("データ共有のルールは？"), Value::Null));
    let (_, welcome) = join_as(app.addr, app.token(Role::Moderator), "Ji", "second-chair").await;
    assert_eq!(welcome["snapshot"]["questions"]["items"][0]["name"], "asker");
}

#[tokio::test]
async fn a_rejection_reason_goes_to_the_asker_alone() {
    let app = spawn_app().await;
    let mut chair = chair_at_round_table(&app).await;
    let (mut asker, _) = attendee(&app, "asker").await;
    let (mut other, _) = attendee(&app, "other").await;
    acked(&asker.run("question_ask", json!({"text": "Off topic"})).await);
    let rejected = acked(&chair.run("question_reject", json!({"question": 1, "reason": "not this panel"})).await);
    let own = change_at(&mut asker, rejected).await;
    assert_eq!(
        (own["change"]["question"]["state"].as_str(), own["change"]["question"]["reason"].as_str()),
        (Some("rejected"), Some("not this panel"))
    );
    let public = change_at(&mut other, rejected).await;
    assert_eq!(public["change"]["question"], json!({"id": 1, "state": "rejected"}), "{public}");
}

#[tokio::test]
async fn each_command_is_refused_by_role_and_input_with_its_code_and_nothing_changes() {
    let app = spawn_app().await;
    let chair = chair_at_round_table(&app).await;
    let (person, _) = attendee(&app, "person").await;
    let (av, _) = join_as(app.addr, app.token(Role::Av), "Booth", "booth").await;
    let (display, _) = join_as(app.addr, app.token(Role::Display), "Lobby", "lobby").await;
    let mut clients = [chair, person, av, display];
    let (chair, person, av, display) = (0, 1, 2, 3);
    let cases = [
        (av, "question_ask", json!({"text": "?"}), "forbidden"),
        (person, "question_ask", json!({"text": "字".repeat(281)}), "invalid_field"),
        (person, "question_ask", json!({"text": "\u{200b} "}), "invalid_field"),
        (person, "question_ask", json!({"text": "?", "segment": "opening"}), "invalid_state"),
        (person, "question_ask", json!({"text": "?", "segment": "nowhere"}), "invalid_field"),
        (person, "question_ask", json!({"text": 5}), "invalid_field"),
        (person, "question_approve", json!({"question": 1}), "forbidden"),
        (person, "question_highlight", json!({"question": null}), "forbidden"),
        (person, "question_settings", json!({"mode": "open"}), "forbidden"),
        (person, "poll_open", json!({"poll": "next-forum"}), "forbidden"),
        (person, "poll_vote", json!({"poll": "next-forum", "choices": [0]}), "invalid_state"),
        (person, "poll_vote", json!({"poll": "nope", "choices": [0]}), "invalid_field"),
        (person, "question_vote", json!({"question": 99}), "invalid_field"),
        (display, "question_vote", json!({"question": 1}), "forbidden"),
        (chair, "question_answer", json!({"question": 99}), "invalid_field"),
        (chair, "question_highlight", json!({"question": null}), "invalid_state"),
        (chair, "poll_close", json!({"poll": "next-forum"}), "invalid_state"),
        (
            chair,
            "poll_define",
            json!({"poll": "x", "question": {"zh": "问", "ja": "問", "en": "Q"}, "options": []}),
            "invalid_field",
        ),
        (chair, "question_settings", json!({"segment": "nowhere", "mode": "open"}), "invalid_field"),
    ];
    for (who, kind, fields, code) in cases {
        let reply = clients[who].run(kind, fields.clone()).await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some(code)),
            "{kind} {fields}: {reply}"
        );
    }
    let person = &mut clients[person];
    acked(&person.run("question_ask", json!({"text": "first"})).await);
    let fast = person.run("question_ask", json!({"text": "second"})).await;
    assert_eq!(fast["code"], "rate_limited", "{fast}");
    let (_, welcome) = join_as(app.addr, app.token(Role::Moderator), "Ji", "second-chair").await;
    assert_eq!(welcome["snapshot"]["questions"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(welcome["snapshot"]["polls"]["polls"][0]["state"], "draft");
    person.still_works().await;
}

#[tokio::test]
async fn forty_upvotes_at_once_are_acknowledged_each_and_sent_in_a_few_batches() {
    let app = spawn_app().await;
    let mut chair = chair_at_round_table(&app).await;
    acked(&chair.run("question_settings", json!({"segment": "round-table", "mode": "open"})).await);
    let (mut asker, _) = attendee(&app, "asker").await;
    acked(&asker.run("question_ask", json!({"text": "What comes next?"})).await);
    let mut voters = Vec::new();
    for k in 0..40 {
        voters.push(attendee(&app, &format!("voter-{k}")).await.0);
    }
    let votes = voters.iter_mut().enumerate().map(|(k, client)| async move {
        let frame = json!({"type": "question_vote", "id": format!("vote-{k}"), "question": 1});
        acked(&reply_to(client, frame).await)
    });
    let seqs = futures_util::future::join_all(votes).await;
    let mut frames = 0;
    loop {
        let frame = until(&mut chair, |f| f["type"] == "change" && f["change"]["kind"] == "votes").await;
        frames += 1;
        assert!(frame["change"].get("ballots").is_none(), "who voted never leaves the server: {frame}");
        if frame["change"]["questions"][0]["votes"] == 40 {
            assert_eq!(frame["seq"].as_u64(), seqs.iter().max().copied());
            break;
        }
    }
    assert!(frames < 10, "forty votes at once came in {frames} frames");

    // A retry is answered with its first ack; a vote taken back counts down.
    let retry = reply_to(&mut voters[3], json!({"type": "question_vote", "id": "vote-3", "question": 1})).await;
    assert_eq!(acked(&retry), seqs[3]);
    let again = voters[3].run("question_vote", json!({"question": 1})).await;
    assert_eq!(again["code"], "invalid_state", "one vote each: {again}");
    let down = acked(&voters[3].run("question_vote", json!({"question": 1, "up": false})).await);
    assert_eq!(change_at(&mut chair, down).await["change"]["questions"][0]["votes"], 39);
    let (_, welcome) = join_as(app.addr, app.token(Role::Attendee), "voter-5", "voter-5").await;
    assert_eq!(welcome["snapshot"]["questions"]["voted"], json!([1]), "a page knows what its person voted for");
}

#[tokio::test]
async fn poll_results_show_live_or_after_close_as_defined() {
    let app = spawn_app().await;
    let mut chair = chair_at_round_table(&app).await;
    let (mut phone, _) = attendee(&app, "phone-1").await;
    let (mut second, _) = attendee(&app, "phone-2").await;
    let (mut watcher, _) = attendee(&app, "watcher").await;
    let define = json!({"poll": "lunch", "question": {"zh": "午餐？", "ja": "昼食は？", "en": "Lunch?"},
        "options": [{"zh": "中餐", "ja": "中華", "en": "Chinese"}, {"zh": "日料", "ja": "和食", "en": "Japanese"}],
        "multiple": true, "results": "live"});
    let defined = acked(&chair.run("poll_define", define).await);
    assert_eq!(change_at(&mut watcher, defined).await["change"]["kind"], "hidden", "a draft is the chair's");
    let opened = acked(&chair.run("poll_open", json!({"poll": "lunch"})).await);
    let poll = change_at(&mut watcher, opened).await["change"]["poll"].clone();
    assert_eq!((poll["state"].as_str(), poll["counts"].clone()), (Some("open"), json!([0, 0])));
    acked(&phone.run("poll_vote", json!({"poll": "lunch", "choices": [0, 1]})).await);
    let last = acked(&second.run("poll_vote", json!({"poll": "lunch", "choices": [1]})).await);
    let counts = change_at(&mut watcher, last).await;
    assert_eq!(counts["change"]["polls"][0], json!({"poll": "lunch", "counts": [1, 2], "voters": 2}));

    // The demo's poll shows its results once closed; the chair sees them all along.
    acked(&chair.run("poll_open", json!({"poll": "next-forum"})).await);
    let voted = acked(&phone.run("poll_vote", json!({"poll": "next-forum", "choices": [2]})).await);
    let hidden = json!({"poll": "next-forum", "counts": null, "voters": 1});
    assert_eq!(change_at(&mut second, voted).await["change"]["polls"][0], hidden);
    assert_eq!(change_at(&mut chair, voted).await["change"]["polls"][0]["counts"], json!([0, 0, 1]));
    let closed = acked(&chair.run("poll_close", json!({"poll": "next-forum"})).await);
    let after = change_at(&mut second, closed).await["change"]["poll"].clone();
    assert_eq!((after["state"].as_str(), after["counts"].clone()), (Some("closed"), json!([0, 0, 1])));
    let late = phone.run("poll_vote", json!({"poll": "next-forum", "choices": [0]})).await;
    assert_eq!(late["code"], "invalid_state", "{late}");
    let (_, welcome) = join_as(app.addr, app.token(Role::Attendee), "phone-1", "phone-1").await;
    assert_eq!(welcome["snapshot"]["polls"]["mine"], json!({"lunch": [0, 1], "next-forum": [2]}));
}

#[tokio::test]
async fn a_hard_kill_during_a_poll_and_moderation_loses_no_acknowledged_vote_or_question() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let (mut chair, _) = join_as(server.addr, &server.tokens["moderator"], "Fukuda", "chair").await;
    acked(&chair.run("goto", json!({"segment": "round-table"})).await);
    acked(&chair.run("poll_open", json!({"poll": "next-forum"})).await);
    let mut phones = Vec::new();
    for k in 0..12 {
        phones.push(join_as(server.addr, &server.tokens["attendee"], &format!("p{k}"), &format!("p{k}")).await.0);
    }
    // Votes and questions keep coming while the server is killed: only the acknowledged count.
    let sends = phones.into_iter().enumerate().map(|(k, mut phone)| async move {
        let mut acked: (Option<u64>, usize) = (None, 0);
        let vote = json!({"type": "poll_vote", "id": format!("v{k}"), "poll": "next-forum", "choices": [k % 3]});
        let ask = json!({"type": "question_ask", "id": format!("q{k}"), "text": format!("question {k}")});
        for (n, frame) in [vote, ask].into_iter().enumerate() {
            phone.send(frame.clone()).await;
            loop {
                match phone.try_next_frame().await {
                    Some(reply) if reply["id"] == frame["id"] => {
                        if reply["type"] == "ack" && n == 0 {
                            acked.0 = reply["seq"].as_u64();
                        } else if reply["type"] == "ack" {
                            acked.1 += 1;
                        }
                        break;
                    }
                    Some(_) => continue,
                    None => return acked,
                }
            }
        }
        acked
    });
    let running = tokio::spawn(futures_util::future::join_all(sends));
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill_9(&mut server.child).await;
    let outcomes = running.await.unwrap();
    let votes = outcomes.iter().filter(|o| o.0.is_some()).count() as u32;
    let questions: usize = outcomes.iter().map(|o| o.1).sum();

    let server = launch(data.path()).await;
    let (_, welcome) = join_as(server.addr, &server.tokens["moderator"], "Fukuda", "chair").await;
    let poll = &welcome["snapshot"]["polls"]["polls"][0];
    let counted: u32 = poll["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap() as u32).sum();
    assert!(counted >= votes && poll["voters"].as_u64().unwrap() as u32 == counted, "{votes} acked, {poll}");
    let items = welcome["snapshot"]["questions"]["items"].as_array().unwrap();
    assert!(items.len() >= questions, "{questions} questions acked, {} stored", items.len());
    assert!(items.iter().all(|q| q["state"] == "pending"), "moderated: all wait for the chair");
    // An attendee's page coming back sees the same number of voters, and its own ballot.
    let (_, fresh) = join_as(server.addr, &server.tokens["attendee"], "p0", "p0").await;
    assert_eq!(fresh["snapshot"]["polls"]["polls"][0]["voters"], poll["voters"]);
    if let Some(seq) = outcomes[0].0 {
        assert_eq!(fresh["snapshot"]["polls"]["mine"], json!({"next-forum": [0]}));
        // Re-sent after the restart, the vote gets the ack it got before, and counts once.
        let (mut p0, _) = join_as(server.addr, &server.tokens["attendee"], "p0", "p0").await;
        let retry = json!({"type": "poll_vote", "id": "v0", "poll": "next-forum", "choices": [0]});
        assert_eq!(acked(&reply_to(&mut p0, retry).await), seq);
    }
}
