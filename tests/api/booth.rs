//! The booth's stage controls and side timers over the websocket, the control API and OSC:
//! who receives them, who may send them, and what a key shows.

use std::time::Duration;

use eventhub::domain::Role;
use rosc::OscType;
use serde_json::{json, Value};

use crate::control::{no_double_press_guard, ok, press, state};
use crate::helpers::{spawn_app, spawn_app_with, Client, TestApp, EVENT};
use crate::osc::{osc_on, send, text};

/// The next error, after the changes that others' commands made meanwhile and the acks of
/// this client's earlier commands (a refused command gets no ack: it would time out here).
async fn refused(client: &mut crate::helpers::Client, code: &str) {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] != "change" && frame["type"] != "ack" {
            assert_eq!((&frame["type"], &frame["code"]), (&json!("error"), &json!(code)), "{frame}");
            return;
        }
    }
}

/// The next change frame, skipping acks and other frames.
async fn change(client: &mut crate::helpers::Client) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "change" {
            return frame;
        }
    }
}

#[tokio::test]
async fn timers_and_stage_controls_reach_the_stage_and_crew_and_nobody_else() {
    let app = spawn_app().await;
    let (mut speaker, welcome) = app.join(Role::Speaker, "Zhang Ying").await;
    assert_eq!(welcome["snapshot"]["timers"], json!([]));
    assert_eq!(welcome["snapshot"]["screen"]["blackout"], false);
    assert!(welcome["snapshot"]["branding"]["logo"].as_str().is_some_and(|l| l.starts_with("data:image/")));
    let (mut attendee, welcome) = app.join(Role::Attendee, "Guest").await;
    let snapshot = &welcome["snapshot"];
    assert!(snapshot.get("timers").is_none() && snapshot.get("screen").is_none() && snapshot.get("branding").is_none());
    let (_, hall) = app.join(Role::Display, "Hall").await;
    assert_eq!(hall["snapshot"]["branding"]["accent"], "#c8102e", "the hall display wears the event's colours");
    let (mut av, _) = app.join(Role::Av, "Fukuda").await;

    let create = json!({"timer": "break", "name": "Break ends in", "seconds": 600, "cues": false});
    let ack = av.run("timer_create", create).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let seen = change(&mut speaker).await;
    assert_eq!(seen["change"]["kind"], "timers");
    let timer = &seen["change"]["timers"][0];
    assert_eq!(
        (&timer["id"], &timer["direction"], &timer["duration_ms"]),
        (&json!("break"), &json!("down"), &json!(600_000))
    );
    assert_eq!((&timer["stage"], &timer["cues"], &timer["running_since"]), (&json!(true), &json!(false), &Value::Null));
    assert_eq!(change(&mut attendee).await["change"], json!({"kind": "hidden"}));

    av.run("timer_start", json!({"timer": "break"})).await;
    assert!(change(&mut speaker).await["change"]["timers"][0]["running_since"].is_i64());
    av.run("stage_blackout", json!({"on": true})).await;
    let screen = change(&mut speaker).await;
    assert_eq!((&screen["change"]["kind"], &screen["change"]["screen"]["blackout"]), (&json!("screen"), &json!(true)));

    // The audience and the stage may not; nothing changes for them.
    attendee.command("timer_pause", json!({"timer": "break"})).await;
    refused(&mut attendee, "forbidden").await;
    speaker.command("stage_blackout", json!({"on": false})).await;
    refused(&mut speaker, "forbidden").await;
    av.command("timer_create", json!({"name": "x", "direction": "sideways"})).await;
    refused(&mut av, "invalid_field").await;
    av.command("timer_create", json!({"name": "x", "seconds": 60, "colour": "red"})).await;
    refused(&mut av, "invalid_field").await;
    av.command("stage_blackout", json!({"on": true})).await;
    refused(&mut av, "invalid_state").await;

    // A late joiner and a restart see the same screen and timer.
    let mut app = app;
    app.restart().await;
    let (_, welcome) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(welcome["snapshot"]["screen"]["blackout"], true);
    assert!(welcome["snapshot"]["timers"][0]["running_since"].is_i64());
}

