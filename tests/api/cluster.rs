//! Several real hub nodes (the binary, with `--cluster`) on real NATS servers started on
//! free ports with JetStream on temporary directories: changes, races, kills and outages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventhub::store::nats::{UNAVAILABLE, UNCONFIRMED};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

use crate::crash::{kill_9, started, Process};
use crate::helpers::{events_dir, hello_frame, http_get, Client, EVENT};

const QUEUE: &str = "round-table";
/// How long a dead node's people may stay in the totals: docs/operations.md, "Cluster".
const PRESENCE_DROP_OUT: Duration = Duration::from_secs(8);
/// Show commands faster than this would trip the per-connection rate limit (20 a second).
const PACE: Duration = Duration::from_millis(60);

/// One cluster test at a time: each starts several processes, and the presence test
/// measures time, which two cores shared by six servers would blur.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The `nats-server` binary: on the PATH, or where Debian's package puts it.
pub fn nats_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .expect("the cluster tests need a real NATS server: apt-get install nats-server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One NATS server with JetStream on a store directory that outlives its restarts.
struct Nats {
    args: Vec<String>,
    port: u16,
    monitor: u16,
    child: Option<Child>,
    _store: tempfile::TempDir,
}

impl Nats {
    fn configured(extra: Vec<String>) -> Nats {
        let store = tempfile::tempdir().unwrap();
        let (port, monitor) = (free_port(), free_port());
        let mut args: Vec<String> = vec!["-js".into(), "-sd".into(), store.path().display().to_string()];
        args.extend(["-a".into(), "127.0.0.1".into(), "-p".into(), port.to_string(), "-m".into(), monitor.to_string()]);
        args.extend(extra);
        Nats { args, port, monitor, child: None, _store: store }
    }

    /// One server on its own, started.
    async fn single() -> Nats {
        let mut nats = Nats::configured(Vec::new());
        nats.start().await;
        nats
    }

    /// Three servers routed into one cluster, started.
    async fn trio() -> Vec<Nats> {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut trio: Vec<Nats> = (0..3)
            .map(|k| {
                let others: Vec<String> =
                    (0..3).filter(|&j| j != k).map(|j| format!("nats://127.0.0.1:{}", routes[j])).collect();
                Nats::configured(vec![
                    "--server_name".into(),
                    format!("n{k}"),
                    "--cluster_name".into(),
                    "c".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{}", routes[k]),
                    "--routes".into(),
                    others.join(","),
                ])
            })
            .collect();
        for nats in &mut trio {
            nats.spawn();
        }
        for nats in &trio {
            nats.healthy().await;
        }
        trio
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(nats_binary())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
    }

    async fn start(&mut self) {
        self.spawn();
        self.healthy().await;
    }

    /// Waits until the server says JetStream is ready.
    async fn healthy(&self) {
        let addr = format!("127.0.0.1:{}", self.monitor).parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() && http_get(addr, "/healthz").await.0 == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "nats-server on port {} became healthy in time", self.port);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// kill -9.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_9(&mut child).await;
        }
    }
}

/// A hub node: the binary, joined to the cluster at `urls` with `replicas` copies.
struct Node {
    process: Process,
    _data: tempfile::TempDir,
}

