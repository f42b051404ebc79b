//! The hub's part in a cluster: each command's changes published to the event's NATS
//! stream, expecting it to end where this hub's state does; every record another node
//! appends followed and applied in order, as if it were this hub's own; this node's
//! presence counts and people shared with the other nodes, and theirs taken in.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tracing::{error, warn};

use super::apply::Step;
use super::fanout::Frames;
use super::handle::HubMsg;
use super::retries::{Outcome, RETRY_WINDOW_MS};
use super::{programme, Hub, Inputs};
use crate::domain::presence::Counts;
use crate::domain::{Actor, Change, Command, Millis};
use crate::metrics::EventLabel;
use crate::protocol::{ErrorCode, FrameError};
use crate::store::nats::{self, EventLog, Followed, FollowedLine, Link, People, Record, Refused};
use crate::store::{Applied, AtMost};

/// A hub's part in a cluster.
pub(super) struct Clustered {
    pub(super) log: EventLog,
    /// The stream sequence of the last message the hub's state includes.
    position: u64,
    /// This node's counts of the event, for the presence task to share.
    ours: watch::Sender<Counts>,
    /// Every other live node's counts, summed.
    pub(super) others: watch::Receiver<Counts>,
    /// This node's comings and goings for the presence task to share, and the other
    /// nodes' it took in, for the chair's list.
    people: Arc<People>,
    /// The link to the other side of a hybrid event.
    pub(super) link: watch::Receiver<Link>,
    /// Stops the follower and the presence task when the hub ends.
    _stop: DropGuard,
}

impl Clustered {
    /// Starts following the event's stream after `position` and its caption lines from the
    /// first, and sharing this node's presence, all on `tracker` and until the hub drops
    /// its part.
    pub(super) fn start(log: EventLog, position: u64, tracker: &TaskTracker) -> (Clustered, Following) {
        let stop = CancellationToken::new();
        let (records, follower) = log.follow(position, stop.clone());
        tracker.spawn(follower);
        let (lines, follower) = log.follow_captions(stop.clone());
        tracker.spawn(follower);
        let link = log.link();
        let followed = Following { records, lines, link: Some(link.clone()) };
        let (ours, ours_rx) = watch::channel(Default::default());
        let (others_tx, others) = watch::channel(Default::default());
        let people = Arc::new(People::default());
        tracker.spawn(log.clone().share_presence(ours_rx, others_tx, Arc::clone(&people), stop.clone()));
        let clustered = Clustered { log, position, ours, others, people, link, _stop: stop.drop_guard() };
        (clustered, followed)
    }
}

/// What a clustered hub follows: the event's records and its caption lines, and on a
/// cloud node the link to the venue.
pub(super) struct Following {
    pub(super) records: mpsc::Receiver<Followed>,
    pub(super) lines: mpsc::Receiver<FollowedLine>,
    pub(super) link: Option<watch::Receiver<Link>>,
}

/// Messages set aside while a publish is in flight before the hub stops reading more.
const DEFERRED_AT_MOST: usize = 1024;

/// How many times a command is applied again after other nodes appended first. Nodes that
/// all take commands at full speed keep beating each other; a jittered pause that grows
/// with each attempt lets one of them through.
const MAX_ATTEMPTS: u32 = 32;

