//! Each event's stream (`EVENTHUB_<event>`, subject `eventhub.<event>.log`): the records in
//! it, an event created as its first record, and an event loaded back from its latest
//! snapshot in the meta bucket and the records since.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, Stream};
use serde::{Deserialize, Serialize};

use super::{nats_error, Cluster};
use crate::domain::{EventState, Millis};
use crate::store::{Applied, AtMost, LogEntry, StoreError, StoredEvent};

pub(super) const STREAM_PREFIX: &str = "EVENTHUB_";

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
pub(super) struct Snapshot {
    pub(super) seq: u64,
    pub(super) state: EventState,
}

pub(super) fn stream_name(event: &str) -> String {
    format!("{STREAM_PREFIX}{event}")
}

pub(super) fn subject(event: &str) -> String {
    format!("eventhub.{event}.log")
}

pub(super) fn snapshot_key(event: &str, epoch: &str) -> String {
    format!("snapshot.{event}.{epoch}")
}

pub(super) fn archived_key(event: &str) -> String {
    format!("archived.{event}")
}

/// Where an event's tokens are shared: every node grants the same links.
pub(super) fn tokens_key(event: &str) -> String {
    format!("tokens.{event}")
}

impl Cluster {
    pub(super) async fn stream(&self, event: &str) -> Result<Stream, StoreError> {
        self.js.get_stream(stream_name(event)).await.map_err(|e| nats_error("cannot find the event's stream")(&e))
    }

    /// The records of an event's stream after stream sequence `position`, in order.
    pub(super) async fn records_after(&self, event: &str, position: u64) -> Result<Vec<(u64, Record)>, StoreError> {
        // Without the stream's info, which after a server's death can take seconds longer.
        let stream = self.js.get_stream_no_info(stream_name(event)).await;
        let stream = stream.map_err(|e| nats_error("cannot find the event's stream")(&e))?;
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
    pub(super) async fn load_event(
        &self,
        name: &str,
        recent: usize,
        since: Millis,
        max: AtMost,
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
        let applied = Applied::of(entries.iter().rev().filter(|e| e.at >= since), max);
        let recent = entries[entries.len().saturating_sub(recent)..].to_vec();
        let archived = matches!(self.meta.get(archived_key(event)).await, Ok(Some(_)));
        let attendance = self.attendance(event).await?;
        let position = last;
        Ok(Some(StoredEvent { state, seq, recent, attendance, applied, archived, position, epoch: Some(epoch.into()) }))
    }

    /// Makes the stream of `id`, named `epoch` unless another node made it first, stores
    /// `record` as its first message unless one is there, and returns the stream's epoch.
    pub(super) async fn create_event(&self, id: &str, epoch: &str, record: &[u8]) -> Result<String, StoreError> {
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

    /// Stores an event brought from another store as its stream: the event as it was
    /// created, then one record per command (or per change made by no command), each seq
    /// kept, under the other store's `epoch`, so that pages resume across the move. Refused
    /// when the cluster holds the event already. Returns the number of records.
    pub async fn import_event(
        &self,
        created: &EventState,
        epoch: &str,
        log: &[LogEntry],
        archived: bool,
    ) -> Result<u64, StoreError> {
        let id = created.show.event.id.as_str();
        if let Ok(stream) = self.js.get_stream(stream_name(id)).await {
            if stream.cached_info().state.messages > 0 {
                return Err(StoreError(format!("the cluster holds the event {id:?} already")));
            }
        }
        let record = serde_json::to_vec(&Record::Created { state: Box::new(created.clone()) })?;
        let kept = self.create_event(id, epoch, &record).await?;
        if kept != epoch {
            return Err(StoreError(format!("the cluster made the stream of {id:?} under another epoch, {kept}")));
        }
        let mut position = 1;
        let mut rest = log;
        while let Some(first) = rest.first() {
            // A command's changes go together, as a hub publishes them.
            let together = match &first.command {
                Some(command) => rest
                    .iter()
                    .take_while(|e| {
                        e.command.as_ref() == Some(command) && e.actor.participant == first.actor.participant
                    })
                    .count(),
                None => 1,
            };
            let (entries, after) = rest.split_at(together);
            let payload = serde_json::to_vec(&Record::Changes { entries: entries.to_vec() })?;
            let message = PublishMessage::build().payload(payload.into()).expected_last_sequence(position);
            let ack = self.js.send_publish(subject(id), message).await;
            let ack = ack.map_err(|e| nats_error("cannot store the event's log")(&e))?.await;
            position = ack.map_err(|e| nats_error("cannot store the event's log")(&e))?.sequence;
            rest = after;
        }
        if archived {
            self.meta.put(archived_key(id), "archived".into()).await.map_err(|e| nats_error("cannot archive")(&e))?;
        }
        Ok(position)
    }
}
