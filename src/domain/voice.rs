//! The audience's voice in the dispatcher: who may ask, moderate, define polls and vote, and
//! the changes each command makes to the questions, the polls and the queues.

use super::actor::{Actor, Role};
use super::change::Change;
use super::command::{forbidden, Command};
use super::live::Phase;
use super::polls::{parse_def, PollOp, PollState};
use super::questions::{parse_reason, parse_text, Ask, Board, ChairOp, Question, QuestionState};
use super::queue::{QueueOp, RequestKind, EVENT_QUEUE};
use super::rejection::Rejection;
use super::state::EventState;
use super::time::Millis;
use super::votes::{self, Ballot};

/// A queue entry's topic is shorter than a question: a longer one is cut with an ellipsis.
const PROMOTED_TOPIC_CHARS: usize = 139;

impl EventState {
    /// The question a booth's "highlight next" puts on screen: the first of the chair's order
    /// not on screen now.
    pub fn next_question(&self) -> Option<u64> {
        let board = &self.questions.board;
        board.order.iter().copied().find(|&q| Some(q) != board.highlighted)
    }

    /// The poll a booth's "open poll" opens: the first draft of the live segment, else the
    /// first draft of no segment.
    pub fn next_poll(&self) -> Option<&str> {
        let live = (self.live.phase == Phase::Live).then_some(self.live.segment).flatten();
        let live = live.map(|k| self.show.segments[k].id.as_str());
        let drafts = || self.polls.polls.iter().filter(|p| p.state == PollState::Draft);
        let of_live = drafts().find(|p| live.is_some() && p.def.segment.as_deref() == live);
        of_live.or_else(|| drafts().find(|p| p.def.segment.is_none())).map(|p| p.def.id.as_str())
    }

    /// The poll opened last of those open now.
    pub fn open_poll(&self) -> Option<&str> {
        let open = self.polls.polls.iter().filter(|p| p.state == PollState::Open);
        open.max_by_key(|p| p.opened_at).map(|p| p.def.id.as_str())
    }

    /// The changes of a question, poll or vote command; `None` for any other command.
    pub(super) fn voice(
        &mut self,
        command: &Command,
        actor: &Actor,
        now: Millis,
    ) -> Option<Result<Vec<Change>, Rejection>> {
        let chair_only = matches!(
            command,
            Command::QuestionApprove { .. }
                | Command::QuestionReject { .. }
                | Command::QuestionEdit { .. }
                | Command::QuestionStar { .. }
                | Command::QuestionMove { .. }
                | Command::QuestionHighlight { .. }
                | Command::QuestionAnswer { .. }
                | Command::QuestionPromote { .. }
                | Command::QuestionSettings { .. }
                | Command::PollDefine(_)
                | Command::PollOpen { .. }
                | Command::PollClose { .. }
                | Command::PollShow { .. }
        );
        let result = if chair_only && !actor.role.chairs() {
            Err(forbidden(actor, command, "only the moderator or organizer runs questions and polls"))
        } else {
            self.voice_changes(command, actor, now)?
        };
        Some(result.inspect(|changes| changes.iter().for_each(|change| self.evolve(change))))
    }

    fn voice_changes(&self, command: &Command, actor: &Actor, now: Millis) -> Option<Result<Vec<Change>, Rejection>> {
        let op = command.name().to_owned();
        let asked = |(question, board): (Question, Option<Board>)| {
            let mut changes = vec![Change::Question { op: op.clone(), question: Box::new(question) }];
            changes.extend(board.map(|board| Change::Board { op: op.clone(), board: Box::new(board) }));
            changes
        };
        Some(match command {
            Command::QuestionAsk { segment, text, lang, anonymous } => {
                self.ask(segment.as_deref(), text, *lang, *anonymous, actor, now).map(asked)
            }
            Command::QuestionWithdraw { question } => self.questions.withdraw(*question, actor, now).map(asked),
            Command::QuestionApprove { question } => self.chair_question(*question, ChairOp::Approve, &op, now),
            Command::QuestionReject { question, reason } => parse_reason(reason.as_deref())
                .and_then(|reason| self.chair_question(*question, ChairOp::Reject { reason }, &op, now)),
            Command::QuestionEdit { question, text } => {
                parse_text(text).and_then(|text| self.chair_question(*question, ChairOp::Edit { text }, &op, now))
            }
            Command::QuestionStar { question, starred } => {
                self.chair_question(*question, ChairOp::Star { starred: *starred }, &op, now)
            }
            Command::QuestionMove { question, to } => {
                self.chair_question(*question, ChairOp::Move { to: *to }, &op, now)
            }
            Command::QuestionHighlight { question: Some(question) } => {
                self.chair_question(*question, ChairOp::Highlight, &op, now)
            }
            Command::QuestionHighlight { question: None } => {
                self.questions.clear_highlight().map(|board| vec![Change::Board { op, board: Box::new(board) }])
            }
            Command::QuestionAnswer { question } => self.chair_question(*question, ChairOp::Answer, &op, now),
            Command::QuestionPromote { question } => self.promote(*question, &op, now),
            Command::QuestionSettings { segment, mode } => {
                if let Some(id) = segment.as_deref().filter(|id| self.show.segment_index(id).is_none()) {
                    return Some(Err(Rejection::InvalidField(format!("no segment has id {id:?}"))));
                }
                let key = segment.clone().unwrap_or_else(|| EVENT_QUEUE.to_owned());
                let mut board = self.questions.board.clone();
                board.modes.insert(key, *mode);
                Ok(vec![Change::Board { op, board: Box::new(board) }])
            }
            Command::PollDefine(def) => parse_def(def)
                .and_then(|def| self.check_segment(def.segment.as_deref()).map(|()| def))
                .and_then(|def| self.polls.define(def))
                .map(|poll| vec![Change::Poll { op, poll: Box::new(poll) }]),
            Command::PollOpen { poll } => self.poll_op(poll, PollOp::Open, op, now),
            Command::PollClose { poll } => self.poll_op(poll, PollOp::Close, op, now),
            Command::PollShow { poll, shown } => self.poll_op(poll, PollOp::Show { shown: *shown }, op, now),
            Command::QuestionVote { .. } | Command::PollVote { .. } => {
                let vote = command.vote()?;
                self.cast(&[Ballot::new(actor, "", vote)])
            }
            Command::Votes { ballots } => self.cast(ballots),
            _ => return None,
        })
    }

