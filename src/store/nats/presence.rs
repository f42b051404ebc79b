//! Presence across nodes: each node puts its counts of an event in the presence bucket
//! every second and sums every other live node's, judging liveness on its own clock; the
//! people on each node's list go the same way (`people`), on the same watch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::event_log::EventLog;
use super::people::{chunk_key, Own, People, Theirs};
use super::venue::VenueSide;
use super::{Cluster, PATIENCE, PRESENCE_BUCKET};
use crate::domain::presence::{ByLang, Counts};

/// The bucket of every node's counts and people: the cluster's own, or on a cloud node the
/// venue's, which it moves to as soon as it can reach it.
#[derive(Clone)]
pub(super) struct PresenceBucket {
    /// The bucket, and whether it is the venue's.
    current: Arc<std::sync::RwLock<(kv::Store, bool)>>,
}

impl PresenceBucket {
    pub(super) fn new(ours: kv::Store) -> PresenceBucket {
        PresenceBucket { current: Arc::new(std::sync::RwLock::new((ours, false))) }
    }

    pub(super) fn store(&self) -> kv::Store {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    pub(super) fn is_venues(&self) -> bool {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1
    }

    pub(super) fn use_venues(&self, theirs: kv::Store) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (theirs, true);
    }
}

/// How often a node puts its counts and reads the others'.
pub const PRESENCE_EVERY: Duration = Duration::from_secs(1);
/// A node whose counts have not been put again for this long is left out of the totals.
/// Judged by each reader on its own clock, so that clocks need not agree across machines.
pub const PRESENCE_STALE: Duration = Duration::from_secs(3);
/// Counts of a node that stopped are removed from the bucket after this long; until then
/// readers leave them out as stale. JetStream expires messages only every few seconds, too
/// coarse to judge liveness by.
pub(super) const PRESENCE_TTL: Duration = Duration::from_secs(30);

