//! Load generator: N attendees, a moderator and the staff screens against real servers, over
//! loopback.
//!
//! It starts the server binary itself (one node on the embedded store, or a NATS server and
//! several nodes on JetStream), or attaches to running nodes with `--addr`. It opens the
//! attendees from several loopback source addresses, spread over the nodes, lets the
//! moderator change segments at a fixed interval (and, with `--captions-per-sec`, a
//! captioner post lines meanwhile), and reports connect time, fan-out, the moderator's round
//! trip, the staff screens' and caption latency, losses, and the servers' memory and CPU.
//! Exits non-zero when a change or a caption line was lost or came out of order.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
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
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The caption tracks the load uses: attendee k reads `LANGS[k % 3]`.
const LANGS: [&str; 3] = ["zh", "ja", "en"];

/// Load generator for the hub.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Attendee connections to open.
    #[arg(long, default_value_t = 1000)]
    attendees: usize,
    /// Segment changes the moderator makes (in each round, with captions).
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
    /// Caption lines per second in all, over zh, ja and en in turn, posted over HTTP. The
    /// changes then run twice in one run: first without captions, then with them.
    #[arg(long, default_value_t = 0.0)]
    captions_per_sec: f64,
    /// Hub nodes on NATS JetStream: the generator starts a NATS server and this many nodes
    /// joined to it, and spreads the attendees over them in turn. 0: one node on the
    /// embedded store.
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// The NATS server binary (with --nodes): a bare name is looked for on the PATH, then
    /// where `./test` installs it (~/.cache/eventhub-test/bin).
    #[arg(long, env = "EVENTHUB_NATS_SERVER", default_value = "nats-server")]
    nats_server: PathBuf,
    /// The server binary to start (ignored with --addr).
    #[arg(long, default_value = "target/release/eventhub")]
    server: PathBuf,
    /// Attach to running nodes instead (repeat for several)...
    #[arg(long, requires = "token")]
    addr: Vec<SocketAddr>,
    /// ...with their tokens as ROLE=TOKEN: attendee, moderator, speaker (the stage screen),
    /// av (the AV screen), and captioner with --captions-per-sec...
    #[arg(long)]
    token: Vec<String>,
    /// ...and their pids, for memory and CPU figures.
    #[arg(long)]
    pid: Vec<u32>,
    #[arg(long, default_value = "sjtu-forum")]
    event: String,
}

impl Args {
    fn rounds(&self) -> usize {
        if self.captions_per_sec > 0.0 {
            2
        } else {
            1
        }
    }
}

/// One hub node under test.
struct Node {
    addr: SocketAddr,
    pid: Option<u32>,
}

/// The servers under test.
struct Target {
    nodes: Vec<Node>,
    tokens: HashMap<String, String>,
    nats_pid: Option<u32>,
    /// Kept so that started servers are killed when the run ends.
    _children: Vec<tokio::process::Child>,
    _data: Option<tempfile::TempDir>,
}

impl Target {
    fn token(&self, role: &str) -> anyhow::Result<&str> {
        self.tokens.get(role).map(String::as_str).with_context(|| format!("no {role} token"))
    }

    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(|node| node.pid).collect()
    }
}

fn attach(args: &Args) -> anyhow::Result<Target> {
    let tokens = args
        .token
        .iter()
        .map(|pair| pair.split_once('=').map(|(r, t)| (r.to_owned(), t.to_owned())).context("--token ROLE=TOKEN"))
        .collect::<anyhow::Result<HashMap<_, _>>>()?;
    let pid = |k: usize| args.pid.get(k).copied();
    let nodes = args.addr.iter().enumerate().map(|(k, &addr)| Node { addr, pid: pid(k) }).collect();
    Ok(Target { nodes, tokens, nats_pid: None, _children: Vec::new(), _data: None })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds the NATS server: `name` itself when it is a path, else the first on the PATH, else the
/// one `./test` installs under `~/.cache/eventhub-test`.
fn find_nats(name: &Path) -> anyhow::Result<PathBuf> {
    if name.components().count() > 1 {
        return Ok(name.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    std::env::split_paths(&path)
        .chain(cache.map(|dir| dir.join("eventhub-test/bin")))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "{} not found: run ./test once (it installs nats-server 2.12 under ~/.cache/eventhub-test), \
                 or pass --nats-server",
                name.display()
            )
        })
}

