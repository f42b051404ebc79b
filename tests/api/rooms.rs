//! Events created, listed and archived over HTTP with the rooms token, while the server runs.

use std::net::SocketAddr;
use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{http_get, http_request, spawn_app, Client, Ended, TestApp, EVENT};

const DEMO: &str = include_str!("../../config/events/sjtu-forum.toml");
pub const BREAKOUT: &str = "breakout-a";

/// The demo's plan under another id: a parallel breakout.
pub fn breakout_file(id: &str) -> String {
    DEMO.replacen("id = \"sjtu-forum\"", &format!("id = \"{id}\""), 1)
}

/// Status and JSON body of a POST with the rooms API's bearer token.
pub async fn post(addr: SocketAddr, path: &str, token: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    headers.extend(content_type.map(|t| ("Content-Type", t)));
    let (status, body) = http_request(addr, "POST", path, &headers, body).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("a JSON answer, not {body:?}")))
}

/// Creates the breakout; returns its answer.
pub async fn create(app: &TestApp, id: &str) -> Value {
    let (status, body) =
        post(app.addr, "/api/events", &app.rooms_token(), Some("application/toml"), breakout_file(id).as_bytes()).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn rooms(app: &TestApp) -> Value {
    let (status, _, body) = http_get(app.addr, &format!("/api/events?token={}", app.rooms_token())).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn room<'a>(rooms: &'a Value, id: &str) -> &'a Value {
    rooms["events"].as_array().unwrap().iter().find(|e| e["id"] == id).unwrap_or_else(|| panic!("{id} in {rooms}"))
}

/// Joins `event` over websocket with `token`.
async fn join(addr: SocketAddr, event: &str, token: &str, name: &str, mode: &str) -> (Client, Value) {
    let mut client = Client::connect(addr).await;
    let hello = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": name,
                       "mode": mode, "lang": "en"});
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    client.version = welcome["snapshot"]["live"]["version"].as_u64().unwrap();
    (client, welcome)
}

