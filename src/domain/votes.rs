//! Votes, for questions and in polls, counted like presence rather than like chat: the hub
//! gathers the votes of a short window into one batch, applied here as one change that
//! carries every ballot (for the log, replay and retries) and the new counts (for clients).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::actor::{Actor, Role};
use super::polls::{Choice, Polls};
use super::questions::{QuestionState, Questions};
use super::rejection::Rejection;

/// What a participant votes for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum Vote {
    /// An upvote for a question, or (`up: false`) its withdrawal.
    Question {
        question: u64,
        up: bool,
    },
    Poll {
        poll: String,
        choices: Vec<usize>,
    },
}

/// One vote in a batch: who cast it and the id of the command that carried it, so that a
/// retry of that command is answered with this batch's seq.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    pub participant: String,
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(flatten)]
    pub vote: Vote,
}

impl Ballot {
    pub fn new(actor: &Actor, id: &str, vote: Vote) -> Self {
        Ballot {
            participant: actor.participant.clone(),
            id: id.to_owned(),
            name: actor.name.clone(),
            role: actor.role,
            vote,
        }
    }
}

/// A question's count after a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionTally {
    pub question: u64,
    pub votes: u32,
}

/// A poll's counts after a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollTally {
    pub poll: String,
    pub counts: Vec<u32>,
    pub voters: u32,
    /// Whether the audience sees the counts.
    pub shown: bool,
}

/// Checks one vote against the questions and polls as they stand.
pub fn check(questions: &Questions, polls: &Polls, ballot: &Ballot) -> Result<(), Rejection> {
    if matches!(ballot.role, Role::Av | Role::Display | Role::Captioner) {
        return Err(Rejection::Forbidden(format!("a {} may not vote", ballot.role.as_str())));
    }
    match &ballot.vote {
        Vote::Question { question, up } => questions.check_vote(*question, &ballot.participant, *up),
        Vote::Poll { poll, choices } => polls.check_ballot(poll, choices),
    }
}

/// The ballots that still hold, in order, and the counts they make, without touching the
/// state: each is checked against the state and the ballots before it in the batch. (A copy
/// of the state to cast them on would copy every ballot of the event, each batch.)
pub fn tally(
    questions: &Questions,
    polls: &Polls,
    ballots: &[Ballot],
) -> (Vec<Ballot>, Vec<QuestionTally>, Vec<PollTally>) {
    let mut kept = Vec::with_capacity(ballots.len());
    let (mut question_tallies, mut poll_tallies): (Vec<QuestionTally>, Vec<PollTally>) = (Vec::new(), Vec::new());
    // What the batch has made so far: each voter's word, and the counts.
    let mut upvoted: HashMap<(u64, &str), bool> = HashMap::new();
    let mut chosen: HashMap<(&str, &str), &[usize]> = HashMap::new();
    let mut question_counts: HashMap<u64, u32> = HashMap::new();
    let mut poll_counts: HashMap<&str, (Vec<u32>, u32)> = HashMap::new();
    for ballot in ballots {
        if matches!(ballot.role, Role::Av | Role::Display | Role::Captioner) {
            continue;
        }
        let participant = ballot.participant.as_str();
        match &ballot.vote {
            Vote::Question { question, up } => {
                let voted = upvoted
                    .get(&(*question, participant))
                    .copied()
                    .unwrap_or_else(|| questions.voters.get(question).is_some_and(|v| v.contains(participant)));
                let holds = questions.get(*question).is_ok_and(|q| q.state == QuestionState::Approved) && voted != *up;
                if !holds {
                    continue;
                }
                upvoted.insert((*question, participant), *up);
                let votes = question_counts.entry(*question).or_insert_with(|| {
                    questions.voters.get(question).map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX))
                });
                *votes = if *up { votes.saturating_add(1) } else { votes.saturating_sub(1) };
                question_tallies.retain(|t| t.question != *question);
                question_tallies.push(QuestionTally { question: *question, votes: *votes });
            }
            Vote::Poll { poll, choices } => {
                let Ok(open) = polls.get(poll) else { continue };
                if polls.check_ballot(poll, choices).is_err() {
                    continue;
                }
                let earlier = chosen
                    .get(&(poll.as_str(), participant))
                    .copied()
                    .or_else(|| polls.ballots.get(poll).and_then(|b| b.get(participant)).map(|b| b.choices.as_slice()));
                let (counts, voters) =
                    poll_counts.entry(poll.as_str()).or_insert_with(|| (open.counts.clone(), open.voters));
                match earlier {
                    Some(earlier) => earlier.iter().for_each(|&c| {
                        if let Some(count) = counts.get_mut(c) {
                            *count = count.saturating_sub(1);
                        }
                    }),
                    None => *voters += 1,
                }
                for &c in choices {
                    if let Some(count) = counts.get_mut(c) {
                        *count += 1;
                    }
                }
                chosen.insert((poll.as_str(), participant), choices);
                poll_tallies.retain(|t| t.poll != *poll);
                poll_tallies.push(PollTally {
                    poll: poll.clone(),
                    counts: counts.clone(),
                    voters: *voters,
                    shown: open.shown,
                });
            }
        }
        kept.push(ballot.clone());
    }
    (kept, question_tallies, poll_tallies)
}

