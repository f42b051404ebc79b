//! Start-up and the shared application state: loads the events, starts one hub per
//! event, and serves HTTP and websockets on an already-bound listener until shutdown.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::Context;
use dashmap::DashMap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::auth::{self, EventTokens};
use crate::config::{self, Settings};
use crate::domain::{EventState, Role};
use crate::hub::HubHandle;

/// One running event: its hub and who may join it.
pub struct EventEntry {
    pub hub: HubHandle,
    pub tokens: EventTokens,
}

/// Shared by every request and websocket session; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Registry of running events. Clone the entry's `Arc` out and drop the guard at once.
    pub events: Arc<DashMap<String, Arc<EventEntry>>>,
    /// Cancelled when the server shuts down; sessions close their sockets on it.
    pub shutdown: CancellationToken,
    /// Every hub and session, so that shutdown can wait for them to finish.
    pub tracker: TaskTracker,
    /// Source of connection ids.
    pub next_conn: Arc<AtomicU64>,
}

impl AppState {
    pub fn event(&self, id: &str) -> Option<Arc<EventEntry>> {
        self.events.get(id).map(|entry| Arc::clone(entry.value()))
    }
}

/// A started server, ready to serve.
pub struct Server {
    state: AppState,
    /// Event ids in the order their files were read, for printing.
    order: Vec<String>,
}

/// The pages each role opens, with the path that serves it.
pub fn page_of(role: Role) -> Option<&'static str> {
    match role {
        Role::Organizer | Role::Moderator => Some("console"),
        Role::Attendee => Some("attend"),
        Role::Av | Role::Speaker | Role::Display => None,
    }
}

impl Server {
    /// Loads the events and their tokens and starts their hubs.
    pub fn start(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&settings.server.data_dir)
            .with_context(|| format!("cannot create the data dir {}", settings.server.data_dir.display()))?;
        let shows = config::load_events(&settings.server.events_dir, chrono::Utc::now())?;
        let order: Vec<String> = shows.iter().map(|s| s.event.id.clone()).collect();
        let mut tokens = auth::load_or_create(&settings.server.data_dir, &settings.tokens, &order)?;
        let tracker = TaskTracker::new();
        let events = DashMap::new();
        for show in shows {
            let id = show.event.id.clone();
            let tokens = tokens.remove(&id).context("tokens were made for every event")?;
            let hub = HubHandle::spawn(EventState::new(show), &tracker);
            events.insert(id, Arc::new(EventEntry { hub, tokens }));
        }
        let state = AppState { events: Arc::new(events), shutdown, tracker, next_conn: Arc::new(AtomicU64::new(1)) };
        Ok(Server { state, order })
    }

    pub fn token(&self, event: &str, role: Role) -> Option<String> {
        self.state.event(event).map(|entry| entry.tokens.token(role).to_owned())
    }

    /// One line per event and role: the page URL with its token, for the operator.
    pub fn page_urls(&self, base: &str) -> Vec<String> {
        let base = base.trim_end_matches('/');
        let mut lines = Vec::new();
        for event in &self.order {
            let Some(entry) = self.state.event(event) else { continue };
            for role in Role::ALL {
                let token = entry.tokens.token(role);
                lines.push(match page_of(role) {
                    Some(page) => {
                        format!("{event:<12} {:<10} {base}/{page}#event={event}&token={token}", role.as_str())
                    }
                    None => format!("{event:<12} {:<10} token {token}", role.as_str()),
                });
            }
        }
        lines
    }

    /// Serves until the shutdown token is cancelled, then closes every websocket and waits
    /// for the hubs to finish.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let Server { state, .. } = self;
        let app = crate::transport::http::router(state.clone());
        let shutdown = state.shutdown.clone();
        info!(addr = %listener.local_addr()?, "serving");
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("the HTTP server failed")?;
        // Hubs stop when the last handle to them is dropped; sessions drop theirs on shutdown.
        state.events.clear();
        state.tracker.close();
        state.tracker.wait().await;
        info!("stopped");
        Ok(())
    }
}

/// Connections the kernel may hold waiting for accept: a join storm of thousands must not
/// be dropped, and tokio's `TcpListener::bind` only asks for 128.
const LISTEN_BACKLOG: u32 = 8192;

/// Binds `addr` with a backlog sized for join storms.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    Ok(socket.listen(LISTEN_BACKLOG)?)
}
