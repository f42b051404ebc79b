//! Live polls: prepared in the plan or by the chair, opened, closed and reopened, one ballot
//! per participant (changeable while open), results shown to the audience live or after
//! closing, as the chair chooses; pure, no I/O. Ballots arrive in batches (`votes`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;
use super::text::{clean, Localized};
use super::time::Millis;

/// A poll's question, in each language.
pub const MAX_POLL_QUESTION_CHARS: usize = 280;
/// An option's text, in each language.
pub const MAX_OPTION_CHARS: usize = 100;
pub const MAX_OPTIONS: usize = 10;
/// Polls an event holds at most.
pub const MAX_POLLS: usize = 200;
const MAX_POLL_ID_CHARS: usize = 64;

/// When the audience sees a poll's results without the chair showing them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultsShown {
    /// While it is open.
    Live,
    /// Once it is closed.
    #[default]
    Closed,
    /// Only when the chair shows them.
    Chair,
}

/// A poll as the plan or the chair defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollDef {
    /// `poll` in frames (where `id` is the command's), `id` in event files too.
    #[serde(rename = "poll", alias = "id")]
    pub id: String,
    /// The segment it belongs to: the console offers it while that segment is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub question: Localized,
    pub options: Vec<Localized>,
    /// Several options may be chosen.
    #[serde(default)]
    pub multiple: bool,
    /// Who chose what is kept from the chairs and the exports; only the counts show.
    #[serde(default = "yes")]
    pub anonymous: bool,
    #[serde(default)]
    pub results: ResultsShown,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollState {
    Draft,
    Open,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    #[serde(flatten)]
    pub def: PollDef,
    pub state: PollState,
    /// The audience sees the counts.
    pub shown: bool,
    /// Ballots for each option.
    pub counts: Vec<u32>,
    /// Participants with a ballot.
    pub voters: u32,
    pub opened_at: Option<Millis>,
    pub closed_at: Option<Millis>,
}

/// One participant's ballot: the options chosen, and their name for a named poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub choices: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Every poll of the event, in the order they were defined, and every ballot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Polls {
    pub polls: Vec<Poll>,
    /// By poll id, then participant; never sent to clients as such.
    pub ballots: BTreeMap<String, BTreeMap<String, Choice>>,
}

/// A chair's operation on a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOp {
    Open,
    Close,
    Show { shown: bool },
}

fn invalid(message: &str) -> Rejection {
    Rejection::InvalidState(message.to_owned())
}

fn field(message: String) -> Rejection {
    Rejection::InvalidField(message)
}

/// Cleans every language of a text under the one text policy.
fn clean_localized(text: &Localized, max: usize, what: &str) -> Result<Localized, Rejection> {
    let one = |s: &str| clean(s, max).map_err(|e| field(format!("{what} {e}")));
    Ok(Localized { zh: one(&text.zh)?, ja: one(&text.ja)?, en: one(&text.en)? })
}

/// Checks and cleans a poll's definition.
pub fn parse_def(def: &PollDef) -> Result<PollDef, Rejection> {
    let id_ok = !def.id.is_empty()
        && def.id.chars().count() <= MAX_POLL_ID_CHARS
        && def.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(field(format!("a poll id is 1-{MAX_POLL_ID_CHARS} of a-z, 0-9, '-' and '_'")));
    }
    if !(2..=MAX_OPTIONS).contains(&def.options.len()) {
        return Err(field(format!("a poll has 2 to {MAX_OPTIONS} options")));
    }
    let options =
        def.options.iter().map(|o| clean_localized(o, MAX_OPTION_CHARS, "option")).collect::<Result<Vec<_>, _>>()?;
    let question = clean_localized(&def.question, MAX_POLL_QUESTION_CHARS, "question")?;
    Ok(PollDef { question, options, ..def.clone() })
}

/// A plan's polls: each well formed, ids unique. A poll whose segment left the plan
/// (`has_segment` says which are in it) stays, for the whole event.
pub fn checked_polls(polls: &[PollDef], has_segment: impl Fn(&str) -> bool) -> Result<Vec<PollDef>, Rejection> {
    if polls.len() > MAX_POLLS {
        return Err(field(format!("a plan holds at most {MAX_POLLS} polls")));
    }
    let mut ids = std::collections::HashSet::new();
    polls
        .iter()
        .map(|def| {
            let mut def = parse_def(def).map_err(|e| field(format!("poll {:?}: {e}", def.id)))?;
            if !ids.insert(def.id.clone()) {
                return Err(field(format!("two polls have the id {:?}", def.id)));
            }
            def.segment = def.segment.filter(|s| has_segment(s));
            Ok(def)
        })
        .collect()
}

impl Poll {
    pub fn draft(def: PollDef) -> Self {
        let counts = vec![0; def.options.len()];
        Poll { def, state: PollState::Draft, shown: false, counts, voters: 0, opened_at: None, closed_at: None }
    }
}

impl Polls {
    pub fn get(&self, id: &str) -> Result<&Poll, Rejection> {
        self.polls.iter().find(|p| p.def.id == id).ok_or_else(|| field(format!("no poll named {id:?}")))
    }

