//! Load generator: N attendees and a moderator against a real server, over loopback.
//!
//! It starts the server binary itself (or attaches to one with `--addr`), opens the
//! attendees from several loopback source addresses, lets the moderator change segments at a
//! fixed interval, and reports connect time, fan-out and delivery latency, losses, and the
//! server's memory and CPU. Exits non-zero when a change was lost or came out of order.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Load generator for the hub.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Attendee connections to open.
    #[arg(long, default_value_t = 1000)]
    attendees: usize,
    /// Segment changes the moderator makes.
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// Milliseconds between two changes.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Every this many changes, the moderator also sends a cue (attendees see it hidden).
    #[arg(long, default_value_t = 10)]
    cue_every: usize,
    /// Percent of attendees that never read after their welcome.
    #[arg(long, default_value_t = 0)]
    slow_percent: usize,
    /// Loopback source addresses to spread connections over (127.0.0.1 and up).
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 512)]
    concurrency: usize,
    /// Seconds to watch an idle event for frames that should not be sent.
    #[arg(long, default_value_t = 3)]
    idle_secs: u64,
    /// The server binary to start (ignored with --addr).
    #[arg(long, default_value = "target/release/eventhub")]
    server: PathBuf,
    /// Attach to a running server instead: its address...
    #[arg(long, requires_all = ["attendee_token", "moderator_token"])]
    addr: Option<SocketAddr>,
    /// ...its attendee and moderator tokens...
    #[arg(long)]
    attendee_token: Option<String>,
    #[arg(long)]
    moderator_token: Option<String>,
    /// ...and its pid, for memory and CPU figures.
    #[arg(long)]
    pid: Option<u32>,
    #[arg(long, default_value = "sjtu-forum")]
    event: String,
}

/// The server under test.
struct Target {
    addr: SocketAddr,
    attendee_token: String,
    moderator_token: String,
    pid: Option<u32>,
    /// Kept so that a started server is killed when the run ends.
    _child: Option<tokio::process::Child>,
    _data: Option<tempfile::TempDir>,
}

async fn start_server(args: &Args) -> anyhow::Result<Target> {
    if let Some(addr) = args.addr {
        return Ok(Target {
            addr,
            attendee_token: args.attendee_token.clone().unwrap_or_default(),
            moderator_token: args.moderator_token.clone().unwrap_or_default(),
            pid: args.pid,
            _child: None,
            _data: None,
        });
    }
    let data = tempfile::tempdir()?;
    let events = std::env::current_dir()?.join("config/events");
    let settings = data.path().join("load.toml");
    std::fs::write(
        &settings,
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\ndata_dir = {:?}\nevents_dir = {:?}\n\n[limits]\n\
             max_connections_per_event = 100000\nmax_connections_per_ip = 100000\n",
            data.path().join("data"),
            events
        ),
    )?;
    let mut child = tokio::process::Command::new(&args.server)
        .arg("--config")
        .arg(&settings)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} (build it with cargo build --release)", args.server.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let (mut addr, mut attendee, mut moderator) = (None, None, None);
    while let Some(line) = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await?? {
        if let Some(url) = line.strip_prefix("eventhub is serving on http://") {
            addr = Some(url.trim().parse()?);
        }
        let token = line.rsplit("token=").next().unwrap_or_default().to_owned();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.get(..2) {
            Some([event, "attendee"]) if *event == args.event => attendee = Some(token),
            Some([event, "moderator"]) if *event == args.event => moderator = Some(token),
            _ => {}
        }
        if addr.is_some() && attendee.is_some() && moderator.is_some() {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Target {
        addr: addr.context("the server printed no address")?,
        attendee_token: attendee.context("no attendee token printed")?,
        moderator_token: moderator.context("no moderator token printed")?,
        pid: child.id(),
        _child: Some(child),
        _data: Some(data),
    })
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a process has used, in clock ticks: (user, system).
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions and _SC_CLK_TCK is a valid name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// tungstenite zero-fills its read buffer's spare room before every read: a buffer the size
/// of a change frame keeps that from costing the generator more than the frame itself.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(4096)
}

async fn open(addr: SocketAddr, source: IpAddr) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}/ws");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(ws_config())).await?;
    Ok(ws)
}

