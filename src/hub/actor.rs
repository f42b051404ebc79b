//! The hub's task: how it starts, the loop that picks what to do next (commands and joins
//! before presence, captions and audience rounds), and each batch of messages settled with
//! one commit: applied, made durable, written to the staff and senders, answered, queued
//! for the audience, and the batch's joiners welcomed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use super::captions::Tracks;
use super::cluster::{next_followed, Clustered, Following};
use super::fanout::Frames;
use super::handle::{Follow, HubHandle, HubMsg, Stop};
use super::members::{is_staff, Members};
use super::presence::{ATTENDANCE_EVERY, PRESENCE_EVERY};
use super::remote::next_link;
use super::retries::{Outcome, Retries};
use super::{programme, ConnId, Hub, Inputs, RESUME_BUFFER};
use crate::clock::now_millis;
use crate::domain::presence::Presence;
use crate::domain::{votes, Command};
use crate::metrics::{EventLabel, Metrics};
use crate::protocol::{encode, ErrorCode, FrameError, ServerFrame, Tagger};
use crate::store::nats::EventLog;
use crate::store::{Journal, StoredEvent};

/// How many commands may wait for an event's hub before senders are made to wait.
const INBOX_CAPACITY: usize = 1024;
/// The most messages the hub handles between two commits.
const MAX_BATCH: usize = 256;
/// A snapshot is stored every this many changes, so that start-up replays at most this many.
pub const SNAPSHOT_EVERY: u64 = 500;
/// Changes the audience may be behind the staff. Beyond it the machine cannot write changes
/// as fast as they come: commands and joins wait, rather than the audience falling further
/// behind without bound.
const MAX_AUDIENCE_BEHIND: usize = 32;

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
        if cluster.is_some() {
            presence = presence.shared();
        }
        let (cluster, followed) = match cluster {
            Some(log) => {
                let (clustered, followed) = Clustered::start(log, stored.position, tracker);
                (Some(clustered), Some(followed))
            }
            None => (None, None),
        };
        let hub = Hub {
            audience_snapshot: Default::default(),
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
            audience_presence: Default::default(),
            retries: Retries::from_log(stored.applied),
            unconfirmed: HashMap::new(),
            listeners: Vec::new(),
            followers: Vec::new(),
            members: Members::new(metrics.slow_client_closes.clone()),
            senders: Vec::new(),
            audience_out: VecDeque::new(),
            deferred: VecDeque::new(),
            metrics,
            captions: Tracks::new(),
            captions_out: VecDeque::new(),
            votes: Default::default(),
        };
        tracker.spawn(hub.run(inbox_rx, leaves_rx, followed));
        HubHandle { inbox, leaves }
    }
}

