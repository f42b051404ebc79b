//! The control API over real HTTP: state with ETag, every command, its error statuses,
//! `expect`, `Idempotency-Key` and the double-press guard.

use std::net::SocketAddr;

use eventhub::config::Settings;
use eventhub::domain::Role;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::{read_to_close, spawn_app, spawn_app_with, tcp_connect, TestApp, EVENT};

pub struct Reply {
    pub status: u16,
    /// Lower-cased.
    pub head: String,
    pub body: Value,
}

/// One HTTP/1.0 request with the given extra header lines, and its answer.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = tcp_connect(addr).await;
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request =
        format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    read_to_close(&mut stream, &mut response).await.unwrap();
    let response = String::from_utf8(response).expect("the answer is UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).unwrap_or(json!(body)) };
    Reply { status, head: head.to_ascii_lowercase(), body }
}

pub fn no_double_press_guard(settings: &mut Settings) {
    settings.limits.api_double_press_ms = 0;
}

/// `POST /api/v1/events/{EVENT}/{path}` with `role`'s bearer token.
pub async fn press(app: &TestApp, role: Role, path: &str) -> Reply {
    let auth = format!("Bearer {}", app.token(role));
    request(app.addr, "POST", &format!("/api/v1/events/{EVENT}/{path}"), &[("Authorization", &auth)], "").await
}

pub async fn state(app: &TestApp, role: Role) -> Reply {
    let path = format!("/api/v1/events/{EVENT}/state?token={}", app.token(role));
    request(app.addr, "GET", &path, &[], "").await
}

pub fn ok(reply: &Reply) -> &Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    &reply.body
}

#[tokio::test]
async fn the_state_is_flat_ready_to_show_and_answers_304_while_nothing_changes() {
    let app = spawn_app().await;
    let before = state(&app, Role::Attendee).await;
    let body = ok(&before);
    assert_eq!(body["phase"], "standby");
    assert_eq!(body["next"]["id"], "opening");
    assert!(body["next"]["title"]["ja"].is_string());
    assert!(body["current"].is_null());
    assert_eq!(body["seq"], 0);
    assert!(before.head.contains("etag: \"0\""), "{}", before.head);
    let path = format!("/api/v1/events/{EVENT}/state?token={}", app.token(Role::Attendee));
    let again = request(app.addr, "GET", &path, &[("If-None-Match", "\"0\"")], "").await;
    assert_eq!(again.status, 304);

    let body = ok(&press(&app, Role::Moderator, "next").await).clone();
    assert_eq!(body["phase"], "live");
    assert_eq!(body["current"]["id"], "opening");
    assert_eq!(body["next"]["id"], "keynotes");
    assert_eq!(body["speaker"]["id"], "opening-1");
    assert_eq!(body["segment_clock"]["remaining"], "20:00", "{body}");
    assert_eq!(body["segment_clock"]["overrun"], false);
    assert!(body["speaker_clock"]["elapsed"].is_string());
    assert!(body["server_time"].as_i64().is_some());
    assert!(body["segment_clock"]["started_at"].as_i64().is_some(), "a client can count down locally");
    assert!(body["drift"].is_string());
    assert_eq!(body["queue"]["waiting"], 0);
    let changed = request(app.addr, "GET", &path, &[("If-None-Match", "\"0\"")], "").await;
    assert_eq!(changed.status, 200);
    assert!(changed.head.contains("etag: \"1\""), "{}", changed.head);
}

