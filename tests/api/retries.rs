//! Commands are safe to retry: a change names the command and the sender it came from, and
//! a command re-sent with the same id by the same participant is applied once.

use serde_json::{json, Value};

use eventhub::domain::Role;

use crate::helpers::{hello_frame, spawn_app, Client, TestApp};

/// A client that joins as the participant `participant`, as a page does on every tab and
/// reconnect; returns it with its welcome.
pub async fn join_as(addr: std::net::SocketAddr, token: &str, name: &str, participant: &str) -> (Client, Value) {
    let mut client = Client::connect(addr).await;
    let mut hello = hello_frame(token, name);
    hello["participant"] = json!(participant);
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    client.version = welcome["snapshot"]["live"]["version"].as_u64().unwrap();
    client.seq = welcome["seq"].as_u64().unwrap();
    (client, welcome)
}

/// Sends `frame` as it is (with its own id) and returns the reply to that id.
pub async fn reply_to(client: &mut Client, frame: Value) -> Value {
    let id = frame["id"].clone();
    client.send(frame).await;
    loop {
        let frame = client.next_frame().await;
        if frame["id"] == id {
            return frame;
        }
    }
}

/// The three kinds of command that carry no version, and so could not be retried blindly.
pub fn unversioned() -> [Value; 3] {
    [
        json!({"type": "queue_request", "id": "retry-1", "queue": "event", "topic": "trust"}),
        json!({"type": "cue_standby", "id": "retry-2", "preset": "slides"}),
        json!({"type": "stage_signal", "id": "retry-3", "signal": "wrap_up"}),
    ]
}

async fn chair(app: &TestApp) -> (Client, Value) {
    join_as(app.addr, app.token(Role::Moderator), "Ji Weidong", "chair-console-1").await
}

#[tokio::test]
async fn a_change_names_its_command_and_sender_live_and_in_a_replay() {
    let app = spawn_app().await;
    let (mut observer, _) = app.join(Role::Attendee, "observer").await;
    let (mut moderator, welcome) = chair(&app).await;
    let who = welcome["you"]["who"].clone();
    let ack = reply_to(&mut moderator, json!({"type": "next", "id": "press-1", "version": 0})).await;
    assert_eq!(ack["type"], "ack");

    let change = observer.expect("change").await;
    assert_eq!(change["command"], "press-1", "{change}");
    assert_eq!(change["by"]["who"], who, "{change}");
    assert_eq!(change["by"]["name"], "Ji Weidong");

    let mut again = app.rejoin(Role::Attendee, "late", welcome["epoch"].as_str().unwrap(), 0).await;
    assert_eq!(again.expect("welcome").await["resume"], "replay");
    let replayed = again.expect("change").await;
    assert_eq!((replayed["command"].clone(), replayed["by"]["who"].clone()), (json!("press-1"), who));
}

#[tokio::test]
async fn a_command_re_sent_with_its_id_is_answered_with_its_first_outcome_and_applied_once() {
    let app = spawn_app().await;
    let (mut observer, _) = app.join(Role::Organizer, "observer").await;
    let (mut moderator, _) = chair(&app).await;
    let mut first = Vec::new();
    for frame in unversioned() {
        let ack = reply_to(&mut moderator, frame).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        first.push(ack["seq"].clone());
    }
    for _ in 0..3 {
        observer.expect("change").await;
    }
    // The connection drops before the acks are read; the page reconnects and re-sends.
    drop(moderator);
    let (mut moderator, _) = chair(&app).await;
    for (frame, seq) in unversioned().into_iter().zip(&first) {
        let ack = reply_to(&mut moderator, frame.clone()).await;
        assert_eq!((ack["type"].clone(), &ack["seq"]), (json!("ack"), seq), "{frame} is answered as before");
    }
    let rejected = reply_to(&mut moderator, json!({"type": "next", "id": "stale", "version": 99})).await;
    assert_eq!(rejected["code"], "conflict");
    let again = reply_to(&mut moderator, json!({"type": "next", "id": "stale", "version": 0})).await;
    assert_eq!(again["code"], "conflict", "a rejection is its first outcome too");

    let (mut other, _) = join_as(app.addr, app.token(Role::Moderator), "Cai Yuping", "chair-console-2").await;
    let ack = reply_to(&mut other, unversioned()[0].clone()).await;
    assert_eq!(ack["seq"], 4, "the same id from another participant is another command: {ack}");
    assert_eq!(observer.expect("change").await["seq"], 4);
    observer.still_works().await;
    assert_eq!(observer.seq, 4, "nothing was applied twice");
}
