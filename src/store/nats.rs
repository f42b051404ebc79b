//! The cluster store on NATS JetStream: each event's change log is a stream of its own
//! (`EVENTHUB_<event>`, subject `eventhub.<event>.log`), one message per command, which any
//! hub node appends to expecting the last sequence it applied, and every node follows.
//! Snapshots, tokens and archived flags are in a KV bucket, per-node presence counts in a
//! second one whose entries expire. Knows nothing of the hub.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::Context;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use async_nats::jetstream::{self, context::PublishErrorKind, kv, stream};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

use super::{Append, Applied, Backend, LogEntry, StoreError, StoredEvent};
use crate::domain::presence::{ByLang, Counts, Sample, HISTORY_LEN};
use crate::domain::{EventState, Millis};

const STREAM_PREFIX: &str = "EVENTHUB_";
/// Not `EVENTHUB_…`, so that it is never taken for an event's stream.
const ATTENDANCE_STREAM: &str = "EVENTHUB-ATTENDANCE";
const META_BUCKET: &str = "eventhub";
const PRESENCE_BUCKET: &str = "eventhub-presence";
/// How often a node puts its counts and reads the others'.
pub const PRESENCE_EVERY: Duration = Duration::from_secs(1);
/// A node whose counts have not been put again for this long is left out of the totals.
/// Judged by each reader on its own clock, so that clocks need not agree across machines.
pub const PRESENCE_STALE: Duration = Duration::from_secs(3);
/// Counts of a node that stopped are removed from the bucket after this long; until then
/// readers leave them out as stale. JetStream expires messages only every few seconds, too
/// coarse to judge liveness by.
const PRESENCE_TTL: Duration = Duration::from_secs(30);
/// How long one call to NATS may take before the cluster counts as unreachable.
const PATIENCE: Duration = Duration::from_secs(2);
/// How long a node starting up waits for JetStream to be ready before it gives up.
const START_PATIENCE: Duration = Duration::from_secs(30);
/// How many times a node tries to store a new event before it gives up.
const CREATE_ATTEMPTS: u32 = 10;
/// How long a follower waits before subscribing again after losing its subscription.
const FOLLOW_RETRY: Duration = Duration::from_secs(1);
/// Followed messages that may wait for the hub before the follower waits.
const FOLLOW_BACKLOG: usize = 256;

/// The message that says why a command was refused while the cluster cannot store it.
pub const UNAVAILABLE: &str = "the cluster cannot store changes right now; nothing was applied";
/// The message for a publish that was sent but not confirmed: it may yet be stored.
pub const UNCONFIRMED: &str = "the cluster did not confirm the change in time; it may still be applied: \
     send the command again with the same id to learn its outcome";

/// One message of an event's stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// The first message: the event as it was created.
    Created { state: Box<EventState> },
    /// The changes one command made, each with its own seq.
    Changes { entries: Vec<LogEntry> },
}

/// A snapshot as the meta bucket keeps it.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    seq: u64,
    state: EventState,
}

/// One attendance point as the attendance stream keeps it.
#[derive(Serialize, Deserialize)]
struct StoredSample {
    at: Millis,
    in_room: u32,
    remote: u32,
}

/// Why a publish did not land.
#[derive(Debug)]
pub enum Refused {
    /// Another node appended first (or this command was stored already): catch up, retry.
    Behind,
    /// The cluster is unreachable; nothing was stored.
    Unavailable,
    /// The publish went out but no answer came: it may or may not be stored.
    Unconfirmed,
}

/// A connection to the cluster; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    client: async_nats::Client,
    js: Context,
    meta: kv::Store,
    presence: kv::Store,
    replicas: usize,
    /// This process, in the presence bucket's keys.
    node: Arc<str>,
}

fn stream_name(event: &str) -> String {
    format!("{STREAM_PREFIX}{event}")
}

fn subject(event: &str) -> String {
    format!("eventhub.{event}.log")
}

fn attendance_subject(event: &str) -> String {
    format!("eventhub.attendance.{event}")
}

fn nats_error(what: &str) -> impl Fn(&dyn std::fmt::Display) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

/// Times a node at start asks the cluster to keep a shared value before it gives up.
const SHARED_ATTEMPTS: u32 = 6;

