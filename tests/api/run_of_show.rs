//! The run of show over the wire: the welcome's snapshot, advances in order with
//! consecutive seq, one advance for two presses, and only the chair moves the show.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, EVENT};

#[tokio::test]
async fn hello_gets_a_welcome_with_the_full_snapshot() {
    let app = spawn_app().await;
    let (_client, welcome) = app.join(Role::Attendee, "Yamada Hanako").await;
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["seq"], 0);
    assert!(welcome["server_time"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(welcome["you"]["role"], "attendee");
    assert_eq!(welcome["you"]["name"], "Yamada Hanako");
    let snapshot = &welcome["snapshot"];
    assert_eq!(snapshot["event"]["id"], EVENT);
    assert_eq!(snapshot["event"]["time_zone"], "Asia/Shanghai");
    let ids: Vec<&str> = snapshot["segments"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["opening", "keynotes", "round-table", "closing"]);
    assert_eq!(snapshot["segments"][1]["title"]["ja"], "基調講演");
    assert_eq!(snapshot["live"]["phase"], "standby");
    assert_eq!(snapshot["live"]["version"], 0);
    assert!(snapshot["segments"][0].get("av_notes").is_none(), "AV notes are for the crew");
    assert!(snapshot.get("cue_presets").is_none());
}

#[tokio::test]
async fn the_chair_and_the_crew_get_the_av_notes_and_planned_cues() {
    let app = spawn_app().await;
    for role in [Role::Moderator, Role::Av] {
        let (_, welcome) = app.join(role, "crew").await;
        let snapshot = &welcome["snapshot"];
        assert!(snapshot["segments"][0]["av_notes"].as_str().unwrap().contains("Lectern mic 1"));
        assert_eq!(snapshot["segments"][0]["cues"].as_array().unwrap().len(), 3);
        assert_eq!(snapshot["cue_presets"].as_array().unwrap().len(), 6);
    }
}

#[tokio::test]
async fn advances_reach_every_client_in_order_with_consecutive_seq() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let mut audience = Vec::new();
    for k in 0..20 {
        let role = if k % 5 == 0 { Role::Display } else { Role::Attendee };
        audience.push(app.join(role, &format!("attendee {k}")).await.0);
    }
    for expected_segment in 0..3 {
        let id = chair.command("next", json!({})).await;
        let change = chair.expect("change").await;
        assert_eq!(change["change"]["live"]["segment"], expected_segment);
        let ack = chair.expect("ack").await;
        assert_eq!(ack["id"], id.as_str());
        assert_eq!(ack["seq"], change["seq"]);
    }
    for client in &mut audience {
        for (seq, segment) in (1..=3).zip(0..3) {
            let change = client.expect("change").await;
            assert_eq!(change["seq"], seq);
            assert_eq!(change["change"]["kind"], "live");
            assert_eq!(change["change"]["op"], "next");
            assert_eq!(change["change"]["live"]["segment"], segment);
            assert_eq!((&change["by"]["name"], &change["by"]["role"]), (&json!("Ji Weidong"), &json!("moderator")));
        }
    }
    let (_, late) = app.join(Role::Attendee, "late comer").await;
    assert_eq!(late["seq"], 3);
    assert_eq!(late["snapshot"]["live"]["segment"], 2);
}

#[tokio::test]
async fn two_moderators_pressing_next_at_once_advance_exactly_once() {
    let app = spawn_app().await;
    let (mut first, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut second, _) = app.join(Role::Organizer, "Cai Yuping").await;
    let (mut watcher, _) = app.join(Role::Attendee, "watcher").await;
    let (a, b) = tokio::join!(first.command("next", json!({})), second.command("next", json!({})));

    let outcome = |frames: Vec<Value>, id: &str| -> &'static str {
        let reply = frames.iter().find(|f| f["id"] == id).expect("every command gets a reply");
        if reply["type"] == "ack" {
            "ack"
        } else {
            assert_eq!(reply["code"], "conflict", "{reply}");
            "conflict"
        }
    };
    let mut first_frames = vec![first.next_frame().await, first.next_frame().await];
    let mut second_frames = vec![second.next_frame().await, second.next_frame().await];
    // Each moderator sees the one change, then their own reply.
    let results = [outcome(std::mem::take(&mut first_frames), &a), outcome(std::mem::take(&mut second_frames), &b)];
    let mut sorted = results;
    sorted.sort_unstable();
    assert_eq!(sorted, ["ack", "conflict"]);

    let change = watcher.expect("change").await;
    assert_eq!(change["seq"], 1);
    assert_eq!(change["change"]["live"]["segment"], 0);
    watcher.still_works().await;
}

#[tokio::test]
async fn a_double_click_on_next_advances_once() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let first = chair.command("next", json!({})).await;
    let second = chair.command("next", json!({})).await;
    chair.expect("change").await;
    assert_eq!(chair.expect("ack").await["id"], first.as_str());
    let conflict = chair.expect_error("conflict").await;
    assert_eq!(conflict["id"], second.as_str());
    assert_eq!(chair.version, 1);
}

#[tokio::test]
async fn an_attendee_cannot_move_the_show() {
    let app = spawn_app().await;
    for role in [Role::Attendee, Role::Av, Role::Speaker, Role::Display] {
        let (mut client, welcome) = app.join(role, "curious").await;
        let id = client.command("next", json!({})).await;
        let error = client.expect_error("forbidden").await;
        assert_eq!(error["id"], id.as_str());
        assert_eq!(welcome["snapshot"]["live"]["version"], 0);
    }
    let (_, welcome) = app.join(Role::Attendee, "checker").await;
    assert_eq!(welcome["seq"], 0, "nothing changed");
}

#[tokio::test]
async fn every_show_operation_works_over_the_wire() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let steps: [(&str, Value); 8] = [
        ("goto", json!({"segment": "keynotes"})),
        ("next_speaker", json!({})),
        ("goto_speaker", json!({"speaker": 3})),
        ("hold", json!({})),
        ("resume", json!({})),
        ("extend", json!({"seconds": 300})),
        ("previous", json!({})),
        ("end", json!({})),
    ];
    for (kind, fields) in steps {
        chair.command(kind, fields).await;
        let change = chair.expect("change").await;
        assert_eq!(change["change"]["op"], kind);
        chair.expect("ack").await;
    }
    chair.command("next", json!({})).await;
    chair.expect_error("invalid_state").await;
}

#[tokio::test]
async fn ping_reports_the_server_time_for_clock_sync() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let before = eventhub::clock::now_millis();
    client.send(json!({"type": "ping", "t": 12345.5})).await;
    let pong = client.expect("pong").await;
    assert_eq!(pong["t"], 12345.5);
    let server_time = pong["server_time"].as_i64().unwrap();
    assert!((before..before + 5_000).contains(&server_time), "{server_time} vs {before}");
}
