//! Frames that are wrong on their face: each gets its documented error code, and the
//! connection goes on or closes with its documented code.

use eventhub::domain::Role;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{spawn_app, Ended};

#[tokio::test]
async fn malformed_json_gets_bad_json_and_the_connection_goes_on() {
    let app = spawn_app().await;
    let (mut client, _) = app.join(Role::Moderator, "Ji Weidong").await;
    for text in ["{\"type\": \"next\"", "not json at all", "[1, 2, 3]", "\"hello\""] {
        client.send_raw(Message::Text(text.into())).await;
        client.expect_error("bad_json").await;
    }
    client.still_works().await;
    client.command("next", json!({})).await;
    client.expect("change").await;
}

#[tokio::test]
async fn unknown_types_get_unknown_type_and_the_connection_goes_on() {
    let app = spawn_app().await;
    let (mut client, _) = app.join(Role::Moderator, "Ji Weidong").await;
    client.send(json!({"type": "self_destruct", "id": "x1"})).await;
    client.expect_error("unknown_type").await;
    client.still_works().await;
}

#[tokio::test]
async fn bad_fields_get_invalid_field_with_the_command_id() {
    let app = spawn_app().await;
    let (mut client, _) = app.join(Role::Moderator, "Ji Weidong").await;
    client.send(json!({"type": "next", "id": "c1"})).await;
    assert_eq!(client.expect_error("invalid_field").await["id"], "c1");
    client.send(json!({"type": "goto", "id": "c2", "version": 0, "segment": "lunch"})).await;
    assert_eq!(client.expect_error("invalid_field").await["id"], "c2");
    client.send(json!({"type": "extend", "id": "c3", "version": 0, "seconds": "five"})).await;
    client.expect_error("invalid_field").await;
    client.still_works().await;
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused_loudly() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let mut hello = app.hello(Role::Attendee, "from the future");
    hello["protocol"] = json!(2);
    client.send(hello).await;
    let error = client.expect_error("unsupported_version").await;
    assert!(error["message"].as_str().unwrap().contains('1'), "says which version is spoken: {error}");
    match client.ended().await {
        Ended::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1002),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_token_or_event_is_refused_and_closed() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    let mut hello = app.hello(Role::Moderator, "intruder");
    hello["token"] = json!("guessed-token");
    client.send(hello).await;
    client.expect_error("unauthorized").await;
    assert!(matches!(client.ended().await, Ended::Closed(Some(frame)) if u16::from(frame.code) == 1008));

    let mut client = app.connect().await;
    let mut hello = app.hello(Role::Moderator, "lost");
    hello["event"] = json!("no-such-event");
    client.send(hello).await;
    client.expect_error("unknown_event").await;
    let ended = client.ended().await;
    assert!(matches!(&ended, Ended::Closed(Some(frame)) if u16::from(frame.code) == 1008), "{ended:?}");
}

#[tokio::test]
async fn commands_before_hello_and_a_second_hello_are_refused() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    client.send(json!({"type": "next", "id": "early", "version": 0})).await;
    assert_eq!(client.expect_error("not_joined").await["id"], "early");
    client.send(app.hello(Role::Moderator, "Ji Weidong")).await;
    client.expect("welcome").await;
    client.send(app.hello(Role::Moderator, "Ji Weidong")).await;
    client.expect_error("already_joined").await;
    client.still_works().await;
}

#[tokio::test]
async fn a_binary_frame_is_refused_and_the_connection_goes_on() {
    let app = spawn_app().await;
    let (mut client, _) = app.join(Role::Attendee, "binary").await;
    client.send_raw(Message::Binary(vec![0xff, 0x00].into())).await;
    client.expect_error("binary_frame").await;
    client.still_works().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_too_large_and_others_are_unaffected() {
    let app = spawn_app().await;
    let (mut bystander, _) = app.join(Role::Attendee, "bystander").await;
    let (mut client, _) = app.join(Role::Attendee, "flooder").await;
    let huge = json!({"type": "ping", "t": 1, "pad": "x".repeat(20_000)});
    client.send(huge).await;
    client.expect_error("too_large").await;
    let ended = client.ended().await;
    assert!(matches!(&ended, Ended::Closed(Some(frame)) if u16::from(frame.code) == 1009), "{ended:?}");
    bystander.still_works().await;
}

#[tokio::test]
async fn names_with_control_characters_are_refused_and_the_connection_stays_open() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for name in [" \u{0007} ", "Sato\u{0000} Longliang", "Sato\u{0007} Longliang", "\u{1b}[31mSato", &"長".repeat(81)]
    {
        client.send(app.hello(Role::Attendee, name)).await;
        client.expect_error("invalid_field").await;
    }
    client.still_works().await;
    client.send(app.hello(Role::Attendee, " Sato\tLongliang\r\n")).await;
    let welcome = client.expect("welcome").await;
    assert_eq!(welcome["you"]["name"], "Sato Longliang");
}

#[tokio::test]
async fn a_name_of_only_invisible_characters_is_refused_as_empty() {
    let app = spawn_app().await;
    let mut client = app.connect().await;
    for name in ["\u{200b}\u{2060}", "\u{3164}\u{feff}\u{3000}"] {
        client.send(app.hello(Role::Attendee, name)).await;
        let error = client.expect_error("invalid_field").await;
        assert_eq!(error["message"], "name must not be empty");
    }
    client.still_works().await;
}
