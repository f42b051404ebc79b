//! The cluster store on NATS JetStream: each event's change log is a stream of its own
//! (`EVENTHUB_<event>`, subject `eventhub.<event>.log`), one message per command, which any
//! hub node appends to expecting the last sequence it applied, and every node follows.
//! Snapshots, tokens and archived flags are in a KV bucket, each node's presence counts and
//! people in a second one whose entries expire. Knows nothing of the hub.
//!
//! This file connects to the cluster and makes its buckets. The rest is by responsibility,
//! each part naming only the parts listed after it:
//! - `backend`: [`NatsBackend`], the cluster behind the store's `Backend` trait;
//! - `presence`: each node's counts of an event put in the presence bucket, the others' summed;
//! - `people`: each node's people of an event, in chunks in the same bucket, for the chair's list;
//! - `rooms`: the events other nodes create and archive while the cluster runs;
//! - `venue`: a cloud node's mirrors of the venue and its commands sent there, each
//!   side's heartbeat and the link each side watches;
//! - `event_log`: [`EventLog`], one event's stream as its hub uses it: a command's changes
//!   published, every node's followed;
//! - `events`: each event's stream: its records, an event created in it and loaded back;
//! - `attendance`: the attendance history of every event, in one stream;
//! - `lease`: a key of the meta bucket one node at a time holds (who sends automations);
//! - `ordered`: reading an ordered consumer that may go quiet, checked against its stream;
//! - `captions`: every event's caption lines, in one stream: appended, followed, read back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::context::Context;
use async_nats::jetstream::{self, kv, stream};
use tracing::warn;

use crate::domain::presence::HISTORY_LEN;
use crate::domain::Role;
use crate::store::StoreError;
use attendance::{attendance_subject, ATTENDANCE_STREAM};
pub use backend::NatsBackend;
use captions::{captions_subjects, CAPTIONS_DUPLICATE_WINDOW, CAPTIONS_STREAM};
pub use captions::{FollowedLine, TrackEnd};
pub use event_log::{EventLog, Followed, Refused, UNAVAILABLE, UNCONFIRMED};
pub use events::Record;
pub use lease::{Holding, Lease, LeaseError};
pub use people::{People, Reported};
pub use presence::{add, PRESENCE_EVERY, PRESENCE_STALE};
use presence::{PresenceBucket, PRESENCE_TTL};
pub use rooms::RoomMarker;
use venue::VenueSide;
pub use venue::{Link, RemoteRequest, VenueUnreachable, HEARTBEAT_EVERY, LINK_LAPSE};

mod attendance;
mod backend;
mod captions;
mod event_log;
mod events;
mod lease;
mod ordered;
mod people;
mod presence;
mod rooms;
mod venue;

const META_BUCKET: &str = "eventhub";
const PRESENCE_BUCKET: &str = "eventhub-presence";
/// How long one call to NATS may take before the cluster counts as unreachable.
const PATIENCE: Duration = Duration::from_secs(2);
/// How often the client pings its server. Three unanswered pings drop the connection and
/// another server is used: a hung server (a frozen VM, a half-dead path: the TCP connection
/// stays up) is left within 1.5 s, not after the client's default of minutes.
const PING_EVERY: Duration = Duration::from_millis(500);
/// How long a server has to greet a connection: a hung one accepts it in its kernel and
/// never answers, and the client must move on to the next server.
const GREETING_PATIENCE: Duration = Duration::from_secs(1);
/// How long a node starting up waits for JetStream to be ready before it gives up.
const START_PATIENCE: Duration = Duration::from_secs(30);
/// How long a follower waits before subscribing again after losing its subscription.
const FOLLOW_RETRY: Duration = Duration::from_secs(1);

/// A connection to the cluster; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    client: async_nats::Client,
    js: Context,
    meta: kv::Store,
    presence: PresenceBucket,
    replicas: usize,
    /// This process, in the presence bucket's keys.
    node: Arc<str>,
    /// Events whose stream this node cannot follow or publish to right now, and why.
    failing: Arc<Mutex<HashMap<Arc<str>, String>>>,
    /// On a cloud node, the venue it mirrors and sends its commands to.
    venue: Option<VenueSide>,
    /// The link to the other side of a hybrid event, as its heartbeats tell it.
    link: Arc<tokio::sync::watch::Sender<Link>>,
}

