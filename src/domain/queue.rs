//! Speaker queues: requests to speak from the room and from home, run by the chair.
//! One fair queue per segment plus one for the whole event; pure, no I/O.

use serde::{Deserialize, Serialize};

use super::actor::{Actor, Role};
use super::rejection::Rejection;
use super::speaking::Standing;
use super::text::{clean_optional, Lang, Mode};
use super::time::Millis;

/// The event-wide queue, for open Q&A; the others are named by their segment id.
pub const EVENT_QUEUE: &str = "event";
/// Waiting entries a queue holds at most: a bound on memory and on every frame's size.
pub const MAX_WAITING: usize = 1000;
const MAX_TOPIC_CHARS: usize = 140;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// First come, first served.
    #[default]
    FirstCome,
    /// Remote and in-room requests in turn, so that neither side waits behind the other.
    Alternate,
    /// The side (of the event's sides) that has spoken least goes first, so that the floor
    /// is shared fairly between delegations.
    Balanced,
}

/// What a participant asks for, as on a delegate-microphone system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    PointOfOrder,
    Reply,
    #[default]
    Speak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Waiting,
    OnDeck,
    Speaking,
    Done,
    Withdrawn,
    Dismissed,
    /// Still waiting or on deck when its segment ended, in a queue that does not carry over.
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: u64,
    pub participant: String,
    pub name: String,
    pub affiliation: Option<String>,
    pub mode: Mode,
    pub lang: Lang,
    pub kind: RequestKind,
    pub topic: Option<String>,
    /// Joined with the speaker token: a panellist, who may have priority.
    pub panellist: bool,
    /// The programme speaker a panellist is, recognised by name: their floor time counts
    /// as that speaker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The side they speak for: an id of the plan's sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    pub state: EntryState,
    /// Placed by the chair (moved, or pushed back from on deck by a call): while it waits it
    /// keeps its place when others are re-ordered. Cleared when it is called.
    pub pinned: bool,
    pub requested_at: Millis,
    pub called_at: Option<Millis>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
}

/// One queue: who speaks, who is on deck, who waits, and how it is run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Bumped by every chair operation; chair commands name the version they saw.
    pub version: u64,
    pub policy: Policy,
    pub topics_public: bool,
    pub panellists_first: bool,
    pub speaking_limit_ms: Option<Millis>,
    /// When its segment ends, the entries still waiting or on deck move to the queue of the
    /// segment the show moves to (the event's when it ends); otherwise they expire.
    #[serde(default)]
    pub carry_over: bool,
    /// The list of speakers is closed: no new requests; those made stay.
    #[serde(default)]
    pub closed: bool,
    pub speaking: Option<QueueEntry>,
    pub on_deck: Option<QueueEntry>,
    pub waiting: Vec<QueueEntry>,
    /// The side that was called last (to speak or on deck, even if that entry then left),
    /// so that `Alternate` starts with the other.
    pub last_called: Option<Mode>,
    /// Source of entry ids.
    pub next_id: u64,
}

/// A queue operation, decoded and ready to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueOp {
    /// `side`: whom they speak for; `speaker`: the programme speaker a panellist is.
    Request {
        kind: RequestKind,
        topic: Option<String>,
        side: Option<String>,
        speaker: Option<String>,
    },
    Withdraw,
    Next,
    Call {
        entry: Option<u64>,
    },
    Start,
    Stop,
    Move {
        entry: u64,
        to: usize,
    },
    Dismiss {
        entry: u64,
    },
    Clear,
    /// The chair sets (or, with `None`, clears) the side an open entry speaks for.
    Side {
        entry: u64,
        side: Option<String>,
    },
    Settings(Settings),
}

/// Queue settings a chair may change; `None` leaves one as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub policy: Option<Policy>,
    pub topics_public: Option<bool>,
    pub panellists_first: Option<bool>,
    /// `Some(None)` removes the limit.
    pub speaking_limit_ms: Option<Option<Millis>>,
    pub carry_over: Option<bool>,
    pub closed: Option<bool>,
}

impl QueueOp {
    pub fn is_chair_op(&self) -> bool {
        !matches!(self, QueueOp::Request { .. } | QueueOp::Withdraw)
    }
}

fn invalid(message: &str) -> Rejection {
    Rejection::InvalidState(message.to_owned())
}

fn no_entry(entry: u64) -> Rejection {
    Rejection::InvalidField(format!("no open entry {entry} in this queue"))
}

