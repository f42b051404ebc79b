//! Written questions from the audience (Q&A): asked to a segment, moderated or not, upvoted,
//! starred, put in order, highlighted, answered, or turned into a spoken request; pure, no
//! I/O. Who voted for what is the board's; votes arrive in batches (`votes`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::rejection::Rejection;
use super::text::{clean, clean_optional, Lang, Mode};
use super::time::Millis;

/// A question's text, counted in characters after the text policy.
pub const MAX_QUESTION_CHARS: usize = 280;
/// A rejection's reason, for the asker only.
pub const MAX_REASON_CHARS: usize = 140;
/// Questions an event holds at most, answered and rejected ones included: a bound on memory
/// and on every welcome's size.
pub const MAX_QUESTIONS: usize = 2000;
/// Questions one participant may have waiting for moderation or for an answer at once.
pub const MAX_OPEN_PER_PARTICIPANT: usize = 3;
/// One question per participant per this long.
pub const ASK_INTERVAL_MS: Millis = 10_000;

/// How a segment (or the whole event) takes written questions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QaMode {
    /// No questions are taken.
    #[default]
    Off,
    /// Questions show to everyone at once.
    Open,
    /// Questions reach the chairs first, who approve or reject them.
    Moderated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionState {
    /// Waiting for a chair, under moderation: only the chairs and the asker see it.
    Pending,
    /// Shown to everyone, open for votes.
    Approved,
    Answered,
    /// Turned into a spoken request: the asker asks it aloud from the queue.
    Promoted,
    /// Refused by a chair: only the chairs and the asker see it, with the reason.
    Rejected,
    Withdrawn,
}

impl QuestionState {
    fn is_open(self) -> bool {
        matches!(self, QuestionState::Pending | QuestionState::Approved)
    }
}

/// Where a question turned into a spoken request went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promoted {
    pub queue: String,
    pub entry: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: u64,
    /// The segment it is asked to; none for the event as a whole.
    pub segment: Option<String>,
    pub participant: String,
    pub name: String,
    pub affiliation: Option<String>,
    pub mode: Mode,
    /// The language it is written in.
    pub lang: Lang,
    pub text: String,
    /// Shown without its asker's name to everyone but the chairs and the asker.
    pub anonymous: bool,
    pub state: QuestionState,
    /// Why a chair rejected it; the asker's only.
    pub reason: Option<String>,
    /// A chair corrected its text.
    pub edited: bool,
    pub starred: bool,
    pub votes: u32,
    pub asked_at: Millis,
    /// When it was answered, promoted, rejected or withdrawn.
    pub closed_at: Option<Millis>,
    pub promoted: Option<Promoted>,
}

/// What the chairs arrange on the board: the order of the approved questions, the one on
/// screen now, and how each segment takes questions when the chair changed it live.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// Approved questions still open, in the chair's order: new ones go last.
    pub order: Vec<u64>,
    /// The question on screen now: the stage screen, the hall display, the attendee pages.
    pub highlighted: Option<u64>,
    /// The chair's live settings, by segment id (the event's under `"event"`); they win over
    /// the plan's.
    pub modes: BTreeMap<String, QaMode>,
}

/// Every question of the event and who voted for which.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Questions {
    pub board: Board,
    pub items: BTreeMap<u64, Question>,
    /// Participants who voted for each question; never sent to clients.
    pub voters: BTreeMap<u64, BTreeSet<String>>,
    pub next_id: u64,
}

/// A question asked, checked and cleaned.
pub struct Ask {
    pub segment: Option<String>,
    pub mode: QaMode,
    pub text: String,
    pub lang: Lang,
    pub anonymous: bool,
}

/// A chair's operation on one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChairOp {
    Approve,
    Reject { reason: Option<String> },
    Edit { text: String },
    Star { starred: bool },
    Move { to: usize },
    Highlight,
    Answer,
}