/// Starts a NATS server with JetStream under `dir`; returns it and its client URL.
async fn start_nats(args: &Args, dir: &Path) -> anyhow::Result<(tokio::process::Child, String)> {
    let (port, monitor) = (free_port()?, free_port()?);
    let child = tokio::process::Command::new(find_nats(&args.nats_server)?)
        .args(["-js", "-sd"])
        .arg(dir)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-m", &monitor.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start nats-server")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", monitor)).await {
            stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return Ok((child, format!("nats://127.0.0.1:{port}")));
            }
        }
        if Instant::now() > deadline {
            bail!("nats-server did not become healthy in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts one node with `settings`; returns it with its address and the event's tokens.
async fn start_node(
    args: &Args,
    settings: &Path,
) -> anyhow::Result<(tokio::process::Child, SocketAddr, HashMap<String, String>)> {
    let mut child = tokio::process::Command::new(&args.server)
        .arg("--config")
        .arg(settings)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} (build it with cargo build --release)", args.server.display()))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let (mut addr, mut tokens, mut pages) = (None, HashMap::new(), false);
    // The links end with an empty line after the "Pages" heading.
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await?? {
        if let Some(url) = line.strip_prefix("eventhub is serving on http://") {
            addr = Some(url.trim().parse()?);
        }
        pages |= line.starts_with("Pages");
        if pages && line.trim().is_empty() {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some([event, role, link]) = words.get(..3) {
            if *event == args.event {
                let token = link.rsplit("token=").next().unwrap_or_default();
                let token = if *link == "token" { words.get(3).copied().unwrap_or_default() } else { token };
                tokens.insert((*role).to_owned(), token.to_owned());
            }
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr.context("the server printed no address")?, tokens))
}

async fn start(args: &Args) -> anyhow::Result<Target> {
    if !args.addr.is_empty() {
        return attach(args);
    }
    if args.nodes > 1 && args.captions_per_sec > 0.0 {
        bail!("caption lines are kept per node: a caption load runs on one node");
    }
    let data = tempfile::tempdir()?;
    let events = std::env::current_dir()?.join("config/events");
    let mut children = Vec::new();
    let (mut cluster, mut nats_pid) = (String::new(), None);
    if args.nodes > 0 {
        let (nats, url) = start_nats(args, &data.path().join("nats")).await?;
        nats_pid = nats.id();
        children.push(nats);
        cluster = format!("\n[cluster]\nurls = \"{url}\"\nreplicas = 1\n");
    }
    let (mut nodes, mut tokens) = (Vec::new(), HashMap::new());
    for k in 0..args.nodes.max(1) {
        let settings = data.path().join(format!("node-{k}.toml"));
        std::fs::write(
            &settings,
            format!(
                "[server]\nbind = \"127.0.0.1:0\"\ndata_dir = {:?}\nevents_dir = {:?}\n\n[limits]\n\
                 max_connections_per_event = 100000\nmax_connections_per_ip = 100000\n{cluster}",
                data.path().join(format!("data-{k}")),
                events
            ),
        )?;
        let (child, addr, printed) = start_node(args, &settings).await?;
        nodes.push(Node { addr, pid: child.id() });
        children.push(child);
        if k == 0 {
            tokens = printed;
        }
    }
    Ok(Target { nodes, tokens, nats_pid, _children: children, _data: Some(data) })
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory of all nodes, in KiB.
fn total_rss(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| rss_kib(pid)).sum()
}

/// CPU time a process has used, in clock ticks: (user, system).
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// CPU time of several processes together.
fn total_cpu(pids: &[u32]) -> Option<(u64, u64)> {
    pids.iter().map(|&pid| cpu_ticks(pid)).try_fold((0, 0), |sum, ticks| ticks.map(|t| (sum.0 + t.0, sum.1 + t.1)))
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

/// A hello as participant `k`, in language `LANGS[k % 3]`, following that caption track
/// when `captions`.
fn hello(
    event: &str,
    token: &str,
    participant: &str,
    k: usize,
    captions: bool,
    resume: Option<(&str, u64)>,
) -> Message {
    let mode = if k.is_multiple_of(2) { "remote" } else { "in_room" };
    let lang = LANGS[k % 3];
    let mut frame = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": participant,
                           "mode": mode, "lang": lang, "participant": participant});
    if captions {
        frame["captions"] = json!(lang);
    }
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

/// The digits at the start of `text`, as a number.
fn leading_number(text: &str) -> Option<u64> {
    let end = text.find(|c: char| !c.is_ascii_digit())?;
    text[..end].parse().ok()
}

/// The head count in a presence frame, read without parsing the whole frame.
fn presence_total(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(r#"{"type":"presence","#)?;
    const TOTAL: &str = r#""counts":{"total":"#;
    leading_number(&rest[rest.find(TOTAL)? + TOTAL.len()..])
}

/// The seq of a change frame, read without parsing the whole frame.
fn change_seq(text: &str) -> Option<u64> {
    leading_number(text.strip_prefix(r#"{"type":"change","seq":"#)?)
}

/// The track (an index into `LANGS`) and seq of a caption line, read without parsing it.
fn caption_line(text: &str) -> Option<(usize, u64)> {
    let rest = text.strip_prefix(r#"{"type":"caption","line":{"track":""#)?;
    let track = LANGS.iter().position(|lang| rest.starts_with(lang))?;
    leading_number(rest[LANGS[track].len()..].strip_prefix(r#"","seq":"#)?).map(|seq| (track, seq))
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

/// When each of a run's changes reached one connection: nanoseconds after the run's start,
/// or 0 while not yet.
fn times(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Shared by every task of a run: where the changes start, when each was sent, and when
/// each reached each connection.
struct Run {
    start: Instant,
    first_seq: AtomicU64,
    /// Changes in all rounds.
    changes: usize,
    sent_at: Vec<AtomicU64>,
    /// When the moderator's own copy of each change arrived, and then its acknowledgement.
    own_at: Vec<AtomicU64>,
    acked_at: Vec<AtomicU64>,
    /// The stage screen's and the AV screen's copies.
    stage_at: Vec<AtomicU64>,
    av_at: Vec<AtomicU64>,
    /// `arrived[attendee * changes + change]`.
    arrived: Vec<AtomicU64>,
    out_of_order: AtomicU64,
    reconnects: AtomicU64,
    idle_frames: AtomicUsize,
    watching_idle: AtomicBool,
    /// Per attendee, the last presence total it was sent.
    presence_total: Vec<AtomicU64>,
    captions: Captions,
}

/// The caption load: line `g` goes to track `g % 3` with seq `base[g % 3] + g / 3 + 1`.
struct Captions {
    /// Lines room is kept for.
    room: usize,
    /// Lines posted so far.
    posted: AtomicUsize,
    base: [AtomicU64; 3],
    sent_at: Vec<AtomicU64>,
    /// `arrived[attendee * room + line]`.
    arrived: Vec<AtomicU64>,
    /// Lines of a track the attendee does not follow.
    misrouted: AtomicU64,
}

impl Captions {
    fn new(args: &Args) -> Captions {
        let seconds = (args.changes as u64 * args.interval_ms) as f64 / 1000.0 + 2.0;
        let room = if args.captions_per_sec > 0.0 { (args.captions_per_sec * seconds).ceil() as usize } else { 0 };
        Captions {
            room,
            posted: AtomicUsize::new(0),
            base: Default::default(),
            sent_at: times(room),
            arrived: times(room * args.attendees),
            misrouted: AtomicU64::new(0),
        }
    }

    /// Whether every line posted has reached every reader of its track.
    fn all_arrived(&self, readers: &[usize]) -> bool {
        let posted = self.posted.load(Ordering::Acquire);
        readers.iter().all(|&a| {
            (0..posted)
                .filter(|line| line % 3 == a % 3)
                .all(|line| self.arrived[a * self.room + line].load(Ordering::Acquire) > 0)
        })
    }

    /// Records line `(track, seq)` reaching attendee `k`.
    fn arrived(&self, k: usize, (track, seq): (usize, u64), now: u64) {
        if track != k % 3 {
            self.misrouted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let base = self.base[track].load(Ordering::Acquire);
        let line = seq.checked_sub(base + 1).map(|n| n as usize * 3 + track);
        if let Some(line) = line.filter(|&line| line < self.room) {
            self.arrived[k * self.room + line].store(now, Ordering::Release);
        }
    }
}

impl Run {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records change `seq` reaching a connection, into `at`.
    fn record(&self, at: &[AtomicU64], seq: u64, now: u64) {
        let first = self.first_seq.load(Ordering::Acquire);
        if first > 0 && seq >= first && seq - first < self.changes as u64 {
            at[(seq - first) as usize].store(now, Ordering::Release);
        }
    }
}

/// Where an attendee connects, and as whom.
struct Seat {
    k: usize,
    addr: SocketAddr,
    source: IpAddr,
    slow: bool,
}

async fn attendee(
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
enum Screen {
    Stage,
    Av,
}

/// A staff screen: records when each change reaches it.
async fn screen(addr: SocketAddr, hello: Message, run: Arc<Run>, which: Screen) -> anyhow::Result<()> {
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

/// The captioner: posts lines over zh, ja and en in turn at the rate until `stop`.
async fn captioner(
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
async fn caption_bases(addr: SocketAddr, token: &str, event: &str, run: &Run) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for (track, lang) in LANGS.iter().enumerate() {
        let url = format!("http://{addr}/api/v1/events/{event}/captions/seq?lang={lang}");
        let answer = client.get(url).bearer_auth(token).send().await?.error_for_status()?.text().await?;
        let answer: Value = serde_json::from_str(&answer)?;
        run.captions.base[track].store(answer["seq"].as_u64().unwrap_or(0), Ordering::Release);
    }
    Ok(())
}

/// The moderator, pressing like a console: a change at every tick, without waiting for the
/// last one's ack, with the show version of the latest change its console has seen. A
/// change that reaches the console later than the next press makes that press `conflict`.
struct Moderator {
    sink: futures_util::stream::SplitSink<Ws, Message>,
    segments: Vec<String>,
}

/// What the moderator's console has seen, shared with its reader.
#[derive(Default)]
struct Console {
    version: AtomicU64,
    /// Answers (acks and errors) to the presses so far.
    answered: AtomicUsize,
    refused: AtomicUsize,
    first_refusal: std::sync::Mutex<Option<String>>,
}

/// The press number `k` in a frame's `"command":"m{k}"` or `"id":"m{k}"`.
fn press(text: &str, key: &str) -> Option<usize> {
    let at = text.find(key)? + key.len();
    leading_number(&text[at..]).map(|k| k as usize)
}

impl Moderator {
    async fn join(
        addr: SocketAddr,
        event: &str,
        token: &str,
        run: Arc<Run>,
    ) -> anyhow::Result<(Moderator, Arc<Console>)> {
        let mut ws = open(addr, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
        ws.send(hello(event, token, "load-moderator", 1, false, None)).await?;
        let welcome: Value = serde_json::from_str(&until(&mut ws, |t| t.starts_with(r#"{"type":"welcome""#)).await?)?;
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
    async fn round(&mut self, args: &Args, run: &Run, console: &Console, from: usize) -> anyhow::Result<()> {
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

fn quantiles(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// Latencies from `sent` to `at`, in microseconds; a missing arrival counts as lost.
fn latencies<'a>(
    pairs: impl Iterator<Item = (&'a AtomicU64, &'a AtomicU64)>,
    lost: &mut u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new(3)?;
    for (sent, at) in pairs {
        match at.load(Ordering::Acquire) {
            0 => *lost += 1,
            at => h.record((at.saturating_sub(sent.load(Ordering::Acquire)) / 1000).max(1))?,
        }
    }
    Ok(h)
}

/// CPU figures over a stretch of the run: seconds, kernel share, µs per delivery.
fn cpu_line(before: (u64, u64), after: (u64, u64), deliveries: f64) -> String {
    let (user, system) = ((after.0 - before.0) as f64, (after.1 - before.1) as f64);
    let seconds = (user + system) / ticks_per_second();
    format!(
        "{seconds:.2} s ({:.0}% in the kernel), {:.1} µs per delivery",
        100.0 * system / (user + system).max(1.0),
        seconds * 1e6 / deliveries.max(1.0)
    )
}

fn cpu_seconds(before: (u64, u64), after: (u64, u64)) -> f64 {
    ((after.0 - before.0) + (after.1 - before.1)) as f64 / ticks_per_second()
}

/// CPU readings taken at the start and end of a round.
struct Readings {
    servers: Option<(u64, u64)>,
    own: Option<(u64, u64)>,
    nats: Option<(u64, u64)>,
}

impl Readings {
    fn take(target: &Target) -> Readings {
        Readings {
            servers: total_cpu(&target.pids()),
            own: cpu_ticks(std::process::id()),
            nats: target.nats_pid.and_then(cpu_ticks),
        }
    }
}

/// Reports one round of changes (`changes` from `from`); returns the servers' CPU seconds.
fn report_round(
    args: &Args,
    run: &Run,
    readers: &[usize],
    from: usize,
    cpu: (&Readings, &Readings),
) -> anyhow::Result<(u64, f64)> {
    let changes = from..from + args.changes;
    let mut lost = 0u64;
    let mut delivery = Histogram::<u64>::new(3)?;
    let mut fanout = Histogram::<u64>::new(3)?;
    let mut fanouts = Vec::with_capacity(args.changes);
    for change in changes.clone() {
        let sent = &run.sent_at[change];
        let copies = readers.iter().map(|&a| (sent, &run.arrived[a * run.changes + change]));
        let h = latencies(copies, &mut lost)?;
        delivery.add(&h)?;
        let last = if h.is_empty() { 0 } else { h.max() };
        fanout.record(last.max(1))?;
        fanouts.push((sent.load(Ordering::Acquire), last));
    }
    println!("fan-out to the last of {} readers, over {} changes: {}", readers.len(), args.changes, quantiles(&fanout));
    println!("per delivery ({} deliveries): {}", delivery.len(), quantiles(&delivery));
    let staff =
        |at: &Vec<AtomicU64>, lost: &mut u64| latencies(changes.clone().map(|c| (&run.sent_at[c], &at[c])), lost);
    println!("moderator's own change (sent → its copy): {}", quantiles(&staff(&run.own_at, &mut lost)?));
    println!("moderator's ack (sent → ack): {}", quantiles(&staff(&run.acked_at, &mut lost)?));
    println!("stage screen (node 1): {}", quantiles(&staff(&run.stage_at, &mut lost)?));
    println!("AV screen (node {}): {}", args.nodes.max(1), quantiles(&staff(&run.av_at, &mut lost)?));
    // A fan-out still running when the next change is sent delays it: if that kept
    // happening, each fan-out would start later than the one before.
    let overlapped = fanouts.windows(2).filter(|pair| pair[0].0 + pair[0].1 * 1000 > pair[1].0).count();
    let tenth = (fanouts.len() / 10).max(1);
    let mean_ms =
        |part: &[(u64, u64)]| part.iter().map(|f| f.1 as f64).sum::<f64>() / part.len().max(1) as f64 / 1000.0;
    println!(
        "backlog: {overlapped} fan-outs still running at the next change; mean fan-out of the first and last {tenth} changes: {:.1} / {:.1} ms",
        mean_ms(&fanouts[..tenth]),
        mean_ms(&fanouts[fanouts.len() - tenth..]),
    );
    let deliveries = (args.changes * args.attendees) as f64;
    let mut seconds = 0.0;
    if let (Some(before), Some(after)) = (cpu.0.servers, cpu.1.servers) {
        println!("server CPU during the changes (all nodes): {}", cpu_line(before, after, deliveries));
        seconds = cpu_seconds(before, after);
    }
    if let (Some(before), Some(after)) = (cpu.0.nats, cpu.1.nats) {
        println!("nats-server CPU during the changes: {}", cpu_line(before, after, deliveries));
    }
    if let (Some(before), Some(after)) = (cpu.0.own, cpu.1.own) {
        println!("hub-load's own CPU, same machine: {}", cpu_line(before, after, deliveries));
    }
    Ok((lost, seconds))
}

/// Reports the caption round's lines; returns how many deliveries were lost.
fn report_captions(args: &Args, run: &Run, readers: &[usize], cpu_extra: f64) -> anyhow::Result<u64> {
    let captions = &run.captions;
    let posted = captions.posted.load(Ordering::Acquire);
    let mut lost = 0u64;
    let copies = readers.iter().flat_map(|&a| {
        (0..posted)
            .filter(move |line| line % 3 == a % 3)
            .map(move |line| (&captions.sent_at[line], &captions.arrived[a * captions.room + line]))
    });
    let h = latencies(copies, &mut lost)?;
    println!(
        "captions: {posted} lines at {} per second over {}; {} deliveries to their track's readers: {}",
        args.captions_per_sec,
        LANGS.join(", "),
        h.len(),
        quantiles(&h)
    );
    println!(
        "caption CPU: {cpu_extra:.2} s more than the round without captions, {:.1} µs per caption delivery",
        cpu_extra * 1e6 / (h.len() as f64).max(1.0)
    );
    let misrouted = captions.misrouted.load(Ordering::Relaxed);
    println!("caption losses: {lost}; lines of another track: {misrouted}");
    Ok(lost + misrouted)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let target = start(&args).await?;
    let pids = target.pids();
    let rss_before = total_rss(&pids);
    let changes = args.changes * args.rounds();
    let run = Arc::new(Run {
        start: Instant::now(),
        first_seq: AtomicU64::new(0),
        changes,
        sent_at: times(changes),
        own_at: times(changes),
        acked_at: times(changes),
        stage_at: times(changes),
        av_at: times(changes),
        arrived: times(changes * args.attendees),
        out_of_order: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        idle_frames: AtomicUsize::new(0),
        watching_idle: AtomicBool::new(false),
        presence_total: (0..args.attendees).map(|_| AtomicU64::new(0)).collect(),
        captions: Captions::new(&args),
    });
    let slow_count = args.attendees * args.slow_percent / 100;
    let addrs: Vec<String> = target.nodes.iter().map(|node| node.addr.to_string()).collect();
    println!(
        "hub-load: {} attendees ({} not reading), {} changes every {} ms, {} source addresses, {} on {}",
        args.attendees,
        slow_count,
        changes,
        args.interval_ms,
        args.sources,
        if args.nodes > 0 { format!("{} nodes on NATS JetStream", target.nodes.len()) } else { "one node".to_owned() },
        addrs.join(", ")
    );
    let captions = args.captions_per_sec > 0.0;
    if captions {
        caption_bases(target.nodes[0].addr, target.token("captioner")?, &args.event, &run).await?;
    }

    let shared = Arc::new((target.token("attendee")?.to_owned(), args.event.clone(), captions));
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let joined = Arc::new(tokio::sync::Barrier::new(args.attendees + 1));
    let connect_started = Instant::now();
    let mut tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::with_capacity(args.attendees);
    for k in 0..args.attendees {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (k % usize::from(args.sources.max(1))) as u8));
        let seat = Seat { k, addr: target.nodes[k % target.nodes.len()].addr, source, slow: k < slow_count };
        tasks.push(tokio::spawn(attendee(shared.clone(), run.clone(), seat, gate.clone(), joined.clone())));
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

    // Idle: let presence settle (in a cluster, nodes share their counts once a second), then
    // count what still arrives while nothing changes.
    let exact = || {
        (slow_count..args.attendees)
            .filter(|&a| run.presence_total[a].load(Ordering::Relaxed) == args.attendees as u64)
            .count()
    };
    let settling = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    while exact() < args.attendees - slow_count && settling.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "presence: {} of {} reading attendees show the exact head count ({}) {:.1} s after the storm",
        exact(),
        args.attendees - slow_count,
        args.attendees,
        settling.elapsed().as_secs_f64()
    );
    run.watching_idle.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    run.watching_idle.store(false, Ordering::Relaxed);
    println!(
        "idle: {} frames to all attendees in {} s with nothing changing (keep-alive pings not counted)",
        run.idle_frames.load(Ordering::Relaxed),
        args.idle_secs
    );
    let rss_idle = total_rss(&pids);
    if let (Some(before), Some(after)) = (rss_before, rss_idle) {
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / args.attendees as f64;
        println!(
            "memory: server RSS {before} KiB before, {after} KiB with all connected: {per:.0} bytes per connection"
        );
    }

    let first = &target.nodes[0];
    let last = &target.nodes[target.nodes.len() - 1];
    let (mut moderator, console) =
        Moderator::join(first.addr, &args.event, target.token("moderator")?, run.clone()).await?;
    let staff_hello = |role: &str, name: &str| -> anyhow::Result<Message> {
        Ok(hello(&args.event, target.token(role)?, name, 0, false, None))
    };
    tasks.push(tokio::spawn(screen(first.addr, staff_hello("speaker", "load-stage")?, run.clone(), Screen::Stage)));
    tasks.push(tokio::spawn(screen(last.addr, staff_hello("av", "load-av")?, run.clone(), Screen::Av)));
    // The screens' welcomes come before the first change.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let readers: Vec<usize> = (slow_count..args.attendees).collect();
    let all_arrived = |change: usize| {
        readers.iter().all(|&a| run.arrived[a * run.changes + change].load(Ordering::Acquire) > 0)
            && run.stage_at[change].load(Ordering::Acquire) > 0
            && run.av_at[change].load(Ordering::Acquire) > 0
    };
    let mut lost = 0;
    let mut round_cpu = Vec::new();
    for round in 0..args.rounds() {
        let from = round * args.changes;
        let stop = Arc::new(AtomicBool::new(false));
        let posting = (round == 1).then(|| {
            let token = target.token("captioner").map(str::to_owned);
            let (addr, args, run, stop) = (first.addr, args.clone(), run.clone(), stop.clone());
            tokio::spawn(async move { captioner(addr, token?, args, run, stop).await })
        });
        let before = Readings::take(&target);
        moderator.round(&args, &run, &console, from).await?;
        stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_arrived(from + args.changes - 1) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(posting) = posting {
            posting.await??;
            // Lines late behind the changes are late, not lost: wait for them a while.
            let deadline = Instant::now() + Duration::from_secs(15);
            while !run.captions.all_arrived(&readers) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let after = Readings::take(&target);
        for task in &tasks {
            if task.is_finished() {
                bail!("an attendee or a staff screen failed; see above");
            }
        }
        println!("{}", if round == 1 { "-- with captions --" } else { "-- changes --" });
        let (round_lost, seconds) = report_round(&args, &run, &readers, from, (&before, &after))?;
        lost += round_lost;
        round_cpu.push(seconds);
        if round == 1 {
            lost += report_captions(&args, &run, &readers, round_cpu[1] - round_cpu[0])?;
        }
    }
    let out_of_order = run.out_of_order.load(Ordering::Relaxed);
    let reconnects = run.reconnects.load(Ordering::Relaxed);
    println!("losses: {lost}; out of order: {out_of_order}; reconnects: {reconnects}");
    if let (Some(idle), Some(end)) = (rss_idle, total_rss(&pids)) {
        println!("memory after the changes: {end} KiB ({:+} KiB since idle)", end as i64 - idle as i64);
    }
    if lost > 0 || out_of_order > 0 {
        bail!("{lost} deliveries lost, {out_of_order} out of order");
    }
    Ok(())
}
