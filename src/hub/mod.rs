//! One task per event owns its live state: it checks each command against the domain,
//! gives every accepted change the next sequence number, then publishes it, encoded once,
//! to every joined connection. Nothing else mutates an event.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::clock::now_millis;
use crate::domain::text::{Lang, Mode};
use crate::domain::{Actor, Command, EventState};
use crate::protocol::{encode, FrameError, ServerFrame, SharedText, You};

/// Identifies one websocket connection for the life of the process.
pub type ConnId = u64;

/// How many frames may wait for one connection before it counts as too slow and is
/// dropped. A dropped client reconnects and resumes; the others never wait for it.
pub const OUTBOX_CAPACITY: usize = 256;
/// How many commands may wait for an event's hub before senders are made to wait.
const INBOX_CAPACITY: usize = 1024;

/// The sending half of a connection's bounded outbound queue.
pub type Outbox = mpsc::Sender<SharedText>;

/// A connection that has said hello and been authorised.
pub struct Joining {
    pub conn: ConnId,
    pub actor: Actor,
    pub mode: Mode,
    pub lang: Lang,
    pub outbox: Outbox,
}

enum HubMsg {
    Join(Box<Joining>),
    Command { conn: ConnId, id: String, command: Command },
}

/// The hub has stopped: the server is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("the event's hub has stopped")]
pub struct HubGone;

/// A cheap-to-clone handle to one event's hub task.
#[derive(Clone)]
pub struct HubHandle {
    inbox: mpsc::Sender<HubMsg>,
    /// Leaves travel apart from commands so that a `Drop` guard can send them without
    /// awaiting. Unbounded, but each connection sends at most one.
    leaves: mpsc::UnboundedSender<ConnId>,
}

impl HubHandle {
    /// Starts the hub task for `state` on `tracker`.
    pub fn spawn(state: EventState, tracker: &TaskTracker) -> HubHandle {
        let (inbox, inbox_rx) = mpsc::channel(INBOX_CAPACITY);
        let (leaves, leaves_rx) = mpsc::unbounded_channel();
        let hub = Hub { state, seq: 0, members: HashMap::new() };
        tracker.spawn(hub.run(inbox_rx, leaves_rx));
        HubHandle { inbox, leaves }
    }

    pub async fn join(&self, joining: Joining) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::Join(Box::new(joining))).await.map_err(|_| HubGone)
    }

    pub async fn command(&self, conn: ConnId, id: String, command: Command) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::Command { conn, id, command }).await.map_err(|_| HubGone)
    }

    pub fn leave(&self, conn: ConnId) {
        // A failed send means the hub is gone, and with it every membership.
        let _ = self.leaves.send(conn);
    }
}

/// A joined connection, as the hub sees it.
struct Member {
    actor: Actor,
    outbox: Outbox,
}

struct Hub {
    state: EventState,
    /// Sequence number of the last published change.
    seq: u64,
    members: HashMap<ConnId, Member>,
}

impl Hub {
    async fn run(mut self, mut inbox: mpsc::Receiver<HubMsg>, mut leaves: mpsc::UnboundedReceiver<ConnId>) {
        info!(event = %self.state.show.event.id, "hub started");
        loop {
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(HubMsg::Join(joining)) => self.join(*joining),
                    Some(HubMsg::Command { conn, id, command }) => self.command(conn, &id, &command),
                    None => break,
                },
                Some(conn) = leaves.recv() => {
                    self.members.remove(&conn);
                }
            }
        }
        info!(event = %self.state.show.event.id, "hub stopped");
    }

    fn join(&mut self, joining: Joining) {
        let welcome = encode(&ServerFrame::Welcome {
            protocol: crate::protocol::PROTOCOL_VERSION,
            seq: self.seq,
            server_time: now_millis(),
            you: You {
                participant: &joining.actor.participant,
                role: joining.actor.role,
                name: &joining.actor.name,
                mode: joining.mode,
                lang: joining.lang,
            },
            snapshot: &self.state,
        });
        if joining.outbox.try_send(welcome).is_ok() {
            debug!(conn = joining.conn, role = joining.actor.role.as_str(), "joined");
            self.members.insert(joining.conn, Member { actor: joining.actor, outbox: joining.outbox });
        }
    }

    fn command(&mut self, conn: ConnId, id: &str, command: &Command) {
        let Some(actor) = self.members.get(&conn).map(|m| m.actor.clone()) else {
            return;
        };
        let now = now_millis();
        match self.state.apply(command, &actor, now) {
            Ok(changes) => {
                for change in &changes {
                    self.seq += 1;
                    let frame = encode(&ServerFrame::Change { seq: self.seq, at: now, by: (&actor).into(), change });
                    self.publish(&frame);
                }
                self.send_to(conn, encode(&ServerFrame::Ack { id, seq: self.seq }));
            }
            Err(rejection) => self.send_to(conn, FrameError::rejected(id, &rejection).encode()),
        }
    }

    /// Queues `frame` for every member; a member whose queue is full is dropped, which
    /// closes its connection so that it reconnects and resumes.
    fn publish(&mut self, frame: &SharedText) {
        self.members.retain(|conn, member| match member.outbox.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(conn, "dropping a connection that is too slow to keep up");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    fn send_to(&mut self, conn: ConnId, frame: SharedText) {
        if let Some(member) = self.members.get(&conn) {
            if member.outbox.try_send(frame).is_err() {
                self.members.remove(&conn);
            }
        }
    }
}
