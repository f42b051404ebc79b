//! Links: extra tokens of an event, made, listed and revoked over HTTP; a revoked or
//! expired link closes its websockets with 4401 and is refused with its own code.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::cluster::{Nats, Node, ONE_AT_A_TIME};
use crate::control::{request, Reply};
use crate::helpers::{hello_frame, Client, Ended, TestApp, EVENT};
use crate::stream::EventStream;

const LINKS: &str = "/api/events/sjtu-forum/links";

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request(app.addr, method, path, &[("Authorization", auth.as_str())], body).await
}

/// Makes a link as the organizer; returns it.
pub async fn make_link(app: &TestApp, body: Value) -> Value {
    let reply = call(app, "POST", LINKS, app.token(Role::Organizer), &body.to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.head.contains("cache-control: no-store"), "{}", reply.head);
    reply.body
}

fn assert_refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.body);
}

/// The socket's close frame: code and reason.
async fn closed_with(client: &mut Client) -> (u16, String) {
    match client.ended().await {
        Ended::Closed(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("closed with a code, not {other:?}"),
    }
}

/// A hello with `token` is refused with `code`, then closed with 4401.
async fn refused_at_hello(app: &TestApp, token: &str, code: &str, reason: &str) -> Value {
    let mut client = app.connect().await;
    client.send(hello_frame(token, "Sato")).await;
    let error = client.expect_error(code).await;
    assert_eq!(closed_with(&mut client).await, (4401, reason.to_owned()));
    error
}

#[tokio::test]
async fn links_are_made_listed_and_revoked_by_the_organizer_or_the_rooms_token() {
    let app = crate::helpers::spawn_app().await;
    let made =
        make_link(&app, json!({"role": "speaker", "name": "  Sato\u{200b} (remote) ", "expires_in_s": 3600})).await;
    let token = made["token"].as_str().unwrap();
    assert_eq!(made["role"], "speaker");
    assert_eq!(made["name"], "Sato (remote)", "cleaned as typed text is");
    assert_eq!(made["state"], "live");
    assert_eq!(made["url"], format!("/stage#event={EVENT}&token={token}"));
    let expires = made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap();
    assert_eq!(expires, 3_600_000);
    let at = eventhub::clock::now_millis() + 30 * 86_400_000;
    let chair = make_link(&app, json!({"role": "moderator", "expires_at": at})).await;
    assert_eq!((chair["name"].clone(), chair["expires_at"].as_i64()), (Value::Null, Some(at)));
    assert!(chair["url"].as_str().unwrap().starts_with("/console#event=sjtu-forum&token="));
    let attendee = make_link(&app, json!({"role": "attendee"})).await;
    assert!(attendee["url"].as_str().unwrap().starts_with("/attend#"));
    assert_eq!(attendee["expires_at"], Value::Null);

    let rooms = app.rooms_token();
    let list = call(&app, "GET", LINKS, &rooms, "").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.head.contains("cache-control: no-store"));
    assert_eq!(list.body["time_zone"], "Asia/Shanghai");
    let ids: Vec<&Value> = list.body["links"].as_array().unwrap().iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&made["id"], &chair["id"], &attendee["id"]]);

    // The link joins as its role.
    let (_speaker, welcome) = Client::join(app.addr, token, "Sato").await;
    assert_eq!(welcome["you"]["role"], "speaker");

    let revoke = format!("{LINKS}/{}/revoke", made["id"].as_str().unwrap());
    let revoked = call(&app, "POST", &revoke, &rooms, "").await;
    assert_eq!((revoked.status, revoked.body["state"].as_str()), (200, Some("revoked")), "{}", revoked.body);
    let again = call(&app, "DELETE", &format!("{LINKS}/{}", made["id"].as_str().unwrap()), &rooms, "").await;
    assert_eq!(again.status, 200, "revoking twice changes nothing: {}", again.body);
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
    let list = call(&app, "GET", &format!("{LINKS}?token={}", app.token(Role::Organizer)), "", "").await;
    assert_eq!(list.body["links"][0]["state"], "revoked");
    assert_eq!(list.body["links"][0]["ended_at"], revoked.body["revoked_at"]);
}

