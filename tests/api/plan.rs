//! Plan edits over the wire: one winner when two chairs edit at once, only the chair may
//! edit, every client follows in order, and nothing is lost across resume, restart or kill.

use serde_json::{json, Value};

use eventhub::domain::Role;

use crate::crash::{kill_9, launch};
use crate::helpers::{events_dir, spawn_app, Client};

/// The segment ids of a plan or snapshot.
fn ids(plan: &Value) -> Vec<String> {
    plan["segments"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
}

/// The next change frame that is a plan change, skipping others (the queues it adds).
async fn next_plan(client: &mut Client) -> Value {
    loop {
        let frame = client.expect("change").await;
        if frame["change"]["kind"] == "plan" {
            return frame;
        }
    }
}

/// Reads up to the reply to the command `id`.
async fn reply(client: &mut Client, id: String) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["id"] == id.as_str() {
            return frame;
        }
    }
}

/// Adds a break after `after` against `plan_version` and returns the reply.
async fn add_break(chair: &mut Client, plan_version: u64, after: &str) -> Value {
    let fields =
        json!({"plan_version": plan_version, "after": after, "kind": "break", "title": "Tea", "duration_min": 15});
    chair.run("plan_add_segment", fields).await
}

#[tokio::test]
async fn two_chairs_editing_at_once_one_wins_and_the_other_gets_conflict() {
    let app = spawn_app().await;
    let (mut first, welcome) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut second, _) = app.join(Role::Organizer, "Mei Lin").await;
    assert_eq!(welcome["snapshot"]["plan_version"], 0);
    let a = first.command("plan_remove_segment", json!({"plan_version": 0, "segment": "closing"})).await;
    let b = second
        .command("plan_update_segment", json!({"plan_version": 0, "segment": "opening", "duration_min": 25}))
        .await;
    let (a, b) = (reply(&mut first, a).await, reply(&mut second, b).await);
    let mut types = [a["type"].as_str().unwrap(), b["type"].as_str().unwrap()];
    types.sort_unstable();
    assert_eq!(types, ["ack", "error"], "{a} {b}");
    let error = if a["type"] == "error" { &a } else { &b };
    assert_eq!(error["code"], "conflict", "{error}");
}

#[tokio::test]
async fn an_attendees_plan_edit_is_forbidden() {
    let app = spawn_app().await;
    let (mut attendee, _) = app.join(Role::Attendee, "curious").await;
    let reply = attendee.run("plan_remove_segment", json!({"plan_version": 0, "segment": "closing"})).await;
    assert_eq!(reply["code"], "forbidden", "{reply}");
    let (mut av, _) = app.join(Role::Av, "sound desk").await;
    let reply = av.run("plan_remove_segment", json!({"plan_version": 0, "segment": "closing"})).await;
    assert_eq!(reply["code"], "forbidden", "{reply}");
}

#[tokio::test]
async fn every_client_sees_the_edits_in_order_with_gap_free_seq() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut attendee, _) = app.join(Role::Attendee, "watcher").await;
    let (mut av, _) = app.join(Role::Av, "sound desk").await;
    assert_eq!(add_break(&mut chair, 0, "keynotes").await["type"], "ack");
    let moved = chair.run("plan_move_segment", json!({"plan_version": 1, "segment": "closing"})).await;
    assert_eq!(moved["type"], "ack", "{moved}");
    let fields = json!({"plan_version": 2, "segment": "break-2", "title": {"ja": "休憩"}, "av_notes": "music"});
    assert_eq!(chair.run("plan_update_segment", fields).await["type"], "ack");
    for client in [&mut attendee, &mut av] {
        let mut seq = client.seq;
        let mut versions = Vec::new();
        while client.seq < chair.seq {
            let frame = client.expect("change").await;
            assert_eq!(frame["seq"], seq + 1, "no gap");
            seq += 1;
            if frame["change"]["kind"] == "plan" {
                versions.push(frame["change"]["plan_version"].as_u64().unwrap());
            }
        }
        assert_eq!(versions, [1, 2, 3]);
    }
}

