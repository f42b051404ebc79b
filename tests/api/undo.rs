//! A show that one click cannot derail: undo over the wire, one clock on the stage screen,
//! requests that follow the show, stage messages that end with their segment.

use serde_json::{json, Value};

use eventhub::domain::Role;

use crate::helpers::{spawn_app, spawn_app_with, Client};

/// Sends a show command and returns the live state its change carried.
async fn show(chair: &mut Client, kind: &str, fields: Value) -> Value {
    let reply = chair.run(kind, fields).await;
    assert_eq!(reply["type"], "ack", "{kind}: {reply}");
    chair.live.clone()
}

/// The live state without the fields an undo must change: its version and undo depth.
fn moment(live: &Value) -> Value {
    let mut live = live.clone();
    live.as_object_mut().unwrap().retain(|field, _| field != "version" && field != "undo_depth");
    live
}

/// A keynote with its second speaker on, 30 s extended, then on hold.
async fn keynote_on_hold(chair: &mut Client) -> Value {
    show(chair, "goto", json!({"segment": "keynotes"})).await;
    show(chair, "next_speaker", json!({})).await;
    show(chair, "extend", json!({"seconds": 30})).await;
    show(chair, "hold", json!({})).await
}

#[tokio::test]
async fn undo_restores_the_previous_live_state_field_by_field() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut watcher, _) = app.join(Role::Attendee, "watcher").await;
    let steps: [(&str, Value); 6] = [
        ("next", json!({})),
        ("goto", json!({"segment": "closing"})),
        ("extend", json!({"seconds": 300})),
        ("resume", json!({})),
        ("hold", json!({})),
        ("end", json!({})),
    ];
    let mut before = keynote_on_hold(&mut chair).await;
    for (kind, fields) in steps {
        if kind == "hold" {
            before = show(&mut chair, "resume", json!({})).await;
        }
        let after = show(&mut chair, kind, fields).await;
        assert_ne!(moment(&after), moment(&before), "{kind} changed the show");
        let undone = show(&mut chair, "undo", json!({})).await;
        assert_eq!(moment(&undone), moment(&before), "undo after {kind}");
        assert_eq!(undone["version"], after["version"].as_u64().unwrap() + 1, "a new version");
        assert_eq!(undone["undo_depth"], before["undo_depth"]);
        assert!(undone.get("history").is_none(), "clients get the depth, not the history");
    }
    let mut last = Value::Null;
    while chair.seq > watcher.seq {
        last = watcher.expect("change").await;
    }
    assert_eq!(last["change"]["op"], "undo");
    assert_eq!(moment(&last["change"]["live"]), moment(&chair.live));
}

#[tokio::test]
async fn undo_walks_back_twenty_show_commands_then_has_nothing_left() {
    // Forty-one commands as fast as replies come would hit the rate limit's burst of 40.
    let app = spawn_app_with(|settings| settings.limits.frame_burst = 100).await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let mut seen = vec![chair.live.clone()];
    seen.push(show(&mut chair, "next", json!({})).await);
    for seconds in 1..=19 {
        seen.push(show(&mut chair, "extend", json!({"seconds": seconds})).await);
    }
    seen.pop();
    assert_eq!(chair.live["undo_depth"], 20);
    while let Some(expected) = seen.pop() {
        let undone = show(&mut chair, "undo", json!({})).await;
        assert_eq!(moment(&undone), moment(&expected));
    }
    assert_eq!(chair.live["phase"], "standby");
    assert_eq!(chair.live["undo_depth"], 0);
    assert_eq!(chair.run("undo", json!({})).await["code"], "invalid_state");
}

#[tokio::test]
async fn a_stale_undo_conflicts_and_an_attendee_may_not_undo() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut second, _) = app.join(Role::Organizer, "Cai Yuping").await;
    let (mut attendee, _) = app.join(Role::Attendee, "Tanaka Yuki").await;
    show(&mut chair, "next", json!({})).await;
    show(&mut chair, "next", json!({})).await;
    second.version = 1;
    assert_eq!(second.run("undo", json!({})).await["code"], "conflict");
    attendee.version = chair.version;
    assert_eq!(attendee.run("undo", json!({})).await["code"], "forbidden");
    let (_, welcome) = app.join(Role::Attendee, "checker").await;
    assert_eq!(welcome["snapshot"]["live"]["segment"], 1, "nothing was undone");
}

#[tokio::test]
async fn undo_survives_a_restart() {
    let mut app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let opening = show(&mut chair, "next", json!({})).await;
    show(&mut chair, "next", json!({})).await;
    app.restart().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(welcome["snapshot"]["live"]["undo_depth"], 2);
    let undone = show(&mut chair, "undo", json!({})).await;
    assert_eq!(moment(&undone), moment(&opening));
}

#[tokio::test]
async fn extend_gives_a_timed_speaker_the_time_on_their_own_clock_too() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut stage, _) = app.join(Role::Speaker, "Zhang Ying").await;
    show(&mut chair, "goto", json!({"segment": "keynotes"})).await;
    let live = show(&mut chair, "extend", json!({"seconds": 60})).await;
    assert_eq!((&live["extended_ms"], &live["speaker_extended_ms"]), (&json!(60_000), &json!(60_000)));
    stage.expect("change").await;
    let change = stage.expect("change").await;
    assert_eq!(change["change"]["live"]["speaker_extended_ms"], 60_000);
    let live = show(&mut chair, "next_speaker", json!({})).await;
    assert_eq!((&live["extended_ms"], &live["speaker_extended_ms"]), (&json!(60_000), &json!(0)));
}

