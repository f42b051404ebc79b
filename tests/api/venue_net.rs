//! Two sites on one machine for the venue-and-cloud tests (issue 27): a venue and a cloud,
//! each a network namespace with its own NATS server (the venue's a leaf node of the
//! cloud's, each its own JetStream domain), joined by one veth pair, "the internet", that a
//! test cuts and restores. The test process, in the root namespace, reaches both sides over
//! an access pair to each; nothing routes between the sides but the link.
//!
//! `Sites::new()` builds both (10.213.B.0/30 the link: venue .1, cloud .2; the root reaches
//! the venue at .6 and the cloud at .10), `hub(side, settings)` starts a hub of ours beside a
//! side's NATS server, `cut()` / `restore()` the link, `leaf_connected()` from the cloud's
//! `/leafz`. Needs root (`ip netns`), as the cluster tests' machine has.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use tokio::process::{Child, Command};

use crate::cluster::{self, nats_binary, ONE_AT_A_TIME};
use crate::crash::{kill_9, Process};
use crate::helpers::http_get;

/// Every address here is 10.213.B.x, one block B per living [`Sites`].
const NET: [u8; 2] = [10, 213];
/// Namespaces and interfaces are named `eh`, a few letters, then `<pid>x<n>`: whose they
/// are, so that a later run can clear what a killed one left.
const PREFIX: &str = "eh";
/// Taken while leftovers are cleared and a block is chosen and taken: test processes of
/// other worktrees may build their sites at the same moment.
const LOCK: &str = "/tmp/eventhub-venue-net.lock";
const CLIENT_PORT: u16 = 4222;
const MONITOR_PORT: u16 = 8222;
const LEAF_PORT: u16 = 7422;
/// How long a NATS server or a hub may take to come up on a loaded machine.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// Which end of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Venue,
    Cloud,
}

impl Side {
    fn letter(self) -> char {
        match self {
            Side::Venue => 'v',
            Side::Cloud => 'c',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Side::Venue => "venue",
            Side::Cloud => "cloud",
        }
    }
}

fn address(block: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(NET[0], NET[1], block, host)
}