#[tokio::test]
async fn every_show_command_works_over_http() {
    let app = spawn_app_with(no_double_press_guard).await;
    let m = Role::Moderator;
    ok(&press(&app, m, "next").await);
    assert_eq!(ok(&press(&app, m, "next_speaker").await)["speaker"]["index"], 1);
    assert_eq!(ok(&press(&app, m, "hold").await)["held"], true);
    assert_eq!(ok(&press(&app, m, "resume").await)["held"], false);
    assert_eq!(ok(&press(&app, m, "toggle_hold").await)["held"], true);
    assert_eq!(ok(&press(&app, m, "toggle_hold").await)["held"], false);
    let extended = ok(&press(&app, m, "extend?seconds=60").await).clone();
    assert_eq!(extended["segment_clock"]["planned_ms"], 21 * 60_000);
    assert_eq!(ok(&press(&app, m, "goto?segment=round-table").await)["current"]["id"], "round-table");
    assert_eq!(ok(&press(&app, m, "goto?index=1").await)["current"]["id"], "keynotes");
    assert_eq!(ok(&press(&app, m, "previous").await)["current"]["id"], "opening");
    assert_eq!(ok(&press(&app, m, "undo").await)["current"]["id"], "keynotes");
    assert_eq!(ok(&press(&app, m, "next").await)["current"]["id"], "round-table");
    assert_eq!(ok(&press(&app, m, "end").await)["phase"], "ended");
}

