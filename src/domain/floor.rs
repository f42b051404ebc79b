//! Who holds the floor, as the turns the speaking record follows, and the record moving on
//! after each command: the command's last change of the show, a queue or the plan carries
//! it, so that replaying the log, and a client applying a change, is an assignment.

use super::change::Change;
use super::live::Phase;
use super::queue::{Policy, Queue};
use super::speaking::{Person, Turn};
use super::state::EventState;
use super::text::Localized;
use super::time::Millis;

impl EventState {
    /// The turns on the floor, each with whether its time runs: everyone speaking from a
    /// queue (from `started_at` until their turn ends; a hold does not stop them, as it does
    /// not stop their countdown), and the live segment's current programme speaker, whose
    /// time runs while the segment is not on hold and nobody speaks from a queue.
    pub(super) fn floor_turns(&self) -> Vec<(Turn, bool)> {
        let mut turns = Vec::new();
        for (name, queue) in &self.queues {
            let Some((entry, started)) = queue.speaking.as_ref().and_then(|e| Some((e, e.started_at?))) else {
                continue;
            };
            let programme = entry.speaker.as_deref().and_then(|id| self.show.speaker_by_id(id));
            let turn = Turn {
                id: format!("queue:{name}:{}:{started}", entry.id),
                person: programme.map_or_else(
                    || Person::Participant(entry.participant.clone()),
                    |(_, p)| Person::Speaker(p.id.clone()),
                ),
                name: programme.map_or_else(|| Localized::same(&entry.name), |(_, p)| p.name.clone()),
                side: entry.side.clone(),
                segment: name.clone(),
            };
            turns.push((turn, true));
        }
        let live = &self.live;
        let segment = live.segment.filter(|_| live.phase == Phase::Live).and_then(|k| self.show.segments.get(k));
        let speaker = segment.zip(live.speaker).and_then(|(s, k)| Some((s, s.speakers.get(k)?)));
        if let Some(((segment, person), started)) = speaker.zip(live.speaker_started_at) {
            let runs = live.held_since.is_none() && turns.is_empty();
            let turn = Turn {
                id: format!("speaker:{}:{}:{started}", segment.id, person.id),
                person: Person::Speaker(person.id.clone()),
                name: person.name.clone(),
                side: person.side.clone(),
                segment: segment.id.clone(),
            };
            turns.push((turn, runs));
        }
        turns
    }

    /// After a command's `changes`: the speaking record follows the floor at `now`. When it
    /// moved, each `balanced` queue is placed again by the sides' new floor time (the
    /// command's own change of that queue carries the new order, else one more change under
    /// its `op` does), and the last change of the show, a queue or the plan carries the record.
    pub(super) fn follow_floor(&mut self, op: &str, changes: &mut Vec<Change>, now: Millis) {
        let record = self.speaking.follow(&self.floor_turns(), now);
        if record == self.speaking {
            return;
        }
        let stands = record.standing(now);
        let balanced = |q: &&Queue| q.policy == Policy::Balanced && !q.waiting.is_empty();
        let queues: Vec<(String, Queue)> =
            self.queues.iter().filter(|(_, q)| balanced(q)).map(|(n, q)| (n.clone(), q.clone())).collect();
        for (name, mut queue) in queues {
            if !queue.rebalance(&stands) {
                continue;
            }
            let own = changes.iter_mut().rev().find_map(|change| match change {
                Change::Queue { queue: named, state, .. } if *named == name => Some(state),
                _ => None,
            });
            match own {
                Some(state) => **state = queue.clone(),
                None => changes.push(Change::Queue {
                    op: op.to_owned(),
                    queue: name.clone(),
                    state: Box::new(queue.clone()),
                    closed: Vec::new(),
                    speaking: None,
                }),
            }
            self.queues.insert(name, queue);
        }
        // The floor is made of the show, the queues and the plan, so a command that moved
        // the record changed one of them.
        let Some(carrier) = changes.iter_mut().rev().find_map(Change::speaking_mut) else { return };
        *carrier = Some(Box::new(record.clone()));
        self.speaking = record;
    }
}
