//! Votes, for questions and in polls, counted like presence rather than like chat: the hub
//! gathers the votes of a short window into one batch, applied here as one change that
//! carries every ballot (for the log, replay and retries) and the new counts (for clients).

use serde::{Deserialize, Serialize};

use super::actor::{Actor, Role};
use super::polls::{Choice, Polls};
use super::questions::Questions;
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

/// Applies the ballots that still hold, in order, and returns them with the new counts of
/// what they touched. Each is checked against the state the ones before it left.
pub fn cast(
    questions: &mut Questions,
    polls: &mut Polls,
    ballots: &[Ballot],
) -> (Vec<Ballot>, Vec<QuestionTally>, Vec<PollTally>) {
    let mut kept = Vec::with_capacity(ballots.len());
    let (mut question_tallies, mut poll_tallies): (Vec<QuestionTally>, Vec<PollTally>) = (Vec::new(), Vec::new());
    for ballot in ballots {
        if check(questions, polls, ballot).is_err() {
            continue;
        }
        match record(questions, polls, ballot) {
            Tally::Question(tally) => {
                question_tallies.retain(|t| t.question != tally.question);
                question_tallies.push(tally);
            }
            Tally::Poll(tally) => {
                poll_tallies.retain(|t| t.poll != tally.poll);
                poll_tallies.push(tally);
            }
        }
        kept.push(ballot.clone());
    }
    (kept, question_tallies, poll_tallies)
}

/// Replays a stored batch: its ballots were checked when it was made.
pub fn replay(questions: &mut Questions, polls: &mut Polls, ballots: &[Ballot]) {
    for ballot in ballots {
        record(questions, polls, ballot);
    }
}

enum Tally {
    Question(QuestionTally),
    Poll(PollTally),
}

fn record(questions: &mut Questions, polls: &mut Polls, ballot: &Ballot) -> Tally {
    match &ballot.vote {
        Vote::Question { question, up } => {
            let votes = questions.record_vote(*question, &ballot.participant, *up);
            Tally::Question(QuestionTally { question: *question, votes })
        }
        Vote::Poll { poll, choices } => {
            let name = polls.get(poll).ok().filter(|p| !p.def.anonymous).map(|_| ballot.name.clone());
            let (counts, voters) =
                polls.record_ballot(poll, &ballot.participant, Choice { choices: choices.clone(), name });
            let shown = polls.get(poll).is_ok_and(|p| p.shown);
            Tally::Poll(PollTally { poll: poll.clone(), counts, voters, shown })
        }
    }
}
