//! Automations out, against real local receivers: what they send, in which order, and
//! where they may not go.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventhub::domain::Role;
use rosc::{OscPacket, OscType};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::control::request;
use crate::helpers::{spawn_app, spawn_app_with, Client, TestApp, EVENT};

const PATIENCE: Duration = Duration::from_secs(20);

/// One request a receiver got: method, target (path and query) and body.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    target: String,
    body: String,
}

/// A web hook on loopback that records every request and answers each with `answer`,
/// after a pause that varies from request to request (so that outputs sent at once would
/// overtake each other).
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(answer: String) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&got);
        let task = tokio::spawn(async move {
            let mut n = 0u64;
            while let Ok((stream, _)) = listener.accept().await {
                n += 1;
                let (kept, answer) = (Arc::clone(&kept), answer.clone());
                let pause = Duration::from_millis((n * 7919) % 40);
                tokio::spawn(async move { serve(stream, kept, answer, pause).await });
            }
        });
        Receiver { addr, got, task }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// What it got once there are `n` requests, or a failure saying what came.
    async fn until(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {} of {n} requests came: {got:?}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads requests off one connection (kept alive) and answers each.
async fn serve(mut stream: TcpStream, got: Arc<Mutex<Vec<Received>>>, answer: String, pause: Duration) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
        buffer.drain(..head_end + length);
        let mut line = head.lines().next().unwrap_or_default().split(' ');
        let (method, target) = (line.next().unwrap_or_default().to_owned(), line.next().unwrap_or_default().to_owned());
        got.lock().unwrap().push(Received { method, target, body });
        tokio::time::sleep(pause).await;
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

/// Replaces the demo's automations with `automations`.
async fn automate(app: &TestApp, automations: Value) -> Client {
    let (mut organizer, _) = app.join(Role::Organizer, "Producer").await;
    let reply = organizer.run("plan_update_automations", json!({"plan_version": 0, "automations": automations})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    organizer
}

/// The automations' recent outcomes once there are `n`.
async fn outcomes(app: &TestApp, n: usize) -> Vec<Value> {
    let path = format!("/api/v1/events/{EVENT}/automations?token={}", app.token(Role::Organizer));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let recent = request(app.addr, "GET", &path, &[], "").await.body["recent"].as_array().cloned().unwrap();
        if recent.len() >= n {
            return recent;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} of {n} outcomes: {recent:?}", recent.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_failed() {
    let app = spawn_app().await;
    let elsewhere = Receiver::start(OK.into()).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: http://{}/admin?delete=all\r\ncontent-length: 0\r\n\r\n",
        elsewhere.addr
    );
    let hook = Receiver::start(redirect).await;
    let url = format!("http://{}/hook", hook.addr);
    automate(&app, json!([{"trigger": "segment_start", "http": {"method": "GET", "url": url}}])).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");

    let outcome = outcomes(&app, 1).await.remove(0);
    assert_eq!(outcome["result"], "failed", "{outcome}");
    assert!(outcome["error"].as_str().unwrap().contains("302"), "{outcome}");
    assert_eq!(hook.got().len(), 3, "each attempt asked the hook once");
    assert!(hook.got().iter().all(|r| r.method == "GET" && r.target == "/hook"), "{:?}", hook.got());
    assert!(elsewhere.got().is_empty(), "the redirect was never followed: {:?}", elsewhere.got());
}

#[tokio::test]
async fn a_title_goes_into_a_url_percent_encoded_and_into_a_json_body_escaped() {
    let app = spawn_app().await;
    let hook = Receiver::start(OK.into()).await;
    let automations = json!([{"trigger": "segment_start", "http": {
        "method": "POST",
        "url": format!("http://{}/hook?title={{{{segment.title}}}}&id={{{{segment.id}}}}", hook.addr),
        "body": "{\"title\": \"{{segment.title}}\", \"next\": \"{{next.title.ja}}\"}",
        "content_type": "application/json"}}]);
    let mut organizer = automate(&app, automations).await;
    let title = "Opening?delete=all&x=1#/../admin \"now\" \\ 开幕";
    let rename = json!({"plan_version": 1, "segment": "opening", "title": {"en": title}});
    assert_eq!(organizer.run("plan_update_segment", rename).await["type"], "ack");
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");

    let got = hook.until(1).await.remove(0);
    assert_eq!(
        got.target,
        "/hook?title=Opening%3Fdelete%3Dall%26x%3D1%23%2F..%2Fadmin%20%22now%22%20%5C%20%E5%BC%80%E5%B9%95&id=opening"
    );
    let body: Value = serde_json::from_str(&got.body).expect("the body is still JSON");
    assert_eq!(body["title"], title);
    assert!(body["next"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn outputs_to_one_destination_arrive_in_the_order_their_triggers_happened() {
    let app = spawn_app().await;
    let hook = Receiver::start(OK.into()).await;
    let url = format!("http://{}/order", hook.addr);
    let to_hook =
        |trigger: &str| json!({"trigger": trigger, "http": {"url": url, "body": "{{trigger}} {{segment.id}}"}});
    automate(&app, json!([to_hook("segment_start"), to_hook("segment_end"), to_hook("speaker_start")])).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    for k in 0..19 {
        let command = if k % 2 == 0 { "next" } else { "previous" };
        assert_eq!(chair.run(command, json!({})).await["type"], "ack");
    }

    // 20 segments started, 19 ended, each start followed by its first speaker's.
    let got: Vec<String> = hook.until(20 + 19 + 20).await.into_iter().map(|r| r.body).collect();
    let mut expected = Vec::new();
    let mut segment = "opening";
    expected.extend([format!("segment_start {segment}"), format!("speaker_start {segment}")]);
    for k in 0..19 {
        let next = if k % 2 == 0 { "keynotes" } else { "opening" };
        expected.push(format!("segment_end {segment}"));
        expected.extend([format!("segment_start {next}"), format!("speaker_start {next}")]);
        segment = next;
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn automations_never_reach_link_local_addresses_and_keep_to_the_allowed_destinations() {
    let app = spawn_app().await;
    let metadata = json!({"trigger": "segment_start", "http": {"method": "GET", "url": "http://169.254.169.254/latest/meta-data/"}});
    automate(&app, json!([metadata])).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let outcome = outcomes(&app, 1).await.remove(0);
    assert_eq!((outcome["result"].as_str(), outcome["attempts"].as_u64()), (Some("failed"), Some(1)), "{outcome}");
    assert!(outcome["error"].as_str().unwrap().contains("not an allowed destination"), "{outcome}");

    // Only the booth's network: loopback is then off limits, by address and by name.
    let app =
        spawn_app_with(|s| s.limits.automation_destinations = vec!["10.0.0.0/8".into(), "qlab.local".into()]).await;
    let hook = Receiver::start(OK.into()).await;
    let desk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let automations = json!([
        {"trigger": "segment_start", "http": {"url": format!("http://{}/by-address", hook.addr)}},
        {"trigger": "segment_start", "http": {"url": format!("http://localhost:{}/by-name", hook.addr.port())}},
        {"trigger": "segment_start", "osc": {"host": "127.0.0.1", "port": desk.local_addr().unwrap().port(), "address": "/go"}},
    ]);
    automate(&app, automations).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    for outcome in outcomes(&app, 3).await {
        assert_eq!(outcome["result"], "failed", "{outcome}");
        assert!(outcome["error"].as_str().unwrap().contains("not an allowed destination"), "{outcome}");
    }
    assert!(hook.got().is_empty());
    // Nothing arrives: the failed OSC output is already recorded, so a packet sent anyway
    // would have come by now; a short listen catches a stray one.
    let mut buffer = [0u8; 1024];
    assert!(tokio::time::timeout(Duration::from_millis(300), desk.recv_from(&mut buffer)).await.is_err());
}

#[tokio::test]
async fn an_automation_url_with_a_user_name_or_a_templated_host_is_refused() {
    let app = spawn_app().await;
    let (mut organizer, _) = app.join(Role::Organizer, "Producer").await;
    for url in ["http://admin:secret@127.0.0.1/hook", "http://{{segment.id}}.example/x"] {
        let automations = json!([{"trigger": "segment_start", "http": {"url": url}}]);
        let reply =
            organizer.run("plan_update_automations", json!({"plan_version": 0, "automations": automations})).await;
        assert_eq!((reply["type"].as_str(), reply["code"].as_str()), (Some("error"), Some("invalid_field")), "{reply}");
    }
}

#[tokio::test]
async fn server_time_goes_out_over_osc_as_an_int64() {
    let app = spawn_app().await;
    let desk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = desk.local_addr().unwrap().port();
    let osc = json!({"host": "127.0.0.1", "port": port, "address": "/time", "args": ["{{server_time}}", "{{segment.number}}"]});
    automate(&app, json!([{"trigger": "segment_start", "osc": osc}])).await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut buffer = vec![0; 65_536];
    let (len, _) = tokio::time::timeout(PATIENCE, desk.recv_from(&mut buffer)).await.unwrap().unwrap();
    let OscPacket::Message(message) = rosc::decoder::decode_udp(&buffer[..len]).unwrap().1 else { panic!("a message") };
    assert!(matches!(message.args[0], OscType::Long(ms) if ms > 1_700_000_000_000), "{message:?}");
    assert_eq!(message.args[1], OscType::Int(1));
}
