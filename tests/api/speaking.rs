//! Sides and speaking time over the wire: requests that speak for a side, the chair's
//! queue_side, a closed list of speakers, the balanced policy calling the side that has
//! spoken least, the speaking record in welcomes and changes, and the same commands over
//! the control API.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::control::request;
use crate::helpers::{hello_frame, spawn_app, Client, TestApp, EVENT};

const QUEUE: &str = "round-table";

/// Joins as an attendee under `name`, its own participant.
async fn attendee(app: &TestApp, name: &str) -> (Client, String) {
    let mut client = app.connect().await;
    let mut hello = hello_frame(app.token(Role::Attendee), name);
    hello["participant"] = json!(format!("p-{name}"));
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    (client, welcome["you"]["who"].as_str().unwrap().to_owned())
}

/// Reads until the reply to `id`, keeping the last queue state seen for `QUEUE`.
async fn reply_keeping_queue(client: &mut Client, id: &str, queue: &mut Value) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "change" && frame["change"]["queue"] == QUEUE {
            *queue = frame["change"]["state"].clone();
        }
        if frame["id"] == id {
            return frame;
        }
    }
}

/// The chair, with the round table live and its queue's state as last seen.
struct Chair {
    client: Client,
    queue: Value,
}

impl Chair {
    async fn at_the_round_table(app: &TestApp) -> Chair {
        let (mut client, welcome) = app.join(Role::Moderator, "Fukuda").await;
        let mut queue = welcome["snapshot"]["queues"][QUEUE].clone();
        let id = client.command("goto", json!({"segment": QUEUE})).await;
        assert_eq!(reply_keeping_queue(&mut client, &id, &mut queue).await["type"], "ack");
        Chair { client, queue }
    }

    /// A chair's queue command against the version this chair saw; returns the reply.
    async fn run(&mut self, kind: &str, fields: Value) -> Value {
        let mut frame = json!({"queue": QUEUE, "version": self.queue["version"]});
        if let (Value::Object(frame), Value::Object(fields)) = (&mut frame, fields) {
            frame.extend(fields);
        }
        let id = self.client.command(kind, frame).await;
        reply_keeping_queue(&mut self.client, &id, &mut self.queue).await
    }

    /// Reads until the queue holds `count` waiting entries.
    async fn until_waiting(&mut self, count: usize) {
        while self.queue["waiting"].as_array().map_or(0, Vec::len) != count {
            let frame = self.client.next_frame().await;
            if frame["type"] == "change" && frame["change"]["queue"] == QUEUE {
                self.queue = frame["change"]["state"].clone();
            }
        }
    }
}

