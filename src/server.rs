//! Start-up and shutdown: opens the store, loads the events, fills the app's shared state,
//! then serves HTTP, websockets and OSC on an already-bound listener until shutdown. It only
//! wires: what runs is in `app`, `transport` and `outbound`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dashmap::DashMap;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::app::control::Control;
use crate::app::links::LinkBook;
use crate::app::{page_of, AppState, ArchivedEntry};
use crate::auth::{self, EventTokens, RoomsToken};
use crate::config::{self, Settings};
use crate::domain::{EventState, Role};
use crate::hub::retries::{REMEMBERED, RETRY_WINDOW_MS};
use crate::hub::RESUME_BUFFER;
use crate::metrics::Metrics;
use crate::store::captions::CaptionStore;
use crate::store::nats::{Cluster, NatsBackend};
use crate::store::sqlite::SqliteBackend;
use crate::store::{Backend, Journal, StoreThread, StoredEvent};
use crate::transport::listener::{self, Serving};

fn bind_osc(addr: SocketAddr) -> anyhow::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr).with_context(|| format!("cannot receive OSC on {addr}"))?;
    socket.set_nonblocking(true).context("cannot make the OSC socket non-blocking")?;
    Ok(socket)
}

/// A started server, ready to serve.
pub struct Server {
    state: AppState,
    /// Event ids in the order they were loaded, for printing.
    order: Vec<String>,
    store_thread: StoreThread,
    /// Bound at start, so that an address in use fails the start, not the show.
    osc: Option<std::net::UdpSocket>,
}

