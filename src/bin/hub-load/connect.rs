//! The connections: opens websockets from a chosen loopback source address, says hello, and
//! runs each attendee and staff screen, recording when every change reaches it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::frames::{caption_line, change_seq, hello, presence_total};
use crate::measure::Run;

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// tungstenite zero-fills its read buffer's spare room before every read: a buffer the size
/// of a change frame keeps that from costing the generator more than the frame itself.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(4096)
}

pub async fn open(addr: SocketAddr, source: IpAddr) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}/ws");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(ws_config())).await?;
    Ok(ws)
}

/// Reads frames until one whose text satisfies `done`.
pub async fn until(ws: &mut Ws, done: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if done(text.as_str()) {
                return Ok(text.as_str().to_owned());
            }
        }
    }
    bail!("the connection closed")
}

/// What an attendee needs of its welcome. The rest (the run of show) is skipped unparsed:
/// thousands of generic parses would make the generator, not the server, set the join rate.
#[derive(Deserialize)]
struct Welcome {
    epoch: String,
    seq: u64,
    presence: WelcomePresence,
}

#[derive(Deserialize)]
struct WelcomePresence {
    counts: WelcomeCounts,
}

#[derive(Deserialize)]
struct WelcomeCounts {
    total: u64,
}

/// Where an attendee connects, and as whom.
pub struct Seat {
    pub k: usize,
    pub addr: SocketAddr,
    pub source: IpAddr,
    pub slow: bool,
}

pub async fn attendee(
    target: Arc<(String, String, bool)>,
    run: Arc<Run>,
    seat: Seat,
    gate: Arc<Semaphore>,
    joined: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<()> {
    let (token, event, captions) = (&target.0, &target.1, target.2);
    let k = seat.k;
    let permit = gate.acquire().await?;
    let mut ws = open(seat.addr, seat.source).await?;
    let participant = format!("load-{k}");
    ws.send(hello(event, token, &participant, k, captions, None)).await?;
    let welcome: Welcome = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
    let epoch = welcome.epoch;
    run.presence_total[k].store(welcome.presence.counts.total, Ordering::Relaxed);
    ws.send(Message::Text(json!({"type": "ping", "t": 0}).to_string().into())).await?;
    until(&mut ws, |t| t.starts_with(r#"{"type":"pong""#)).await?;
    drop(permit);
    joined.wait().await;
    if seat.slow {
        // Holds its socket and reads nothing until the run is over.
        std::future::pending::<()>().await;
    }
    let mut last_seq = welcome.seq;
    let mine = &run.arrived[k * run.changes..(k + 1) * run.changes];
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            Some(Err(_)) | None => {
                run.reconnects.fetch_add(1, Ordering::Relaxed);
                ws = open(seat.addr, seat.source).await?;
                ws.send(hello(event, token, &participant, k, captions, Some((&epoch, last_seq)))).await?;
                continue;
            }
        };
        let Message::Text(text) = message else { continue };
        let text = text.as_str();
        let now = run.now();
        if let Some(seq) = change_seq(text) {
            if seq != last_seq + 1 {
                run.out_of_order.fetch_add(1, Ordering::Relaxed);
            }
            last_seq = seq;
            run.record(mine, seq, now);
        } else if let Some(line) = caption_line(text) {
            run.captions.arrived(k, line, now);
        } else {
            if let Some(total) = presence_total(text) {
                run.presence_total[k].store(total, Ordering::Relaxed);
            }
            let expected = text.starts_with(r#"{"type":"welcome""#) || text.starts_with(r#"{"type":"captions""#);
            if run.watching_idle.load(Ordering::Relaxed) && !expected {
                run.idle_frames.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The staff screens whose latency the load reports.
#[derive(Clone, Copy)]
pub enum Screen {
    Stage,
    Av,
}

/// A staff screen: records when each change reaches it.
pub async fn screen(addr: SocketAddr, hello: Message, run: Arc<Run>, which: Screen) -> anyhow::Result<()> {
    let mut ws = open(addr, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    ws.send(hello).await?;
    let at = match which {
        Screen::Stage => &run.stage_at,
        Screen::Av => &run.av_at,
    };
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if let Some(seq) = change_seq(text.as_str()) {
                run.record(at, seq, run.now());
            }
        }
    }
    bail!("a staff screen was disconnected")
}
