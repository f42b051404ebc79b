//! Votes gathered into batches, counted like presence rather than like chat: a vote is
//! checked when it arrives (one that cannot hold is refused at once), waits with the others
//! until votes pause for `VOTE_QUIET` or the oldest has waited `VOTE_WINDOW`, and the batch
//! is applied, stored and sent as one change. Ten thousand votes in ten seconds cost each
//! client a frame a second, not ten thousand; each vote is acknowledged once its batch is
//! durable.

use std::time::Duration;

use tokio::sync::oneshot;

use super::actor::To;
use super::handle::HubMsg;
use super::retries::Outcome;
use super::{Hub, Inputs};
use crate::clock::now_millis;
use crate::domain::polls::Polls;
use crate::domain::questions::Questions;
use crate::domain::text::{Lang, Mode};
use crate::domain::votes::{self, Ballot, Vote};
use crate::domain::{Actor, Change, Command, Millis, Role};
use crate::protocol::{encode, ErrorCode, FrameError, ServerFrame};

/// A batch is applied once no vote has come for this long: the final count of a vote that
/// ends shows this soon after its last vote.
pub const VOTE_QUIET: Duration = Duration::from_millis(150);
/// ...or once its oldest vote has waited this long, while votes keep coming: the most a
/// count lags, and the least time between two vote frames to every client.
pub const VOTE_WINDOW: Duration = Duration::from_millis(1000);
/// Votes in one batch at most, a bound on a change's size in the log; more wait for the
/// next batch, due at once.
pub const MAX_BALLOTS: usize = 2000;
/// Who a batch of votes is by, in the log: each ballot names its voter.
pub const VOTES_ACTOR: &str = "hub:votes";

/// A vote waiting for its batch, and everyone to answer (a retry while it waits joins it).
pub(super) struct Pending {
    ballot: Ballot,
    to: Vec<To>,
}

#[derive(Default)]
pub(super) struct Gathered {
    pending: Vec<Pending>,
    /// Where each waiting vote is in `pending`, by (participant, command id).
    waiting: std::collections::HashMap<(String, String), usize>,
    /// When the waiting votes' batch is due.
    pub(super) due: Option<tokio::time::Instant>,
    /// When the oldest waiting vote came.
    first: Option<tokio::time::Instant>,
    /// What the batch being settled replaces, to put back if it cannot be stored.
    pub(super) replaced: Option<votes::Replaced>,
}

fn votes_actor() -> Actor {
    Actor {
        participant: VOTES_ACTOR.into(),
        name: "votes".into(),
        role: Role::Attendee,
        mode: Mode::InRoom,
        lang: Lang::En,
        affiliation: None,
        crew: Vec::new(),
    }
}

/// Whether the state holds `ballot` as cast.
fn holds(questions: &Questions, polls: &Polls, ballot: &Ballot) -> bool {
    match &ballot.vote {
        Vote::Question { question, up } => {
            questions.voters.get(question).is_some_and(|v| v.contains(&ballot.participant)) == *up
        }
        Vote::Poll { poll, choices } => {
            polls.ballots.get(poll).and_then(|b| b.get(&ballot.participant)).is_some_and(|b| b.choices == *choices)
        }
    }
}

impl Hub {
    /// Takes a vote into the next batch, or answers it now: a retry of a vote already in a
    /// batch with that batch's outcome, a vote that cannot hold with why.
    pub(super) fn gather_vote(&mut self, actor: &Actor, id: &str, vote: Vote, to: To, now: Millis) {
        if let Some(first) = self.retries.get(&actor.participant, id, now).cloned() {
            return self.answer_vote(to, id, first, false);
        }
        if let Some(&k) = self.votes.waiting.get(&(actor.participant.clone(), id.to_owned())) {
            return self.votes.pending[k].to.push(to);
        }
        let ballot = Ballot::new(actor, id, vote);
        if let Err(rejection) = votes::check(&self.state.questions, &self.state.polls, &ballot) {
            let outcome = Outcome::Rejected(FrameError::rejected(id, &rejection));
            self.count(&Command::Votes { ballots: Vec::new() }, &outcome);
            return self.answer_vote(to, id, outcome, false);
        }
        let now = tokio::time::Instant::now();
        let first = *self.votes.first.get_or_insert(now);
        self.votes.due = Some((now + VOTE_QUIET).min(first + VOTE_WINDOW));
        let key = (ballot.participant.clone(), ballot.id.clone());
        self.votes.waiting.insert(key, self.votes.pending.len());
        self.votes.pending.push(Pending { ballot, to: vec![to] });
    }