    /// A new poll, as a draft.
    pub fn define(&self, def: PollDef) -> Result<Poll, Rejection> {
        if self.polls.iter().any(|p| p.def.id == def.id) {
            return Err(invalid("a poll with this id exists"));
        }
        if self.polls.len() >= MAX_POLLS {
            return Err(invalid("the event holds as many polls as it can"));
        }
        Ok(Poll::draft(def))
    }

    /// Opening a closed poll reopens it: its ballots stand and may be changed again.
    pub fn operate(&self, id: &str, op: PollOp, now: Millis) -> Result<Poll, Rejection> {
        let mut poll = self.get(id)?.clone();
        match op {
            PollOp::Open => {
                if poll.state == PollState::Open {
                    return Err(invalid("the poll is open already"));
                }
                poll.state = PollState::Open;
                poll.opened_at = Some(now);
                poll.closed_at = None;
                poll.shown = poll.def.results == ResultsShown::Live;
            }
            PollOp::Close => {
                if poll.state != PollState::Open {
                    return Err(invalid("the poll is not open"));
                }
                poll.state = PollState::Closed;
                poll.closed_at = Some(now);
                poll.shown = poll.shown || poll.def.results == ResultsShown::Closed;
            }
            PollOp::Show { shown } => {
                if poll.shown == shown {
                    return Err(invalid(if shown {
                        "the results are shown already"
                    } else {
                        "the results are hidden"
                    }));
                }
                if poll.state == PollState::Draft {
                    return Err(invalid("a poll not yet opened has no results"));
                }
                poll.shown = shown;
            }
        }
        Ok(poll)
    }

    /// Whether `choices` is a ballot poll `id` takes now.
    pub fn check_ballot(&self, id: &str, choices: &[usize]) -> Result<(), Rejection> {
        let poll = self.get(id)?;
        if poll.state != PollState::Open {
            return Err(invalid("the poll is not open"));
        }
        if choices.is_empty() {
            return Err(field("choose at least one option".into()));
        }
        if !poll.def.multiple && choices.len() > 1 {
            return Err(field("this poll takes one option".into()));
        }
        if let Some(bad) = choices.iter().find(|&&c| c >= poll.def.options.len()) {
            return Err(field(format!("the poll has no option {bad}")));
        }
        if choices.iter().enumerate().any(|(k, c)| choices[..k].contains(c)) {
            return Err(field("an option is chosen twice".into()));
        }
        Ok(())
    }

    /// Records a ballot already checked (it replaces the participant's earlier one); returns
    /// the poll's new counts and voters.
    pub fn record_ballot(&mut self, id: &str, participant: &str, choice: Choice) -> (Vec<u32>, u32) {
        let ballots = self.ballots.entry(id.to_owned()).or_default();
        let Some(poll) = self.polls.iter_mut().find(|p| p.def.id == id) else { return (Vec::new(), 0) };
        // Counted as ballots come and go, not over every ballot each time: a poll of ten
        // thousand would otherwise cost ten thousand steps a vote.
        let added = choice.choices.clone();
        if let Some(earlier) = ballots.insert(participant.to_owned(), choice) {
            for c in earlier.choices {
                if let Some(count) = poll.counts.get_mut(c) {
                    *count = count.saturating_sub(1);
                }
            }
        }
        for c in added {
            if let Some(count) = poll.counts.get_mut(c) {
                *count += 1;
            }
        }
        poll.voters = u32::try_from(ballots.len()).unwrap_or(u32::MAX);
        (poll.counts.clone(), poll.voters)
    }

    /// Takes a participant's ballot back out of its poll's counts.
    pub fn remove_ballot(&mut self, id: &str, participant: &str) {
        let Some(ballots) = self.ballots.get_mut(id) else { return };
        let Some(poll) = self.polls.iter_mut().find(|p| p.def.id == id) else { return };
        if let Some(earlier) = ballots.remove(participant) {
            for c in earlier.choices {
                if let Some(count) = poll.counts.get_mut(c) {
                    *count = count.saturating_sub(1);
                }
            }
        }
        poll.voters = u32::try_from(ballots.len()).unwrap_or(u32::MAX);
    }

    /// Records a poll as a change carries it; its counts stay the ballots'.
    pub fn record(&mut self, poll: &Poll) {
        let mut poll = poll.clone();
        if let Some(old) = self.polls.iter_mut().find(|p| p.def.id == poll.def.id) {
            poll.counts = old.counts.clone();
            poll.voters = old.voters;
            *old = poll;
        } else {
            self.polls.push(poll);
        }
    }

    /// The plan's polls as drafts: a plan edit adds them, and changes those not opened yet;
    /// it never removes one, since a poll may have ballots.
    pub fn add_planned(&mut self, planned: &[PollDef]) {
        for def in planned {
            match self.polls.iter_mut().find(|p| p.def.id == def.id) {
                None => self.polls.push(Poll::draft(def.clone())),
                // A plan edit changes a poll that has not been opened yet; one that has keeps
                // what its voters saw.
                Some(poll) if poll.state == PollState::Draft => *poll = Poll::draft(def.clone()),
                Some(_) => {}
            }
        }
    }

    /// The ballots of `participant`, by poll.
    pub fn ballots_of(&self, participant: &str) -> BTreeMap<&str, &[usize]> {
        self.ballots
            .iter()
            .filter_map(|(poll, ballots)| ballots.get(participant).map(|b| (poll.as_str(), b.choices.as_slice())))
            .collect()
    }
}
