//! A cloud node's hub: its pages' commands are decided at the venue, whose answer it
//! passes on once its mirror has brought the change, so that a page sees its own change
//! before the ack, as on the venue. Either side's hub tells its pages when the link to the
//! other side goes down and comes back.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::apply::Step;
use super::retries::Outcome;
use super::{Hub, Inputs};
use crate::domain::{Actor, Command, Millis};
use crate::protocol::{encode, ErrorCode, FrameError, RemoteAnswer, RemoteCommand, ServerFrame, VENUE_UNREACHABLE};
use crate::store::nats::Link;
use crate::wire::Frame;

/// How long an acknowledged command waits for the mirror to bring its change before it is
/// acknowledged anyway; the change follows.
const MIRROR_PATIENCE: Duration = Duration::from_secs(2);
/// How often the mirror is read while a command waits for its change.
const MIRROR_RECHECK: Duration = Duration::from_millis(10);

/// Waits for the link's next change, or forever without a link to watch.
pub(super) async fn next_link(link: &mut Option<watch::Receiver<Link>>) -> Option<Link> {
    match link {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The frame of a link's change; `in_cloud` says which side this node is.
fn link_frame(link: Link, in_cloud: bool) -> Frame {
    let to = if in_cloud { "venue" } else { "cloud" };
    encode(&ServerFrame::Link { to, up: link.up, since: link.since })
}

impl Hub {
    /// Sends a command to the venue and answers as the venue did.
    pub(super) async fn step_remote(
        &mut self,
        actor: &Actor,
        id: &str,
        command: &Command,
        now: Millis,
        inputs: &mut Inputs,
    ) -> Step {
        if let Some(first) = self.retries.get(&actor.participant, id, now) {
            return Step { outcome: first.clone(), acked: false };
        }
        let Some(cluster) = &self.cluster else { unreachable!("only a clustered hub is in the cloud") };
        let log = cluster.log.clone();
        let sent = RemoteCommand { actor: actor.clone(), id: id.to_owned(), command: command.clone() };
        let payload = serde_json::to_vec(&sent).unwrap_or_default();
        let asking = async move { log.ask_venue(payload).await };
        let answer = self.meanwhile(asking, inputs).await;
        let answer = answer.ok().and_then(|bytes| serde_json::from_slice::<RemoteAnswer>(bytes.as_ref()).ok());
        let outcome = match answer {
            Some(RemoteAnswer::Ack { seq, warning }) => {
                self.reach(seq, inputs).await;
                Outcome::Ack { seq, warning }
            }
            Some(RemoteAnswer::Rejected { code, message }) => {
                Outcome::Rejected(FrameError { id: Some(id.to_owned()), code, message })
            }
            None => Outcome::Rejected(FrameError {
                id: Some(id.to_owned()),
                code: ErrorCode::VenueUnreachable,
                message: VENUE_UNREACHABLE.into(),
            }),
        };
        self.count(command, &outcome);
        Step { outcome, acked: false }
    }

    /// Reads the mirror until it holds `seq`, for at most [`MIRROR_PATIENCE`], serving
    /// joins meanwhile.
    async fn reach(&mut self, seq: u64, inputs: &mut Inputs) {
        let deadline = Instant::now() + MIRROR_PATIENCE;
        while self.seq < seq && Instant::now() < deadline {
            // A failed read is logged; the next one tries again.
            let _ = self.catch_up().await;
            if self.seq < seq {
                self.meanwhile(tokio::time::sleep(MIRROR_RECHECK), inputs).await;
            }
        }
    }

    /// Tells every page that the link to the other side went down or came back.
    pub(super) fn link_changed(&mut self, link: Link) {
        let in_cloud = self.cluster.as_ref().is_some_and(|c| c.log.in_cloud());
        let frame = link_frame(link, in_cloud);
        let all: Vec<_> = self.members.iter().map(|m| m.conn).collect();
        let dropped = self.members.send_some(&all, &|_| &frame);
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    /// The frame a page joining while the link is down gets after its welcome.
    pub(super) fn link_down(&self) -> Option<Frame> {
        let cluster = self.cluster.as_ref()?;
        let link = *cluster.link.borrow();
        (!link.up).then(|| link_frame(link, cluster.log.in_cloud()))
    }
}