fn hello(event: &str, token: &str, participant: &str, k: usize, resume: Option<(&str, u64)>) -> Message {
    let mode = if k.is_multiple_of(2) { "remote" } else { "in_room" };
    let lang = ["zh", "ja", "en"][k % 3];
    let mut frame = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": participant,
                           "mode": mode, "lang": lang, "participant": participant});
    if let Some((epoch, seq)) = resume {
        frame["resume"] = json!({"epoch": epoch, "seq": seq});
    }
    Message::Text(frame.to_string().into())
}

/// Reads frames until one whose text satisfies `done`.
async fn until(ws: &mut Ws, done: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if done(text.as_str()) {
                return Ok(text.as_str().to_owned());
            }
        }
    }
    bail!("the connection closed")
}

/// The head count in a presence frame, read without parsing the whole frame.
fn presence_total(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(r#"{"type":"presence","#)?;
    const TOTAL: &str = r#""counts":{"total":"#;
    let rest = &rest[rest.find(TOTAL)? + TOTAL.len()..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// The seq of a change frame, read without parsing the whole frame.
fn change_seq(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(r#"{"type":"change","seq":"#)?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
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

/// Shared by every attendee: where the changes start, when each was sent, and when each
/// reached each attendee.
struct Run {
    start: Instant,
    first_seq: AtomicU64,
    sent_at: Vec<AtomicU64>,
    /// When the moderator's acknowledgement of each change arrived: the hub acknowledges
    /// after it has stored the change and written it to every socket.
    acked_at: Vec<AtomicU64>,
    changes: usize,
    /// `arrived[attendee * changes + change]`: nanoseconds after `start`, or 0 while not yet.
    arrived: Vec<AtomicU64>,
    out_of_order: AtomicU64,
    reconnects: AtomicU64,
    idle_frames: AtomicUsize,
    watching_idle: AtomicBool,
    /// Per attendee, the last presence total it was sent.
    presence_total: Vec<AtomicU64>,
}

async fn attendee(
    target: Arc<(SocketAddr, String, String)>,
    run: Arc<Run>,
    k: usize,
    source: IpAddr,
    slow: bool,
    gate: Arc<Semaphore>,
    joined: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<()> {
    let (addr, token, event) = (&target.0, &target.1, &target.2);
    let permit = gate.acquire().await?;
    let mut ws = open(*addr, source).await?;
    let participant = format!("load-{k}");
    ws.send(hello(event, token, &participant, k, None)).await?;
    let welcome: Welcome = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
    let epoch = welcome.epoch;
    run.presence_total[k].store(welcome.presence.counts.total, Ordering::Relaxed);
    ws.send(Message::Text(json!({"type": "ping", "t": 0}).to_string().into())).await?;
    until(&mut ws, |t| t.starts_with(r#"{"type":"pong""#)).await?;
    drop(permit);
    joined.wait().await;
    if slow {
        // Holds its socket and reads nothing until the run is over.
        std::future::pending::<()>().await;
    }
    let mut last_seq = welcome.seq;
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            Some(Err(_)) | None => {
                run.reconnects.fetch_add(1, Ordering::Relaxed);
                ws = open(*addr, source).await?;
                ws.send(hello(event, token, &participant, k, Some((&epoch, last_seq)))).await?;
                continue;
            }
        };
        let Message::Text(text) = message else { continue };
        let Some(seq) = change_seq(text.as_str()) else {
            if let Some(total) = presence_total(text.as_str()) {
                run.presence_total[k].store(total, Ordering::Relaxed);
            }
            if run.watching_idle.load(Ordering::Relaxed) && !text.as_str().starts_with(r#"{"type":"welcome""#) {
                run.idle_frames.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        };
        let now = run.start.elapsed().as_nanos() as u64;
        if seq != last_seq + 1 {
            run.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
        last_seq = seq;
        let first = run.first_seq.load(Ordering::Acquire);
        if first > 0 && seq >= first && seq - first < run.changes as u64 {
            run.arrived[k * run.changes + (seq - first) as usize].store(now, Ordering::Release);
        }
    }
}

/// The moderator: makes `changes` segment changes (and a cue now and then) at the interval.
async fn moderator(target: &Target, args: &Args, run: &Run) -> anyhow::Result<()> {
    let mut ws = open(target.addr, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    ws.send(hello(&args.event, &target.moderator_token, "load-moderator", 1, None)).await?;
    let welcome: Value = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
    let mut version = welcome["snapshot"]["live"]["version"].as_u64().unwrap_or(0);
    let segments: Vec<String> = welcome["snapshot"]["segments"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["id"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    let mut seq = welcome["seq"].as_u64().unwrap_or(0);
    run.first_seq.store(seq + 1, Ordering::Release);
    let mut tick = tokio::time::interval(Duration::from_millis(args.interval_ms));
    for k in 0..args.changes {
        tick.tick().await;
        let cue = args.cue_every > 0 && k % args.cue_every == args.cue_every - 1;
        let frame = if cue {
            json!({"type": "cue_standby", "id": format!("m{k}"), "preset": "slides"})
        } else {
            let segment = &segments[k % segments.len().max(1)];
            json!({"type": "goto", "id": format!("m{k}"), "version": version, "segment": segment})
        };
        run.sent_at[k].store(run.start.elapsed().as_nanos() as u64, Ordering::Release);
        ws.send(Message::Text(frame.to_string().into())).await?;
        let reply: Value = serde_json::from_str(&until(&mut ws, |t| t.contains(&format!(r#""id":"m{k}""#))).await?)?;
        if reply["type"] != "ack" {
            bail!("the moderator's change {k} was refused: {reply}");
        }
        let acked = reply["seq"].as_u64().unwrap_or(0);
        if acked != seq + 1 {
            bail!("change {k} got seq {acked}, expected {}", seq + 1);
        }
        run.acked_at[k].store(run.start.elapsed().as_nanos() as u64, Ordering::Release);
        seq = acked;
        if !cue {
            version += 1;
        }
    }
    Ok(())
}

fn quantiles(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = start_server(&args).await?;
    let rss_before = target.pid.and_then(rss_kib);
    let run = Arc::new(Run {
        start: Instant::now(),
        first_seq: AtomicU64::new(0),
        sent_at: (0..args.changes).map(|_| AtomicU64::new(0)).collect(),
        acked_at: (0..args.changes).map(|_| AtomicU64::new(0)).collect(),
        changes: args.changes,
        arrived: (0..args.changes * args.attendees).map(|_| AtomicU64::new(0)).collect(),
        out_of_order: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        idle_frames: AtomicUsize::new(0),
        watching_idle: AtomicBool::new(false),
        presence_total: (0..args.attendees).map(|_| AtomicU64::new(0)).collect(),
    });
    let slow_count = args.attendees * args.slow_percent / 100;
    println!(
        "hub-load: {} attendees ({} not reading), {} changes every {} ms, {} source addresses, server {}",
        args.attendees, slow_count, args.changes, args.interval_ms, args.sources, target.addr
    );

    let shared = Arc::new((target.addr, target.attendee_token.clone(), args.event.clone()));
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let joined = Arc::new(tokio::sync::Barrier::new(args.attendees + 1));
    let connect_started = Instant::now();
    let mut tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::with_capacity(args.attendees);
    for k in 0..args.attendees {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (k % usize::from(args.sources.max(1))) as u8));
        let slow = k < slow_count;
        tasks.push(tokio::spawn(attendee(shared.clone(), run.clone(), k, source, slow, gate.clone(), joined.clone())));
    }
    tokio::select! {
        _ = joined.wait() => {}
        _ = tokio::time::sleep(Duration::from_secs(120)) => bail!("attendees did not all join within 120 s"),
    }
    let connect = connect_started.elapsed();
    println!(
        "connect: {} attendees welcomed in {:.2} s ({:.0} per second)",
        args.attendees,
        connect.as_secs_f64(),
        args.attendees as f64 / connect.as_secs_f64()
    );

    // Idle: let presence settle, then count what still arrives while nothing changes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let exact = (slow_count..args.attendees)
        .filter(|&a| run.presence_total[a].load(Ordering::Relaxed) == args.attendees as u64)
        .count();
    println!(
        "presence: {exact} of {} reading attendees show the exact head count ({}) 1 s after the storm",
        args.attendees - slow_count,
        args.attendees
    );
    run.watching_idle.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    run.watching_idle.store(false, Ordering::Relaxed);
    println!(
        "idle: {} frames to all attendees in {} s with nothing changing (keep-alive pings not counted)",
        run.idle_frames.load(Ordering::Relaxed),
        args.idle_secs
    );
    let rss_idle = target.pid.and_then(rss_kib);
    if let (Some(before), Some(after)) = (rss_before, rss_idle) {
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / args.attendees as f64;
        println!(
            "memory: server RSS {before} KiB before, {after} KiB with all connected: {per:.0} bytes per connection"
        );
    }

    let cpu_before = target.pid.and_then(cpu_ticks);
    let own_cpu_before = cpu_ticks(std::process::id());
    moderator(&target, &args, &run).await?;
    let readers = slow_count..args.attendees;
    let all_arrived =
        || readers.clone().all(|a| run.arrived[a * args.changes + args.changes - 1].load(Ordering::Acquire) > 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_arrived() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu_after = target.pid.and_then(cpu_ticks);
    let own_cpu_after = cpu_ticks(std::process::id());
    let rss_end = target.pid.and_then(rss_kib);
    for task in &tasks {
        if task.is_finished() {
            bail!("an attendee failed; see above");
        }
    }

    let mut delivery = Histogram::<u64>::new(3)?;
    let mut fanout = Histogram::<u64>::new(3)?;
    let mut acked = Histogram::<u64>::new(3)?;
    let mut lost = 0u64;
    let mut fanouts = Vec::with_capacity(args.changes);
    for change in 0..args.changes {
        let sent = run.sent_at[change].load(Ordering::Acquire);
        let mut last = 0;
        for a in readers.clone() {
            match run.arrived[a * args.changes + change].load(Ordering::Acquire) {
                0 => lost += 1,
                at => {
                    let micros = at.saturating_sub(sent) / 1000;
                    delivery.record(micros.max(1))?;
                    last = last.max(micros);
                }
            }
        }
        fanout.record(last.max(1))?;
        acked.record((run.acked_at[change].load(Ordering::Acquire).saturating_sub(sent) / 1000).max(1))?;
        fanouts.push((sent, last));
    }
    // A fan-out still running when the next change is sent delays it: if that kept
    // happening, each fan-out would start later than the one before.
    let overlapped = fanouts.windows(2).filter(|pair| pair[0].0 + pair[0].1 * 1000 > pair[1].0).count();
    let tenth = (fanouts.len() / 10).max(1);
    let mean_ms =
        |part: &[(u64, u64)]| part.iter().map(|f| f.1 as f64).sum::<f64>() / part.len().max(1) as f64 / 1000.0;
    let out_of_order = run.out_of_order.load(Ordering::Relaxed);
    let reconnects = run.reconnects.load(Ordering::Relaxed);
    let readers = readers.len();
    println!("fan-out to the last of {readers} readers, over {} changes: {}", args.changes, quantiles(&fanout));
    println!("per delivery ({} deliveries): {}", delivery.len(), quantiles(&delivery));
    println!("moderator's acknowledgement (stored, written to every socket): {}", quantiles(&acked));
    println!(
        "backlog: {overlapped} fan-outs still running at the next change; mean fan-out of the first and last {tenth} changes: {:.1} / {:.1} ms",
        mean_ms(&fanouts[..tenth]),
        mean_ms(&fanouts[fanouts.len() - tenth..]),
    );
    println!("losses: {lost}; out of order: {out_of_order}; reconnects: {reconnects}");
    let deliveries = (args.changes * args.attendees) as f64;
    let cpu = |before: (u64, u64), after: (u64, u64)| {
        let (user, system) = ((after.0 - before.0) as f64, (after.1 - before.1) as f64);
        let seconds = (user + system) / ticks_per_second();
        format!(
            "{seconds:.2} s ({:.0}% in the kernel), {:.1} µs per delivery",
            100.0 * system / (user + system).max(1.0),
            seconds * 1e6 / deliveries
        )
    };
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        println!("server CPU during the changes: {}", cpu(before, after));
    }
    if let (Some(before), Some(after)) = (own_cpu_before, own_cpu_after) {
        println!("hub-load's own CPU, same machine: {}", cpu(before, after));
    }
    if let (Some(idle), Some(end)) = (rss_idle, rss_end) {
        println!("memory after the changes: {end} KiB ({:+} KiB since idle)", end as i64 - idle as i64);
    }
    if lost > 0 || out_of_order > 0 {
        bail!("{lost} deliveries lost, {out_of_order} out of order");
    }
    Ok(())
}
