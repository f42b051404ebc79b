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

/// Chunks of a node's list: at about 260 bytes a person (measured), 10,000 people make
/// chunks of about 40 kB, 100,000 of 400 kB, still under the 1 MB a NATS message may hold.
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
            // A chunk put again unchanged (its refresh, or a neighbour's coming) tells nothing.
            let now: HashSet<&str> = entries.iter().map(|e| e.participant.as_str()).collect();
            let kept: HashMap<&str, &StoredPresent> = before.iter().map(|e| (e.participant.as_str(), e)).collect();
            let gone = before.iter().filter(|e| !now.contains(e.participant.as_str()));
            let came = entries.iter().filter(|e| kept.get(e.participant.as_str()) != Some(e));
            let gone = gone.map(|e| (e.participant.clone(), None));
            people.tell(&node, gone.chain(came.map(|e| (e.participant.clone(), Some(e.present())))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn person(participant: &str, connections: u32) -> Present {
        Present {
            participant: participant.into(),
            who: format!("tag-{participant}"),
            name: format!("Name {participant}"),
            affiliation: None,
            role: Role::Attendee,
            mode: Mode::Remote,
            lang: Lang::Zh,
            since: 1,
            connections,
            audience: true,
            speaker: false,
        }
    }

    /// What the hub is told, as (node, participant, connections or gone), sorted.
    fn told(people: &People) -> Vec<(String, String, Option<u32>)> {
        let mut told: Vec<_> = people
            .reported()
            .into_iter()
            .map(|(node, participant, present)| (node.to_string(), participant, present.map(|p| p.connections)))
            .collect();
        told.sort();
        told
    }

    /// A node's chunks as the others read them: key (chunk) and value.
    fn put(own: &mut Own) -> Vec<(String, Option<Vec<u8>>)> {
        own.due().into_iter().map(|(chunk, value)| (chunk.to_string(), value)).collect()
    }

    #[test]
    fn a_node_puts_only_the_chunks_someone_came_to_or_left() {
        let (people, mut own) = (People::default(), Own::new());
        people.report((0..1000).map(|k| (format!("p{k}"), Some(person(&format!("p{k}"), 1)))).collect());
        own.take(&people);
        let first = put(&mut own);
        assert_eq!(first.len() as u64, CHUNKS, "a thousand people fill every chunk");
        assert!(put(&mut own).is_empty(), "nothing changed since");

        people.report(vec![("p7".into(), None)]);
        own.take(&people);
        let again = put(&mut own);
        assert_eq!(again.len(), 1, "one leave puts one chunk");
        let entries: Vec<StoredPresent> = serde_json::from_slice(again[0].1.as_ref().unwrap()).unwrap();
        assert!(!entries.is_empty() && entries.iter().all(|e| e.participant != "p7"));
    }

    #[test]
    fn a_chunk_that_empties_is_deleted() {
        let (people, mut own) = (People::default(), Own::new());
        people.report(vec![("alone".into(), Some(person("alone", 1)))]);
        own.take(&people);
        assert!(put(&mut own)[0].1.is_some());
        people.report(vec![("alone".into(), None)]);
        own.take(&people);
        assert!(put(&mut own)[0].1.is_none());
        assert_eq!(own.chunks().count(), 0);
    }

    #[test]
    fn another_nodes_people_are_told_while_it_is_live_and_only_what_changed() {
        let (people, mut theirs) = (People::default(), Theirs::default());
        let chunk = |entries: &[Present]| {
            serde_json::to_vec(&entries.iter().cloned().map(StoredPresent::of).collect::<Vec<_>>()).unwrap()
        };
        theirs.chunk("b", "3", Some(&chunk(&[person("x", 1), person("y", 1)])), &people);
        assert!(told(&people).is_empty(), "not live yet: its counts were not heard");
        theirs.liveness(&HashSet::from(["b"]), &people);
        assert_eq!(told(&people), [("b".into(), "x".into(), Some(1)), ("b".into(), "y".into(), Some(1))]);

        theirs.chunk("b", "3", Some(&chunk(&[person("x", 1), person("y", 1)])), &people);
        assert!(told(&people).is_empty(), "a refresh tells nothing");
        theirs.chunk("b", "3", Some(&chunk(&[person("x", 2), person("z", 1)])), &people);
        assert_eq!(
            told(&people),
            [("b".into(), "x".into(), Some(2)), ("b".into(), "y".into(), None), ("b".into(), "z".into(), Some(1))]
        );
        theirs.chunk("b", "3", None, &people);
        assert_eq!(told(&people), [("b".into(), "x".into(), None), ("b".into(), "z".into(), None)]);

        theirs.chunk("b", "4", Some(&chunk(&[person("w", 1)])), &people);
        told(&people);
        theirs.liveness(&HashSet::new(), &people);
        assert_eq!(told(&people), [("b".into(), "w".into(), None)], "a node gone takes its people along");
    }
}
