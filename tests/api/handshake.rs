//! The websocket handshake as the server does it itself: what it refuses, and what a
//! client may send before it has seen the answer.

use std::time::Duration;

use eventhub::domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{hello_frame, spawn_app};

/// A text frame as a client sends it: masked.
fn masked_text(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn upgrade_request(addr: std::net::SocketAddr, version: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

/// Reads until `needle` has arrived, or fails after a few seconds with what did.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server hung up: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    let seen = String::from_utf8_lossy(&seen).into_owned();
    assert!(found.is_ok(), "no {needle:?} in {seen:?}");
    seen
}

#[tokio::test]
async fn a_hello_sent_with_the_handshake_is_answered() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let hello = hello_frame(app.token(Role::Attendee), "early bird").to_string();
    let mut bytes = upgrade_request(app.addr, "13").into_bytes();
    bytes.extend(masked_text(hello.as_bytes()));
    stream.write_all(&bytes).await.unwrap();
    let seen = read_until(&mut stream, "\"type\":\"welcome\"").await;
    assert!(seen.starts_with("HTTP/1.1 101"), "{seen}");
    // RFC 6455's own example key and answer.
    assert!(seen.to_ascii_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{seen}");
}

#[tokio::test]
async fn requests_that_are_not_websocket_upgrades_are_refused() {
    let app = spawn_app().await;
    let (status, head, _) = app.get("/ws").await;
    assert_eq!(status, 426, "{head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");

    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(upgrade_request(app.addr, "8").as_bytes()).await.unwrap();
    let seen = read_until(&mut stream, "\r\n\r\n").await;
    assert!(seen.starts_with("HTTP/1.1 426"), "an old protocol version is refused: {seen}");
}

/// The status line the server answers `request` with.
async fn status_of(app: &crate::helpers::TestApp, request: &str) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let seen = read_until(&mut stream, "\r\n").await;
    seen.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_key_that_is_not_sixteen_bytes_of_base64_gets_400() {
    let app = spawn_app().await;
    let good = upgrade_request(app.addr, "13");
    for key in ["not base64 at all!", "AAAAAAAAAAAAAAAAAAAA", "dGhlIHNhbXBsZSBub25jZQ"] {
        let request = good.replace("dGhlIHNhbXBsZSBub25jZQ==", key);
        assert!(status_of(&app, &request).await.starts_with("HTTP/1.1 400"), "key {key:?}");
    }
    let without = good.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert!(status_of(&app, &without).await.starts_with("HTTP/1.1 400"), "a missing key");
    assert!(status_of(&app, &good).await.starts_with("HTTP/1.1 101"), "the RFC's own key still works");
}

#[tokio::test]
async fn an_http_1_0_upgrade_request_gets_426() {
    let app = spawn_app().await;
    let request = upgrade_request(app.addr, "13").replace("HTTP/1.1", "HTTP/1.0");
    let status = status_of(&app, &request).await;
    assert!(status.ends_with("426 Upgrade Required"), "{status}");
}
