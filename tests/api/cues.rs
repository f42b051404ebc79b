//! Cues over the wire: standby, standing by, go and done reach the chair and the crew
//! screens of their position, never the audience, with who answered and when.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{hello_frame, spawn_app, Client, TestApp};

/// An AV screen watching `crew` (all positions when empty).
async fn crew_screen(app: &TestApp, name: &str, crew: &[&str]) -> Client {
    let mut client = app.connect().await;
    let mut hello = hello_frame(app.token(Role::Av), name);
    if !crew.is_empty() {
        hello["crew"] = json!(crew);
    }
    client.send(hello).await;
    client.expect("welcome").await;
    client
}

/// Gives a standby; returns the ack and the cue as the chair saw it.
async fn standby(chair: &mut Client, fields: Value) -> (Value, Value) {
    chair.command("cue_standby", fields).await;
    let change = chair.expect("change").await;
    (chair.expect("ack").await, change["change"]["cue"].clone())
}

fn mic_cue() -> Value {
    json!({"target": "audio", "text": {"zh": "3号麦克风开启", "ja": "マイク3オン", "en": "Mic 3 live"}})
}

#[tokio::test]
async fn a_go_reaches_every_screen_of_its_position_and_no_attendee() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let mut audio = crew_screen(&app, "audio desk", &["audio"]).await;
    let mut audio_video = crew_screen(&app, "AV desk", &["audio", "video"]).await;
    let mut stage_manager = crew_screen(&app, "stage manager", &[]).await;
    let mut booth = crew_screen(&app, "interpretation booth", &["interpretation"]).await;
    let (mut attendee, _) = app.join(Role::Attendee, "remote attendee").await;
    let (mut speaker, _) = app.join(Role::Speaker, "Lu Ming").await;

    let (ack, cue) = standby(&mut chair, mic_cue()).await;
    assert!(ack.get("warning").is_none(), "audio screens are watching: {ack}");
    let id = cue["id"].as_u64().unwrap();
    assert_eq!(chair.run("cue_go", json!({"cue": id})).await["type"], "ack");

    for screen in [&mut audio, &mut audio_video, &mut stage_manager] {
        let standby = screen.expect("change").await;
        assert_eq!(standby["change"]["cue"]["state"], "standby");
        let go = screen.expect("change").await;
        assert_eq!(go["change"]["kind"], "cue");
        assert_eq!(go["change"]["cue"]["state"], "go");
        assert_eq!(go["change"]["cue"]["text"]["ja"], "マイク3オン");
        assert_eq!(go["change"]["cue"]["go"]["by"], "Fukuda");
    }
    for other in [&mut booth, &mut attendee, &mut speaker] {
        for seq in [1, 2] {
            let change = other.expect("change").await;
            assert_eq!(change["seq"], seq, "the seq still moves on");
            assert_eq!(change["change"], json!({"kind": "hidden"}), "{change}");
            assert!(change.get("by").is_none());
        }
    }
    let (_, late) = app.join(Role::Attendee, "late attendee").await;
    assert_eq!(late["snapshot"]["cues"], json!([]), "snapshots keep cues from attendees too");
}

#[tokio::test]
async fn the_crews_answer_time_is_recorded_and_the_console_sees_it() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let mut audio = crew_screen(&app, "Wang", &["audio"]).await;
    chair.run("cue_standby", mic_cue()).await;
    let id = audio.expect("change").await["change"]["cue"]["id"].as_u64().unwrap();
    // The crew takes its time to answer: the pause is what the recorded answer time must show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(audio.run("cue_standing_by", json!({"cue": id})).await["type"], "ack");

    let answered = loop {
        let frame = chair.next_frame().await;
        if frame["type"] == "change" && frame["change"]["cue"]["state"] == "standing_by" {
            break frame["change"]["cue"].clone();
        }
    };
    assert_eq!(answered["standing_by"]["by"], "Wang");
    let took = answered["standing_by"]["at"].as_i64().unwrap() - answered["standby"]["at"].as_i64().unwrap();
    assert!((300..5_000).contains(&took), "answer time {took} ms");

    let (_, console) = app.join(Role::Organizer, "second console").await;
    assert_eq!(console["snapshot"]["cues"][0]["standing_by"], answered["standing_by"]);
    chair.run("cue_go", json!({"cue": id})).await;
    assert_eq!(audio.run("cue_done", json!({"cue": id})).await["type"], "ack");
    let done = audio.run("cue_done", json!({"cue": id})).await;
    assert_eq!(done["code"], "invalid_state", "a double answer is refused: {done}");
}

#[tokio::test]
async fn a_cue_nobody_watches_is_acknowledged_with_a_warning() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let _audio = crew_screen(&app, "audio desk", &["audio"]).await;
    let ack = chair.run("cue_standby", json!({"preset": "house-lights"})).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["warning"], "nobody is watching the lighting cue screen");
}