fn invalid(message: &str) -> Rejection {
    Rejection::InvalidState(message.to_owned())
}

/// Cleans a question's text under the one text policy.
pub fn parse_text(text: &str) -> Result<String, Rejection> {
    clean(text, MAX_QUESTION_CHARS).map_err(|e| Rejection::InvalidField(format!("text {e}")))
}

/// Cleans a rejection's reason; an empty one counts as none.
pub fn parse_reason(reason: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(reason) = reason else { return Ok(None) };
    clean_optional(reason, MAX_REASON_CHARS).map_err(|e| Rejection::InvalidField(format!("reason {e}")))
}

impl Questions {
    pub fn get(&self, id: u64) -> Result<&Question, Rejection> {
        self.items.get(&id).ok_or_else(|| Rejection::InvalidField(format!("no question {id}")))
    }

    /// A new question from `actor`, pending under moderation, else approved and last in the
    /// chair's order. Returns the question and, when approved, the board.
    pub fn ask(&self, ask: Ask, actor: &Actor, now: Millis) -> Result<(Question, Option<Board>), Rejection> {
        if ask.mode == QaMode::Off {
            return Err(invalid("questions are not open for this segment"));
        }
        if self.items.len() >= MAX_QUESTIONS {
            return Err(invalid("the event holds as many questions as it can"));
        }
        let mine = self.items.values().filter(|q| q.participant == actor.participant);
        if mine.clone().any(|q| now - q.asked_at < ASK_INTERVAL_MS) {
            return Err(Rejection::RateLimited(format!(
                "one question every {} seconds; wait a moment",
                ASK_INTERVAL_MS / 1000
            )));
        }
        if mine.filter(|q| q.state.is_open()).count() >= MAX_OPEN_PER_PARTICIPANT {
            return Err(invalid("you have 3 open questions; wait for an answer or withdraw one"));
        }
        let approved = ask.mode == QaMode::Open;
        let question = Question {
            id: self.next_id + 1,
            segment: ask.segment,
            participant: actor.participant.clone(),
            name: actor.name.clone(),
            affiliation: actor.affiliation.clone(),
            mode: actor.mode,
            lang: ask.lang,
            text: ask.text,
            anonymous: ask.anonymous,
            state: if approved { QuestionState::Approved } else { QuestionState::Pending },
            reason: None,
            edited: false,
            starred: false,
            votes: 0,
            asked_at: now,
            closed_at: None,
            promoted: None,
        };
        let board = approved.then(|| {
            let mut board = self.board.clone();
            board.order.push(question.id);
            board
        });
        Ok((question, board))
    }

    /// The asker takes back a question still open.
    pub fn withdraw(&self, id: u64, actor: &Actor, now: Millis) -> Result<(Question, Option<Board>), Rejection> {
        let question = self.get(id)?;
        if question.participant != actor.participant {
            return Err(Rejection::Forbidden("only its asker withdraws a question".into()));
        }
        self.close(question, QuestionState::Withdrawn, now)
    }

