//! The real binary, killed hard and restarted on the same data dir.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{events_dir, http_get, Client, EVENT};
use crate::retries::{join_as, reply_to, unversioned};

/// A server process and what it printed at start.
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) tokens: HashMap<String, String>,
    /// The rooms token, from the rooms page's link.
    pub(crate) rooms_token: Option<String>,
}

fn command(data_dir: &Path, bind: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventhub"));
    command
        .arg("--config")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"))
        .args(["--bind", bind, "--data-dir"])
        .arg(data_dir)
        .arg("--events-dir")
        .arg(events_dir())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// How long a killed or stopped process may take to exit before the test fails.
const EXIT_PATIENCE: Duration = Duration::from_secs(30);

/// Waits for `child` to exit, failing the test if it has not within `patience`.
pub(crate) async fn exited(child: &mut Child, patience: Duration) -> ExitStatus {
    tokio::time::timeout(patience, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process did not exit within {patience:?}"))
        .expect("the process can be waited for")
}

/// kill -9, and waits until the process is gone.
pub(crate) async fn kill_9(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    exited(child, EXIT_PATIENCE).await;
}

/// Starts the binary and reads its address and tokens from what it prints.
pub(crate) async fn launch(data_dir: &Path) -> Process {
    launch_on(data_dir, "127.0.0.1:0").await
}

pub(crate) async fn launch_on(data_dir: &Path, bind: &str) -> Process {
    started(command(data_dir, bind).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the binary starts"))
        .await
}

/// Reads a started binary's address and tokens from what it prints on its piped stdout.
pub(crate) async fn started(mut child: Child) -> Process {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    let mut tokens = HashMap::new();
    let mut rooms_token = None;
    // Generous: a cluster node waits at start for its NATS servers to elect their leaders.
    let patience = Duration::from_secs(30);
    while let Some(line) = tokio::time::timeout(patience, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the binary printed nothing more for {patience:?} while starting"))
        .expect("its output is readable")
    {
        if let Some(url) = line.strip_prefix("eventhub is serving on http://") {
            addr = Some(url.trim().parse().expect("an address"));
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["rooms", link] = words.as_slice() {
            rooms_token = link.rsplit("token=").next().map(str::to_owned);
        }
        if let [event, role, .., last] = words.as_slice() {
            if *event == EVENT {
                let token = last.rsplit("token=").next().unwrap_or(last);
                tokens.insert(role.to_string(), token.to_string());
            }
        }
        if tokens.len() == eventhub::domain::Role::ALL.len() {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Process { child, addr: addr.expect("the binary prints its address"), tokens, rooms_token }
}

/// Sends one-second extensions as fast as replies come; returns the seqs acknowledged to it.
async fn keep_extending(mut client: Client) -> Vec<u64> {
    let mut acked = Vec::new();
    loop {
        let id = client.command("extend", json!({"seconds": 1})).await;
        loop {
            let Some(frame) = client.try_next_frame().await else { return acked };
            if frame["id"] == id.as_str() {
                if frame["type"] == "ack" {
                    acked.push(frame["seq"].as_u64().unwrap());
                }
                break;
            }
        }
    }
}

#[tokio::test]
async fn a_hard_kill_loses_no_acknowledged_change() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let (mut observer, _) = Client::join(server.addr, &server.tokens["organizer"], "observer").await;
    let (mut starter, _) = Client::join(server.addr, &server.tokens["moderator"], "starter").await;
    starter.command("next", json!({})).await;
    starter.expect("change").await;

    let mut chairs = Vec::new();
    for k in 0..3 {
        let (client, _) = Client::join(server.addr, &server.tokens["moderator"], &format!("chair {k}")).await;
        chairs.push(tokio::spawn(keep_extending(client)));
    }
    // Kill in the middle of the stream, once a good number of changes went out.
    let mut published = BTreeMap::new();
    while published.len() < 40 {
        let frame = observer.next_frame().await;
        if frame["type"] == "change" {
            published.insert(frame["seq"].as_u64().unwrap(), frame["change"].clone());
        }
    }
    kill_9(&mut server.child).await;
    while let Some(frame) = observer.try_next_frame().await {
        if frame["type"] == "change" {
            published.insert(frame["seq"].as_u64().unwrap(), frame["change"].clone());
        }
    }
    let mut acked = Vec::new();
    for chair in chairs {
        acked.extend(chair.await.unwrap());
    }
    assert!(!acked.is_empty(), "some commands were acknowledged before the kill");

    let server = launch(data.path()).await;
    let organizer = &server.tokens["organizer"];
    let (status, _, body) = http_get(server.addr, &format!("/api/events/{EVENT}/log.jsonl?token={organizer}")).await;
    assert_eq!(status, 200);
    let log: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=log.len() as u64).collect::<Vec<_>>(), "the log has no gap");
    for seq in &acked {
        assert!(*seq as usize <= log.len(), "acknowledged seq {seq} is in the log of {}", log.len());
    }
    for (seq, change) in &published {
        assert_eq!(&log[*seq as usize - 1]["change"], change, "published change {seq} is stored as published");
    }

    let (mut chair, welcome) = Client::join(server.addr, &server.tokens["moderator"], "chair again").await;
    assert_eq!(welcome["seq"], log.len() as u64);
    assert_eq!(welcome["snapshot"]["live"], log.last().unwrap()["change"]["live"], "state = the log replayed");
    chair.command("extend", json!({"seconds": 1})).await;
    assert_eq!(chair.expect("change").await["seq"], log.len() as u64 + 1, "seq goes on without a gap");
}

#[tokio::test]
async fn a_truncated_database_stops_start_up_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    for _ in 0..20 {
        assert_eq!(chair.run("extend", json!({"seconds": 1})).await["type"], "ack");
    }
    let pid = server.child.id().unwrap().to_string();
    let stopped = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(stopped.success());
    let mut child = server.child;
    exited(&mut child, Duration::from_secs(10)).await;

    let db = data.path().join("eventhub.db");
    let size = std::fs::metadata(&db).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    file.set_len(size / 2).unwrap();

    let output = tokio::time::timeout(Duration::from_secs(10), command(data.path(), "127.0.0.1:0").output())
        .await
        .expect("start-up on a damaged database ends within 10 s")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&db.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("Restore it from a backup"), "says what to do: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn sigterm_tells_clients_the_server_is_restarting_and_keeps_everything() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "chair").await;
    let (mut attendee, _) = Client::join(server.addr, &server.tokens["attendee"], "attendee").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let pid = server.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    while attendee.try_next_frame().await.is_some() {}
    let (code, reason) = attendee.close_frame().expect("a close frame");
    assert_eq!(code, 1012, "{reason}");
    let mut child = server.child;
    let status = exited(&mut child, Duration::from_secs(10)).await;
    assert!(status.success(), "a clean exit: {status}");

    let again = launch(data.path()).await;
    let (_, welcome) = Client::join(again.addr, &again.tokens["attendee"], "attendee").await;
    assert_eq!(welcome["seq"], 1);
    assert_eq!(welcome["snapshot"]["live"]["segment"], 0);
}

#[tokio::test]
async fn sigterm_with_a_half_sent_request_exits_by_the_deadline_and_the_port_is_free_again() {
    let data = tempfile::tempdir().unwrap();
    let server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut half = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, b"GET /console HTTP/1.1\r\nHost: loc").await.unwrap();

    let pid = server.child.id().unwrap().to_string();
    let asked = std::time::Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut child = server.child;
    let status = exited(&mut child, Duration::from_secs(15)).await;
    assert!(status.success(), "a clean exit: {status}");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(9), "the 5 s shutdown deadline, not the 10 s head limit, ended it: {took:?}");
    let wal = data.path().join("eventhub.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "the store was closed");

    let again = launch_on(data.path(), &server.addr.to_string()).await;
    assert_eq!(again.addr, server.addr, "the same port binds at once");
    let (_, welcome) = Client::join(again.addr, &again.tokens["attendee"], "attendee").await;
    assert_eq!(welcome["seq"], 1, "the acknowledged change is there");
}

#[tokio::test]
async fn commands_whose_acks_were_lost_to_a_kill_are_applied_once_when_re_sent_after_the_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let (mut chair, _) = join_as(server.addr, &server.tokens["moderator"], "Ji Weidong", "chair-console").await;
    let mut first = Vec::new();
    for frame in unversioned() {
        first.push(reply_to(&mut chair, frame).await["seq"].clone());
    }
    // Whether or not these acks reached the page, the kill leaves it not knowing.
    kill_9(&mut server.child).await;

    let server = launch(data.path()).await;
    let (mut chair, welcome) = join_as(server.addr, &server.tokens["moderator"], "Ji Weidong", "chair-console").await;
    for (frame, seq) in unversioned().into_iter().zip(&first) {
        let ack = reply_to(&mut chair, frame.clone()).await;
        assert_eq!((ack["type"].clone(), &ack["seq"]), (json!("ack"), seq), "{frame} is answered as before: {ack}");
    }
    assert_eq!(welcome["seq"], 3);
    let snapshot = &welcome["snapshot"];
    assert_eq!(snapshot["queues"]["event"]["waiting"].as_array().unwrap().len(), 1, "one request");
    assert_eq!(snapshot["cues"].as_array().unwrap().len(), 1, "one cue");
    chair.still_works().await;
    let organizer = &server.tokens["organizer"];
    let (_, _, body) = http_get(server.addr, &format!("/api/events/{EVENT}/log.jsonl?token={organizer}")).await;
    let commands: Vec<Value> =
        body.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["command"].clone()).collect();
    assert_eq!(commands, [json!("retry-1"), json!("retry-2"), json!("retry-3")], "each is in the log once");
}

#[tokio::test]
async fn undo_survives_a_kill_9_and_restart() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    assert_eq!(chair.run("extend", json!({"seconds": 120})).await["type"], "ack");
    let extended = chair.live.clone();
    assert_eq!(chair.run("end", json!({})).await["type"], "ack");
    kill_9(&mut server.child).await;

    let server = launch(data.path()).await;
    let (mut chair, welcome) = Client::join(server.addr, &server.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(welcome["snapshot"]["live"]["undo_depth"], 3);
    assert_eq!(chair.run("undo", json!({})).await["type"], "ack");
    for field in ["phase", "segment", "speaker", "segment_started_at", "extended_ms", "ended_at", "actual"] {
        assert_eq!(chair.live[field], extended[field], "{field} is back");
    }
    assert_eq!(chair.live["version"], 4);
}
