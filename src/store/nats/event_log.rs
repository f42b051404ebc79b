//! One event's stream as its hub uses it: a command's changes published expecting the
//! stream to end where the hub's state does, the records other nodes appended read back,
//! and every record followed as it is stored, through a subscription made again when lost.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::events::{stream_name, subject, Record};
use super::{nats_error, ordered, Cluster, PATIENCE};
use crate::store::{LogEntry, StoreError};

/// How long a follower's check may take. A leader answers it in a millisecond; during an
/// election the request can hang instead of failing, and the next check should not wait
/// for a whole [`PATIENCE`] after the new leader is there.
const CHECK_PATIENCE: Duration = Duration::from_secs(1);
/// How long a command waits for its event's stream to have a leader before it is refused;
/// an election after the leader's server died took 5 to 8.4 s on 2.12.8.
const ELECTION_WAIT: Duration = Duration::from_secs(10);
/// How often a command waiting for the stream's leader is published again.
const ELECTION_RETRY: Duration = Duration::from_millis(100);
/// Followed messages that may wait for the hub before the follower waits.
const FOLLOW_BACKLOG: usize = 256;

/// The message that says why a command was refused while the cluster cannot store it.
pub const UNAVAILABLE: &str = "the cluster cannot store changes right now; nothing was applied";
/// The message for a publish that was sent but not confirmed: it may yet be stored.
pub const UNCONFIRMED: &str = "the cluster did not confirm the change in time; it may still be applied: \
     send the command again with the same id to learn its outcome";

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

/// An event's follower as [`ordered::read`] drives it.
struct LogFollower<'a> {
    log: &'a EventLog,
    to: &'a mpsc::Sender<Followed>,
}

impl ordered::Follower for LogFollower<'_> {
    type Item = Record;

    /// What the subscription has not brought is read directly at once; a subscription that
    /// is behind twice in a row is made again.
    async fn check(&self, position: &mut u64, suspect: bool) -> Result<Option<bool>, ()> {
        let log = self.log;
        match log.holds_after(*position).await {
            Ok(true) if !suspect => log.read_directly(position, self.to).await.map(|()| Some(true)),
            Ok(behind) => {
                log.cluster.note(&log.event, Ok(()));
                Ok(Some(behind))
            }
            Err(e) => {
                warn!(event = %log.event, error = %e, "cannot check the event's stream");
                log.cluster.note(&log.event, Err(e.to_string()));
                Ok(None)
            }
        }
    }

    async fn deliver(&self, position: u64, record: Record) -> Result<(), ()> {
        self.to.send(Followed { position, record }).await.map_err(|_| ())
    }
}

/// What a follower saw in an event's stream.
pub struct Followed {
    pub position: u64,
    pub record: Record,
}

/// One event's log in the cluster, as its hub uses it; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    pub(super) cluster: Cluster,
    pub(super) event: Arc<str>,
    /// Since when no server has answered for the stream, while none does: the commands
    /// after the first share its wait rather than each waiting anew.
    pub(super) leaderless: Arc<Mutex<Option<Instant>>>,
}

impl EventLog {
    /// Whether this log is a cloud node's mirror of the venue's stream.
    pub fn in_cloud(&self) -> bool {
        self.cluster.in_cloud()
    }

    /// The link to the other side of a hybrid event.
    pub fn link(&self) -> tokio::sync::watch::Receiver<super::Link> {
        self.cluster.link()
    }