impl Server {
    /// Opens the store, restores every stored event, seeds the configured events it does
    /// not hold yet, and starts one hub per event that is not archived. A stored event wins
    /// over its event file, which is only warned about.
    pub fn start(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<Server> {
        let data_dir = &settings.server.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        let backend = SqliteBackend::open(data_dir)?;
        Server::assemble(settings, shutdown, Box::new(backend), None)
    }

    /// Like [`Server::start`], on the cluster of the settings' `[cluster]` when they have
    /// one: the events are the cluster's streams, and tokens are shared through it.
    pub async fn open(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<Server> {
        let Some(cluster) = &settings.cluster else { return Server::start(settings, shutdown) };
        let data_dir = &settings.server.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        let cluster = Cluster::connect(&cluster.urls, cluster.replicas, cluster.mirrored_domain()).await?;
        let (settings, runtime) = (settings.clone(), tokio::runtime::Handle::current());
        // The backend blocks on the cluster's answers, which a runtime thread must not.
        tokio::task::spawn_blocking(move || {
            let backend = NatsBackend::new(cluster.clone(), runtime)?;
            Server::assemble(&settings, shutdown, Box::new(backend), Some(cluster))
        })
        .await
        .context("start-up did not finish")?
    }

    fn assemble(
        settings: &Settings,
        shutdown: CancellationToken,
        mut backend: Box<dyn Backend>,
        cluster: Option<Cluster>,
    ) -> anyhow::Result<Server> {
        let data_dir = &settings.server.data_dir;
        let configured = config::load_events(&settings.server.events_dir, chrono::Utc::now())?;
        for (path, why) in &configured.failed {
            error!(path = %path.display(), error = %why, "this event file is not valid; its event does not start");
        }
        let configured = configured.events;
        let epoch: Arc<str> = backend.epoch().into();
        let since = crate::clock::now_millis() - RETRY_WINDOW_MS;
        let mut stored =
            backend.load(RESUME_BUFFER, since, REMEMBERED).context("cannot restore the events from the store")?;
        for show in configured {
            match stored.iter().find(|e| e.state.show.event.id == show.event.id) {
                Some(existing) if existing.archived => {
                    warn!(event = %show.event.id, "the event is archived; its event file is ignored")
                }
                Some(existing) if *existing.state.show != show => warn!(
                    event = %show.event.id,
                    "the event file differs from the stored run of show; the stored one is used"
                ),
                Some(_) => {}
                None => {
                    let state = EventState::new(show);
                    backend.create(&state).context("cannot store a new event")?;
                    info!(event = %state.show.event.id, "seeded from its event file");
                    stored.push(StoredEvent::new(state));
                }
            }
        }
        if cluster.is_some() {
            // Another node may have seeded an event first: what the cluster holds wins.
            stored = backend.load(RESUME_BUFFER, since, REMEMBERED).context("cannot restore the events")?;
        }
        let ids: Vec<String> = stored.iter().map(|e| e.state.show.event.id.clone()).collect();
        let mut tokens = auth::load_or_create(data_dir, &settings.tokens, &ids)?;
        let rooms_token = match &cluster {
            Some(cluster) => shared_tokens(cluster, settings, &mut tokens)?,
            None => auth::rooms_token(data_dir, settings.server.organizer_token.as_deref())?,
        };
        let osc = settings.server.osc_bind.map(bind_osc).transpose()?;
        let (journal, store_thread) = Journal::start(backend).context("cannot start the store thread")?;
        let state = AppState {
            events: Arc::new(DashMap::new()),
            archived: Arc::new(DashMap::new()),
            rooms_lock: Arc::new(tokio::sync::Mutex::new(())),
            rooms_token: Arc::new(rooms_token),
            epoch,
            shutdown,
            hard_stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
            next_conn: Arc::new(AtomicU64::new(1)),
            journal,
            limits: Arc::new(settings.limits.clone()),
            per_ip: Arc::new(DashMap::new()),
            data_dir: Arc::new(data_dir.clone()),
            configured_tokens: Arc::new(settings.tokens.clone()),
            metrics: Arc::new(Metrics::default()),
            attendee_codes: Arc::new(settings.attendee_codes.clone()),
            captions: Arc::new(CaptionStore::open(data_dir)?),
            cluster: cluster.map(Arc::new),
            links: Arc::new(LinkBook::load(data_dir)?),
        };
        let mut order = Vec::new();
        for event in stored {
            let id = event.state.show.event.id.clone();
            let tokens = tokens.remove(&id).context("tokens were made for every event")?;
            if event.archived {
                state.archived.insert(id, Arc::new(ArchivedEntry::of(event, tokens, &state.epoch)));
            } else {
                state.launch(event, tokens)?;
                order.push(id);
            }
        }
        Ok(Server { state, order, store_thread, osc })
    }

    pub fn token(&self, event: &str, role: Role) -> Option<String> {
        self.state.event(event).map(|entry| entry.token(role))
    }

    /// Where OSC commands are received, when that is on.
    pub fn osc_addr(&self) -> Option<SocketAddr> {
        self.osc.as_ref().and_then(|socket| socket.local_addr().ok())
    }

    pub fn rooms_token(&self) -> &str {
        self.state.rooms_token.as_str()
    }

    /// The rooms page with the rooms token, then one line per running event and role: the
    /// page URL with its token, for the operator.
    pub fn page_urls(&self, base: &str) -> Vec<String> {
        let base = base.trim_end_matches('/');
        let mut lines = vec![format!("{:<10} {base}/rooms#token={}", "rooms", self.state.rooms_token.as_str())];
        for event in &self.order {
            let Some(entry) = self.state.event(event) else { continue };
            for role in Role::ALL {
                let token = entry.token(role);
                let page = page_of(role);
                lines.push(format!("{event:<12} {:<10} {base}/{page}#event={event}&token={token}", role.as_str()));
                // The display token's other screen: the hall's questions and poll results; the
                // speaker token's phone page in the green room: notes to the chair.
                let other = match role {
                    Role::Display => Some("wall"),
                    Role::Speaker => Some("notes"),
                    _ => None,
                };
                if let Some(page) = other {
                    lines.push(format!("{event:<12} {:<10} {base}/{page}#event={event}&token={token}", role.as_str()));
                }
            }
        }
        lines
    }

    /// Serves until the shutdown token is cancelled, then closes every websocket, gives
    /// open connections `shutdown_grace_ms` to finish, drops what is left, and closes the
    /// store.
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let Server { state, store_thread, osc, .. } = self;
        info!(addr = %listener.local_addr()?, "serving");
        let control = Control::new(state.clone());
        if let Some(cluster) = &state.cluster {
            state.tracker.spawn(crate::app::cluster::follow(state.clone(), Arc::clone(cluster)));
            state.tracker.spawn(crate::app::venue::serve(state.clone(), Arc::clone(cluster)));
        }
        if let Some(socket) = osc {
            let socket = UdpSocket::from_std(socket).context("cannot use the OSC socket")?;
            info!(addr = %socket.local_addr()?, "receiving OSC");
            let metrics = Arc::clone(&state.metrics);
            state.tracker.spawn(crate::transport::osc::serve(socket, control.clone(), metrics, state.shutdown.clone()));
        }
        let serving = Serving {
            router: crate::transport::http::router(state.clone(), control),
            limits: Arc::clone(&state.limits),
            shutdown: state.shutdown.clone(),
            hard_stop: state.hard_stop.clone(),
            tracker: state.tracker.clone(),
        };
        listener::accept(listener, serving).await;
        // Hubs stop when the last handle to them is dropped; sessions drop theirs on shutdown.
        state.events.clear();
        state.tracker.close();
        let grace = Duration::from_millis(state.limits.shutdown_grace_ms);
        if tokio::time::timeout(grace, state.tracker.wait()).await.is_err() {
            warn!(grace_ms = state.limits.shutdown_grace_ms, "connections still open at the deadline are dropped");
            state.hard_stop.cancel();
            state.tracker.wait().await;
        }
        // The store thread ends once the last journal handle is gone: flush, then close.
        drop(state);
        tokio::task::spawn_blocking(move || store_thread.join()).await.context("the store did not close")?;
        info!("stopped");
        Ok(())
    }
}

/// Replaces each event's tokens and the rooms token with those the cluster shares, so that
/// every node grants the same links: the first node to start keeps its own there. Tokens
/// fixed in the settings still win, so they must be the same in every node's settings.
fn shared_tokens(
    cluster: &Cluster,
    settings: &Settings,
    tokens: &mut HashMap<String, EventTokens>,
) -> anyhow::Result<RoomsToken> {
    let runtime = tokio::runtime::Handle::current();
    for (event, ours) in tokens.iter_mut() {
        let shared = runtime.block_on(cluster.shared_tokens(event, serde_json::to_string(ours)?))?;
        let mut theirs: EventTokens = serde_json::from_str(&shared).context("the cluster's tokens do not decode")?;
        if let Some(fixed) = settings.tokens.get(event) {
            theirs = auth::with_fixed(theirs, fixed);
        }
        *ours = theirs;
    }
    match settings.server.organizer_token.as_deref() {
        Some(token) => auth::rooms_token(&settings.server.data_dir, Some(token)),
        None => Ok(RoomsToken::shared(runtime.block_on(cluster.shared("rooms-token", auth::generate()))?)),
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
