//! Start-up and the shared application state: loads the events, starts one hub per
//! running event, and serves HTTP and websockets on an already-bound listener until shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use dashmap::DashMap;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::auth::{self, EventTokens, RoomsToken};
use crate::automations::{self, Deliveries};
use crate::config::{self, Settings};
use crate::domain::automation::Destinations;
use crate::domain::show::RunOfShow;
use crate::domain::{EventState, Role};
use crate::hub::retries::{MAX_REMEMBERED, RETRY_WINDOW_MS};
use crate::hub::{HubHandle, RESUME_BUFFER};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::store::captions::CaptionStore;
use crate::store::nats::{Cluster, NatsBackend};
use crate::store::sqlite::SqliteBackend;
use crate::store::{Backend, Journal, StoreThread, StoredEvent};
use crate::transport::control::Control;
use crate::transport::listener::{self, Serving};

/// One running event: its plan, its hub and who may join it.
pub struct EventEntry {
    /// The plan the event started with; plan edits since are in its log.
    pub show: Arc<RunOfShow>,
    pub hub: HubHandle,
    /// Rotatable while the server runs; never held across an await.
    pub tokens: RwLock<EventTokens>,
    /// A code attendees must give as well, when the event is not open to the link alone.
    pub attendee_code: Option<String>,
    /// What the event's automations sent lately, and what failed.
    pub deliveries: Arc<Deliveries>,
}

impl EventEntry {
    pub fn role_of(&self, token: &str) -> Option<Role> {
        self.tokens.read().unwrap_or_else(|e| e.into_inner()).role_of(token)
    }

    pub fn token(&self, role: Role) -> String {
        self.tokens.read().unwrap_or_else(|e| e.into_inner()).token(role).to_owned()
    }
}

/// An archived event: it runs no hub, but its record is still listed and exported.
pub struct ArchivedEntry {
    /// The event's state when its hub stopped.
    pub state: EventState,
    pub tokens: EventTokens,
}

/// Shared by every request and websocket session; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Registry of running events. Clone the entry's `Arc` out and drop the guard at once.
    pub events: Arc<DashMap<String, Arc<EventEntry>>>,
    /// Archived events by id; an id here is never used for a new event.
    pub archived: Arc<DashMap<String, Arc<ArchivedEntry>>>,
    /// Creates and archives one at a time, so that two requests for one id cannot both pass
    /// the check that it is free; held across the store's answer, and only by those.
    pub rooms_lock: Arc<tokio::sync::Mutex<()>>,
    /// Grants the rooms API: listing, creating and archiving events.
    pub rooms_token: Arc<RoomsToken>,
    /// The store's epoch, which every hub started at runtime needs too.
    pub epoch: Arc<str>,
    /// Cancelled when the server shuts down; sessions close their sockets on it.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown deadline has passed: whatever is still open is dropped.
    pub hard_stop: CancellationToken,
    /// Every hub and session, so that shutdown can wait for them to finish.
    pub tracker: TaskTracker,
    /// Source of connection ids.
    pub next_conn: Arc<AtomicU64>,
    /// The change log, for exports.
    pub journal: Journal,
    pub limits: Arc<Limits>,
    /// Open websockets per client address, to enforce `max_connections_per_ip`.
    pub per_ip: Arc<DashMap<IpAddr, usize>>,
    /// Where rotated tokens are kept.
    pub data_dir: Arc<PathBuf>,
    /// Tokens fixed in the settings; those cannot be rotated from the API.
    pub configured_tokens: Arc<HashMap<String, HashMap<Role, String>>>,
    pub metrics: Arc<Metrics>,
    /// Attendee codes from the settings, for events started at runtime as well.
    pub attendee_codes: Arc<HashMap<String, String>>,
    /// Caption lines, in a store of their own.
    pub captions: Arc<CaptionStore>,
    /// The cluster this node is part of; none on the embedded store. Shared, not held by
    /// value: every session holds a copy of this state, and the NATS handles are kilobytes.
    pub cluster: Option<Arc<Cluster>>,
}

impl AppState {
    pub fn event(&self, id: &str) -> Option<Arc<EventEntry>> {
        self.events.get(id).map(|entry| Arc::clone(entry.value()))
    }

    pub fn archived_event(&self, id: &str) -> Option<Arc<ArchivedEntry>> {
        self.archived.get(id).map(|entry| Arc::clone(entry.value()))
    }

    /// Starts the hub of a stored event and puts the event in the registry.
    pub fn launch(&self, stored: StoredEvent, tokens: EventTokens) -> anyhow::Result<Arc<EventEntry>> {
        let id = stored.state.show.event.id.clone();
        let captions = self.captions.tracks(&id).with_context(|| format!("cannot read the captions of {id}"))?;
        let show = Arc::clone(&stored.state.show);
        let limit = self.limits.max_connections_per_event;
        let metrics = Arc::clone(&self.metrics);
        let epoch = stored.epoch.clone().unwrap_or_else(|| Arc::clone(&self.epoch));
        let log = self.cluster.as_ref().map(|cluster| cluster.event(&id));
        let hub = HubHandle::spawn(stored, self.journal.clone(), log, epoch, limit, metrics, &self.tracker);
        hub.restore_captions(captions).context("the new hub stopped at once")?;
        let attendee_code = self.attendee_codes.get(&id).cloned();
        let deliveries = Arc::new(Deliveries::default());
        let destinations = Destinations::parse(&self.limits.automation_destinations).map_err(anyhow::Error::msg)?;
        let automations = automations::run(
            hub.clone(),
            Arc::clone(&deliveries),
            Arc::clone(&self.metrics),
            destinations,
            self.shutdown.clone(),
        );
        self.tracker.spawn(automations);
        let entry = Arc::new(EventEntry { show, hub, tokens: RwLock::new(tokens), attendee_code, deliveries });
        self.events.insert(id, Arc::clone(&entry));
        Ok(entry)
    }
}

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

/// The pages each role opens, with the path that serves it.
pub fn page_of(role: Role) -> &'static str {
    match role {
        Role::Organizer | Role::Moderator => "console",
        Role::Attendee => "attend",
        Role::Av => "cues",
        Role::Speaker => "stage",
        Role::Captioner => "caption",
        // The hall's caption screens; a lobby display of the programme takes the token too.
        Role::Display => "captions",
    }
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
        let cluster = Cluster::connect(&cluster.urls, cluster.replicas).await?;
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
            backend.load(RESUME_BUFFER, since, MAX_REMEMBERED).context("cannot restore the events from the store")?;
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
            stored = backend.load(RESUME_BUFFER, since, MAX_REMEMBERED).context("cannot restore the events")?;
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
        };
        let mut order = Vec::new();
        for event in stored {
            let id = event.state.show.event.id.clone();
            let tokens = tokens.remove(&id).context("tokens were made for every event")?;
            if event.archived {
                state.archived.insert(id, Arc::new(ArchivedEntry { state: event.state, tokens }));
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
        if let Some(socket) = osc {
            let socket = UdpSocket::from_std(socket).context("cannot use the OSC socket")?;
            info!(addr = %socket.local_addr()?, "receiving OSC");
            let metrics = Arc::clone(&state.metrics);
            state.tracker.spawn(crate::osc::serve(socket, control.clone(), metrics, state.shutdown.clone()));
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
        let shared = runtime.block_on(cluster.shared(&format!("tokens.{event}"), serde_json::to_string(ours)?))?;
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
