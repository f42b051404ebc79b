//! Who is here: presence keyed by participant (many tabs, one person), joins and leaves
//! coalesced into periodic diffs, counts by mode and language, and the attendance history.
//! In a cluster the list also holds the people other nodes report, and this node's own
//! comings and goings are kept for it to report. Ephemeral, pure, no I/O.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Bound;

use serde::Serialize;

use super::actor::{Actor, Role};
use super::text::{match_key, Lang, Mode};
use super::time::Millis;

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
    /// The participant's public tag, which orders pages and names their cursor.
    pub who: String,
    pub name: String,
    pub affiliation: Option<String>,
    pub role: Role,
    pub mode: Mode,
    pub lang: Lang,
    pub since: Millis,
    pub connections: u32,
    /// A person in the audience, counted in the head counts and recent joins; the chair's
    /// consoles, the crew's cue screens and stage screens are listed but not counted.
    pub audience: bool,
    /// May stand for a programme speaker: see [`Presence::speaker_names`].
    pub speaker: bool,
}

/// Whether a connection is someone in the audience: an attendee, or a speaker on their own
/// device rather than a stage screen (a `screen` says it is one).
pub fn in_audience(role: Role, screen: bool) -> bool {
    matches!(role, Role::Attendee | Role::Speaker) && !screen
}