/// Cleans a typed topic; an empty one counts as none.
pub fn parse_topic(topic: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(topic) = topic else { return Ok(None) };
    clean_optional(topic, MAX_TOPIC_CHARS).map_err(|e| Rejection::InvalidField(format!("topic {e}")))
}

impl Queue {
    pub fn new(speaking_limit_ms: Option<Millis>) -> Self {
        Queue { panellists_first: true, speaking_limit_ms, ..Queue::default() }
    }

    fn open_entries(&self) -> impl Iterator<Item = &QueueEntry> {
        self.speaking.iter().chain(self.on_deck.iter()).chain(self.waiting.iter())
    }

    /// The side `Alternate` puts first in each priority group: the opposite of the side called
    /// last. `None` under `FirstCome`, or before anyone was called (each group then starts
    /// with its earliest request).
    pub fn next_side(&self) -> Option<Mode> {
        match (self.policy, self.last_called) {
            (Policy::FirstCome | Policy::Balanced, _) | (Policy::Alternate, None) => None,
            (Policy::Alternate, Some(Mode::Remote)) => Some(Mode::InRoom),
            (Policy::Alternate, Some(Mode::InRoom)) => Some(Mode::Remote),
        }
    }

    /// Applies `op` for `actor` at `now`, with each side's floor time as it `stands` now;
    /// returns the entries it closed. On error the queue is unchanged.
    pub fn apply(
        &mut self,
        op: QueueOp,
        actor: &Actor,
        now: Millis,
        stands: &Standing,
    ) -> Result<Vec<QueueEntry>, Rejection> {
        let mut next = self.clone();
        let closed = next.transition(op.clone(), actor, now, stands)?;
        // Every operation ends here, so none can leave `waiting` out of policy order: a
        // removal or a move shifts the free entries' slots, and a call changes the side
        // `Alternate` takes next.
        next.reorder(stands);
        if op.is_chair_op() {
            next.version += 1;
        }
        *self = next;
        Ok(closed)
    }

    fn transition(
        &mut self,
        op: QueueOp,
        actor: &Actor,
        now: Millis,
        stands: &Standing,
    ) -> Result<Vec<QueueEntry>, Rejection> {
        let mut closed = Vec::new();
        match op {
            QueueOp::Request { kind, topic, side, speaker } => {
                if self.closed {
                    return Err(invalid("the list of speakers is closed"));
                }
                if self.open_entries().any(|e| e.participant == actor.participant) {
                    return Err(invalid("you already have a place in this queue"));
                }
                if self.waiting.len() >= MAX_WAITING {
                    return Err(invalid("the queue is full"));
                }
                self.next_id += 1;
                self.waiting.push(QueueEntry {
                    id: self.next_id,
                    participant: actor.participant.clone(),
                    name: actor.name.clone(),
                    affiliation: actor.affiliation.clone(),
                    mode: actor.mode,
                    lang: actor.lang,
                    kind,
                    topic,
                    panellist: actor.role == Role::Speaker,
                    speaker,
                    side,
                    state: EntryState::Waiting,
                    pinned: false,
                    requested_at: now,
                    called_at: None,
                    started_at: None,
                    ended_at: None,
                });
            }
            QueueOp::Withdraw => {
                if self.speaking.as_ref().is_some_and(|e| e.participant == actor.participant) {
                    return Err(invalid("you are speaking; the chair ends your turn"));
                }
                let entry = self
                    .take_where(|e| e.participant == actor.participant)
                    .ok_or_else(|| invalid("you have no place in this queue"))?;
                closed.push(close(entry, EntryState::Withdrawn, now));
            }
            QueueOp::Next => {
                if self.speaking.is_none() && self.on_deck.is_none() && self.waiting.is_empty() {
                    return Err(invalid("nobody is waiting"));
                }
                closed.extend(self.speaking.take().map(|e| close(e, EntryState::Done, now)));
                let speaker = match self.on_deck.take() {
                    Some(entry) => Some(entry),
                    None => self.take_head(now, stands),
                };
                self.speaking = speaker.map(|e| self.speak(e, now));
                self.on_deck = self.take_head(now, stands);
            }
            QueueOp::Call { entry } => {
                let called = match entry {
                    Some(id) => {
                        let index = self.waiting.iter().position(|e| e.id == id).ok_or_else(|| no_entry(id))?;
                        let entry = self.waiting.remove(index);
                        Some(self.call(entry, now))
                    }
                    None => self.take_head(now, stands),
                };
                let called = called.ok_or_else(|| invalid("nobody is waiting"))?;
                if let Some(mut previous) = self.on_deck.replace(called) {
                    previous.state = EntryState::Waiting;
                    previous.pinned = true;
                    self.waiting.insert(0, previous);
                }
            }
            QueueOp::Start => {
                let entry = self.on_deck.take().ok_or_else(|| invalid("nobody is on deck"))?;
                closed.extend(self.speaking.take().map(|e| close(e, EntryState::Done, now)));
                self.speaking = Some(self.speak(entry, now));
            }
            QueueOp::Stop => {
                let entry = self.speaking.take().ok_or_else(|| invalid("nobody is speaking"))?;
                closed.push(close(entry, EntryState::Done, now));
            }
            QueueOp::Move { entry, to } => {
                let from = self.waiting.iter().position(|e| e.id == entry).ok_or_else(|| no_entry(entry))?;
                let mut moved = self.waiting.remove(from);
                moved.pinned = true;
                self.waiting.insert(to.min(self.waiting.len()), moved);
            }
            QueueOp::Dismiss { entry } => {
                let found = self.take_where(|e| e.id == entry).ok_or_else(|| no_entry(entry))?;
                closed.push(close(found, EntryState::Dismissed, now));
            }
            QueueOp::Clear => {
                if self.on_deck.is_none() && self.waiting.is_empty() {
                    return Err(invalid("nobody is waiting"));
                }
                let cleared = self.on_deck.take().into_iter().chain(self.waiting.drain(..)).collect::<Vec<_>>();
                closed.extend(cleared.into_iter().map(|e| close(e, EntryState::Dismissed, now)));
            }
            QueueOp::Side { entry, side } => {
                let mut open = self.speaking.iter_mut().chain(self.on_deck.iter_mut()).chain(self.waiting.iter_mut());
                open.find(|e| e.id == entry).ok_or_else(|| no_entry(entry))?.side = side;
            }
            QueueOp::Settings(settings) => {
                self.policy = settings.policy.unwrap_or(self.policy);
                self.topics_public = settings.topics_public.unwrap_or(self.topics_public);
                self.panellists_first = settings.panellists_first.unwrap_or(self.panellists_first);
                self.speaking_limit_ms = settings.speaking_limit_ms.unwrap_or(self.speaking_limit_ms);
                self.carry_over = settings.carry_over.unwrap_or(self.carry_over);
                self.closed = settings.closed.unwrap_or(self.closed);
            }
        }
        Ok(closed)
    }