impl EventLog {
    /// Puts this node's counts of the event every [`PRESENCE_EVERY`] and sends the sum of
    /// every other live node's into `others`, until `stop`; puts the people the hub leaves
    /// in `people` and leaves it the other live nodes' there. The others' counts and people
    /// come from one watch of the event's keys, not a listing per read: each listing would
    /// make JetStream create a consumer.
    pub async fn share_presence(
        self,
        ours: watch::Receiver<Counts>,
        others: watch::Sender<Counts>,
        people: Arc<People>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(PRESENCE_EVERY);
        let node = Arc::clone(&self.cluster.node);
        let own_key = format!("{}.{node}", self.event);
        let prefix = format!("{}.", self.event);
        // Each other node's latest counts, and when they were heard on this node's clock.
        let mut heard: HashMap<String, (Counts, Instant)> = HashMap::new();
        let (mut own, mut theirs) = (Own::new(), Theirs::default());
        let (mut watching, mut watched) = (None, false);
        // While the link to the other side of a hybrid event is down, that side's last counts
        // stay in the totals, as of the cut, rather than its people seeming to leave.
        let link = self.cluster.link();
        loop {
            let entry = tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => None,
                entry = next_entry(&mut watching) => entry,
            };
            if let Some(entry) = entry {
                match entry {
                    Ok(entry) => {
                        let put = entry.operation == kv::Operation::Put;
                        let key = entry.key.strip_prefix(&prefix).unwrap_or_default();
                        match key.split('.').collect::<Vec<_>>().as_slice() {
                            [from, ..] if *from == &*node => {}
                            [from] if put => {
                                if let Ok(counts) = serde_json::from_slice::<StoredCounts>(&entry.value) {
                                    heard.insert((*from).to_owned(), (counts.into(), Instant::now()));
                                }
                            }
                            [from] => {
                                heard.remove(*from);
                            }
                            [from, "people", chunk] => {
                                theirs.chunk(from, chunk, put.then_some(&entry.value[..]), &people);
                            }
                            _ => {}
                        }
                    }
                    Err(e) => {
                        warn!(event = %self.event, error = %e, "lost the other nodes' presence; watching again");
                        watching = None;
                    }
                }
                continue;
            }
            // A cloud node that moved to the venue's bucket watches that one from now on.
            if watched != self.cluster.presence.is_venues() {
                watching = None;
            }
            if watching.is_none() {
                watched = self.cluster.presence.is_venues();
                match self.cluster.presence.store().watch_with_history(format!("{}.>", self.event)).await {
                    Ok(watch) => watching = Some(watch),
                    Err(e) => warn!(event = %self.event, error = %e, "cannot watch the other nodes' presence"),
                }
            }
            let counts = StoredCounts::of(&ours.borrow());
            let Ok(value) = serde_json::to_vec(&counts) else { continue };
            if let Err(e) = self.cluster.presence.store().put(&own_key, value.into()).await {
                warn!(event = %self.event, error = %e, "cannot share this node's presence");
            }
            own.take(&people);
            let failed = self.put_people(own.due()).await;
            own.again(failed);
            let cut = !link.borrow().up;
            if !cut {
                heard.retain(|_, (_, at)| at.elapsed() <= PRESENCE_TTL);
            }
            let live: HashMap<&str, &Counts> = heard
                .iter()
                .filter(|(_, (_, at))| cut || at.elapsed() <= PRESENCE_STALE)
                .map(|(node, (counts, _))| (node.as_str(), counts))
                .collect();
            theirs.liveness(&live.keys().copied().collect::<HashSet<_>>(), &people);
            let sum = live.values().fold(Counts::default(), |sum, counts| add(&sum, counts));
            others.send_if_modified(|current| {
                let changed = *current != sum;
                *current = sum;
                changed
            });
        }
        // A node that stops cleanly leaves the totals and the lists at once rather than
        // when its entries expire.
        if let Err(e) = self.cluster.presence.store().delete(&own_key).await {
            warn!(event = %self.event, error = %e, "cannot withdraw this node's presence");
        }
        self.put_people(own.chunks().map(|chunk| (chunk, None)).collect()).await;
    }

    /// Puts each of this node's chunks of people given, or deletes it (`None`), together;
    /// returns the chunks that failed.
    async fn put_people(&self, chunks: Vec<(u64, Option<Vec<u8>>)>) -> Vec<u64> {
        let node = &self.cluster.node;
        let puts = chunks.into_iter().map(|(chunk, value)| {
            let key = chunk_key(&self.event, node, chunk);
            let bucket = self.cluster.presence.store();
            async move {
                let outcome = match value {
                    Some(value) => bucket.put(key, value.into()).await.map(|_| ()).map_err(|e| e.to_string()),
                    None => bucket.delete(key).await.map_err(|e| e.to_string()),
                };
                (chunk, outcome)
            }
        });
        let mut failed = Vec::new();
        for (chunk, outcome) in futures_util::future::join_all(puts).await {
            if let Err(e) = outcome {
                warn!(event = %self.event, error = %e, "cannot share this node's people; trying again");
                failed.push(chunk);
            }
        }
        failed
    }
}

/// The next update of a presence watch, or never without one.
async fn next_entry(watching: &mut Option<kv::Watch>) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match watching {
        Some(watch) => {
            Some(watch.next().await.unwrap_or_else(|| Err(kv::WatcherError::new(kv::WatcherErrorKind::Other))))
        }
        None => std::future::pending().await,
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

/// Moves a cloud node's presence to the venue's bucket, if it can be reached now; whether
/// it is there.
pub(super) async fn venue_presence(venue: &VenueSide, bucket: &PresenceBucket) -> bool {
    if let Ok(Ok(theirs)) = tokio::time::timeout(PATIENCE, venue.js.get_key_value(PRESENCE_BUCKET)).await {
        bucket.use_venues(theirs);
    }
    bucket.is_venues()
}

impl Cluster {
    /// On a cloud node started while the link was down: tries the venue's presence bucket
    /// every [`PRESENCE_EVERY`] until it is there, so that both sides count everyone again.
    pub async fn reach_venue_presence(self, stop: CancellationToken) {
        let Some(venue) = self.venue.clone() else { return };
        while !venue_presence(&venue, &self.presence).await {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(PRESENCE_EVERY) => {}
            }
        }
    }
}
