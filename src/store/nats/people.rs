//! Who is connected to each node, shared through the presence bucket for the chair's full
//! list. A node keeps its people of an event in [`CHUNKS`] chunks by participant, each under
//! `<event>.<node>.people.<chunk>`, and puts a chunk only when someone in it came or went
//! (and every [`REFRESH`], before the bucket forgets it): a join costs one small put, not
//! the whole list, and a list of any size stays under NATS's message limit. The other
//! nodes turn each chunk they watch back into comings and goings, while its node is live.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::PRESENCE_TTL;
use crate::domain::presence::Present;
use crate::domain::text::{Lang, Mode};
use crate::domain::{Millis, Role};

/// Chunks of a node's list: 10,000 people make chunks of about 35 kB, 100,000 of 350 kB,
/// still under the 1 MB a NATS message may hold.
const CHUNKS: u64 = 64;
/// How often every chunk is put again while nothing in it changes, well within the
/// bucket's [`PRESENCE_TTL`].
const REFRESH: Duration = Duration::from_secs(PRESENCE_TTL.as_secs() / 3);

/// What the hub and its presence task hand each other; each side takes what the other left.
#[derive(Default)]
pub struct People {
    /// This node's people who came or went since the presence task last took them, each as
    /// they are now (`None`: gone from this node).
    ours: Mutex<HashMap<String, Option<Present>>>,
    /// What other live nodes report, by (node, participant), since the hub last took it.
    theirs: Mutex<HashMap<NodeAndParticipant, Option<Present>>>,
}

type NodeAndParticipant = (Arc<str>, String);

/// One change another node reports: (node, participant, connected as or gone).
pub type Reported = (Arc<str>, String, Option<Present>);

impl People {
    /// This node's comings and goings, for the other nodes.
    pub fn report(&self, changes: Vec<(String, Option<Present>)>) {
        if !changes.is_empty() {
            self.ours.lock().unwrap_or_else(|e| e.into_inner()).extend(changes);
        }
    }

    /// The other nodes' comings and goings since the last call.
    pub fn reported(&self) -> Vec<Reported> {
        let theirs = std::mem::take(&mut *self.theirs.lock().unwrap_or_else(|e| e.into_inner()));
        theirs.into_iter().map(|((node, participant), present)| (node, participant, present)).collect()
    }

    fn take_ours(&self) -> HashMap<String, Option<Present>> {
        std::mem::take(&mut *self.ours.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn tell(&self, node: &Arc<str>, changes: impl Iterator<Item = (String, Option<Present>)>) {
        let mut theirs = self.theirs.lock().unwrap_or_else(|e| e.into_inner());
        theirs.extend(changes.map(|(participant, present)| ((Arc::clone(node), participant), present)));
    }
}

/// Someone connected to a node, as the presence bucket keeps them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct StoredPresent {
    participant: String,
    who: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    affiliation: Option<String>,
    role: Role,
    mode: Mode,
    lang: Lang,
    since: Millis,
    connections: u32,
    audience: bool,
    speaker: bool,
}

impl StoredPresent {
    fn of(p: Present) -> Self {
        StoredPresent {
            participant: p.participant,
            who: p.who,
            name: p.name,
            affiliation: p.affiliation,
            role: p.role,
            mode: p.mode,
            lang: p.lang,
            since: p.since,
            connections: p.connections,
            audience: p.audience,
            speaker: p.speaker,
        }
    }

    fn present(&self) -> Present {
        Present {
            participant: self.participant.clone(),
            who: self.who.clone(),
            name: self.name.clone(),
            affiliation: self.affiliation.clone(),
            role: self.role,
            mode: self.mode,
            lang: self.lang,
            since: self.since,
            connections: self.connections,
            audience: self.audience,
            speaker: self.speaker,
        }
    }
}

/// The key of one chunk of `node`'s people of `event`.
pub(super) fn chunk_key(event: &str, node: &str, chunk: u64) -> String {
    format!("{event}.{node}.people.{chunk}")
}

fn chunk_of(participant: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    participant.hash(&mut hasher);
    hasher.finish() % CHUNKS
}

/// This node's people of an event, by chunk, and which chunks are due to be put.
pub(super) struct Own {
    chunks: HashMap<u64, HashMap<String, StoredPresent>>,
    changed: BTreeSet<u64>,
    refreshed: Instant,
}

impl Own {
    pub(super) fn new() -> Self {
        Own { chunks: HashMap::new(), changed: BTreeSet::new(), refreshed: Instant::now() }
    }