    /// Closes the queue of a segment that has ended: the speaker is done, and the entries
    /// still on deck or waiting, in their order, either expire or (under `carry_over`, when
    /// there is a queue to take them) are returned, to be carried there. `None` when nothing
    /// was open. Returns (closed, carried).
    pub fn end_segment(&mut self, has_receiver: bool, now: Millis) -> Option<(Vec<QueueEntry>, Vec<QueueEntry>)> {
        self.open_entries().next()?;
        let mut closed: Vec<QueueEntry> =
            self.speaking.take().map(|e| close(e, EntryState::Done, now)).into_iter().collect();
        let left = self.on_deck.take().into_iter().chain(self.waiting.drain(..)).collect::<Vec<_>>();
        let carried = if self.carry_over && has_receiver {
            left
        } else {
            closed.extend(left.into_iter().map(|e| close(e, EntryState::Expired, now)));
            Vec::new()
        };
        self.version += 1;
        Some((closed, carried))
    }

    /// Takes in entries carried over from an ended segment's queue, in their order, under new
    /// ids of this queue; each keeps its participant, kind and request time, so that this
    /// queue's policy places it as if it had asked here then. Returns, expired, those this
    /// queue cannot take: their participant already has a place here, or the queue is full.
    pub fn receive(&mut self, carried: Vec<QueueEntry>, now: Millis, stands: &Standing) -> Vec<QueueEntry> {
        let mut refused = Vec::new();
        for mut entry in carried {
            if self.waiting.len() >= MAX_WAITING || self.open_entries().any(|e| e.participant == entry.participant) {
                refused.push(close(entry, EntryState::Expired, now));
                continue;
            }
            self.next_id += 1;
            entry.id = self.next_id;
            entry.state = EntryState::Waiting;
            entry.pinned = false;
            entry.called_at = None;
            self.waiting.push(entry);
        }
        self.reorder(stands);
        refused
    }

