//! Who has spoken how long: each person's and each side's floor time across the event's
//! segments, kept as closed totals plus the turns that hold the floor now, from the turns
//! the state shows after every command. Pure; it knows turns, not queues or the show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::show::RunOfShow;
use super::text::Localized;
use super::time::Millis;

/// Whose floor time it is: a programme speaker's (by their id in the plan), or that of
/// someone called from a queue (by participant).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Person {
    Speaker(String),
    Participant(String),
}

/// A turn on the floor as the state shows it at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// Names the turn, so that the same turn seen again (after a hold, or with its side
    /// corrected) is not counted again.
    pub id: String,
    pub person: Person,
    pub name: Localized,
    pub side: Option<String>,
    /// The segment it belongs to (its queue's name for a queue turn, so `"event"` for the
    /// event's queue).
    pub segment: String,
}

/// Floor time and turns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tally {
    pub spoken_ms: Millis,
    pub turns: u32,
}

/// One person's closed floor time, and their turns including one that runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonTally {
    pub person: Person,
    pub name: Localized,
    /// The side of their latest turn.
    pub side: Option<String>,
    pub tally: Tally,
}

/// One side's closed floor time in one segment, and its turns there including those that
/// run; `side` is `None` for those who speak for no side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideTally {
    pub side: Option<String>,
    pub segment: String,
    pub tally: Tally,
}

/// A turn whose time runs, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTurn {
    pub turn: Turn,
    pub since: Millis,
}

/// Who has spoken how long. Totals grow when a turn's time stops (the floor passes, a hold,
/// a segment ends); a running turn counts up from `since` wherever totals are shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakingRecord {
    /// In the order they first spoke.
    pub people: Vec<PersonTally>,
    pub sides: Vec<SideTally>,
    pub open: Vec<OpenTurn>,
    /// The turns on the floor after the latest command, running or not, by id.
    pub current: Vec<String>,
}

/// Each side's floor time and turns at one instant, running turns included: what the
/// `balanced` queue policy orders by. Those who speak for no side are a side of their own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    sides: BTreeMap<String, Tally>,
    none: Tally,
}

impl Standing {
    pub fn of(&self, side: Option<&str>) -> Tally {
        match side {
            Some(side) => self.sides.get(side).copied().unwrap_or_default(),
            None => self.none,
        }
    }

    fn add(&mut self, side: Option<&str>, tally: Tally) {
        let entry = match side {
            Some(side) => self.sides.entry(side.to_owned()).or_default(),
            None => &mut self.none,
        };
        entry.spoken_ms += tally.spoken_ms;
        entry.turns += tally.turns;
    }
}

/// A side's floor time against its budgets at one instant, for tools and exports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SideSummary {
    /// `None` for those who speak for no side.
    pub id: Option<String>,
    pub name: Option<Localized>,
    pub spoken_ms: Millis,
    pub turns: u32,
    pub budget_ms: Option<Millis>,
    /// The budget less the time spoken; negative once the side is over it.
    pub remaining_ms: Option<Millis>,
    /// The same in the segment asked about (the live one).
    pub segment_spoken_ms: Millis,
    pub segment_budget_ms: Option<Millis>,
    pub segment_remaining_ms: Option<Millis>,
}

impl SpeakingRecord {
    /// The record after the floor became `floor` at `now`: each turn with whether its time
    /// runs. A running turn no longer on the floor as it was (gone, stopped, or changed side
    /// or name) adds its time since it last started; a turn running now that was not opens
    /// at `now`, and counts as a turn unless it was already on the floor.
    pub fn follow(&self, floor: &[(Turn, bool)], now: Millis) -> SpeakingRecord {
        let mut next = self.clone();
        let running: Vec<&Turn> = floor.iter().filter(|(_, runs)| *runs).map(|(turn, _)| turn).collect();
        let (kept, stopped): (Vec<OpenTurn>, Vec<OpenTurn>) =
            std::mem::take(&mut next.open).into_iter().partition(|open| running.contains(&&open.turn));
        for open in stopped {
            next.add(&open.turn, Tally { spoken_ms: (now - open.since).max(0), turns: 0 });
        }
        next.open = kept;
        for turn in running {
            if next.open.iter().any(|open| open.turn == *turn) {
                continue;
            }
            let fresh = u32::from(!self.current.contains(&turn.id));
            next.add(turn, Tally { spoken_ms: 0, turns: fresh });
            next.open.push(OpenTurn { turn: turn.clone(), since: now });
        }
        next.current = floor.iter().map(|(turn, _)| turn.id.clone()).collect();
        next
    }

