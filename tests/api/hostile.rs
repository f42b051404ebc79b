//! The bad-input matrix: each hostile frame gets its stable error code, and afterwards the
//! other clients are still served and the stored state is what it was.

use std::path::PathBuf;

use eventhub::domain::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{hello_frame, spawn_app, spawn_app_with, Client, Ended, TestApp, EVENT};

/// The chair's own changes before the attacks; nothing after them may add to it.
async fn baseline(app: &TestApp) -> (Client, Client, Value) {
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    for kind in ["next", "next"] {
        assert_eq!(chair.run(kind, json!({})).await["type"], "ack");
    }
    let (bystander, welcome) = app.join(Role::Attendee, "bystander").await;
    (chair, bystander, welcome)
}

/// The other clients are served and the stored state is as it was.
async fn unharmed(app: &TestApp, bystander: &mut Client, before: &Value) {
    bystander.still_works().await;
    let (_, now) = app.join(Role::Attendee, "checker").await;
    assert_eq!(now["seq"], before["seq"], "nothing was applied");
    assert_eq!(now["snapshot"]["live"], before["snapshot"]["live"]);
}

fn closed_with(ended: &Ended, code: u16) -> bool {
    matches!(ended, Ended::Closed(Some(frame)) if u16::from(frame.code) == code)
}

