//! One task per event owns its live state: it checks each command against the domain,
//! gives every accepted change the next sequence number, makes it durable, and only then
//! publishes it, encoded once, to every joined connection. It keeps the latest changes so
//! that reconnecting clients get exactly what they missed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use crate::clock::now_millis;
use crate::domain::captions::{Line, Track};
use crate::domain::cues::CrewPosition;
use crate::domain::presence::{speakers_present, Counts, Cursor, Presence};
use crate::domain::text::match_key;
use crate::domain::text::{Lang, Mode};
use crate::domain::{Actor, Change, Command, EventState, Millis, Role};
use crate::metrics::{CommandLabels, EventLabel, EventRole, Metrics};
use crate::protocol::{
    crew_sees_as_chair, cursor_text, differs_by_audience, encode, Audience, By, CaptionChoice, ChangeView, ErrorCode,
    FrameError, PresenceView, PresentView, RecentView, ResumeOutcome, Routing, ServerFrame, Tagger, View, You,
    PROTOCOL_VERSION,
};
use crate::store::nats::{self, EventLog, Followed, Record, Refused};
use crate::store::{Journal, LogEntry, StoredEvent};
use crate::wire::outbound::{Outbound, MAX_QUEUED_FRAMES};
use crate::wire::Frame;
use captions::CaptionIn;
use captions::CaptionOut;
pub use captions::Tracks;
use members::{is_staff, Member, Members};
use retries::{Outcome, Retries};

mod captions;
mod members;
pub mod retries;

/// Identifies one websocket connection for the life of the process.
pub type ConnId = u64;

/// How many recent changes the hub keeps for resuming clients. A replay must fit in a
/// fresh connection's queue with the welcome, so that a resume never trips the slow-client
/// limit.
pub const RESUME_BUFFER: usize = 192;
const _: () = assert!(RESUME_BUFFER < MAX_QUEUED_FRAMES);
/// How many commands may wait for an event's hub before senders are made to wait.
const INBOX_CAPACITY: usize = 1024;
/// The most messages the hub handles between two commits.
const MAX_BATCH: usize = 256;
/// A snapshot is stored every this many changes, so that start-up replays at most this many.
pub const SNAPSHOT_EVERY: u64 = 500;

/// Why a slow client is closed; documented in docs/protocol.md.
pub const TOO_SLOW: (u16, &str) = (1008, "too slow: frames were dropped; reconnect to resume");

/// Where a reconnecting client left off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeFrom {
    pub epoch: String,
    pub seq: u64,
    /// The presence version the client last applied.
    pub presence: Option<u64>,
}

/// A connection that has said hello and been authorised.
pub struct Joining {
    pub conn: ConnId,
    pub actor: Actor,
    /// The connection is a screen (a stage screen), not a person: listed, never counted.
    pub screen: bool,
    pub resume: Option<ResumeFrom>,
    pub out: Arc<Outbound>,
    /// The caption track this connection follows, if any.
    pub captions: Option<Track>,
}

/// One change encoded once for each way it is seen; the same bytes where views agree.
#[derive(Clone)]
struct Frames {
    routing: Routing,
    chair: Frame,
    public: Frame,
    /// For the AV crew: the chair's frame or the public's, by change.
    crew: Frame,
    /// For connections the change is not for: only its seq.
    hidden: Frame,
    /// The change itself, for followers that keep a state of their own.
    change: Change,
}

impl Frames {
    fn encode(entry: &LogEntry, tagger: &Tagger) -> Frames {
        let routing = Routing::of(&entry.change);
        let (seq, at) = (entry.seq, entry.at);
        let full = |audience, role| {
            let view = View { audience, role, crew: &[], tagger };
            let change = view.change(&entry.change);
            let by = By::of(&entry.actor, tagger);
            encode(&ServerFrame::Change { seq, at, by: Some(by), command: entry.command.as_deref(), change })
        };
        let chair = full(Audience::Chair, Role::Organizer);
        let public =
            if differs_by_audience(&entry.change) { full(Audience::Public, Role::Attendee) } else { chair.clone() };
        let crew = if crew_sees_as_chair(&entry.change) { chair.clone() } else { public.clone() };
        let hidden = encode(&ServerFrame::Change { seq, at, by: None, command: None, change: ChangeView::Hidden });
        Frames { routing, chair, public, crew, hidden, change: entry.change.clone() }
    }

    fn for_member(&self, member: &Member) -> &Frame {
        self.for_role(member.actor.role, &member.actor.crew)
    }

    fn for_role(&self, role: Role, crew: &[CrewPosition]) -> &Frame {
        if !self.routing.reaches(role, crew) {
            return &self.hidden;
        }
        match (Audience::of(role), role) {
            (Audience::Chair, _) => &self.chair,
            (Audience::Public, Role::Av) => &self.crew,
            (Audience::Public, _) => &self.public,
        }
    }
}

