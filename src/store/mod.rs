//! The durable change log. A [`Backend`] (SQLite by default) runs on a thread of its own
//! behind a [`Journal`] handle, which commits appends that arrive together in one
//! transaction (group commit) and answers only once they are durable.

pub mod captions;
pub mod nats;
pub mod sqlite;

use std::thread;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::error;

use crate::domain::presence::Sample;
use crate::domain::{Actor, Change, EventState, Millis};

/// One accepted change as the log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    pub at: Millis,
    pub actor: Actor,
    /// The id the sender gave the command that caused it, so that a retry of that command
    /// is recognised, even after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub change: Change,
}

/// A command the log says was applied: who sent it, its id, and the seq its ack named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub participant: String,
    pub command: String,
    pub seq: u64,
    pub at: Millis,
    /// A vote of a batch, rather than a command of its own.
    pub vote: bool,
}

/// How many applied commands, and apart from them how many votes, to give back for
/// retries: a flood of votes never pushes the show's own commands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtMost {
    pub commands: usize,
    pub votes: usize,
}

impl AtMost {
    /// No bound.
    pub const ALL: AtMost = AtMost { commands: usize::MAX, votes: usize::MAX };
}

impl Applied {
    /// The commands `entries` (newest first) applied, at most `max`, oldest first: one per
    /// command (its last change), and one per vote of a batch, under its voter's command id.
    pub fn of<'a>(entries: impl Iterator<Item = &'a LogEntry>, max: AtMost) -> Vec<Applied> {
        let mut applied: Vec<Applied> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let (mut commands, mut votes) = (0, 0);
        for e in entries {
            let ballots = match &e.change {
                Change::Votes { ballots, .. } => ballots.iter().map(|b| (&b.participant, &b.id, true)).collect(),
                _ => Vec::new(),
            };
            let own = e.command.as_ref().map(|command| (&e.actor.participant, command, false));
            for (participant, command, vote) in own.into_iter().chain(ballots) {
                let count = if vote { &mut votes } else { &mut commands };
                let room = if vote { max.votes } else { max.commands };
                if *count < room && seen.insert((participant.clone(), command.clone())) {
                    *count += 1;
                    applied.push(Applied {
                        participant: participant.clone(),
                        command: command.clone(),
                        seq: e.seq,
                        at: e.at,
                        vote,
                    });
                }
            }
        }
        applied.reverse();
        applied
    }
}

/// An event as the store holds it: its state rebuilt from the latest snapshot and the
/// changes after it, and the most recent changes for resuming clients.
pub struct StoredEvent {
    pub state: EventState,
    pub seq: u64,
    pub recent: Vec<LogEntry>,
    /// The attendance history, oldest first.
    pub attendance: Vec<Sample>,
    /// Commands applied since the `since` given to [`Backend::load`], oldest first; one per
    /// command, with the seq of its last change.
    pub applied: Vec<Applied>,
    /// Archived events keep their record but get no hub.
    pub archived: bool,
    /// In a cluster, the stream sequence of the last message `state` includes; 0 for the
    /// embedded store, which has no such thing.
    pub position: u64,
    /// In a cluster, the epoch of the event's own stream, which replaces the store's.
    pub epoch: Option<std::sync::Arc<str>>,
}

impl StoredEvent {
    /// A new event, with no changes yet.
    pub fn new(state: EventState) -> Self {
        StoredEvent {
            state,
            seq: 0,
            recent: Vec::new(),
            attendance: Vec::new(),
            applied: Vec::new(),
            archived: false,
            position: 0,
            epoch: None,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError(format!("a stored record does not decode: {e}"))
    }
}

/// Changes of one event to append, in seq order.
pub struct Append {
    pub event: String,
    pub entries: Vec<LogEntry>,
}

/// A place that keeps change logs durably. Calls are blocking; the journal runs them on a
/// thread of their own.
pub trait Backend: Send + 'static {
    /// Names this log; it changes only when the log is lost or replaced.
    fn epoch(&self) -> &str;
    /// Every stored event, keeping up to `recent` of its latest changes for resuming clients
    /// and the commands applied since `since` (at most `max_applied`, the latest).
    fn load(&mut self, recent: usize, since: Millis, max_applied: AtMost) -> Result<Vec<StoredEvent>, StoreError>;
    /// One stored event, as [`Backend::load`] gives it; none when the store has no such
    /// event. In a cluster, an event another node created while this one runs.
    fn load_event(
        &mut self,
        event: &str,
        recent: usize,
        since: Millis,
        max_applied: AtMost,
    ) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.load(recent, since, max_applied)?.into_iter().find(|e| e.state.show.event.id == event))
    }
    /// Stores a new event with no changes yet.
    fn create(&mut self, state: &EventState) -> Result<(), StoreError>;
    /// Marks an event archived: its record stays, but it no longer runs.
    fn archive(&mut self, event: &str) -> Result<(), StoreError>;
    /// Appends all of `batch` in one durable commit, or nothing.
    fn append(&mut self, batch: &[Append]) -> Result<(), StoreError>;
    /// Records the state after `seq`, so that start-up need not replay the whole log.
    fn snapshot(&mut self, event: &str, seq: u64, state: &EventState) -> Result<(), StoreError>;
    /// The whole log of an event, in order.
    fn read_log(&mut self, event: &str) -> Result<Vec<LogEntry>, StoreError>;
    /// Keeps one point of an event's attendance history.
    fn record_attendance(&mut self, event: &str, sample: Sample) -> Result<(), StoreError>;
    /// An event's attendance history, oldest first.
    fn attendance(&mut self, event: &str) -> Result<Vec<Sample>, StoreError>;
}

