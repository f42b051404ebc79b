//! The attendance history in the cluster: one stream for every event, keeping the first
//! sample each minute of whichever node took it, as many as the history holds.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{nats_error, Cluster, ELECTION_ATTEMPTS};
use crate::domain::presence::{Sample, HISTORY_LEN};
use crate::domain::Millis;
use crate::store::StoreError;

/// Not `EVENTHUB_…`, so that it is never taken for an event's stream.
pub(super) const ATTENDANCE_STREAM: &str = "EVENTHUB-ATTENDANCE";

/// One attendance point as the attendance stream keeps it.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredSample {
    pub(super) at: Millis,
    pub(super) in_room: u32,
    pub(super) remote: u32,
}

pub(super) fn attendance_subject(event: &str) -> String {
    format!("eventhub.attendance.{event}")
}

impl Cluster {
    /// The attendance samples of `event`. A consumer made just after the servers started
    /// may have no leader yet and answer "no responders": it is asked again, a few times.
    pub(super) async fn attendance(&self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.read_attendance(event).await {
                Err(e) if attempts < ELECTION_ATTEMPTS => {
                    tracing::warn!(event, error = %e, "cannot read the attendance yet; asking again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn read_attendance(&self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let stream = self.js.get_stream(ATTENDANCE_STREAM).await.map_err(|e| nats_error("no attendance stream")(&e))?;
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: attendance_subject(event),
                ack_policy: AckPolicy::None,
                deliver_policy: DeliverPolicy::All,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("cannot read the attendance")(&e))?;
        let mut batch = consumer
            .fetch()
            .max_messages(HISTORY_LEN)
            .messages()
            .await
            .map_err(|e| nats_error("cannot read the attendance")(&e))?;
        let mut samples = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| nats_error("cannot read the attendance")(&e))?;
            let s: StoredSample = serde_json::from_slice(&message.payload)?;
            samples.push(Sample { at: s.at, in_room: s.in_room, remote: s.remote });
        }
        Ok(samples)
    }
}
