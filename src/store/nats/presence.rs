//! Presence across nodes: each node puts its counts of an event in the presence bucket
//! every second and sums every other live node's, judging liveness on its own clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::event_log::EventLog;
use super::nats_error;
use crate::domain::presence::{ByLang, Counts};
use crate::store::StoreError;

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