/// Runs iproute2's `ip` and fails the test if it fails.
fn ip(args: &[&str]) -> String {
    let output = std::process::Command::new("ip").args(args).output().expect(
        "the venue and cloud tests need iproute2's ip: run ./test, which installs it (apt-get install iproute2)",
    );
    assert!(
        output.status.success(),
        "ip {} failed: {} (the venue and cloud tests make network namespaces, which takes root: run ./test as root)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `ip` where failing is an answer (the thing is gone already).
fn ip_quietly(args: &[&str]) -> String {
    std::process::Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

/// The process that made a namespace or interface of ours, from its name.
fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let (pid, n) = rest.split_once('x')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills every process in `namespace` and waits a little for them to go, so that a deleted
/// namespace takes its interfaces with it.
fn empty(namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = ip_quietly(&["netns", "pids", namespace]);
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        let _ = std::process::Command::new("kill").arg("-9").args(&pids).stderr(Stdio::null()).status();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes the namespaces, root-side interfaces and scratch directories of test processes
/// that died without cleaning up, so that a killed run never blocks the next.
fn clear_leftovers() {
    for entry in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = name.split('-').next().unwrap_or_default();
        if owner(id).is_some_and(|pid| !alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    for line in ip_quietly(&["netns", "list"]).lines() {
        let namespace = line.split_whitespace().next().unwrap_or_default();
        if owner(namespace).is_some_and(|pid| !alive(pid)) {
            empty(namespace);
            ip_quietly(&["netns", "del", namespace]);
        }
    }
    for line in ip_quietly(&["-o", "link", "show"]).lines() {
        let name = line.split(':').nth(1).unwrap_or_default().trim();
        let name = name.split('@').next().unwrap_or_default();
        if owner(name).is_some_and(|pid| !alive(pid)) {
            ip_quietly(&["link", "del", name]);
        }
    }
}

/// The first block no interface of the root namespace uses.
fn free_block() -> u8 {
    let taken = ip(&["-o", "-4", "addr", "show"]);
    let prefix = format!("{}.{}.", NET[0], NET[1]);
    (0..=u8::MAX).find(|block| !taken.contains(&format!(" {prefix}{block}."))).expect("a free 10.213.x block")
}

/// The namespaces and the root's ends of the access pairs; dropping it kills whatever runs
/// in the namespaces and deletes them all.
struct Net {
    id: String,
}

impl Net {
    fn namespace(&self, side: Side) -> String {
        format!("{PREFIX}{}{}", side.letter(), self.id)
    }

    /// The link's end in `side`'s namespace.
    fn link(&self, side: Side) -> String {
        format!("{PREFIX}l{}{}", side.letter(), self.id)
    }

    /// The root's end of the access pair to `side`.
    fn root_end(&self, side: Side) -> String {
        format!("{PREFIX}r{}{}", side.letter(), self.id)
    }

    /// `side`'s end of its access pair.
    fn access_end(&self, side: Side) -> String {
        format!("{PREFIX}a{}{}", side.letter(), self.id)
    }

    /// A temporary directory named as ours, for `what`: a NATS server's or a hub's.
    fn scratch(&self, what: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("{PREFIX}{}-{what}-", self.id)).tempdir().unwrap()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for side in [Side::Venue, Side::Cloud] {
            empty(&self.namespace(side));
            // Deleted here rather than with the namespace, so that the block is free at once.
            ip_quietly(&["link", "del", &self.root_end(side)]);
            ip_quietly(&["netns", "del", &self.namespace(side)]);
        }
    }
}

/// One side's NATS server: its config, store and log outlive its restarts.
struct Site {
    // First: killed before its store is deleted.
    nats: Option<Child>,
    side: Side,
    namespace: String,
    /// Where the root namespace reaches this side.
    access: Ipv4Addr,
    dir: tempfile::TempDir,
}

impl Site {
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    async fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .arg(nats_binary())
            .arg("-c")
            .arg(self.dir.path().join("nats.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts");
        self.nats = Some(child);
        let deadline = Instant::now() + START_PATIENCE;
        while get(self.access, MONITOR_PORT, "/healthz").await.map(|(status, _)| status) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "the {} NATS server is not healthy within {START_PATIENCE:?}; its log ends:\n{}",
                self.side.name(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.nats.take() {
            kill_9(&mut child).await;
        }
    }
}

/// An HTTP GET to `host:port`, `None` when nothing answers within a few seconds.
async fn get(host: Ipv4Addr, port: u16, path: &str) -> Option<(u16, String)> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.get(format!("http://{host}:{port}{path}")).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// The venue and the cloud, each in its namespace with its NATS server running.
pub(crate) struct Sites {
    block: u8,
    venue: Site,
    cloud: Site,
    // Last: the servers are killed before their namespaces go.
    net: Net,
}

/// Sites made by this process so far: part of each one's names.
static MADE: AtomicUsize = AtomicUsize::new(0);

impl Sites {
    pub(crate) async fn new() -> Sites {
        let net = Net { id: format!("{}x{}", std::process::id(), MADE.fetch_add(1, Ordering::Relaxed)) };
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(LOCK).unwrap();
        lock.lock().expect("the sites' lock");
        clear_leftovers();
        let block = free_block();
        let (venue, cloud) = (net.namespace(Side::Venue), net.namespace(Side::Cloud));
        ip(&["netns", "add", &venue]);
        ip(&["netns", "add", &cloud]);
        let (venue_link, cloud_link) = (net.link(Side::Venue), net.link(Side::Cloud));
        ip(&[
            "link",
            "add",
            &venue_link,
            "netns",
            &venue,
            "type",
            "veth",
            "peer",
            "name",
            &cloud_link,
            "netns",
            &cloud,
        ]);
        ip(&["-n", &venue, "addr", "add", &format!("{}/30", address(block, 1)), "dev", &venue_link]);
        ip(&["-n", &cloud, "addr", "add", &format!("{}/30", address(block, 2)), "dev", &cloud_link]);
        for (side, namespace, root_host) in [(Side::Venue, &venue, 5), (Side::Cloud, &cloud, 9)] {
            let (root_end, access_end) = (net.root_end(side), net.access_end(side));
            ip(&["link", "add", &root_end, "type", "veth", "peer", "name", &access_end, "netns", namespace]);
            ip(&["addr", "add", &format!("{}/30", address(block, root_host)), "dev", &root_end]);
            ip(&["-n", namespace, "addr", "add", &format!("{}/30", address(block, root_host + 1)), "dev", &access_end]);
            ip(&["link", "set", &root_end, "up"]);
            ip(&["-n", namespace, "link", "set", &access_end, "up"]);
            ip(&["-n", namespace, "link", "set", "lo", "up"]);
        }
        ip(&["-n", &venue, "link", "set", &venue_link, "up"]);
        ip(&["-n", &cloud, "link", "set", &cloud_link, "up"]);
        drop(lock);

        let site = |side: Side, namespace: String, access: Ipv4Addr| Site {
            side,
            namespace,
            access,
            dir: net.scratch(side.name()),
            nats: None,
        };
        let mut sites = Sites {
            block,
            venue: site(Side::Venue, venue, address(block, 6)),
            cloud: site(Side::Cloud, cloud, address(block, 10)),
            net,
        };
        sites.configure();
        sites.cloud.start().await;
        sites.venue.start().await;
        sites
    }

    /// Writes both servers' configs.
    fn configure(&self) {
        let common = |site: &Site| {
            format!(
                "server_name: {name}\nlisten: 0.0.0.0:{CLIENT_PORT}\nhttp: 0.0.0.0:{MONITOR_PORT}\n\
                 # A cut link is noticed by missed pongs: within 3 s rather than the default 4 min.\n\
                 ping_interval: \"1s\"\nping_max: 2\n\
                 jetstream {{\n  store_dir: \"{store}\"\n  domain: {name}\n}}\n",
                name = site.side.name(),
                store = site.dir.path().join("store").display(),
            )
        };
        let cloud = format!(
            "{}leafnodes {{\n  host: {}\n  port: {LEAF_PORT}\n}}\n",
            common(&self.cloud),
            address(self.block, 2)
        );
        // Both domains use the same subjects, so what is not denied here would be captured
        // by the other side's streams and buckets.
        let venue = format!(
            "{}leafnodes {{\n  reconnect: \"1s\"\n  remotes: [{{\n    url: \"nats-leaf://{}:{LEAF_PORT}\"\n{}  }}]\n}}\n",
            common(&self.venue),
            address(self.block, 2),
            DENIED
        );
        std::fs::write(self.cloud.dir.path().join("nats.conf"), cloud).unwrap();
        std::fs::write(self.venue.dir.path().join("nats.conf"), venue).unwrap();
    }

    fn site(&mut self, side: Side) -> &mut Site {
        match side {
            Side::Venue => &mut self.venue,
            Side::Cloud => &mut self.cloud,
        }
    }

    /// Where the test process reaches `side`'s hubs and NATS server.
    pub(crate) fn access(&self, side: Side) -> Ipv4Addr {
        match side {
            Side::Venue => self.venue.access,
            Side::Cloud => self.cloud.access,
        }
    }

    /// `side`'s NATS server, as the test process reaches it.
    pub(crate) fn nats_url(&self, side: Side) -> String {
        format!("nats://{}:{CLIENT_PORT}", self.access(side))
    }

    /// kill -9 of `side`'s NATS server, then the same server again on the same store.
    pub(crate) async fn restart_nats(&mut self, side: Side) {
        let site = self.site(side);
        site.kill().await;
        site.start().await;
    }

    /// The internet goes: the link down at both ends.
    pub(crate) fn cut(&self) {
        self.set_link("down");
    }

    /// The internet comes back.
    pub(crate) fn restore(&self) {
        self.set_link("up");
    }

    fn set_link(&self, state: &str) {
        for side in [Side::Venue, Side::Cloud] {
            ip(&["-n", &self.net.namespace(side), "link", "set", &self.net.link(side), state]);
        }
    }

    /// Whether the cloud's NATS server has the venue's leaf connection.
    pub(crate) async fn leaf_connected(&self) -> bool {
        let Some((200, body)) = get(self.cloud.access, MONITOR_PORT, "/leafz").await else { return false };
        let leafz: serde_json::Value = serde_json::from_str(&body).expect("/leafz answers JSON");
        leafz["leafnodes"].as_u64().unwrap_or(0) > 0
    }

    /// Waits until [`Sites::leaf_connected`] says `connected`, within `patience`; returns
    /// how long that took.
    pub(crate) async fn until_leaf(&self, connected: bool, patience: Duration) -> Duration {
        let began = Instant::now();
        while self.leaf_connected().await != connected {
            assert!(
                began.elapsed() < patience,
                "the leaf connection is {} within {patience:?}; the venue's NATS log ends:\n{}",
                if connected { "up" } else { "down" },
                self.venue.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        began.elapsed()
    }

    /// A hub node of ours in `side`'s namespace: the shipped settings plus `settings`
    /// (TOML, such as a `[cluster]` table naming the side's NATS server at 127.0.0.1).
    pub(crate) async fn hub(&self, side: Side, settings: &str) -> Hub {
        let dir = self.net.scratch("hub");
        let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
        std::fs::write(dir.path().join("settings.toml"), format!("{shipped}\n{settings}\n")).unwrap();
        let namespace = self.net.namespace(side);
        let access = self.access(side);
        let process = Hub::launch(&namespace, access, dir.path()).await;
        Hub { process, namespace, access, dir }
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for site in [&self.venue, &self.cloud] {
                eprintln!("the {} NATS server's log ends:\n{}", site.side.name(), site.log_tail());
            }
        }
    }
}

/// The venue's leaf connection keeps each side's streams and buckets to that side's own
/// publishes; everything else crosses both ways. Without these denies a stream's subjects
/// are interest like any other: the cloud's publish on `eventhub.smoke.log` was acked by the
/// venue's stream, the venue's on `eventhub.captions.smoke` by a cloud stream (tried).
///
/// What crosses, and must (seen in `/leafz?subs=1`): the venue domain's JetStream API,
/// `$JS.venue.API.>`, which the venue's server answers as its own `$JS.API.>` (the plain
/// `$JS.API.>` both servers keep local themselves once their domains differ), with replies
/// on `_INBOX.>`; for a cloud mirror of a venue stream, its consumer's delivery subject
/// `$JS.M.<id>` (messages and heartbeats, venue to cloud) and flow control
/// `$JS.FC.<stream>.<id>.*` (cloud to venue); the mirror's consumer takes no acks; and our
/// own `eventhub.venue.>` (the venue's heartbeat, remote commands as requests whose replies
/// come back on `_INBOX.>`).
const DENIED: &str = r#"    # Imports: the cloud's publishes the venue never takes in. Exports: the venue's
    # publishes the cloud never takes in. Each pair keeps one kind of data to its own side.
    deny_imports: [
      # The event logs: the venue's stream is the one truth; the cloud never appends to it.
      "eventhub.*.log",
      # Captions and attendance: each side's streams hold what was published on that side.
      "eventhub.captions.>", "eventhub.attendance.>",
      # The buckets "eventhub" and "eventhub-presence" exist on both sides: a put on one
      # side must not land in the other's bucket of the same name. nats-server 2.12.8
      # already kept them apart without this (tried); the deny says it, whatever a later
      # server does.
      "$KV.>"
    ]
    deny_exports: [
      # A venue append reaches the cloud only through the mirror, under the mirror's own
      # seq, never by its subject into a cloud stream that listens on it.
      "eventhub.*.log",
      "eventhub.captions.>", "eventhub.attendance.>",
      "$KV.>"
    ]
"#;

/// A hub node in one side's namespace, on a data dir that outlives its restarts; its log is
/// printed when the test fails.
pub(crate) struct Hub {
    pub(crate) process: Process,
    namespace: String,
    access: Ipv4Addr,
    dir: tempfile::TempDir,
}

impl Hub {
    async fn launch(namespace: &str, access: Ipv4Addr, dir: &Path) -> Process {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", namespace, env!("CARGO_BIN_EXE_eventhub")]);
        let mut process = cluster::launch(command, dir, "0.0.0.0:0", &format!("a hub in {namespace}")).await;
        // It says where it listens inside its namespace; from outside it is here.
        process.addr = SocketAddr::new(access.into(), process.addr.port());
        process
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.process.addr
    }

    /// kill -9, then the same hub again on the same data (on another port).
    pub(crate) async fn restart(&mut self) {
        kill_9(&mut self.process.child).await;
        self.process = Hub::launch(&self.namespace, self.access, self.dir.path()).await;
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the hub in {} logged:\n{}", self.namespace, self.log());
        }
    }
}

/// `what` within `patience`, or the test fails naming it.
async fn within<T>(patience: Duration, what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(patience, future).await.unwrap_or_else(|_| panic!("{what} within {patience:?}"))
}

async fn connect(url: String) -> async_nats::Client {
    within(Duration::from_secs(10), "a NATS connection", async_nats::connect(url.as_str()))
        .await
        .unwrap_or_else(|e| panic!("a NATS client connects to {url}: {e}"))
}

/// Publishes `payload` and waits for the stream's ack; returns the seq.
async fn append(js: &jetstream::Context, subject: &str, payload: String) -> u64 {
    within(Duration::from_secs(10), "a publish is acked", async {
        js.publish(subject.to_owned(), payload.into()).await.expect("published").await.expect("acked").sequence
    })
    .await
}

/// Messages and last seq of the stream `name`.
async fn state(js: &jetstream::Context, name: &str) -> (u64, u64) {
    within(Duration::from_secs(10), "stream info", try_state(js, name)).await.expect("the stream's info")
}

async fn try_state(js: &jetstream::Context, name: &str) -> Result<(u64, u64), async_nats::Error> {
    let mut stream = js.get_stream(name).await?;
    let state = &stream.info().await?.state;
    Ok((state.messages, state.last_sequence))
}

/// Asks `subject` until a responder answers (interest takes a moment to cross the leaf).
async fn until_answered(client: &async_nats::Client, subject: &str, patience: Duration) -> String {
    let deadline = Instant::now() + patience;
    loop {
        let asked = tokio::time::timeout(Duration::from_secs(3), client.request(subject.to_owned(), "ping".into()));
        if let Ok(Ok(answer)) = asked.await {
            return String::from_utf8(answer.payload.to_vec()).unwrap();
        }
        assert!(Instant::now() < deadline, "{subject} is answered within {patience:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SMOKE: &str = "EVENTHUB_smoke";
const SMOKE_LOG: &str = "eventhub.smoke.log";
/// Under `eventhub.venue.>` as the remote commands are, but not their subject: the venue hub
/// of this test answers those itself.
const COMMAND: &str = "eventhub.venue.smoke";

#[tokio::test]
async fn a_cloud_mirror_follows_the_venue_across_a_cut_link_and_no_publish_crosses_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let mut sites = Sites::new().await;
    sites.until_leaf(true, Duration::from_secs(15)).await;
    // Before the smoke stream exists: a hub takes every `EVENTHUB_…` stream for an event's
    // at start, and the smoke test's records are not a hub's.
    let mut hub =
        sites.hub(Side::Venue, &format!("[cluster]\nurls = \"nats://127.0.0.1:{CLIENT_PORT}\"\nreplicas = 1\n")).await;
    let (status, _, body) = http_get(hub.addr(), "/").await;
    assert_eq!(status, 200, "the venue's hub serves its page to the root namespace: {body}");
    hub.restart().await;
    let (status, _, body) = http_get(hub.addr(), "/").await;
    assert_eq!(status, 200, "and again after a kill -9 on the same data: {body}");

    let (venue, cloud) = tokio::join!(connect(sites.nats_url(Side::Venue)), connect(sites.nats_url(Side::Cloud)));
    let (venue_js, cloud_js) = (jetstream::new(venue.clone()), jetstream::new(cloud.clone()));

    let log = stream::Config { name: SMOKE.into(), subjects: vec![SMOKE_LOG.into()], ..Default::default() };
    within(Duration::from_secs(10), "the venue's stream", venue_js.create_stream(log)).await.unwrap();
    let mirror = stream::Config {
        name: SMOKE.into(),
        mirror: Some(stream::Source {
            name: SMOKE.into(),
            external: Some(stream::External { api_prefix: "$JS.venue.API".into(), delivery_prefix: None }),
            ..Default::default()
        }),
        ..Default::default()
    };
    within(Duration::from_secs(10), "the cloud's mirror", cloud_js.create_stream(mirror)).await.unwrap();
    // A cloud stream on a subject the venue also publishes on: it must stay empty.
    let captions = stream::Config {
        name: "SMOKE_cloud_captions".into(),
        subjects: vec!["eventhub.captions.smoke".into()],
        ..Default::default()
    };
    within(Duration::from_secs(10), "the cloud's captions stream", cloud_js.create_stream(captions)).await.unwrap();

    let mut sent = Vec::new();
    for k in 1..=5 {
        let payload = format!("change {k}");
        assert_eq!(append(&venue_js, SMOKE_LOG, payload.clone()).await, k);
        sent.push(payload);
    }
    until_mirrored(&cloud_js, &sent, Duration::from_secs(20)).await;

    let crossed = tokio::time::timeout(Duration::from_secs(10), async {
        cloud_js.publish(SMOKE_LOG, "from the cloud".into()).await?.await.map_err(async_nats::Error::from)
    })
    .await;
    assert!(!matches!(crossed, Ok(Ok(_))), "no stream takes the cloud's publish: {crossed:?}");
    let stray = tokio::time::timeout(Duration::from_secs(10), async {
        venue_js
            .publish("eventhub.captions.smoke", "from the venue".into())
            .await?
            .await
            .map_err(async_nats::Error::from)
    })
    .await;
    assert!(!matches!(stray, Ok(Ok(_))), "no stream takes the venue's caption: {stray:?}");
    assert_eq!(state(&venue_js, SMOKE).await, (5, 5), "the cloud's publish did not reach the venue's stream");
    assert_eq!(state(&cloud_js, "SMOKE_cloud_captions").await, (0, 0), "the venue's did not reach the cloud's");

    // A bucket of the same name on both sides, as the hubs' are: each keeps its side's puts.
    let mut buckets = Vec::new();
    for js in [&venue_js, &cloud_js] {
        let config = jetstream::kv::Config { bucket: "smoke".into(), ..Default::default() };
        buckets.push(within(Duration::from_secs(10), "a bucket", js.create_key_value(config)).await.unwrap());
    }
    for (bucket, side) in buckets.iter().zip(["venue", "cloud"]) {
        within(Duration::from_secs(10), "a put", bucket.put(side, side.as_bytes().to_vec().into())).await.unwrap();
    }
    for (bucket, other) in buckets.iter().zip(["cloud", "venue"]) {
        let got = within(Duration::from_secs(10), "a get", bucket.get(other)).await.unwrap();
        assert_eq!(got, None, "the {other}'s put stays in its own bucket");
    }

    let mut commands = within(Duration::from_secs(10), "a venue subscription", venue.subscribe(COMMAND)).await.unwrap();
    let responder = venue.clone();
    tokio::spawn(async move {
        while let Some(request) = futures_util::StreamExt::next(&mut commands).await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, "placed at the venue".into()).await;
            }
        }
    });
    assert_eq!(until_answered(&cloud, COMMAND, Duration::from_secs(15)).await, "placed at the venue");

    sites.cut();
    let noticed = sites.until_leaf(false, Duration::from_secs(10)).await;
    eprintln!("the cloud saw the leaf go {noticed:?} after the cut");
    let asked = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(3), cloud.request(COMMAND, "ping".into())).await;
    assert!(!matches!(answer, Ok(Ok(_))), "a remote command fails while the link is down: {answer:?}");
    assert!(asked.elapsed() < Duration::from_secs(4), "and within 3 s: {:?}", asked.elapsed());
    let hall = Instant::now();
    for k in 6..=25 {
        let payload = format!("change {k}");
        assert_eq!(append(&venue_js, SMOKE_LOG, payload.clone()).await, k, "the hall goes on");
        sent.push(payload);
    }
    eprintln!("20 appends at the venue during the outage took {:?}", hall.elapsed());
    assert_eq!(state(&cloud_js, SMOKE).await, (5, 5), "the cloud keeps the last state it had");

    let (status, _, body) = http_get(hub.addr(), "/").await;
    assert_eq!(status, 200, "the venue's hub serves through the outage: {body}");

    sites.restart_nats(Side::Venue).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // The client reconnects by itself; until then the question goes unanswered.
        let held = tokio::time::timeout(Duration::from_secs(5), try_state(&venue_js, SMOKE)).await;
        if let Ok(Ok(held)) = held {
            assert_eq!(held, (25, 25), "the venue's server kept the stream across its kill -9");
            break;
        }
        assert!(Instant::now() < deadline, "the venue's stream answers within 20 s of its restart: {held:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    sites.restore();
    let restored = Instant::now();
    let reconnected = sites.until_leaf(true, Duration::from_secs(20)).await;
    until_mirrored(&cloud_js, &sent, Duration::from_secs(20).saturating_sub(restored.elapsed())).await;
    let caught_up = restored.elapsed();
    eprintln!("after the restore: the leaf back in {reconnected:?}, the mirror caught up in {caught_up:?}");
    assert_eq!(until_answered(&cloud, COMMAND, Duration::from_secs(15)).await, "placed at the venue");
}

/// Waits until the cloud's mirror holds exactly `sent`, at seqs 1, 2, …, within `patience`.
async fn until_mirrored(cloud_js: &jetstream::Context, sent: &[String], patience: Duration) {
    let deadline = Instant::now() + patience;
    let want = sent.len() as u64;
    loop {
        let (messages, last) = state(cloud_js, SMOKE).await;
        if (messages, last) == (want, want) {
            break;
        }
        assert!(last <= want, "the mirror holds no more than the venue sent: {messages} up to seq {last}");
        assert!(Instant::now() < deadline, "the mirror has {want} within {patience:?}: {messages} up to seq {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mirror = within(Duration::from_secs(10), "the mirror", cloud_js.get_stream(SMOKE)).await.unwrap();
    for (seq, payload) in (1..).zip(sent) {
        let message = within(Duration::from_secs(10), "a mirrored message", mirror.get_raw_message(seq)).await.unwrap();
        assert_eq!((message.subject.as_str(), &message.payload[..]), (SMOKE_LOG, payload.as_bytes()), "seq {seq}");
    }
}
