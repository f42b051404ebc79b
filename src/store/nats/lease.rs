//! Leases in the meta bucket: one key per event and purpose, held by one node at a time,
//! which renews it by compare-and-set. The key also carries the holder's progress, so that
//! a node taking over knows where the last holder stopped. A node that has not seen a
//! lease move for a while takes it with the same compare-and-set: of two nodes trying at
//! once, one wins.

use async_nats::jetstream::kv;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{nats_error, Cluster};
use crate::store::StoreError;

/// One lease of one event, as this node sees and takes it.
#[derive(Clone)]
pub struct Lease {
    cluster: Cluster,
    key: String,
}

/// The lease as the bucket holds it: who holds it (`None` once released) and how far the
/// holder got, at `revision`.
#[derive(Clone, Debug, PartialEq)]
pub struct Holding<P> {
    pub holder: Option<String>,
    pub progress: P,
    pub revision: u64,
}

#[derive(Serialize, Deserialize)]
struct Stored<P> {
    /// Empty once released.
    node: String,
    progress: P,
}

/// Why the lease could not be set.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another node set it since the revision given: this node does not hold it.
    #[error("another node holds the lease")]
    Taken,
    #[error("{0}")]
    Unavailable(StoreError),
}

impl Cluster {
    /// The lease `name` of `event` (e.g. `automations`).
    pub fn lease(&self, event: &str, name: &str) -> Lease {
        Lease { cluster: self.clone(), key: format!("lease.{name}.{event}") }
    }
}

impl Lease {
    /// This node, as a holder.
    pub fn node(&self) -> &str {
        &self.cluster.node
    }

    /// The lease as it stands, if anyone ever took it.
    pub async fn read<P: DeserializeOwned>(&self) -> Result<Option<Holding<P>>, StoreError> {
        let entry = self.cluster.meta.entry(&self.key).await.map_err(|e| nats_error("cannot read a lease")(&e))?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else { return Ok(None) };
        let stored: Stored<P> = serde_json::from_slice(&entry.value)?;
        let holder = Some(stored.node).filter(|node| !node.is_empty());
        Ok(Some(Holding { holder, progress: stored.progress, revision: entry.revision }))
    }

    /// Takes a lease nobody ever took; [`LeaseError::Taken`] when another node did first.
    pub async fn create<P: Serialize>(&self, progress: &P) -> Result<u64, LeaseError> {
        let value = self.value(self.node(), progress)?;
        match self.cluster.meta.create(&self.key, value.into()).await {
            Ok(revision) => Ok(revision),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(LeaseError::Taken),
            Err(e) => Err(LeaseError::Unavailable(nats_error("cannot take a lease")(&e))),
        }
    }

    /// Holds the lease with `progress`, if it is still at `revision`: renews it, records how
    /// far this node got, or takes it over. Returns the new revision.
    pub async fn set<P: Serialize>(&self, progress: &P, revision: u64) -> Result<u64, LeaseError> {
        let value = self.value(self.node(), progress)?;
        self.swap(value, revision).await
    }

    /// Lets the lease go, keeping `progress`, so that another node takes it at once.
    pub async fn release<P: Serialize>(&self, progress: &P, revision: u64) -> Result<u64, LeaseError> {
        let value = self.value("", progress)?;
        self.swap(value, revision).await
    }

    async fn swap(&self, value: Vec<u8>, revision: u64) -> Result<u64, LeaseError> {
        match self.cluster.meta.update(&self.key, value.into(), revision).await {
            Ok(revision) => Ok(revision),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Err(LeaseError::Taken),
            Err(e) => Err(LeaseError::Unavailable(nats_error("cannot hold a lease")(&e))),
        }
    }

    fn value<P: Serialize>(&self, node: &str, progress: &P) -> Result<Vec<u8>, LeaseError> {
        let stored = Stored { node: node.to_owned(), progress };
        serde_json::to_vec(&stored).map_err(|e| LeaseError::Unavailable(e.into()))
    }
}
