//! Small runs of the load generator against the real binary: every change reaches every
//! attendee and staff screen, in order, on one node, with captions, and on two nodes over
//! NATS. Speed is the benchmark's business (docs/benchmarks.md), not these tests'.

use std::time::Duration;

use crate::cluster::{nats_binary, ONE_AT_A_TIME};

/// Runs hub-load with `extra` arguments and returns its report, failing on a failed run.
async fn hub_load(extra: &[&str]) -> String {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub-load"))
        .args(["--changes", "8", "--interval-ms", "50", "--idle-secs", "1", "--sources", "4", "--cue-every", "3"])
        .args(["--server", env!("CARGO_BIN_EXE_eventhub")])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the run ends").expect("it starts");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}\n{errors}");
    report
}

#[tokio::test]
async fn five_hundred_attendees_get_every_change_in_order() {
    let report = hub_load(&["--attendees", "500"]).await;
    assert!(report.contains("connect: 500 attendees welcomed"), "{report}");
    assert!(report.contains("per delivery (4000 deliveries)"), "{report}");
    assert!(report.contains("losses: 0; out of order: 0; reconnects: 0"), "{report}");
    assert!(report.contains("idle: 0 frames"), "nothing is sent while nothing changes: {report}");
    assert!(report.contains("stage screen (node 1): p50"), "the staff screens are measured: {report}");
}

#[tokio::test]
async fn caption_lines_reach_the_readers_of_their_track_only() {
    let report = hub_load(&["--attendees", "300", "--captions-per-sec", "30"]).await;
    assert!(report.contains("-- with captions --"), "{report}");
    assert!(report.contains("caption losses: 0; lines of another track: 0"), "{report}");
    assert!(report.contains("per delivery (2400 deliveries)"), "both rounds reach everyone: {report}");
}

#[tokio::test]
async fn attendees_spread_over_two_nodes_get_every_change_in_order() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let nats = nats_binary();
    let report = hub_load(&["--attendees", "300", "--nodes", "2", "--nats-server", nats.to_str().unwrap()]).await;
    assert!(report.contains("2 nodes on NATS JetStream"), "{report}");
    assert!(report.contains("per delivery (2400 deliveries)"), "{report}");
    assert!(report.contains("losses: 0; out of order: 0; reconnects: 0"), "{report}");
}
