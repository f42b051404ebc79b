//! OSC in and automations out, over real UDP (and HTTP for the automation that cannot
//! reach its host).

use std::net::SocketAddr;
use std::time::Duration;

use eventhub::config::Settings;
use eventhub::domain::Role;
use rosc::{OscMessage, OscPacket, OscType};
use serde_json::{json, Value};
use tokio::net::{TcpListener, UdpSocket};

use crate::control::request;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, EVENT};

const PATIENCE: Duration = Duration::from_secs(10);
const ACCEPTED: &str = "eventhub_osc_packets_total{result=\"accepted\"} ";
const REJECTED: &str = "eventhub_osc_packets_total{result=\"rejected\"} ";

pub fn osc_on(settings: &mut Settings) {
    settings.server.osc_bind = Some("127.0.0.1:0".parse().unwrap());
}

pub async fn send(to: SocketAddr, address: &str, args: Vec<OscType>) {
    let packet = OscPacket::Message(OscMessage { addr: address.into(), args });
    send_bytes(to, &rosc::encoder::encode(&packet).unwrap()).await;
}

async fn send_bytes(to: SocketAddr, bytes: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(bytes, to).await.unwrap();
}

pub fn text(value: &str) -> OscType {
    OscType::String(value.into())
}

async fn flat_state(app: &TestApp) -> Value {
    let path = format!("/api/v1/events/{EVENT}/state?token={}", app.token(Role::Attendee));
    request(app.addr, "GET", &path, &[], "").await.body
}

