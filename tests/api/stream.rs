//! The Server-Sent Events stream: the state first, changes in order with their seq as id,
//! heartbeats, and resumption with `Last-Event-ID`, across a kill -9 too.

use std::net::SocketAddr;
use std::time::Duration;

use eventhub::domain::Role;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::control::request;
use crate::crash::{kill_9, launch};
use crate::helpers::{spawn_app, tcp_connect, EVENT};

/// One server-sent event.
#[derive(Debug)]
pub struct Sent {
    pub event: String,
    id: Option<u64>,
    pub data: Value,
}

pub struct EventStream {
    pub lines: tokio::io::Lines<BufReader<TcpStream>>,
    heartbeats: usize,
}

impl EventStream {
    pub async fn open(addr: SocketAddr, token: &str, last_event_id: Option<u64>) -> EventStream {
        let mut stream = tcp_connect(addr).await;
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        let head = format!(
            "GET /api/v1/events/{EVENT}/stream HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Accept: text/event-stream\r\n{resume}\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut stream = EventStream { lines: BufReader::new(stream).lines(), heartbeats: 0 };
        let status = stream.line().await;
        assert!(status.contains(" 200 "), "{status}");
        let mut content_type = String::new();
        loop {
            let line = stream.line().await;
            if line.is_empty() {
                break;
            }
            if line.to_ascii_lowercase().starts_with("content-type:") {
                content_type = line;
            }
        }
        assert!(content_type.contains("text/event-stream"), "{content_type}");
        stream
    }

    /// The next line; the stream must stay open and send one within 20 s (heartbeats come
    /// every 15 s).
    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("a line within 20 s")
            .unwrap()
            .expect("the stream stays open")
    }

    /// The next event, skipping chunk-size lines and counting heartbeat comments.
    pub async fn next(&mut self) -> Sent {
        let (mut event, mut id, mut data) = (String::new(), None, String::new());
        loop {
            let line = self.line().await;
            if let Some(value) = line.strip_prefix("event:") {
                event = value.trim().to_owned();
            } else if let Some(value) = line.strip_prefix("id:") {
                id = value.trim().parse().ok();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim_start());
            } else if line.starts_with(':') {
                self.heartbeats += 1;
            } else if line.is_empty() && !data.is_empty() {
                return Sent { event, id, data: serde_json::from_str(&data).expect("data is JSON") };
            }
        }
    }

    /// Reads until a heartbeat comment, skipping whole events; fails unless one comes within
    /// 30 s: twice the interval, for a loaded machine.
    async fn until_heartbeat(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let before = self.heartbeats;
        while self.heartbeats == before {
            let line = tokio::time::timeout_at(deadline, self.line()).await.expect("a heartbeat comment within 30 s");
            if line.starts_with(':') {
                self.heartbeats += 1;
            }
        }
    }

    /// Change events until one with seq `seq`, skipping `state` events; their ids in order.
    async fn changes_until(&mut self, seq: u64) -> Vec<u64> {
        let mut ids = Vec::new();
        while ids.last() != Some(&seq) {
            let sent = self.next().await;
            if sent.event == "change" {
                assert_eq!(sent.data["seq"].as_u64(), sent.id, "the id is the seq");
                ids.push(sent.id.expect("a change has an id"));
            }
        }
        ids
    }
}

async fn press(addr: SocketAddr, token: &str, command: &str) -> Value {
    let auth = format!("Bearer {token}");
    let reply =
        request(addr, "POST", &format!("/api/v1/events/{EVENT}/{command}"), &[("Authorization", &auth)], "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn the_stream_starts_with_the_state_then_sends_every_change_in_order() {
    let app = spawn_app().await;
    let mut stream = EventStream::open(app.addr, app.token(Role::Av), None).await;
    let first = stream.next().await;
    assert_eq!(first.event, "state");
    assert_eq!(first.data["phase"], "standby");
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    for kind in ["next", "next_speaker", "hold"] {
        chair.run(kind, serde_json::json!({})).await;
    }
    assert_eq!(stream.changes_until(3).await, [1, 2, 3], "gap-free, in order");
    let state = stream.next().await;
    assert_eq!((state.event.as_str(), state.id), ("state", None), "a burst ends with the state, without an id");
    assert_eq!(state.data["held"], true);
    assert_eq!(state.data["seq"], 3);
}

#[tokio::test]
async fn a_stream_resumed_with_last_event_id_gets_exactly_what_it_missed() {
    let app = spawn_app().await;
    let token = app.token(Role::Moderator).to_owned();
    for command in ["next", "next_speaker", "hold", "resume"] {
        press(app.addr, &token, command).await;
    }
    let mut stream = EventStream::open(app.addr, &token, Some(2)).await;
    let first = stream.next().await;
    assert_eq!((first.event.as_str(), first.id), ("change", Some(3)), "no snapshot: a replay");
    assert_eq!(stream.changes_until(4).await, [4]);
    let mut ahead = EventStream::open(app.addr, &token, Some(999)).await;
    assert_eq!(ahead.next().await.event, "state", "an id this server never gave gets the state");
}

#[tokio::test]
async fn a_stream_resumes_across_a_kill_9_with_nothing_missed() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let token = server.tokens["moderator"].clone();
    let mut stream = EventStream::open(server.addr, &token, None).await;
    assert_eq!(stream.next().await.event, "state");
    press(server.addr, &token, "next").await;
    press(server.addr, &token, "next_speaker").await;
    let seen = stream.changes_until(2).await;
    assert_eq!(seen, [1, 2]);
    kill_9(&mut server.child).await;
    let server = launch(data.path()).await;
    // Changes made while this listener was away, after the restart.
    press(server.addr, &token, "hold").await;
    press(server.addr, &token, "resume").await;
    let mut resumed = EventStream::open(server.addr, &token, Some(2)).await;
    assert_eq!(resumed.changes_until(4).await, [3, 4], "nothing missed, nothing twice");
}

