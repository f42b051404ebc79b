//! The command dispatcher: `EventState::apply` checks a command against the actor's
//! authority and the current state, hands plan edits to `plan_edit`, and turns the rest
//! into the changes to log and publish, with what follows when a segment ends.

use super::actor::{Actor, Role};
use super::change::Change;
use super::command::{check_version, forbidden, Command};
use super::cues::StageMessage;
use super::live::{LiveState, ShowOp};
use super::queue::{QueueOp, EVENT_QUEUE};
use super::rejection::Rejection;
use super::state::EventState;
use super::target::Target;
use super::time::Millis;

impl EventState {
    /// Checks `command` against the actor's authority and the current state; on success
    /// the state has moved on and the changes to log and publish are returned.
    ///
    /// A stage message belongs to whoever had the floor when it was sent: when the floor
    /// passes (the next speaker, someone called from a queue, another segment) the message
    /// ends with it, unless the chair pinned it.
    pub fn apply(&mut self, command: &Command, actor: &Actor, now: Millis) -> Result<Vec<Change>, Rejection> {
        let (segment, speaker, since, speaking) = self.floor();
        let floor = (segment.map(str::to_owned), speaker.map(str::to_owned), since, speaking);
        let mut changes = self.command_changes(command, actor, now)?;
        self.follow_floor(command.name(), &mut changes, now);
        let (segment, speaker, since, speaking) = self.floor();
        let passed = (segment.map(str::to_owned), speaker.map(str::to_owned), since, speaking) != floor;
        if passed && self.stage.as_ref().is_some_and(|message| !message.pinned) {
            let cleared = Change::Stage { op: command.name().to_owned(), message: None };
            self.evolve(&cleared);
            changes.push(cleared);
        }
        Ok(changes)
    }

    /// Who has the floor: the segment and speaker live, by id (a plan edit that reorders
    /// them passes no floor), since when (the same speaker called again is a new turn), and
    /// whoever speaks from a queue.
    fn floor(&self) -> (Option<&str>, Option<&str>, Option<Millis>, Vec<u64>) {
        let segment = self.live.segment.and_then(|k| self.show.segments.get(k));
        let speaker = segment.zip(self.live.speaker).and_then(|(s, k)| s.speakers.get(k)).map(|p| p.id.as_str());
        let speaking = self.queues.values().filter_map(|q| q.speaking.as_ref().map(|e| e.id)).collect();
        (segment.map(|s| s.id.as_str()), speaker, self.live.speaker_started_at, speaking)
    }

