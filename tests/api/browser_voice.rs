//! The audience's voice on the pages, in real headless Chromium: a question from a phone
//! approved and put on screen from the console reaches the stage, the hall display and
//! another phone; a poll opened with one key is answered on two phones, its results live on
//! the console and on the phones once closed. First, what the pages read to know whether a
//! segment takes questions.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_welcome_and_each_plan_change_say_how_the_plan_takes_questions() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Fukuda").await;
    let (mut attendee, seen) = app.join(Role::Attendee, "Tanaka Yuki").await;
    let modes = |plan: &Value| {
        let segments = plan["segments"].as_array().unwrap();
        (plan["qa"].clone(), segments.iter().map(|s| s["qa"].clone()).collect::<Vec<_>>())
    };
    let planned = (json!("off"), vec![Value::Null, Value::Null, json!("moderated"), Value::Null]);
    assert_eq!(modes(&welcome["snapshot"]), planned);
    assert_eq!(modes(&seen["snapshot"]), planned, "the audience knows it too");

    let edit = json!({"plan_version": 0, "segment": "opening", "duration_min": 25});
    assert_eq!(chair.run("plan_update_segment", edit).await["type"], "ack");
    let change = loop {
        let frame = attendee.next_frame().await;
        if frame["type"] == "change" {
            break frame;
        }
    };
    assert_eq!(modes(&change["change"]["plan"]), planned, "{change}");
}