#[tokio::test]
async fn malformed_frames_get_their_codes_and_harm_nobody() {
    let app = spawn_app().await;
    let (_chair, mut bystander, before) = baseline(&app).await;
    let (mut attacker, _) = app.join(Role::Moderator, "attacker").await;
    let cases: [(&str, &str); 12] = [
        ("{\"type\": \"next\", \"id\": ", "bad_json"),
        ("[\"next\"]", "bad_json"),
        (r#"{"type": "format_disk", "id": "x"}"#, "unknown_type"),
        (r#"{"id": "x", "version": 2}"#, "invalid_field"),
        (r#"{"type": "next", "id": "x"}"#, "invalid_field"),
        (r#"{"type": "next", "id": "x", "version": 2, "force": true}"#, "invalid_field"),
        (r#"{"type": "next", "id": "x", "version": "two"}"#, "invalid_field"),
        (r#"{"type": "goto", "id": "x", "version": 2, "segment": 7}"#, "invalid_field"),
        (r#"{"type": "next", "id": "x", "version": 1e999}"#, "bad_json"),
        (r#"{"type": "next", "id": "x", "version": 99999999999999999999999}"#, "invalid_field"),
        (r#"{"type": "extend", "id": "x", "version": 2, "seconds": 4294967296}"#, "invalid_field"),
        (r#"{"type": "next", "id": "x", "version": 2, "event": "breakout-a"}"#, "invalid_field"),
    ];
    for (text, code) in cases {
        attacker.send_raw(Message::Text(text.into())).await;
        let error = attacker.expect("error").await;
        assert_eq!(error["code"], code, "{text} -> {error}");
        unharmed(&app, &mut bystander, &before).await;
    }
    attacker.send_raw(Message::Binary(vec![0, 159, 146, 150].into())).await;
    attacker.expect_error("binary_frame").await;
    attacker.still_works().await;
    unharmed(&app, &mut bystander, &before).await;
}

#[tokio::test]
async fn invalid_utf8_and_oversized_frames_close_with_their_codes() {
    let app = spawn_app().await;
    let (_chair, mut bystander, before) = baseline(&app).await;

    let (mut bad_text, _) = app.join(Role::Attendee, "mojibake").await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    bad_text.send_raw(Message::Frame(frame)).await;
    bad_text.expect_error("invalid_utf8").await;
    assert!(closed_with(&bad_text.ended().await, 1007));
    unharmed(&app, &mut bystander, &before).await;

    let (mut huge, _) = app.join(Role::Attendee, "huge").await;
    huge.send(json!({"type": "ping", "t": 1, "pad": "x".repeat(64 * 1024)})).await;
    huge.expect_error("too_large").await;
    assert!(closed_with(&huge.ended().await, 1009));
    unharmed(&app, &mut bystander, &before).await;
}

#[tokio::test]
async fn a_flood_of_ten_thousand_frames_is_limited_then_closed() {
    let app = spawn_app().await;
    let (_chair, mut bystander, before) = baseline(&app).await;
    let (mut flooder, _) = app.join(Role::Moderator, "flooder").await;
    for k in 0..10_000 {
        let frame = json!({"type": "next", "id": format!("f{k}"), "version": 0});
        if flooder.try_send(frame).await.is_err() {
            break;
        }
    }
    let mut limited = 0;
    let ended = loop {
        match flooder.try_next_frame().await {
            Some(frame) if frame["code"] == "rate_limited" => limited += 1,
            Some(_) => {}
            None => break flooder.close_frame(),
        }
    };
    assert!(limited >= 1, "the flooder was told it is rate limited");
    assert_eq!(ended.map(|(code, _)| code), Some(1008), "and then closed");
    unharmed(&app, &mut bystander, &before).await;
}

#[tokio::test]
async fn roles_stale_commands_and_hello_order_are_enforced() {
    let app = spawn_app().await;
    let (mut chair, mut bystander, before) = baseline(&app).await;
    let cases: [(Role, &str, Value); 5] = [
        (Role::Attendee, "next", json!({"version": 2})),
        (Role::Attendee, "cue_go", json!({"cue": 1})),
        (Role::Speaker, "queue_next", json!({"queue": "event", "version": 0})),
        (Role::Display, "queue_request", json!({"queue": "event"})),
        (Role::Av, "stage_signal", json!({"signal": "time_up"})),
    ];
    for (role, kind, fields) in cases {
        let (mut client, _) = app.join(role, "someone").await;
        let mut frame = json!({"type": kind, "id": "r1"});
        frame.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        client.send(frame).await;
        assert_eq!(client.expect_error("forbidden").await["id"], "r1", "{role:?} {kind}");
        unharmed(&app, &mut bystander, &before).await;
    }

    // A replayed command gets its first answer and changes nothing; the same command under a
    // new id names a version the show has left.
    let replay = json!({"type": "previous", "id": "again", "version": chair.version});
    chair.send(replay.clone()).await;
    chair.expect("change").await;
    let ack = chair.expect("ack").await;
    assert_eq!(ack["id"], "again");
    chair.send(replay.clone()).await;
    assert_eq!(chair.expect("ack").await, ack, "the same ack, and no second change before it");
    let mut stale = replay;
    stale["id"] = json!("again-2");
    chair.send(stale).await;
    assert_eq!(chair.expect_error("conflict").await["id"], "again-2");

    let mut early = app.connect().await;
    early.send(json!({"type": "queue_request", "id": "e1", "queue": "event"})).await;
    assert_eq!(early.expect_error("not_joined").await["id"], "e1");
    early.send(app.hello(Role::Attendee, "late")).await;
    early.expect("welcome").await;
    early.send(app.hello(Role::Moderator, "promoted?")).await;
    early.expect_error("already_joined").await;
    assert_eq!(early.run("next", json!({})).await["code"], "forbidden", "a second hello grants nothing");
}

fn two_events(settings: &mut eventhub::config::Settings) {
    settings.server.events_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two-events");
}

#[tokio::test]
async fn another_events_token_opens_nothing_here_and_events_stay_apart() {
    let app = spawn_app_with(two_events).await;
    let breakout_chair = app.event_token("breakout-a", Role::Moderator);
    let mut intruder = app.connect().await;
    intruder.send(hello_frame(&breakout_chair, "breakout chair")).await;
    intruder.expect_error("unauthorized").await;

    let (mut forum, _) = app.join(Role::Attendee, "forum attendee").await;
    let mut breakout = Client::connect(app.addr).await;
    let mut hello = hello_frame(&breakout_chair, "breakout chair");
    hello["event"] = json!("breakout-a");
    breakout.send(hello).await;
    let welcome = breakout.expect("welcome").await;
    assert_eq!(welcome["snapshot"]["event"]["id"], "breakout-a");
    assert_eq!(breakout.run("next", json!({})).await["type"], "ack");
    forum.still_works().await;
    let (_, checker) = app.join(Role::Attendee, "checker").await;
    assert_eq!(checker["snapshot"]["event"]["id"], EVENT, "the checker is on the forum, not the breakout");
    assert_eq!(checker["seq"], 0, "the breakout's change stayed in the breakout");
    assert_eq!(checker["snapshot"]["live"]["phase"], "standby", "the forum did not move");
}

#[tokio::test]
async fn a_page_from_another_origin_cannot_open_a_websocket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app().await;
    let mut request = format!("ws://{}/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("Origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
            assert_eq!(answer.status(), 403, "a foreign origin gets the documented 403: {answer:?}")
        }
        Err(other) => panic!("a foreign origin gets HTTP 403, not {other:?}"),
        Ok(_) => panic!("a foreign origin gets HTTP 403, not a websocket"),
    }
    let mut request = format!("ws://{}/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("Origin", format!("http://{}", app.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok(), "the server's own pages are welcome");
}

#[tokio::test]
async fn an_event_holds_its_configured_number_of_connections() {
    let app = spawn_app_with(|settings| settings.limits.max_connections_per_event = 2).await;
    let (_one, _) = app.join(Role::Attendee, "one").await;
    let (_two, _) = app.join(Role::Attendee, "two").await;
    let mut third = app.connect().await;
    third.send(app.hello(Role::Attendee, "three")).await;
    third.expect_error("event_full").await;
    assert!(closed_with(&third.ended().await, 1013));
}

#[tokio::test]
async fn one_address_holds_its_configured_number_of_connections() {
    let app = spawn_app_with(|settings| settings.limits.max_connections_per_ip = 2).await;
    let (_one, _two) = (app.connect().await, app.connect().await);
    match tokio_tungstenite::connect_async(format!("ws://{}/ws", app.addr)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => assert_eq!(answer.status(), 429, "{answer:?}"),
        Err(other) => panic!("the third connection from one address gets HTTP 429, not {other:?}"),
        Ok(_) => panic!("the third connection from one address is refused"),
    }
}

#[tokio::test]
async fn tokens_rotate_without_a_restart() {
    let app = spawn_app().await;
    let old = app.token(Role::Attendee).to_owned();
    let organizer = app.token(Role::Organizer).to_owned();
    let (mut kept, _) = app.join(Role::Attendee, "already here").await;
    let (status, body) =
        crate::helpers::http_post(app.addr, &format!("/api/events/{EVENT}/tokens/attendee"), &organizer).await;
    assert_eq!(status, 200, "{body}");
    let rotated: Value = serde_json::from_str(&body).unwrap();
    let new = rotated["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(new.len(), 32);

    let mut stale = app.connect().await;
    stale.send(hello_frame(&old, "old link")).await;
    stale.expect_error("unauthorized").await;
    let (_, welcome) = Client::join(app.addr, new, "new link").await;
    assert_eq!(welcome["you"]["role"], "attendee");
    kept.still_works().await;
    let (status, _) = crate::helpers::http_post(app.addr, &format!("/api/events/{EVENT}/tokens/attendee"), new).await;
    assert_eq!(status, 401, "only the organizer rotates");
}

const FIXED_ATTENDEE_TOKEN: &str = "attendee-token-fixed-in-the-settings";

#[tokio::test]
async fn a_token_fixed_in_the_settings_is_not_rotated_over_the_api() {
    let app = spawn_app_with(|settings| {
        let fixed = [(Role::Attendee, FIXED_ATTENDEE_TOKEN.to_owned())].into_iter().collect();
        settings.tokens.insert(EVENT.into(), fixed);
    })
    .await;
    assert_eq!(app.token(Role::Attendee), FIXED_ATTENDEE_TOKEN);
    let organizer = app.token(Role::Organizer).to_owned();
    let (status, body) =
        crate::helpers::http_post(app.addr, &format!("/api/events/{EVENT}/tokens/attendee"), &organizer).await;
    assert_eq!(status, 409, "a token fixed in the settings is changed there: {body}");
    let (_, welcome) = Client::join(app.addr, FIXED_ATTENDEE_TOKEN, "settings link").await;
    assert_eq!(welcome["you"]["role"], "attendee", "the fixed token still opens the event");
    let (status, body) =
        crate::helpers::http_post(app.addr, &format!("/api/events/{EVENT}/tokens/display"), &organizer).await;
    assert_eq!(status, 200, "a generated token beside it still rotates: {body}");
}

#[tokio::test]
async fn an_event_with_a_code_turns_away_attendees_without_it() {
    let app = spawn_app_with(|settings| {
        settings.attendee_codes.insert(EVENT.into(), "SJTU2022".into());
    })
    .await;
    let mut without = app.connect().await;
    without.send(app.hello(Role::Attendee, "no code")).await;
    without.expect_error("unauthorized").await;
    let mut with = app.connect().await;
    let mut hello = app.hello(Role::Attendee, "with code");
    hello["code"] = json!("SJTU2022");
    with.send(hello).await;
    with.expect("welcome").await;
    let (_, chair) = app.join(Role::Moderator, "chair needs no code").await;
    assert_eq!(chair["you"]["role"], "moderator");
}
