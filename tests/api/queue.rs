//! Speaker queues over the wire: requests placed once and alike for every client, one
//! winner when chairs race, one place per person, and the alternate policy.

use std::collections::BTreeSet;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{hello_frame, spawn_app, Client, TestApp};

const QUEUE: &str = "round-table";

/// Joins as an attendee with an explicit participant id and mode.
async fn join_as(app: &TestApp, participant: &str, mode: &str) -> (Client, String) {
    let mut client = app.connect().await;
    let mut hello = hello_frame(app.token(Role::Attendee), participant);
    hello["participant"] = json!(participant);
    hello["mode"] = json!(mode);
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    client.seq = welcome["seq"].as_u64().unwrap();
    (client, welcome["you"]["who"].as_str().unwrap().to_owned())
}

/// Reads until the change with `seq` and returns the queue state it carries.
async fn queue_at(client: &mut Client, seq: u64) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "change" && frame["seq"] == seq {
            assert_eq!(frame["change"]["kind"], "queue", "{frame}");
            return frame["change"]["state"].clone();
        }
    }
}

#[tokio::test]
async fn fifty_requests_at_once_get_unique_positions_that_every_client_agrees_on() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let mut people = Vec::new();
    for k in 0..50 {
        let mode = if k % 2 == 0 { "remote" } else { "in_room" };
        people.push(join_as(&app, &format!("person-{k}"), mode).await);
    }
    let sends = people.iter_mut().map(|(client, _)| async move {
        client.command("queue_request", json!({"queue": QUEUE, "topic": "digital finance"})).await;
    });
    futures_util::future::join_all(sends).await;

    let reference = queue_at(&mut chair, 50).await;
    let waiting = reference["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 50);
    let mut positions = BTreeSet::new();
    for (client, who) in &mut people {
        let seen = queue_at(client, 50).await;
        assert_eq!(seen["waiting"].as_array().unwrap().len(), 50);
        let ids =
            |q: &Value| q["waiting"].as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(&seen), ids(&reference), "every client sees the same order");
        let position = seen["waiting"].as_array().unwrap().iter().position(|e| e["who"] == who.as_str()).unwrap();
        assert!(positions.insert(position), "position {position} is taken once");
        assert_eq!(seen["waiting"][position]["topic"], Value::Null, "attendees do not see topics");
    }
    assert_eq!(positions.len(), 50);
    assert!(waiting.iter().all(|e| e["topic"] == "digital finance"), "the chair sees every topic");
    let remote = waiting.iter().filter(|e| e["mode"] == "remote").count();
    assert_eq!(remote, 25);
}