    /// Applies the waiting votes as one batch: each checked against those before it, the
    /// ones that hold stored as one change, then every vote answered.
    pub(super) async fn flush_votes(&mut self, inputs: &mut Inputs) {
        let take = self.votes.pending.len().min(MAX_BALLOTS);
        let batch: Vec<Pending> = self.votes.pending.drain(..take).collect();
        self.votes.waiting = self
            .votes
            .pending
            .iter()
            .enumerate()
            .map(|(k, p)| ((p.ballot.participant.clone(), p.ballot.id.clone()), k))
            .collect();
        self.votes.due = (!self.votes.pending.is_empty()).then(tokio::time::Instant::now);
        self.votes.first = self.votes.due;
        // The domain casts them in order and keeps those that still hold; what they replace
        // is put back if the batch cannot be stored.
        let ballots: Vec<Ballot> = batch.iter().map(|p| p.ballot.clone()).collect();
        self.votes.replaced = Some(votes::replaced(&self.state.questions, &self.state.polls, &ballots));
        let (reply, mut outcome) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        let msg = HubMsg::Request { actor: Box::new(votes_actor()), id, command: Command::Votes { ballots }, reply };
        // The flush runs only while the audience keeps up, so the batch is settled now.
        self.settle(vec![msg], inputs).await;
        self.votes.replaced = None;
        let outcome = outcome.try_recv().unwrap_or_else(|_| {
            Outcome::Rejected(FrameError::new(
                ErrorCode::Internal,
                "the votes could not be applied; nothing was stored",
            ))
        });
        let now = now_millis();
        // A cloud node's state may lag the venue's answer by the mirror: the venue's word holds.
        let in_cloud = self.cluster.as_ref().is_some_and(|c| c.log.in_cloud());
        let kept = match &outcome {
            Outcome::Ack { seq, .. } => self.kept(*seq),
            Outcome::Rejected(_) => None,
        };
        for Pending { ballot, to } in batch {
            let key = (ballot.participant.clone(), ballot.id.clone());
            let held = match &kept {
                Some(kept) => kept.contains(&key),
                None => holds(&self.state.questions, &self.state.polls, &ballot),
            };
            let outcome = match &outcome {
                Outcome::Ack { seq, .. } if in_cloud || held => {
                    let outcome = Outcome::Ack { seq: *seq, warning: None };
                    self.retries.remember_vote(&ballot.participant, &ballot.id, outcome.clone(), now);
                    outcome
                }
                Outcome::Ack { .. } => {
                    let error = match votes::check(&self.state.questions, &self.state.polls, &ballot) {
                        Err(rejection) => FrameError::rejected(&ballot.id, &rejection),
                        Ok(()) => FrameError {
                            id: Some(ballot.id.clone()),
                            code: ErrorCode::Conflict,
                            message: "the vote no longer holds after changes on other nodes; look again and retry"
                                .into(),
                        },
                    };
                    Outcome::Rejected(error)
                }
                Outcome::Rejected(error) => {
                    Outcome::Rejected(FrameError { id: Some(ballot.id.clone()), ..error.clone() })
                }
            };
            let batched = matches!(outcome, Outcome::Ack { .. });
            to.into_iter().for_each(|to| self.answer_vote(to, &ballot.id, outcome.clone(), batched));
        }
    }

    /// The votes (participant, command id) that the batch stored at `seq` holds, when this
    /// hub has published it.
    fn kept(&self, seq: u64) -> Option<std::collections::HashSet<(String, String)>> {
        let (_, frames) = self.recent.iter().rev().find(|(s, _)| *s == seq)?;
        match frames.change() {
            Change::Votes { ballots, .. } => {
                Some(ballots.iter().map(|b| (b.participant.clone(), b.id.clone())).collect())
            }
            _ => None,
        }
    }

    /// Answers a vote; `batched` when its batch was just published. An ack follows its
    /// batch's change to the voter, in the voter's audience round: voters are not put
    /// first, which would write every batch to the audience at once and hold up the next
    /// segment change. A retry's ack, too, comes after the changes still on their way.
    fn answer_vote(&mut self, to: To, id: &str, outcome: Outcome, batched: bool) {
        match (to, outcome) {
            (To::Conn(conn), Outcome::Ack { seq, warning }) => {
                let ack = encode(&ServerFrame::Ack { id, seq, warning: warning.as_deref() });
                match batched {
                    true => self.send_after_published(conn, seq, ack),
                    false => self.send_after_all(conn, ack),
                }
            }
            (To::Conn(conn), Outcome::Rejected(error)) => self.send_to(conn, error.encode()),
            (To::Request(reply), outcome) => {
                let _ = reply.send(outcome);
            }
        }
    }
}