#[tokio::test]
async fn extend_takes_fractional_seconds_over_http_and_the_websocket_within_an_hour_either_way() {
    let app = spawn_app_with(no_double_press_guard).await;
    let m = Role::Moderator;
    let planned = |reply: &Reply| ok(reply)["segment_clock"]["planned_ms"].as_i64().unwrap();
    let start = planned(&press(&app, m, "next").await);
    assert_eq!(planned(&press(&app, m, "extend?seconds=30.5").await), start + 30_500);
    let auth = format!("Bearer {}", app.token(m));
    let path = format!("/api/v1/events/{EVENT}/extend");
    let body = request(app.addr, "POST", &path, &[("Authorization", &auth)], r#"{"seconds": -0.25}"#).await;
    assert_eq!(planned(&body), start + 30_250);
    let (mut chair, _) = app.join(m, "Chair").await;
    let version = ok(&state(&app, m).await)["version"].clone();
    let reply = chair.run("extend", json!({"version": version, "seconds": 1.75})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    assert_eq!(planned(&state(&app, m).await), start + 32_000);
    for bad in ["0", "0.0009", "-1e-105", "3600.0001", "-3600.0001", "inf", "NaN", "-1e300", "half"] {
        let reply = press(&app, m, &format!("extend?seconds={bad}")).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (422, Some("invalid_field")), "{bad}: {}", reply.body);
    }
    assert_eq!(planned(&press(&app, m, "extend?seconds=0.001").await), start + 32_001);
    assert_eq!(planned(&press(&app, m, "extend?seconds=3600").await), start + 32_001 + 3_600_000);
}

#[tokio::test]
async fn queue_cue_and_stage_commands_work_over_http() {
    let app = spawn_app_with(no_double_press_guard).await;
    ok(&press(&app, Role::Moderator, "next").await);
    let (mut attendee, _) = app.join(Role::Attendee, "Mei Lin").await;
    attendee.run("queue_request", json!({"queue": "opening"})).await;
    let called = ok(&press(&app, Role::Moderator, "queue/next").await).clone();
    assert_eq!(called["queue"]["speaking"], "Mei Lin", "{called}");

    let standby = ok(&press(&app, Role::Av, "cue/standby?preset=slides").await).clone();
    assert_eq!(standby["cues"][0]["state"], "standby", "{standby}");
    // As the console's G: only a cue of the current segment that the crew answered goes.
    let unanswered = press(&app, Role::Moderator, "cue/go").await;
    assert_eq!(
        (unanswered.status, unanswered.body["code"].as_str()),
        (409, Some("invalid_state")),
        "{}",
        unanswered.body
    );
    let (mut crew, _) = app.join(Role::Av, "Wang").await;
    let id = standby["cues"][0]["id"].clone();
    assert_eq!(crew.run("cue_standing_by", json!({"cue": id})).await["type"], "ack");
    let gone = ok(&press(&app, Role::Moderator, "cue/go").await).clone();
    assert_eq!(gone["cues"][0]["state"], "go", "the answered cue of the opening goes: {gone}");
    ok(&press(&app, Role::Av, "cue/standby?preset=house-lights").await);
    let cue = standby["cues"][0]["id"].as_u64().unwrap() + 1;
    let cancelled = ok(&press(&app, Role::Moderator, &format!("cue/cancel?cue={cue}")).await).clone();
    assert!(cancelled["cues"].as_array().unwrap().iter().all(|c| c["id"] != cue), "{cancelled}");

    let (mut stage, _) = app.join(Role::Speaker, "Stage").await;
    ok(&press(&app, Role::Moderator, "stage/signal?signal=wrap_up").await);
    assert_eq!(stage.expect("change").await["change"]["message"]["kind"], "wrap_up");
    let auth = format!("Bearer {}", app.token(Role::Moderator));
    let path = format!("/api/v1/events/{EVENT}/stage/message");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    ok(&request(app.addr, "POST", &path, &headers, r#"{"text": "Two questions left", "pinned": true}"#).await);
    let message = stage.expect("change").await;
    assert_eq!(message["change"]["message"]["text"], "Two questions left");
    assert_eq!(message["change"]["message"]["pinned"], true);
    ok(&press(&app, Role::Moderator, "stage/clear").await);
    assert!(stage.expect("change").await["change"]["message"].is_null());
}

#[tokio::test]
async fn each_refusal_has_its_status_and_code() {
    let app = spawn_app_with(no_double_press_guard).await;
    for path in ["next", "hold", "extend?seconds=60", "goto?segment=closing", "end", "queue/next", "cue/go"] {
        let reply = press(&app, Role::Attendee, path).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (403, Some("forbidden")), "{path}: {}", reply.body);
    }
    let path = format!("/api/v1/events/{EVENT}/next");
    let reply = request(app.addr, "POST", &path, &[("Authorization", "Bearer nope")], "").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (401, Some("unauthorized")));
    let reply = request(app.addr, "POST", &path, &[], "").await;
    assert_eq!(reply.status, 401);
    let token = format!("Bearer {}", app.token(Role::Moderator));
    let reply = request(app.addr, "POST", "/api/v1/events/nope/next", &[("Authorization", &token)], "").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (404, Some("unknown_event")));
    let reply = press(&app, Role::Moderator, "previous").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (409, Some("invalid_state")), "{}", reply.body);
    for bad in ["extend?seconds=soon", "goto?segment=nope", "goto?index=9", "goto", "stage/signal?signal=fog"] {
        let reply = press(&app, Role::Moderator, bad).await;
        assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
        assert!(reply.body["message"].is_string());
    }
    let reply = press(&app, Role::Moderator, "warp").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (422, Some("unknown_type")));
    let reply = request(app.addr, "POST", &path, &[("Authorization", &token)], "[1, 2]").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (422, Some("bad_json")));
    assert_eq!(ok(&state(&app, Role::Moderator).await)["seq"], 0, "nothing was applied");
}

#[tokio::test]
async fn a_command_body_over_16_kib_is_answered_413_in_the_api_s_json() {
    let app = spawn_app().await;
    let auth = format!("Bearer {}", app.token(Role::Moderator));
    let path = format!("/api/v1/events/{EVENT}/stage/message");
    let body = json!({"text": "x".repeat(17 * 1024)}).to_string();
    let reply = request(app.addr, "POST", &path, &[("Authorization", &auth)], &body).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (413, Some("too_large")), "{}", reply.body);
    assert!(reply.head.contains("content-type: application/json"), "{}", reply.head);
    let anonymous = request(app.addr, "POST", &path, &[], &body).await;
    assert_eq!((anonymous.status, anonymous.body["code"].as_str()), (401, Some("unauthorized")), "{}", anonymous.body);
    assert_eq!(ok(&state(&app, Role::Moderator).await)["seq"], 0, "nothing was applied");
}