#[tokio::test]
async fn a_booth_key_runs_timers_and_the_stage_screen_and_shows_them() {
    // Toggles pressed twice here on purpose: the double-press window would answer the second.
    let app = spawn_app_with(no_double_press_guard).await;
    let created = press(&app, Role::Moderator, "timer/create?timer=qa&name=Q%26A&seconds=300").await;
    let timer = &ok(&created)["timers"][0];
    assert_eq!((&timer["name"], &timer["text"], &timer["running"]), (&json!("Q&A"), &json!("05:00"), &json!(false)));
    let started = press(&app, Role::Av, "timer/toggle?timer=qa").await;
    assert_eq!(ok(&started)["timers"][0]["running"], true);
    let adjusted = press(&app, Role::Moderator, "timer/adjust?timer=qa&seconds=60").await;
    assert_eq!(ok(&adjusted)["timers"][0]["duration_ms"], 360_000);
    let paused = press(&app, Role::Av, "timer/toggle?timer=qa").await;
    let timer = &ok(&paused)["timers"][0];
    assert_eq!(timer["running"], false);
    let shown = timer["ms"].as_i64().unwrap();
    assert!((350_000..=360_000).contains(&shown), "{timer}");
    let up =
        press(&app, Role::Moderator, "timer/create?name=Satellite%20link&direction=up&start=true&stage=false").await;
    let link = &ok(&up)["timers"][1];
    assert_eq!((&link["id"], &link["direction"], &link["stage"]), (&json!("timer-2"), &json!("up"), &json!(false)));

    let on = press(&app, Role::Moderator, "stage/blackout").await;
    assert_eq!(ok(&on)["stage"]["blackout"], true, "absent, `on` toggles");
    let off = press(&app, Role::Moderator, "stage/blackout").await;
    assert_eq!(ok(&off)["stage"]["blackout"], false);
    ok(&press(&app, Role::Moderator, "stage/on_air?on=true").await);
    ok(&press(&app, Role::Moderator, "stage/flash").await);
    let message =
        press(&app, Role::Moderator, "stage/fullscreen?text=Lunch%20%C2%B7%20%E5%8D%88%E9%A4%90&seconds=1").await;
    let stage = &ok(&message)["stage"];
    assert_eq!((&stage["on_air"], &stage["fullscreen"]["text"]), (&json!(true), &json!("Lunch · 午餐")));
    assert!(stage["flash_at"].is_i64());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = ok(&state(&app, Role::Moderator).await).clone();
    assert!(later["stage"]["fullscreen"].is_null(), "past its seconds, the screen has returned: {later}");

    let attendee = ok(&state(&app, Role::Attendee).await).clone();
    assert_eq!((&attendee["stage"], &attendee["timers"]), (&Value::Null, &json!([])));

    for (role, path, status, code) in [
        (Role::Moderator, "timer/start?timer=missing", 422, "invalid_field"),
        (Role::Moderator, "timer/start", 422, "invalid_field"),
        (Role::Moderator, "timer/adjust?timer=qa&seconds=soon", 422, "invalid_field"),
        (Role::Moderator, "timer/create?name=x&direction=sideways&seconds=5", 422, "invalid_field"),
        (Role::Moderator, "stage/blackout?on=maybe", 422, "invalid_field"),
        (Role::Moderator, "stage/fullscreen?text=%20", 422, "invalid_field"),
        (Role::Moderator, "stage/fullscreen_clear", 409, "invalid_state"),
        (Role::Moderator, "timer/pause?timer=qa", 409, "invalid_state"),
        (Role::Attendee, "timer/start?timer=qa", 403, "forbidden"),
        (Role::Speaker, "stage/flash", 403, "forbidden"),
        (Role::Moderator, "timer/launch", 422, "unknown_type"),
    ] {
        let reply = press(&app, role, path).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{path}: {}", reply.body);
    }
}

#[tokio::test]
async fn a_desk_runs_a_side_timer_and_the_blackout_by_osc() {
    let app = spawn_app_with(osc_on).await;
    let osc = app.osc.expect("OSC is on");
    let token = || text(app.token(Role::Av));
    let address = |command: &str| format!("/eventhub/{EVENT}/{command}");
    send(
        osc,
        &address("timer/create"),
        vec![token(), text("Break ends in"), text("down"), OscType::Int(900), text("break")],
    )
    .await;
    send(osc, &address("timer/start"), vec![token(), text("break")]).await;
    send(osc, &address("stage/blackout"), vec![token(), OscType::Bool(true)]).await;
    let shown = until(&app, |s| s["stage"]["blackout"] == true && s["timers"][0]["running"] == true).await;
    assert_eq!(shown["timers"][0]["duration_ms"], 900_000);
    send(osc, &address("timer/adjust"), vec![token(), text("break"), OscType::Float(-60.0)]).await;
    until(&app, |s| s["timers"][0]["duration_ms"] == 840_000).await;
}