fn nats_error(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

/// Times a node at start asks a cluster that may still be electing leaders (a shared value,
/// an event's attendance) before it gives up, half a second apart.
const ELECTION_ATTEMPTS: u32 = 6;

impl Cluster {
    /// Connects to the NATS servers in `urls` (comma-separated) and makes sure the buckets
    /// and the attendance and captions streams exist, with `replicas` copies of everything.
    /// A cloud node names the venue's JetStream domain, whose captions it mirrors.
    pub async fn connect(urls: &str, replicas: usize, venue_domain: Option<&str>) -> anyhow::Result<Cluster> {
        let servers: Vec<&str> = urls.split(',').map(str::trim).filter(|url| !url.is_empty()).collect();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(GREETING_PATIENCE)
            .ping_interval(PING_EVERY)
            .connect(servers.as_slice())
            .await
            .with_context(|| format!("cannot connect to the NATS cluster at {urls}"))?;
        let js = jetstream::ContextBuilder::new().timeout(PATIENCE).build(client.clone());
        let venue = venue_domain.map(|domain| VenueSide {
            domain: domain.to_owned(),
            js: jetstream::ContextBuilder::new().timeout(PATIENCE).domain(domain).build(client.clone()),
        });
        // NATS servers started together take a moment to elect JetStream's leaders.
        let started = std::time::Instant::now();
        loop {
            match Cluster::prepare(client.clone(), js.clone(), replicas, venue.clone()).await {
                Ok(cluster) => return Ok(cluster),
                Err(e) if started.elapsed() < START_PATIENCE => {
                    warn!(error = %format!("{e:#}"), "JetStream is not ready yet; trying again");
                    tokio::time::sleep(FOLLOW_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes sure the buckets and the attendance and captions streams exist.
    async fn prepare(
        client: async_nats::Client,
        js: Context,
        replicas: usize,
        venue: Option<VenueSide>,
    ) -> anyhow::Result<Cluster> {
        let meta = bucket(&js, META_BUCKET, replicas, Duration::ZERO).await?;
        let presence = PresenceBucket::new(bucket(&js, PRESENCE_BUCKET, replicas, PRESENCE_TTL).await?);
        if let Some(venue) = &venue {
            // Remote people are counted with the hall's, in the venue's bucket; a cloud node
            // started while the link is down moves there once it can (`venue`).
            if !presence::venue_presence(venue, &presence).await {
                warn!("the venue's presence cannot be reached yet; remote people count in the cloud meanwhile");
            }
        }
        js.get_or_create_stream(stream::Config {
            name: ATTENDANCE_STREAM.into(),
            subjects: vec![attendance_subject("*")],
            max_messages_per_subject: HISTORY_LEN as i64,
            duplicate_window: Duration::from_secs(120),
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("cannot create the attendance stream")?;
        // A cloud node shows the venue's lines; its own captioners post to the venue.
        let (subjects, mirror) = match &venue {
            Some(venue) => (Vec::new(), Some(venue::mirror_of(CAPTIONS_STREAM, &venue.domain))),
            None => (vec![captions_subjects()], None),
        };
        js.get_or_create_stream(stream::Config {
            name: CAPTIONS_STREAM.into(),
            subjects,
            mirror,
            duplicate_window: CAPTIONS_DUPLICATE_WINDOW,
            num_replicas: replicas,
            ..Default::default()
        })
        .await
        .context("cannot create the captions stream")?;
        let node = uuid::Uuid::new_v4().simple().to_string().into();
        let link = Arc::new(tokio::sync::watch::Sender::new(Link::starting(venue.is_some())));
        Ok(Cluster { client, js, meta, presence, replicas, node, failing: Arc::default(), venue, link })
    }

    /// Why this node cannot serve its events from the cluster right now, if it cannot: no
    /// connection to any server, or an event's stream that it cannot follow or publish to.
    pub fn trouble(&self) -> Option<String> {
        use async_nats::connection::State;
        if self.client.connection_state() != State::Connected {
            return Some("no connection to a NATS server".into());
        }
        let failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        failing.iter().next().map(|(event, why)| format!("event {event}: {why}"))
    }

    /// Notes how the last call about `event`'s stream went, for [`Cluster::trouble`].
    fn note(&self, event: &Arc<str>, outcome: Result<(), String>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => failing.remove(event),
            Err(why) => failing.insert(Arc::clone(event), why),
        };
    }

    /// The log of one event, for its hub.
    pub fn event(&self, event: &str) -> EventLog {
        EventLog { cluster: self.clone(), event: event.into(), leaderless: Arc::default() }
    }

    /// The value of `key` in the meta bucket, created as `value` unless another node made it
    /// first: the one every node then uses.
    ///
    /// A NATS cluster that is still electing the bucket's leader (its servers just started)
    /// answers with a timeout: the start waits for it, a few times, rather than giving up. A
    /// create that timed out may have been stored; asking again then finds it there.
    ///
    /// A cloud node takes the venue's value when it can read it, so that the venue's links
    /// work on it too, and keeps it for a start while the link is down.
    pub async fn shared(&self, key: &str, value: String) -> anyhow::Result<String> {
        if let Some(theirs) = self.venue_value(key).await {
            self.meta.put(key, theirs.clone().into()).await.with_context(|| format!("cannot keep {key}"))?;
            return Ok(theirs);
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.meta.create(key, value.clone().into()).await {
                Ok(_) => return Ok(value),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let found =
                        self.meta.get(key).await.with_context(|| format!("cannot read {key} from the cluster"))?;
                    let found = found.with_context(|| format!("{key} vanished from the cluster"))?;
                    return Ok(String::from_utf8_lossy(&found).into_owned());
                }
                Err(e) if attempts < ELECTION_ATTEMPTS => {
                    tracing::warn!(key, error = %e, "the cluster did not keep a shared value yet; asking again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot keep {key} in the cluster")),
            }
        }
    }

    /// `key` in the venue's meta bucket, on a cloud node whose link is up.
    async fn venue_value(&self, key: &str) -> Option<String> {
        let venue = self.venue.as_ref()?;
        let reading = async {
            let bucket = venue.js.get_key_value(META_BUCKET).await.ok()?;
            bucket.get(key).await.ok().flatten()
        };
        let found = tokio::time::timeout(PATIENCE, reading).await.ok().flatten()?;
        Some(String::from_utf8_lossy(&found).into_owned())
    }
}

impl Cluster {
    /// The tokens of `event` every node grants: `ours` (JSON) unless another node shared
    /// its own first.
    pub async fn shared_tokens(&self, event: &str, ours: String) -> anyhow::Result<String> {
        self.shared(&events::tokens_key(event), ours).await
    }

    /// Makes `token` the one every node grants `role` of `event`. Read, changed and put
    /// back at the revision read, so that two roles rotated at once on two nodes both stay.
    pub async fn rotate_shared_token(&self, event: &str, role: Role, token: &str) -> Result<(), StoreError> {
        let key = events::tokens_key(event);
        for _ in 0..ROTATE_ATTEMPTS {
            let entry = self.meta.entry(&key).await.map_err(|e| nats_error("cannot read the shared tokens")(&e))?;
            let entry = entry.ok_or_else(|| StoreError(format!("the cluster holds no tokens of {event}")))?;
            let mut tokens: BTreeMap<Role, String> = serde_json::from_slice(&entry.value)?;
            tokens.insert(role, token.to_owned());
            match self.meta.update(&key, serde_json::to_vec(&tokens)?.into(), entry.revision).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(nats_error("cannot share the rotated token")(&e)),
            }
        }
        Err(StoreError("the shared tokens kept changing; rotate again".into()))
    }
}

/// Times a rotation reads and puts the shared tokens while other nodes change them too.
const ROTATE_ATTEMPTS: usize = 8;

/// The key-value bucket `name`, as another node made it or new. Made as a stream laid out
/// as async-nats lays out a bucket: its own `create_key_value` first asks for account fields
/// that servers before 2.10 (Debian's 2.9) do not send.
async fn bucket(js: &Context, name: &str, replicas: usize, max_age: Duration) -> anyhow::Result<kv::Store> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: replicas,
        ..Default::default()
    };
    // Another node may make it at the same moment: then it is there to get.
    let made = js.create_stream(config).await;
    let store = match (js.get_key_value(name).await, made) {
        (Ok(store), _) => Ok(store),
        (Err(_), Err(making)) => Err(anyhow::Error::from(making)),
        (Err(getting), Ok(_)) => Err(anyhow::Error::from(getting)),
    };
    store.with_context(|| format!("cannot create the {name} bucket"))
}
