//! `eventhub migrate`: moves the events of the embedded store (the data dir's SQLite) into
//! a cluster's streams, each seq kept and under the store's epoch, so that pages open before
//! the move resume with `replay` on the cluster's nodes, and with the events' tokens, so that
//! their links stay valid; their caption lines go into the cluster's captions stream. The
//! attendance history stays behind.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::auth;
use crate::config::ClusterSettings;
use crate::domain::captions::Track;
use crate::domain::Role;
use crate::store::captions::CaptionStore;
use crate::store::nats::Cluster;
use crate::store::sqlite::SqliteBackend;
use crate::store::Backend;

/// What to move, and where to.
pub struct Migrate {
    /// The data dir of the server that ran on the embedded store; it must be stopped.
    pub data_dir: PathBuf,
    pub cluster: ClusterSettings,
    /// The events to move; all of them when empty.
    pub events: Vec<String>,
    /// Tokens fixed in the settings, which win over the data dir's.
    pub tokens: HashMap<String, HashMap<Role, String>>,
}

/// Moves the events, saying on `out` what each became; stops at the first that cannot move.
pub async fn run(migrate: &Migrate, out: &mut impl Write) -> anyhow::Result<()> {
    let mut store = SqliteBackend::open(&migrate.data_dir)
        .with_context(|| format!("cannot open the store in {}", migrate.data_dir.display()))?;
    let epoch = store.epoch().to_owned();
    let mut events = store.created_events()?;
    for wanted in &migrate.events {
        if !events.iter().any(|(created, _)| created.show.event.id == *wanted) {
            bail!("the store in {} holds no event {wanted:?}", migrate.data_dir.display());
        }
    }
    events.retain(|(created, _)| migrate.events.is_empty() || migrate.events.contains(&created.show.event.id));
    let ids: Vec<String> = events.iter().map(|(created, _)| created.show.event.id.clone()).collect();
    let mut tokens = auth::load_or_create(&migrate.data_dir, &migrate.tokens, &ids)?;
    let captions = CaptionStore::open(&migrate.data_dir)?;
    let cluster = Cluster::connect(&migrate.cluster.urls, migrate.cluster.replicas, None).await?;
    for (created, archived) in events {
        let id = created.show.event.id.clone();
        let log = store.read_log(&id)?;
        let records = cluster
            .import_event(&created, &epoch, &log, archived)
            .await
            .with_context(|| format!("cannot move {id:?}"))?;
        let mut lines = 0;
        for track in Track::ALL {
            let kept = captions.lines(&id, track)?;
            lines += cluster
                .import_lines(&id, track, &kept)
                .await
                .with_context(|| format!("cannot move {id:?}'s captions"))?;
        }
        let ours = serde_json::to_string(&tokens.remove(&id).context("tokens were made for every event")?)?;
        let shared = cluster.shared_tokens(&id, ours.clone()).await?;
        let links =
            if shared == ours { "its links stay valid" } else { "the cluster had tokens for it already: new links" };
        let last = log.last().map_or(0, |entry| entry.seq);
        let archived = if archived { ", archived" } else { "" };
        writeln!(
            out,
            "{id}: {} changes (seq 1 to {last}) in {records} stream messages, epoch {epoch}{archived}, \
             {lines} caption lines; pages open before the move resume with replay; {links}",
            log.len()
        )?;
    }
    Ok(())
}
