//! A small run of the load generator against the real binary: every change reaches every
//! attendee, in order. Speed is the benchmark's business (docs/benchmarks.md), not this test's.

use std::time::Duration;

#[tokio::test]
async fn five_hundred_attendees_get_every_change_in_order() {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub-load"))
        .args(["--attendees", "500", "--changes", "8", "--interval-ms", "50", "--idle-secs", "1", "--sources", "4"])
        .args(["--cue-every", "3", "--server", env!("CARGO_BIN_EXE_eventhub")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the run ends").expect("it starts");
    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}\n{errors}");
    assert!(report.contains("connect: 500 attendees welcomed"), "{report}");
    assert!(report.contains("per delivery (4000 deliveries)"), "{report}");
    assert!(report.contains("losses: 0; out of order: 0; reconnects: 0"), "{report}");
    assert!(report.contains("idle: 0 frames"), "nothing is sent while nothing changes: {report}");
}
