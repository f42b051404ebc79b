//! What drives the load: the moderator's presses (segment changes and cues, at a fixed
//! interval, each against the version its console last saw) and the captioner's lines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::connect::{open, until, Ws};
use crate::flags::Args;
use crate::frames::{change_seq, hello, press, LANGS, POLL};
use crate::measure::Run;

/// The captioner: posts lines over zh, ja and en in turn at the rate until `stop`.
pub async fn captioner(
    addr: SocketAddr,
    token: String,
    args: Arc<Args>,
    run: Arc<Run>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/events/{}/captions", args.event);
    let period = Duration::from_secs_f64(1.0 / args.captions_per_sec);
    let mut tick = tokio::time::interval(period);
    for line in 0..run.captions.room {
        tick.tick().await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let track = line % 3;
        let seq = run.captions.base[track].load(Ordering::Acquire) + (line / 3) as u64 + 1;
        let text = format!("{} 第{line}行 — caption line {line} of the load", LANGS[track]);
        run.captions.sent_at[line].store(run.now(), Ordering::Release);
        let answer = client
            .post(format!("{base}?lang={}&seq={seq}", LANGS[track]))
            .bearer_auth(&token)
            .header("content-type", "text/plain; charset=utf-8")
            .body(text)
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("caption line {line} was refused: {} {}", answer.status(), answer.text().await.unwrap_or_default());
        }
        run.captions.posted.store(line + 1, Ordering::Release);
    }
    Ok(())
}

/// Reads each track's last seq, so that the load's lines follow on.
pub async fn caption_bases(addr: SocketAddr, token: &str, event: &str, run: &Run) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for (track, lang) in LANGS.iter().enumerate() {
        let url = format!("http://{addr}/api/v1/events/{event}/captions/seq?lang={lang}");
        let answer = client.get(url).bearer_auth(token).send().await?.error_for_status()?.text().await?;
        let answer: Value = serde_json::from_str(&answer)?;
        run.captions.base[track].store(answer["seq"].as_u64().unwrap_or(0), Ordering::Release);
    }
    Ok(())
}

