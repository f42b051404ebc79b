//! How one connection sees the audience's voice: the questions it may see (all for the
//! chair; approved ones, and its own, for everyone else; an anonymous asker's name for the
//! chair and the asker only), the polls (drafts for the chair; counts once shown), and the
//! batched vote counts. Who voted for what never leaves the server.

use std::collections::BTreeMap;

use serde::Serialize;

use super::tagger::Tagger;
use crate::domain::polls::{Poll, PollState, ResultsShown};
use crate::domain::questions::{Board, Promoted, Question, QuestionState, Questions};
use crate::domain::text::{Lang, Localized, Mode};
use crate::domain::votes::PollTally;
use crate::domain::{EventState, Millis};

#[derive(Serialize)]
#[serde(untagged)]
pub enum QuestionView<'a> {
    Full(Box<FullQuestion<'a>>),
    /// A question that left the public's view (rejected, withdrawn): only what removes it.
    Gone {
        id: u64,
        state: QuestionState,
    },
}

#[derive(Serialize)]
pub struct FullQuestion<'a> {
    id: u64,
    segment: Option<&'a str>,
    /// The asker's public tag; null when anonymous to this viewer.
    who: Option<String>,
    name: Option<&'a str>,
    affiliation: Option<&'a str>,
    mode: Mode,
    lang: Lang,
    text: &'a str,
    anonymous: bool,
    state: QuestionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    edited: bool,
    starred: bool,
    votes: u32,
    asked_at: Millis,
    closed_at: Option<Millis>,
    promoted: Option<&'a Promoted>,
}

#[derive(Serialize)]
pub struct QuestionsView<'a> {
    board: &'a Board,
    items: Vec<QuestionView<'a>>,
    /// The questions this participant voted for.
    voted: Vec<u64>,
}

#[derive(Serialize)]
pub struct PollView<'a> {
    id: &'a str,
    segment: Option<&'a str>,
    question: &'a Localized,
    options: &'a [Localized],
    multiple: bool,
    anonymous: bool,
    results: ResultsShown,
    state: PollState,
    shown: bool,
    /// Null while the results are hidden from this viewer.
    counts: Option<&'a [u32]>,
    voters: u32,
    opened_at: Option<Millis>,
    closed_at: Option<Millis>,
}

#[derive(Serialize)]
pub struct PollsView<'a> {
    polls: Vec<PollView<'a>>,
    /// This participant's ballots, by poll.
    mine: BTreeMap<&'a str, &'a [usize]>,
}

#[derive(Serialize)]
pub struct PollCountView<'a> {
    poll: &'a str,
    counts: Option<&'a [u32]>,
    voters: u32,
}

/// Who looks, as far as the audience's voice goes.
#[derive(Clone, Copy)]
pub struct Viewer<'a> {
    pub chair: bool,
    /// The viewer's participant, when the view is theirs alone.
    pub me: Option<&'a str>,
    pub tagger: &'a Tagger,
}

impl<'a> Viewer<'a> {
    fn chair(self) -> bool {
        self.chair
    }

    /// How this viewer sees `question`; `None` when it is not to see it at all.
    pub fn question(self, question: &'a Question) -> Option<QuestionView<'a>> {
        let own = self.me.is_some_and(|me| me == question.participant);
        let insider = self.chair() || own;
        match question.state {
            QuestionState::Pending if !insider => return None,
            QuestionState::Rejected | QuestionState::Withdrawn if !insider => {
                return Some(QuestionView::Gone { id: question.id, state: question.state })
            }
            _ => {}
        }
        let named = insider || !question.anonymous;
        Some(QuestionView::Full(Box::new(FullQuestion {
            id: question.id,
            segment: question.segment.as_deref(),
            who: named.then(|| self.tagger.who(&question.participant)),
            name: named.then_some(question.name.as_str()),
            affiliation: question.affiliation.as_deref().filter(|_| named),
            mode: question.mode,
            lang: question.lang,
            text: &question.text,
            anonymous: question.anonymous,
            state: question.state,
            reason: question.reason.as_deref().filter(|_| insider),
            edited: question.edited,
            starred: question.starred,
            votes: question.votes,
            asked_at: question.asked_at,
            closed_at: question.closed_at,
            promoted: question.promoted.as_ref(),
        })))
    }

    pub fn questions(self, questions: &'a Questions) -> QuestionsView<'a> {
        QuestionsView {
            board: &questions.board,
            items: questions.items.values().filter_map(|q| self.question(q)).collect(),
            voted: self.me.map(|me| questions.voted_by(me)).unwrap_or_default(),
        }
    }

    fn counts_seen(self, poll: &Poll) -> bool {
        self.chair() || poll.shown
    }

    /// How this viewer sees `poll`; `None` for a draft, which only the chair sees.
    pub fn poll(self, poll: &'a Poll) -> Option<PollView<'a>> {
        if poll.state == PollState::Draft && !self.chair() {
            return None;
        }
        Some(PollView {
            id: &poll.def.id,
            segment: poll.def.segment.as_deref(),
            question: &poll.def.question,
            options: &poll.def.options,
            multiple: poll.def.multiple,
            anonymous: poll.def.anonymous,
            results: poll.def.results,
            state: poll.state,
            shown: poll.shown,
            counts: self.counts_seen(poll).then_some(poll.counts.as_slice()),
            voters: poll.voters,
            opened_at: poll.opened_at,
            closed_at: poll.closed_at,
        })
    }

    pub fn polls(self, state: &'a EventState) -> PollsView<'a> {
        PollsView {
            polls: state.polls.polls.iter().filter_map(|p| self.poll(p)).collect(),
            mine: self.me.map(|me| state.polls.ballots_of(me)).unwrap_or_default(),
        }
    }

    /// A batch's poll counts as this viewer sees them: hidden counts go out as null, so the
    /// number of voters still moves.
    pub fn poll_counts(self, tallies: &'a [PollTally]) -> Vec<PollCountView<'a>> {
        let count = |t: &'a PollTally| PollCountView {
            poll: &t.poll,
            counts: (self.chair() || t.shown).then_some(t.counts.as_slice()),
            voters: t.voters,
        };
        tallies.iter().map(count).collect()
    }
}
