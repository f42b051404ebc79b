//! A client that stops reading: everyone else keeps their pace, and it is closed with the
//! documented reason instead of growing the server's memory.

use eventhub::domain::Role;
use eventhub::hub::TOO_SLOW;
use serde_json::json;
use tokio::net::TcpSocket;

use crate::helpers::{hello_frame, spawn_app_with, Client};

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