impl Cluster {
    /// Connects to the NATS servers in `urls` (comma-separated) and makes sure the buckets
    /// and the attendance stream exist, with `replicas` copies of everything.
    pub async fn connect(urls: &str, replicas: usize) -> anyhow::Result<Cluster> {
        let servers: Vec<&str> = urls.split(',').map(str::trim).filter(|url| !url.is_empty()).collect();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(PATIENCE)
            .connect(servers.as_slice())
            .await
            .with_context(|| format!("cannot connect to the NATS cluster at {urls}"))?;
        let js = jetstream::ContextBuilder::new().timeout(PATIENCE).build(client.clone());
        // NATS servers started together take a moment to elect JetStream's leaders.
        let started = std::time::Instant::now();
        loop {
            match Cluster::prepare(client.clone(), js.clone(), replicas).await {
                Ok(cluster) => return Ok(cluster),
                Err(e) if started.elapsed() < START_PATIENCE => {
                    warn!(error = %format!("{e:#}"), "JetStream is not ready yet; trying again");
                    tokio::time::sleep(FOLLOW_RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes sure the buckets and the attendance stream exist.
    async fn prepare(client: async_nats::Client, js: Context, replicas: usize) -> anyhow::Result<Cluster> {
        let meta = bucket(&js, META_BUCKET, replicas, Duration::ZERO).await?;
        let presence = bucket(&js, PRESENCE_BUCKET, replicas, PRESENCE_TTL).await?;
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
        let node = uuid::Uuid::new_v4().simple().to_string().into();
        Ok(Cluster { client, js, meta, presence, replicas, node })
    }

    /// The log of one event, for its hub.
    pub fn event(&self, event: &str) -> EventLog {
        EventLog { cluster: self.clone(), event: event.into() }
    }

    /// The value of `key` in the meta bucket, created as `value` unless another node made it
    /// first: the one every node then uses.
    ///
    /// A NATS cluster that is still electing the bucket's leader (its servers just started)
    /// answers with a timeout: the start waits for it, a few times, rather than giving up. A
    /// create that timed out may have been stored; asking again then finds it there.
    pub async fn shared(&self, key: &str, value: String) -> anyhow::Result<String> {
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
                Err(e) if attempts < SHARED_ATTEMPTS => {
                    tracing::warn!(key, error = %e, "the cluster did not keep a shared value yet; asking again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot keep {key} in the cluster")),
            }
        }
    }

    async fn stream(&self, event: &str) -> Result<Stream, StoreError> {
        self.js.get_stream(stream_name(event)).await.map_err(|e| nats_error("cannot find the event's stream")(&e))
    }

    /// The records of an event's stream after stream sequence `position`, in order.
    async fn records_after(&self, event: &str, position: u64) -> Result<Vec<(u64, Record)>, StoreError> {
        let stream = self.stream(event).await?;
        let mut records = Vec::new();
        let mut next = position + 1;
        loop {
            match stream.get_raw_message(next).await {
                Ok(message) => records.push((next, serde_json::from_slice(&message.payload)?)),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => return Ok(records),
                Err(e) => return Err(nats_error("cannot read the event's stream")(&e)),
            }
            next += 1;
        }
    }

    /// The event of stream `name`; none while the node that made the stream has not yet
    /// stored its first record.
    async fn load_event(
        &self,
        name: &str,
        recent: usize,
        since: Millis,
        max: usize,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let event = &name[STREAM_PREFIX.len()..];
        let mut stream = self.stream(event).await?;
        let info = stream.info().await.map_err(|e| nats_error("cannot read the stream's state")(&e))?;
        let last = info.state.last_sequence;
        if last == 0 {
            return Ok(None);
        }
        let epoch = info.config.description.clone().unwrap_or_else(|| name.to_owned());
        let snapshot: Option<Snapshot> = match self.meta.get(snapshot_key(event, &epoch)).await {
            Ok(Some(bytes)) => Some(serde_json::from_slice(&bytes)?),
            Ok(None) => None,
            Err(e) => return Err(nats_error("cannot read the event's snapshot")(&e)),
        };
        // Back from the end until the snapshot, and the recent changes, are covered.
        let mut messages = Vec::new();
        let mut created = None;
        let mut count = 0;
        for position in (1..=last).rev() {
            let message =
                stream.get_raw_message(position).await.map_err(|e| nats_error("cannot read the event's stream")(&e))?;
            match serde_json::from_slice(&message.payload)? {
                Record::Created { state } => {
                    created = Some(*state);
                    break;
                }
                Record::Changes { entries } => {
                    let first = entries.first().map_or(0, |e| e.seq);
                    count += entries.len();
                    messages.push(entries);
                    if snapshot.as_ref().is_some_and(|s| first <= s.seq + 1) && count >= recent {
                        break;
                    }
                }
            }
        }
        let entries: Vec<LogEntry> = messages.into_iter().rev().flatten().collect();
        let (mut state, mut seq) = match (created, snapshot) {
            (Some(state), _) => (state, 0),
            (None, Some(s)) => (s.state, s.seq),
            (None, None) => return Err(StoreError(format!("the stream of {event} does not start with its event"))),
        };
        let base = seq;
        for entry in entries.iter().filter(|e| e.seq > base) {
            if entry.seq != seq + 1 {
                return Err(StoreError(format!("event {event}: the log jumps from seq {seq} to {}", entry.seq)));
            }
            state.evolve(&entry.change);
            seq = entry.seq;
        }
        let mut applied: Vec<Applied> = Vec::new();
        for e in entries.iter().rev().filter(|e| e.at >= since) {
            let Some(command) = &e.command else { continue };
            if applied.len() < max
                && !applied.iter().any(|a| a.command == *command && a.participant == e.actor.participant)
            {
                applied.push(Applied {
                    participant: e.actor.participant.clone(),
                    command: command.clone(),
                    seq: e.seq,
                    at: e.at,
                });
            }
        }
        applied.reverse();
        let recent = entries[entries.len().saturating_sub(recent)..].to_vec();
        let archived = matches!(self.meta.get(archived_key(event)).await, Ok(Some(_)));
        let attendance = self.attendance(event).await?;
        let position = last;
        Ok(Some(StoredEvent { state, seq, recent, attendance, applied, archived, position, epoch: Some(epoch.into()) }))
    }

    /// Makes the stream of `id`, named `epoch` unless another node made it first, stores
    /// `record` as its first message unless one is there, and returns the stream's epoch.
    async fn create_event(&self, id: &str, epoch: &str, record: &[u8]) -> Result<String, StoreError> {
        let config = stream::Config {
            name: stream_name(id),
            description: Some(epoch.to_owned()),
            subjects: vec![subject(id)],
            num_replicas: self.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let mut stream = match self.js.create_stream(config).await {
            Ok(stream) => stream,
            Err(_) => self.stream(id).await?,
        };
        let info = stream.info().await.map_err(|e| nats_error("cannot read the stream's state")(&e))?;
        let epoch = info.config.description.clone().unwrap_or_else(|| epoch.to_owned());
        let message = PublishMessage::build().payload(record.to_vec().into()).expected_last_sequence(0);
        let ack = self
            .js
            .send_publish(subject(id), message)
            .await
            .map_err(|e| nats_error("cannot store the new event")(&e))?;
        match ack.await {
            Ok(_) => Ok(epoch),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(epoch),
            Err(e) => Err(nats_error("cannot store the new event")(&e)),
        }
    }

    async fn attendance(&self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let stream = self.js.get_stream(ATTENDANCE_STREAM).await.map_err(|e| nats_error("no attendance stream")(&e))?;
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: attendance_subject(event),
                ack_policy: AckPolicy::None,
                deliver_policy: DeliverPolicy::All,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("cannot read the attendance")(&e))?;
        let mut batch = consumer
            .fetch()
            .max_messages(HISTORY_LEN)
            .messages()
            .await
            .map_err(|e| nats_error("cannot read the attendance")(&e))?;
        let mut samples = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| nats_error("cannot read the attendance")(&e))?;
            let s: StoredSample = serde_json::from_slice(&message.payload)?;
            samples.push(Sample { at: s.at, in_room: s.in_room, remote: s.remote });
        }
        Ok(samples)
    }
}

fn snapshot_key(event: &str, epoch: &str) -> String {
    format!("snapshot.{event}.{epoch}")
}

fn archived_key(event: &str) -> String {
    format!("archived.{event}")
}

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

/// What a follower saw in an event's stream.
pub struct Followed {
    pub position: u64,
    pub record: Record,
}

/// One event's log in the cluster, as its hub uses it; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    cluster: Cluster,
    event: Arc<str>,
}