    /// Sends a remote page's command to the venue and returns its answer.
    pub async fn ask_venue(&self, payload: Vec<u8>) -> Result<bytes::Bytes, super::VenueUnreachable> {
        self.cluster.ask_venue(&self.event, payload).await
    }

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
        let payload = bytes::Bytes::from(payload);
        let ack = loop {
            let message = PublishMessage::build()
                .payload(payload.clone())
                .message_id(msg_id.to_string())
                .expected_last_sequence(position);
            let ack = match self.cluster.js.send_publish(subject(&self.event), message).await {
                Ok(ack) => ack.await,
                Err(_) => return Err(Refused::Unavailable),
            };
            match ack {
                // Nobody answers for the stream while its servers elect a new leader: the
                // command waits for one rather than being refused. Nothing was stored.
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound && self.awaits_leader() => {
                    tokio::time::sleep(ELECTION_RETRY).await;
                }
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => break Err(e),
                // Some server answered for the stream (or may have): the next silence is a new one.
                ack => {
                    *self.leaderless.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    break ack;
                }
            }
        };
        let outcome = match ack {
            Ok(ack) if ack.duplicate => Err(Refused::Behind),
            Ok(ack) => Ok(ack.sequence),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Err(Refused::Behind),
            Err(e) if e.kind() == PublishErrorKind::TimedOut => Err(Refused::Unconfirmed),
            Err(e) => {
                warn!(event = %self.event, error = %e, "a publish failed");
                Err(Refused::Unavailable)
            }
        };
        let health = match &outcome {
            Err(Refused::Unconfirmed) => Err("a publish was not confirmed in time".to_owned()),
            Err(Refused::Unavailable) => Err("a publish failed".to_owned()),
            Ok(_) | Err(Refused::Behind) => Ok(()),
        };
        self.cluster.note(&self.event, health);
        outcome
    }

    /// Whether a publish nobody answered should wait for the stream's new leader: until
    /// [`ELECTION_WAIT`] after the first such answer; after that, none waits until a
    /// server answers again (two servers of three down: every command is refused at once).
    fn awaits_leader(&self) -> bool {
        let mut since = self.leaderless.lock().unwrap_or_else(|e| e.into_inner());
        since.get_or_insert_with(Instant::now).elapsed() < ELECTION_WAIT
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
            // Making a subscription can take seconds after a stream leader changed; until it
            // is made, what the stream holds is read directly.
            let subscribing = self.subscribe(position);
            tokio::pin!(subscribing);
            let subscribed = loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    subscribed = &mut subscribing => break subscribed,
                    () = tokio::time::sleep(ordered::FOLLOW_CHECK) => {
                        if self.read_directly(&mut position, &to).await.is_err() {
                            return;
                        }
                    }
                }
            };
            match subscribed {
                Ok(messages) => {
                    if self.read(messages, &mut position, &to, &stop).await.is_err() {
                        return;
                    }
                }
                Err(e) => warn!(event = %self.event, error = %e, "cannot follow the event's stream yet"),
            }
            if self.read_directly(&mut position, &to).await.is_err() {
                return;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(ordered::FOLLOW_CHECK) => {}
            }
        }
    }

    /// Hands on what a subscription delivers, until it is lost or falls behind the stream
    /// (`Ok`), or until the hub or `stop` ends the following (`Err`).
    async fn read(
        &self,
        mut messages: pull::Ordered,
        position: &mut u64,
        to: &mpsc::Sender<Followed>,
        stop: &CancellationToken,
    ) -> Result<(), ()> {
        let follower = LogFollower { log: self, to };
        ordered::read(&follower, &self.event, "the event's stream", &mut messages, position, stop).await
    }
    /// Hands on every record the stream holds after `position`, read one by one from the
    /// stream's leader; `Err` when the hub is gone.
    async fn read_directly(&self, position: &mut u64, to: &mpsc::Sender<Followed>) -> Result<(), ()> {
        match tokio::time::timeout(PATIENCE, self.after(*position)).await {
            Ok(Ok(records)) => {
                self.cluster.note(&self.event, Ok(()));
                for (next, record) in records {
                    to.send(Followed { position: next, record }).await.map_err(|_| ())?;
                    *position = next;
                }
            }
            Ok(Err(e)) => self.cluster.note(&self.event, Err(e.to_string())),
            Err(_) => self.cluster.note(&self.event, Err("the event's stream did not answer in time".into())),
        }
        Ok(())
    }

    /// Whether the event's stream holds a record after `position`: one request to the
    /// stream's leader, which answers as soon as one is elected (a stream's info may take
    /// the cluster's metadata leader, which after a server's death takes longer).
    async fn holds_after(&self, position: u64) -> Result<bool, StoreError> {
        let asking = async {
            let stream = self.cluster.js.get_stream_no_info(stream_name(&self.event)).await;
            let stream = stream.map_err(|e| nats_error("cannot find the event's stream")(&e))?;
            match stream.get_raw_message(position + 1).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(false),
                Err(e) => Err(nats_error("cannot read the event's stream")(&e)),
            }
        };
        tokio::time::timeout(CHECK_PATIENCE, asking)
            .await
            .map_err(|_| StoreError("the event's stream did not answer in time".into()))?
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
}