/// The state once `ok` holds, or a failure naming the last one seen.
async fn state_until(app: &TestApp, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let state = flat_state(app).await;
        if ok(&state) {
            return state;
        }
        assert!(tokio::time::Instant::now() < deadline, "the state never got there: {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metric(app: &TestApp, line: &str) -> u64 {
    let auth = format!("Bearer {}", app.token(Role::Organizer));
    let scrape = request(app.addr, "GET", "/metrics", &[("Authorization", &auth)], "").await;
    let text = scrape.body.as_str().unwrap_or_default().to_owned();
    text.lines().find_map(|l| l.strip_prefix(line)).map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn osc_commands_with_a_role_token_drive_the_show_and_anything_else_is_dropped() {
    let app = spawn_app_with(osc_on).await;
    let osc = app.osc.expect("OSC is on");
    let next = format!("/eventhub/{EVENT}/next");
    // None of these may move the show; each is counted as rejected.
    send(osc, &next, vec![]).await;
    send(osc, &next, vec![text("not-a-token")]).await;
    send(osc, &next, vec![text(app.token(Role::Attendee))]).await;
    send(osc, &next, vec![OscType::Int(1)]).await;
    send(osc, "/eventhub/no-such-event/next", vec![text(app.token(Role::Moderator))]).await;
    send(osc, "/elsewhere/next", vec![text(app.token(Role::Moderator))]).await;
    send_bytes(osc, b"\xffnot osc at all").await;
    send(osc, &next, vec![text(app.token(Role::Moderator))]).await;
    let live = state_until(&app, |s| s["phase"] == "live").await;
    assert_eq!(live["current"]["index"], 0, "advanced once, to the first segment");
    assert_eq!(metric(&app, REJECTED).await, 7);
    assert_eq!(metric(&app, ACCEPTED).await, 1);

    let goto = format!("/eventhub/{EVENT}/goto");
    send(osc, &goto, vec![text(app.token(Role::Moderator)), text("round-table")]).await;
    state_until(&app, |s| s["current"]["id"] == "round-table").await;
    send(osc, &goto, vec![text(app.token(Role::Organizer)), OscType::Int(1)]).await;
    state_until(&app, |s| s["current"]["id"] == "keynotes").await;
    let before = flat_state(&app).await["segment_clock"]["planned_ms"].as_i64().unwrap();
    let extend = format!("/eventhub/{EVENT}/extend");
    send(osc, &extend, vec![text(app.token(Role::Moderator)), OscType::Float(60.0)]).await;
    state_until(&app, |s| s["segment_clock"]["planned_ms"].as_i64() == Some(before + 60_000)).await;
    // Fractions of a second count, as over HTTP.
    send(osc, &extend, vec![text(app.token(Role::Moderator)), OscType::Float(30.5)]).await;
    state_until(&app, |s| s["segment_clock"]["planned_ms"].as_i64() == Some(before + 90_500)).await;
    let message = format!("/eventhub/{EVENT}/stage/message");
    send(osc, &message, vec![text(app.token(Role::Moderator)), text("请准备 · wrap up")]).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metric(&app, ACCEPTED).await < 6 {
        assert!(tokio::time::Instant::now() < deadline, "the stage message was not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&app, REJECTED).await, 7);

    // The server and its websockets are unaffected by what was dropped.
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    chair.still_works().await;
}

#[tokio::test]
async fn a_desk_opens_and_closes_a_poll_by_osc_with_or_without_its_id() {
    let app = spawn_app_with(osc_on).await;
    let osc = app.osc.expect("OSC is on");
    let token = || text(app.token(Role::Moderator));
    send(osc, &format!("/eventhub/{EVENT}/goto"), vec![token(), text("round-table")]).await;
    state_until(&app, |s| s["current"]["id"] == "round-table").await;
    send(osc, &format!("/eventhub/{EVENT}/poll/open"), vec![token(), text("next-forum")]).await;
    let open = state_until(&app, |s| s["poll"]["id"] == "next-forum").await;
    assert!(open["poll"]["counts"].is_null(), "hidden from an attendee's key until closed: {open}");
    send(osc, &format!("/eventhub/{EVENT}/poll/close"), vec![token()]).await;
    state_until(&app, |s| s["poll"].is_null()).await;
    assert_eq!(metric(&app, REJECTED).await, 0);
}

/// `text` as OSC writes a string: NUL-terminated, padded with NULs to 4 bytes.
fn osc_string(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize((text.len() / 4 + 1) * 4, 0);
    bytes
}

/// A bundle (time tag "immediately") whose one element is `element`, its size written as `size`.
fn bundle_of(size: u32, element: &[u8]) -> Vec<u8> {
    let mut bundle = b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec();
    bundle.extend(size.to_be_bytes());
    bundle.extend(element);
    bundle
}

fn message_bytes(address: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage { addr: address.into(), args })).unwrap()
}

/// Waits until the rejected count reaches `count`, and checks it goes no further.
async fn rejected_reaches(app: &TestApp, count: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metric(app, REJECTED).await < count {
        assert!(tokio::time::Instant::now() < deadline, "fewer than {count} packets were counted as rejected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(app, REJECTED).await, count);
}

#[tokio::test]
async fn a_packet_of_three_thousand_nested_bundles_is_dropped_and_the_listener_lives_on() {
    let app = spawn_app_with(osc_on).await;
    let osc = app.osc.expect("OSC is on");
    let next = format!("/eventhub/{EVENT}/next");
    let mut packet = message_bytes(&next, vec![text("not-a-token")]);
    for _ in 0..3_000 {
        packet = bundle_of(packet.len() as u32, &packet);
    }
    assert!(packet.len() < 65_507, "one UDP datagram: {} bytes", packet.len());
    send_bytes(osc, &packet).await;
    send(osc, &next, vec![text(app.token(Role::Moderator))]).await;
    let live = state_until(&app, |s| s["phase"] == "live").await;
    assert_eq!(live["current"]["index"], 0);
    rejected_reaches(&app, 1).await;
    assert_eq!(metric(&app, ACCEPTED).await, 1);
}

#[tokio::test]
async fn malformed_bundles_and_unclosed_arrays_are_dropped_and_each_counted_as_rejected() {
    let app = spawn_app_with(osc_on).await;
    let osc = app.osc.expect("OSC is on");
    let token = app.token(Role::Moderator);
    send(osc, &format!("/eventhub/{EVENT}/next"), vec![text(token)]).await;
    state_until(&app, |s| s["phase"] == "live").await;

    let goto = format!("/eventhub/{EVENT}/goto");
    let valid = message_bytes(&goto, vec![text(token), text("round-table")]);
    let size = valid.len() as u32;
    let mut trailing = bundle_of(size, &valid);
    trailing.extend([0, 0]);
    // Type tags `,[ss`: an array opened and never closed.
    let unclosed = [osc_string(&goto), osc_string(",[ss"), osc_string(token), osc_string("round-table")].concat();
    let malformed = [
        b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec(),
        bundle_of(0, &valid),
        bundle_of(size - 2, &valid),
        trailing,
        bundle_of(8, b"garbage!"),
        unclosed,
    ];
    for packet in &malformed {
        send_bytes(osc, packet).await;
    }
    send(osc, &goto, vec![text(token), text("keynotes")]).await;
    state_until(&app, |s| s["current"]["id"] == "keynotes").await;
    rejected_reaches(&app, malformed.len() as u64).await;
    assert_eq!(metric(&app, ACCEPTED).await, 2, "the first next and the last goto");
}

/// The organizer's websocket, with `automations` in the plan and the first segment one
/// minute long, amber with 58 s left.
async fn plan_with(app: &TestApp, automations: Value) {
    let (mut organizer, _) = app.join(Role::Organizer, "Producer").await;
    let reply = organizer.run("plan_update_automations", json!({"plan_version": 0, "automations": automations})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let fields = json!({"plan_version": 1, "segment": "opening", "duration_min": 1, "warning_s": 58, "danger_s": 0});
    let reply = organizer.run("plan_update_segment", fields).await;
    assert_eq!(reply["type"], "ack", "{reply}");
}

async fn receive(socket: &UdpSocket) -> OscMessage {
    let mut buffer = vec![0; 65_536];
    let (len, _) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buffer))
        .await
        .expect("the automation's message arrives")
        .unwrap();
    match rosc::decoder::decode_udp(&buffer[..len]).expect("a valid OSC packet").1 {
        OscPacket::Message(message) => message,
        OscPacket::Bundle(bundle) => panic!("a message, not {bundle:?}"),
    }
}

#[tokio::test]
async fn automations_send_osc_when_a_segment_starts_and_when_its_warning_is_crossed() {
    let app = spawn_app().await;
    let desk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = desk.local_addr().unwrap().port();
    plan_with(
        &app,
        json!([
            {"trigger": "segment_start", "osc": {"host": "127.0.0.1", "port": port,
                "address": "/cue/{{segment.number}}/start", "args": ["{{segment.id}}", "{{segment.title.en}}"]}},
            {"trigger": "warning", "segments": ["opening"], "osc": {"host": "127.0.0.1", "port": port,
                "address": "/warning", "args": ["{{remaining}}", "{{trigger}}"]}},
            {"trigger": "segment_start", "segments": ["keynotes"], "osc": {"host": "127.0.0.1", "port": port,
                "address": "/never"}},
        ]),
    )
    .await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let started = receive(&desk).await;
    assert_eq!(started.addr, "/cue/1/start");
    assert_eq!(started.args[0], text("opening"));
    assert!(matches!(&started.args[1], OscType::String(title) if !title.is_empty()));
    // The warning is the hub's own timer: 2 s into the minute, with nothing else happening.
    let warning = receive(&desk).await;
    assert_eq!(warning.addr, "/warning");
    assert_eq!(warning.args, [text("00:58"), text("warning")]);

    let path = format!("/api/v1/events/{EVENT}/automations?token={}", app.token(Role::Av));
    let log = request(app.addr, "GET", &path, &[], "").await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body["automations"].as_array().unwrap().len(), 3);
    let recent: Vec<(&str, &str)> = log.body["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["trigger"].as_str().unwrap(), d["result"].as_str().unwrap()))
        .collect();
    assert_eq!(recent, [("segment_start", "sent"), ("warning", "sent")]);
    let path = format!("/api/v1/events/{EVENT}/automations?token={}", app.token(Role::Attendee));
    assert_eq!(request(app.addr, "GET", &path, &[], "").await.status, 403);
}

#[tokio::test]
async fn an_http_automation_that_never_answers_does_not_hold_up_the_show() {
    let app = spawn_app().await;
    // Accepts connections and never answers: every attempt waits for its timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/lights", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    plan_with(&app, json!([{"trigger": "segment_start", "http": {"url": url, "body": "{{segment.id}}"}}])).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    for _ in 0..3 {
        assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    }
    let path = format!("/api/v1/events/{EVENT}/automations?token={}", app.token(Role::Moderator));
    let log = request(app.addr, "GET", &path, &[], "").await;
    assert_eq!(log.body["recent"], json!([]), "three segments started while the first request still waits");
    assert_eq!(flat_state(&app).await["current"]["index"], 2);

    // Each output is tried three times, then shown as failed; outputs to one destination go
    // one after the other, so the third gives up after about 20 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let recent = request(app.addr, "GET", &path, &[], "").await.body["recent"].clone();
        if recent.as_array().unwrap().len() == 3 {
            break recent;
        }
        assert!(tokio::time::Instant::now() < deadline, "the outputs never gave up: {recent}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for delivery in failed.as_array().unwrap() {
        assert_eq!((delivery["result"].as_str(), delivery["attempts"].as_u64()), (Some("failed"), Some(3)));
        assert!(delivery["error"].as_str().is_some_and(|e| !e.is_empty()), "{delivery}");
    }
    assert_eq!(metric(&app, "eventhub_automation_outputs_total{result=\"failed\"} ").await, 3);
    held.abort();
}