    fn command_changes(&mut self, command: &Command, actor: &Actor, now: Millis) -> Result<Vec<Change>, Rejection> {
        if let Some((named, edit)) = command.plan_edit() {
            let changes = self.edit_plan(command, actor, named, edit, now)?;
            changes.iter().for_each(|change| self.evolve(change));
            return Ok(changes);
        }
        if let Some(changes) = self.voice(command, actor, now) {
            return changes;
        }
        if let Some(changes) = self.booth(command, actor, now) {
            return changes;
        }
        let op = command.name().to_owned();
        let change = match command.target(&self.show)? {
            Target::Show { version, op: show_op } => {
                if !actor.role.chairs() {
                    return Err(forbidden(actor, command, "only the moderator or organizer moves the show"));
                }
                check_version("the show", self.live.version, version)?;
                let live = self.live.transition(&self.show, &show_op, now)?;
                let ended = match self.live.segment {
                    Some(index) if show_op != ShowOp::Undo && live.segment != Some(index) => Some(index),
                    _ => None,
                };
                let mut changes =
                    ended.map(|index| self.segment_ended(index, &live, &op, actor, now)).unwrap_or_default();
                changes.insert(0, Change::Live { op, live, speaking: None });
                changes.iter().for_each(|change| self.evolve(change));
                return Ok(changes);
            }
            Target::Queue { name, version, op: queue_op } => {
                let queue =
                    self.queues.get(name).ok_or_else(|| Rejection::InvalidField(format!("no queue named {name:?}")))?;
                match version {
                    Some(_) if !actor.role.chairs() => {
                        return Err(forbidden(actor, command, "only the chair runs the queue"));
                    }
                    None if !actor.role.may_request() => {
                        return Err(forbidden(actor, command, "crew screens cannot ask to speak"));
                    }
                    Some(version) => check_version("the queue", queue.version, version)?,
                    None => {}
                }
                let queue_op = match queue_op {
                    QueueOp::Request { kind, topic, side, .. } if actor.role == Role::Speaker => {
                        // A panellist is the programme speaker of their name: they speak for
                        // that speaker's side unless they said otherwise.
                        let person = self.show.speaker_named(&actor.name, Some(name));
                        let side = side.or_else(|| person.and_then(|p| p.side.clone()));
                        QueueOp::Request { kind, topic, side, speaker: person.map(|p| p.id.clone()) }
                    }
                    op => op,
                };
                let mut state = queue.clone();
                let closed = state.apply(queue_op, actor, now, &self.speaking.standing(now))?;
                Change::Queue { op, queue: name.to_owned(), state: Box::new(state), closed, speaking: None }
            }
            Target::Cue(cue_op) => Change::Cue { op, cue: Box::new(self.cues.apply(cue_op, actor, now)?) },
            Target::Stage(signal) => {
                if !actor.role.chairs() {
                    return Err(forbidden(actor, command, "only the chair signals the speaker"));
                }
                if signal.is_none() && self.stage.is_none() {
                    return Err(Rejection::InvalidState("the stage screen shows no message".into()));
                }
                if let Some(speaker) = signal.as_ref().and_then(|s| s.speaker) {
                    let segment = self
                        .live
                        .segment
                        .ok_or_else(|| Rejection::InvalidState("no segment is live, so no speaker to aim at".into()))?;
                    if speaker >= self.show.segments[segment].speakers.len() {
                        return Err(Rejection::InvalidField(format!("the segment has no speaker {speaker}")));
                    }
                }
                let message = signal.map(|s| StageMessage {
                    kind: s.kind,
                    text: s.text,
                    at: now,
                    by: actor.name.clone(),
                    pinned: s.pinned,
                    speaker: s.speaker,
                });
                Change::Stage { op, message }
            }
        };
        self.evolve(&change);
        Ok(vec![change])
    }

    /// What follows from the end of segment `index` as the show moves to `live`: its queue
    /// closes, its cues still standing by close, and the stage message ends with it unless
    /// the chair pinned it.
    fn segment_ended(&self, index: usize, live: &LiveState, op: &str, actor: &Actor, now: Millis) -> Vec<Change> {
        let mut changes = self.queue_closed(index, live, op, now);
        changes.extend(
            self.cues
                .segment_ended(index, actor, now)
                .into_iter()
                .map(|cue| Change::Cue { op: op.to_owned(), cue: Box::new(cue) }),
        );
        if self.stage.as_ref().is_some_and(|message| !message.outlives_its_segment()) {
            changes.push(Change::Stage { op: op.to_owned(), message: None });
        }
        changes
    }

    /// The ended segment's queue closes, carrying its open requests to the queue of the
    /// segment now live (or, when the show ends, to the event's) or expiring them.
    fn queue_closed(&self, index: usize, live: &LiveState, op: &str, now: Millis) -> Vec<Change> {
        let name = &self.show.segments[index].id;
        let Some(mut source) = self.queues.get(name).cloned() else { return Vec::new() };
        let target_name = live.segment.map_or(EVENT_QUEUE, |k| self.show.segments[k].id.as_str());
        let target = self.queues.get(target_name).cloned();
        let Some((mut closed, carried)) = source.end_segment(target.is_some(), now) else { return Vec::new() };
        let target = target.filter(|_| !carried.is_empty()).map(|mut target| {
            closed.extend(target.receive(carried, now, &self.speaking.standing(now)));
            target
        });
        let mut changes = vec![Change::Queue {
            op: op.to_owned(),
            queue: name.clone(),
            state: Box::new(source),
            closed,
            speaking: None,
        }];
        changes.extend(target.map(|state| Change::Queue {
            op: op.to_owned(),
            queue: target_name.to_owned(),
            state: Box::new(state),
            closed: Vec::new(),
            speaking: None,
        }));
        changes
    }
}
