//! `GET /metrics` scraped and parsed: the counters move after known actions, and each
//! format the `Accept` header chooses passes the real `promtool check metrics`.

use std::collections::HashMap;
use std::process::Stdio;

use eventhub::domain::Role;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::control::request;
use crate::helpers::{spawn_app_with, TestApp, HTTP_PATIENCE};

const TEXT: &str = "content-type: text/plain; version=0.0.4; charset=utf-8";
const OPEN_METRICS: &str = "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What Prometheus 2 sends by default.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A scrape with `accept` (none when empty): its lower-cased head and its text.
async fn scrape_as(app: &TestApp, accept: &str) -> (String, String) {
    let path = format!("/metrics?token={}", app.token(Role::Organizer));
    let headers: &[(&str, &str)] = if accept.is_empty() { &[] } else { &[("Accept", accept)] };
    let reply = request(app.addr, "GET", &path, headers, "").await;
    assert_eq!(reply.status, 200);
    (reply.head, reply.body.as_str().expect("plain text").to_owned())
}

/// Every sample of a scrape by its name with labels, as the text format writes it.
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let (head, text) = scrape_as(app, "").await;
    assert!(head.contains(TEXT), "{head}");
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

/// `promtool check metrics` on `text`: its exit status and what it printed.
async fn promtool(text: &str) -> (bool, String) {
    let spawned = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!("install promtool: apt-get install prometheus ({error})"),
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(HTTP_PATIENCE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("promtool did not finish within {HTTP_PATIENCE:?}"))
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

#[tokio::test]
async fn the_accept_header_chooses_the_format_and_promtool_finds_nothing_wrong() {
    let app = spawn_app_with(|_| {}).await;
    // Samples in every kind of family: gauges, counters with labels, histograms.
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    chair.run("next", json!({})).await;
    chair.command("previous", json!({"version": 0})).await;
    chair.expect_error("conflict").await;

    for accept in ["", "text/plain;version=0.0.4", "*/*", "application/json"] {
        let (head, text) = scrape_as(&app, accept).await;
        assert!(head.contains(TEXT), "Accept {accept:?}: {head}");
        assert!(head.contains("vary: accept"), "{head}");
        assert!(text.contains("\neventhub_changes_total{event=\"sjtu-forum\"} "), "{text}");
        let (passed, printed) = promtool(&text).await;
        assert!(
            passed && printed.trim().is_empty(),
            "promtool on the classic text (Accept {accept:?}): {printed}\n{text}"
        );
    }
    for accept in [PROMETHEUS_ACCEPT, "application/openmetrics-text; version=1.0.0"] {
        let (head, text) = scrape_as(&app, accept).await;
        assert!(head.contains(OPEN_METRICS), "Accept {accept:?}: {head}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // promtool reads only the classic text; here each family has its help and type.
        let lines: Vec<&str> = text.lines().collect();
        for (k, line) in lines.iter().enumerate().filter(|(_, l)| l.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).unwrap();
            assert!(k > 0 && lines[k - 1].starts_with(&format!("# HELP {name} ")), "{name} has no help: {text}");
        }
    }
}