#[tokio::test]
async fn a_button_pressed_against_a_segment_the_show_has_left_is_a_conflict() {
    let app = spawn_app_with(no_double_press_guard).await;
    ok(&press(&app, Role::Moderator, "next").await);
    ok(&press(&app, Role::Moderator, "next?expect=opening").await);
    let late = press(&app, Role::Moderator, "next?expect=opening").await;
    assert_eq!((late.status, late.body["code"].as_str()), (409, Some("conflict")), "{}", late.body);
    assert!(late.body["message"].as_str().unwrap().contains("keynotes"));
    assert_eq!(ok(&state(&app, Role::Moderator).await)["current"]["id"], "keynotes");
}

#[tokio::test]
async fn a_retried_idempotency_key_changes_nothing() {
    let app = spawn_app_with(no_double_press_guard).await;
    let auth = format!("Bearer {}", app.token(Role::Moderator));
    let path = format!("/api/v1/events/{EVENT}/next");
    let headers = [("Authorization", auth.as_str()), ("Idempotency-Key", "deck-key-7-press-1")];
    let first = request(app.addr, "POST", &path, &headers, "").await;
    let again = request(app.addr, "POST", &path, &headers, "").await;
    assert_eq!(ok(&first)["seq"], 1);
    assert_eq!(ok(&again)["current"]["id"], "opening");
    assert_eq!(again.body["seq"], 1, "the retry was not applied");
    let other = [("Authorization", auth.as_str()), ("Idempotency-Key", "deck-key-7-press-2")];
    assert_eq!(ok(&request(app.addr, "POST", &path, &other, "").await)["current"]["id"], "keynotes");

    // A press guarded by `expect` whose answer was lost is retried after it moved the show:
    // the retry is answered as the first, not refused for the show having moved.
    let guarded = format!("{path}?expect=keynotes");
    let key = [("Authorization", auth.as_str()), ("Idempotency-Key", "deck-key-7-press-3")];
    assert_eq!(ok(&request(app.addr, "POST", &guarded, &key, "").await)["current"]["id"], "round-table");
    let retried = request(app.addr, "POST", &guarded, &key, "").await;
    assert_eq!((ok(&retried)["current"]["id"].as_str(), retried.body["seq"].as_u64()), (Some("round-table"), Some(3)));
    // One refused by its `expect` stays refused when retried.
    let stale = [("Authorization", auth.as_str()), ("Idempotency-Key", "deck-key-7-press-4")];
    for _ in 0..2 {
        let refused = request(app.addr, "POST", &guarded, &stale, "").await;
        assert_eq!((refused.status, refused.body["code"].as_str()), (409, Some("conflict")), "{}", refused.body);
    }

    // The same key with another command, or other arguments, is not answered as the first.
    let extend = format!("/api/v1/events/{EVENT}/extend?seconds=3601");
    let reused = request(app.addr, "POST", &extend, &headers, "").await;
    assert_eq!((reused.status, reused.body["code"].as_str()), (409, Some("conflict")), "{}", reused.body);
    let with_expect = request(app.addr, "POST", &format!("{path}?expect=opening"), &headers, "").await;
    assert_eq!(with_expect.status, 409, "{}", with_expect.body);
    assert_eq!(ok(&state(&app, Role::Moderator).await)["seq"], 3, "neither was applied");
}

#[tokio::test]
async fn a_double_press_within_the_window_advances_once() {
    let app = spawn_app().await;
    // Both presses at once, as a bouncing button sends them: whichever arrives second gets
    // the first one's answer.
    let (first, second) = tokio::join!(press(&app, Role::Moderator, "next"), press(&app, Role::Moderator, "next"));
    assert_eq!(ok(&first)["current"]["id"], "opening");
    assert_eq!(ok(&second)["current"]["id"], "opening", "the second press got the first one's answer");
    assert_eq!(ok(&state(&app, Role::Moderator).await)["seq"], 1);
    let other = press(&app, Role::Moderator, "next_speaker").await;
    assert_eq!(ok(&other)["speaker"]["index"], 1, "another command is not a double press");
}

