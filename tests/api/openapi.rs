//! The OpenAPI document checked against the running server: every documented route and
//! method answers, with a documented status, the documented shape; and schemathesis, the
//! real tool, generates requests from the document and finds no failure.

use std::process::Stdio;
use std::time::Duration;

use eventhub::domain::Role;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::control::request;
use crate::helpers::{spawn_app, spawn_app_with, EVENT, HTTP_PATIENCE};

/// The schemathesis release `./test` installs.
const SCHEMATHESIS: &str = "4.32.5";

/// How schemathesis runs here. Each stream is read up to its first event: it never ends.
/// Where an argument names something of the event (a segment, queue, queue entry, side,
/// preset, cue, question, poll, timer, screen or note) or is a text, a schema-valid value may still be `422
/// invalid_field` as documented (an id the event does not have, a text the text policy
/// empties, such as only zero-width spaces): the schema cannot list an event's ids nor say
/// the policy, so 422 counts as an answer there. A count down's `timer_create` needs its
/// `seconds`, which the schema cannot say of one value of `direction` only.
const SCHEMATHESIS_CONFIG: &str = r#"
max-stream-events = 1

[[operations]]
include-operation-id-regex = "^(goto|queue_next|queue_side|queue_close|queue_open|queue_policy|cue_standby|cue_go|cue_cancel|stage_message|caption|question_highlight|question_answer|poll_open|poll_close|poll_show|poll_hide|stage_fullscreen|timer_.*|screens_.*|note_read)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#;

/// The path with `{event}` filled in and each required query parameter's example.
fn example_path(path: &str, operation: &Value) -> String {
    let path = path.replace("{event}", EVENT);
    let query: Vec<String> = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let example = &p["example"];
            let text = example.as_str().map_or_else(|| example.to_string(), str::to_owned);
            format!("{}={}", p["name"].as_str().unwrap(), text.replace(' ', "%20"))
        })
        .collect();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// The status line of a streaming answer, without waiting for its end.
async fn stream_status(addr: std::net::SocketAddr, path: &str, auth: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut status = String::new();
    tokio::time::timeout(HTTP_PATIENCE, BufReader::new(stream).read_line(&mut status))
        .await
        .unwrap_or_else(|_| panic!("{path}: no status line within {HTTP_PATIENCE:?}"))
        .unwrap();
    status.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn every_documented_route_answers_as_documented() {
    let app = spawn_app().await;
    let served = request(app.addr, "GET", "/api/v1/openapi.json", &[], "").await;
    assert_eq!(served.status, 200);
    let document: Value = serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap();
    assert_eq!(served.body, document, "the server serves docs/openapi.json");
    // The fields a 200 answer must have: those its schema requires.
    let required = |operation: &Value| -> Vec<String> {
        let schema = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].as_str();
        let name = schema.and_then(|r| r.strip_prefix("#/components/schemas/")).expect("a 200 names its schema");
        let fields = document["components"]["schemas"][name]["required"].as_array().expect("required fields");
        fields.iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    };
    let auth = format!("Authorization: Bearer {}\r\n", app.token(Role::Moderator));
    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let url = example_path(path, operation);
            let documented = operation["responses"].as_object().unwrap();
            if path.ends_with("/stream") {
                assert_eq!(stream_status(app.addr, &url, &auth).await, 200, "{url}");
                assert_eq!(stream_status(app.addr, &url, "").await, 401, "{url} without a token");
                checked += 1;
                continue;
            }
            let method = method.to_uppercase();
            let header = [("Authorization", &auth["Authorization: ".len()..auth.len() - 2])];
            let reply = request(app.addr, &method, &url, &header, "").await;
            assert!(
                documented.contains_key(&reply.status.to_string()),
                "{method} {url}: {} {}",
                reply.status,
                reply.body
            );
            if reply.status == 200 {
                for field in required(operation) {
                    assert!(reply.body.get(&field).is_some(), "{method} {url}: no {field} in {}", reply.body);
                }
            } else {
                assert!(reply.body["code"].is_string() && reply.body["message"].is_string(), "{url}: {}", reply.body);
            }
            let anonymous = request(app.addr, &method, &url, &[], "").await;
            assert_eq!(anonymous.status, 401, "{method} {url} without a token");
            assert!(documented.contains_key("401"), "{url} documents 401");
            checked += 1;
        }
    }
    assert!(checked >= 20, "every route was walked: {checked}");
}

#[tokio::test]
async fn schemathesis_finds_no_failure_in_the_documented_api() {
    let mut st = None;
    for name in ["st", "schemathesis"] {
        let mut command = tokio::process::Command::new(name);
        command.arg("--version").kill_on_drop(true);
        let version = tokio::time::timeout(HTTP_PATIENCE, command.output())
            .await
            .unwrap_or_else(|_| panic!("{name} --version did not finish within {HTTP_PATIENCE:?}"));
        if version.is_ok_and(|v| v.status.success()) {
            st = Some(name);
            break;
        }
    }
    let st = st.unwrap_or_else(|| panic!("install schemathesis: pip install schemathesis=={SCHEMATHESIS}"));
    // Budgets and the double-press window out of the way, so that the commands' own logic answers.
    let app = spawn_app_with(|settings| {
        settings.limits.frames_per_second = 10_000;
        settings.limits.frame_burst = 10_000;
        settings.limits.api_double_press_ms = 0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, format!("{SCHEMATHESIS_CONFIG}\n[parameters]\n\"path.event\" = \"{EVENT}\"\n")).unwrap();
    let base = format!("http://{}", app.addr);
    let auth = format!("Authorization: Bearer {}", app.token(Role::Organizer));
    let mut command = tokio::process::Command::new(st);
    command
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api/v1/openapi.json"), "--url", &base, "-H", &auth])
        .args(["--phases", "examples,coverage,fuzzing", "--max-examples", "20", "--request-timeout", "5"])
        .args(["--no-color", "--report-dir"])
        .arg(dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // Generous: a run takes a minute or two on a quiet machine; past this it hangs.
    let patience = Duration::from_secs(900);
    let output = tokio::time::timeout(patience, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {patience:?}"))
        .unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found failures:\n{printed}");
    assert!(printed.contains(" passed"), "{printed}");
}

#[tokio::test]
async fn a_caption_body_over_4_kib_is_answered_413_in_the_api_s_json() {
    let app = spawn_app().await;
    let path = format!("/api/v1/events/{EVENT}/captions?lang=ja&seq=1");
    let auth = format!("Bearer {}", app.token(Role::Captioner));
    let line = "あ".repeat(1_366);
    let reply = request(app.addr, "POST", &path, &[("Authorization", &auth)], &line).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.head.contains("content-type: application/json"), "{}", reply.head);
    assert_eq!(reply.body["code"], "too_large", "{}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|m| m.contains("4096")), "{}", reply.body);
    let anonymous = request(app.addr, "POST", &path, &[], &line).await;
    assert_eq!(anonymous.status, 401, "the token is checked first");
}