/// What a batch's ballots replace, voter by voter, to put back if the batch cannot be
/// stored: a copy of every ballot of the event would cost as much as ten thousand votes.
#[derive(Debug, Default)]
pub struct Replaced(Vec<Before>);

#[derive(Debug)]
enum Before {
    /// Whether the voter had voted for the question, and whether anyone had.
    Question { question: u64, participant: String, up: bool, any: bool },
    /// The voter's ballot in the poll, and whether the poll had any.
    Poll { poll: String, participant: String, choice: Option<Choice>, any: bool },
}

/// What casting `ballots` would replace.
pub fn replaced(questions: &Questions, polls: &Polls, ballots: &[Ballot]) -> Replaced {
    let before = |ballot: &Ballot| {
        let participant = ballot.participant.clone();
        match &ballot.vote {
            Vote::Question { question, .. } => {
                let voters = questions.voters.get(question);
                let up = voters.is_some_and(|v| v.contains(&ballot.participant));
                Before::Question { question: *question, participant, up, any: voters.is_some() }
            }
            Vote::Poll { poll, .. } => {
                let ballots = polls.ballots.get(poll);
                let choice = ballots.and_then(|b| b.get(&ballot.participant)).cloned();
                Before::Poll { poll: poll.clone(), participant, choice, any: ballots.is_some() }
            }
        }
    };
    Replaced(ballots.iter().map(before).collect())
}

/// Puts back what a batch replaced, the counts with it.
pub fn restore(questions: &mut Questions, polls: &mut Polls, replaced: Replaced) {
    for before in replaced.0.into_iter().rev() {
        match before {
            Before::Question { question, participant, up, any } => {
                questions.record_vote(question, &participant, up);
                if !any {
                    questions.voters.remove(&question);
                }
            }
            Before::Poll { poll, participant, choice, any } => {
                match choice {
                    Some(choice) => {
                        polls.record_ballot(&poll, &participant, choice);
                    }
                    None => polls.remove_ballot(&poll, &participant),
                }
                if !any {
                    polls.ballots.remove(&poll);
                }
            }
        }
    }
}

/// Replays a stored batch: its ballots were checked when it was made.
pub fn replay(questions: &mut Questions, polls: &mut Polls, ballots: &[Ballot]) {
    for ballot in ballots {
        match &ballot.vote {
            Vote::Question { question, up } => {
                questions.record_vote(*question, &ballot.participant, *up);
            }
            Vote::Poll { poll, choices } => {
                let name = polls.get(poll).ok().filter(|p| !p.def.anonymous).map(|_| ballot.name.clone());
                polls.record_ballot(poll, &ballot.participant, Choice { choices: choices.clone(), name });
            }
        }
    }
}
