//! The app's shared state: the registry of running and archived events, each with its hub,
//! tokens and automations, and what every way in shares (limits, metrics, the journal, the
//! cluster). Every adapter in `transport` imports it; it imports no adapter.

mod args;
mod booth;
pub mod cluster;
pub mod control;
pub mod flat;
pub mod links;
pub mod rooms;
pub mod venue;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::links::{EventLinks, Found, LinkBook, LinkGrant};
use crate::auth::{EventTokens, RoomsToken};
use crate::clock::now_millis;
use crate::domain::automation::Destinations;
use crate::domain::show::RunOfShow;
use crate::domain::{EventState, Role};
use crate::hub::retries::{REMEMBERED, RETRY_WINDOW_MS};
use crate::hub::{HubHandle, RESUME_BUFFER};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::outbound::automations::{self, Deliveries};
use crate::protocol::Tagger;
use crate::store::captions::CaptionStore;
use crate::store::nats::Cluster;
use crate::store::{Journal, StoreError, StoredEvent};

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
    /// The public tags of its participants, as its hub gives them, for its exports.
    pub tagger: Tagger,
    /// Its links: more tokens, each with a name, an end and a revoke.
    pub links: Arc<EventLinks>,
}

/// What a presented token grants an event.
pub enum Access {
    /// A role token, or a live link (which the session follows, to close when it ends).
    Granted(Role, Option<LinkGrant>),
    /// A link that has expired or was revoked.
    Ended(links::EndedLink),
    Refused,
}

impl ArchivedEntry {
    /// An event stored as archived, with the tags of the epoch its log had.
    pub fn of(stored: StoredEvent, tokens: EventTokens, epoch: &str) -> Self {
        let tagger = Tagger::new(stored.epoch.as_deref().unwrap_or(epoch));
        ArchivedEntry { state: stored.state, tokens, tagger }
    }
}

impl EventEntry {
    /// The role a token grants: a role token's, or a live link's.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        match self.access(token) {
            Access::Granted(role, _) => Some(role),
            Access::Ended(_) | Access::Refused => None,
        }
    }

    /// What a token grants now, telling an ended link from an unknown token. The role
    /// tokens and every link are compared, each in constant time.
    pub fn access(&self, token: &str) -> Access {
        let role = self.tokens.read().unwrap_or_else(|e| e.into_inner()).role_of(token);
        match (role, self.links.find(token, now_millis())) {
            (Some(role), _) => Access::Granted(role, None),
            (None, Found::Live(role, grant)) => Access::Granted(role, Some(grant)),
            (None, Found::Ended(ended)) => Access::Ended(ended),
            (None, Found::None) => Access::Refused,
        }
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
    /// The public tags of its participants, as its hub gave them.
    pub tagger: Tagger,
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
    /// Caption lines, in a store of their own; in a cluster they are in its captions stream.
    pub captions: Arc<CaptionStore>,
    /// The cluster this node is part of; none on the embedded store. Shared, not held by
    /// value: every session holds a copy of this state, and the NATS handles are kilobytes.
    pub cluster: Option<Arc<Cluster>>,
    /// Every event's links, kept in the data dir; node-local.
    pub links: Arc<LinkBook>,
}

impl AppState {
    pub fn event(&self, id: &str) -> Option<Arc<EventEntry>> {
        self.events.get(id).map(|entry| Arc::clone(entry.value()))
    }

    pub fn archived_event(&self, id: &str) -> Option<Arc<ArchivedEntry>> {
        self.archived.get(id).map(|entry| Arc::clone(entry.value()))
    }

    /// One event as the store holds it, ready to launch, as at start: with the changes
    /// resuming clients need and the commands a retry may name.
    pub async fn load_stored(&self, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let since = crate::clock::now_millis() - RETRY_WINDOW_MS;
        self.journal.load_event(id, RESUME_BUFFER, since, REMEMBERED).await
    }

    /// Starts the hub of a stored event and puts the event in the registry.
    pub fn launch(&self, stored: StoredEvent, tokens: EventTokens) -> anyhow::Result<Arc<EventEntry>> {
        let id = stored.state.show.event.id.clone();
        // In a cluster the hub follows the captions stream from its first line instead.
        let captions = match self.cluster {
            Some(_) => None,
            None => Some(self.captions.tracks(&id).with_context(|| format!("cannot read the captions of {id}"))?),
        };
        let show = Arc::clone(&stored.state.show);
        let limit = self.limits.max_connections_per_event;
        let metrics = Arc::clone(&self.metrics);
        let epoch = stored.epoch.clone().unwrap_or_else(|| Arc::clone(&self.epoch));
        let tagger = Tagger::new(&epoch);
        let log = self.cluster.as_ref().map(|cluster| cluster.event(&id));
        let hub = HubHandle::spawn(stored, self.journal.clone(), log, epoch, limit, metrics, &self.tracker);
        if let Some(captions) = captions {
            hub.restore_captions(captions).context("the new hub stopped at once")?;
        }
        let attendee_code = self.attendee_codes.get(&id).cloned();
        let deliveries = Arc::new(Deliveries::default());
        let destinations = Destinations::parse(&self.limits.automation_destinations).map_err(anyhow::Error::msg)?;
        // A hybrid event's automations go out from the venue, once: a cloud node sends none.
        if !self.cluster.as_ref().is_some_and(|cluster| cluster.in_cloud()) {
            let automations = automations::run(
                hub.clone(),
                Arc::clone(&deliveries),
                Arc::clone(&self.metrics),
                destinations,
                self.cluster.as_ref().map(|cluster| cluster.lease(&id, "automations")),
                self.shutdown.clone(),
            );
            self.tracker.spawn(automations);
        }
        let links = self.links.of(&id);
        let tokens = RwLock::new(tokens);
        let entry = Arc::new(EventEntry { show, hub, tokens, attendee_code, deliveries, tagger, links });
        self.events.insert(id, Arc::clone(&entry));
        Ok(entry)
    }
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