/// Waits for the next of what a cluster follows, or forever without a cluster.
pub(super) async fn next_followed<T>(followed: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match followed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Hub {
    /// Applies one command in a cluster: publishes its changes expecting the stream to end
    /// where this hub's state does; when another node appended first, catches up and
    /// applies the command again to the newer state, where the domain decides. While the
    /// publish is in flight, joins, leaves and the audience's rounds go on from the state
    /// before the command (a hung NATS server must not keep pages from their welcome).
    pub(super) async fn step_clustered(
        &mut self,
        actor: &Actor,
        id: &str,
        command: &Command,
        now: Millis,
        inputs: &mut Inputs,
    ) -> Step {
        if self.cluster.as_ref().is_some_and(|c| c.log.in_cloud()) {
            return self.step_remote(actor, id, command, now, inputs).await;
        }
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
            let before = (self.state.clone(), self.seq, self.programme.clone());
            let mut entries = Vec::new();
            let step = self.apply(actor, id, command, now, &mut entries);
            let Some(cluster) = self.cluster.as_ref().filter(|_| !entries.is_empty()) else {
                self.count(command, &step.outcome);
                return step;
            };
            let (log, position) = (cluster.log.clone(), cluster.position);
            let (participant, key) = (actor.participant.clone(), id.to_owned());
            let publishing = async move {
                let published = log.publish(position, &participant, &key, &entries).await;
                (published, entries)
            };
            // The state the command makes waits aside until the stream has it.
            let staged = std::mem::replace(&mut self.state, before.0);
            let staged =
                (staged, std::mem::replace(&mut self.seq, before.1), std::mem::replace(&mut self.programme, before.2));
            let started = std::time::Instant::now();
            let (published, entries) = self.meanwhile(publishing, inputs).await;
            let cluster = self.cluster.as_mut().expect("a clustered hub stays clustered");
            match published {
                Ok(position) => {
                    cluster.position = position;
                    (self.state, self.seq, self.programme) = staged;
                    self.unconfirmed.remove(&(actor.participant.clone(), id.to_owned()));
                    self.metrics.store_commit_seconds.observe(started.elapsed().as_secs_f64());
                    let changes = EventLabel { event: self.event.to_string() };
                    self.metrics.changes.get_or_create(&changes).inc_by(entries.len() as u64);
                    for entry in &entries {
                        self.publish(entry.seq, Frames::encode(entry, &self.tagger));
                    }
                    self.count(command, &step.outcome);
                    return Step { outcome: step.outcome, acked: false };
                }
                Err(refused) => {
                    self.retries.forget(&actor.participant, id);
                    let asked = (actor.participant.clone(), id.to_owned());
                    let message = match refused {
                        // Behind may mean that this very command is stored already (a retry
                        // of an unconfirmed one): catching up finds it, and the loop answers
                        // its first outcome.
                        Refused::Behind => {
                            let was = self.cluster.as_ref().map(|c| c.position);
                            match self.catch_up().await {
                                Ok(()) if self.cluster.as_ref().map(|c| c.position) != was => continue,
                                // The stream said it had moved on, yet holds nothing new: a
                                // change it took but cannot commit (it lost its quorum), which
                                // may be this very command.
                                Ok(()) | Err(()) => self.unconfirmed(asked, now),
                            }
                        }
                        // Nothing went out this time; but an earlier attempt may have landed.
                        Refused::Unavailable if self.unconfirmed.contains_key(&asked) => nats::UNCONFIRMED,
                        Refused::Unavailable => nats::UNAVAILABLE,
                        Refused::Unconfirmed => self.unconfirmed(asked, now),
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

    /// Notes that the command `asked` may have been stored, so that no re-send of it is told
    /// "nothing was applied" until the stream shows it; its answer's message.
    fn unconfirmed(&mut self, asked: (String, String), now: Millis) -> &'static str {
        self.unconfirmed.retain(|_, at| now - *at < RETRY_WINDOW_MS);
        self.unconfirmed.insert(asked, now);
        nats::UNCONFIRMED
    }

    /// Awaits `work` while serving what does not depend on its outcome: leaves, the
    /// audience's rounds, joins (welcomed with the state as it is), overviews and presence
    /// pages. Commands and anything else wait in `deferred` for the main loop.
    pub(super) async fn meanwhile<T>(&mut self, work: impl Future<Output = T>, inputs: &mut Inputs) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                done = &mut work => return done,
                Some(conn) = inputs.leaves.recv() => self.remove_member(conn),
                msg = inputs.inbox.recv(), if !inputs.closed && self.deferred.len() < DEFERRED_AT_MOST => match msg {
                    // A page that has seen more than this node has must wait for the catch-up.
                    Some(HubMsg::Join(joining)) if joining.resume.as_ref().is_none_or(|r| r.seq <= self.seq) => {
                        self.join(*joining)
                    }
                    Some(HubMsg::Overview(reply)) => {
                        let _ = reply.send(self.overview());
                    }
                    Some(HubMsg::Plan(reply)) => {
                        let _ = reply.send(self.plan_now());
                    }
                    Some(HubMsg::PresencePage { conn, id, after, limit }) => self.presence_page(conn, &id, after, limit),
                    Some(other) => self.deferred.push_back(other),
                    None => inputs.closed = true,
                },
                () = std::future::ready(()), if !self.audience_out.is_empty() => self.continue_audience(),
            }
        }
    }
    /// Applies what other nodes appended since this hub's position.
    pub(super) async fn catch_up(&mut self) -> Result<(), ()> {
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
    pub(super) async fn followed(&mut self, followed: Followed) {
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
            if let Some(id) = entry.command.as_ref().filter(|_| !self.unconfirmed.is_empty()) {
                self.unconfirmed.remove(&(entry.actor.participant.clone(), id.clone()));
            }
            // Each vote of a batch too, so that a vote re-sent to this node is applied once.
            for applied in Applied::of(std::iter::once(&entry), AtMost::ALL) {
                let outcome = Outcome::Ack { seq: entry.seq, warning: None };
                self.retries.remember_applied(&applied, outcome);
            }
            self.publish(entry.seq, Frames::encode(&entry, &self.tagger));
        }
    }

    /// Hands this node's counts and comings and goings to the presence task, takes in the
    /// other nodes' people, and republishes presence when the other nodes' counts have
    /// changed.
    pub(super) fn share_presence(&mut self) {
        let Some(cluster) = &mut self.cluster else { return };
        let ours = self.presence.counts();
        cluster.ours.send_if_modified(|current| std::mem::replace(current, ours.clone()) != ours);
        cluster.people.report(self.presence.local_changes());
        for (node, participant, present) in cluster.people.reported() {
            self.presence.elsewhere(&node, participant, present);
        }
        if cluster.others.has_changed().unwrap_or(false) {
            cluster.others.mark_unchanged();
            self.presence.republish();
        }
    }
}
