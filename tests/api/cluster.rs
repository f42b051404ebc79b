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
pub(crate) const PRESENCE_DROP_OUT: Duration = Duration::from_secs(8);
/// Show commands faster than this would trip the per-connection rate limit (20 a second).
const PACE: Duration = Duration::from_millis(60);

/// One cluster test at a time: each starts several processes, and the presence test
/// measures time, which two cores shared by six servers would blur.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The `nats-server` binary: the one `EVENTHUB_NATS_SERVER` names, else the first on the PATH,
/// else the one `./test` installs under `~/.cache/eventhub-test`.
pub fn nats_binary() -> PathBuf {
    if let Some(named) = std::env::var_os("EVENTHUB_NATS_SERVER") {
        let named = PathBuf::from(named);
        assert!(named.is_file(), "EVENTHUB_NATS_SERVER names no file: {}", named.display());
        return named;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    std::env::split_paths(&path)
        .chain(cache.map(|dir| dir.join("eventhub-test/bin")))
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
        .expect(
            "the cluster tests need a real NATS server: run ./test, which installs nats-server 2.12 \
             under ~/.cache/eventhub-test (or set EVENTHUB_NATS_SERVER to one)",
        )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Times a test tries to start three NATS servers as one cluster.
const TRIO_ATTEMPTS: usize = 3;

/// One NATS server with JetStream on a store directory that outlives its restarts.
pub(crate) struct Nats {
    args: Vec<String>,
    port: u16,
    pub(crate) monitor: u16,
    child: Option<Child>,
    store: tempfile::TempDir,
}

impl Nats {
    fn configured(extra: Vec<String>) -> Nats {
        let store = tempfile::tempdir().unwrap();
        let (port, monitor) = (free_port(), free_port());
        let mut args: Vec<String> = vec!["-js".into(), "-sd".into(), store.path().display().to_string()];
        args.extend(["-a".into(), "127.0.0.1".into(), "-p".into(), port.to_string(), "-m".into(), monitor.to_string()]);
        args.extend(extra);
        Nats { args, port, monitor, child: None, store }
    }

    /// One server on its own, started.
    pub(crate) async fn single() -> Nats {
        let mut nats = Nats::configured(Vec::new());
        nats.start().await;
        nats
    }

    /// Three servers routed into one cluster, started. Ports are picked free but may be
    /// taken by another test before a server binds them: a trio that does not come up is
    /// started again on other ports, a few times, before the test fails.
    pub(crate) async fn trio() -> Vec<Nats> {
        for _ in 1..TRIO_ATTEMPTS {
            let mut trio = Nats::trio_configured();
            trio.iter_mut().for_each(Nats::spawn);
            let mut up = true;
            for nats in &trio {
                up = up && nats.up_within(Duration::from_secs(20)).await;
            }
            if up {
                return trio;
            }
            for nats in &mut trio {
                eprintln!("a NATS trio did not come up; starting another. One log ends:\n{}", nats.log_tail());
                nats.kill().await;
            }
        }
        let mut trio = Nats::trio_configured();
        trio.iter_mut().for_each(Nats::spawn);
        for nats in &trio {
            nats.healthy().await;
        }
        trio
    }

    fn trio_configured() -> Vec<Nats> {
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        (0..3)
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
            .collect()
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Where the server writes its log, kept across its restarts.
    fn log_path(&self) -> PathBuf {
        self.store.path().join("nats.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = Command::new(nats_binary())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log)
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
        let patience = Duration::from_secs(30);
        if !self.up_within(patience).await {
            panic!(
                "nats-server on port {} is not healthy within {patience:?}; its log ends:\n{}",
                self.port,
                self.log_tail()
            );
        }
    }

    /// Whether the server says JetStream is ready within `patience`.
    async fn up_within(&self, patience: Duration) -> bool {
        let addr = format!("127.0.0.1:{}", self.monitor).parse().unwrap();
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(addr).await.is_ok() && http_get(addr, "/healthz").await.0 == 200 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// kill -9.
    pub(crate) async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_9(&mut child).await;
        }
    }
}

/// Starts the binary as `command` (its program and first arguments) with `dir`'s
/// `settings.toml`, data in `dir`, bound to `bind`, its log in `dir`'s `hub.log` (kept
/// across restarts), which a failed start prints.
pub(crate) async fn launch(mut command: Command, dir: &std::path::Path, bind: &str, what: &str) -> Process {
    let log_path = dir.join("hub.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
    command
        .arg("--config")
        .arg(dir.join("settings.toml"))
        .args(["--bind", bind, "--data-dir"])
        .arg(dir.join("data"))
        .arg("--events-dir")
        .arg(events_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true);
    let child = command.spawn().expect("the binary starts");
    match tokio::spawn(started(child)).await {
        Ok(process) => process,
        Err(e) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("{what} did not start ({e}); it logged:\n{log}")
        }
    }
}

/// A hub node: the binary, joined to the cluster at `urls` with `replicas` copies.
pub(crate) struct Node {
    pub(crate) process: Process,
    _data: tempfile::TempDir,
}

impl Node {
    pub(crate) async fn start(urls: String, replicas: usize) -> Node {
        let data = tempfile::tempdir().unwrap();
        let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
        let settings = data.path().join("settings.toml");
        std::fs::write(&settings, format!("{shipped}\n[cluster]\nurls = \"unused\"\nreplicas = {replicas}\n")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_eventhub"));
        command.args(["--cluster", &urls]);
        let process = launch(command, data.path(), "127.0.0.1:0", "a hub node").await;
        Node { process, _data: data }
    }

    pub(crate) fn token(&self, role: &str) -> &str {
        &self.process.tokens[role]
    }

    pub(crate) async fn join(&self, role: &str, name: &str) -> (Client, Value) {
        Client::join(self.process.addr, self.token(role), name).await
    }

    /// An attendee with its own participant id, so that each counts once.
    pub(crate) async fn attendee(&self, participant: &str) -> Client {
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
    /// The event's whole log as this node exports it; a stream that has just lost or
    /// regained a server may answer 500 for a moment, so it is asked again for a while.
    async fn log(&self) -> Vec<Value> {
        let path = format!("/api/events/{EVENT}/log.jsonl?token={}", self.token("organizer"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, _, body) = http_get(self.process.addr, &path).await;
            if status == 200 {
                return body.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
            }
            assert!(Instant::now() < deadline, "the log is read within 30 s: {status} {body}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(crate) async fn kill(&mut self) {
        kill_9(&mut self.process.child).await;
    }
}

/// Reads until the change with `seq` and returns it.
pub(crate) async fn change_at(client: &mut Client, seq: u64) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "change" && frame["seq"].as_u64().unwrap() >= seq {
            assert_eq!(frame["seq"], seq, "no change is skipped: {frame}");
            return frame;
        }
    }
}

/// The reply to the command with `id`.
pub(crate) async fn reply(client: &mut Client, id: &str) -> Value {
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

/// Sends `frame` (a command with its id) again and again, as a page does while the cluster
/// answers `unavailable`, until it is acknowledged within `patience`; returns its seq.
async fn until_acked(chair: &mut Client, frame: &Value, patience: Duration) -> u64 {
    let id = frame["id"].as_str().expect("the command has an id").to_owned();
    let deadline = Instant::now() + patience;
    loop {
        chair.send(frame.clone()).await;
        let answer = reply(chair, &id).await;
        if answer["type"] == "ack" {
            return answer["seq"].as_u64().unwrap();
        }
        assert_eq!(answer["code"], "unavailable", "{answer}");
        assert!(Instant::now() < deadline, "{id} is acknowledged within {patience:?}: {answer}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the node at `addr` says it is healthy, within `patience`.
async fn until_healthy(addr: std::net::SocketAddr, patience: Duration) {
    let deadline = Instant::now() + patience;
    while http_get(addr, "/healthz").await.0 != 200 {
        assert!(Instant::now() < deadline, "{addr} says it is healthy within {patience:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
/// node answers the retry with the first answer. A request that lost to the other nodes too
/// often (`conflict`: nothing was applied) is asked again under a new id, as a page does.
async fn ask_for_the_floor(addr: std::net::SocketAddr, token: String, participant: String) -> u64 {
    let mut id = format!("ask-{participant}");
    for attempt in 0..5 {
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
                if frame["code"] == "conflict" {
                    id = format!("ask-{participant}-{attempt}");
                    break;
                }
                assert_eq!(frame["type"], "ack", "{participant}: {frame}");
                return frame["seq"].as_u64().unwrap();
            }
        }
    }
    panic!("{participant} was closed or refused five times before its request was answered");
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
    let asks = (0..200).map(|k| {
        let node = &nodes[k % 3];
        ask_for_the_floor(node.process.addr, node.token("attendee").to_owned(), format!("person-{k}"))
    });
    let seqs: BTreeSet<u64> = futures_util::future::join_all(asks).await.into_iter().collect();
    assert_eq!(seqs, (1..=200).collect(), "two hundred changes, one for each request");

    // A late attendee on each node, once the node has followed all two hundred, sees one
    // order. (Chairs reading along would only test how fast this test reads.)
    let mut orders = Vec::new();
    for node in &nodes {
        orders.push(waiting_once_followed(node, 200).await);
    }
    let placed: BTreeSet<&String> = orders[0].iter().collect();
    assert_eq!((orders[0].len(), placed.len()), (200, 200), "every request is placed exactly once");
    assert!(orders.iter().all(|order| *order == orders[0]), "every node shows the same order: {orders:?}");
}

/// The queue's waiting names in the welcome of a late attendee on `node`, once the node
/// has followed the change at `seq`.
async fn waiting_once_followed(node: &Node, seq: u64) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, welcome) = node.join("attendee", "late").await;
        if welcome["seq"].as_u64().unwrap() >= seq {
            assert_eq!(welcome["seq"], seq, "no change past the last request");
            let waiting = welcome["snapshot"]["queues"][QUEUE]["waiting"].as_array().unwrap();
            return waiting.iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "the node follows seq {seq} within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let acked = until_acked(&mut chair, &again, Duration::from_secs(30)).await;
    assert_eq!(acked, 2, "nothing refused as not applied was stored, and the extension once");
    let change = change_at(&mut attendee, 2).await;
    assert_eq!(change["change"]["op"], "extend");
    let log = b.log().await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1]["command"], id.as_str());
}

pub(crate) fn total(frame: &Value) -> u64 {
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

impl Nats {
    /// Sends the server a signal: `-STOP` freezes it as a hung VM would (its sockets stay
    /// open), `-CONT` lets it go on.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().and_then(Child::id).expect("the server runs").to_string();
        let status = std::process::Command::new("kill").args([signal, &pid]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// The name (`n0`…) of the server that leads the event's stream, as this server's
    /// monitoring endpoint reports it.
    async fn stream_leader(&self) -> String {
        let addr = format!("127.0.0.1:{}", self.monitor).parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, _, body) = http_get(addr, "/jsz?streams=true").await;
            let jsz: Value = serde_json::from_str(&body).unwrap_or_default();
            let streams = jsz["account_details"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default());
            let leader = streams
                .filter(|s| s["name"] == format!("EVENTHUB_{EVENT}"))
                .find_map(|s| s["cluster"]["leader"].as_str().map(str::to_owned));
            if let Some(leader) = leader {
                return leader;
            }
            assert!(Instant::now() < deadline, "the event's stream has a leader: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Consumers on the stream `name`, as this server's monitoring endpoint reports them.
    pub(crate) async fn consumers_of(&self, name: &str) -> u64 {
        let addr = format!("127.0.0.1:{}", self.monitor).parse().unwrap();
        let (_, _, body) = http_get(addr, "/jsz?streams=true").await;
        let jsz: Value = serde_json::from_str(&body).unwrap();
        jsz["account_details"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["name"] == name)
            .map(|s| s["state"]["consumer_count"].as_u64().unwrap_or(0))
            .sum()
    }
}

/// Three servers, and a node on each server alone (node k on server k; it learns the
/// others from the server, as clients do, and may move to them).
pub(crate) async fn trio_with_a_node_each() -> (Vec<Nats>, Vec<Node>) {
    let trio = Nats::trio().await;
    let (a, b, c) =
        tokio::join!(Node::start(trio[0].url(), 3), Node::start(trio[1].url(), 3), Node::start(trio[2].url(), 3));
    (trio, vec![a, b, c])
}

fn index_of(server: &str) -> usize {
    server.trim_start_matches('n').parse().expect("servers are named n0, n1, n2")
}

/// When each of a chair's commands was answered, and how, while it sends stage signals,
/// which never conflict with another chair's, one after the other's answer.
async fn keep_signalling(mut chair: Client, stop: Arc<AtomicBool>) -> Vec<(Instant, String, String)> {
    let mut answers = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = chair.command("stage_signal", json!({"signal": "wrap_up"})).await;
        let answer = reply(&mut chair, &id).await;
        let outcome = if answer["type"] == "ack" {
            "ack".to_owned()
        } else {
            format!("{}: {}", answer["code"], answer["message"])
        };
        answers.push((Instant::now(), id, outcome));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    answers
}

/// The longest time between two acks from `from` on, counting from `from` to the first.
fn longest_without_ack(answers: &[(Instant, String, String)], from: Instant, to: Instant) -> Duration {
    let mut last = from;
    let mut longest = Duration::ZERO;
    for (at, _, _) in answers.iter().filter(|(at, _, outcome)| outcome == "ack" && *at > from && *at <= to) {
        longest = longest.max(*at - last);
        last = *at;
    }
    longest.max(to - last)
}

#[tokio::test]
async fn a_hung_nats_server_keeps_no_page_waiting_and_its_node_moves_to_another_server() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (trio, nodes) = trio_with_a_node_each().await;
    let (mut starter, _) = nodes[0].join("moderator", "starter").await;
    assert_eq!(starter.run("next", json!({})).await["type"], "ack");
    // The server that leads the stream stays; one that only holds a replica hangs.
    let leader = index_of(&trio[0].stream_leader().await);
    let hung = (leader + 1) % 3;
    let stop = Arc::new(AtomicBool::new(false));
    let mut chairs = Vec::new();
    for node in [hung, leader] {
        let (chair, _) = nodes[node].join("moderator", &format!("chair on node {node}")).await;
        chairs.push(tokio::spawn(keep_signalling(chair, stop.clone())));
    }
    let (mut watcher, welcome) = nodes[hung].join("attendee", "watcher").await;
    let epoch = welcome["epoch"].clone();
    tokio::time::sleep(Duration::from_secs(1)).await;

    trio[hung].signal("-STOP");
    let stopped = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut rounds = 0;
    while stopped.elapsed() < Duration::from_secs(10) {
        for (k, node) in nodes.iter().enumerate() {
            let asked = Instant::now();
            let (_, fresh) = node.join("attendee", &format!("fresh {rounds} on {k}")).await;
            assert_eq!(fresh["type"], "welcome");
            let seq = fresh["seq"].as_u64().unwrap();
            let (_, resumed) = node.resume("attendee", &format!("resumer {rounds} on {k}"), &epoch, seq).await;
            assert_eq!(resumed["type"], "welcome");
            slowest = slowest.max(asked.elapsed());
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resumed_at = Instant::now();
    trio[hung].signal("-CONT");
    stop.store(true, Ordering::Relaxed);
    let on_hung = chairs.remove(0).await.unwrap();
    let on_leader = chairs.remove(0).await.unwrap();

    assert!(slowest <= Duration::from_secs(1), "every node welcomes a join and a resume within 1 s: {slowest:?}");
    let leader_gap = longest_without_ack(&on_leader, stopped, resumed_at);
    assert!(leader_gap <= Duration::from_secs(1), "the other nodes ack throughout: {leader_gap:?} without an ack");
    let moved = on_hung.iter().find(|(at, _, outcome)| outcome == "ack" && *at > stopped + Duration::from_millis(500));
    let timeline: Vec<_> = on_hung.iter().map(|(at, _, o)| (at.saturating_duration_since(stopped), o)).collect();
    let moved = moved.map(|(at, _, _)| *at - stopped);
    let moved = moved.unwrap_or_else(|| panic!("the hung server's node acks again: {timeline:?}"));
    assert!(moved <= Duration::from_secs(3), "the hung server's node acks again within 3 s: {moved:?}");
    let hung_gap = longest_without_ack(&on_hung, stopped + moved, resumed_at);
    assert!(hung_gap <= Duration::from_secs(1), "and goes on acking: {hung_gap:?} without an ack");

    // Nothing acknowledged is lost, and the watcher saw every change once.
    let acked: Vec<String> =
        on_hung.iter().chain(&on_leader).filter(|(_, _, o)| o == "ack").map(|(_, id, _)| id.clone()).collect();
    let log = nodes[leader].log().await;
    let mut seen = Seen::default();
    while seen.last() < log.len() as u64 {
        seen.take(watcher.next_frame().await);
    }
    let stored: BTreeSet<&str> = log.iter().filter_map(|e| e["command"].as_str()).collect();
    for id in &acked {
        assert!(stored.contains(id.as_str()), "acknowledged {id} is stored");
    }
}

#[tokio::test]
async fn when_the_stream_leaders_server_dies_while_the_chairs_are_quiet_every_node_follows_the_next_change() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut trio, nodes) = trio_with_a_node_each().await;
    let (mut chair, _) = nodes[0].join("moderator", "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut watchers = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        watchers.push(node.join("attendee", &format!("watcher on {k}")).await.0);
    }
    let leader = index_of(&trio[0].stream_leader().await);
    trio[leader].kill().await;
    // The chairs are quiet while the servers elect a new leader.
    tokio::time::sleep(Duration::from_secs(5)).await;
    // A chair on a node whose server is alive.
    let mut chair = if leader == 0 { nodes[1].join("moderator", "chair, again").await.0 } else { chair };
    let extend = json!({"type": "extend", "id": "after-the-election", "version": chair.version, "seconds": 30});
    let seq = until_acked(&mut chair, &extend, Duration::from_secs(30)).await;
    let acked = Instant::now();
    for (k, watcher) in watchers.iter_mut().enumerate().filter(|(k, _)| *k != leader) {
        change_at(watcher, seq).await;
        let took = acked.elapsed();
        assert!(took <= Duration::from_secs(2), "node {k}'s pages have the change within 2 s: {took:?}");
    }
}

#[tokio::test]
async fn a_retry_of_a_command_whose_publish_was_not_confirmed_gets_its_one_outcome() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut trio, nodes) = trio_with_a_node_each().await;
    let leader = index_of(&trio[0].stream_leader().await);
    let node = (leader + 1) % 3;
    let (mut chair, _) = nodes[node].join("moderator", "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let version = chair.version;
    let extend = |id: &str| json!({"type": "extend", "id": id, "version": version, "seconds": 60});

    // The leader hangs: the publish goes out and no answer comes.
    trio[leader].signal("-STOP");
    chair.send(extend("the-retried-one")).await;
    let first = reply(&mut chair, "the-retried-one").await;
    // The node's own server dies as well: the re-sent command cannot even go out.
    trio[node].kill().await;
    chair.send(extend("the-retried-one")).await;
    let mut answers = vec![first, reply(&mut chair, "the-retried-one").await];
    trio[leader].signal("-CONT");
    trio[node].start().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while answers.last().unwrap()["type"] != "ack" {
        assert!(Instant::now() < deadline, "the retry is answered with its outcome in time: {answers:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        chair.send(extend("the-retried-one")).await;
        answers.push(reply(&mut chair, "the-retried-one").await);
    }
    for answer in &answers[..answers.len() - 1] {
        assert_eq!(answer["code"], "unavailable", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(!message.contains("nothing was applied"), "a retry is never told nothing was applied: {answers:?}");
    }
    let log = nodes[node].log().await;
    let stored: Vec<&Value> = log.iter().filter(|e| e["command"] == "the-retried-one").collect();
    assert_eq!(stored.len(), 1, "applied once: {stored:?}");
    assert_eq!(answers.last().unwrap()["seq"], stored[0]["seq"], "the ack names the seq it is stored at");
}

#[tokio::test]
async fn presence_across_three_nodes_reads_without_making_a_consumer_per_read() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (trio, nodes) = trio_with_a_node_each().await;
    let mut people = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        people.push(node.attendee(&format!("person {k}")).await);
    }
    let (mut chair, _) = nodes[0].join("moderator", "chair").await;
    chair.presence_until(|p| total(p) == 3).await;
    // Ten reads a node; a consumer per read would leave dozens behind (they linger for
    // seconds after their last use).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let consumers = trio[0].consumers_of("KV_eventhub-presence").await;
    assert!(consumers <= 3, "one watch per node at most: {consumers} consumers on the presence bucket");
    chair.presence_until(|p| total(p) == 3).await;
}

#[tokio::test]
async fn healthz_says_a_node_without_any_nats_server_is_unhealthy_and_healthy_again_when_one_is_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut nats = Nats::single().await;
    let node = Node::start(nats.url(), 1).await;
    assert_eq!(http_get(node.process.addr, "/healthz").await.0, 200);
    nats.kill().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, _, body) = http_get(node.process.addr, "/healthz").await;
        if status == 503 {
            break body;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "a node without NATS is unhealthy within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body.starts_with("unhealthy: "), "{body}");
    nats.start().await;
    until_healthy(node.process.addr, Duration::from_secs(30)).await;
}

#[tokio::test]
async fn two_of_three_nats_servers_killed_and_restarted_take_commands_again_and_lose_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut trio, nodes) = trio_with_a_node_each().await;
    let (mut chair, _) = nodes[0].join("moderator", "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let (mut watcher, welcome) = nodes[2].join("attendee", "watcher").await;
    if welcome["seq"] == 0 {
        assert_eq!(change_at(&mut watcher, 1).await["change"]["op"], "next", "the third node follows the first");
    } else {
        assert_eq!(welcome["seq"], 1);
    }

    trio[0].kill().await;
    trio[1].kill().await;
    // One server of three is left: the stream has no leader. The first command waits for one
    // and is refused; the next is refused at once; joins go on meanwhile.
    let (mut lone, _) = nodes[2].join("moderator", "chair on the last server").await;
    let asked = Instant::now();
    let first = lone.command("stage_signal", json!({"signal": "wrap_up"})).await;
    let (_, welcome) = nodes[2].join("attendee", "joins meanwhile").await;
    assert_eq!(welcome["type"], "welcome");
    let joined = asked.elapsed();
    let answer = loop {
        // It waits for a leader for 10 s, longer than a test client waits for a frame.
        let frame = lone.try_next_frame_within(Duration::from_secs(20)).await.expect("the chair stays connected");
        if frame["id"] == first {
            break frame;
        }
    };
    assert_eq!(answer["code"], "unavailable", "{answer}");
    assert!(joined < Duration::from_secs(1), "a join is welcomed while a command waits: {joined:?}");
    let mut outage = vec![(first, answer["message"].as_str().unwrap().to_owned())];
    let asked = Instant::now();
    let second = lone.command("stage_signal", json!({"signal": "wrap_up"})).await;
    let answer = reply(&mut lone, &second).await;
    assert_eq!(answer["code"], "unavailable", "{answer}");
    let refused = asked.elapsed();
    assert!(refused < Duration::from_secs(3), "the next command does not wait for a leader again: {refused:?}");
    outage.push((second, answer["message"].as_str().unwrap().to_owned()));
    for (id, message) in &outage {
        assert!([UNAVAILABLE, UNCONFIRMED].contains(&message.as_str()), "{id}: {message}");
    }

    trio[0].spawn();
    trio[1].spawn();
    trio[0].healthy().await;
    trio[1].healthy().await;
    let restarted = Instant::now();
    let extend = json!({"type": "extend", "id": "after-the-restarts", "version": chair.version, "seconds": 30});
    let seq = until_acked(&mut chair, &extend, Duration::from_secs(60)).await;
    let took = restarted.elapsed();
    assert!(took <= Duration::from_secs(15), "commands are acknowledged again within 15 s of the restarts: {took:?}");
    assert_eq!(change_at(&mut watcher, seq).await["change"]["op"], "extend");
    // A command that "may still be applied", sent again with its id, gets its one outcome.
    for (id, message) in outage.iter().filter(|(_, message)| message == UNCONFIRMED) {
        let again = json!({"type": "stage_signal", "id": id, "signal": "wrap_up"});
        until_acked(&mut lone, &again, Duration::from_secs(30)).await;
        eprintln!("{id} was answered {message:?} and got its outcome when sent again");
    }
    for node in &nodes {
        let log = node.log().await;
        let stored: Vec<&str> = log.iter().filter_map(|e| e["command"].as_str()).collect();
        let times = |id: &str| stored.iter().filter(|stored| **stored == id).count();
        assert_eq!(times("after-the-restarts"), 1);
        for (id, message) in &outage {
            let expected = usize::from(message == UNCONFIRMED);
            assert_eq!(times(id), expected, "{id}, answered {message:?}, is stored {expected} times: {log:?}");
        }
    }
    for node in &nodes {
        until_healthy(node.process.addr, Duration::from_secs(10)).await;
    }
}

/// `eventhub migrate` of the store in `data` into the cluster at `url`, run to its end.
pub(crate) async fn migrate(data: &std::path::Path, url: &str) -> std::process::Output {
    eventhub_on(data, &["--cluster", url, "migrate"]).await
}

/// The binary with the shipped settings on the store in `data` and `args`, run to its end.
async fn eventhub_on(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    let ran = Command::new(env!("CARGO_BIN_EXE_eventhub"))
        .arg("--config")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output();
    tokio::time::timeout(Duration::from_secs(60), ran).await.expect("eventhub ends").expect("eventhub runs")
}

#[tokio::test]
async fn migrate_refuses_without_a_cluster_an_event_the_store_lacks_and_an_event_moved_already() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let mut single = crate::crash::launch(data.path()).await;
    let (mut chair, _) = Client::join(single.addr, &single.tokens["moderator"], "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    crate::crash::kill_9(&mut single.child).await;
    let said = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();

    let nowhere = eventhub_on(data.path(), &["migrate"]).await;
    assert!(!nowhere.status.success());
    assert!(said(&nowhere).contains("name the cluster: --cluster"), "{}", said(&nowhere));

    let nats = Nats::single().await;
    let url = nats.url();
    let unknown = eventhub_on(data.path(), &["--cluster", &url, "migrate", "--event", "no-such-event"]).await;
    assert!(!unknown.status.success());
    assert!(said(&unknown).contains("holds no event \"no-such-event\""), "{}", said(&unknown));

    let moved = migrate(data.path(), &url).await;
    assert!(moved.status.success(), "{}", said(&moved));
    assert!(String::from_utf8_lossy(&moved.stdout).contains(&format!("{EVENT}: 1 changes")), "nothing moved before");
    let again = migrate(data.path(), &url).await;
    assert!(!again.status.success(), "an event is never moved twice");
    assert!(said(&again).contains(&format!("holds the event \"{EVENT}\" already")), "{}", said(&again));
}

#[tokio::test]
async fn migrate_moves_the_embedded_store_into_the_cluster_seq_for_seq_and_open_pages_resume_with_replay() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let mut single = crate::crash::launch(data.path()).await;
    let (mut chair, welcome) = Client::join(single.addr, &single.tokens["moderator"], "Ji Weidong").await;
    let epoch = welcome["epoch"].clone();
    // A morning: segments, a speaker called, extensions, a hold.
    for (kind, fields) in [
        ("next", json!({})),
        ("extend", json!({"seconds": 60})),
        ("next", json!({})),
        ("next_speaker", json!({})),
        ("hold", json!({})),
        ("resume", json!({})),
    ] {
        assert_eq!(chair.run(kind, fields).await["type"], "ack", "{kind}");
    }
    let page_had = chair.seq;
    for kind in ["next_speaker", "next", "extend"] {
        let fields = if kind == "extend" { json!({"seconds": 30}) } else { json!({}) };
        assert_eq!(chair.run(kind, fields).await["type"], "ack", "{kind}");
    }
    let last = chair.seq;
    let path = format!("/api/events/{EVENT}/log.jsonl?token={}", single.tokens["organizer"]);
    let (status, _, before) = http_get(single.addr, &path).await;
    assert_eq!(status, 200);
    let before: Vec<Value> = before.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(before.len() as u64, last);
    crate::crash::kill_9(&mut single.child).await;

    let nats = Nats::single().await;
    let migrated = migrate(data.path(), &nats.url()).await;
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{said}{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(said.contains(&format!("{EVENT}: {last} changes (seq 1 to {last})")), "{said}");
    assert!(said.contains("its links stay valid"), "{said}");

    let node = Node::start(nats.url(), 1).await;
    for role in ["moderator", "attendee", "organizer"] {
        assert_eq!(node.token(role), single.tokens[role], "the {role} link is the same");
    }
    let (mut page, welcome) = node.resume("attendee", "a page open before the move", &epoch, page_had).await;
    assert_eq!(welcome["resume"], "replay", "{welcome}");
    for seq in page_had + 1..=last {
        assert_eq!(change_at(&mut page, seq).await["seq"], seq);
    }
    let after = node.log().await;
    assert_eq!(after.len(), before.len(), "the same log");
    for (moved, kept) in after.iter().zip(&before) {
        for field in ["seq", "at", "command", "change"] {
            assert_eq!(moved[field], kept[field], "seq {} keeps its {field}", kept["seq"]);
        }
    }
    let again = migrate(data.path(), &nats.url()).await;
    assert!(!again.status.success(), "an event the cluster holds is not moved twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("holds the event"), "{again:?}");
}

#[tokio::test]
async fn commands_sent_while_the_stream_elects_a_new_leader_wait_for_it_instead_of_being_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut trio, nodes) = trio_with_a_node_each().await;
    let (mut starter, _) = nodes[0].join("moderator", "starter").await;
    assert_eq!(starter.run("next", json!({})).await["type"], "ack");
    let leader = index_of(&trio[0].stream_leader().await);
    let stop = Arc::new(AtomicBool::new(false));
    let mut chairs = Vec::new();
    // Chairs on the nodes whose servers stay, so that only the election is in their way.
    for node in (0..3).filter(|&k| k != leader) {
        let (chair, _) = nodes[node].join("moderator", &format!("chair on node {node}")).await;
        chairs.push(tokio::spawn(keep_signalling(chair, stop.clone())));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    trio[leader].kill().await;
    // An election takes 5 to 9 s on 2.12.8; then some more commands.
    tokio::time::sleep(Duration::from_secs(12)).await;
    stop.store(true, Ordering::Relaxed);
    // A command the dying leader took without answering is told so ("may still be applied",
    // after the 2 s a publish waits); that is the truth, not a refusal.
    let in_flight_at_the_kill = |at: &Instant, outcome: &str| {
        outcome.contains(UNCONFIRMED) && *at >= killed && *at - killed < Duration::from_secs(3)
    };
    for chair in chairs {
        let answers = chair.await.unwrap();
        let refused: Vec<_> =
            answers.iter().filter(|(at, _, outcome)| outcome != "ack" && !in_flight_at_the_kill(at, outcome)).collect();
        assert!(refused.is_empty(), "every command is acknowledged: {refused:?}");
        assert!(answers.len() >= 10, "the chairs kept at it: {} answers", answers.len());
    }
}