impl Node {
    async fn start(urls: String, replicas: usize) -> Node {
        let data = tempfile::tempdir().unwrap();
        let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
        let settings = data.path().join("settings.toml");
        std::fs::write(&settings, format!("{shipped}\n[cluster]\nurls = \"unused\"\nreplicas = {replicas}\n")).unwrap();
        let log = std::fs::File::create(data.path().join("node.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eventhub"))
            .arg("--config")
            .arg(&settings)
            .args(["--bind", "127.0.0.1:0", "--cluster", &urls, "--data-dir"])
            .arg(data.path().join("data"))
            .arg("--events-dir")
            .arg(events_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        match tokio::spawn(started(child)).await {
            Ok(process) => Node { process, _data: data },
            Err(e) => {
                let log = std::fs::read_to_string(data.path().join("node.log")).unwrap_or_default();
                panic!("a hub node did not start ({e}); it logged:\n{log}")
            }
        }
    }

    fn token(&self, role: &str) -> &str {
        &self.process.tokens[role]
    }

    async fn join(&self, role: &str, name: &str) -> (Client, Value) {
        Client::join(self.process.addr, self.token(role), name).await
    }

    /// An attendee with its own participant id, so that each counts once.
    async fn attendee(&self, participant: &str) -> Client {
        let mut client = Client::connect(self.process.addr).await;
        let mut hello = hello_frame(self.token("attendee"), participant);
        hello["participant"] = json!(participant);
        client.send(hello).await;
        let welcome = client.expect("welcome").await;
        client.seq = welcome["seq"].as_u64().unwrap();
        client
    }

    /// Reconnects as `name` after seq `seq` of `epoch`; returns the client and its welcome.
    async fn resume(&self, role: &str, name: &str, epoch: &Value, seq: u64) -> (Client, Value) {
        let mut client = Client::connect(self.process.addr).await;
        let mut hello = hello_frame(self.token(role), name);
        hello["resume"] = json!({"epoch": epoch, "seq": seq});
        client.send(hello).await;
        let welcome = client.expect("welcome").await;
        client.seq = welcome["seq"].as_u64().unwrap();
        (client, welcome)
    }

    /// The event's whole log as this node exports it.
    async fn log(&self) -> Vec<Value> {
        let path = format!("/api/events/{EVENT}/log.jsonl?token={}", self.token("organizer"));
        let (status, _, body) = http_get(self.process.addr, &path).await;
        assert_eq!(status, 200, "{body}");
        body.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    async fn kill(&mut self) {
        kill_9(&mut self.process.child).await;
    }
}

/// Reads until the change with `seq` and returns it.
async fn change_at(client: &mut Client, seq: u64) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "change" && frame["seq"].as_u64().unwrap() >= seq {
            assert_eq!(frame["seq"], seq, "no change is skipped: {frame}");
            return frame;
        }
    }
}

/// The reply to the command with `id`.
async fn reply(client: &mut Client, id: &str) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["id"] == id {
            return frame;
        }
    }
}

/// Sends one-second extensions at [`PACE`] until `stop` or the connection ends; returns
/// the commands acknowledged to it, by seq. Refusals (`unavailable`) are part of the test.
async fn keep_extending(mut client: Client, stop: Arc<AtomicBool>) -> Vec<(u64, String)> {
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = client.command("extend", json!({"seconds": 1})).await;
        loop {
            let Some(frame) = client.try_next_frame().await else { return acked };
            if frame["id"] == id.as_str() {
                if frame["type"] == "ack" {
                    acked.push((frame["seq"].as_u64().unwrap(), id));
                }
                break;
            }
        }
        tokio::time::sleep(PACE).await;
    }
    acked
}

/// Every change a client reads, by seq; a seq read twice fails the test.
#[derive(Default)]
struct Seen(BTreeMap<u64, Value>);

impl Seen {
    fn take(&mut self, frame: Value) {
        if frame["type"] == "change" {
            let seq = frame["seq"].as_u64().unwrap();
            let before = self.0.insert(seq, frame["change"].clone());
            assert!(before.is_none(), "seq {seq} arrived twice: {before:?} then {frame}");
        }
    }

    fn last(&self) -> u64 {
        self.0.keys().next_back().copied().unwrap_or(0)
    }
}

/// The log's seqs are 1..=n, every acknowledged command is in it at the seq its ack named,
/// and every change a client saw is the one stored.
fn check_log(log: &[Value], acked: &[(u64, String)], seen: &Seen) {
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>(), "the log has no gap");
    for (seq, id) in acked {
        assert!(*seq as usize <= log.len(), "acknowledged seq {seq} is in the log of {}", log.len());
        assert_eq!(log[*seq as usize - 1]["command"], id.as_str(), "seq {seq} holds the command acked with it");
    }
    for (seq, change) in &seen.0 {
        assert_eq!(&log[*seq as usize - 1]["change"], change, "change {seq} is stored as it was shown");
    }
}