impl EventLog {
    /// Appends the changes of one command, if the stream still ends at `position`; returns
    /// the new message's stream sequence once JetStream has stored it. The command's id
    /// makes a retried publish a duplicate rather than a second message.
    ///
    /// The stream has one subject, so its sequence is the subject's; the expectation is on
    /// the stream's (`Nats-Expected-Last-Sequence`) because a 2.9 cluster checks the
    /// subject's against what it has applied, not what is in flight, and stored two nodes'
    /// changes at the same seq in our tests.
    pub async fn publish(
        &self,
        position: u64,
        participant: &str,
        id: &str,
        entries: &[LogEntry],
    ) -> Result<u64, Refused> {
        use async_nats::connection::State;
        if self.cluster.client.connection_state() != State::Connected {
            return Err(Refused::Unavailable);
        }
        let record = Record::Changes { entries: entries.to_vec() };
        let payload = serde_json::to_vec(&record).map_err(|_| Refused::Unavailable)?;
        let msg_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{participant}\0{id}").as_bytes());
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(msg_id.to_string())
            .expected_last_sequence(position);
        let ack = match self.cluster.js.send_publish(subject(&self.event), message).await {
            Ok(ack) => ack.await,
            Err(_) => return Err(Refused::Unavailable),
        };
        match ack {
            Ok(ack) if ack.duplicate => Err(Refused::Behind),
            Ok(ack) => Ok(ack.sequence),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Err(Refused::Behind),
            Err(e) if e.kind() == PublishErrorKind::TimedOut => Err(Refused::Unconfirmed),
            Err(e) => {
                warn!(event = %self.event, error = %e, "a publish failed");
                Err(Refused::Unavailable)
            }
        }
    }

