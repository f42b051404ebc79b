//! Who is here: presence keyed by participant (many tabs, one person), joins and leaves
//! coalesced into periodic diffs, counts by mode and language, and the attendance history.
//! Ephemeral, pure, no I/O.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::text::{match_key, Lang, Mode};
use super::{Actor, Millis, Role};

/// A connection not heard from for this long (no frame, no pong) is dead.
pub const DEAD_AFTER_MS: Millis = 30_000;
/// How many recent joins attendees see.
pub const RECENT_JOINS: usize = 12;
/// Attendance samples kept: one a minute for a long day.
pub const HISTORY_LEN: usize = 24 * 60;

/// When a connection was last heard from; decides when it counts as dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    last_heard: Millis,
}

impl Liveness {
    pub fn new(now: Millis) -> Self {
        Liveness { last_heard: now }
    }

    pub fn heard(&mut self, now: Millis) {
        self.last_heard = self.last_heard.max(now);
    }

    pub fn is_dead(&self, now: Millis) -> bool {
        now - self.last_heard > DEAD_AFTER_MS
    }
}

/// One person who is here, on however many connections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Present {
    pub participant: String,
    pub name: String,
    pub affiliation: Option<String>,
    pub role: Role,
    pub mode: Mode,
    pub lang: Lang,
    pub since: Millis,
    pub connections: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ByLang {
    pub zh: u32,
    pub ja: u32,
    pub en: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: u32,
    pub in_room: u32,
    pub remote: u32,
    pub by_lang: ByLang,
}

/// What changed since the last diff, after joins and leaves within it cancelled out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub joined: Vec<Present>,
    pub left: Vec<String>,
}

/// One point of the attendance history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub at: Millis,
    pub in_room: u32,
    pub remote: u32,
}

#[derive(Debug, Default)]
pub struct Presence {
    present: HashMap<String, Present>,
    /// Participants whose presence changed since the last diff, and whether they were
    /// present at that diff.
    touched: HashMap<String, bool>,
    /// The latest joins, newest last.
    recent: Vec<String>,
    history: Vec<Sample>,
    /// Kept as people come and go, so that a welcome in a join storm costs O(1), not O(N).
    counts: Counts,
    /// Participants present with the speaker token, and their names.
    speakers: HashMap<String, String>,
}

impl Counts {
    fn add(&mut self, entry: &Present, sign: i32) {
        let step = |n: &mut u32| *n = n.saturating_add_signed(sign);
        step(&mut self.total);
        match entry.mode {
            Mode::InRoom => step(&mut self.in_room),
            Mode::Remote => step(&mut self.remote),
        }
        match entry.lang {
            Lang::Zh => step(&mut self.by_lang.zh),
            Lang::Ja => step(&mut self.by_lang.ja),
            Lang::En => step(&mut self.by_lang.en),
        }
    }
}

impl Presence {
    /// A connection of `actor` joined.
    pub fn connect(&mut self, actor: &Actor, now: Millis) {
        let was_present = self.present.contains_key(&actor.participant);
        self.touched.entry(actor.participant.clone()).or_insert(was_present);
        let entry = self.present.entry(actor.participant.clone()).or_insert_with(|| Present {
            participant: actor.participant.clone(),
            name: actor.name.clone(),
            affiliation: actor.affiliation.clone(),
            role: actor.role,
            mode: actor.mode,
            lang: actor.lang,
            since: now,
            connections: 0,
        });
        entry.connections += 1;
        if !was_present {
            self.counts.add(entry, 1);
            if entry.role == Role::Speaker {
                self.speakers.insert(entry.participant.clone(), entry.name.clone());
            }
            self.recent.retain(|p| p != &actor.participant);
            self.recent.push(actor.participant.clone());
            if self.recent.len() > RECENT_JOINS {
                self.recent.remove(0);
            }
        }
    }

    /// A connection of `participant` left; they are gone once their last one has.
    pub fn disconnect(&mut self, participant: &str) {
        let Some(entry) = self.present.get_mut(participant) else { return };
        self.touched.entry(participant.to_owned()).or_insert(true);
        entry.connections -= 1;
        if entry.connections == 0 {
            if let Some(gone) = self.present.remove(participant) {
                self.counts.add(&gone, -1);
            }
            self.speakers.remove(participant);
            self.recent.retain(|p| p != participant);
        }
    }

    /// The changes since the last diff, or None when there are none.
    pub fn diff(&mut self) -> Option<Diff> {
        let mut diff = Diff::default();
        for (participant, was_present) in self.touched.drain() {
            match (was_present, self.present.get(&participant)) {
                (false, Some(entry)) => diff.joined.push(entry.clone()),
                (true, None) => diff.left.push(participant),
                _ => {}
            }
        }
        if diff.joined.is_empty() && diff.left.is_empty() {
            return None;
        }
        diff.joined.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.participant.cmp(&b.participant)));
        diff.left.sort();
        Some(diff)
    }

    pub fn counts(&self) -> Counts {
        self.counts.clone()
    }

    /// The latest joins that are still here, newest first.
    pub fn recent(&self) -> Vec<&Present> {
        self.recent.iter().rev().filter_map(|p| self.present.get(p)).collect()
    }

    pub fn is_present(&self, participant: &str) -> bool {
        self.present.contains_key(participant)
    }

    /// Everyone present, by name; `offset` and `limit` page through a large event.
    pub fn page(&self, offset: usize, limit: usize) -> Vec<&Present> {
        let mut all: Vec<&Present> = self.present.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.participant.cmp(&b.participant)));
        all.into_iter().skip(offset).take(limit).collect()
    }

    /// Names of everyone present with the speaker token, as they joined.
    pub fn speaker_names(&self) -> impl Iterator<Item = &str> {
        self.speakers.values().map(String::as_str)
    }

    /// Records the attendance now; returns the sample.
    pub fn sample(&mut self, now: Millis) -> Sample {
        let counts = self.counts();
        let sample = Sample { at: now, in_room: counts.in_room, remote: counts.remote };
        if self.history.len() == HISTORY_LEN {
            self.history.remove(0);
        }
        self.history.push(sample);
        sample
    }

    pub fn history(&self) -> &[Sample] {
        &self.history
    }

    /// Restores a history kept elsewhere (the store), oldest first.
    pub fn restore_history(&mut self, samples: Vec<Sample>) {
        let skip = samples.len().saturating_sub(HISTORY_LEN);
        self.history = samples.into_iter().skip(skip).collect();
    }
}

/// Which speakers of the run of show are here, by matching the names people joined with
/// against the programme's names in every language, both keyed by [`match_key`].
pub fn speakers_present<'a>(
    names_here: impl Iterator<Item = &'a str>,
    programme: &BTreeMap<String, Vec<(usize, usize)>>,
) -> Vec<(usize, usize)> {
    let mut present: Vec<(usize, usize)> =
        names_here.filter_map(|name| programme.get(&match_key(name))).flatten().copied().collect();
    present.sort_unstable();
    present.dedup();
    present
}

#[cfg(test)]
mod tests;