#[tokio::test]
async fn next_on_one_node_reaches_the_others_with_the_same_seq_and_a_race_advances_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let (a, b, c) = tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1), Node::start(nats.url(), 1));
    let (mut chair, _) = a.join("moderator", "Ji Weidong").await;
    let (mut on_b, _) = b.join("attendee", "on b").await;
    let (mut on_c, _) = c.join("attendee", "on c").await;
    let (mut rival_b, _) = b.join("moderator", "rival on b").await;
    let (mut rival_c, _) = c.join("organizer", "rival on c").await;

    let ack = chair.run("next", json!({})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let seq = ack["seq"].as_u64().unwrap();
    for attendee in [&mut on_b, &mut on_c] {
        let change = change_at(attendee, seq).await;
        assert_eq!(change["change"]["op"], "next");
        assert_eq!(change["change"]["live"]["segment"], 0);
    }
    for rival in [&mut rival_b, &mut rival_c] {
        change_at(rival, seq).await;
    }

    let (first, second) = tokio::join!(rival_b.command("next", json!({})), rival_c.command("next", json!({})));
    let (first, second) = tokio::join!(reply(&mut rival_b, &first), reply(&mut rival_c, &second));
    let mut outcomes: Vec<String> = [&first, &second]
        .iter()
        .map(|r| if r["type"] == "ack" { "ack".to_owned() } else { r["code"].as_str().unwrap().to_owned() })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["ack", "conflict"], "{first} {second}");

    let (mut on_a, welcome) = a.join("attendee", "on a, later").await;
    let advanced = welcome["seq"].as_u64().unwrap();
    assert_eq!(advanced, seq + 1, "exactly one more change");
    assert_eq!(welcome["snapshot"]["live"]["segment"], 1);
    for attendee in [&mut on_b, &mut on_c] {
        assert_eq!(change_at(attendee, seq + 1).await["change"]["live"]["segment"], 1);
        attendee.still_works().await;
    }
    on_a.still_works().await;
}

/// Joins as `participant`, asks for the floor, and returns the seq its ack names. Reads
/// only what it needs: two hundred full clients would each parse every queue change. A
/// client too slow for the node is closed (two hundred queue changes of up to two hundred
/// entries each): it comes back and sends the same request again, as a page does, and the
/// node answers the retry with the first answer.
async fn ask_for_the_floor(addr: std::net::SocketAddr, token: String, participant: String) -> u64 {
    let id = format!("ask-{participant}");
    for _ in 0..5 {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
        let mut hello = hello_frame(&token, &participant);
        hello["participant"] = json!(participant);
        ws.send(Message::Text(hello.to_string().into())).await.unwrap();
        let mut asked = false;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), ws.next()).await.expect("a frame in time");
            let Some(Ok(message)) = next else { break };
            let Message::Text(text) = message else { continue };
            if !asked && text.as_str().starts_with(r#"{"type":"welcome""#) {
                let request = json!({"type": "queue_request", "id": id, "queue": QUEUE, "topic": "scale"});
                ws.send(Message::Text(request.to_string().into())).await.unwrap();
                asked = true;
            } else if text.as_str().contains(&format!(r#""id":"{id}""#)) {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(frame["type"], "ack", "{participant}: {frame}");
                return frame["seq"].as_u64().unwrap();
            }
        }
    }
    panic!("{participant} was closed five times before its request was answered");
}

