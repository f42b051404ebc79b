//! `GET /metrics` scraped and parsed: the counters move after known actions.

use std::collections::HashMap;

use eventhub::domain::Role;
use serde_json::json;

use crate::control::request;
use crate::helpers::{spawn_app_with, TestApp};

/// Every sample of a scrape by its name with labels, as the text format writes it.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let path = format!("/metrics?token={}", app.token(Role::Organizer));
    let reply = request(app.addr, "GET", &path, &[], "").await;
    assert_eq!(reply.status, 200);
    assert!(reply.head.contains("content-type: application/openmetrics-text"), "{}", reply.head);
    let text = reply.body.as_str().expect("plain text").to_owned();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("a sample is a name and a value");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn value(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples.get(name).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn the_counters_move_after_known_actions() {
    let app = spawn_app_with(|settings| settings.limits.frame_burst = 5).await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, r#"eventhub_changes_total{event="sjtu-forum"}"#), 0.0);
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let (mut attendee, _) = app.join(Role::Attendee, "Mei Lin").await;
    chair.run("next", json!({})).await;
    attendee.expect("change").await;
    attendee.command("next", json!({"version": 1})).await;
    attendee.expect_error("forbidden").await;
    for _ in 0..10 {
        attendee.send(json!({"type": "ping", "t": 1})).await;
    }
    while attendee.next_frame().await["code"] != "rate_limited" {}

    let after = scrape(&app).await;
    let connections =
        |role: &str| value(&after, &format!(r#"eventhub_connections{{event="sjtu-forum",role="{role}"}}"#));
    assert_eq!((connections("moderator"), connections("attendee")), (1.0, 1.0), "{after:?}");
    let commands = |outcome: &str| {
        value(&after, &format!(r#"eventhub_commands_total{{event="sjtu-forum",command="next",outcome="{outcome}"}}"#))
    };
    assert_eq!((commands("ack"), commands("forbidden")), (1.0, 1.0), "{after:?}");
    assert_eq!(value(&after, r#"eventhub_errors_total{code="forbidden"}"#), 1.0);
    assert!(value(&after, r#"eventhub_changes_total{event="sjtu-forum"}"#) >= 1.0);
    assert!(value(&after, "eventhub_store_commit_seconds_count") >= 1.0);
    assert!(value(&after, "eventhub_fanout_seconds_count") >= 1.0);
    assert!(value(&after, "eventhub_rate_limited_frames_total") >= 1.0, "{after:?}");

    drop(attendee);
    let left = {
        let mut samples = scrape(&app).await;
        for _ in 0..50 {
            if value(&samples, r#"eventhub_connections{event="sjtu-forum",role="attendee"}"#) == 0.0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            samples = scrape(&app).await;
        }
        samples
    };
    assert_eq!(value(&left, r#"eventhub_connections{event="sjtu-forum",role="attendee"}"#), 0.0);
}

#[tokio::test]
async fn metrics_need_an_organizer_token() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(request(app.addr, "GET", "/metrics", &[], "").await.status, 401);
    let path = format!("/metrics?token={}", app.token(Role::Moderator));
    assert_eq!(request(app.addr, "GET", &path, &[], "").await.status, 401);
}