enum HubMsg {
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
struct Listen {
    role: Role,
    /// Resume after this seq, when the hub still holds what came since.
    after: Option<u64>,
    frames: mpsc::Sender<Frame>,
    reply: oneshot::Sender<Start>,
}

/// A follower of the event's changes as the domain has them: the automations, which keep
/// the state they fire from and must see every transition, one by one, in order.
struct Follow {
    changes: mpsc::Sender<Change>,
    reply: oneshot::Sender<Overview>,
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

/// A registered listener.
struct Listener {
    role: Role,
    frames: mpsc::Sender<Frame>,
}

/// How often joins and leaves are published, coalesced into one diff.
pub const PRESENCE_EVERY: Duration = Duration::from_millis(250);
/// Members a presence fan-out writes to before it lets waiting commands and joins go first.
const PRESENCE_ROUND: usize = AUDIENCE_ROUND;
/// Attendees a change (or a caption line) is written to before the hub looks at its inbox
/// again: a command waits at most this many writes (split over the cores) behind them.
const AUDIENCE_ROUND: usize = 1024;
/// Changes the audience may be behind the staff. Beyond it the machine cannot write changes
/// as fast as they come: commands and joins wait, rather than the audience falling further
/// behind without bound.
const MAX_AUDIENCE_BEHIND: usize = 32;
/// How often the attendance history takes a sample.
const ATTENDANCE_EVERY: Duration = Duration::from_secs(60);
/// Entries of the full presence list in a chair's welcome; more come by `presence_page`.
const PRESENCE_FIRST_PAGE: usize = 200;

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
    inbox: mpsc::Sender<HubMsg>,
    /// Leaves travel apart from commands so that a `Drop` guard can send them without
    /// awaiting. Unbounded, but each connection sends at most one.
    leaves: mpsc::UnboundedSender<ConnId>,
}

impl HubHandle {
    /// Starts the hub task for a stored event on `tracker`.
    /// With `cluster`, the event's log is its stream there: commands are published to it
    /// and what other nodes publish is followed.
    pub fn spawn(
        stored: StoredEvent,
        journal: Journal,
        cluster: Option<EventLog>,
        epoch: Arc<str>,
        max_members: usize,
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
    ) -> HubHandle {
        let (inbox, inbox_rx) = mpsc::channel(INBOX_CAPACITY);
        let (leaves, leaves_rx) = mpsc::unbounded_channel();
        let event: Arc<str> = stored.state.show.event.id.as_str().into();
        let tagger = Tagger::new(&epoch);
        let recent =
            stored.recent.iter().rev().take(RESUME_BUFFER).rev().map(|e| (e.seq, Frames::encode(e, &tagger))).collect();
        let programme = programme(&stored.state);
        let tags = tagger.clone();
        // Versions of this hub's life start past any an earlier life can have reached (at
        // most one a join, far fewer than 1,000 a millisecond), so that a version a client
        // kept from before a restart is never taken for one of now.
        let first_version = u64::try_from(now_millis()).unwrap_or_default() * 1000;
        let mut presence =
            Presence::tagged(Box::new(move |participant| tags.who(participant))).starting_at(first_version);
        presence.restore_history(stored.attendance);
        let (cluster, followed) = match cluster {
            Some(log) => {
                let stop = CancellationToken::new();
                let (followed, follower) = log.follow(stored.position, stop.clone());
                tracker.spawn(follower);
                let (ours, ours_rx) = watch::channel(Default::default());
                let (others_tx, others) = watch::channel(Default::default());
                tracker.spawn(log.clone().share_presence(ours_rx, others_tx, stop.clone()));
                let clustered = Clustered { log, position: stored.position, ours, others, _stop: stop.drop_guard() };
                (Some(clustered), Some(followed))
            }
            None => (None, None),
        };
        let hub = Hub {
            cluster,
            event,
            epoch,
            tagger,
            presence,
            programme,
            max_members,
            state: stored.state,
            seq: stored.seq,
            snapshot_seq: stored.seq,
            recent,
            journal,
            presence_out: None,
            retries: Retries::from_log(stored.applied),
            listeners: Vec::new(),
            followers: Vec::new(),
            members: Members::new(metrics.slow_client_closes.clone()),
            senders: Vec::new(),
            audience_out: VecDeque::new(),
            metrics,
            captions: Tracks::new(),
            captions_out: VecDeque::new(),
        };
        tracker.spawn(hub.run(inbox_rx, leaves_rx, followed));
        HubHandle { inbox, leaves }
    }

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

    /// Listens to the event's changes as `role` sees them, from after `after` when the hub
    /// still holds them, else from a snapshot.
    pub async fn listen(&self, role: Role, after: Option<u64>) -> Result<(Start, mpsc::Receiver<Frame>), HubGone> {
        let (frames, rx) = mpsc::channel(LISTENER_BACKLOG);
        let (reply, start) = oneshot::channel();
        self.inbox.send(HubMsg::Listen(Box::new(Listen { role, after, frames, reply }))).await.map_err(|_| HubGone)?;
        Ok((start.await.map_err(|_| HubGone)?, rx))
    }

