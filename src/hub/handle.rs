//! The handle other tasks hold to an event's hub: cheap to clone, each of its methods one
//! message to the hub's task, answered on a channel of its own where there is an answer.
//! Also the messages themselves, and what comes back.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::captions::{CaptionIn, Tracks};
use super::retries::Outcome;
use super::{ConnId, Joining, RESUME_BUFFER};
use crate::domain::captions::{CaptionError, Line, Taken, Track};
use crate::domain::presence::{Counts, Cursor};
use crate::domain::show::RunOfShow;
use crate::domain::text::Lang;
use crate::domain::{Actor, Change, Command, EventState, Role};
use crate::protocol::{CaptionChoice, Directive, ScreenEntry};
use crate::wire::Frame;

/// What the handle sends the hub's task.
pub(super) enum HubMsg {
    Join(Box<Joining>),
    Command {
        conn: ConnId,
        id: String,
        command: Command,
    },
    /// A command from outside a websocket (an HTTP request), answered on `reply`.
    Request {
        actor: Box<Actor>,
        id: String,
        command: Command,
        reply: oneshot::Sender<Outcome>,
    },
    Overview(oneshot::Sender<Overview>),
    /// The plan alone: a copy of the whole state would copy every ballot too.
    Plan(oneshot::Sender<PlanNow>),
    Screens(oneshot::Sender<Vec<ScreenEntry>>),
    Direct {
        screen: ConnId,
        directive: Directive,
        reply: oneshot::Sender<bool>,
    },
    Listen(Box<Listen>),
    Follow(Box<Follow>),
    Stop(Stop),
    PresencePage {
        conn: ConnId,
        id: String,
        after: Option<Cursor>,
        limit: usize,
    },
    RestoreCaptions(Tracks),
    Caption(Box<CaptionIn>),
    CaptionStored {
        line: Box<Line>,
        stored: bool,
    },
    CaptionSeqs(oneshot::Sender<BTreeMap<Track, u64>>),
    SetLang {
        conn: ConnId,
        id: String,
        lang: Lang,
        captions: CaptionChoice,
    },
}

/// A stream of this event's change frames outside a websocket (Server-Sent Events).
pub(super) struct Listen {
    pub(super) role: Role,
    /// Resume after this seq, when the hub still holds what came since.
    pub(super) after: Option<u64>,
    pub(super) frames: mpsc::Sender<Frame>,
    pub(super) reply: oneshot::Sender<Start>,
}

/// A follower of the event's changes as the domain has them: the automations, which keep
/// the state they fire from and must see every transition, one by one, in order.
pub(super) struct Follow {
    pub(super) changes: mpsc::Sender<(u64, Change)>,
    pub(super) reply: oneshot::Sender<Overview>,
}

