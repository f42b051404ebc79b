//! A client that stops reading: everyone else keeps their pace, and it is closed with the
//! documented reason instead of growing the server's memory; one that takes no write for
//! 10 s is dropped.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use eventhub::domain::Role;
use eventhub::hub::TOO_SLOW;
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::helpers::{hello_frame, spawn_app_with, Client};
use crate::wire_conformance::{masked, Raw, FIN, JSON_PING, TEXT};

const CHANGES: u64 = 1000;
const QUEUE: &str = "round-table";

#[tokio::test]
async fn a_client_that_never_reads_is_closed_and_delays_nobody() {
    let app = spawn_app_with(|settings| settings.limits.frames_per_second = 100_000).await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    // Forty people in the queue make every change a frame of some 10 KB, so that the socket
    // buffers between the server and the stalled client fill up quickly.
    for k in 0..40 {
        let (mut person, _) = Client::join(app.addr, app.token(Role::Attendee), &format!("questioner {k:02}")).await;
        let topic = format!("a question about cross-border data, number {k}");
        assert_eq!(person.run("queue_request", json!({"queue": QUEUE, "topic": topic})).await["type"], "ack");
    }
    let mut readers = Vec::new();
    for k in 0..5 {
        let (mut reader, _) = app.join(Role::Attendee, &format!("reader {k}")).await;
        let first = reader.seq + 1;
        readers.push(tokio::spawn(async move {
            for seq in first..first + CHANGES {
                let frame = reader.next_frame().await;
                assert_eq!(frame["seq"], seq, "every reader gets every change, in order");
            }
            reader
        }));
    }

    // The stalled client: a tiny receive buffer, and after its welcome it reads nothing.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", app.addr), stream).await.unwrap();
    let mut stalled = Client::from_stream(ws);
    stalled.send(hello_frame(app.token(Role::Attendee), "stalled")).await;
    let start = stalled.expect("welcome").await["seq"].as_u64().unwrap();

    for k in 0..CHANGES {
        // Requests leave the queue's version alone, so the chair's moves count it up from 0.
        let version = k;
        let to = if k % 2 == 0 { 39 } else { 0 };
        let entry = 1 + (k % 40);
        let reply =
            chair.run("queue_move", json!({"queue": QUEUE, "version": version, "entry": entry, "to": to})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
    }
    let mut readers: Vec<Client> = futures_util::future::try_join_all(readers).await.unwrap();

    // Now it reads: what was queued before it fell behind, then the close with its reason.
    let mut seen = start;
    while let Some(frame) = stalled.try_next_frame().await {
        if frame["type"] == "change" {
            assert_eq!(frame["seq"].as_u64().unwrap(), seen + 1, "no gap before the close");
            seen += 1;
        }
    }
    assert!(seen < start + CHANGES, "it fell behind and was not sent everything");
    let (code, reason) = stalled.close_frame().expect("a close frame with the reason");
    assert_eq!((code, reason.as_str()), TOO_SLOW);
    for reader in &mut readers {
        reader.still_works().await;
    }
}

/// How long after the changes began a client that takes none of them may still be
/// connected: the documented 10 s for a write it does not take, and slack for a loaded
/// machine, well short of the 30 s after which silence would close it.
const DROPPED_BY: Duration = Duration::from_secs(25);

/// A connection to `addr` whose receive buffer is small and whose segments are small too
/// (the MSS it announces): the server's socket buffer for it then holds tens of kilobytes,
/// not megabytes as on loopback's 64 KiB segments, so that a few changes fill it.
async fn narrow_connection(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mss: libc::c_int = 536;
    // SAFETY: a plain setsockopt on a socket this function owns, with a value that lives
    // through the call and its size.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            std::ptr::from_ref(&mss).cast(),
            std::mem::size_of_val(&mss) as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "TCP_MAXSEG: {}", std::io::Error::last_os_error());
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn a_client_that_takes_no_writes_for_10_seconds_is_dropped_though_it_still_talks() {
    let app = spawn_app_with(|settings| settings.limits.frames_per_second = 100_000).await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    // Forty people in the queue make every change a frame of some 10 KB.
    for k in 0..40 {
        let (mut person, _) = Client::join(app.addr, app.token(Role::Attendee), &format!("questioner {k:02}")).await;
        assert_eq!(person.run("queue_request", json!({"queue": QUEUE})).await["type"], "ack");
    }
    let mut stalled = Raw::over(narrow_connection(app.addr).await, app.addr).await.expect("a websocket");
    let hello = hello_frame(app.token(Role::Attendee), "stalled").to_string();
    stalled.send(&masked(FIN | TEXT, hello.as_bytes())).await.unwrap();
    let who = loop {
        let (opcode, payload) = stalled.frame_by(Instant::now() + Duration::from_secs(10)).await.expect("a welcome");
        let frame: Value = if opcode == TEXT { serde_json::from_slice(&payload).unwrap() } else { Value::Null };
        if frame["type"] == "welcome" {
            break frame["you"]["who"].as_str().unwrap().to_owned();
        }
    };

    // From here it reads nothing. Thirty changes (some 300 KB) fill what the sockets hold
    // and leave the rest waiting at the server, far under its 256 frames or 1 MiB.
    let began = Instant::now();
    for version in 0..30 {
        let to = if version % 2 == 0 { 39 } else { 0 };
        let reply = chair.run("queue_move", json!({"queue": QUEUE, "version": version, "entry": 1, "to": to})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
    }
    // It keeps talking, a ping every half second, so it is never silent: only the writes it
    // does not take can end it. A write that fails says the server dropped it.
    let dropped = async {
        loop {
            if stalled.send(&masked(FIN | TEXT, JSON_PING)).await.is_err() {
                return began.elapsed();
            }
            assert!(began.elapsed() < DROPPED_BY, "still connected {DROPPED_BY:?} after the changes began");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let gone = chair.presence_within(DROPPED_BY, |p| {
        p["left"].as_array().is_some_and(|left| left.iter().any(|w| w == who.as_str()))
    });
    let (after, _) = tokio::join!(dropped, gone);
    eprintln!("the stalled client was dropped {after:?} after the changes began");
    assert!(after >= Duration::from_secs(10), "dropped after {after:?}, before its writes had waited 10 s");
}