#[tokio::test]
async fn the_stream_needs_a_token_and_sends_heartbeats() {
    let app = spawn_app().await;
    let reply = request(app.addr, "GET", &format!("/api/v1/events/{EVENT}/stream"), &[], "").await;
    assert_eq!(reply.status, 401);
    let mut stream = EventStream::open(app.addr, app.token(Role::Display), None).await;
    assert_eq!(stream.next().await.event, "state");
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    // A heartbeat comes every 15 s while nothing changes, an interval no setting shortens:
    // this waits for the first (the test's only long wait), then a change still arrives.
    stream.until_heartbeat().await;
    chair.run("next", serde_json::json!({})).await;
    assert_eq!(stream.changes_until(1).await, [1]);
}

#[tokio::test]
async fn attendee_and_display_tokens_see_no_open_cues_in_the_state_as_the_cue_changes_reach_them_hidden() {
    let app = spawn_app().await;
    press(app.addr, app.token(Role::Moderator), "next").await;
    let standby = press(app.addr, app.token(Role::Av), "cue/standby?preset=slides").await;
    assert_eq!(standby["cues"].as_array().unwrap().len(), 1, "the AV crew sees its cue: {standby}");
    let state_path = |role| format!("/api/v1/events/{EVENT}/state?token={}", app.token(role));
    for role in [Role::Moderator, Role::Av] {
        let state = request(app.addr, "GET", &state_path(role), &[], "").await.body;
        assert_eq!(state["cues"].as_array().unwrap().len(), 1, "{role:?}: {state}");
    }
    let mut audience = Vec::new();
    for role in [Role::Attendee, Role::Display] {
        let state = request(app.addr, "GET", &state_path(role), &[], "").await.body;
        assert_eq!(state["cues"], serde_json::json!([]), "{role:?} over /state: {state}");
        let mut stream = EventStream::open(app.addr, app.token(role), None).await;
        let first = stream.next().await;
        assert_eq!(first.event, "state");
        assert_eq!(first.data["cues"], serde_json::json!([]), "{role:?}'s first state event: {}", first.data);
        audience.push((role, stream));
    }

    let cue = standby["cues"][0]["id"].as_u64().unwrap();
    press(app.addr, app.token(Role::Moderator), &format!("cue/go?cue={cue}")).await;
    for (role, stream) in &mut audience {
        let change = stream.next().await;
        assert_eq!(change.event, "change");
        assert_eq!(change.data["change"]["kind"], "hidden", "{role:?}: {}", change.data);
        let state = stream.next().await;
        assert_eq!(state.event, "state");
        assert_eq!(state.data["cues"], serde_json::json!([]), "{role:?}'s state after the burst: {}", state.data);
    }
}

/// Reads events until the change with id `seq`, and returns it.
async fn change_event(stream: &mut EventStream, seq: u64) -> Value {
    loop {
        let sent = stream.next().await;
        if sent.event == "change" && sent.id == Some(seq) {
            return sent.data;
        }
    }
}

#[tokio::test]
async fn questions_and_vote_batches_reach_the_stream_as_the_token_s_role_sees_them() {
    let app = spawn_app().await;
    press(app.addr, app.token(Role::Moderator), "goto?segment=round-table").await;
    let mut booth = EventStream::open(app.addr, app.token(Role::Moderator), None).await;
    let mut lobby = EventStream::open(app.addr, app.token(Role::Display), None).await;
    let (mut asker, _) = app.join(Role::Attendee, "Mei Lin").await;
    let asked = asker.run("question_ask", serde_json::json!({"text": "Who keeps the data?"})).await;
    let seq = asked["seq"].as_u64().unwrap();
    assert_eq!(change_event(&mut booth, seq).await["change"]["question"]["state"], "pending");
    assert_eq!(change_event(&mut lobby, seq).await["change"]["kind"], "hidden", "pending is the chair's");
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("question_approve", serde_json::json!({"question": 1})).await["type"], "ack");
    let (mut voter, _) = app.join(Role::Attendee, "Sato").await;
    let voted = voter.run("question_vote", serde_json::json!({"question": 1})).await;
    let votes = voted["seq"].as_u64().unwrap();
    let batch = change_event(&mut lobby, votes).await;
    assert_eq!(batch["change"]["questions"], serde_json::json!([{"question": 1, "votes": 1}]), "{batch}");
    assert!(batch["change"].get("ballots").is_none(), "who voted never leaves the server");
    change_event(&mut booth, votes).await;
    let state = booth.next().await;
    assert_eq!(state.event, "state");
    assert_eq!(
        (state.data["questions"]["approved"].as_u64(), state.data["questions"]["pending"].as_u64()),
        (Some(1), Some(0))
    );
}
