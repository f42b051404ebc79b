//! The OpenAPI document checked against the running server: every documented route and
//! method answers, with a documented status, the documented shape.

use eventhub::domain::Role;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::control::request;
use crate::helpers::{spawn_app, EVENT};

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
    BufReader::new(stream).read_line(&mut status).await.unwrap();
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