/// The moderator's flat state once `ok` holds.
async fn until(app: &TestApp, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = state(app, Role::Moderator).await.body;
        if ok(&now) {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "the state never got there: {now}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_note_to_the_chair_reaches_the_chair_and_its_sender_only_until_read() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut sender, welcome) = app.join(Role::Av, "Fukuda").await;
    assert!(welcome["snapshot"]["note_presets"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == "mic-dead")));
    let (mut other, _) = app.join(Role::Av, "Wang").await;
    let (mut attendee, welcome) = app.join(Role::Attendee, "Guest").await;
    assert!(welcome["snapshot"].get("note_presets").is_none() && welcome["snapshot"].get("notes").is_none());

    sender.command("note_send", json!({"preset": "mic-dead"})).await;
    let seen = change(&mut chair).await;
    let note = &seen["change"]["note"];
    assert_eq!(
        (&note["text"]["ja"], &note["name"], &note["read"]),
        (&json!("マイク不調"), &json!("Fukuda"), &Value::Null)
    );
    assert_eq!(change(&mut sender).await["change"]["note"]["id"], note["id"], "the sender sees its own note");
    assert_eq!(change(&mut other).await["change"], json!({"kind": "hidden"}), "another crew screen does not");
    assert_eq!(change(&mut attendee).await["change"], json!({"kind": "hidden"}));

    attendee.command("note_send", json!({"text": "hello"})).await;
    refused(&mut attendee, "forbidden").await;
    sender.command("note_read", json!({"note": note["id"]})).await;
    refused(&mut sender, "forbidden").await;
    for bad in [
        json!({"preset": "nope"}),
        json!({}),
        json!({"preset": "mic-dead", "text": "both"}),
        json!({"text": "\u{200b}"}),
    ] {
        sender.command("note_send", bad).await;
        refused(&mut sender, "invalid_field").await;
    }

    assert_eq!(chair.run("note_read", json!({"note": note["id"]})).await["type"], "ack");
    let read = change(&mut sender).await;
    assert_eq!(
        (&read["change"]["op"], &read["change"]["note"]["read"]["by"]),
        (&json!("note_read"), &json!("Ji Weidong"))
    );
    chair.command("note_read", json!({"note": note["id"]})).await;
    refused(&mut chair, "invalid_state").await;

    // A device that sent a note finds it (and later who read it) in its welcome after a
    // reload; another crew screen finds none.
    let (_, welcome) = av_device(&app, "av-tablet-2").await;
    assert!(welcome["snapshot"].get("notes").is_none(), "this device sent nothing");
    let (mut tablet, _) = av_device(&app, "av-tablet-2").await;
    tablet.command("note_send", json!({"text": "Slides frozen"})).await;
    change(&mut tablet).await;
    let (_, reloaded) = av_device(&app, "av-tablet-2").await;
    let own = &reloaded["snapshot"]["notes"];
    assert_eq!((own.as_array().map(Vec::len), &own[0]["text"]["en"]), (Some(1), &json!("Slides frozen")), "{own}");
    let (_, chair_again) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair_again["snapshot"]["notes"][0]["read"]["by"], "Ji Weidong");
}

/// An AV screen of the device `participant`, and its welcome.
async fn av_device(app: &TestApp, participant: &str) -> (Client, Value) {
    let mut hello = crate::helpers::hello_frame(app.token(Role::Av), "Fukuda");
    hello["participant"] = json!(participant);
    let mut client = Client::connect(app.addr).await;
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    (client, welcome)
}

#[tokio::test]
async fn a_booth_key_shows_the_notes_waiting_and_marks_the_oldest_read() {
    // The same key pressed again on purpose: the double-press window would answer it.
    let app = spawn_app_with(no_double_press_guard).await;
    let (mut sender, _) = app.join(Role::Av, "Fukuda").await;
    sender.command("note_send", json!({"preset": "stream-down"})).await;
    sender.command("note_send", json!({"text": "Mic 3 dead"})).await;
    let waiting = until(&app, |s| s["notes"]["unread"] == 2).await;
    assert_eq!(
        (&waiting["notes"]["oldest"]["text"]["en"], &waiting["notes"]["oldest"]["name"]),
        (&json!("Stream down"), &json!("Fukuda"))
    );
    assert_eq!(ok(&state(&app, Role::Av).await)["notes"], Value::Null, "the crew's key shows none");

    let read = press(&app, Role::Moderator, "note/read").await;
    assert_eq!(ok(&read)["notes"]["oldest"]["text"]["en"], "Mic 3 dead", "the oldest was read");
    let second = ok(&read)["notes"]["oldest"]["id"].clone();
    assert_eq!(ok(&press(&app, Role::Moderator, &format!("note/read?note={second}")).await)["notes"]["unread"], 0);
    let none = press(&app, Role::Moderator, "note/read").await;
    assert_eq!((none.status, none.body["code"].as_str()), (409, Some("invalid_state")), "{}", none.body);
    let crew = press(&app, Role::Av, &format!("note/read?note={second}")).await;
    assert_eq!(crew.status, 403, "{}", crew.body);
}