    /// Follows the event's changes from the state it is in now: every change after
    /// `Overview::seq` comes on the receiver, in order. A follower that falls
    /// [`LISTENER_BACKLOG`] changes behind is dropped (its receiver ends).
    pub async fn follow(&self) -> Result<(Overview, mpsc::Receiver<Change>), HubGone> {
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
}

/// The chair and the crew see everyone present; attendees see counts and recent joins.
fn sees_everyone(role: Role) -> bool {
    matches!(role, Role::Organizer | Role::Moderator | Role::Av)
}

/// Every speaker and chair of the run of show by the key their names match on, with their places
/// (segment, speaker index; a chair is listed as speaker `usize::MAX`).
fn programme(state: &EventState) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut names: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (s, segment) in state.show.segments.iter().enumerate() {
        let people = segment.speakers.iter().enumerate().map(|(k, p)| (k, &p.name));
        for (k, name) in people.chain(segment.chair.iter().map(|c| (usize::MAX, c))) {
            for text in [&name.zh, &name.ja, &name.en] {
                let places = names.entry(match_key(text)).or_default();
                if !places.contains(&(s, k)) {
                    places.push((s, k));
                }
            }
        }
    }
    names
}

/// A hub's part in a cluster.
struct Clustered {
    log: EventLog,
    /// The stream sequence of the last message the hub's state includes.
    position: u64,
    /// This node's counts of the event, for the presence task to share.
    ours: watch::Sender<Counts>,
    /// Every other live node's counts, summed.
    others: watch::Receiver<Counts>,
    /// Stops the follower and the presence task when the hub ends.
    _stop: DropGuard,
}

/// How many times a command is applied again after other nodes appended first. Nodes that
/// all take commands at full speed keep beating each other; a jittered pause that grows
/// with each attempt lets one of them through.
const MAX_ATTEMPTS: u32 = 32;

/// Waits for the next followed record, or forever without a cluster.
async fn next_followed(followed: &mut Option<mpsc::Receiver<Followed>>) -> Option<Followed> {
    match followed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

struct Hub {
    /// In a cluster, the event's stream: the log instead of the journal's appends.
    cluster: Option<Clustered>,
    event: Arc<str>,
    /// The store's epoch: resume positions from another epoch mean nothing here.
    epoch: Arc<str>,
    tagger: Tagger,
    /// Who is here; ephemeral, never in the change log.
    presence: Presence,
    /// The programme's speakers and chairs by name key, to show who of them is here.
    programme: BTreeMap<String, Vec<(usize, usize)>>,
    /// Connections this event holds at most.
    max_members: usize,
    state: EventState,
    /// Sequence number of the last durable, published change.
    seq: u64,
    /// Seq of the last stored snapshot.
    snapshot_seq: u64,
    /// The latest published change frames, oldest first, for resuming clients.
    recent: VecDeque<(u64, Frames)>,
    journal: Journal,
    members: Members,
    /// The connections whose commands (or language changes) are in the batch being settled:
    /// they get its changes with the staff, ahead of the audience.
    senders: Vec<ConnId>,
    /// Changes the staff and senders have and the audience is still getting, oldest first.
    audience_out: VecDeque<AudienceOut>,
    /// A presence fan-out still under way, let wait while commands went first.
    presence_out: Option<PresenceOut>,
    /// Recent commands' outcomes, so that a retried command is applied once.
    retries: Retries,
    /// Streams of changes outside websockets.
    listeners: Vec<Listener>,
    /// Followers of the changes themselves (the automations).
    followers: Vec<mpsc::Sender<Change>>,
    metrics: Arc<Metrics>,
    /// Each caption track's last seq and latest lines.
    captions: Tracks,
    /// Caption lines still being written out, oldest first, in rounds between commands.
    captions_out: VecDeque<CaptionOut>,
}

/// A change on its way to the audience, in rounds: who is to get it, and how far it got.
struct AudienceOut {
    frames: Frames,
    to: Vec<ConnId>,
    next: usize,
    since: std::time::Instant,
}

/// A presence frame for the chair and crew, one for everyone else, and who is still to get
/// theirs. Members who join meanwhile are welcomed with presence as it is, so need neither.
struct PresenceOut {
    full: Frame,
    public: Frame,
    to: Vec<ConnId>,
}

/// Ends the hub once the batch it is in is settled: every member is closed with `close`,
/// and `reply` gets the state the event ends with.
struct Stop {
    close: (u16, &'static str),
    reply: oneshot::Sender<EventState>,
}

/// What a command in a batch is answered with once the batch is settled.
enum Reply {
    Ack { conn: ConnId, id: String, seq: u64, warning: Option<String> },
    Error { conn: ConnId, error: FrameError },
    Request { outcome: Outcome, reply: oneshot::Sender<Outcome> },
}

impl Reply {
    fn of(to: To, id: String, outcome: Outcome) -> Self {
        match (to, outcome) {
            (To::Conn(conn), Outcome::Ack { seq, warning }) => Reply::Ack { conn, id, seq, warning },
            (To::Conn(conn), Outcome::Rejected(error)) => Reply::Error { conn, error },
            (To::Request(reply), outcome) => Reply::Request { outcome, reply },
        }
    }
}

/// A command's outcome, and whether it was applied in this batch (and so holds only if
/// the batch is stored).
struct Step {
    outcome: Outcome,
    acked: bool,
}

/// Who a command's outcome goes back to.
enum To {
    Conn(ConnId),
    Request(oneshot::Sender<Outcome>),
}

impl Hub {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<HubMsg>,
        mut leaves: mpsc::UnboundedReceiver<ConnId>,
        mut followed: Option<mpsc::Receiver<Followed>>,
    ) {
        info!(event = %self.event, seq = self.seq, "hub started");
        let mut presence_tick = tokio::time::interval(PRESENCE_EVERY);
        presence_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut attendance_tick = tokio::time::interval(ATTENDANCE_EVERY);
        attendance_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // Commands and joins go first: at tens of thousands of members a presence frame
            // takes as long to write out as a segment change, which must not wait behind it.
            let first = tokio::select! {
                biased;
                msg = inbox.recv(), if self.audience_out.len() < MAX_AUDIENCE_BEHIND => match msg {
                    Some(msg) => msg,
                    None => break,
                },
                Some(conn) = leaves.recv() => {
                    self.remove_member(conn);
                    continue;
                }
                Some(record) = next_followed(&mut followed) => {
                    self.followed(record).await;
                    self.continue_audience();
                    continue;
                }
                () = std::future::ready(()), if !self.audience_out.is_empty() => {
                    self.continue_audience();
                    continue;
                }
                () = std::future::ready(()), if self.presence_out.is_some() => {
                    self.continue_presence();
                    continue;
                }
                () = std::future::ready(()), if !self.captions_out.is_empty() => {
                    self.continue_captions();
                    continue;
                }
                _ = presence_tick.tick() => {
                    self.share_presence();
                    self.publish_presence();
                    continue;
                }
                _ = attendance_tick.tick() => {
                    self.sample_attendance().await;
                    continue;
                }
            };
            // Whatever queued up while the last commit was in flight is committed together.
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match inbox.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            let stop = self.settle(batch).await;
            // However busy the inbox, each batch moves the audience on by a round.
            self.continue_audience();
            if let Some(Stop { close: (code, reason), reply }) = stop {
                while !self.audience_out.is_empty() {
                    self.continue_audience();
                }
                self.members.iter().for_each(|member| member.out.close(code, reason, None));
                let _ = reply.send(self.state.clone());
                break;
            }
        }
        info!(event = %self.event, "hub stopped");
    }

    /// Applies a batch, makes its changes durable in one commit, then writes them to the
    /// staff and the senders, answers the commands, queues them for the audience (written
    /// in rounds, between which the next commands go first), and welcomes the joiners,
    /// whose snapshots then include the batch. Returns the batch's stop request, if it held
    /// one.
    async fn settle(&mut self, batch: Vec<HubMsg>) -> Option<Stop> {
        self.senders = batch
            .iter()
            .filter_map(|msg| match msg {
                // A language change is answered with the current seq: it, too, waits until
                // an attendee has the changes up to it.
                HubMsg::Command { conn, .. } | HubMsg::SetLang { conn, .. } => Some(*conn),
                _ => None,
            })
            .collect();
        self.senders.sort_unstable();
        self.senders.dedup();
        let audience_sends =
            self.senders.iter().any(|&conn| self.members.get(conn).is_some_and(|m| !is_staff(m.actor.role)));
        if audience_sends {
            // An attendee gets its own command's changes at once, so first the earlier
            // ones it is still waiting for: its frames stay in order.
            while !self.audience_out.is_empty() {
                self.continue_audience();
            }
        }
        let before = (self.state.clone(), self.seq);
        let now = now_millis();
        let mut entries = Vec::new();
        let mut replies = Vec::new();
        let mut joins = Vec::new();
        let mut listens = Vec::new();
        let mut follows = Vec::new();
        let mut stop = None;
        // Commands acknowledged in this batch, whose outcomes hold only if it is stored.
        let mut acked = Vec::new();
        for msg in batch {
            match msg {
                HubMsg::Join(joining) => joins.push(*joining),
                HubMsg::Stop(request) => stop = Some(request),
                HubMsg::PresencePage { conn, id, after, limit } => self.presence_page(conn, &id, after, limit),
                HubMsg::Overview(reply) => {
                    let _ = reply.send(self.overview());
                }
                HubMsg::Listen(listen) => listens.push(*listen),
                HubMsg::Follow(follow) => follows.push(*follow),
                HubMsg::RestoreCaptions(tracks) => self.captions = tracks,
                HubMsg::Caption(line) => self.caption(*line, now),
                HubMsg::CaptionStored { line, stored } => self.caption_stored(*line, stored),
                HubMsg::CaptionSeqs(reply) => {
                    let _ = reply.send(self.caption_seqs());
                }
                HubMsg::SetLang { conn, id, lang, captions } => self.set_lang(conn, &id, lang, captions),
                HubMsg::Command { conn, id, command } => {
                    let Some(actor) = self.members.get(conn).map(|m| m.actor.clone()) else { continue };
                    let step = match self.cluster.is_some() {
                        true => self.step_clustered(&actor, &id, &command, now).await,
                        false => self.step(&actor, &id, &command, now, &mut entries),
                    };
                    acked.extend(step.acked.then(|| (actor.participant.clone(), id.clone())));
                    replies.push(Reply::of(To::Conn(conn), id, step.outcome));
                }
                HubMsg::Request { actor, id, command, reply } => {
                    let step = match self.cluster.is_some() {
                        true => self.step_clustered(&actor, &id, &command, now).await,
                        false => self.step(&actor, &id, &command, now, &mut entries),
                    };
                    acked.extend(step.acked.then(|| (actor.participant.clone(), id.clone())));
                    replies.push(Reply::of(To::Request(reply), id, step.outcome));
                }
            }
        }
        if !entries.is_empty() {
            let frames: Vec<(u64, Frames)> = entries.iter().map(|e| (e.seq, Frames::encode(e, &self.tagger))).collect();
            let (count, committing) = (entries.len() as u64, std::time::Instant::now());
            match self.journal.append(&self.event, entries).await {
                Ok(()) => {
                    self.metrics.store_commit_seconds.observe(committing.elapsed().as_secs_f64());
                    self.metrics.changes.get_or_create(&EventLabel { event: self.event.to_string() }).inc_by(count);
                    frames.into_iter().for_each(|(seq, frame)| self.publish(seq, frame));
                }
                Err(e) => {
                    error!(event = %self.event, error = %e, "store refused a batch; its commands are rejected");
                    (self.state, self.seq) = before;
                    self.programme = programme(&self.state);
                    for (participant, id) in &acked {
                        self.retries.forget(participant, id);
                    }
                    let lost = |id: Option<String>| FrameError {
                        id,
                        code: ErrorCode::Internal,
                        message: "the change could not be stored; nothing was applied".into(),
                    };
                    for reply in &mut replies {
                        match reply {
                            Reply::Ack { conn, id, .. } => {
                                *reply = Reply::Error { conn: *conn, error: lost(Some(std::mem::take(id))) }
                            }
                            Reply::Request { outcome: outcome @ Outcome::Ack { .. }, .. } => {
                                *outcome = Outcome::Rejected(lost(None))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        for reply in replies {
            match reply {
                Reply::Ack { conn, id, seq, warning } => {
                    self.send_to(conn, encode(&ServerFrame::Ack { id: &id, seq, warning: warning.as_deref() }))
                }
                Reply::Error { conn, error } => self.send_to(conn, error.encode()),
                Reply::Request { outcome, reply } => {
                    let _ = reply.send(outcome);
                }
            }
        }
        if self.cluster.is_some() && joins.iter().any(|j| j.resume.as_ref().is_some_and(|r| r.seq > self.seq)) {
            // A client that comes from another node may have seen changes this one has not
            // followed yet; without them it would be told its seq is ahead of the server.
            let _ = self.catch_up().await;
        }
        self.senders.clear();
        for joining in joins {
            self.join(joining);
        }
        for listen in listens {
            self.listen(listen);
        }
        for Follow { changes, reply } in follows {
            if reply.send(self.overview()).is_ok() {
                self.followers.push(changes);
            }
        }
        if self.seq >= self.snapshot_seq + SNAPSHOT_EVERY {
            self.snapshot_seq = self.seq;
            self.journal.snapshot(&self.event, self.seq, self.state.clone()).await;
        }
        stop
    }

    /// Applies one command of a batch, appending its changes to `entries`.
    fn step(&mut self, actor: &Actor, id: &str, command: &Command, now: Millis, entries: &mut Vec<LogEntry>) -> Step {
        if let Some(outcome) = self.retries.get(&actor.participant, id, now) {
            return Step { outcome: outcome.clone(), acked: false };
        }
        let step = self.apply(actor, id, command, now, entries);
        self.count(command, &step.outcome);
        step
    }

    fn count(&self, command: &Command, outcome: &Outcome) {
        let outcome = match outcome {
            Outcome::Ack { .. } => "ack".to_owned(),
            Outcome::Rejected(error) => {
                self.metrics.error(&error.code.as_str());
                error.code.as_str()
            }
        };
        let labels = CommandLabels { event: self.event.to_string(), command: command.name().to_owned(), outcome };
        self.metrics.commands.get_or_create(&labels).inc();
    }

    /// Applies one command in a cluster: publishes its changes expecting the stream to end
    /// where this hub's state does; when another node appended first, catches up and
    /// applies the command again to the newer state, where the domain decides.
    async fn step_clustered(&mut self, actor: &Actor, id: &str, command: &Command, now: Millis) -> Step {
        let mut outcome = Outcome::Rejected(FrameError {
            id: Some(id.to_owned()),
            code: ErrorCode::Conflict,
            message: "the event kept changing on other nodes; look again and retry".into(),
        });
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_micros(rand::random_range(0..200 * u64::from(attempt)))).await;
            }
            if let Some(first) = self.retries.get(&actor.participant, id, now) {
                return Step { outcome: first.clone(), acked: false };
            }
            let before = (self.state.clone(), self.seq);
            let mut entries = Vec::new();
            let step = self.apply(actor, id, command, now, &mut entries);
            let Some(cluster) = self.cluster.as_mut().filter(|_| !entries.is_empty()) else {
                self.count(command, &step.outcome);
                return step;
            };
            let publishing = std::time::Instant::now();
            match cluster.log.publish(cluster.position, &actor.participant, id, &entries).await {
                Ok(position) => {
                    cluster.position = position;
                    self.metrics.store_commit_seconds.observe(publishing.elapsed().as_secs_f64());
                    let changes = EventLabel { event: self.event.to_string() };
                    self.metrics.changes.get_or_create(&changes).inc_by(entries.len() as u64);
                    for entry in &entries {
                        self.publish(entry.seq, Frames::encode(entry, &self.tagger));
                    }
                    self.count(command, &step.outcome);
                    return Step { outcome: step.outcome, acked: false };
                }
                Err(refused) => {
                    (self.state, self.seq) = before;
                    self.programme = programme(&self.state);
                    self.retries.forget(&actor.participant, id);
                    let message = match refused {
                        Refused::Behind => match self.catch_up().await {
                            Ok(()) => continue,
                            Err(()) => nats::UNAVAILABLE,
                        },
                        Refused::Unavailable => nats::UNAVAILABLE,
                        Refused::Unconfirmed => nats::UNCONFIRMED,
                    };
                    let code = ErrorCode::Unavailable;
                    outcome = Outcome::Rejected(FrameError { id: Some(id.to_owned()), code, message: message.into() });
                    break;
                }
            }
        }
        self.count(command, &outcome);
        Step { outcome, acked: false }
    }

    /// Applies what other nodes appended since this hub's position.
    async fn catch_up(&mut self) -> Result<(), ()> {
        let Some(cluster) = &self.cluster else { return Ok(()) };
        match cluster.log.after(cluster.position).await {
            Ok(records) => {
                records.into_iter().for_each(|(position, record)| self.absorb(position, record));
                Ok(())
            }
            Err(e) => {
                warn!(event = %self.event, error = %e, "cannot catch up with the event's stream");
                Err(())
            }
        }
    }

    /// A record the follower saw: applied when it is the next one, after catching up when
    /// some are missing, and skipped when the hub has it already (its own, mostly).
    async fn followed(&mut self, followed: Followed) {
        let Some(cluster) = &self.cluster else { return };
        if followed.position > cluster.position + 1 {
            // Its catch-up logs a failure; the next record or command tries again.
            let _ = self.catch_up().await;
        }
        self.absorb(followed.position, followed.record);
    }

    /// Applies the record at stream sequence `position` if it is the next one, and
    /// publishes its changes to the members as if they were this hub's own.
    fn absorb(&mut self, position: u64, record: Record) {
        let Some(cluster) = &mut self.cluster else { return };
        if position != cluster.position + 1 {
            return;
        }
        cluster.position = position;
        let Record::Changes { entries } = record else { return };
        if let Some(first) = entries.first().filter(|first| first.seq != self.seq + 1) {
            // Applying it would show clients a seq twice or miss one; the expected sequence
            // each publish carries makes this a bug, never a race.
            error!(event = %self.event, seq = self.seq, next = first.seq, "a record out of seq order is left out");
            return;
        }
        for entry in entries {
            self.state.evolve(&entry.change);
            self.seq = entry.seq;
            if matches!(entry.change, Change::Plan { .. }) {
                self.programme = programme(&self.state);
                self.presence.republish();
            }
            if let Some(id) = &entry.command {
                let outcome = Outcome::Ack { seq: entry.seq, warning: None };
                self.retries.remember(&entry.actor.participant, id, outcome, entry.at);
            }
            self.publish(entry.seq, Frames::encode(&entry, &self.tagger));
        }
    }

    /// Hands this node's counts to the presence task, and republishes presence when the
    /// other nodes' have changed.
    fn share_presence(&mut self) {
        let Some(cluster) = &mut self.cluster else { return };
        let ours = self.presence.counts();
        cluster.ours.send_if_modified(|current| std::mem::replace(current, ours.clone()) != ours);
        if cluster.others.has_changed().unwrap_or(false) {
            cluster.others.mark_unchanged();
            self.presence.republish();
        }
    }

    /// The event's counts: this node's, and in a cluster every other live node's too.
    fn counts(&self) -> Counts {
        let ours = self.presence.counts();
        match &self.cluster {
            Some(cluster) => nats::add(&ours, &cluster.others.borrow()),
            None => ours,
        }
    }

    fn apply(&mut self, actor: &Actor, id: &str, command: &Command, now: Millis, entries: &mut Vec<LogEntry>) -> Step {
        match self.state.apply(command, actor, now) {
            Ok(changes) => {
                if changes.iter().any(|change| matches!(change, Change::Plan { .. })) {
                    self.programme = programme(&self.state);
                    self.presence.republish();
                }
                let warning = changes.iter().find_map(|change| self.unwatched(change));
                for change in changes {
                    self.seq += 1;
                    let command = Some(id.to_owned());
                    entries.push(LogEntry { seq: self.seq, at: now, actor: actor.clone(), command, change });
                }
                let outcome = Outcome::Ack { seq: self.seq, warning };
                self.retries.remember(&actor.participant, id, outcome.clone(), now);
                Step { outcome, acked: true }
            }
            Err(rejection) => {
                let outcome = Outcome::Rejected(FrameError::rejected(id, &rejection));
                self.retries.remember(&actor.participant, id, outcome.clone(), now);
                Step { outcome, acked: false }
            }
        }
    }

    /// A warning for the sender of a cue that no crew screen will show.
    fn unwatched(&self, change: &Change) -> Option<String> {
        // A plan edit re-points cues without sending them anywhere new.
        let Change::Cue { cue, op } = change else { return None };
        if !op.starts_with("cue_") {
            return None;
        }
        let routing = Routing::of(change);
        let watched = self.members.iter().any(|m| m.actor.role == Role::Av && routing.reaches(Role::Av, &m.actor.crew));
        let screen =
            cue.target.position().map_or("cue screen".to_owned(), |p| format!("{p:?} cue screen").to_lowercase());
        (!watched).then(|| format!("nobody is watching the {screen}"))
    }

    fn join(&mut self, joining: Joining) {
        if self.members.len() >= self.max_members {
            let message = format!("this event is full ({} connections); try again later", self.max_members);
            joining.out.close(1013, "event full", Some(FrameError::new(ErrorCode::EventFull, message).encode()));
            return;
        }
        let outcome = match &joining.resume {
            None => ResumeOutcome::None,
            Some(from) if *from.epoch != *self.epoch => ResumeOutcome::Snapshot,
            Some(from) if from.seq > self.seq => {
                let message =
                    format!("seq {} is ahead of this server's {}; here is a fresh snapshot", from.seq, self.seq);
                let _ = joining.out.send(&FrameError::new(ErrorCode::BadResume, message).encode());
                ResumeOutcome::Snapshot
            }
            Some(from) if self.seq - from.seq <= self.recent.len() as u64 => ResumeOutcome::Replay,
            Some(_) => ResumeOutcome::Snapshot,
        };
        let replay_from = match (&outcome, &joining.resume) {
            (ResumeOutcome::Replay, Some(from)) => from.seq,
            _ => self.seq,
        };
        let actor = &joining.actor;
        let audience = Audience::of(actor.role);
        self.presence.connect(actor, joining.screen, now_millis());
        if sees_everyone(actor.role) {
            // The list comes from the published state: publish now, so that it holds
            // everyone here, this client too, unless a presence fan-out is still going out.
            self.publish_presence();
        }
        let view = View { audience, role: actor.role, crew: &actor.crew, tagger: &self.tagger };
        let welcome = encode(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            epoch: &self.epoch,
            seq: replay_from,
            resume: outcome,
            server_time: now_millis(),
            you: You {
                participant: &actor.participant,
                who: self.tagger.who(&actor.participant),
                role: actor.role,
                name: &actor.name,
                mode: actor.mode,
                lang: actor.lang,
            },
            snapshot: (outcome != ResumeOutcome::Replay).then(|| Box::new(view.snapshot(&self.state))),
            presence: Box::new(self.welcome_presence(actor.role, joining.resume.as_ref())),
        });
        let member = Member { conn: joining.conn, actor: joining.actor, out: joining.out, captions: joining.captions };
        let missed = self.recent.iter().filter(|(seq, _)| *seq > replay_from).map(|(_, f)| f.for_member(&member));
        let captions = member.captions.map(|track| self.recent_captions(track));
        let delivered = std::iter::once(&welcome)
            .chain(missed)
            .chain(captions.as_ref())
            .all(|frame| member.out.send(frame).is_ok());
        if delivered {
            debug!(conn = joining.conn, role = member.actor.role.as_str(), ?outcome, "joined");
            self.connections(member.actor.role).inc();
            self.members.insert(member);
        } else {
            self.presence.disconnect(&member.actor.participant);
        }
    }

    fn connections(&self, role: Role) -> prometheus_client::metrics::gauge::Gauge {
        let labels = EventRole { event: self.event.to_string(), role: role.as_str().to_owned() };
        self.metrics.connections.get_or_create(&labels).clone()
    }

    fn overview(&self) -> Overview {
        Overview { state: self.state.clone(), seq: self.seq, counts: self.counts() }
    }

    /// Registers a listener after sending it what it missed, or a snapshot.
    fn listen(&mut self, listen: Listen) {
        let Listen { role, after, frames, reply } = listen;
        let replay = after.filter(|&seq| seq <= self.seq && self.seq - seq <= self.recent.len() as u64);
        let start = match replay {
            Some(after) => {
                let missed = self.recent.iter().filter(|(seq, _)| *seq > after);
                if missed.map(|(_, f)| f.for_role(role, &[]).clone()).any(|frame| frames.try_send(frame).is_err()) {
                    return;
                }
                Start::Replayed
            }
            None => Start::Snapshot(Box::new(self.overview())),
        };
        if reply.send(start).is_ok() {
            self.listeners.push(Listener { role, frames });
        }
    }

    /// Writes a change to the staff and the batch's senders, and queues it for everyone
    /// else there is now (`continue_audience`). A member too slow to take it is closed, so
    /// that it reconnects and resumes.
    fn publish(&mut self, seq: u64, frames: Frames) {
        let dropped = self.members.send_first(&self.senders, &|member| frames.for_member(member));
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
        let to = self.members.audience().filter(|conn| !self.senders.contains(conn)).collect();
        let since = std::time::Instant::now();
        self.audience_out.push_back(AudienceOut { frames: frames.clone(), to, next: 0, since });
        // A listener that has fallen this far behind, or has gone, is dropped.
        self.listeners.retain(|l| l.frames.try_send(frames.for_role(l.role, &[]).clone()).is_ok());
        self.followers.retain(|f| f.try_send(frames.change.clone()).is_ok());
        if self.recent.len() == RESUME_BUFFER {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, frames));
    }

    /// Writes the oldest queued change to its next round of the audience. Who joined since
    /// it was queued has it in their welcome; who left is skipped.
    fn continue_audience(&mut self) {
        let Some(out) = self.audience_out.front_mut() else { return };
        let end = (out.next + AUDIENCE_ROUND).min(out.to.len());
        let frames = &out.frames;
        let dropped = self.members.send_some(&out.to[out.next..end], &|member| frames.for_member(member));
        out.next = end;
        if out.next == out.to.len() {
            let since = out.since;
            self.audience_out.pop_front();
            self.metrics.fanout_seconds.observe(since.elapsed().as_secs_f64());
        }
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    fn send_to(&mut self, conn: ConnId, frame: Frame) {
        if self.members.get(conn).is_some() && !self.members.deliver(conn, &frame) {
            self.remove_member(conn);
        }
    }

    fn remove_member(&mut self, conn: ConnId) {
        if let Some(member) = self.members.remove(conn) {
            self.connections(member.actor.role).dec();
            self.presence.disconnect(&member.actor.participant);
        }
    }

    /// Publishes the joins and leaves since the last tick as one frame per audience. While
    /// the last such frames are still being written out, newer joins and leaves wait for the
    /// next tick.
    fn publish_presence(&mut self) {
        if self.presence_out.is_some() {
            return;
        }
        let Some(diff) = self.presence.diff() else { return };
        let public = encode(&ServerFrame::Presence(self.presence_view(false, false)));
        let mut full = self.presence_view(true, false);
        full.joined = Some(diff.joined.iter().map(|p| PresentView::of(p, &self.tagger)).collect());
        full.left = Some(diff.left.iter().map(|p| self.tagger.who(p)).collect());
        let full = encode(&ServerFrame::Presence(full));
        // Rounds are taken from the end of the list: the staff's is the first.
        let to = self.members.iter().rev().map(|member| member.conn).collect();
        self.presence_out = Some(PresenceOut { full, public, to });
        self.continue_presence();
    }

    /// Writes the pending presence frames to the next round of members.
    fn continue_presence(&mut self) {
        let Some(out) = &mut self.presence_out else { return };
        let round = out.to.split_off(out.to.len().saturating_sub(PRESENCE_ROUND));
        let (full, public) = (&out.full, &out.public);
        let dropped =
            self.members.send_some(&round, &|member| if sees_everyone(member.actor.role) { full } else { public });
        if out.to.is_empty() {
            self.presence_out = None;
        }
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    async fn sample_attendance(&mut self) {
        let mut sample = self.presence.sample(now_millis());
        if let Some(cluster) = &self.cluster {
            let others = cluster.others.borrow();
            (sample.in_room, sample.remote) = (sample.in_room + others.in_room, sample.remote + others.remote);
        }
        self.journal.record_attendance(&self.event, sample).await;
    }

    /// Presence as a viewer sees it: counts, recent joins and which speakers are here; for
    /// the chair and crew (`full`) in a welcome also the attendance history.
    fn presence_view(&self, full: bool, welcome: bool) -> PresenceView<'_> {
        let speakers = speakers_present(self.presence.speaker_names().map(|(name, _)| name), &self.programme);
        let in_room = self.presence.speaker_names().filter(|(_, mode)| *mode == Mode::InRoom).map(|(name, _)| name);
        let speakers_in_room = speakers_present(in_room, &self.programme);
        PresenceView {
            version: self.presence.version(),
            counts: self.counts(),
            listed: full.then(|| self.presence.published_total()),
            recent: self.presence.recent().into_iter().map(|p| RecentView::of(p, &self.tagger)).collect(),
            speakers,
            speakers_in_room,
            history: (full && welcome).then(|| self.presence.history()),
            list: None,
            joined: None,
            left: None,
            next: None,
        }
    }

    /// A welcome's presence: for the chair and crew, the joins and leaves missed since the
    /// version a reconnecting client names while they are kept, else the first page of the
    /// list and where the next one starts.
    fn welcome_presence(&self, role: Role, resume: Option<&ResumeFrom>) -> PresenceView<'_> {
        let mut view = self.presence_view(sees_everyone(role), true);
        if !sees_everyone(role) {
            return view;
        }
        // Presence versions are each node's own: in a cluster, one from another node means
        // nothing here.
        let same_epoch = resume.filter(|r| *r.epoch == *self.epoch && self.cluster.is_none());
        match same_epoch.and_then(|r| r.presence).and_then(|version| self.presence.since(version)) {
            Some(missed) => {
                let joined = missed.joined.iter().filter_map(|p| self.presence.published(&p.participant));
                view.joined = Some(joined.map(|p| PresentView::of(p, &self.tagger)).collect());
                view.left = Some(missed.left.iter().map(|p| self.tagger.who(p)).collect());
            }
            None => {
                let (entries, next) = self.page(None, PRESENCE_FIRST_PAGE);
                view.list = Some(entries);
                view.next = next;
            }
        }
        view
    }

    /// A page of the published list after `after`, and the cursor of the next one.
    fn page(&self, after: Option<&Cursor>, limit: usize) -> (Vec<PresentView<'_>>, Option<String>) {
        let page = self.presence.page(after, limit + 1);
        let next =
            (page.len() > limit).then(|| cursor_text(&(page[limit - 1].name.clone(), page[limit - 1].who.clone())));
        (page.into_iter().take(limit).map(|p| PresentView::of(p, &self.tagger)).collect(), next)
    }

    fn presence_page(&mut self, conn: ConnId, id: &str, after: Option<Cursor>, limit: usize) {
        let Some(member) = self.members.get(conn) else { return };
        if !sees_everyone(member.actor.role) {
            let error = FrameError {
                id: Some(id.to_owned()),
                code: ErrorCode::Forbidden,
                message: "only the chair and the crew see the full list".into(),
            };
            self.send_to(conn, error.encode());
            return;
        }
        let (entries, next) = self.page(after.as_ref(), limit);
        let (version, total) = (self.presence.version(), self.presence.published_total());
        let frame = encode(&ServerFrame::PresencePage { id, version, next, total, entries });
        self.send_to(conn, frame);
    }
}