    /// Places the waiting entries of a `Balanced` queue again by how the sides `stand` now
    /// (a turn has ended); returns whether the order changed.
    pub fn rebalance(&mut self, stands: &Standing) -> bool {
        if self.policy != Policy::Balanced {
            return false;
        }
        let before: Vec<u64> = self.waiting.iter().map(|e| e.id).collect();
        self.reorder(stands);
        self.waiting.iter().map(|e| e.id).ne(before)
    }

    /// Removes the open entry matching `find` from wherever it is.
    fn take_where(&mut self, find: impl Fn(&QueueEntry) -> bool) -> Option<QueueEntry> {
        if self.speaking.as_ref().is_some_and(&find) {
            return self.speaking.take();
        }
        if self.on_deck.as_ref().is_some_and(&find) {
            return self.on_deck.take();
        }
        let index = self.waiting.iter().position(find)?;
        Some(self.waiting.remove(index))
    }

    /// The first waiting entry in policy order, called.
    fn take_head(&mut self, now: Millis, stands: &Standing) -> Option<QueueEntry> {
        if self.waiting.is_empty() {
            return None;
        }
        // `queue_next` calls twice: the first call changes the side `Alternate` takes next.
        self.reorder(stands);
        let entry = self.waiting.remove(0);
        Some(self.call(entry, now))
    }

    fn call(&mut self, mut entry: QueueEntry, now: Millis) -> QueueEntry {
        entry.state = EntryState::OnDeck;
        entry.pinned = false;
        entry.called_at.get_or_insert(now);
        self.last_called = Some(entry.mode);
        entry
    }

    fn speak(&mut self, mut entry: QueueEntry, now: Millis) -> QueueEntry {
        entry.called_at.get_or_insert(now);
        entry.state = EntryState::Speaking;
        entry.started_at = Some(now);
        self.last_called = Some(entry.mode);
        entry
    }

    /// Puts the entries the chair did not place in policy order, leaving placed ones where
    /// they are.
    fn reorder(&mut self, stands: &Standing) {
        let mut free: Vec<QueueEntry> = Vec::new();
        let mut slots: Vec<Option<QueueEntry>> = Vec::with_capacity(self.waiting.len());
        for entry in self.waiting.drain(..) {
            if entry.pinned {
                slots.push(Some(entry));
            } else {
                slots.push(None);
                free.push(entry);
            }
        }
        let mut ordered = self.policy_order(free, stands).into_iter();
        self.waiting = slots.into_iter().filter_map(|slot| slot.or_else(|| ordered.next())).collect();
    }

    fn rank(&self, entry: &QueueEntry) -> (RequestKind, bool) {
        (entry.kind, !(self.panellists_first && entry.panellist))
    }

    fn policy_order(&self, mut entries: Vec<QueueEntry>, stands: &Standing) -> Vec<QueueEntry> {
        if self.policy == Policy::Balanced {
            // Within each priority group: the side with the least floor time, then the one
            // with the fewest turns; those who speak for no side are a side of their own.
            entries.sort_by_key(|e| (self.rank(e), stands.of(e.side.as_deref()), e.requested_at, e.id));
            return entries;
        }
        entries.sort_by_key(|e| (self.rank(e), e.requested_at, e.id));
        if self.policy == Policy::FirstCome {
            return entries;
        }
        let mut ordered = Vec::with_capacity(entries.len());
        let mut rest = entries.into_iter().peekable();
        while let Some(first) = rest.peek() {
            let rank = self.rank(first);
            let mut group = Vec::new();
            while let Some(entry) = rest.next_if(|e| self.rank(e) == rank) {
                group.push(entry);
            }
            ordered.extend(alternate(group, self.next_side()));
        }
        ordered
    }
}

/// Interleaves remote and in-room entries (each side in its own order), starting with
/// `next_side`, else with the side of the group's earliest request; when one side runs out
/// the other follows in order.
fn alternate(group: Vec<QueueEntry>, next_side: Option<Mode>) -> Vec<QueueEntry> {
    let Some(first_side) = next_side.or_else(|| group.first().map(|e| e.mode)) else { return group };
    let (mut ours, mut theirs): (Vec<_>, Vec<_>) = group.into_iter().partition(|e| e.mode == first_side);
    ours.reverse();
    theirs.reverse();
    let mut ordered = Vec::with_capacity(ours.len() + theirs.len());
    loop {
        match (ours.pop(), theirs.pop()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
        }
    }
}

fn close(mut entry: QueueEntry, state: EntryState, now: Millis) -> QueueEntry {
    entry.state = state;
    entry.ended_at = Some(now);
    entry
}

#[cfg(test)]
mod tests;
