//! The servers under test: starts a NATS server and the hub nodes (or attaches to running
//! ones) and learns their addresses, tokens and pids.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::flags::Args;

/// One hub node under test.
pub struct Node {
    pub addr: SocketAddr,
    pid: Option<u32>,
}

/// The servers under test.
pub struct Target {
    pub nodes: Vec<Node>,
    tokens: HashMap<String, String>,
    pub nats_pid: Option<u32>,
    /// Kept so that started servers are killed when the run ends.
    _children: Vec<tokio::process::Child>,
    _data: Option<tempfile::TempDir>,
}

impl Target {
    pub fn token(&self, role: &str) -> anyhow::Result<&str> {
        self.tokens.get(role).map(String::as_str).with_context(|| format!("no {role} token"))
    }

    pub fn pids(&self) -> Vec<u32> {
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

/// Starts a NATS server with JetStream under `dir` and `config` (nats-server's format, may be
/// empty); returns it and its client URL.
async fn start_nats(args: &Args, dir: &Path, config: &str) -> anyhow::Result<(tokio::process::Child, String)> {
    let (port, monitor) = (free_port()?, free_port()?);
    std::fs::create_dir_all(dir)?;
    let file = dir.join("nats.conf");
    std::fs::write(&file, config)?;
    let child = tokio::process::Command::new(find_nats(&args.nats_server)?)
        .arg("-c")
        .arg(&file)
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

/// What the venue's leaf connection keeps to its own side (docs/operations.md, "Venue and
/// cloud"): the event logs, captions, attendance and buckets.
const DENIED: &str = r#"["eventhub.*.log", "eventhub.captions.>", "eventhub.attendance.>", "$KV.>"]"#;

pub async fn start(args: &Args) -> anyhow::Result<Target> {
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
        let (nats, url) = start_nats(args, &data.path().join("nats"), "").await?;
        nats_pid = nats.id();
        children.push(nats);
        cluster = format!("\n[cluster]\nurls = \"{url}\"\nreplicas = 1\n");
    }
    let mut sides = Vec::new();
    if args.hybrid {
        let leaf = free_port()?;
        let cloud_config = format!("jetstream {{ domain: cloud }}\nleafnodes {{ listen: \"127.0.0.1:{leaf}\" }}\n");
        let (cloud_nats, cloud_url) = start_nats(args, &data.path().join("nats-cloud"), &cloud_config).await?;
        let venue_config = format!(
            "jetstream {{ domain: venue }}\nleafnodes {{ reconnect: \"1s\", remotes: [ {{ \
             url: \"nats-leaf://127.0.0.1:{leaf}\", deny_imports: {DENIED}, deny_exports: {DENIED} }} ] }}\n"
        );
        let (venue_nats, venue_url) = start_nats(args, &data.path().join("nats-venue"), &venue_config).await?;
        nats_pid = venue_nats.id();
        children.extend([cloud_nats, venue_nats]);
        sides.push(format!("\n[cluster]\nurls = \"{venue_url}\"\nrole = \"venue\"\n"));
        sides.push(format!("\n[cluster]\nurls = \"{cloud_url}\"\nrole = \"cloud\"\n"));
    }
    let (mut nodes, mut tokens) = (Vec::new(), HashMap::new());
    for k in 0..args.nodes.max(1).max(sides.len()) {
        let cluster = sides.get(k).unwrap_or(&cluster);
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