#[tokio::test]
async fn two_hundred_requests_over_three_nodes_are_each_placed_once_in_one_order() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let nodes = {
        let (a, b, c) =
            tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1), Node::start(nats.url(), 1));
        [a, b, c]
    };
    let mut chairs = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let (mut chair, _) = node.join("moderator", &format!("chair {k}")).await;
        // Read as the changes come, or two hundred queues' worth would make the chair too slow.
        chairs.push(tokio::spawn(async move { change_at(&mut chair, 200).await }));
    }
    let asks = (0..200).map(|k| {
        let node = &nodes[k % 3];
        ask_for_the_floor(node.process.addr, node.token("attendee").to_owned(), format!("person-{k}"))
    });
    let seqs: BTreeSet<u64> = futures_util::future::join_all(asks).await.into_iter().collect();
    assert_eq!(seqs, (1..=200).collect(), "two hundred changes, one for each request");

    let mut orders = Vec::new();
    for chair in chairs {
        let change = chair.await.unwrap();
        let waiting = change["change"]["state"]["waiting"].as_array().unwrap().clone();
        let names: Vec<String> = waiting.iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
        orders.push(names);
    }
    let placed: BTreeSet<&String> = orders[0].iter().collect();
    assert_eq!((orders[0].len(), placed.len()), (200, 200), "every request is placed exactly once");
    assert!(orders.iter().all(|order| *order == orders[0]), "every node shows the same order");
    for node in &nodes {
        let (_, welcome) = node.join("attendee", "late").await;
        let late: Vec<&str> = welcome["snapshot"]["queues"][QUEUE]["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(late, orders[0], "a late attendee on any node sees the same order");
    }
}

#[tokio::test]
async fn a_hub_node_killed_mid_stream_loses_nothing_and_its_clients_resume_elsewhere() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let (mut a, b) = tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1));
    let (mut watcher, welcome) = a.join("attendee", "watcher").await;
    let epoch = welcome["epoch"].clone();
    let (mut starter, _) = a.join("moderator", "starter").await;
    assert_eq!(starter.run("next", json!({})).await["type"], "ack");

    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for (k, node) in [&a, &a, &b].into_iter().enumerate() {
        let (chair, _) = node.join("moderator", &format!("chair {k}")).await;
        streams.push(tokio::spawn(keep_extending(chair, stop.clone())));
    }
    let mut seen = Seen::default();
    while seen.0.len() < 30 {
        seen.take(watcher.next_frame().await);
    }
    a.kill().await;
    while let Some(frame) = watcher.try_next_frame().await {
        seen.take(frame);
    }

    let (mut back, welcome) = b.resume("attendee", "watcher", &epoch, seen.last()).await;
    assert_eq!(welcome["resume"], "replay", "{welcome}");
    // The chair on b goes on; the watcher reads twenty more changes than it had.
    let target = seen.last() + 20;
    while seen.last() < target {
        seen.take(back.next_frame().await);
    }
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for stream in streams {
        acked.extend(stream.await.unwrap());
    }
    while seen.last() < acked.iter().map(|(seq, _)| *seq).max().unwrap() {
        seen.take(back.next_frame().await);
    }
    let log = b.log().await;
    assert_eq!(seen.0.keys().copied().collect::<Vec<_>>(), (1..=seen.last()).collect::<Vec<_>>(), "no gap");
    check_log(&log, &acked, &seen);
}

