//! The screens a chair manages: a screen's hello names its page and view, the chair's list
//! shows them, and identify, rename and view directives reach that screen alone; short links
//! open an unattended screen's page with its token.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::control::request;
use crate::helpers::{hello_frame, spawn_app, Client, TestApp, EVENT};

async fn screen(app: &TestApp, role: Role, name: &str, page: &str, view: Value) -> Client {
    let mut hello = hello_frame(app.token(role), name);
    hello["page"] = json!(page);
    hello["view"] = view;
    hello["screen"] = json!(true);
    let mut client = Client::connect(app.addr).await;
    client.send(hello).await;
    client.expect("welcome").await;
    client
}

async fn list(app: &TestApp, role: Role) -> (u16, Value) {
    let auth = format!("Bearer {}", app.token(role));
    let reply =
        request(app.addr, "GET", &format!("/api/v1/events/{EVENT}/screens"), &[("Authorization", &auth)], "").await;
    (reply.status, reply.body)
}

async fn act(app: &TestApp, path: &str) -> (u16, Value) {
    let auth = format!("Bearer {}", app.token(Role::Moderator));
    let path = format!("/api/v1/events/{EVENT}/screens/{path}");
    let reply = request(app.addr, "POST", &path, &[("Authorization", &auth)], "").await;
    (reply.status, reply.body)
}

/// The next directive frame, past changes and presence.
async fn directive(client: &mut Client) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "directive" {
            return frame;
        }
    }
}

#[tokio::test]
async fn the_chair_lists_the_screens_and_identifies_renames_and_moves_one() {
    let app = spawn_app().await;
    let mut lectern = screen(&app, Role::Speaker, "Lectern", "stage", json!({"speaker": "0", "lang": "zh"})).await;
    let mut hall = screen(&app, Role::Display, "Hall left", "captions", json!({"tracks": "zh,ja"})).await;
    // A chair watching the stage page is no managed screen; an attendee never is.
    let _chair_watching = screen(&app, Role::Moderator, "Ji", "stage", json!({})).await;
    let (_phone, _) = app.join(Role::Attendee, "Guest").await;

    let (status, body) = list(&app, Role::Moderator).await;
    assert_eq!(status, 200, "{body}");
    let screens = body["screens"].as_array().unwrap();
    assert_eq!(screens.len(), 2, "{body}");
    let stage = screens.iter().find(|s| s["page"] == "stage").unwrap();
    assert_eq!(
        (&stage["name"], &stage["role"], &stage["view"]),
        (&json!("Lectern"), &json!("speaker"), &json!({"speaker": "0", "lang": "zh"}))
    );
    assert_eq!(stage["address"], "127.0.0.1");
    assert!(stage["since"].is_i64());
    assert_eq!(body["short_links"][0]["path"], "/s/lectern");
    for role in [Role::Av, Role::Attendee, Role::Speaker] {
        assert_eq!(list(&app, role).await.0, 403, "{role:?}");
    }
    let id = stage["screen"].as_u64().unwrap();

    assert_eq!(act(&app, &format!("identify?screen={id}")).await.0, 200);
    assert_eq!(
        directive(&mut lectern).await,
        json!({"type": "directive", "do": "identify", "name": "Lectern", "ms": 5000})
    );
    assert_eq!(act(&app, &format!("name?screen={id}&name=%20Left%20monitor%20")).await.0, 200);
    assert_eq!(directive(&mut lectern).await, json!({"type": "directive", "do": "rename", "name": "Left monitor"}));
    assert_eq!(act(&app, &format!("view?screen={id}&speaker=1&lang=ja")).await.0, 200);
    assert_eq!(
        directive(&mut lectern).await,
        json!({"type": "directive", "do": "view", "view": {"speaker": "1", "lang": "ja"}})
    );

    let hall_id = screens.iter().find(|s| s["page"] == "captions").unwrap()["screen"].as_u64().unwrap();
    assert_eq!(act(&app, &format!("view?screen={hall_id}&page=wall")).await.0, 200);
    assert_eq!(directive(&mut hall).await, json!({"type": "directive", "do": "view", "page": "wall", "view": {}}));

    for (path, status, code) in [
        (format!("view?screen={id}&page=wall"), 422, "invalid_field"),
        (format!("view?screen={id}"), 422, "invalid_field"),
        (format!("view?screen={id}&tracks=zh%26x"), 422, "invalid_field"),
        (format!("name?screen={id}&name=%E2%80%8B"), 422, "invalid_field"),
        ("identify?screen=999999".to_owned(), 422, "invalid_field"),
        ("identify?screen=first".to_owned(), 422, "invalid_field"),
        ("identify".to_owned(), 422, "invalid_field"),
        (format!("explode?screen={id}"), 422, "unknown_type"),
    ] {
        let (got, body) = act(&app, &path).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{path}: {body}");
    }
    lectern.still_works().await;
}

#[tokio::test]
async fn a_screen_hello_with_a_view_setting_it_does_not_know_is_refused() {
    let app = spawn_app().await;
    let mut hello = hello_frame(app.token(Role::Speaker), "Lectern");
    hello["page"] = json!("stage");
    hello["view"] = json!({"colour": "red"});
    let mut client = Client::connect(app.addr).await;
    client.send(hello).await;
    client.expect_error("invalid_field").await;
}

#[tokio::test]
async fn a_short_link_opens_its_page_with_its_role_s_token_and_view() {
    let app = spawn_app().await;
    let reply = request(app.addr, "GET", "/s/lectern", &[], "").await;
    assert_eq!(reply.status, 302);
    let location = reply.head.lines().find_map(|l| l.strip_prefix("location: ")).unwrap().trim().to_owned();
    let token = app.token(Role::Speaker);
    // The helper lowercases the head; the link's own case is checked by the browser test.
    assert_eq!(location, format!("/stage#event={EVENT}&token={token}&name=Lectern&lang=zh&second=ja").to_lowercase());
    assert!(reply.head.contains("cache-control: no-store"));
    assert_eq!(request(app.addr, "GET", "/s/nowhere", &[], "").await.status, 404);
}

#[tokio::test]
async fn the_chair_makes_a_short_link_on_the_console_and_it_opens_at_once() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Ji").await;
    let version = welcome["snapshot"]["plan_version"].clone();
    let links = json!([
        {"id": "lectern", "page": "stage", "name": "Lectern", "view": {"lang": "zh"}},
        {"id": "booth-audio", "page": "cues", "name": "Audio desk", "view": {"crew": "audio", "lang": "ja"}}
    ]);
    let ack = chair.run("plan_update_short_links", json!({"plan_version": version, "short_links": links})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let reply = request(app.addr, "GET", "/s/booth-audio", &[], "").await;
    assert_eq!(reply.status, 302);
    let token = app.token(Role::Av);
    assert!(
        reply
            .head
            .contains(&format!("location: /cues#event={EVENT}&token={token}&name=audio%20desk&crew=audio&lang=ja")),
        "{}",
        reply.head
    );
    assert_eq!(list(&app, Role::Moderator).await.1["short_links"].as_array().map(Vec::len), Some(2));

    let bad = json!([{"id": "x", "page": "console", "view": {}}]);
    chair.command("plan_update_short_links", json!({"plan_version": 1, "short_links": bad})).await;
    let refused = chair.expect("error").await;
    assert_eq!(refused["code"], "invalid_field", "{refused}");
    let (mut attendee, _) = app.join(Role::Attendee, "Guest").await;
    attendee.command("plan_update_short_links", json!({"plan_version": 1, "short_links": []})).await;
    assert_eq!(attendee.expect("error").await["code"], "forbidden");
}
