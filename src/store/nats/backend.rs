//! The cluster behind the store's [`Backend`] trait, for start-up, snapshots, exports and
//! attendance, called from the store's thread: each call blocks on the runtime the cluster
//! was connected on, bounded in time.

use std::collections::HashMap;
use std::future::Future;

use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use tokio::runtime::Handle;
use tracing::warn;

use super::attendance::{attendance_subject, StoredSample};
use super::events::{archived_key, snapshot_key, stream_name, Record, Snapshot, STREAM_PREFIX};
use super::{nats_error, Cluster, FOLLOW_RETRY, PATIENCE};
use crate::domain::presence::Sample;
use crate::domain::{EventState, Millis};
use crate::store::{Append, AtMost, Backend, LogEntry, StoreError, StoredEvent};

/// How many times a node tries to store a new event before it gives up.
const CREATE_ATTEMPTS: u32 = 10;

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

    fn load(&mut self, recent: usize, since: Millis, max_applied: AtMost) -> Result<Vec<StoredEvent>, StoreError> {
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

    fn load_event(
        &mut self,
        event: &str,
        recent: usize,
        since: Millis,
        max_applied: AtMost,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let (cluster, name, id) = (self.cluster.clone(), stream_name(event), event.to_owned());
        let loaded = self.block_on(async move {
            // An event made at the venue while this cloud node runs: mirrored first.
            if let Some(venue) = &cluster.venue {
                cluster.mirror_event(venue, &id).await?;
            }
            cluster.load_event(&name, recent, since, max_applied).await
        })?;
        if let Some(epoch) = loaded.as_ref().and_then(|e| e.epoch.as_deref()) {
            // Its snapshots are kept under its epoch, by this node as by the one that made it.
            self.epochs.insert(event.to_owned(), epoch.to_owned());
        }
        Ok(loaded)
    }

    /// Creates the event's stream with its first record; an event another node created
    /// first is left as that node made it.
    ///
    /// A cloud node mirrors the venue's stream of the event instead.
    fn create(&mut self, state: &EventState) -> Result<(), StoreError> {
        let event = state.show.event.id.clone();
        if let Some(venue) = self.cluster.venue.clone() {
            let cluster = self.cluster.clone();
            return self.block_on(async move { cluster.mirror_event(&venue, &event).await });
        }
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