    /// Takes the comings and goings the hub left.
    pub(super) fn take(&mut self, people: &People) {
        for (participant, present) in people.take_ours() {
            let chunk = chunk_of(&participant);
            let entries = self.chunks.entry(chunk).or_default();
            match present {
                Some(present) => entries.insert(participant, StoredPresent::of(present)),
                None => entries.remove(&participant),
            };
            self.changed.insert(chunk);
        }
    }

    /// The chunks to put now, each with its entries as JSON, or `None` for one that is now
    /// empty (to delete).
    pub(super) fn due(&mut self) -> Vec<(u64, Option<Vec<u8>>)> {
        if self.refreshed.elapsed() >= REFRESH {
            self.refreshed = Instant::now();
            self.changed.extend(self.chunks.keys());
        }
        let changed = std::mem::take(&mut self.changed);
        let mut due = Vec::with_capacity(changed.len());
        for chunk in changed {
            let entries: Vec<&StoredPresent> = self.chunks.get(&chunk).into_iter().flat_map(|c| c.values()).collect();
            if entries.is_empty() {
                self.chunks.remove(&chunk);
                due.push((chunk, None));
            } else if let Ok(json) = serde_json::to_vec(&entries) {
                due.push((chunk, Some(json)));
            }
        }
        due
    }

    /// Chunks whose put failed, to put at the next turn.
    pub(super) fn again(&mut self, failed: Vec<u64>) {
        self.changed.extend(failed);
    }

    /// Every chunk this node has put and not deleted.
    pub(super) fn chunks(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.keys().copied()
    }
}

/// The other nodes' people of an event, by node and chunk.
#[derive(Default)]
pub(super) struct Theirs {
    nodes: HashMap<Arc<str>, TheirNode>,
}

struct TheirNode {
    chunks: HashMap<String, Vec<StoredPresent>>,
    /// Its people are on the list: its counts are fresh.
    live: bool,
    heard: Instant,
}

impl Theirs {
    /// A chunk `node` put (`None`: deleted); a live node's changes go to the hub.
    pub(super) fn chunk(&mut self, node: &str, chunk: &str, value: Option<&[u8]>, people: &People) {
        let entries: Vec<StoredPresent> = value.and_then(|v| serde_json::from_slice(v).ok()).unwrap_or_default();
        let (node, their) = match self.nodes.get_key_value(node) {
            Some((name, _)) => (Arc::clone(name), self.nodes.get_mut(node).expect("just found")),
            None => {
                let name: Arc<str> = node.into();
                let fresh = TheirNode { chunks: HashMap::new(), live: false, heard: Instant::now() };
                (Arc::clone(&name), self.nodes.entry(name).or_insert(fresh))
            }
        };
        their.heard = Instant::now();
        let before = their.chunks.remove(chunk).unwrap_or_default();
        if their.live {
            let now: HashSet<&str> = entries.iter().map(|e| e.participant.as_str()).collect();
            let gone = before.into_iter().filter(|e| !now.contains(e.participant.as_str()));
            let came = entries.iter().map(|e| (e.participant.clone(), Some(e.present())));
            people.tell(&node, gone.map(|e| (e.participant, None)).chain(came));
        }
        if !entries.is_empty() {
            their.chunks.insert(chunk.to_owned(), entries);
        }
    }

    /// Puts on the list the people of the nodes that are `live` now and were not, takes
    /// off it those of the nodes that no longer are, and forgets nodes long gone.
    pub(super) fn liveness(&mut self, live: &HashSet<&str>, people: &People) {
        for (node, their) in &mut self.nodes {
            let now_live = live.contains(&**node);
            if now_live == their.live {
                continue;
            }
            their.live = now_live;
            let entries = their.chunks.values().flatten();
            let present = |e: &StoredPresent| now_live.then(|| e.present());
            people.tell(node, entries.map(|e| (e.participant.clone(), present(e))));
        }
        self.nodes.retain(|_, their| their.live || their.heard.elapsed() <= PRESENCE_TTL);
    }
}
