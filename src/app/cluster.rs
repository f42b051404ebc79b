//! Events other nodes of the cluster create and archive while this one runs: started here
//! with the tokens the creating node returned, or stopped as a local archive stops them;
//! and tokens another node rotated, granted here from then on.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::rooms::retire;
use super::{AppState, ArchivedEntry};
use crate::auth::{self, EventTokens};
use crate::store::nats::{Cluster, RoomMarker};

/// Markers read ahead of the registry before the watch waits.
const MARKERS_AHEAD: usize = 64;
/// Times a node tries to load an event another node created, a second apart: a stream just
/// made may still be electing its leader, and the marker does not come again.
const ADOPT_ATTEMPTS: u32 = 5;

/// Follows the cluster's created and archived events until the server shuts down.
pub async fn follow(app: AppState, cluster: Arc<Cluster>) {
    let (to, mut markers) = mpsc::channel(MARKERS_AHEAD);
    app.tracker.spawn(Cluster::clone(&cluster).follow_rooms(to, app.shutdown.clone()));
    while let Some(marker) = markers.recv().await {
        match marker {
            RoomMarker::Tokens { event, tokens } => {
                for attempt in 1..=ADOPT_ATTEMPTS {
                    if adopt(&app, &event, &tokens).await.is_ok() || attempt == ADOPT_ATTEMPTS {
                        break;
                    }
                    tokio::select! {
                        () = app.shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            RoomMarker::Archived { event } => {
                let _one_at_a_time = app.rooms_lock.lock().await;
                if let Some(entry) = app.event(&event) {
                    retire(&app, &event, &entry).await;
                    info!(event, "archived on another node");
                }
            }
        }
    }
}

/// Starts an event this node does not know yet, as the cluster holds it, or grants a
/// running one's tokens as the cluster now shares them; `Err` when the cluster could not
/// be read, and asking again may help.
async fn adopt(app: &AppState, event: &str, tokens: &str) -> Result<(), ()> {
    let _one_at_a_time = app.rooms_lock.lock().await;
    let mut tokens: EventTokens = match serde_json::from_str(tokens) {
        Ok(tokens) => tokens,
        Err(e) => {
            warn!(event, error = %e, "the cluster's tokens of an event do not decode");
            return Ok(());
        }
    };
    if let Some(fixed) = app.configured_tokens.get(event) {
        tokens = auth::with_fixed(tokens, fixed);
    }
    if let Some(entry) = app.event(event) {
        // A rotation: links with the old token stop working here too; open pages stay.
        *entry.tokens.write().unwrap_or_else(|e| e.into_inner()) = tokens;
        return Ok(());
    }
    if app.shutdown.is_cancelled() || app.archived.contains_key(event) {
        return Ok(());
    }
    let stored = match app.load_stored(event).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            warn!(event, "the cluster shares tokens of an event it does not hold");
            return Ok(());
        }
        Err(e) => {
            warn!(event, error = %e, "cannot load an event another node created");
            return Err(());
        }
    };
    if stored.archived {
        app.archived.insert(event.to_owned(), Arc::new(ArchivedEntry::of(stored, tokens, &app.epoch)));
        return Ok(());
    }
    match app.launch(stored, tokens) {
        Ok(_) => info!(event, "created on another node; running here too"),
        Err(e) => warn!(event, error = %format!("{e:#}"), "cannot start an event another node created"),
    }
    Ok(())
}