/// Ends the hub once the batch it is in is settled: every member is closed with `close`,
/// and `reply` gets the state the event ends with.
pub(super) struct Stop {
    pub(super) close: (u16, &'static str),
    pub(super) reply: oneshot::Sender<EventState>,
}

/// How a listener starts: the changes it missed are already in its channel, or it gets the
/// state as of `seq` and every change after it.
pub enum Start {
    Replayed,
    Snapshot(Box<Overview>),
}

/// A listener's channel: frames beyond this many unread mean it is too slow, and it is
/// dropped (its stream ends; it reconnects and resumes).
const LISTENER_BACKLOG: usize = RESUME_BUFFER + 64;

/// The current plan and its version.
#[derive(Clone, Debug)]
pub struct PlanNow {
    pub show: Arc<RunOfShow>,
    pub version: u64,
}

/// Where an event stands, for pages and APIs outside the websocket.
#[derive(Clone, Debug)]
pub struct Overview {
    pub state: EventState,
    /// The seq of the last change `state` includes.
    pub seq: u64,
    /// Who is connected, as presence publishes it.
    pub counts: Counts,
}

/// The hub has stopped: the server is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("the event's hub has stopped")]
pub struct HubGone;

/// A cheap-to-clone handle to one event's hub task.
#[derive(Clone)]
pub struct HubHandle {
    pub(super) inbox: mpsc::Sender<HubMsg>,
    /// Leaves travel apart from commands so that a `Drop` guard can send them without
    /// awaiting. Unbounded, but each connection sends at most one.
    pub(super) leaves: mpsc::UnboundedSender<ConnId>,
}

impl HubHandle {
    pub async fn join(&self, joining: Joining) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::Join(Box::new(joining))).await.map_err(|_| HubGone)
    }

    pub async fn command(&self, conn: ConnId, id: String, command: Command) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::Command { conn, id, command }).await.map_err(|_| HubGone)
    }

    /// Applies `command` as `actor`, as if sent on a websocket, and answers with its outcome
    /// once it is durable. Retries are by (participant, id), as for websockets.
    pub async fn request(&self, actor: Actor, id: String, command: Command) -> Result<Outcome, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Request { actor: Box::new(actor), id, command, reply }).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    pub async fn overview(&self) -> Result<Overview, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Overview(reply)).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    /// The current plan, without the rest of the state.
    pub async fn plan(&self) -> Result<PlanNow, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Plan(reply)).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    /// The screens joined now (docs/protocol.md, "Screens").
    pub async fn screens(&self) -> Result<Vec<ScreenEntry>, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Screens(reply)).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    /// Tells screen `screen` what `directive` says; false when no such screen is joined.
    pub async fn direct(&self, screen: ConnId, directive: Directive) -> Result<bool, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Direct { screen, directive, reply }).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    /// Listens to the event's changes as `role` sees them, from after `after` when the hub
    /// still holds them, else from a snapshot.
    pub async fn listen(&self, role: Role, after: Option<u64>) -> Result<(Start, mpsc::Receiver<Frame>), HubGone> {
        let (frames, rx) = mpsc::channel(LISTENER_BACKLOG);
        let (reply, start) = oneshot::channel();
        self.inbox.send(HubMsg::Listen(Box::new(Listen { role, after, frames, reply }))).await.map_err(|_| HubGone)?;
        Ok((start.await.map_err(|_| HubGone)?, rx))
    }

    /// Follows the event's changes from the state it is in now: every change after
    /// `Overview::seq` comes on the receiver, in order, with its seq. A follower that falls
    /// `LISTENER_BACKLOG` changes behind is dropped (its receiver ends).
    pub async fn follow(&self) -> Result<(Overview, mpsc::Receiver<(u64, Change)>), HubGone> {
        let (changes, rx) = mpsc::channel(LISTENER_BACKLOG);
        let (reply, start) = oneshot::channel();
        self.inbox.send(HubMsg::Follow(Box::new(Follow { changes, reply }))).await.map_err(|_| HubGone)?;
        Ok((start.await.map_err(|_| HubGone)?, rx))
    }

    /// Stops the hub, closing every connection joined to it with `close`; returns the
    /// event's state as it stopped.
    pub async fn stop(&self, close: (u16, &'static str)) -> Result<EventState, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::Stop(Stop { close, reply })).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    pub async fn presence_page(
        &self,
        conn: ConnId,
        id: String,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::PresencePage { conn, id, after, limit }).await.map_err(|_| HubGone)
    }

    pub fn leave(&self, conn: ConnId) {
        // A failed send means the hub is gone, and with it every membership.
        let _ = self.leaves.send(conn);
    }

    /// Gives a hub just spawned its stored caption tracks: the first message it reads, so
    /// before any line or join.
    pub fn restore_captions(&self, tracks: Tracks) -> Result<(), HubGone> {
        self.inbox.try_send(HubMsg::RestoreCaptions(tracks)).map_err(|_| HubGone)
    }

    /// Places a caption line. A final line comes back to be stored, then handed to
    /// [`HubHandle::caption_stored`]; a partial one is sent at once. In a cluster,
    /// `known_last` is the seq the track ends with in the captions stream, which the line
    /// is judged against instead of what this node has seen.
    pub async fn caption(
        &self,
        track: Track,
        seq: u64,
        text: String,
        is_final: bool,
        known_last: Option<u64>,
    ) -> Result<Result<Taken, CaptionError>, HubGone> {
        let (reply, answer) = oneshot::channel();
        let line = CaptionIn { track, seq, text, is_final, known_last, reply };
        self.inbox.send(HubMsg::Caption(Box::new(line))).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    /// A final line is durable (`stored`) and goes out, or could not be stored and its seq
    /// is free again.
    pub async fn caption_stored(&self, line: Line, stored: bool) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::CaptionStored { line: Box::new(line), stored }).await.map_err(|_| HubGone)
    }

    /// The last final seq of each track.
    pub async fn caption_seqs(&self) -> Result<BTreeMap<Track, u64>, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.inbox.send(HubMsg::CaptionSeqs(reply)).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    pub async fn set_lang(&self, conn: u64, id: String, lang: Lang, captions: CaptionChoice) -> Result<(), HubGone> {
        self.inbox.send(HubMsg::SetLang { conn, id, lang, captions }).await.map_err(|_| HubGone)
    }
}
