//! Durable-append benchmark: latency of one change at a time, and sustained changes per
//! second when many commands arrive at once (group commit). Run: `cargo bench --bench store`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventhub::config::parse_event;
use eventhub::domain::text::{Lang, Mode};
use eventhub::domain::{Actor, Change, EventState, Role};
use eventhub::store::sqlite::SqliteBackend;
use eventhub::store::{Backend, Journal, LogEntry};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;

const DEMO: &str = include_str!("../config/events/sjtu-forum.toml");
const SEQUENTIAL: usize = 500;
const WRITERS: usize = 64;
const SUSTAINED_FOR: Duration = Duration::from_secs(3);

fn entry(seq: u64, state: &EventState) -> LogEntry {
    LogEntry {
        seq,
        at: 1_641_258_000_000 + seq as i64,
        actor: Actor {
            participant: "bench".into(),
            name: "Ji Weidong".into(),
            role: Role::Moderator,
            mode: Mode::InRoom,
            lang: Lang::Zh,
            affiliation: None,
            crew: vec![],
        },
        command: None,
        change: Change::Live { op: "extend".into(), live: state.live.clone(), speaking: None },
    }
}

fn micros(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let mut backend = SqliteBackend::open(dir.path()).expect("the store opens");
    let state = EventState::new(parse_event(DEMO, chrono::Utc::now()).expect("the demo parses"));
    backend.create(&state).expect("the event is stored");
    let (journal, thread) = Journal::start(Box::new(backend)).expect("the store thread starts");
    let event = state.show.event.id.clone();

    let mut latency = Histogram::<u64>::new(3).unwrap();
    for seq in 1..=SEQUENTIAL as u64 {
        let started = Instant::now();
        journal.append(&event, vec![entry(seq, &state)]).await.expect("append");
        latency.record(started.elapsed().as_nanos() as u64).unwrap();
    }
    println!(
        "one at a time: {SEQUENTIAL} appends, p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        micros(&latency, 0.5),
        micros(&latency, 0.99),
        latency.max() as f64 / 1000.0
    );

    // Many writers at once, as a hub sees them during a burst: seqs are handed out under a
    // lock, as the hub does, and each writer waits for its own commit.
    let next_seq = Arc::new(Mutex::new(SEQUENTIAL as u64));
    let deadline = Instant::now() + SUSTAINED_FOR;
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (journal, event, state, next_seq) = (journal.clone(), event.clone(), state.clone(), next_seq.clone());
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3).unwrap();
            while Instant::now() < deadline {
                let started = Instant::now();
                let done = {
                    let mut seq = next_seq.lock().await;
                    *seq += 1;
                    let (journal, event, entry) = (journal.clone(), event.clone(), entry(*seq, &state));
                    tokio::spawn(async move { journal.append(&event, vec![entry]).await })
                };
                done.await.unwrap().expect("append");
                latency.record(started.elapsed().as_nanos() as u64).unwrap();
            }
            latency
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        all.add(task.await.unwrap()).unwrap();
    }
    println!(
        "{WRITERS} writers for {:?}: {} changes, {:.0} changes/s, p50 {:.0} µs, p99 {:.0} µs",
        SUSTAINED_FOR,
        all.len(),
        all.len() as f64 / SUSTAINED_FOR.as_secs_f64(),
        micros(&all, 0.5),
        micros(&all, 0.99)
    );
    drop(journal);
    thread.join();
}
