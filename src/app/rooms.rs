//! Events created and archived while the server runs. Each operation keeps the store, the
//! tokens file (in a cluster, the shared tokens) and the registry in step; none of it
//! knows HTTP.

use std::sync::Arc;

use super::{AppState, ArchivedEntry, EventEntry};
use crate::auth::{self, EventTokens};
use crate::domain::live::Phase;
use crate::domain::show::RunOfShow;
use crate::domain::EventState;
use crate::store::nats::Cluster;
use crate::store::StoredEvent;

/// How the websockets of an archived event are closed; documented in docs/protocol.md. In
/// the private range (4000-4999), so that pages can tell it from a restart and stop
/// reconnecting.
pub const ARCHIVED: (u16, &str) = (4404, "event archived");

/// Why a create or an archive did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RoomsError {
    #[error("an event with the id {0:?} exists already (archived events keep their id)")]
    Exists(String),
    #[error("no event {0:?} here")]
    NotFound(String),
    #[error("the event {0:?} is archived already")]
    AlreadyArchived(String),
    #[error("the show of {0:?} is live; end it first, or archive with force=true")]
    Live(String),
    #[error("{0}")]
    Internal(String),
}

/// Stores a new event, makes its tokens and starts its hub.
pub async fn create(app: &AppState, show: RunOfShow) -> Result<Arc<EventEntry>, RoomsError> {
    let _one_at_a_time = app.rooms_lock.lock().await;
    let id = show.event.id.clone();
    if app.events.contains_key(&id) || app.archived.contains_key(&id) {
        return Err(RoomsError::Exists(id));
    }
    // Tokens first: if storing then fails, the kept tokens only wait for this id.
    let tokens = auth::load_or_create(&app.data_dir, &app.configured_tokens, std::slice::from_ref(&id))
        .map_err(|e| RoomsError::Internal(format!("cannot keep the new event's tokens: {e:#}")))?
        .remove(&id)
        .ok_or_else(|| RoomsError::Internal("no tokens were made for the new event".into()))?;
    let state = EventState::new(show);
    app.journal
        .create(state.clone())
        .await
        .map_err(|e| RoomsError::Internal(format!("cannot store the event: {e}")))?;
    let (stored, tokens) = match &app.cluster {
        Some(cluster) => {
            // As the cluster holds it, with its stream's epoch, which every node's pages
            // resume under; another node that created the id a moment before wins.
            let stored = app
                .load_stored(&id)
                .await
                .map_err(|e| RoomsError::Internal(format!("cannot read the event back: {e}")))?;
            let stored = stored.ok_or_else(|| RoomsError::Internal("the cluster did not keep the event".into()))?;
            if stored.state.show != state.show {
                return Err(RoomsError::Exists(id));
            }
            // Shared once the stream holds the event: the other nodes start it on seeing them.
            (stored, share_tokens(app, cluster, &id, tokens).await?)
        }
        None => (StoredEvent::new(state), tokens),
    };
    tracing::info!(event = %id, "created at runtime");
    app.launch(stored, tokens).map_err(|e| RoomsError::Internal(format!("{e:#}")))
}

/// The tokens every node of the cluster grants for `id`: `ours`, unless the cluster held
/// some already.
async fn share_tokens(
    app: &AppState,
    cluster: &Cluster,
    id: &str,
    ours: EventTokens,
) -> Result<EventTokens, RoomsError> {
    let failed = |e: &dyn std::fmt::Display| RoomsError::Internal(format!("cannot share the new event's tokens: {e}"));
    let json = serde_json::to_string(&ours).map_err(|e| failed(&e))?;
    let shared = cluster.shared_tokens(id, json).await.map_err(|e| failed(&format!("{e:#}")))?;
    let theirs: EventTokens = serde_json::from_str(&shared).map_err(|e| failed(&e))?;
    Ok(match app.configured_tokens.get(id) {
        Some(fixed) => auth::with_fixed(theirs, fixed),
        None => theirs,
    })
}

/// Stops an event's hub, closing its websockets with [`ARCHIVED`], and keeps it as archived.
/// A live show is archived only with `force`.
pub async fn archive(app: &AppState, id: &str, force: bool) -> Result<(), RoomsError> {
    let _one_at_a_time = app.rooms_lock.lock().await;
    let Some(entry) = app.event(id) else {
        return Err(match app.archived.contains_key(id) {
            true => RoomsError::AlreadyArchived(id.to_owned()),
            false => RoomsError::NotFound(id.to_owned()),
        });
    };
    if !force {
        let overview = entry.hub.overview().await.map_err(|e| RoomsError::Internal(e.to_string()))?;
        if overview.state.live.phase == Phase::Live {
            return Err(RoomsError::Live(id.to_owned()));
        }
    }
    app.journal.archive(id).await.map_err(|e| RoomsError::Internal(format!("cannot archive the event: {e}")))?;
    retire(app, id, &entry).await;
    tracing::info!(event = id, force, "archived");
    Ok(())
}

/// Stops a running event's hub, closing its websockets with [`ARCHIVED`], and lists it as
/// archived; the store says so already. Called with the rooms lock held.
pub(super) async fn retire(app: &AppState, id: &str, entry: &EventEntry) {
    app.events.remove(id);
    // The hub is gone only when the server is shutting down; the plan is then all there is.
    let state = entry.hub.stop(ARCHIVED).await.unwrap_or_else(|_| EventState::new((*entry.show).clone()));
    let tokens = entry.tokens.read().unwrap_or_else(|e| e.into_inner()).clone();
    let tagger = entry.tagger.clone();
    app.archived.insert(id.to_owned(), Arc::new(ArchivedEntry { state, tokens, tagger }));
}
