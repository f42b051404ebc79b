//! Staff first, then the audience in rounds of 1,024 connections: however fast the chair
//! presses, the audience is at most 32 changes behind the staff (docs/protocol.md,
//! "Commands").

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use eventhub::domain::Role;

use crate::helpers::{hello_frame, spawn_app_with, Client};

/// Three rounds of 1,024 for every change, so that the audience takes its time.
const AUDIENCE: usize = 2100;
/// The documented bound.
const MAX_BEHIND: u64 = 32;
/// Commands the chair sends without waiting for their answers: more than the bound many
/// times over.
const PRESSES: usize = 200;
/// What a loaded machine may take to join the audience.
const JOIN_PATIENCE: Duration = Duration::from_secs(120);

/// An attendee that joins and then reads and drops everything, so that it keeps up; its
/// task ends when the connection does. Resolves once it is welcomed.
async fn reader(addr: std::net::SocketAddr, token: String, k: usize) -> tokio::task::JoinHandle<()> {
    let (welcomed, joined) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("it connects");
        let mut hello = hello_frame(&token, &format!("attendee {k}"));
        hello["participant"] = json!(format!("audience-{k}"));
        ws.send(Message::Text(hello.to_string().into())).await.unwrap();
        let mut welcomed = Some(welcomed);
        while let Some(Ok(message)) = ws.next().await {
            if let (Message::Text(text), true) = (&message, welcomed.is_some()) {
                if text.as_str().starts_with(r#"{"type":"welcome""#) {
                    let _ = welcomed.take().map(|w| w.send(()));
                }
            }
        }
    });
    tokio::time::timeout(JOIN_PATIENCE, joined).await.expect("welcomed in time").expect("welcomed");
    task
}

/// Reads what the observer has been sent so far, without waiting; every change must be the
/// one after the last.
fn take_what_came(observer: &mut Client) {
    loop {
        let before = observer.seq;
        let Some(frame) = observer.try_next_frame().now_or_never() else { return };
        checked(observer, before, frame);
    }
}

/// A frame the observer read: a change must be the one after `before`.
fn checked(observer: &Client, before: u64, frame: Option<Value>) {
    let frame = frame.expect("the observer stays connected");
    if frame["type"] == "change" {
        assert_eq!(observer.seq, before + 1, "the audience gets every change once, in order: {frame}");
    }
}

// Threads of its own for the server: the hub writes its rounds on one while the clients
// read on others, as a server process would run beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audience_is_at_most_32_changes_behind_the_staff() {
    let app = Arc::new(
        spawn_app_with(|settings| {
            settings.limits.max_connections_per_ip = 10_000;
            settings.limits.max_http_connections_per_ip = 10_000;
            settings.limits.frames_per_second = 100_000;
            settings.limits.frame_burst = 100_000;
        })
        .await,
    );
    let token = app.token(Role::Attendee).to_owned();
    let joins = (0..AUDIENCE).map(|k| reader(app.addr, token.clone(), k));
    let readers = futures_util::future::join_all(joins).await;
    // Joined last, the observer is last in the fan-out: the furthest behind of the audience.
    let (mut observer, _) = app.join(Role::Attendee, "observer").await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.seq, observer.seq, "both start from the same change");

    let mut ids = Vec::new();
    for k in 0..PRESSES {
        ids.push(chair.command("stage_signal", json!({"signal": "message", "text": format!("note {k}")})).await);
    }
    let mut furthest = 0;
    let mut answered = 0;
    while answered < PRESSES {
        // Everything the chair has been sent by now, waiting for the first of it.
        let mut frames = vec![chair.try_next_frame().await];
        while let Some(frame) = chair.try_next_frame().now_or_never() {
            frames.push(frame);
        }
        for frame in frames {
            let frame = frame.expect("the chair stays connected");
            assert!(frame["type"] != "error", "{frame}");
            if frame["type"] == "ack" {
                assert_eq!(frame["id"], ids[answered].as_str(), "answered in order");
                answered += 1;
            }
        }
        // The staff have change `staff`: the audience's last member must have been sent the
        // one 32 before it, and what was written to its socket before the chair's frames
        // were is readable now. A moment more lets bytes still in flight across, while the
        // hub gets through a change or two at most.
        let staff = chair.seq;
        take_what_came(&mut observer);
        if observer.seq + MAX_BEHIND < staff {
            tokio::time::sleep(Duration::from_millis(20)).await;
            take_what_came(&mut observer);
        }
        furthest = furthest.max(staff - observer.seq);
        assert!(
            observer.seq + MAX_BEHIND >= staff,
            "the staff have change {staff} and the audience's last member only {}: {} behind",
            observer.seq,
            staff - observer.seq
        );
    }
    eprintln!("{PRESSES} presses to {AUDIENCE} attendees: the last of them was at most {furthest} changes behind");

    // In the end the audience has everything.
    let last = chair.seq;
    while observer.seq < last {
        let before = observer.seq;
        let frame = observer.try_next_frame().await;
        checked(&observer, before, frame);
    }
    for reader in readers {
        reader.abort();
    }
}