/// When the waiting votes' batch is due; never without one.
async fn vote_batch_due(due: Option<tokio::time::Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
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

/// Who a command's outcome goes back to.
pub(super) enum To {
    Conn(ConnId),
    Request(oneshot::Sender<Outcome>),
}

impl Hub {
    async fn run(
        mut self,
        inbox: mpsc::Receiver<HubMsg>,
        leaves: mpsc::UnboundedReceiver<ConnId>,
        followed: Option<Following>,
    ) {
        let (mut records, mut lines, mut link) =
            followed.map_or((None, None, None), |f| (Some(f.records), Some(f.lines), f.link));
        let mut inputs = Inputs { inbox, leaves, closed: false };
        info!(event = %self.event, seq = self.seq, "hub started");
        let mut presence_tick = tokio::time::interval(PRESENCE_EVERY);
        presence_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut attendance_tick = tokio::time::interval(ATTENDANCE_EVERY);
        attendance_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // Commands and joins go first: at tens of thousands of members a presence frame
            // takes as long to write out as a segment change, which must not wait behind it.
            let ready = self.audience_behind() < MAX_AUDIENCE_BEHIND;
            // Messages set aside while a publish was in flight come before any newer one.
            let deferred = if ready { self.deferred.pop_front() } else { None };
            let first = if let Some(msg) = deferred {
                msg
            } else if inputs.closed && self.deferred.is_empty() {
                break;
            } else {
                tokio::select! {
                biased;
                msg = inputs.inbox.recv(), if ready && !inputs.closed => match msg {
                    Some(msg) => msg,
                    None => break,
                },
                Some(conn) = inputs.leaves.recv() => {
                    self.remove_member(conn);
                    continue;
                }
                Some(record) = next_followed(&mut records) => {
                    self.followed(record).await;
                    self.continue_audience();
                    continue;
                }
                Some(followed) = next_followed(&mut lines) => {
                    self.caption_durable(followed.line);
                    continue;
                }
                Some(changed) = next_link(&mut link) => {
                    self.link_changed(changed);
                    continue;
                }
                () = vote_batch_due(self.votes.due), if ready && self.votes.due.is_some() => {
                    self.flush_votes(&mut inputs).await;
                    continue;
                }
                () = std::future::ready(()), if !self.audience_out.is_empty() => {
                    self.continue_audience();
                    continue;
                }
                () = std::future::ready(()), if self.presence_going_out() => {
                    self.continue_presence();
                    continue;
                }
                () = std::future::ready(()), if !self.captions_out.is_empty() => {
                    self.continue_captions();
                    continue;
                }
                _ = presence_tick.tick() => {
                    self.share_presence();
                    self.presence_tick();
                    continue;
                }
                _ = attendance_tick.tick() => {
                    self.sample_attendance().await;
                    continue;
                }
                }
            };
            // Whatever queued up while the last commit was in flight is committed together.
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.deferred.pop_front().map_or_else(|| inputs.inbox.try_recv().ok(), Some) {
                    Some(msg) => batch.push(msg),
                    None => break,
                }
            }
            let stop = self.settle(batch, &mut inputs).await;
            // However busy the inbox, each batch moves the audience on by a round.
            self.continue_audience();
            if let Some(Stop { close: (code, reason), reply }) = stop {
                // Votes still waiting are applied before the hub stops, with the audience
                // caught up first so that their batch is settled at once.
                while self.votes.due.is_some() {
                    while !self.audience_out.is_empty() {
                        self.continue_audience();
                    }
                    self.flush_votes(&mut inputs).await;
                }
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
    pub(super) async fn settle(&mut self, batch: Vec<HubMsg>, inputs: &mut Inputs) -> Option<Stop> {
        self.senders = batch
            .iter()
            .filter_map(|msg| match msg {
                // A vote is only gathered here: its ack follows its batch in the voter's
                // audience round, so a voter is no sender, whose pending changes would have
                // to be written out to the whole audience first.
                HubMsg::Command { command, .. } if command.vote().is_some() => None,
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
        // The state to fall back to if the store refuses the batch: cloned only when a
        // command may change it here, not for the votes that a batch merely gathers, nor for
        // a batch of votes, which keeps what it replaces (`votes.replaced`).
        let applies = batch.iter().any(|msg| match msg {
            HubMsg::Command { command, .. } | HubMsg::Request { command, .. } => {
                command.vote().is_none() && !matches!(command, Command::Votes { .. })
            }
            _ => false,
        });
        let before = applies.then(|| self.state.clone());
        let seq_before = self.seq;
        let now = now_millis();
        let mut entries = Vec::new();
        let mut replies = Vec::new();
        let mut joins = Vec::new();
        let mut listens = Vec::new();
        let mut follows = Vec::new();
        let mut stop = None;
        // Commands acknowledged in this batch, whose outcomes hold only if it is stored.
        let mut acked = Vec::new();
        let mut batch = batch.into_iter();
        while let Some(msg) = batch.next() {
            let changes = matches!(msg, HubMsg::Command { .. } | HubMsg::Request { .. });
            if changes && self.audience_behind() + entries.len() >= MAX_AUDIENCE_BEHIND {
                // The audience would fall further behind than documented: the rest of the
                // batch, in its order, waits until it has caught up.
                std::iter::once(msg).chain(batch).rev().for_each(|msg| self.deferred.push_front(msg));
                break;
            }
            match msg {
                HubMsg::Join(joining) => joins.push(*joining),
                HubMsg::Stop(request) => stop = Some(request),
                HubMsg::PresencePage { conn, id, after, limit } => self.presence_page(conn, &id, after, limit),
                HubMsg::Overview(reply) => {
                    let _ = reply.send(self.overview());
                }
                HubMsg::Plan(reply) => {
                    let _ = reply.send(self.plan_now());
                }
                HubMsg::Screens(reply) => {
                    let _ = reply.send(self.screens());
                }
                HubMsg::Direct { screen, directive, reply } => {
                    let _ = reply.send(self.direct(screen, &directive));
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
                    if let Some(vote) = command.vote() {
                        self.gather_vote(&actor, &id, vote, To::Conn(conn), now);
                        continue;
                    }
                    let step = match self.cluster.is_some() {
                        true => self.step_clustered(&actor, &id, &command, now, inputs).await,
                        false => self.step(&actor, &id, &command, now, &mut entries),
                    };
                    acked.extend(step.acked.then(|| (actor.participant.clone(), id.clone())));
                    replies.push(Reply::of(To::Conn(conn), id, step.outcome));
                }
                HubMsg::Request { actor, id, command, reply } => {
                    if let Some(vote) = command.vote() {
                        self.gather_vote(&actor, &id, vote, To::Request(reply), now);
                        continue;
                    }
                    let step = match self.cluster.is_some() {
                        true => self.step_clustered(&actor, &id, &command, now, inputs).await,
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
                    match (before, self.votes.replaced.take()) {
                        (Some(before), _) => self.state = before,
                        (None, Some(replaced)) => {
                            votes::restore(&mut self.state.questions, &mut self.state.polls, replaced)
                        }
                        (None, None) => {}
                    }
                    self.seq = seq_before;
                    self.audience_snapshot = Default::default();
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
}