enum Op {
    Append { append: Append, done: oneshot::Sender<Result<(), StoreError>> },
    Snapshot { event: String, seq: u64, state: Box<EventState> },
    ReadLog { event: String, done: oneshot::Sender<Result<Vec<LogEntry>, StoreError>> },
    Attendance { event: String, sample: Sample },
    ReadAttendance { event: String, done: oneshot::Sender<Result<Vec<Sample>, StoreError>> },
    Create { state: Box<EventState>, done: oneshot::Sender<Result<(), StoreError>> },
    Archive { event: String, done: oneshot::Sender<Result<(), StoreError>> },
    LoadEvent { event: String, recent: usize, since: Millis, max_applied: AtMost, done: Loaded },
}

type Loaded = oneshot::Sender<Result<Option<StoredEvent>, StoreError>>;

/// How many requests may wait for the store before callers wait.
const QUEUE: usize = 4096;
/// The most appends committed together.
const MAX_GROUP: usize = 512;

/// Cheap-to-clone handle to the store thread.
#[derive(Clone)]
pub struct Journal {
    ops: mpsc::Sender<Op>,
}

/// The store thread; it ends once every [`Journal`] handle is dropped and the queue drained.
pub struct StoreThread(thread::JoinHandle<()>);

impl StoreThread {
    /// Waits until everything queued is written and the backend is closed.
    pub fn join(self) {
        if self.0.join().is_err() {
            error!("the store thread panicked");
        }
    }
}

impl Journal {
    /// Moves `backend` to a thread of its own.
    pub fn start(backend: Box<dyn Backend>) -> std::io::Result<(Journal, StoreThread)> {
        let (ops, rx) = mpsc::channel(QUEUE);
        let thread = thread::Builder::new().name("store".into()).spawn(move || write_loop(backend, rx))?;
        Ok((Journal { ops }, StoreThread(thread)))
    }

    /// Returns once `entries` are durable.
    pub async fn append(&self, event: &str, entries: Vec<LogEntry>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        let append = Append { event: event.to_owned(), entries };
        self.ops.send(Op::Append { append, done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Queues a snapshot behind the appends already queued; failures are only logged, since
    /// the log alone is enough to recover.
    pub async fn snapshot(&self, event: &str, seq: u64, state: EventState) {
        let op = Op::Snapshot { event: event.to_owned(), seq, state: Box::new(state) };
        if self.ops.send(op).await.is_err() {
            error!(event, "the store stopped before a snapshot");
        }
    }

    /// Queues an attendance sample; a lost sample is only logged.
    pub async fn record_attendance(&self, event: &str, sample: Sample) {
        if self.ops.send(Op::Attendance { event: event.to_owned(), sample }).await.is_err() {
            error!(event, "the store stopped before an attendance sample");
        }
    }

    pub async fn read_attendance(&self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let (done, wait) = oneshot::channel();
        self.ops.send(Op::ReadAttendance { event: event.to_owned(), done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Returns once the new event is durable.
    pub async fn create(&self, state: EventState) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.ops.send(Op::Create { state: Box::new(state), done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Returns once the event is durably archived.
    pub async fn archive(&self, event: &str) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.ops.send(Op::Archive { event: event.to_owned(), done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// One stored event, with up to `recent` changes and the commands applied since `since`
    /// (at most `max_applied`); none when the store has no such event.
    pub async fn load_event(
        &self,
        event: &str,
        recent: usize,
        since: Millis,
        max_applied: AtMost,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let (done, wait) = oneshot::channel();
        let op = Op::LoadEvent { event: event.to_owned(), recent, since, max_applied, done };
        self.ops.send(op).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    pub async fn read_log(&self, event: &str) -> Result<Vec<LogEntry>, StoreError> {
        let (done, wait) = oneshot::channel();
        self.ops.send(Op::ReadLog { event: event.to_owned(), done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError("the store has stopped".into())
}

fn write_loop(mut backend: Box<dyn Backend>, mut ops: mpsc::Receiver<Op>) {
    while let Some(first) = ops.blocking_recv() {
        let mut group = Vec::new();
        let mut after = None;
        let mut next = Some(first);
        while let Some(op) = next.take() {
            match op {
                Op::Append { append, done } => group.push((append, done)),
                other => {
                    after = Some(other);
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = ops.try_recv().ok();
            }
        }
        if !group.is_empty() {
            let (batch, waiters): (Vec<Append>, Vec<_>) = group.into_iter().unzip();
            let result = backend.append(&batch);
            if let Err(e) = &result {
                error!(error = %e, "the store could not commit; the changes were refused");
            }
            for done in waiters {
                let _ = done.send(result.clone());
            }
        }
        match after {
            Some(Op::Snapshot { event, seq, state }) => {
                if let Err(e) = backend.snapshot(&event, seq, &state) {
                    error!(event, seq, error = %e, "snapshot failed; start-up will replay more of the log");
                }
            }
            Some(Op::ReadLog { event, done }) => {
                let _ = done.send(backend.read_log(&event));
            }
            Some(Op::Attendance { event, sample }) => {
                if let Err(e) = backend.record_attendance(&event, sample) {
                    error!(event, error = %e, "an attendance sample was lost");
                }
            }
            Some(Op::ReadAttendance { event, done }) => {
                let _ = done.send(backend.attendance(&event));
            }
            Some(Op::Create { state, done }) => {
                let _ = done.send(backend.create(&state));
            }
            Some(Op::Archive { event, done }) => {
                let _ = done.send(backend.archive(&event));
            }
            Some(Op::LoadEvent { event, recent, since, max_applied, done }) => {
                let _ = done.send(backend.load_event(&event, recent, since, max_applied));
            }
            Some(Op::Append { .. }) | None => {}
        }
    }
}
