//! Event files at start-up: the real binary on an events directory of good and bad files.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{events_dir, Client};

/// The fields the README names, and nothing else.
const WORKSHOP: &str = include_str!("../fixtures/workshop.toml");

#[tokio::test]
async fn a_bad_event_file_is_reported_and_the_good_events_start() {
    let events = tempfile::tempdir().unwrap();
    std::fs::copy(events_dir().join("sjtu-forum.toml"), events.path().join("sjtu-forum.toml")).unwrap();
    std::fs::write(events.path().join("workshop.toml"), WORKSHOP).unwrap();
    std::fs::write(events.path().join("broken.toml"), WORKSHOP.replace("duration_min = 30", "")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventhub"))
        .arg("--config")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--events-dir")
        .arg(events.path())
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");

    // The page list ends with a blank line after the last event's links.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.is_empty() && printed.iter().any(|l: &String| l.contains("captioner")) {
                break;
            }
            printed.push(line);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.expect("the server printed its pages");
    let link = |event: &str, role: &str| {
        printed.iter().find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.len() == 3 && words[0] == event && words[1] == role).then(|| words[2].to_owned())
        })
    };
    assert!(link("sjtu-forum", "moderator").is_some(), "{printed:#?}");
    let display = link("sjtu-forum", "display").unwrap_or_default();
    assert!(display.contains("/captions#event=sjtu-forum&token="), "the hall's caption screen: {printed:#?}");
    let workshop = link("workshop", "attendee").unwrap_or_else(|| panic!("the workshop started: {printed:#?}"));
    assert!(!printed.iter().any(|l| l.starts_with("  broken")), "{printed:#?}");

    let addr = printed.iter().find_map(|l| l.strip_prefix("eventhub is serving on http://")).unwrap().parse().unwrap();
    let token = workshop.rsplit("token=").next().unwrap();
    let mut client = Client::connect(addr).await;
    client
        .send(serde_json::json!({"type": "hello", "protocol": 1, "event": "workshop", "token": token, "name": "Guest", "mode": "remote", "lang": "ja"}))
        .await;
    let welcome = client.expect("welcome").await;
    assert_eq!(welcome["snapshot"]["event"]["languages"], serde_json::json!(["zh", "ja", "en"]), "{welcome}");
    assert_eq!(welcome["snapshot"]["event"]["hybrid"], true);

    child.start_kill().unwrap();
    let mut errors = String::new();
    let mut stderr = child.stderr.take().unwrap();
    let read = stderr.read_to_string(&mut errors);
    tokio::time::timeout(Duration::from_secs(20), read).await.expect("the killed server's stderr ends").unwrap();
    let report = errors.lines().find(|l| l.contains("broken.toml")).unwrap_or_else(|| panic!("{errors}"));
    assert!(report.contains("ERROR"), "{report}");
    assert!(errors.contains("missing field `duration_min`"), "the field is named: {errors}");
}