/// Polls the rooms list until `ok` holds for the event's entry.
async fn until_room(app: &TestApp, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = rooms(app).await;
        let entry = room(&list, id).clone();
        if ok(&entry) {
            return entry;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rooms list never showed what was awaited: {entry}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_event_created_over_http_is_joined_advanced_and_listed_with_its_people() {
    let app = spawn_app().await;
    let created = create(&app, BREAKOUT).await;
    assert_eq!(created["id"], BREAKOUT);
    let organizer = created["tokens"]["organizer"].as_str().unwrap();
    assert_eq!(created["links"]["organizer"], format!("/console#event={BREAKOUT}&token={organizer}"));
    assert!(created["links"]["attendee"].as_str().unwrap().starts_with("/attend#event=breakout-a&token="));
    assert!(created["links"]["captioner"].as_str().unwrap().starts_with("/caption#event=breakout-a&token="));
    assert!(created["links"]["display"].as_str().unwrap().starts_with("/captions#event=breakout-a&token="));

    let (mut chair, _) =
        join(app.addr, BREAKOUT, created["tokens"]["moderator"].as_str().unwrap(), "Chair", "in_room").await;
    let attendee_token = created["tokens"]["attendee"].as_str().unwrap();
    let (mut attendee, _) = join(app.addr, BREAKOUT, attendee_token, "Remote One", "remote").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let change = attendee.expect("change").await;
    assert_eq!(change["change"]["live"]["segment"], 0, "{change}");

    let breakout = until_room(&app, BREAKOUT, |r| r["overview"]["people"]["remote"] == 1).await;
    assert_eq!(breakout["archived"], false);
    assert_eq!(breakout["phase"], "live");
    assert_eq!(breakout["overview"]["current"]["id"], "opening");
    assert_eq!(breakout["overview"]["current"]["title"]["ja"], "開会式");
    assert_eq!(breakout["overview"]["current"]["kind"], "ceremony");
    assert_eq!(breakout["overview"]["next"]["id"], "keynotes");
    let remaining = breakout["overview"]["timing"]["remaining_ms"].as_i64().unwrap();
    assert!((1_100_000..=1_200_000).contains(&remaining), "the 20-minute opening just started: {remaining}");
    assert!(breakout["overview"]["server_time"].as_i64().is_some());
    assert!(breakout["overview"]["segment_started_at"].as_i64().is_some());
    assert_eq!(breakout["overview"]["time_zone"], "Asia/Shanghai");
    assert_eq!(breakout["links"]["moderator"], created["links"]["moderator"]);

    let list = rooms(&app).await;
    let demo = room(&list, EVENT);
    assert_eq!(demo["phase"], "standby");
    assert_eq!(demo["overview"]["next"]["id"], "opening");

    let (_second, _) = join(app.addr, BREAKOUT, attendee_token, "In The Hall", "in_room").await;
    let breakout = until_room(&app, BREAKOUT, |r| r["overview"]["people"]["in_room"] == 1).await;
    assert_eq!(breakout["overview"]["people"]["total"], 2, "{breakout}");
}

#[tokio::test]
async fn the_rooms_api_refuses_with_stable_codes() {
    let app = spawn_app().await;
    let token = app.rooms_token();
    let file = breakout_file(BREAKOUT);
    let toml = Some("application/toml");

    let (status, body) = post(app.addr, "/api/events", "wrong", toml, file.as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{body}");
    let organizer = app.token(Role::Organizer).to_owned();
    let (status, _) = post(app.addr, "/api/events", &organizer, toml, file.as_bytes()).await;
    assert_eq!(status, 401, "an event's own organizer token does not create events");
    assert_eq!(http_get(app.addr, "/api/events").await.0, 401);

    let bad_zone = file.replace("Asia/Shanghai", "Mars/Olympus");
    let (status, body) = post(app.addr, "/api/events", &token, toml, bad_zone.as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_event")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Mars/Olympus"), "{body}");
    let (status, body) = post(app.addr, "/api/events", &token, None, b"[event\nid = ").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_event")), "{body}");

    let (status, body) = post(app.addr, "/api/events", &token, Some("text/plain"), DEMO.as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "{body}");

    let huge = format!("{file}\n#{}", "x".repeat(1024 * 1024));
    let (status, body) = post(app.addr, "/api/events", &token, toml, huge.as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")), "{body}");

    let (status, body) = post(app.addr, "/api/events", &token, Some("image/png"), file.as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
    let (status, body) = post(app.addr, "/api/events?id=x", &token, Some("text/csv"), b"kind,duration\nbreak,1h").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_event")), "{body}");

    let (status, body) = post(app.addr, "/api/events/nope/archive", &token, None, b"").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let list = rooms(&app).await;
    let ids: Vec<&str> = list["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [EVENT], "nothing was created by the refused requests: {list}");
}

#[tokio::test]
async fn archiving_closes_the_events_websockets_and_keeps_its_record() {
    let app = spawn_app().await;
    let created = create(&app, BREAKOUT).await;
    let attendee_token = created["tokens"]["attendee"].as_str().unwrap();
    let (mut attendee, _) = join(app.addr, BREAKOUT, attendee_token, "Watcher", "remote").await;
    let (mut demo, _) = app.join(Role::Attendee, "Demo watcher").await;

    let (status, body) = post(app.addr, "/api/events/breakout-a/archive", &app.rooms_token(), None, b"").await;
    assert_eq!(status, 200, "{body}");
    match attendee.ended().await {
        Ended::Closed(Some(frame)) => {
            assert_eq!((u16::from(frame.code), frame.reason.as_str()), (4404, "event archived"))
        }
        other => panic!("the archived event's socket is closed with 4404, not {other:?}"),
    }
    demo.still_works().await;

    let list = rooms(&app).await;
    let archived = room(&list, BREAKOUT);
    assert_eq!(archived["archived"], true);
    let running: Vec<&Value> = list["events"].as_array().unwrap().iter().filter(|e| e["archived"] == false).collect();
    assert_eq!(running.len(), 1, "only the demo runs: {list}");

    let mut late = Client::connect(app.addr).await;
    late.send(json!({"type": "hello", "protocol": 1, "event": BREAKOUT, "token": attendee_token, "name": "Late",
                     "mode": "remote", "lang": "en"}))
        .await;
    late.expect_error("unknown_event").await;

    let organizer = created["tokens"]["organizer"].as_str().unwrap();
    let (status, _, csv) = http_get(app.addr, &format!("/api/events/{BREAKOUT}/record.csv?token={organizer}")).await;
    assert_eq!(status, 200, "an archived event's record is still exported: {csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("opening,"), "{csv}");
    let (status, _, _) = http_get(app.addr, &format!("/api/events/{BREAKOUT}/log.jsonl?token={organizer}")).await;
    assert_eq!(status, 200);
    let attendee = http_get(app.addr, &format!("/api/events/{BREAKOUT}/log.jsonl?token={attendee_token}")).await;
    assert_eq!(attendee.0, 401, "still only for its organizer");

    let (status, body) =
        post(app.addr, "/api/events", &app.rooms_token(), None, breakout_file(BREAKOUT).as_bytes()).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")), "an archived id is taken: {body}");
}

#[tokio::test]
async fn a_live_show_is_archived_only_with_force() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let token = app.rooms_token();
    let (status, body) = post(app.addr, &format!("/api/events/{EVENT}/archive"), &token, None, b"").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")), "{body}");
    chair.still_works().await;
    let (status, body) = post(app.addr, &format!("/api/events/{EVENT}/archive?force=true"), &token, None, b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(matches!(chair.ended().await, Ended::Closed(Some(frame)) if u16::from(frame.code) == 4404));
    let (status, body) = post(app.addr, &format!("/api/events/{EVENT}/archive?force=true"), &token, None, b"").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("invalid_state")), "archived already: {body}");
}

#[tokio::test]
async fn a_restart_keeps_a_created_event_with_its_tokens_and_an_archived_one_archived() {
    let mut app = spawn_app().await;
    let created = create(&app, BREAKOUT).await;
    let second = create(&app, "breakout-b").await;
    let (mut chair, _) =
        join(app.addr, BREAKOUT, created["tokens"]["moderator"].as_str().unwrap(), "Chair", "in_room").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let (status, _) = post(app.addr, "/api/events/breakout-b/archive", &app.rooms_token(), None, b"").await;
    assert_eq!(status, 200);
    drop(chair);
    let rooms_token = app.rooms_token();

    app.restart().await;
    assert_eq!(app.rooms_token(), rooms_token, "the rooms token survives a restart");
    let (_, welcome) =
        join(app.addr, BREAKOUT, created["tokens"]["attendee"].as_str().unwrap(), "Back", "remote").await;
    assert_eq!(welcome["snapshot"]["live"]["segment"], 0, "the created event kept its log");
    let list = rooms(&app).await;
    assert_eq!(room(&list, BREAKOUT)["archived"], false);
    assert_eq!(room(&list, "breakout-b")["archived"], true);
    let mut gone = Client::connect(app.addr).await;
    let token = second["tokens"]["attendee"].as_str().unwrap();
    gone.send(json!({"type": "hello", "protocol": 1, "event": "breakout-b", "token": token, "name": "X",
                     "mode": "remote", "lang": "en"}))
        .await;
    gone.expect_error("unknown_event").await;
}

#[tokio::test]
async fn an_event_file_does_not_bring_back_an_archived_event() {
    let mut app = spawn_app().await;
    let (status, _) = post(app.addr, &format!("/api/events/{EVENT}/archive"), &app.rooms_token(), None, b"").await;
    assert_eq!(status, 200);
    app.stop().await;
    app.start_again_with_the_demo_archived().await;
    let list = rooms(&app).await;
    assert_eq!(room(&list, EVENT)["archived"], true, "the store knows it is archived: {list}");
    assert_eq!(list["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_event_is_created_from_a_spreadsheet_with_its_fields_in_the_query() {
    let app = spawn_app().await;
    let token = app.rooms_token().to_owned();
    let template = include_str!("../../config/run-of-show-template.csv");
    let path = "/api/events?id=workshop-b&title_en=Workshop%20B&venue_en=Room%202&time_zone=Asia/Tokyo&date=2026-12-02&languages=ja,en";
    let (status, body) = post(app.addr, path, &token, Some("text/csv"), template.as_bytes()).await;
    assert_eq!(status, 201, "{body}");
    let moderator = body["tokens"]["moderator"].as_str().unwrap().to_owned();
    let hello = json!({"type": "hello", "protocol": 1, "event": "workshop-b", "token": moderator, "name": "Chair", "mode": "in_room", "lang": "en"});
    let mut chair = Client::connect(app.addr).await;
    chair.send(hello).await;
    let welcome = chair.expect("welcome").await;
    assert_eq!(welcome["snapshot"]["event"]["title"]["en"], "Workshop B");
    assert_eq!(welcome["snapshot"]["event"]["time_zone"], "Asia/Tokyo");
    assert_eq!(welcome["snapshot"]["segments"].as_array().unwrap().len(), 6, "the template's six segments");
}

#[tokio::test]
async fn an_event_file_over_the_api_keeps_to_the_plan_limits_and_the_text_policy() {
    let app = spawn_app().await;
    let token = app.rooms_token();
    let toml = Some("application/toml");
    let refused = |file: String| {
        let token = token.clone();
        async move {
            let (status, body) = post(app.addr, "/api/events", &token, toml, file.as_bytes()).await;
            assert_eq!((status, body["code"].as_str()), (422, Some("invalid_event")), "{body}");
            body["message"].as_str().unwrap().to_owned()
        }
    };
    let mut many = breakout_file("many");
    for k in 0..15_000 {
        many.push_str(&format!("[[segments]]\nid=\"s{k}\"\nkind=\"qa\"\ntitle=\"B\"\nduration_min=1\n"));
    }
    assert!(many.len() < 1024 * 1024, "within the upload limit");
    assert!(refused(many).await.contains("at most 200 segments"));
    // The event's English title, in TOML (with TOML's escapes).
    let demo_title = "en = \"5th “Innovation and Co-creation” Sino-Japanese Enterprise Innovation Cooperation Forum\"";
    let titled = |title: &str| breakout_file("titled").replacen(demo_title, &format!("en = \"{title}\""), 1);
    assert!(titled("x").contains("en = \"x\""), "the demo's title is where the test puts its own");
    assert!(refused(titled(&"x".repeat(900_000))).await.contains("longer than 200"));
    assert!(refused(titled("bell \\u0007")).await.contains("control character"));
    assert!(refused(titled("\\u001b[2J\\u001b[31mred")).await.contains("control character"));

    let (status, body) = post(app.addr, "/api/events", &token, toml, titled("evil\\u202etxt.exe").as_bytes()).await;
    assert_eq!(status, 201, "{body}");
    let listed = rooms(&app).await;
    let title = room(&listed, "titled")["title"]["en"].clone();
    assert_eq!(title, "eviltxt.exe", "the override is removed, as from a typed title: {}", room(&listed, "titled"));
}

#[tokio::test]
async fn answers_that_carry_tokens_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let token = app.rooms_token();
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str()), ("Content-Type", "application/toml")];
    let created = crate::control::request(app.addr, "POST", "/api/events", &auth, &breakout_file(BREAKOUT)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = crate::control::request(app.addr, "GET", "/api/events", &auth[..1], "").await;
    let organizer = format!("Bearer {}", app.token(Role::Organizer));
    let path = format!("/api/events/{EVENT}/tokens/attendee");
    let rotated = crate::control::request(app.addr, "POST", &path, &[("Authorization", &organizer)], "").await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    for answer in [created, listed, rotated] {
        assert!(answer.head.contains("cache-control: no-store"), "{}", answer.head);
    }
}
