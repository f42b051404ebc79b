//! Reconnecting: exactly the missed changes while the server holds them, else a fresh
//! snapshot, across epochs and restarts.

use eventhub::domain::Role;
use eventhub::hub::RESUME_BUFFER;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Client};

/// Toggles hold and resume `n` times after starting the show; returns the last seq.
async fn make_changes(chair: &mut Client, n: usize) -> u64 {
    for _ in 0..n {
        let kind = if chair.version == 0 {
            "next"
        } else if chair.version % 2 == 1 {
            "hold"
        } else {
            "resume"
        };
        chair.command(kind, json!({})).await;
        chair.expect("change").await;
        chair.expect("ack").await;
    }
    chair.seq
}

fn epoch(welcome: &Value) -> String {
    welcome["epoch"].as_str().expect("welcome names the epoch").to_owned()
}

#[tokio::test]
async fn a_reconnecting_client_gets_exactly_the_changes_it_missed() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    make_changes(&mut chair, 3).await;
    let (attendee, welcome) = app.join(Role::Attendee, "on a train").await;
    let seen = attendee.seq;
    assert_eq!(seen, 3);
    drop(attendee);

    let last = make_changes(&mut chair, 7).await;
    let mut back = app.rejoin(Role::Attendee, "on a train", &epoch(&welcome), seen).await;
    let welcome = back.expect("welcome").await;
    assert_eq!(welcome["resume"], "replay");
    assert_eq!(welcome["snapshot"], Value::Null);
    assert_eq!(welcome["seq"], seen);
    for expected in seen + 1..=last {
        let change = back.expect("change").await;
        assert_eq!(change["seq"], expected);
    }
    // Nothing else was queued: the next frame is the answer to this ping.
    back.still_works().await;
    make_changes(&mut chair, 1).await;
    assert_eq!(back.expect("change").await["seq"], last + 1, "live changes follow the replay");
}

#[tokio::test]
async fn a_client_that_saw_everything_resumes_with_nothing_to_replay() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    let last = make_changes(&mut chair, 2).await;
    let mut back = app.rejoin(Role::Moderator, "Ji Weidong", &epoch(&welcome), last).await;
    let welcome = back.expect("welcome").await;
    assert_eq!(welcome["resume"], "replay");
    back.still_works().await;
}

#[tokio::test]
async fn a_seq_older_than_the_buffer_gets_a_fresh_snapshot() {
    // Two hundred commands in a row, faster than any chair clicks: lift the flood limit.
    let app = spawn_app_with(|settings| settings.limits.frames_per_second = 10_000).await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    let last = make_changes(&mut chair, RESUME_BUFFER + 5).await;
    let mut back = app.rejoin(Role::Attendee, "back from lunch", &epoch(&welcome), 1).await;
    let welcome = back.expect("welcome").await;
    assert_eq!(welcome["resume"], "snapshot");
    assert_eq!(welcome["seq"], last);
    assert_eq!(welcome["snapshot"]["live"]["version"], chair.version);
    back.still_works().await;
}

#[tokio::test]
async fn a_seq_from_the_future_gets_an_error_then_a_snapshot() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    let last = make_changes(&mut chair, 2).await;
    let mut back = app.rejoin(Role::Attendee, "time traveller", &epoch(&welcome), last + 50).await;
    back.expect_error("bad_resume").await;
    let welcome = back.expect("welcome").await;
    assert_eq!(welcome["resume"], "snapshot");
    assert_eq!(welcome["seq"], last);
}

#[tokio::test]
async fn a_seq_from_another_epoch_gets_a_snapshot_never_a_replay() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    make_changes(&mut chair, 4).await;
    let mut back = app.rejoin(Role::Attendee, "other server", "an-old-epoch", 2).await;
    let welcome = back.expect("welcome").await;
    assert_eq!(welcome["resume"], "snapshot");
    assert_eq!(welcome["seq"], 4);
}

#[tokio::test]
async fn after_a_restart_the_show_and_the_resume_buffer_are_still_there() {
    let mut app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    let before = make_changes(&mut chair, 5).await;
    let (attendee, _) = app.join(Role::Attendee, "remote").await;
    let seen = attendee.seq;
    drop(attendee);
    chair.command("goto", json!({"segment": "round-table"})).await;
    chair.expect("change").await;
    chair.expect("ack").await;

    app.restart().await;
    let (mut chair, after) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(after["epoch"], welcome["epoch"], "same store, same epoch");
    assert_eq!(after["seq"], before + 1);
    assert_eq!(after["snapshot"]["live"]["segment"], 2);

    let mut back = app.rejoin(Role::Attendee, "remote", &epoch(&welcome), seen).await;
    assert_eq!(back.expect("welcome").await["resume"], "replay");
    assert_eq!(back.expect("change").await["change"]["op"], "goto");

    chair.command("next", json!({})).await;
    assert_eq!(chair.expect("change").await["seq"], before + 2, "seq goes on without a gap");
}