#[tokio::test]
async fn the_links_api_refuses_with_stable_codes() {
    let app = crate::helpers::spawn_app().await;
    let organizer = app.token(Role::Organizer).to_owned();
    assert_refused(&call(&app, "GET", LINKS, "", "").await, 401, "unauthorized");
    assert_refused(&call(&app, "GET", LINKS, "not-a-token", "").await, 401, "unauthorized");
    assert_refused(&call(&app, "GET", LINKS, app.token(Role::Moderator), "").await, 403, "forbidden");
    assert_refused(&call(&app, "POST", LINKS, app.token(Role::Attendee), "{}").await, 403, "forbidden");
    assert_refused(&call(&app, "GET", "/api/events/nope/links", &organizer, "").await, 404, "unknown_event");
    let revoke_unknown = format!("{LINKS}/0123456789abcdef/revoke");
    assert_refused(&call(&app, "POST", &revoke_unknown, &organizer, "").await, 404, "unknown_link");
    assert_refused(&call(&app, "POST", LINKS, &organizer, "not json").await, 400, "bad_request");
    assert_refused(&call(&app, "POST", LINKS, &organizer, "[1]").await, 400, "bad_request");
    for bad in [
        json!({}),
        json!({"role": "janitor"}),
        json!({"role": "attendee", "colour": "red"}),
        json!({"role": "attendee", "name": "x".repeat(81)}),
        json!({"role": "attendee", "name": "bell\u{7}"}),
        json!({"role": "attendee", "expires_in_s": 0}),
        json!({"role": "attendee", "expires_at": 1_000}),
        json!({"role": "attendee", "expires_in_s": 400 * 86_400}),
        json!({"role": "attendee", "expires_in_s": 60, "expires_at": 4_000_000_000_000_i64}),
        json!({"role": "attendee", "expires_in_s": "soon"}),
    ] {
        assert_refused(&call(&app, "POST", LINKS, &organizer, &bad.to_string()).await, 422, "invalid_field");
    }
    let big = json!({"role": "attendee", "name": "x".repeat(20_000)}).to_string();
    assert_refused(&call(&app, "POST", LINKS, &organizer, &big).await, 413, "too_large");
    for n in 0..200 {
        make_link(&app, json!({"role": "attendee", "name": format!("guest {n}")})).await;
    }
    let over = call(&app, "POST", LINKS, &organizer, &json!({"role": "attendee"}).to_string()).await;
    assert_refused(&over, 409, "invalid_state");
    assert!(over.body["message"].as_str().unwrap().contains("200 live links"));
}

#[tokio::test]
async fn a_revoked_link_closes_its_connections_at_once_and_is_refused_after() {
    let app = crate::helpers::spawn_app().await;
    let link = make_link(&app, json!({"role": "attendee", "name": "Guest of Fukuda"})).await;
    let token = link["token"].as_str().unwrap();
    let (mut guest, _) = Client::join(app.addr, token, "Guest").await;
    let (mut other, _) = app.join(Role::Attendee, "Other").await;
    let display = make_link(&app, json!({"role": "display", "name": "Lobby feed"})).await;
    let mut feed = EventStream::open(app.addr, display["token"].as_str().unwrap(), None).await;
    assert_eq!(feed.next().await.event, "state");
    let revoke = format!("{LINKS}/{}/revoke", link["id"].as_str().unwrap());
    assert_eq!(call(&app, "POST", &revoke, app.token(Role::Organizer), "").await.status, 200);
    let error = guest.expect_error("link_revoked").await;
    assert!(error["message"].as_str().unwrap().contains("\"Guest of Fukuda\" was revoked at"), "{error}");
    assert_eq!(closed_with(&mut guest).await, (4401, "link revoked".to_owned()));
    other.still_works().await;
    let error = refused_at_hello(&app, token, "link_revoked", "link revoked").await;
    assert!(error["message"].as_str().unwrap().contains("Guest of Fukuda"), "{error}");

    // The stream opened with another link runs on until that one is revoked, then says so.
    let revoke = format!("{LINKS}/{}", display["id"].as_str().unwrap());
    assert_eq!(call(&app, "DELETE", &revoke, app.token(Role::Organizer), "").await.status, 200);
    let ended = loop {
        let sent = feed.next().await;
        if sent.event == "error" {
            break sent;
        }
    };
    assert_eq!((ended.event.as_str(), ended.data["code"].as_str()), ("error", Some("link_revoked")), "{ended:?}");
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = feed.lines.next_line().await {}
    });
    rest.await.expect("the stream ends");
}

