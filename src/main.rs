//! The server binary: reads settings and flags, starts tracing, binds, prints the page
//! links, and serves until ctrl-c or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use eventhub::config::Settings;
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
    /// Join a cluster of hub nodes: NATS servers, `nats://host:4222[,…]`, overriding the
    /// settings file's `[cluster] urls`.
    #[arg(long, env = "EVENTHUB_CLUSTER")]
    cluster: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr, so that stdout carries only the page links for the operator.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut settings = Settings::load(&args.config)?;
    settings.server.bind = args.bind.unwrap_or(settings.server.bind);
    settings.server.data_dir = args.data_dir.unwrap_or(settings.server.data_dir);
    settings.server.events_dir = args.events_dir.unwrap_or(settings.server.events_dir);
    settings.server.public_url = args.public_url.or(settings.server.public_url);
    if let Some(urls) = args.cluster {
        let replicas = settings.cluster.as_ref().map_or(1, |c| c.replicas);
        settings.cluster = Some(eventhub::config::ClusterSettings { urls, replicas });
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
