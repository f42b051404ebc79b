//! Events created and archived while the cluster runs, as every node learns of them: one
//! watch of the meta bucket's keys of two tokens, `tokens.<event>` (put by the node that
//! created the event once its stream holds it, and again by one that rotates a token) and
//! `archived.<event>`, made again when lost. A cloud node watches the venue's bucket.

use async_nats::jetstream::kv;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::events::{archived_key, tokens_key};
use super::{Cluster, FOLLOW_RETRY, META_BUCKET};

/// What the cluster says about one event.
#[derive(Debug)]
pub enum RoomMarker {
    /// The event is stored and these are its tokens (JSON), the same on every node: put
    /// when it is created, and again when one of them is rotated.
    Tokens {
        event: String,
        tokens: String,
    },
    Archived {
        event: String,
    },
}

/// The keys watched: one filter (servers before 2.10 take no more) that matches the tokens
/// and archived flags but not the snapshots (`snapshot.<event>.<epoch>`), which are large.
const MARKERS: &str = "*.*";

impl Cluster {
    /// The watch of the markers: a cloud node watches the venue's, where events are made.
    async fn watch_markers(&self) -> Result<kv::Watch, async_nats::Error> {
        match &self.venue {
            Some(venue) => Ok(venue.js.get_key_value(META_BUCKET).await?.watch_with_history(MARKERS).await?),
            None => Ok(self.meta.watch_with_history(MARKERS).await?),
        }
    }

    /// Sends every marker the bucket holds, then each new one as it is put, into `to`,
    /// until `stop` or until nobody reads them. After a lost watch the markers are sent
    /// again from the start: what a reader knows already it ignores.
    pub async fn follow_rooms(self, to: mpsc::Sender<RoomMarker>, stop: CancellationToken) {
        let (created, archived) = (tokens_key(""), archived_key(""));
        loop {
            let watching = tokio::select! {
                () = stop.cancelled() => return,
                watching = self.watch_markers() => watching,
            };
            match watching {
                Ok(mut watch) => loop {
                    let entry = tokio::select! {
                        () = stop.cancelled() => return,
                        entry = watch.next() => entry,
                    };
                    let entry = match entry {
                        Some(Ok(entry)) if entry.operation == kv::Operation::Put => entry,
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            warn!(error = %e, "lost the cluster's created and archived events; watching again");
                            break;
                        }
                        None => break,
                    };
                    let marker = if let Some(event) = entry.key.strip_prefix(&created) {
                        let tokens = String::from_utf8_lossy(&entry.value).into_owned();
                        RoomMarker::Tokens { event: event.to_owned(), tokens }
                    } else if let Some(event) = entry.key.strip_prefix(&archived) {
                        RoomMarker::Archived { event: event.to_owned() }
                    } else {
                        continue;
                    };
                    if to.send(marker).await.is_err() {
                        return;
                    }
                },
                Err(e) => warn!(error = %e, "cannot watch the cluster's created and archived events"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(FOLLOW_RETRY) => {}
            }
        }
    }
}