    fn add(&mut self, turn: &Turn, tally: Tally) {
        let person = match self.people.iter().position(|p| p.person == turn.person) {
            Some(at) => &mut self.people[at],
            None => {
                let tally = Tally::default();
                self.people.push(PersonTally {
                    person: turn.person.clone(),
                    name: turn.name.clone(),
                    side: None,
                    tally,
                });
                self.people.last_mut().expect("just pushed")
            }
        };
        person.name = turn.name.clone();
        person.side = turn.side.clone();
        person.tally.spoken_ms += tally.spoken_ms;
        person.tally.turns += tally.turns;
        let side = match self.sides.iter().position(|s| s.side == turn.side && s.segment == turn.segment) {
            Some(at) => &mut self.sides[at],
            None => {
                let tally = Tally::default();
                self.sides.push(SideTally { side: turn.side.clone(), segment: turn.segment.clone(), tally });
                self.sides.last_mut().expect("just pushed")
            }
        };
        side.tally.spoken_ms += tally.spoken_ms;
        side.tally.turns += tally.turns;
    }

    /// Each side's floor time at `now`, running turns included.
    pub fn standing(&self, now: Millis) -> Standing {
        let mut standing = Standing::default();
        for side in &self.sides {
            standing.add(side.side.as_deref(), side.tally);
        }
        for open in &self.open {
            standing.add(open.turn.side.as_deref(), Tally { spoken_ms: now - open.since, turns: 0 });
        }
        standing
    }

    /// Time a running turn adds at `now` to whatever `counts` it.
    fn running(&self, now: Millis, counts: impl Fn(&Turn) -> bool) -> Millis {
        self.open.iter().filter(|open| counts(&open.turn)).map(|open| (now - open.since).max(0)).sum()
    }

    /// Each person's floor time at `now`, in the order they first spoke.
    pub fn people_at(&self, now: Millis) -> Vec<PersonTally> {
        let with_running = |p: &PersonTally| {
            let spoken_ms = p.tally.spoken_ms + self.running(now, |turn| turn.person == p.person);
            PersonTally { tally: Tally { spoken_ms, ..p.tally }, ..p.clone() }
        };
        self.people.iter().map(with_running).collect()
    }

    /// Every side of the plan, and those who spoke for none when they did, against their
    /// budgets at `now`: the event's and those of `segment`.
    pub fn sides_at(&self, show: &RunOfShow, segment: Option<&str>, now: Millis) -> Vec<SideSummary> {
        let mut ids: Vec<Option<&str>> = show.sides.iter().map(|s| Some(s.id.as_str())).collect();
        if self.sides.iter().any(|s| s.side.is_none()) {
            ids.push(None);
        }
        let standing = self.standing(now);
        let budgets = segment.and_then(|id| show.segments.iter().find(|s| s.id == id)).map(|s| &s.side_budgets);
        ids.into_iter()
            .map(|id| {
                let side = id.and_then(|id| show.sides.iter().find(|s| s.id == id));
                let in_segment = |t: &Turn| Some(t.segment.as_str()) == segment && t.side.as_deref() == id;
                let closed: Millis = self
                    .sides
                    .iter()
                    .filter(|s| s.side.as_deref() == id && Some(s.segment.as_str()) == segment)
                    .map(|s| s.tally.spoken_ms)
                    .sum();
                let segment_spoken_ms = closed + self.running(now, in_segment);
                let total = standing.of(id);
                let budget_ms = side.and_then(|s| s.budget_ms);
                let segment_budget_ms = id.and_then(|id| budgets?.get(id).copied());
                SideSummary {
                    id: id.map(str::to_owned),
                    name: side.map(|s| s.name.clone()),
                    spoken_ms: total.spoken_ms,
                    turns: total.turns,
                    budget_ms,
                    remaining_ms: budget_ms.map(|b| b - total.spoken_ms),
                    segment_spoken_ms,
                    segment_budget_ms,
                    segment_remaining_ms: segment_budget_ms.map(|b| b - segment_spoken_ms),
                }
            })
            .collect()
    }
}
