//! Connections that have not become websockets: time limits on request heads, caps per
//! address and in all, and that nobody else waits while they are held open.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{http_get, spawn_app_with};

fn one_second_heads(settings: &mut eventhub::config::Settings) {
    settings.limits.request_head_timeout_ms = 1_000;
}

/// A TCP connection to `addr` from the loopback address `from`, so that a test can be two
/// clients at once.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; what it sent, or None if it is still
/// open after `patience`.
async fn closed_within(stream: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(patience, async {
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&seen).into_owned())
}

/// What the server sent before closing, or None while the connection is still open.
fn answered_and_closed(stream: &TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.try_read(&mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&seen).into_owned()),
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(String::from_utf8_lossy(&seen).into_owned()),
        }
    }
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_dropped_while_others_are_served() {
    let app = spawn_app_with(one_second_heads).await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut dropped = false;
    for byte in head {
        if slow.write_all(&[*byte]).await.is_err() {
            dropped = true;
            break;
        }
        let (status, _, body) = http_get(app.addr, "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"), "others are served meanwhile");
        // The slowness is the attack: a byte every 200 ms.
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if !dropped {
        assert!(closed_within(&mut slow, Duration::from_secs(1)).await.is_some(), "the slow head is dropped");
    }
    assert!(started.elapsed() < Duration::from_secs(4), "dropped within the 1 s limit and a little slack");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_and_an_idle_keep_alive_are_closed() {
    let app = spawn_app_with(one_second_heads).await;
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await.is_some(), "a silent connection is closed");

    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let seen = closed_within(&mut kept, Duration::from_secs(3)).await.expect("closed after its idle time");
    assert!(seen.starts_with("HTTP/1.1 200"), "the request itself was answered: {seen}");
}

/// A request head timeout long enough for a loaded machine to count 500 connections before
/// the held ones time out.
const HELD_HEAD_MS: u64 = 10_000;

#[tokio::test]
async fn five_hundred_idle_connections_from_one_address_are_capped_and_others_still_get_in() {
    let app = spawn_app_with(|settings| settings.limits.request_head_timeout_ms = HELD_HEAD_MS).await;
    let cap = eventhub::limits::Limits::default().max_http_connections_per_ip;
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(connect_from([127, 0, 0, 1], app.addr).await);
    }
    let connected = Instant::now();
    // The refused ones are answered and closed at once; the others wait for their heads.
    // Counted until all the refusals are in, well before the held ones time out.
    let deadline = connected + Duration::from_millis(HELD_HEAD_MS * 3 / 4);
    let mut refused = 0;
    let mut open = idle;
    while open.len() > cap {
        assert!(Instant::now() < deadline, "{} are still open after {refused} refusals; the cap is {cap}", open.len());
        let mut still = Vec::new();
        for stream in open {
            match answered_and_closed(&stream) {
                Some(seen) => {
                    assert!(seen.is_empty() || seen.starts_with("HTTP/1.1 429"), "{seen}");
                    refused += 1;
                }
                None => still.push(stream),
            }
        }
        open = still;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open.len(), cap, "exactly the cap is held open; {refused} were refused");

    let mut other = connect_from([127, 0, 0, 2], app.addr).await;
    other.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let seen = closed_within(&mut other, Duration::from_secs(10)).await.expect("answered");
    assert!(seen.starts_with("HTTP/1.1 200"), "another address is served: {seen}");

    // The held ones time out too, by their head limit and generous slack.
    let gone_by = connected + Duration::from_millis(HELD_HEAD_MS) + Duration::from_secs(20);
    for mut stream in open {
        let left = gone_by.saturating_duration_since(Instant::now());
        assert!(closed_within(&mut stream, left).await.is_some(), "held ones time out too");
    }
    let mut again = connect_from([127, 0, 0, 1], app.addr).await;
    again.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let seen = closed_within(&mut again, Duration::from_secs(10)).await.expect("answered");
    assert!(seen.starts_with("HTTP/1.1 200"), "the address gets in again once they are gone: {seen}");
}

#[tokio::test]
async fn connections_beyond_the_servers_http_cap_get_503_from_any_address() {
    let app = spawn_app_with(|settings| {
        settings.limits.max_http_connections = 5;
        settings.limits.request_head_timeout_ms = HELD_HEAD_MS;
    })
    .await;
    let mut held = Vec::new();
    for k in 0..5u8 {
        held.push(connect_from([127, 0, 0, 10 + k], app.addr).await);
    }
    let mut sixth = connect_from([127, 0, 0, 20], app.addr).await;
    let seen = closed_within(&mut sixth, Duration::from_secs(5)).await.expect("refused at once");
    assert!(seen.starts_with("HTTP/1.1 503"), "{seen}");
    // The server took the five before the sixth: had it refused any of them, that answer
    // would be in by now.
    assert!(held.iter().all(|s| answered_and_closed(s).is_none()), "the first five are held");
    drop(held);
    // Their slots free up as the server sees them close; meanwhile it may still say 503.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = http_get(app.addr, "/healthz").await;
        if (status, body.as_str()) == (200, "ok") {
            break;
        }
        assert_eq!(status, 503, "only the cap refuses: {body}");
        assert!(Instant::now() < deadline, "served again once they are gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