/// Whether a connection under `role` may stand for a programme speaker: the speaker token,
/// or a chair's console (a chair is on the programme too); never an attendee, who could
/// take any name.
fn may_be_programme_speaker(role: Role, screen: bool) -> bool {
    matches!(role, Role::Speaker | Role::Moderator | Role::Organizer) && !screen
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

/// Where a page of the list starts after: the (name, who) of the last entry seen.
pub type Cursor = (String, String);

/// Diffs kept for clients that reconnect, at most, and entries in them at most.
pub const KEEP_DIFFS: usize = 256;
pub const KEEP_DIFF_ENTRIES: usize = 5_000;

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
    /// Participants who may stand for programme speakers, with their names and how they
    /// take part.
    speakers: HashMap<String, (String, Mode)>,
    /// Turns a participant id into its public tag.
    tag: Box<dyn Fn(&str) -> String + Send>,
    /// Everyone as of the last diff, by (name, who): what pages are read from, so that a
    /// page never shows a join or leave that no diff will report.
    published: BTreeMap<Cursor, Present>,
    published_keys: HashMap<String, Cursor>,
    /// How many diffs there have been, from `first_version`; names the published state.
    version: u64,
    /// The version before the first diff of this presence's life: versions from before it
    /// are another life's.
    first_version: u64,
    /// The latest diffs with the version each made, oldest first.
    diffs: VecDeque<(u64, Diff)>,
    /// The programme changed, so the next diff goes out even with nobody joined or left:
    /// the places of the speakers here are sent with it.
    republish: bool,
    /// In a cluster, the people connected to each other node, by node, then participant:
    /// listed and in the diffs, never in this node's counts (each node's are summed apart).
    elsewhere: HashMap<String, HashMap<String, Present>>,
    /// Those of `elsewhere` who may stand for programme speakers, with their names and how
    /// they take part, so that a welcome need not look through everyone elsewhere.
    speakers_elsewhere: HashMap<String, HashMap<String, (String, Mode)>>,
    /// In a cluster, the participants whose presence on this node began or ended since
    /// [`Presence::local_changes`] last took them, for the other nodes.
    local_changes: Option<HashSet<String>>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence::tagged(Box::new(str::to_owned))
    }
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
    /// Presence whose people carry the tags `tag` gives their participant ids.
    pub fn tagged(tag: Box<dyn Fn(&str) -> String + Send>) -> Self {
        Presence {
            present: HashMap::new(),
            touched: HashMap::new(),
            recent: Vec::new(),
            history: Vec::new(),
            counts: Counts::default(),
            speakers: HashMap::new(),
            tag,
            published: BTreeMap::new(),
            published_keys: HashMap::new(),
            version: 0,
            first_version: 0,
            diffs: VecDeque::new(),
            republish: false,
            elsewhere: HashMap::new(),
            speakers_elsewhere: HashMap::new(),
            local_changes: None,
        }
    }

    /// Presence that keeps this node's comings and goings for [`Presence::local_changes`].
    pub fn shared(mut self) -> Self {
        self.local_changes = Some(HashSet::new());
        self
    }

    /// Presence whose versions start at `version` rather than 0.
    pub fn starting_at(mut self, version: u64) -> Self {
        self.version = version;
        self.first_version = version;
        self
    }

    /// Makes the next diff go out even when nobody came or went: the plan changed, and with
    /// it where each programme speaker here stands.
    pub fn republish(&mut self) {
        self.republish = true;
    }

    /// A connection of `actor` joined; `screen` when it says it is a screen, not a person.
    pub fn connect(&mut self, actor: &Actor, screen: bool, now: Millis) {
        let was_present = self.present.contains_key(&actor.participant);
        let anywhere = was_present || self.is_elsewhere(&actor.participant);
        self.touched.entry(actor.participant.clone()).or_insert(anywhere);
        let tag = &self.tag;
        let entry = self.present.entry(actor.participant.clone()).or_insert_with(|| Present {
            participant: actor.participant.clone(),
            who: tag(&actor.participant),
            name: actor.name.clone(),
            affiliation: actor.affiliation.clone(),
            role: actor.role,
            mode: actor.mode,
            lang: actor.lang,
            since: now,
            connections: 0,
            audience: in_audience(actor.role, screen),
            speaker: may_be_programme_speaker(actor.role, screen),
        });
        entry.connections += 1;
        if !was_present {
            if let Some(changes) = &mut self.local_changes {
                changes.insert(actor.participant.clone());
            }
            if entry.speaker {
                self.speakers.insert(entry.participant.clone(), (entry.name.clone(), entry.mode));
            }
            if !entry.audience {
                return;
            }
            self.counts.add(entry, 1);
            self.recent.retain(|p| p != &actor.participant);
            self.recent.push(actor.participant.clone());
            if self.recent.len() > RECENT_JOINS {
                self.recent.remove(0);
            }
        }
    }

    /// `participant` reads in `lang` from now on: their count moves to it.
    pub fn set_lang(&mut self, participant: &str, lang: Lang) {
        let Some(entry) = self.present.get_mut(participant).filter(|e| e.lang != lang) else { return };
        if entry.audience {
            self.counts.add(entry, -1);
            entry.lang = lang;
            self.counts.add(entry, 1);
        } else {
            entry.lang = lang;
        }
        // The counts go out with the next diff even when nobody came or went.
        self.republish = true;
    }

    /// A connection of `participant` left; they are gone once their last one has.
    pub fn disconnect(&mut self, participant: &str) {
        let Some(entry) = self.present.get_mut(participant) else { return };
        self.touched.entry(participant.to_owned()).or_insert(true);
        entry.connections -= 1;
        if entry.connections == 0 {
            if let Some(changes) = &mut self.local_changes {
                changes.insert(participant.to_owned());
            }
            if let Some(gone) = self.present.remove(participant).filter(|gone| gone.audience) {
                self.counts.add(&gone, -1);
            }
            self.speakers.remove(participant);
            self.recent.retain(|p| p != participant);
        }
    }

    /// The changes since the last diff, or None when there are none. Each diff moves the
    /// published state (what pages show) on by one version.
    pub fn diff(&mut self) -> Option<Diff> {
        let mut diff = Diff::default();
        let touched: Vec<(String, bool)> = self.touched.drain().collect();
        for (participant, was_present) in touched {
            match (was_present, self.merged(&participant)) {
                (false, Some(entry)) => diff.joined.push(entry),
                (true, None) => diff.left.push(participant),
                _ => {}
            }
        }
        let republish = std::mem::take(&mut self.republish);
        if diff.joined.is_empty() && diff.left.is_empty() && !republish {
            return None;
        }
        diff.joined.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.participant.cmp(&b.participant)));
        diff.left.sort();
        for gone in &diff.left {
            if let Some(key) = self.published_keys.remove(gone) {
                self.published.remove(&key);
            }
        }
        for entry in &diff.joined {
            let key = (entry.name.clone(), entry.who.clone());
            self.published_keys.insert(entry.participant.clone(), key.clone());
            self.published.insert(key, entry.clone());
        }
        self.version += 1;
        self.diffs.push_back((self.version, diff.clone()));
        let size =
            |diffs: &VecDeque<(u64, Diff)>| diffs.iter().map(|(_, d)| d.joined.len() + d.left.len()).sum::<usize>();
        while self.diffs.len() > KEEP_DIFFS || (self.diffs.len() > 1 && size(&self.diffs) > KEEP_DIFF_ENTRIES) {
            self.diffs.pop_front();
        }
        Some(diff)
    }

    /// Whether another node reports `participant` connected to it.
    fn is_elsewhere(&self, participant: &str) -> bool {
        self.elsewhere.values().any(|people| people.contains_key(participant))
    }

    /// `participant` as the list shows them: their connections on every node together,
    /// here since they first came to any.
    fn merged(&self, participant: &str) -> Option<Present> {
        let mut found = self.elsewhere.values().filter_map(|people| people.get(participant));
        let mut entry = self.present.get(participant).or_else(|| found.next())?.clone();
        for other in found {
            entry.connections += other.connections;
            entry.since = entry.since.min(other.since);
        }
        Some(entry)
    }

    /// What another node reports of `participant`: connected to it as `present`, or no
    /// longer (`None`). The list and the diffs take it; this node's counts do not.
    pub fn elsewhere(&mut self, node: &str, participant: String, present: Option<Present>) {
        let anywhere = self.present.contains_key(&participant) || self.is_elsewhere(&participant);
        let speakers = self.speakers_elsewhere.entry(node.to_owned()).or_default();
        match present.as_ref().filter(|entry| entry.speaker) {
            Some(entry) => speakers.insert(participant.clone(), (entry.name.clone(), entry.mode)),
            None => speakers.remove(&participant),
        };
        if speakers.is_empty() {
            self.speakers_elsewhere.remove(node);
        }
        let people = self.elsewhere.entry(node.to_owned()).or_default();
        match present {
            Some(entry) => people.insert(participant.clone(), entry),
            None => people.remove(&participant),
        };
        if people.is_empty() {
            self.elsewhere.remove(node);
        }
        self.touched.entry(participant).or_insert(anywhere);
    }

    /// This node's people who came or went since the last call, each as they are now here
    /// (`None`: no longer connected to this node). Empty unless [`Presence::shared`].
    pub fn local_changes(&mut self) -> Vec<(String, Option<Present>)> {
        let Some(changes) = &mut self.local_changes else { return Vec::new() };
        let changes: Vec<String> = changes.drain().collect();
        changes.into_iter().map(|p| (p.clone(), self.present.get(&p).cloned())).collect()
    }

    /// The version of the published state: the first version plus the number of diffs.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// What changed in the published state after `version`, as one diff (joined: as they are
    /// now; left: gone now), or None when the diffs since then are no longer kept.
    pub fn since(&self, version: u64) -> Option<Diff> {
        if version > self.version || version < self.first_version {
            return None;
        }
        let oldest = self.diffs.front().map_or(self.version + 1, |(v, _)| *v);
        if version + 1 < oldest && version != self.version {
            return None;
        }
        let mut touched: Vec<&str> = Vec::new();
        for (_, diff) in self.diffs.iter().filter(|(v, _)| *v > version) {
            touched.extend(diff.joined.iter().map(|e| e.participant.as_str()));
            touched.extend(diff.left.iter().map(String::as_str));
        }
        touched.sort_unstable();
        touched.dedup();
        let mut diff = Diff::default();
        for participant in touched {
            match self.published(participant) {
                Some(entry) => diff.joined.push(entry.clone()),
                None => diff.left.push(participant.to_owned()),
            }
        }
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

    /// Everyone in the published state, by (name, who): the first `limit` after `after`.
    /// People who stay are on exactly one page however many come and go meanwhile; those
    /// who come or go are in the diffs.
    pub fn page(&self, after: Option<&Cursor>, limit: usize) -> Vec<&Present> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.published.range((from, Bound::Unbounded)).take(limit).map(|(_, entry)| entry).collect()
    }

    /// `participant` as the published state holds them.
    pub fn published(&self, participant: &str) -> Option<&Present> {
        self.published_keys.get(participant).and_then(|key| self.published.get(key))
    }

    /// How many the published state holds.
    pub fn published_total(&self) -> usize {
        self.published.len()
    }

    /// Names of everyone present who may stand for a programme speaker (here or, in a
    /// cluster, on another node), as they joined, and how they take part.
    pub fn speaker_names(&self) -> impl Iterator<Item = (&str, Mode)> {
        let elsewhere = self.speakers_elsewhere.values().flat_map(HashMap::values);
        self.speakers.values().chain(elsewhere).map(|(name, mode)| (name.as_str(), *mode))
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