#[tokio::test]
async fn attendees_cannot_call_cues_and_crew_cannot_answer_for_others() {
    let app = spawn_app().await;
    let (mut attendee, _) = app.join(Role::Attendee, "prankster").await;
    assert_eq!(attendee.run("cue_standby", mic_cue()).await["code"], "forbidden");
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let (_, cue) = standby(&mut chair, json!({"preset": "slides"})).await;
    let id = cue["id"].as_u64().unwrap();
    let mut audio = crew_screen(&app, "audio desk", &["audio"]).await;
    assert_eq!(audio.run("cue_standing_by", json!({"cue": id})).await["code"], "forbidden");
    assert_eq!(attendee.run("cue_go", json!({"cue": id})).await["code"], "forbidden");
}

#[tokio::test]
async fn the_chairs_wrap_up_reaches_the_stage_screen_but_not_the_audience() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut stage, _) = app.join(Role::Speaker, "Zhang Ying").await;
    let (mut attendee, _) = app.join(Role::Attendee, "audience").await;
    assert_eq!(chair.run("stage_signal", json!({"signal": "wrap_up"})).await["type"], "ack");
    let shown = stage.expect("change").await;
    assert_eq!(shown["change"]["kind"], "stage");
    assert_eq!(shown["change"]["message"]["kind"], "wrap_up");
    assert_eq!(shown["change"]["message"]["by"], "Ji Weidong");
    assert_eq!(attendee.expect("change").await["change"]["kind"], "hidden");
    let (_, again) = app.join(Role::Speaker, "Zhang Ying").await;
    assert_eq!(again["snapshot"]["stage"]["kind"], "wrap_up");
    assert_eq!(chair.run("stage_signal", json!({"signal": "message"})).await["code"], "invalid_field");
    assert_eq!(chair.run("stage_clear", json!({})).await["type"], "ack");
    assert_eq!(chair.run("stage_clear", json!({})).await["code"], "invalid_state");
    let (mut other_speaker, _) = app.join(Role::Speaker, "Lu Ming").await;
    assert_eq!(other_speaker.run("stage_signal", json!({"signal": "time_up"})).await["code"], "forbidden");
}

#[tokio::test]
async fn a_cues_person_target_is_checked_as_a_name_and_a_refusal_changes_nothing() {
    let app = spawn_app().await;
    let (mut chair, before) = app.join(Role::Moderator, "Fukuda").await;
    let text = mic_cue()["text"].clone();
    let refused = [
        ("L".repeat(81), "person name is longer than 80 characters"),
        ("Lu\u{0}Ming".to_owned(), "person name contains a control character"),
        ("\u{1b}[2JLu Ming".to_owned(), "person name contains a control character"),
        ("\u{200b}\u{202e}".to_owned(), "person name must not be empty"),
    ];
    for (person, why) in refused {
        let reply = chair.run("cue_standby", json!({"target": {"person": person}, "text": text})).await;
        assert_eq!(reply["code"], "invalid_field", "{reply}");
        assert_eq!(reply["message"], why);
        chair.still_works().await;
    }
    let (_, now) = app.join(Role::Organizer, "checker").await;
    assert_eq!(now["seq"], before["seq"], "nothing was applied");
    assert_eq!(now["snapshot"]["cues"], before["snapshot"]["cues"]);

    let (ack, cue) = standby(&mut chair, json!({"target": {"person": "Lu\u{202e}Ming"}, "text": text})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(cue["target"], json!({"person": "LuMing"}));
}

#[tokio::test]
async fn next_closes_the_openings_standby_on_the_crews_screen_in_the_same_command() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let mut booth = crew_screen(&app, "interpretation booth", &["interpretation"]).await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let (_, cue) = standby(&mut chair, json!({"preset": "interp-ja", "segment": "opening"})).await;
    let (_, whole_day) = standby(&mut chair, json!({"preset": "interp-ja"})).await;
    assert_eq!(cue["segment"], 0);
    assert_eq!(whole_day["segment"], Value::Null);

    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let closed = loop {
        let frame = booth.expect("change").await;
        if frame["change"]["kind"] == "cue" && frame["change"]["op"] == "next" {
            break frame["change"]["cue"].clone();
        }
    };
    assert_eq!(closed["id"], cue["id"]);
    assert_eq!(closed["state"], "cancelled");
    assert_eq!(closed["reason"], "segment_ended");
    assert_eq!(closed["cancelled"]["by"], "Fukuda");
    let (_, console) = app.join(Role::Organizer, "second console").await;
    let cues = console["snapshot"]["cues"].as_array().unwrap().clone();
    let state_of = |id: &Value| cues.iter().find(|c| &c["id"] == id).unwrap()["state"].clone();
    assert_eq!(state_of(&whole_day["id"]), "standby", "a cue of the whole day carries on");
}