/// Attendees who each ask to speak in `queue`, in order; returns them with their `who`.
async fn requests(app: &crate::helpers::TestApp, queue: &str, names: &[&str]) -> Vec<(Client, String)> {
    let mut people = Vec::new();
    for name in names {
        let (mut client, welcome) = app.join(Role::Attendee, name).await;
        let reply = client.run("queue_request", json!({"queue": queue})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
        people.push((client, welcome["you"]["who"].as_str().unwrap().to_owned()));
    }
    people
}

/// The changes `client` reads up to and including `seq`.
async fn changes_until(client: &mut Client, seq: u64) -> Vec<Value> {
    let mut changes = Vec::new();
    while client.seq < seq {
        let frame = client.next_frame().await;
        if frame["type"] == "change" {
            changes.push(frame["change"].clone());
        }
    }
    changes
}

fn whos(entries: &Value) -> Vec<&str> {
    entries.as_array().unwrap().iter().map(|e| e["who"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn round_table_requests_follow_the_chair_to_the_closing_in_their_order() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    show(&mut chair, "goto", json!({"segment": "round-table"})).await;
    let mut people = requests(&app, "round-table", &["Tanaka Yuki", "Li Hua", "Sato Ken"]).await;
    let reply = chair.run("queue_next", json!({"queue": "round-table", "version": 0})).await;
    assert_eq!(reply["type"], "ack");
    let ack = chair.run("goto", json!({"segment": "closing"})).await;
    let seq = ack["seq"].as_u64().unwrap();

    let who: Vec<String> = people.iter().map(|(_, who)| who.clone()).collect();
    let (listener, _) = &mut people[2];
    let changes = changes_until(listener, seq).await;
    let ops: Vec<(&str, &str)> = changes[changes.len() - 3..]
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["queue"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(ops, [("live", ""), ("queue", "round-table"), ("queue", "closing")], "one command, three changes");
    let round_table = &changes[changes.len() - 2];
    assert_eq!(round_table["op"], "goto");
    assert_eq!(whos(&round_table["closed"]), [who[0].as_str()], "the speaker is done");
    assert_eq!(round_table["closed"][0]["state"], "done");
    assert!(round_table["state"]["on_deck"].is_null() && round_table["state"]["waiting"] == json!([]));
    let closing = &changes[changes.len() - 1];
    assert_eq!(whos(&closing["state"]["waiting"]), [who[1].as_str(), who[2].as_str()], "carried in order");
    assert_eq!(closing["state"]["waiting"][0]["state"], "waiting");
}

#[tokio::test]
async fn opening_requests_expire_when_the_ceremony_ends_and_their_people_are_told() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    show(&mut chair, "next", json!({})).await;
    let mut people = requests(&app, "opening", &["Tanaka Yuki", "Li Hua"]).await;
    let ack = chair.run("next", json!({})).await;
    let seq = ack["seq"].as_u64().unwrap();
    let who: Vec<String> = people.iter().map(|(_, who)| who.clone()).collect();
    for (person, _) in &mut people {
        let changes = changes_until(person, seq).await;
        let opening = changes.last().unwrap();
        assert_eq!((&opening["kind"], &opening["queue"]), (&json!("queue"), &json!("opening")));
        assert_eq!(whos(&opening["closed"]), who.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(opening["closed"].as_array().unwrap().iter().all(|e| e["state"] == "expired"));
    }
    let (_, welcome) = app.join(Role::Attendee, "late").await;
    assert_eq!(welcome["snapshot"]["queues"]["keynotes"]["waiting"], json!([]));
}

#[tokio::test]
async fn a_stage_message_clears_at_a_transition_unless_pinned() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut stage, _) = app.join(Role::Speaker, "Zhang Ying").await;
    show(&mut chair, "next", json!({})).await;
    let signal = json!({"signal": "message", "text": "Two questions from Osaka", "speaker": 1});
    assert_eq!(chair.run("stage_signal", signal).await["type"], "ack");
    let ack = chair.run("next", json!({})).await;
    let changes = changes_until(&mut stage, ack["seq"].as_u64().unwrap()).await;
    let aimed = &changes[changes.len() - 3]["message"];
    assert_eq!((&aimed["speaker"], &aimed["pinned"]), (&json!(1), &json!(false)));
    let cleared = changes.last().unwrap();
    assert_eq!(
        (&cleared["kind"], &cleared["op"], &cleared["message"]),
        (&json!("stage"), &json!("next"), &Value::Null)
    );

    let pinned = json!({"signal": "message", "text": "Lunch is at 12:30 in hall B", "pinned": true});
    assert_eq!(chair.run("stage_signal", pinned).await["type"], "ack");
    let ack = chair.run("next", json!({})).await;
    let changes = changes_until(&mut stage, ack["seq"].as_u64().unwrap()).await;
    assert_eq!(changes.last().unwrap()["kind"], "live", "a pinned message stays");
    let (_, welcome) = app.join(Role::Speaker, "Lu Ming").await;
    assert_eq!(welcome["snapshot"]["stage"]["text"], "Lunch is at 12:30 in hall B");
    assert_eq!(welcome["snapshot"]["stage"]["pinned"], true);
}