    /// A chair's operation; returns the question (when it changed) and the board (when
    /// that changed).
    pub fn chair(&self, id: u64, op: ChairOp, now: Millis) -> Result<(Option<Question>, Option<Board>), Rejection> {
        let question = self.get(id)?;
        let mut changed = question.clone();
        let mut board = self.board.clone();
        match op {
            ChairOp::Approve => {
                if question.state != QuestionState::Pending {
                    return Err(invalid("only a question waiting for moderation can be approved"));
                }
                changed.state = QuestionState::Approved;
                board.order.push(id);
            }
            ChairOp::Reject { reason } => {
                let (mut closed, board) = self.close(question, QuestionState::Rejected, now)?;
                closed.reason = reason;
                return Ok((Some(closed), board));
            }
            ChairOp::Edit { text } => {
                if !question.state.is_open() {
                    return Err(invalid("only an open question can be edited"));
                }
                if text == question.text {
                    return Err(invalid("the text is unchanged"));
                }
                changed.text = text;
                changed.edited = true;
            }
            ChairOp::Star { starred } => {
                if !question.state.is_open() {
                    return Err(invalid("only an open question can be starred"));
                }
                changed.starred = starred;
            }
            ChairOp::Move { to } => {
                let from =
                    board.order.iter().position(|&q| q == id).ok_or_else(|| {
                        invalid("only an approved question still open has a place in the chair's order")
                    })?;
                board.order.remove(from);
                board.order.insert(to.min(board.order.len()), id);
                return Ok((None, Some(board)));
            }
            ChairOp::Highlight => {
                if question.state != QuestionState::Approved {
                    return Err(invalid("only an approved question can go on screen"));
                }
                if board.highlighted == Some(id) {
                    return Err(invalid("this question is on screen already"));
                }
                board.highlighted = Some(id);
                return Ok((None, Some(board)));
            }
            ChairOp::Answer => {
                if question.state != QuestionState::Approved {
                    return Err(invalid("only an approved question can be marked answered"));
                }
                return self.close(question, QuestionState::Answered, now).map(|(q, b)| (Some(q), b));
            }
        }
        let board = (board != self.board).then_some(board);
        Ok((Some(changed), board))
    }

    /// Takes the highlighted question off screen.
    pub fn clear_highlight(&self) -> Result<Board, Rejection> {
        if self.board.highlighted.is_none() {
            return Err(invalid("no question is on screen"));
        }
        Ok(Board { highlighted: None, ..self.board.clone() })
    }

    /// Closes an open question as `state`: it leaves the chair's order and the screen.
    pub fn close(
        &self,
        question: &Question,
        state: QuestionState,
        now: Millis,
    ) -> Result<(Question, Option<Board>), Rejection> {
        if !question.state.is_open() {
            return Err(invalid("the question is no longer open"));
        }
        let mut closed = question.clone();
        closed.state = state;
        closed.closed_at = Some(now);
        let mut board = self.board.clone();
        board.order.retain(|&q| q != question.id);
        if board.highlighted == Some(question.id) {
            board.highlighted = None;
        }
        let board = (board != self.board).then_some(board);
        Ok((closed, board))
    }

    /// Whether `participant` may vote `up` (or take back a vote) for question `id`.
    pub fn check_vote(&self, id: u64, participant: &str, up: bool) -> Result<(), Rejection> {
        if self.get(id)?.state != QuestionState::Approved {
            return Err(invalid("only an approved, open question takes votes"));
        }
        let voted = self.voters.get(&id).is_some_and(|v| v.contains(participant));
        match (up, voted) {
            (true, true) => Err(invalid("you voted for this question already")),
            (false, false) => Err(invalid("you have not voted for this question")),
            _ => Ok(()),
        }
    }

    /// Records a vote already checked; returns the question's new count.
    pub fn record_vote(&mut self, id: u64, participant: &str, up: bool) -> u32 {
        let voters = self.voters.entry(id).or_default();
        if up {
            voters.insert(participant.to_owned());
        } else {
            voters.remove(participant);
        }
        let votes = u32::try_from(voters.len()).unwrap_or(u32::MAX);
        if let Some(question) = self.items.get_mut(&id) {
            question.votes = votes;
        }
        votes
    }

    /// The questions `participant` voted for.
    pub fn voted_by(&self, participant: &str) -> Vec<u64> {
        self.voters.iter().filter(|(_, v)| v.contains(participant)).map(|(&id, _)| id).collect()
    }

    /// Records a question as a change carries it.
    pub fn record(&mut self, question: &Question) {
        self.next_id = self.next_id.max(question.id);
        let mut question = question.clone();
        // The count is the voters', which only votes move: a question change never resets it.
        question.votes = self.voters.get(&question.id).map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.items.insert(question.id, question);
    }
}
