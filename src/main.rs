//! The server binary: reads settings and flags, starts tracing, binds, prints the page
//! links, and serves until ctrl-c or SIGTERM. `eventhub import` instead sends a plan file
//! to a server that is running; `eventhub migrate` moves the embedded store into a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use eventhub::config::Settings;
use eventhub::import::{self, Import};
use eventhub::migrate::{self, Migrate};
use eventhub::server::{self, Server};

/// Live hybrid-event coordination hub.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Settings file.
    #[arg(long, default_value = "config/default.toml", env = "EVENTHUB_CONFIG")]
    config: PathBuf,
    /// Listen address, overriding the settings file.
    #[arg(long, env = "EVENTHUB_BIND")]
    bind: Option<SocketAddr>,
    /// Data directory, overriding the settings file.
    #[arg(long, env = "EVENTHUB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Events directory, overriding the settings file.
    #[arg(long, env = "EVENTHUB_EVENTS_DIR")]
    events_dir: Option<PathBuf>,
    /// Base URL printed in the page links, overriding the settings file.
    #[arg(long, env = "EVENTHUB_PUBLIC_URL")]
    public_url: Option<String>,
    /// Receive OSC commands on this UDP address, overriding the settings file.
    #[arg(long, env = "EVENTHUB_OSC_BIND")]
    osc_bind: Option<SocketAddr>,
    /// Join a cluster of hub nodes: NATS servers, `nats://host:4222[,…]`, overriding the
    /// settings file's `[cluster] urls`.
    #[arg(long, env = "EVENTHUB_CLUSTER")]
    cluster: Option<String>,
    /// With --cluster: serve a hybrid event's remote pages from a mirror of the venue's
    /// JetStream domain and send their commands there (`[cluster] role = "cloud"`).
    #[arg(long, env = "EVENTHUB_CLOUD", requires = "cluster")]
    cloud: bool,
    /// Without a command, serve.
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a run of show (CSV, XLSX or an event file) against a running server's plan for
    /// an event and list the differences; with --apply, replace the plan with it.
    Import {
        /// The file: .csv, .xlsx or .toml.
        file: PathBuf,
        /// The event whose plan it is.
        #[arg(long)]
        event: String,
        /// The server's URL; by default the address the settings file binds.
        #[arg(long, env = "EVENTHUB_SERVER")]
        server: Option<String>,
        /// The event's organizer token.
        #[arg(long, env = "EVENTHUB_TOKEN", hide_env_values = true)]
        token: String,
        /// Replace the plan; without it nothing changes (a dry run).
        #[arg(long)]
        apply: bool,
        /// Replace it even while the show is live.
        #[arg(long)]
        force: bool,
    },
    /// Move the events of the embedded store (the data dir, its server stopped) into the
    /// cluster that --cluster or the settings name, keeping every seq and the epoch.
    Migrate {
        /// An event to move (repeatable); all of them by default.
        #[arg(long)]
        event: Vec<String>,
    },
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = Args::parse();
    match args.command {
        Some(Cmd::Import { ref file, ref event, ref server, ref token, apply, force }) => {
            let server = server.clone().unwrap_or_else(|| default_server(&args));
            let import =
                Import { file: file.clone(), event: event.clone(), server, token: token.clone(), apply, force };
            let ended = import::run(&import, &mut std::io::stdout(), &mut std::io::stderr());
            Ok(std::process::ExitCode::from(ended as u8))
        }
        Some(Cmd::Migrate { ref event }) => {
            let settings = Settings::load(&args.config)?;
            let cluster = match (args.cluster.clone(), settings.cluster) {
                (Some(urls), configured) => eventhub::config::ClusterSettings::at(urls, configured),
                (None, Some(configured)) => configured,
                (None, None) => {
                    anyhow::bail!("name the cluster: --cluster nats://host:4222[,…] or [cluster] in the settings")
                }
            };
            if cluster.role == eventhub::config::Site::Cloud {
                anyhow::bail!("an event moves into the venue's cluster; a cloud node mirrors it from there");
            }
            let migrate = Migrate {
                data_dir: args.data_dir.clone().unwrap_or(settings.server.data_dir),
                cluster,
                events: event.clone(),
                tokens: settings.tokens,
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(migrate::run(&migrate, &mut std::io::stdout()))?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        None => {
            tokio::runtime::Runtime::new().context("cannot start the runtime")?.block_on(serve(args))?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// Where a server started with the same settings listens: its public URL, else its bind
/// address (a wildcard one reached on this machine), else the shipped default.
fn default_server(args: &Args) -> String {
    let Ok(settings) = Settings::load(&args.config) else { return "http://127.0.0.1:8080".to_owned() };
    if let Some(url) = settings.server.public_url {
        return url;
    }
    let mut bind = args.bind.unwrap_or(settings.server.bind);
    if bind.ip().is_unspecified() {
        bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{bind}")
}

async fn serve(args: Args) -> anyhow::Result<()> {
    // Logs go to stderr, so that stdout carries only the page links for the operator.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let mut settings = Settings::load(&args.config)?;
    settings.server.bind = args.bind.unwrap_or(settings.server.bind);
    settings.server.data_dir = args.data_dir.unwrap_or(settings.server.data_dir);
    settings.server.events_dir = args.events_dir.unwrap_or(settings.server.events_dir);
    settings.server.public_url = args.public_url.or(settings.server.public_url);
    settings.server.osc_bind = args.osc_bind.or(settings.server.osc_bind);
    if let Some(urls) = args.cluster {
        settings.cluster = Some(eventhub::config::ClusterSettings::at(urls, settings.cluster.take()));
    }
    if let (true, Some(cluster)) = (args.cloud, settings.cluster.as_mut()) {
        cluster.role = eventhub::config::Site::Cloud;
    }

    let shutdown = CancellationToken::new();
    let server = Server::open(&settings, shutdown.clone()).await?;
    let listener = server::bind(settings.server.bind)?;
    let local = listener.local_addr().context("the listener has no address")?;
    let base = settings.server.public_url.clone().unwrap_or_else(|| format!("http://{local}"));
    print_links(&base, &server.page_urls(&base));
    tokio::spawn(async move {
        wait_for_signal().await;
        shutdown.cancel();
    });
    server.serve(listener).await
}

/// Prints where to find the pages. A closed stdout (a supervisor that stopped reading) must
/// not stop the server, so write errors are ignored rather than panicking as `println!` does.
fn print_links(base: &str, lines: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "eventhub is serving on {base}\n\nPages (keep the tokens private; each grants its role):");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out);
    let _ = out.flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