/// Readies the votes: the demo's poll open, questions open for the event, and the question
/// the load upvotes asked (to the opening, which takes them as the event does).
async fn prepare_votes(ws: &mut Ws, run: &Run) -> anyhow::Result<()> {
    let frames = [
        json!({"type": "poll_open", "id": "prep-1", "poll": POLL}),
        json!({"type": "question_settings", "id": "prep-2", "mode": "open"}),
        json!({"type": "question_ask", "id": "prep-3", "segment": "opening", "text": "Which data may cross the border?"}),
    ];
    for frame in frames {
        let id = frame["id"].as_str().unwrap_or_default().to_owned();
        ws.send(Message::Text(frame.to_string().into())).await?;
        let reply = until(ws, |t| {
            if t.contains(r#""kind":"question""#) {
                if let Some(question) = press(t, r#""question":{"id":"#) {
                    run.question.store(question as u64, Ordering::Release);
                }
            }
            t.contains(&format!(r#""id":"{id}""#)) && !t.starts_with(r#"{"type":"change""#)
        })
        .await?;
        if !reply.starts_with(r#"{"type":"ack""#) {
            bail!("the votes could not be readied: {reply}");
        }
    }
    Ok(())
}

/// A `votes` change at the chair's console: counted, and the moment each final count shows.
fn seen_votes(text: &str, run: &Run, console: &Console, now: u64) {
    let votes = &run.votes;
    votes.batches.fetch_add(1, Ordering::Relaxed);
    let expected = console.expected_votes.load(Ordering::Acquire) as usize;
    if expected == 0 {
        return;
    }
    if press(text, r#""voters":"#) == Some(expected) {
        let _ = votes.poll_final_at.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }
    if press(text, r#""votes":"#) == Some(expected) {
        let _ = votes.question_final_at.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// The moderator, pressing like a console: a change at every tick, without waiting for the
/// last one's ack, with the show version of the latest change its console has seen. A
/// change that reaches the console later than the next press makes that press `conflict`.
pub struct Moderator {
    sink: futures_util::stream::SplitSink<Ws, Message>,
    segments: Vec<String>,
}

/// What the moderator's console has seen, shared with its reader.
#[derive(Default)]
pub struct Console {
    version: AtomicU64,
    /// The voters the poll and the question end with, once the votes start.
    pub expected_votes: AtomicU64,
    /// Answers (acks and errors) to the presses so far.
    answered: AtomicUsize,
    refused: AtomicUsize,
    first_refusal: std::sync::Mutex<Option<String>>,
}

impl Moderator {
    pub async fn join(
        addr: SocketAddr,
        event: &str,
        token: &str,
        run: Arc<Run>,
        votes: bool,
    ) -> anyhow::Result<(Moderator, Arc<Console>)> {
        let mut ws = open(addr, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        ws.send(hello(event, token, "load-moderator", 1, false, None)).await?;
        let welcome: Value = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
        if votes {
            prepare_votes(&mut ws, &run).await?;
        }
        let console = Arc::new(Console::default());
        console.version.store(welcome["snapshot"]["live"]["version"].as_u64().unwrap_or(0), Ordering::Release);
        let segments: Vec<String> = welcome["snapshot"]["segments"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["id"].as_str().map(String::from)).collect())
            .unwrap_or_default();
        run.first_seq.store(welcome["seq"].as_u64().unwrap_or(0) + 1, Ordering::Release);
        let (sink, mut stream) = ws.split();
        let seen = console.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let (text, now) = (text.as_str(), run.now());
                if text.starts_with(r#"{"type":"change""#) {
                    if let Some(k) = press(text, r#""command":"m"#).filter(|&k| k < run.changes) {
                        run.own_at[k].store(now, Ordering::Release);
                        // A press's first change is the one every screen is timed by.
                        let seq = change_seq(text).unwrap_or_default();
                        let _ = run.seq_of[k].compare_exchange(0, seq, Ordering::AcqRel, Ordering::Acquire);
                    }
                    if text.contains(r#""kind":"votes""#) {
                        seen_votes(text, &run, &seen, now);
                    }
                    if let Some(version) = press(text, r#""live":{"version":"#) {
                        seen.version.fetch_max(version as u64, Ordering::AcqRel);
                    }
                } else if let Some(k) = press(text, r#"{"type":"ack","id":"m"#).filter(|&k| k < run.changes) {
                    run.acked_at[k].store(now, Ordering::Release);
                    seen.answered.fetch_add(1, Ordering::AcqRel);
                } else if text.starts_with(r#"{"type":"error","id":"m"#) {
                    seen.refused.fetch_add(1, Ordering::AcqRel);
                    seen.answered.fetch_add(1, Ordering::AcqRel);
                    seen.first_refusal.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| text.to_owned());
                }
            }
        });
        Ok((Moderator { sink, segments }, console))
    }

    /// Presses `changes` times at the interval, from press `from` of the run on, and waits
    /// for every answer.
    pub async fn round(&mut self, args: &Args, run: &Run, console: &Console, from: usize) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(args.interval_ms));
        for k in from..from + args.changes {
            tick.tick().await;
            let cue = args.cue_every > 0 && k % args.cue_every == args.cue_every - 1;
            let frame = if cue {
                json!({"type": "cue_standby", "id": format!("m{k}"), "preset": "slides"})
            } else {
                let segment = &self.segments[k % self.segments.len().max(1)];
                let version = console.version.load(Ordering::Acquire);
                json!({"type": "goto", "id": format!("m{k}"), "version": version, "segment": segment})
            };
            run.sent_at[k].store(run.now(), Ordering::Release);
            self.sink.send(Message::Text(frame.to_string().into())).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while console.answered.load(Ordering::Acquire) < from + args.changes {
            if Instant::now() > deadline {
                bail!("the moderator's presses were not all answered within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused = console.refused.load(Ordering::Acquire);
        println!(
            "moderator: {} presses, {} acks, {refused} refused",
            from + args.changes,
            from + args.changes - refused
        );
        if refused > 0 {
            let first = console.first_refusal.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
            bail!("{refused} of the moderator's presses were refused, the first: {first}");
        }
        Ok(())
    }
}