#[tokio::test]
async fn an_attendee_does_not_get_av_notes_in_the_plan_change_and_the_crew_does() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut attendee, _) = app.join(Role::Attendee, "watcher").await;
    let (mut av, _) = app.join(Role::Av, "sound desk").await;
    let (mut organizer, _) = app.join(Role::Organizer, "Mei Lin").await;
    let fields = json!({"plan_version": 0, "segment": "opening", "av_notes": "mic 3 too"});
    assert_eq!(chair.run("plan_update_segment", fields).await["type"], "ack");
    let public = next_plan(&mut attendee).await;
    let crew = next_plan(&mut av).await;
    let chairs = next_plan(&mut organizer).await;
    for segment in public["change"]["plan"]["segments"].as_array().unwrap() {
        assert!(segment.get("av_notes").is_none() && segment.get("cues").is_none(), "{segment}");
    }
    assert_eq!(crew["change"]["plan"]["segments"][0]["av_notes"], "mic 3 too");
    assert_eq!(chairs["change"]["plan"]["segments"][0]["av_notes"], "mic 3 too");
    assert_eq!(public["change"]["op"], "plan_update_segment");
}

#[tokio::test]
async fn the_live_segment_follows_a_move_on_every_screen() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    // The skipped opening moves on, to after the closing: the live keynotes are now first.
    let moved =
        chair.run("plan_move_segment", json!({"plan_version": 0, "segment": "opening", "after": "closing"})).await;
    assert_eq!(moved["type"], "ack", "{moved}");
    assert_eq!(chair.live["segment"], 0, "keynotes is first and still live");
    let running =
        chair.run("plan_move_segment", json!({"plan_version": 1, "segment": "keynotes", "after": "closing"})).await;
    assert_eq!(running["code"], "invalid_state", "the running segment stays where it is: {running}");
    let removed = chair.run("plan_remove_segment", json!({"plan_version": 1, "segment": "keynotes"})).await;
    assert_eq!(removed["code"], "invalid_state", "{removed}");
}

#[tokio::test]
async fn resume_and_restart_across_edits_lose_nothing() {
    let mut app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (attendee, welcome) = app.join(Role::Attendee, "on a train").await;
    let (epoch, seen) = (welcome["epoch"].as_str().unwrap().to_owned(), attendee.seq);
    drop(attendee);
    assert_eq!(add_break(&mut chair, 0, "opening").await["type"], "ack");
    let renamed = chair.run("plan_update_event", json!({"plan_version": 1, "title": {"en": "Forum, day two"}})).await;
    assert_eq!(renamed["type"], "ack", "{renamed}");

    let mut back = app.rejoin(Role::Attendee, "on a train", &epoch, seen).await;
    assert_eq!(back.expect("welcome").await["resume"], "replay");
    let mut plans = Vec::new();
    while back.seq < chair.seq {
        let frame = back.expect("change").await;
        if frame["change"]["kind"] == "plan" {
            plans.push(frame["change"]["plan"].clone());
        }
    }
    assert_eq!(plans.len(), 2);
    assert_eq!(ids(&plans[1]), ["opening", "break-2", "keynotes", "round-table", "closing"]);
    assert_eq!(plans[1]["event"]["title"]["en"], "Forum, day two");

    app.restart().await;
    let (_, welcome) = app.join(Role::Attendee, "after the restart").await;
    let snapshot = &welcome["snapshot"];
    assert_eq!(snapshot["plan_version"], 2);
    assert_eq!(ids(snapshot), ids(&plans[1]));
    assert_eq!(snapshot["event"]["title"]["en"], "Forum, day two");
    assert!(snapshot["queues"].get("break-2").is_some(), "the new segment's queue survives");
}

