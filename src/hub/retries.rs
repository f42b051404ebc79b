//! Recent commands' outcomes by sender and command id, so that a command re-sent with the
//! same id (after a lost connection, or a restart) is answered with its first outcome
//! instead of being applied again. Bounded in time and in count.

use std::collections::{HashMap, VecDeque};

use crate::domain::Millis;
use crate::protocol::FrameError;
use crate::store::{Applied, AtMost};

/// How long a command's outcome is remembered for its retries.
pub const RETRY_WINDOW_MS: Millis = 10 * 60_000;
/// Commands' outcomes remembered at most per event; the oldest go first.
pub const MAX_REMEMBERED: usize = 10_000;
/// Votes' outcomes remembered at most per event, apart from the commands': ten thousand
/// attendees voting on a poll and some questions must not push a chair's `next` out.
pub const MAX_REMEMBERED_VOTES: usize = 100_000;
/// What an event's load gives back for retries.
pub const REMEMBERED: AtMost = AtMost { commands: MAX_REMEMBERED, votes: MAX_REMEMBERED_VOTES };

/// What a command got the first time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ack { seq: u64, warning: Option<String> },
    Rejected(FrameError),
}

/// (participant, command id): ids are the sender's own, so two senders may use the same.
type Key = (String, String);

#[derive(Default)]
pub struct Retries {
    outcomes: HashMap<Key, Outcome>,
    /// When each command was answered, oldest first.
    order: VecDeque<(Millis, Key)>,
    /// When each vote was answered, oldest first.
    votes: VecDeque<(Millis, Key)>,
}

impl Retries {
    /// Outcomes of the commands the log holds, as if they had just been answered.
    pub fn from_log(applied: Vec<Applied>) -> Self {
        let mut retries = Retries::default();
        for a in applied {
            retries.remember_applied(&a, Outcome::Ack { seq: a.seq, warning: None });
        }
        retries
    }

    /// Remembers a command or a vote that the log holds.
    pub fn remember_applied(&mut self, applied: &Applied, outcome: Outcome) {
        match applied.vote {
            true => self.remember_vote(&applied.participant, &applied.command, outcome, applied.at),
            false => self.remember(&applied.participant, &applied.command, outcome, applied.at),
        }
    }

    /// The first outcome of `command` from `participant`, if it came within the window.
    pub fn get(&mut self, participant: &str, command: &str, now: Millis) -> Option<&Outcome> {
        self.expire(now);
        self.outcomes.get(&(participant.to_owned(), command.to_owned()))
    }

    pub fn remember(&mut self, participant: &str, command: &str, outcome: Outcome, now: Millis) {
        self.keep(participant, command, outcome, now, false);
    }

    pub fn remember_vote(&mut self, participant: &str, command: &str, outcome: Outcome, now: Millis) {
        self.keep(participant, command, outcome, now, true);
    }

    fn keep(&mut self, participant: &str, command: &str, outcome: Outcome, now: Millis, vote: bool) {
        self.expire(now);
        let key = (participant.to_owned(), command.to_owned());
        let (order, most) = match vote {
            true => (&mut self.votes, MAX_REMEMBERED_VOTES),
            false => (&mut self.order, MAX_REMEMBERED),
        };
        if self.outcomes.insert(key.clone(), outcome).is_none() {
            order.push_back((now, key));
        }
        while order.len() > most {
            if let Some((_, oldest)) = order.pop_front() {
                self.outcomes.remove(&oldest);
            }
        }
    }

    /// Forgets an outcome that did not hold: its batch could not be stored.
    pub fn forget(&mut self, participant: &str, command: &str) {
        let key = (participant.to_owned(), command.to_owned());
        if self.outcomes.remove(&key).is_some() {
            self.order.retain(|(_, k)| *k != key);
            self.votes.retain(|(_, k)| *k != key);
        }
    }

    fn expire(&mut self, now: Millis) {
        for order in [&mut self.order, &mut self.votes] {
            while order.front().is_some_and(|(at, _)| now - at > RETRY_WINDOW_MS) {
                if let Some((_, key)) = order.pop_front() {
                    self.outcomes.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn ack(seq: u64) -> Outcome {
        Outcome::Ack { seq, warning: None }
    }

    #[test]
    fn a_retry_within_the_window_gets_the_first_outcome() {
        let mut retries = Retries::default();
        retries.remember("p1", "c1", ack(7), 1_000);
        assert_eq!(retries.get("p1", "c1", 1_000 + RETRY_WINDOW_MS), Some(&ack(7)));
        assert_eq!(retries.get("p2", "c1", 2_000), None, "another sender's c1 is another command");
        assert_eq!(retries.get("p1", "c1", 1_001 + RETRY_WINDOW_MS), None, "forgotten after the window");
    }

    #[test]
    fn rejections_are_remembered_and_forgotten_outcomes_are_gone() {
        let mut retries = Retries::default();
        let conflict = Outcome::Rejected(FrameError::new(ErrorCode::Conflict, "moved on"));
        retries.remember("p1", "c1", conflict.clone(), 0);
        assert_eq!(retries.get("p1", "c1", 1), Some(&conflict));
        retries.remember("p1", "c2", ack(3), 1);
        retries.forget("p1", "c2");
        assert_eq!(retries.get("p1", "c2", 2), None);
    }

    #[test]
    fn the_log_gives_the_outcomes_back_after_a_restart_and_the_count_is_bounded() {
        let applied = (0..MAX_REMEMBERED as u64 + 5)
            .map(|k| Applied { participant: "p".into(), command: format!("c{k}"), seq: k + 1, at: 0, vote: false })
            .collect();
        let mut retries = Retries::from_log(applied);
        assert_eq!(retries.get("p", "c4", 0), None, "the oldest beyond the bound are forgotten");
        assert_eq!(retries.get("p", "c5", 0), Some(&ack(6)));
    }

    #[test]
    fn a_flood_of_votes_never_pushes_a_command_out() {
        let mut retries = Retries::default();
        retries.remember("chair", "next-1", ack(1), 0);
        for k in 0..MAX_REMEMBERED_VOTES as u64 + 5 {
            retries.remember_vote(&format!("p{k}"), "v", ack(k + 2), 1);
        }
        assert_eq!(retries.get("chair", "next-1", 2), Some(&ack(1)), "the chair's retry is answered");
        assert_eq!(retries.get("p4", "v", 2), None, "the oldest votes beyond their bound are forgotten");
        assert_eq!(retries.get("p5", "v", 2), Some(&ack(7)));
        let logged = Applied { participant: "p0".into(), command: "v".into(), seq: 2, at: 1, vote: true };
        let mut restarted = Retries::from_log(vec![logged]);
        assert_eq!(restarted.get("p0", "v", 2), Some(&ack(2)), "a vote from the log is a vote");
        assert_eq!(restarted.votes.len(), 1);
    }
}