#[tokio::test]
async fn a_request_speaks_for_a_side_of_the_event_and_a_closed_list_refuses_new_ones() {
    let app = spawn_app().await;
    let mut chair = Chair::at_the_round_table(&app).await;
    let (mut tanaka, _) = attendee(&app, "Tanaka Yuki").await;
    let unknown = tanaka.run("queue_request", json!({"queue": QUEUE, "side": "kr"})).await;
    assert_eq!((&unknown["type"], &unknown["code"]), (&json!("error"), &json!("invalid_field")), "{unknown}");
    assert!(unknown["message"].as_str().unwrap().contains("cn, jp, floor"), "{unknown}");
    assert_eq!(tanaka.run("queue_request", json!({"queue": QUEUE, "side": "jp"})).await["type"], "ack");
    chair.until_waiting(1).await;
    assert_eq!(chair.queue["waiting"][0]["side"], "jp");

    let closing = tanaka.run("queue_settings", json!({"queue": QUEUE, "version": 0, "closed": true})).await;
    assert_eq!(closing["code"], "forbidden", "{closing}");
    assert_eq!(chair.run("queue_settings", json!({"closed": true})).await["type"], "ack");
    assert_eq!(chair.queue["closed"], true);
    let (mut late, _) = attendee(&app, "Wang Lei").await;
    let refused = late.run("queue_request", json!({"queue": QUEUE})).await;
    assert_eq!(refused["code"], "invalid_state", "{refused}");
    assert_eq!(refused["message"], "the list of speakers is closed");
    assert_eq!(chair.queue["waiting"].as_array().unwrap().len(), 1, "the requests made stay");
    assert_eq!(chair.run("queue_settings", json!({"closed": false})).await["type"], "ack");
    assert_eq!(late.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
}

#[tokio::test]
async fn only_the_chair_sets_an_entrys_side_and_only_to_a_side_of_the_event() {
    let app = spawn_app().await;
    let mut chair = Chair::at_the_round_table(&app).await;
    let (mut tanaka, _) = attendee(&app, "Tanaka Yuki").await;
    assert_eq!(tanaka.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    chair.until_waiting(1).await;
    let entry = chair.queue["waiting"][0]["id"].clone();
    assert_eq!(chair.queue["waiting"][0]["side"], Value::Null);
    let own = tanaka.run("queue_side", json!({"queue": QUEUE, "version": 0, "entry": entry, "side": "jp"})).await;
    assert_eq!(own["code"], "forbidden", "{own}");
    let crew = app
        .join(Role::Av, "Wang (audio)")
        .await
        .0
        .run("queue_side", json!({"queue": QUEUE, "version": 0, "entry": entry, "side": "jp"}))
        .await;
    assert_eq!(crew["code"], "forbidden", "{crew}");
    assert_eq!(chair.run("queue_side", json!({"entry": entry, "side": "kr"})).await["code"], "invalid_field");
    assert_eq!(chair.run("queue_side", json!({"entry": 99, "side": "jp"})).await["code"], "invalid_field");
    let version = chair.queue["version"].as_u64().unwrap();
    assert_eq!(chair.run("queue_side", json!({"entry": entry, "side": "floor"})).await["type"], "ack");
    assert_eq!(
        (chair.queue["waiting"][0]["side"].as_str(), chair.queue["version"].as_u64()),
        (Some("floor"), Some(version + 1))
    );
    let stale =
        chair.client.run("queue_side", json!({"queue": QUEUE, "version": version, "entry": entry, "side": null})).await;
    assert_eq!(stale["code"], "conflict", "{stale}");
    assert_eq!(chair.run("queue_side", json!({"entry": entry, "side": null})).await["type"], "ack");
    assert_eq!(chair.queue["waiting"][0]["side"], Value::Null);
}

#[tokio::test]
async fn a_panellist_asking_to_speak_speaks_for_their_programme_side() {
    let app = spawn_app().await;
    let mut chair = Chair::at_the_round_table(&app).await;
    let (mut li, _) = app.join(Role::Speaker, "Tomohiko Li").await;
    assert_eq!(li.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    chair.until_waiting(1).await;
    assert_eq!(
        (&chair.queue["waiting"][0]["side"], &chair.queue["waiting"][0]["panellist"]),
        (&json!("jp"), &json!(true))
    );
}

#[tokio::test]
async fn balanced_calls_the_side_that_has_spoken_least_and_everyone_sees_the_record() {
    let app = spawn_app().await;
    let mut chair = Chair::at_the_round_table(&app).await;
    // Ma Junjie, of the Chinese delegation, has the floor as the round table's first speaker.
    assert_eq!(chair.run("queue_settings", json!({"policy": "balanced"})).await["type"], "ack");
    assert_eq!(chair.queue["policy"], "balanced");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut chinese, _) = attendee(&app, "Zhao Min").await;
    assert_eq!(chinese.run("queue_request", json!({"queue": QUEUE, "side": "cn"})).await["type"], "ack");
    let (mut japanese, japanese_who) = attendee(&app, "Tanaka Yuki").await;
    assert_eq!(japanese.run("queue_request", json!({"queue": QUEUE, "side": "jp"})).await["type"], "ack");
    chair.until_waiting(2).await;
    let sides: Vec<&Value> = chair.queue["waiting"].as_array().unwrap().iter().map(|e| &e["side"]).collect();
    assert_eq!(sides, [&json!("jp"), &json!("cn")], "Japan has not spoken yet");

    let id = chair.client.command("queue_next", json!({"queue": QUEUE, "version": chair.queue["version"]})).await;
    let mut carried = None;
    loop {
        let frame = chair.client.next_frame().await;
        if frame["type"] == "change" && frame["change"]["queue"] == QUEUE {
            chair.queue = frame["change"]["state"].clone();
            carried = frame["change"]["speaking"].as_object().cloned().or(carried);
        }
        if frame["id"] == id.as_str() {
            assert_eq!(frame["type"], "ack", "{frame}");
            break;
        }
    }
    assert_eq!(chair.queue["speaking"]["who"], japanese_who.as_str(), "the side that spoke least is called");
    let record = Value::Object(carried.expect("the change carries the speaking record"));
    let open: Vec<&Value> = record["open"].as_array().unwrap().iter().collect();
    assert_eq!(open.len(), 1, "only Tanaka's time runs: {record}");
    assert_eq!((&open[0]["key"], &open[0]["side"]), (&json!(format!("who:{japanese_who}")), &json!("jp")));

    let (_, welcome) = app.join(Role::Attendee, "Late comer").await;
    let speaking = &welcome["snapshot"]["speaking"];
    let cn = speaking["sides"].as_array().unwrap().iter().find(|s| s["id"] == "cn").expect("cn has spoken");
    assert!(cn["spoken_ms"].as_i64().unwrap() >= 200, "{speaking}");
    assert_eq!(cn["turns"], 1);
    assert!(cn["segments"][QUEUE]["spoken_ms"].as_i64().unwrap() >= 200, "{speaking}");
    let ma =
        speaking["people"].as_array().unwrap().iter().find(|p| p["key"] == "speaker:round-table-1").expect("Ma Junjie");
    assert_eq!((&ma["name"]["en"], &ma["side"]), (&json!("Ma Junjie"), &json!("cn")));
    let budgets = &welcome["snapshot"]["segments"][2]["side_budgets_ms"];
    assert_eq!(budgets, &json!({"cn": 1_200_000, "jp": 1_200_000, "floor": 600_000}));
    assert_eq!(welcome["snapshot"]["sides"][1]["name"]["ja"], "日本側");
}

/// `POST /api/v1/events/{EVENT}/{path}` with the moderator's bearer token.
async fn press(app: &TestApp, path: &str) -> (u16, Value) {
    let auth = format!("Bearer {}", app.token(Role::Moderator));
    let reply =
        request(app.addr, "POST", &format!("/api/v1/events/{EVENT}/{path}"), &[("Authorization", &auth)], "").await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn the_control_api_closes_lists_chooses_balanced_sets_sides_and_shows_the_budgets() {
    let app = spawn_app().await;
    assert_eq!(press(&app, "goto?segment=round-table").await.0, 200);
    let (status, state) = press(&app, "queue/policy?policy=balanced").await;
    assert_eq!((status, &state["queue"]["policy"]), (200, &json!("balanced")), "{state}");
    assert_eq!(press(&app, "queue/policy?policy=fair").await.0, 422);
    let (status, state) = press(&app, "queue/close").await;
    assert_eq!((status, &state["queue"]["closed"]), (200, &json!(true)), "{state}");
    let (mut tanaka, _) = attendee(&app, "Tanaka Yuki").await;
    assert_eq!(tanaka.run("queue_request", json!({"queue": QUEUE})).await["code"], "invalid_state");
    assert_eq!(press(&app, "queue/open").await.1["queue"]["closed"], false);
    assert_eq!(tanaka.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    assert_eq!(press(&app, "queue/side?entry=1&side=kr").await.0, 422);
    assert_eq!(press(&app, "queue/side?entry=1&side=floor").await.0, 200);
    let (_, welcome) = app.join(Role::Moderator, "Checker").await;
    assert_eq!(welcome["snapshot"]["queues"][QUEUE]["waiting"][0]["side"], "floor");
    let (status, state) = press(&app, "queue/side?entry=1").await;
    assert_eq!(status, 200, "{state}");
    let sides = state["sides"].as_array().unwrap();
    let ids: Vec<&Value> = sides.iter().map(|s| &s["id"]).collect();
    assert_eq!(ids, [&json!("cn"), &json!("jp"), &json!("floor")], "{state}");
    assert_eq!((&sides[0]["budget_ms"], &sides[0]["segment_budget_ms"]), (&json!(1_800_000), &json!(1_200_000)));
    let remaining = sides[0]["segment_remaining_ms"].as_i64().unwrap();
    assert!(remaining <= 1_200_000 && remaining > 1_100_000, "Ma Junjie has been speaking a moment: {remaining}");
    let attendee_press = request(
        app.addr,
        "POST",
        &format!("/api/v1/events/{EVENT}/queue/close"),
        &[("Authorization", &format!("Bearer {}", app.token(Role::Attendee)))],
        "",
    )
    .await;
    assert_eq!(attendee_press.status, 403);
}