#[tokio::test]
async fn with_every_nats_server_down_commands_are_refused_pages_stay_up_and_all_resumes() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut nats = Nats::single().await;
    let (a, b) = tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1));
    let (mut chair, _) = a.join("moderator", "chair").await;
    let (mut attendee, _) = b.join("attendee", "attendee").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    change_at(&mut attendee, 1).await;

    nats.kill().await;
    let outage = json!({"type": "extend", "id": "during-the-outage", "version": chair.version, "seconds": 30});
    chair.send(outage.clone()).await;
    let refused = reply(&mut chair, "during-the-outage").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    let unconfirmed = refused["message"] == UNCONFIRMED;
    assert!(unconfirmed || refused["message"] == UNAVAILABLE, "{refused}");
    let (status, _, page) = http_get(b.process.addr, "/attend").await;
    assert_eq!(status, 200, "the pages are served");
    assert!(!page.is_empty());
    let (_, late) = b.join("attendee", "late").await;
    assert_eq!((late["seq"].as_u64(), &late["snapshot"]["live"]["segment"]), (Some(1), &json!(0)), "the last state");
    attendee.still_works().await;

    nats.start().await;
    // Sent with its id until the cluster answers, as a page does: an attempt refused as
    // unconfirmed may have been stored meanwhile, and its id then gets that outcome. The
    // command refused during the outage is sent again only when it was unconfirmed; one
    // refused as not applied must not be stored, so a new command comes next after it.
    let after = json!({"type": "extend", "id": "after-the-outage", "version": chair.version, "seconds": 30});
    let again = if unconfirmed { outage } else { after };
    let id = again["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let acked = loop {
        chair.send(again.clone()).await;
        let answer = reply(&mut chair, &id).await;
        if answer["type"] == "ack" {
            break answer["seq"].as_u64().unwrap();
        }
        assert_eq!(answer["code"], "unavailable", "{answer}");
        assert!(Instant::now() < deadline, "commands are taken again once NATS is back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(acked, 2, "nothing refused as not applied was stored, and the extension once");
    let change = change_at(&mut attendee, 2).await;
    assert_eq!(change["change"]["op"], "extend");
    let log = b.log().await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1]["command"], id.as_str());
}

fn total(frame: &Value) -> u64 {
    frame["counts"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn presence_totals_are_exact_across_nodes_and_a_dead_node_drops_out_in_time() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let (a, b, mut c) =
        tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1), Node::start(nats.url(), 1));
    let mut people = Vec::new();
    for (node, count, tag) in [(&a, 4, "a"), (&b, 3, "b"), (&c, 2, "c")] {
        for k in 0..count {
            people.push(node.attendee(&format!("{tag}-{k}")).await);
        }
    }
    let (mut chair_a, _) = a.join("moderator", "chair on a").await;
    let (mut chair_b, _) = b.join("moderator", "chair on b").await;
    for chair in [&mut chair_a, &mut chair_b] {
        chair.presence_until(|p| total(p) == 9).await;
    }
    people.last_mut().unwrap().presence_until(|p| total(p) == 9).await;

    let killed = Instant::now();
    c.kill().await;
    // Both chairs read at once: each waits with the other's frames unread.
    tokio::join!(chair_a.presence_until(|p| total(p) == 7), chair_b.presence_until(|p| total(p) == 7));
    let took = killed.elapsed();
    assert!(took <= PRESENCE_DROP_OUT, "a dead node's people drop out within {PRESENCE_DROP_OUT:?}: {took:?}");
}

#[tokio::test]
async fn a_nats_server_of_three_killed_mid_show_loses_nothing_acknowledged() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut trio = Nats::trio().await;
    let urls: Vec<String> = trio.iter().map(Nats::url).collect();
    let (a, b) = tokio::join!(Node::start(urls.join(","), 3), Node::start(urls[1..].join(","), 3));
    let (mut watcher, _) = b.join("attendee", "watcher").await;
    let (mut starter, _) = a.join("moderator", "starter").await;
    assert_eq!(starter.run("next", json!({})).await["type"], "ack");

    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for (k, node) in [&a, &b].into_iter().enumerate() {
        let (chair, _) = node.join("moderator", &format!("chair {k}")).await;
        streams.push(tokio::spawn(keep_extending(chair, stop.clone())));
    }
    let mut seen = Seen::default();
    while seen.0.len() < 20 {
        seen.take(watcher.next_frame().await);
    }
    trio[0].kill().await;
    let killed_at = seen.last();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.last() < killed_at + 20 {
        assert!(Instant::now() < deadline, "the show goes on after a NATS server is killed");
        seen.take(watcher.next_frame().await);
    }
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for stream in streams {
        acked.extend(stream.await.unwrap());
    }
    while seen.last() < acked.iter().map(|(seq, _)| *seq).max().unwrap() {
        seen.take(watcher.next_frame().await);
    }
    check_log(&b.log().await, &acked, &seen);
    check_log(&a.log().await, &acked, &seen);
}