    /// The records after stream sequence `position`: what other nodes appended since.
    pub async fn after(&self, position: u64) -> Result<Vec<(u64, Record)>, StoreError> {
        self.cluster.records_after(&self.event, position).await
    }

    /// Delivers every record after `position` in order into the returned channel, following
    /// the stream until `stop`, subscribing again whenever the subscription is lost.
    pub fn follow(
        &self,
        position: u64,
        stop: CancellationToken,
    ) -> (mpsc::Receiver<Followed>, impl Future<Output = ()>) {
        let (to, rx) = mpsc::channel(FOLLOW_BACKLOG);
        let log = self.clone();
        (rx, async move { log.follow_loop(position, to, stop).await })
    }

    async fn follow_loop(self, mut position: u64, to: mpsc::Sender<Followed>, stop: CancellationToken) {
        loop {
            let subscribed = tokio::select! {
                () = stop.cancelled() => return,
                subscribed = self.subscribe(position) => subscribed,
            };
            match subscribed {
                Ok(mut messages) => loop {
                    let message = tokio::select! {
                        () = stop.cancelled() => return,
                        message = messages.next() => message,
                    };
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => {
                            warn!(event = %self.event, error = %e, "lost the event's stream; following again");
                            break;
                        }
                        None => break,
                    };
                    let Ok(next) = message.info().map(|info| info.stream_sequence) else { continue };
                    match serde_json::from_slice(&message.payload) {
                        Ok(record) => {
                            if to.send(Followed { position: next, record }).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => error!(event = %self.event, position = next, error = %e, "a record does not decode"),
                    }
                    position = next;
                },
                Err(e) => warn!(event = %self.event, error = %e, "cannot follow the event's stream yet"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(FOLLOW_RETRY) => {}
            }
        }
    }

    async fn subscribe(&self, position: u64) -> Result<pull::Ordered, StoreError> {
        let stream = self.cluster.stream(&self.event).await?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: subject(&self.event),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: position + 1 },
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("cannot follow the event's stream")(&e))?;
        consumer.messages().await.map_err(|e| nats_error("cannot follow the event's stream")(&e))
    }

    /// Puts this node's counts of the event every [`PRESENCE_EVERY`] and sends the sum of
    /// every other live node's into `others`, until `stop`.
    pub async fn share_presence(
        self,
        ours: watch::Receiver<Counts>,
        others: watch::Sender<Counts>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(PRESENCE_EVERY);
        let own_key = format!("{}.{}", self.event, self.cluster.node);
        // Each other node's key: the revision last read, and when it was first read.
        let mut heard = HashMap::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let counts = StoredCounts::of(&ours.borrow());
            let Ok(value) = serde_json::to_vec(&counts) else { continue };
            let kv = &self.cluster.presence;
            if let Err(e) = kv.put(&own_key, value.into()).await {
                warn!(event = %self.event, error = %e, "cannot share this node's presence");
                continue;
            }
            match self.others(&own_key, &mut heard).await {
                Ok(sum) => {
                    others.send_if_modified(|current| {
                        let changed = *current != sum;
                        *current = sum;
                        changed
                    });
                }
                Err(e) => warn!(event = %self.event, error = %e, "cannot read the other nodes' presence"),
            }
        }
        // A node that stops cleanly leaves the totals at once rather than when its entry expires.
        if let Err(e) = self.cluster.presence.delete(&own_key).await {
            warn!(event = %self.event, error = %e, "cannot withdraw this node's presence");
        }
    }

    /// The sum of the counts of every other node that has put them within [`PRESENCE_STALE`].
    async fn others(&self, own_key: &str, heard: &mut HashMap<String, (u64, Instant)>) -> Result<Counts, StoreError> {
        let kv = &self.cluster.presence;
        let prefix = format!("{}.", self.event);
        let mut keys = kv.keys().await.map_err(|e| nats_error("cannot list presence")(&e))?;
        let mut sum = Counts::default();
        let mut listed = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| nats_error("cannot list presence")(&e))?;
            if !key.starts_with(&prefix) || key == own_key {
                continue;
            }
            let Ok(Some(entry)) = kv.entry(&key).await else { continue };
            let since = match heard.get(&key) {
                Some(&(revision, since)) if revision == entry.revision => since,
                _ => Instant::now(),
            };
            heard.insert(key.clone(), (entry.revision, since));
            listed.push(key);
            if since.elapsed() > PRESENCE_STALE {
                continue;
            }
            if let Ok(counts) = serde_json::from_slice::<StoredCounts>(&entry.value) {
                sum = add(&sum, &counts.into());
            }
        }
        heard.retain(|key, _| listed.contains(key));
        Ok(sum)
    }
}