#[tokio::test]
async fn an_expired_link_closes_its_connections_within_a_second_and_is_refused_after() {
    let app = crate::helpers::spawn_app().await;
    let link = make_link(&app, json!({"role": "speaker", "name": "Zhang Ying", "expires_in_s": 2})).await;
    let token = link["token"].as_str().unwrap();
    let expires_at = link["expires_at"].as_i64().unwrap();
    let (mut speaker, _) = Client::join(app.addr, token, "Zhang Ying").await;
    let error = speaker.expect_error("link_expired").await;
    let now = eventhub::clock::now_millis();
    assert!((expires_at..expires_at + 1000).contains(&now), "closed {} ms after the expiry", now - expires_at);
    assert!(error["message"].as_str().unwrap().contains("\"Zhang Ying\" expired at"), "{error}");
    assert_eq!(closed_with(&mut speaker).await, (4401, "link expired".to_owned()));
    refused_at_hello(&app, token, "link_expired", "link expired").await;

    // Over HTTP too: the control API, the stream and the exports say the same.
    let organizer = make_link(&app, json!({"role": "organizer", "expires_in_s": 1})).await;
    let organizer = organizer["token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let auth = format!("Bearer {organizer}");
    let headers = [("Authorization", auth.as_str())];
    let next = request(app.addr, "POST", &format!("/api/v1/events/{EVENT}/next"), &headers, "").await;
    assert_refused(&next, 401, "link_expired");
    let state = request(app.addr, "GET", &format!("/api/v1/events/{EVENT}/state"), &headers, "").await;
    assert_refused(&state, 401, "link_expired");
    let stream = request(app.addr, "GET", &format!("/api/v1/events/{EVENT}/stream"), &headers, "").await;
    assert_refused(&stream, 401, "link_expired");
    for export in ["log.jsonl", "record.csv", "plan.csv"] {
        let reply = request(app.addr, "GET", &format!("/api/events/{EVENT}/{export}"), &headers, "").await;
        assert_refused(&reply, 401, "link_expired");
    }
    assert_refused(&call(&app, "GET", LINKS, organizer, "").await, 401, "link_expired");
}

#[tokio::test]
async fn links_survive_a_restart_and_keep_their_state() {
    let mut app = crate::helpers::spawn_app().await;
    let kept = make_link(&app, json!({"role": "av", "name": "Interpreters", "expires_in_s": 3600})).await;
    let revoked = make_link(&app, json!({"role": "attendee", "name": "Press"})).await;
    let revoke = format!("{LINKS}/{}/revoke", revoked["id"].as_str().unwrap());
    assert_eq!(call(&app, "POST", &revoke, app.token(Role::Organizer), "").await.status, 200);
    app.restart().await;
    let (_, welcome) = Client::join(app.addr, kept["token"].as_str().unwrap(), "Booth").await;
    assert_eq!(welcome["you"]["role"], "av");
    refused_at_hello(&app, revoked["token"].as_str().unwrap(), "link_revoked", "link revoked").await;
    let list = call(&app, "GET", LINKS, app.token(Role::Organizer), "").await;
    let states: Vec<&str> =
        list.body["links"].as_array().unwrap().iter().map(|l| l["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["live", "revoked"]);
}

#[tokio::test]
async fn a_cluster_node_refuses_to_make_links_which_are_node_local() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let node = Node::start(nats.url(), 1).await;
    let auth = format!("Bearer {}", node.token("organizer"));
    let headers = [("Authorization", auth.as_str())];
    let body = json!({"role": "speaker", "name": "Sato"}).to_string();
    let made = request(node.process.addr, "POST", LINKS, &headers, &body).await;
    assert_refused(&made, 409, "cluster_unsupported");
    let list = request(node.process.addr, "GET", LINKS, &headers, "").await;
    assert_eq!((list.status, list.body["links"].as_array().map(Vec::len)), (200, Some(0)), "{}", list.body);
}