#[tokio::test]
async fn commands_beyond_the_budget_are_rate_limited() {
    fn tight(settings: &mut Settings) {
        settings.limits.frame_burst = 3;
        settings.limits.frames_per_second = 1;
        settings.limits.api_double_press_ms = 0;
    }
    let app = spawn_app_with(tight).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(press(&app, Role::Moderator, "toggle_hold?expect=nowhere").await.status);
    }
    assert_eq!(&statuses[..3], [409, 409, 409]);
    assert_eq!(statuses[4], 429, "{statuses:?}");
    let reply = press(&app, Role::Moderator, "next").await;
    assert_eq!(reply.body["code"], "rate_limited");
}

#[tokio::test]
async fn questions_and_polls_are_run_from_a_booth_key_with_sensible_defaults() {
    let app = spawn_app_with(no_double_press_guard).await;
    ok(&press(&app, Role::Moderator, "goto?segment=round-table").await);
    let none = press(&app, Role::Moderator, "question/highlight").await;
    assert_eq!((none.status, none.body["code"].as_str()), (409, Some("invalid_state")), "{}", none.body);
    let (mut asker, _) = app.join(Role::Attendee, "Mei Lin").await;
    let (mut second, _) = app.join(Role::Attendee, "Sato").await;
    let ask = json!({"text": "Who owns the data?", "anonymous": true});
    assert_eq!(asker.run("question_ask", ask).await["type"], "ack");
    assert_eq!(second.run("question_ask", json!({"text": "And the models?"})).await["type"], "ack");
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let pending = ok(&state(&app, Role::Moderator).await).clone();
    assert_eq!(pending["questions"]["pending"], 2, "{pending}");
    assert!(ok(&state(&app, Role::Attendee).await)["questions"]["pending"].is_null(), "the chair's to know");
    assert_eq!(chair.run("question_approve", json!({"question": 1})).await["type"], "ack");
    let shown = ok(&press(&app, Role::Moderator, "question/highlight").await).clone();
    let on_screen = &shown["questions"]["on_screen"];
    assert_eq!((on_screen["id"].as_u64(), on_screen["name"].clone()), (Some(1), Value::Null), "{shown}");
    let answered = ok(&press(&app, Role::Moderator, "question/answer").await).clone();
    assert!(answered["questions"]["on_screen"].is_null(), "{answered}");
    assert_eq!(press(&app, Role::Attendee, "question/clear").await.status, 403);

    let opened = ok(&press(&app, Role::Moderator, "poll/open").await).clone();
    assert_eq!(opened["poll"]["id"], "next-forum", "the round table's prepared poll: {opened}");
    assert_eq!(asker.run("poll_vote", json!({"poll": "next-forum", "choices": [1]})).await["type"], "ack");
    assert!(ok(&state(&app, Role::Attendee).await)["poll"]["counts"].is_null(), "results after close");
    assert_eq!(ok(&state(&app, Role::Moderator).await)["poll"]["counts"], json!([0, 1, 0]));
    ok(&press(&app, Role::Moderator, "poll/show").await);
    assert_eq!(ok(&state(&app, Role::Attendee).await)["poll"]["counts"], json!([0, 1, 0]));
    let closed = ok(&press(&app, Role::Moderator, "poll/close").await).clone();
    assert!(closed["poll"].is_null(), "no poll is open: {closed}");
    let again = press(&app, Role::Moderator, "poll/close").await;
    assert_eq!((again.status, again.body["code"].as_str()), (409, Some("invalid_state")));
    let unknown = press(&app, Role::Moderator, "poll/open?poll=nope").await;
    assert_eq!((unknown.status, unknown.body["code"].as_str()), (422, Some("invalid_field")));
}