/// Two nodes' counts together.
pub fn add(a: &Counts, b: &Counts) -> Counts {
    Counts {
        total: a.total + b.total,
        in_room: a.in_room + b.in_room,
        remote: a.remote + b.remote,
        by_lang: ByLang {
            zh: a.by_lang.zh + b.by_lang.zh,
            ja: a.by_lang.ja + b.by_lang.ja,
            en: a.by_lang.en + b.by_lang.en,
        },
    }
}

/// Counts as the presence bucket keeps them.
#[derive(Serialize, Deserialize)]
struct StoredCounts {
    total: u32,
    in_room: u32,
    remote: u32,
    zh: u32,
    ja: u32,
    en: u32,
}

impl StoredCounts {
    fn of(c: &Counts) -> Self {
        StoredCounts {
            total: c.total,
            in_room: c.in_room,
            remote: c.remote,
            zh: c.by_lang.zh,
            ja: c.by_lang.ja,
            en: c.by_lang.en,
        }
    }
}

impl From<StoredCounts> for Counts {
    fn from(c: StoredCounts) -> Self {
        Counts {
            total: c.total,
            in_room: c.in_room,
            remote: c.remote,
            by_lang: ByLang { zh: c.zh, ja: c.ja, en: c.en },
        }
    }
}

/// The cluster behind the [`Backend`] trait, for start-up, snapshots, exports and
/// attendance. Changes are not appended through it: the hub publishes each command's
/// changes itself, expecting the sequence it applied, which a group commit cannot.
pub struct NatsBackend {
    cluster: Cluster,
    runtime: Handle,
    /// Names the cluster; each event's own epoch names its stream.
    epoch: String,
    /// Each loaded or created event's epoch, which its snapshots are kept under.
    epochs: HashMap<String, String>,
}

impl NatsBackend {
    /// Must be called where blocking is allowed (the store thread, `spawn_blocking`), on
    /// the runtime that `cluster` was connected on.
    pub fn new(cluster: Cluster, runtime: Handle) -> anyhow::Result<Self> {
        let epoch = runtime.block_on(cluster.shared("epoch", uuid::Uuid::new_v4().to_string()))?;
        Ok(NatsBackend { cluster, runtime, epoch, epochs: HashMap::new() })
    }

    fn block_on<T>(&self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.runtime.block_on(async { tokio::time::timeout(PATIENCE * 30, work).await.map_err(|_| timed_out())? })
    }
}

fn timed_out() -> StoreError {
    StoreError("the cluster did not answer in time".into())
}