#[tokio::test]
async fn two_chairs_racing_to_call_next_call_exactly_one_person() {
    let app = spawn_app().await;
    let (mut first, _) = app.join(Role::Moderator, "Fukuda").await;
    let (mut second, _) = app.join(Role::Organizer, "Cai Yuping").await;
    for k in 0..3 {
        let (mut person, _) = join_as(&app, &format!("p{k}"), "remote").await;
        assert_eq!(person.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    }
    for chair in [&mut first, &mut second] {
        queue_at(chair, 3).await;
    }
    let (a, b) = tokio::join!(
        first.send(json!({"type": "queue_next", "id": "a", "queue": QUEUE, "version": 0})),
        second.send(json!({"type": "queue_next", "id": "b", "queue": QUEUE, "version": 0}))
    );
    let _ = (a, b);
    let mut replies = Vec::new();
    for (chair, id) in [(&mut first, "a"), (&mut second, "b")] {
        loop {
            let frame = chair.next_frame().await;
            if frame["id"] == id {
                replies.push(if frame["type"] == "ack" {
                    "ack".to_owned()
                } else {
                    frame["code"].as_str().unwrap().to_owned()
                });
                break;
            }
        }
    }
    replies.sort();
    assert_eq!(replies, ["ack", "conflict"]);
    let (_, welcome) = app.join(Role::Attendee, "checker").await;
    let queue = &welcome["snapshot"]["queues"][QUEUE];
    assert_eq!(queue["version"], 1, "one call happened");
    assert_eq!(queue["speaking"]["name"], "p0");
    assert_eq!(queue["on_deck"]["name"], "p1");
    assert_eq!(queue["waiting"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_tabs_of_one_person_hold_one_place() {
    let app = spawn_app().await;
    let (mut tab1, who1) = join_as(&app, "tanaka", "remote").await;
    let (mut tab2, who2) = join_as(&app, "tanaka", "remote").await;
    assert_eq!(who1, who2);
    assert_eq!(tab1.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    let second = tab2.run("queue_request", json!({"queue": QUEUE})).await;
    assert_eq!(second["code"], "invalid_state", "{second}");
    assert_eq!(tab2.run("queue_withdraw", json!({"queue": QUEUE})).await["type"], "ack", "either tab may withdraw");
}

#[tokio::test]
async fn public_topics_reach_attendees_once_the_chair_allows_it() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let (mut asker, _) = join_as(&app, "asker", "in_room").await;
    asker.run("queue_request", json!({"queue": "event", "topic": "Interpretation channel?"})).await;
    let settings = json!({"queue": "event", "version": 0, "topics_public": true});
    let reply = chair.run("queue_settings", settings).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let (_, welcome) = app.join(Role::Attendee, "watcher").await;
    assert_eq!(welcome["snapshot"]["queues"]["event"]["waiting"][0]["topic"], "Interpretation channel?");
    assert!(welcome["snapshot"]["queues"]["event"]["waiting"][0].get("participant").is_none(), "ids stay private");
}

/// The latest state of `QUEUE`, as a newly joined attendee's snapshot shows it.
async fn queue_now(app: &TestApp) -> Value {
    let (_, welcome) = app.join(Role::Attendee, "observer").await;
    welcome["snapshot"]["queues"][QUEUE].clone()
}

#[tokio::test]
async fn under_alternate_a_withdrawal_leaves_the_floor_to_the_side_not_called_last() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let settings = chair.run("queue_settings", json!({"queue": QUEUE, "version": 0, "policy": "alternate"})).await;
    assert_eq!(settings["type"], "ack", "{settings}");
    let mut people = Vec::new();
    for name in ["r1", "i1", "r2", "i2", "r3"] {
        let mode = if name.starts_with('r') { "remote" } else { "in_room" };
        let (mut person, _) = join_as(&app, name, mode).await;
        assert_eq!(person.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
        people.push(person);
    }
    assert_eq!(queue_now(&app).await["next_side"], Value::Null, "nobody was called yet");
    for op in ["queue_call", "queue_start"] {
        let version = queue_now(&app).await["version"].clone();
        let reply = chair.run(op, json!({"queue": QUEUE, "version": version})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
    }
    assert_eq!(people[1].run("queue_withdraw", json!({"queue": QUEUE})).await["type"], "ack");

    let queue = queue_now(&app).await;
    assert_eq!(queue["speaking"]["name"], "r1");
    assert_eq!(queue["next_side"], "in_room", "remote was called last");
    let waiting = queue["waiting"].as_array().unwrap();
    let names: Vec<&str> = waiting.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["i2", "r2", "r3"]);
    assert!(waiting.iter().all(|e| e["pinned"] == false), "nobody was placed by the chair");
    let reply = chair.run("queue_next", json!({"queue": QUEUE, "version": queue["version"]})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    assert_eq!(queue_now(&app).await["speaking"]["name"], "i2");
}

/// Attendees whose requests come amid the chair's changes get every change once, in seq
/// order, and their own request's change before its ack: the changes an attendee's command
/// causes reach it ahead of the audience, after the earlier ones it was still waiting for.
#[tokio::test]
async fn an_attendee_s_own_request_comes_once_in_order_and_before_its_ack_amid_the_chair_s_changes() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let mut people = Vec::new();
    for k in 0..12 {
        people.push(join_as(&app, &format!("asker-{k}"), "remote").await.0);
    }
    let starts: Vec<u64> = people.iter().map(|client| client.seq).collect();
    let asks = people.iter_mut().map(|client| client.command("queue_request", json!({"queue": QUEUE})));
    let ids = futures_util::future::join_all(asks).await;
    for _ in 0..3 {
        assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    }
    // 12 requests and 3 show changes.
    let total = 15;
    for ((client, id), start) in people.iter_mut().zip(&ids).zip(starts) {
        let (mut last, mut own_change, mut acked) = (start, None, false);
        while last < start + total || !acked {
            let frame = client.next_frame().await;
            match frame["type"].as_str() {
                Some("change") => {
                    let seq = frame["seq"].as_u64().unwrap();
                    assert_eq!(seq, last + 1, "every change once, in order: {frame}");
                    last = seq;
                    if frame["command"] == id.as_str() {
                        own_change = Some(seq);
                    }
                }
                Some("ack") if frame["id"] == id.as_str() => {
                    assert_eq!(frame["seq"].as_u64(), own_change, "its own change came before its ack: {frame}");
                    acked = true;
                }
                _ => {}
            }
        }
        assert_eq!(last, start + total, "no change beyond the fifteen");
    }
}
