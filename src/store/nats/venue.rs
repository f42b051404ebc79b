//! A venue and a cloud on NATS leaf nodes. The venue's nodes hold each event's stream in
//! their own JetStream domain and decide every command; a cloud node keeps a mirror of each
//! event's stream (same sequences, same epoch), follows it as a venue node follows the
//! stream, and sends its pages' commands to the venue as requests. The nodes of each side
//! beat on a subject of their own, so that the other side knows when the link is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::Context;
use async_nats::jetstream::stream;
use async_nats::subject::Subject;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::events::stream_name;
use super::{nats_error, Cluster};
use crate::clock::now_millis;
use crate::domain::Millis;
use crate::store::StoreError;

/// Where the venue's nodes say they are there.
const VENUE_HEARTBEAT: &str = "eventhub.venue.heartbeat";
/// Where the cloud's nodes say they are there.
const CLOUD_HEARTBEAT: &str = "eventhub.cloud.heartbeat";
/// How often they say it.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a node hears nothing from the other side before it counts the link as down.
pub const LINK_LAPSE: Duration = Duration::from_secs(3);
/// How long a cloud node waits for the venue's answer to a command.
const COMMAND_PATIENCE: Duration = Duration::from_secs(3);
/// The queue group of the venue's nodes: each remote command is taken by one of them.
const VENUE_GROUP: &str = "eventhub-venue";
/// How long a cloud node starting up waits for a new mirror's first message.
const MIRROR_PATIENCE: Duration = Duration::from_secs(20);

/// Where a cloud node sends the commands of `event`'s remote pages.
fn command_subject(event: &str) -> String {
    format!("eventhub.venue.command.{event}")
}

/// The cloud side of a link: the venue's JetStream domain.
#[derive(Clone)]
pub(super) struct VenueSide {
    pub(super) domain: String,
    pub(super) js: Context,
}

/// The link to the other side as a node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    /// When it went up or down.
    pub since: Millis,
}

impl Link {
    /// A cloud node's link is down until it hears the venue. A venue node's is up until it
    /// has heard a cloud and then hears none: a venue without a cloud has no link to lose.
    pub(super) fn starting(in_cloud: bool) -> Link {
        Link { up: !in_cloud, since: now_millis() }
    }
}

/// Why the venue did not answer.
#[derive(Debug)]
pub struct VenueUnreachable;

/// A command a venue node took from a cloud node: answer it with [`Cluster::answer`].
pub struct RemoteRequest {
    pub event: String,
    pub payload: Bytes,
    reply: Option<Subject>,
}

impl Cluster {
    /// Whether this node is in the cloud: it mirrors the venue and never appends.
    pub fn in_cloud(&self) -> bool {
        self.venue.is_some()
    }

    /// Beats on this side's heartbeat subject until `stop`.
    pub async fn beat(self, stop: CancellationToken) {
        let subject = if self.in_cloud() { CLOUD_HEARTBEAT } else { VENUE_HEARTBEAT };
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {
                    // A missed beat is the cloud's to notice; the next one goes out anyway.
                    let _ = self.client.publish(subject, Bytes::from_static(b"{}")).await;
                }
            }
        }
    }

    /// The link to the other side.
    pub fn link(&self) -> watch::Receiver<Link> {
        self.link.subscribe()
    }

    /// Keeps the link to the other side as its heartbeats tell it, until `stop`: down
    /// after [`LINK_LAPSE`] without one once one was heard (and on a cloud node before).
    pub async fn watch_link(self, stop: CancellationToken) {
        let to = Arc::clone(&self.link);
        let theirs = if self.in_cloud() { VENUE_HEARTBEAT } else { CLOUD_HEARTBEAT };
        let mut beats = loop {
            match self.client.subscribe(theirs).await {
                Ok(beats) => break beats,
                Err(e) => warn!(error = %e, "cannot listen for the other side's heartbeat"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            }
        };
        let mut last = None::<Instant>;
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY / 4);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                beat = beats.next() => match beat {
                    Some(_) => last = Some(Instant::now()),
                    None => return,
                },
                _ = tick.tick() => {}
            }
            let up = match last {
                Some(at) => at.elapsed() < LINK_LAPSE,
                None => to.borrow().up,
            };
            to.send_if_modified(|link| {
                let changed = link.up != up;
                if changed {
                    *link = Link { up, since: now_millis() };
                }
                changed
            });
        }
    }

    /// Sends a remote page's command to the venue and returns its answer.
    pub async fn ask_venue(&self, event: &str, payload: Vec<u8>) -> Result<Bytes, VenueUnreachable> {
        let asking = self.client.request(command_subject(event), payload.into());
        match tokio::time::timeout(COMMAND_PATIENCE, asking).await {
            Ok(Ok(answer)) => Ok(answer.payload),
            Ok(Err(_)) | Err(_) => Err(VenueUnreachable),
        }
    }

    /// The commands cloud nodes send, each taken by one venue node.
    pub async fn remote_requests(&self) -> Result<impl futures_util::Stream<Item = RemoteRequest>, StoreError> {
        let subject = command_subject("*");
        let requests = self.client.queue_subscribe(subject, VENUE_GROUP.into()).await;
        let requests = requests.map_err(|e| nats_error("cannot take the cloud's commands")(&e))?;
        Ok(requests.map(|message| RemoteRequest {
            event: message.subject.rsplit('.').next().unwrap_or_default().to_owned(),
            payload: message.payload,
            reply: message.reply,
        }))
    }

    /// Answers a cloud node's command.
    pub async fn answer(&self, request: RemoteRequest, answer: Vec<u8>) {
        if let Some(reply) = request.reply {
            // A lost answer is a timeout there, which tells the page to send again.
            let _ = self.client.publish(reply, answer.into()).await;
        }
    }

    /// Makes this cloud node's mirror of `event`'s stream at the venue, with the venue's
    /// epoch, unless it has one, and waits for its first message.
    pub(super) async fn mirror_event(&self, venue: &VenueSide, event: &str) -> Result<(), StoreError> {
        let name = stream_name(event);
        if self.js.get_stream(&name).await.is_err() {
            let mut theirs =
                venue.js.get_stream(&name).await.map_err(|e| nats_error("cannot find the event at the venue")(&e))?;
            let info = theirs.info().await.map_err(|e| nats_error("cannot read the venue's stream")(&e))?;
            let config = stream::Config {
                name: name.clone(),
                description: info.config.description.clone(),
                mirror: Some(mirror_of(&name, &venue.domain)),
                num_replicas: self.replicas,
                ..Default::default()
            };
            self.js.create_stream(config).await.map_err(|e| nats_error("cannot mirror the venue's stream")(&e))?;
        }
        let deadline = Instant::now() + MIRROR_PATIENCE;
        loop {
            let mut mirror = self.stream(event).await?;
            let info = mirror.info().await.map_err(|e| nats_error("cannot read the mirror")(&e))?;
            if info.state.last_sequence > 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StoreError(format!("the mirror of {event} received nothing from the venue")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A stream of the venue's domain, mirrored through that domain's JetStream API.
pub(super) fn mirror_of(name: &str, domain: &str) -> stream::Source {
    let external = stream::External { api_prefix: format!("$JS.{domain}.API"), delivery_prefix: None };
    stream::Source { name: name.to_owned(), external: Some(external), ..Default::default() }
}
