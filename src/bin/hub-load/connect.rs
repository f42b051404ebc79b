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

use crate::frames::{caption_line, change_seq, hello, presence_total, POLL};
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
    /// With votes: when in the voting stretch this attendee votes, as a share of it (0–1).
    pub vote_slot: Option<f64>,
}

/// Waits until the attendee's `n`th vote is due: its slot in the voting stretch, once the
/// stretch has started; its upvote half the stretch away, so that both kinds of vote come
/// evenly all through it.
async fn vote_due(run: &Run, start: &mut tokio::sync::watch::Receiver<Option<std::time::Instant>>, slot: f64, n: u8) {
    // The run holds the sender to the end, so the start always comes.
    let started = match start.wait_for(Option::is_some).await {
        Ok(started) => started.unwrap_or_else(std::time::Instant::now),
        Err(_) => std::time::Instant::now(),
    };
    let share = if n == 1 { (slot + 0.5) % 1.0 } else { slot };
    tokio::time::sleep_until((started + run.votes_spread.mul_f64(share)).into()).await;
}

/// The attendee's `n`th vote: on the demo's poll, then for the load's question.
fn vote(run: &Run, k: usize, n: u8) -> Message {
    let frame = match n {
        0 => json!({"type": "poll_vote", "id": format!("v{k}"), "poll": POLL, "choices": [k % 3]}),
        _ => {
            let question = run.question.load(Ordering::Acquire);
            json!({"type": "question_vote", "id": format!("u{k}"), "question": question})
        }
    };
    Message::Text(frame.to_string().into())
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
    let connecting = std::time::Instant::now();
    let mut ws = open(seat.addr, seat.source).await?;
    let participant = format!("load-{k}");
    ws.send(hello(event, token, &participant, k, captions, None)).await?;
    let welcome: Welcome = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
    run.welcomed_us[k].store(connecting.elapsed().as_micros() as u64, Ordering::Release);
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
    let mine = &run.arrived[k * run.seqs..(k + 1) * run.seqs];
    let mut start = run.votes.start.subscribe();
    let mut votes_sent = if seat.vote_slot.is_some() { 0 } else { 2 };
    loop {
        let next = tokio::select! {
            next = ws.next() => next,
            () = vote_due(&run, &mut start, seat.vote_slot.unwrap_or_default(), votes_sent), if votes_sent < 2 => {
                ws.send(vote(&run, k, votes_sent)).await?;
                run.votes.last_sent.fetch_max(run.now(), Ordering::AcqRel);
                votes_sent += 1;
                continue;
            }
        };
        let message = match next {
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
        } else if text.starts_with(r#"{"type":"ack","id":"v"#) || text.starts_with(r#"{"type":"ack","id":"u"#) {
            run.votes.acked.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with(r#"{"type":"error","id":"v"#) || text.starts_with(r#"{"type":"error","id":"u"#) {
            run.votes.refused.fetch_add(1, Ordering::Relaxed);
        } else {
            if let Some(total) = presence_total(text) {
                run.presence_total[k].store(total, Ordering::Relaxed);
                run.presence_frames.fetch_add(1, Ordering::Relaxed);
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

/// Presence churn: `per_second` attendees join and as many leave every second until `stop`,
/// each staying `stay` (so the head count holds steady once the first have left). Returns
/// how many joined, once the last has left.
pub async fn churn(
    addr: SocketAddr,
    token: String,
    event: String,
    per_second: u32,
    stay: std::time::Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<u64> {
    let every = std::time::Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
    let mut tick = tokio::time::interval(every);
    let mut joined = 0u64;
    let mut churners = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let (token, event) = (token.clone(), event.clone());
        let k = joined as usize;
        churners.spawn(async move {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (k % 200) as u8));
            let mut ws = open(addr, source).await?;
            ws.send(hello(&event, &token, &format!("churn-{k}"), k, false, None)).await?;
            until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?;
            // Reads what comes while it stays, as a page does, then leaves.
            let _ = tokio::time::timeout(stay, async { while ws.next().await.is_some() {} }).await;
            ws.close(None).await.ok();
            anyhow::Ok(())
        });
        joined += 1;
    }
    while let Some(churner) = churners.join_next().await {
        churner??;
    }
    Ok(joined)
}