impl Backend for NatsBackend {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn load(&mut self, recent: usize, since: Millis, max_applied: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let cluster = self.cluster.clone();
        let events = self.block_on(async move {
            let mut names = cluster.js.stream_names();
            let mut found = Vec::new();
            while let Some(name) = names.next().await {
                let name = name.map_err(|e| nats_error("cannot list the streams")(&e))?;
                if name.starts_with(STREAM_PREFIX) {
                    found.push(name);
                }
            }
            found.sort();
            let mut events = Vec::new();
            for name in found {
                events.extend(cluster.load_event(&name, recent, since, max_applied).await?);
            }
            Ok(events)
        })?;
        for event in &events {
            let epoch = event.epoch.as_deref().unwrap_or_default().to_owned();
            self.epochs.insert(event.state.show.event.id.clone(), epoch);
        }
        Ok(events)
    }

    /// Creates the event's stream with its first record; an event another node created
    /// first is left as that node made it.
    fn create(&mut self, state: &EventState) -> Result<(), StoreError> {
        let event = state.show.event.id.clone();
        let epoch = uuid::Uuid::new_v4().to_string();
        let (cluster, event_id) = (self.cluster.clone(), event.clone());
        let record = serde_json::to_vec(&Record::Created { state: Box::new(state.clone()) })?;
        let epoch = self.block_on(async move {
            // A stream with three replicas may not take messages the moment it is made.
            let mut attempt = 1;
            loop {
                match cluster.create_event(&event_id, &epoch, &record).await {
                    Err(e) if attempt < CREATE_ATTEMPTS => {
                        warn!(error = %e, attempt, "the new event is not stored yet")
                    }
                    done => return done,
                }
                attempt += 1;
                tokio::time::sleep(FOLLOW_RETRY).await;
            }
        })?;
        self.epochs.insert(event, epoch);
        Ok(())
    }

    fn archive(&mut self, event: &str) -> Result<(), StoreError> {
        let kv = self.cluster.meta.clone();
        let key = archived_key(event);
        self.block_on(async move {
            kv.put(key, "archived".into()).await.map(|_| ()).map_err(|e| nats_error("cannot archive")(&e))
        })
    }

    fn append(&mut self, _batch: &[Append]) -> Result<(), StoreError> {
        Err(StoreError("in a cluster each hub publishes its changes to the event's stream itself".into()))
    }

    fn snapshot(&mut self, event: &str, seq: u64, state: &EventState) -> Result<(), StoreError> {
        let Some(epoch) = self.epochs.get(event) else { return Ok(()) };
        let key = snapshot_key(event, epoch);
        let value = serde_json::to_vec(&Snapshot { seq, state: state.clone() })?;
        let kv = self.cluster.meta.clone();
        self.block_on(async move {
            kv.put(key, value.into()).await.map(|_| ()).map_err(|e| nats_error("cannot store a snapshot")(&e))
        })
    }

    fn read_log(&mut self, event: &str) -> Result<Vec<LogEntry>, StoreError> {
        let cluster = self.cluster.clone();
        let event = event.to_owned();
        let records = self.block_on(async move { cluster.records_after(&event, 0).await })?;
        Ok(records
            .into_iter()
            .flat_map(|(_, record)| match record {
                Record::Changes { entries } => entries,
                Record::Created { .. } => Vec::new(),
            })
            .collect())
    }

    /// Every node samples; the first sample of each minute is kept, so that an event has
    /// one history, not one per node.
    fn record_attendance(&mut self, event: &str, sample: Sample) -> Result<(), StoreError> {
        let payload =
            serde_json::to_vec(&StoredSample { at: sample.at, in_room: sample.in_room, remote: sample.remote })?;
        let message =
            PublishMessage::build().payload(payload.into()).message_id(format!("{event}/{}", sample.at / 60_000));
        let (js, subject) = (self.cluster.js.clone(), attendance_subject(event));
        self.block_on(async move {
            let ack = js.send_publish(subject, message).await.map_err(|e| nats_error("cannot keep attendance")(&e))?;
            ack.await.map(|_| ()).map_err(|e| nats_error("cannot keep attendance")(&e))
        })
    }

    fn attendance(&mut self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let cluster = self.cluster.clone();
        let event = event.to_owned();
        self.block_on(async move { cluster.attendance(&event).await })
    }
}