    fn check_segment(&self, segment: Option<&str>) -> Result<(), Rejection> {
        match segment {
            Some(id) if self.show.segment_index(id).is_none() => {
                Err(Rejection::InvalidField(format!("no segment has id {id:?}")))
            }
            _ => Ok(()),
        }
    }

    fn ask(
        &self,
        segment: Option<&str>,
        text: &str,
        lang: Option<super::text::Lang>,
        anonymous: bool,
        actor: &Actor,
        now: Millis,
    ) -> Result<(Question, Option<Board>), Rejection> {
        if !actor.role.may_request() {
            return Err(Rejection::Forbidden(format!("a {} may not ask questions", actor.role.as_str())));
        }
        self.check_segment(segment)?;
        let live = (self.live.phase == Phase::Live).then_some(self.live.segment).flatten();
        let segment = segment.map(str::to_owned).or_else(|| live.map(|k| self.show.segments[k].id.clone()));
        let ask = Ask {
            mode: self.qa_mode(segment.as_deref()),
            segment,
            text: parse_text(text)?,
            lang: lang.unwrap_or(actor.lang),
            anonymous,
        };
        self.questions.ask(ask, actor, now)
    }

    fn chair_question(&self, id: u64, op: ChairOp, name: &str, now: Millis) -> Result<Vec<Change>, Rejection> {
        let (question, board) = self.questions.chair(id, op, now)?;
        let mut changes: Vec<Change> =
            question.map(|q| Change::Question { op: name.to_owned(), question: Box::new(q) }).into_iter().collect();
        changes.extend(board.map(|board| Change::Board { op: name.to_owned(), board: Box::new(board) }));
        Ok(changes)
    }

    /// The asker is put in the queue of the question's segment (else the live one's, else
    /// the event's) with the question as their topic, and is called from there as usual.
    fn promote(&self, id: u64, op: &str, now: Millis) -> Result<Vec<Change>, Rejection> {
        let question = self.questions.get(id)?;
        let live = (self.live.phase == Phase::Live).then_some(self.live.segment).flatten();
        let name = question
            .segment
            .clone()
            .filter(|s| self.queues.contains_key(s))
            .or_else(|| live.map(|k| self.show.segments[k].id.clone()))
            .unwrap_or_else(|| EVENT_QUEUE.to_owned());
        let mut queue = self.queues.get(&name).cloned().ok_or_else(|| Rejection::InvalidState("no queue".into()))?;
        let asker = Actor {
            participant: question.participant.clone(),
            name: question.name.clone(),
            role: Role::Attendee,
            mode: question.mode,
            lang: question.lang,
            affiliation: question.affiliation.clone(),
            crew: Vec::new(),
        };
        let topic = match question.text.chars().count() > PROMOTED_TOPIC_CHARS {
            true => format!("{}…", question.text.chars().take(PROMOTED_TOPIC_CHARS - 1).collect::<String>()),
            false => question.text.clone(),
        };
        let (mut closed, board) = self.questions.close(question, QuestionState::Promoted, now)?;
        queue
            .apply(
                QueueOp::Request { kind: RequestKind::Speak, topic: Some(topic), side: None, speaker: None },
                &asker,
                now,
                &self.speaking.standing(now),
            )
            .map_err(|e| Rejection::InvalidState(format!("the asker cannot be put in the queue: {e}")))?;
        let entry = queue.waiting.iter().find(|e| e.participant == question.participant).map_or(0, |e| e.id);
        closed.promoted = Some(super::questions::Promoted { queue: name.clone(), entry });
        let mut changes = vec![Change::Question { op: op.to_owned(), question: Box::new(closed) }];
        changes.extend(board.map(|board| Change::Board { op: op.to_owned(), board: Box::new(board) }));
        let queue = Box::new(queue);
        changes.push(Change::Queue {
            op: op.to_owned(),
            queue: name,
            state: queue,
            closed: Vec::new(),
            speaking: None,
        });
        Ok(changes)
    }

    fn poll_op(&self, poll: &str, op: PollOp, name: String, now: Millis) -> Result<Vec<Change>, Rejection> {
        let poll = self.polls.operate(poll, op, now)?;
        Ok(vec![Change::Poll { op: name, poll: Box::new(poll) }])
    }

    /// One change for every ballot that holds; an error when none does (a single vote's own
    /// error, when it was one).
    fn cast(&self, ballots: &[Ballot]) -> Result<Vec<Change>, Rejection> {
        if let [single] = ballots {
            votes::check(&self.questions, &self.polls, single)?;
        }
        let (kept, question_tallies, poll_tallies) = votes::tally(&self.questions, &self.polls, ballots);
        if kept.is_empty() {
            return Err(Rejection::InvalidState("no vote of the batch holds".into()));
        }
        Ok(vec![Change::Votes { op: "votes".into(), ballots: kept, questions: question_tallies, polls: poll_tallies }])
    }
}