#[tokio::test]
async fn an_edited_event_file_changes_nothing_for_an_event_already_stored() {
    let mut app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let renamed = chair.run("plan_update_event", json!({"plan_version": 0, "title": {"en": "Forum, day two"}})).await;
    assert_eq!(renamed["type"], "ack", "{renamed}");
    let (_, before) = app.join(Role::Attendee, "before").await;
    let stored = before["snapshot"].clone();

    // The operator edits the event file and restarts: the opening renamed and longer, the
    // closing summary gone.
    let demo = std::fs::read_to_string(events_dir().join("sjtu-forum.toml")).unwrap();
    let opening = "title = { zh = \"开幕式\", ja = \"開会式\", en = \"Opening ceremony\" }";
    let closing = demo.find("[[segments]]\nid = \"closing\"").expect("the closing summary's segment");
    let edited = demo[..closing].replacen(opening, "title = \"Welcome\"", 1).replacen(
        "duration_min = 20",
        "duration_min = 35",
        1,
    );
    assert!(!edited.contains(opening) && edited.contains("duration_min = 35"), "the file is edited");
    let events = tempfile::tempdir().unwrap();
    std::fs::write(events.path().join("sjtu-forum.toml"), edited).unwrap();
    let loaded = eventhub::config::load_events(events.path(), chrono::Utc::now()).unwrap();
    assert!(loaded.failed.is_empty() && loaded.events.len() == 1, "the edited file is a good one: {:?}", loaded.failed);
    app.restart_with_events_dir(events.path()).await;

    let (_, after) = app.join(Role::Attendee, "after").await;
    let snapshot = &after["snapshot"];
    assert_eq!(snapshot["segments"][0]["title"]["en"], "Opening ceremony", "the stored plan wins over the file");
    assert_eq!(snapshot["segments"][0]["duration_ms"], 20 * 60_000);
    assert_eq!(ids(snapshot), ["opening", "keynotes", "round-table", "closing"]);
    assert_eq!(snapshot["event"]["title"]["en"], "Forum, day two", "with the chair's edit");
    for part in ["event", "segments", "plan_version"] {
        assert_eq!(snapshot[part], stored[part], "{part} is as stored");
    }
}

#[tokio::test]
async fn a_hard_kill_after_plan_edits_loses_no_acknowledged_edit() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let (mut chair, _) = Client::join(server.addr, &server.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(add_break(&mut chair, 0, "keynotes").await["type"], "ack");
    let fields = json!({"plan_version": 1, "segment": "opening", "duration_min": 12});
    assert_eq!(chair.run("plan_update_segment", fields).await["type"], "ack");
    kill_9(&mut server.child).await;

    let server = launch(data.path()).await;
    let (mut chair, welcome) = Client::join(server.addr, &server.tokens["moderator"], "Ji Weidong").await;
    let snapshot = &welcome["snapshot"];
    assert_eq!(snapshot["plan_version"], 2);
    assert_eq!(ids(snapshot), ["opening", "keynotes", "break-2", "round-table", "closing"]);
    assert_eq!(snapshot["segments"][0]["duration_ms"], 12 * 60_000);
    assert_eq!(
        snapshot["segments"][1]["planned_start"],
        snapshot["segments"][0]["planned_start"].as_i64().unwrap() + 12 * 60_000
    );
    let stale = chair.run("plan_remove_segment", json!({"plan_version": 1, "segment": "break-2"})).await;
    assert_eq!(stale["code"], "conflict", "{stale}");
}

#[tokio::test]
async fn the_programme_speakers_here_follow_a_move_in_presence() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Organizer, "Mei Lin").await;
    let (_speaker, _) = app.join(Role::Speaker, "Zhang Ying").await;
    let has = |place: Value| move |p: &Value| p["speakers"].as_array().is_some_and(|s| s.contains(&place));
    chair.presence_until(has(json!([1, 0]))).await;
    let moved = chair.run("plan_move_segment", json!({"plan_version": 0, "segment": "keynotes"})).await;
    assert_eq!(moved["type"], "ack", "{moved}");
    chair.presence_until(has(json!([0, 0]))).await;
}
