//! A plan edit applied to the running event: checked against what has run and who has the
//! floor, then laid out as changes so that the show, the queues, the cues and the stage
//! screen follow the new plan. Building the new plan itself is `plan`'s.

use std::sync::Arc;

use super::actor::{Actor, Role};
use super::change::Change;
use super::command::{check_version, forbidden, Command};
use super::cues::{Cue, StageMessage};
use super::live::{ActualRun, LiveState, Phase};
use super::plan::{self, PlanOp};
use super::polls::{Poll, PollState};
use super::queue::{Queue, EVENT_QUEUE};
use super::rejection::Rejection;
use super::show::RunOfShow;
use super::state::{segment_queue, EventState};
use super::text;
use super::time::Millis;

impl EventState {
    /// Checks a plan edit and lays out what it does: the requests of removed segments
    /// expire, the plan is replaced, the live state, the cues and the new segments' queues
    /// follow it so that the show stays on the same segment and speaker.
    pub(super) fn edit_plan(
        &self,
        command: &Command,
        actor: &Actor,
        named: u64,
        edit: Option<PlanOp<'_>>,
        now: Millis,
    ) -> Result<Vec<Change>, Rejection> {
        if !actor.role.chairs() {
            return Err(forbidden(actor, command, "only the moderator or organizer edits the plan"));
        }
        if matches!(command, Command::PlanUpdateAutomations { .. }) && actor.role != Role::Organizer {
            return Err(forbidden(actor, command, "only the organizer edits the automations"));
        }
        check_version("the plan", self.plan_version, named)?;
        if matches!(command, Command::PlanReplace { force: false, .. }) && self.live.phase == Phase::Live {
            return Err(Rejection::InvalidState(
                "the show is live; replacing its whole plan needs force (edit it segment by segment instead)".into(),
            ));
        }
        let old = &self.show;
        let moved = match &edit {
            Some(PlanOp::Move { segment, .. }) => Some(*segment),
            _ => None,
        };
        let plan = match edit {
            Some(edit) => plan::edited(old, edit)?,
            None => {
                let previous = self
                    .plan_history
                    .last()
                    .ok_or_else(|| Rejection::InvalidState("there is no plan edit to undo".into()))?;
                plan::retimed((**previous).clone())
            }
        };
        let places = Places { old, new: &plan };
        self.keeps_the_past(&places, moved)?;
        if let Some(index) = self.live.segment {
            if places.segment(index).is_none() {
                return Err(Rejection::InvalidState(format!(
                    "{:?} is live and cannot be removed; move the show on first",
                    old.segments[index].id
                )));
            }
            if let Some(speaker) = self.live.speaker {
                if places.speaker(index, speaker).is_none() {
                    return Err(Rejection::InvalidState(format!(
                        "{} is speaking and cannot be removed; move to the next speaker first",
                        old.segments[index].speakers[speaker].name.en
                    )));
                }
            }
        }
        let op = command.name().to_owned();
        let mut changes = Vec::new();
        // Receivers of carried requests, in the order they first received, so that a queue
        // that takes from two removed segments is sent once, with both.
        let mut receivers: Vec<(String, Queue)> = Vec::new();
        for (k, segment) in old.segments.iter().enumerate().filter(|(_, s)| plan.segment_index(&s.id).is_none()) {
            let Some(mut queue) = self.queues.get(&segment.id).cloned() else { continue };
            // As when a segment ends: carried to the segment that takes its place (the next
            // one that stays), or to the event's queue when none follows.
            let receiver = old.segments[k + 1..]
                .iter()
                .find(|s| plan.segment_index(&s.id).is_some())
                .map_or(EVENT_QUEUE, |s| s.id.as_str());
            let Some((mut closed, carried)) = queue.end_segment(self.queues.contains_key(receiver), now) else {
                continue;
            };
            if !carried.is_empty() {
                let at = match receivers.iter().position(|(name, _)| name == receiver) {
                    Some(at) => at,
                    None => {
                        receivers.push((receiver.to_owned(), self.queues[receiver].clone()));
                        receivers.len() - 1
                    }
                };
                closed.extend(receivers[at].1.receive(carried, now, &self.speaking.standing(now)));
            }
            changes.push(Change::Queue {
                op: op.clone(),
                queue: segment.id.clone(),
                state: Box::new(queue),
                closed,
                speaking: None,
            });
        }
        changes.extend(receivers.into_iter().map(|(queue, state)| Change::Queue {
            op: op.clone(),
            queue,
            state: Box::new(state),
            closed: Vec::new(),
            speaking: None,
        }));
        let live = places.live(&self.live);
        let cues: Vec<Cue> = self
            .cues
            .cues
            .iter()
            .filter_map(|cue| {
                let segment = cue.segment.and_then(|s| places.segment(s));
                (segment != cue.segment).then(|| Cue { segment, ..cue.clone() })
            })
            .collect();
        // A message aimed at one speaker follows them, and ends with them when they are gone.
        let stage = match (&self.stage, self.live.segment) {
            (Some(message @ StageMessage { speaker: Some(k), .. }), Some(segment)) => {
                match places.speaker(segment, *k) {
                    Some(moved) if moved == *k => None,
                    moved => Some(moved.map(|speaker| StageMessage { speaker: Some(speaker), ..message.clone() })),
                }
            }
            _ => None,
        };
        let added: Vec<(String, Queue)> = plan
            .segments
            .iter()
            .filter(|s| !self.queues.contains_key(&s.id))
            .map(|s| (s.id.clone(), segment_queue(s)))
            .collect();
        // The plan's polls the event does not have yet, or has as drafts worded otherwise, go
        // to the chairs' poll lists as well as in the plan.
        let drafted: Vec<Poll> = plan
            .prepared_polls
            .iter()
            .filter(|def| self.polls.get(&def.id).map_or(true, |p| p.state == PollState::Draft && p.def != **def))
            .map(|def| Poll::draft(def.clone()))
            .collect();
        changes.push(Change::Plan {
            op: op.clone(),
            plan_version: self.plan_version + 1,
            plan: Arc::new(plan),
            speaking: None,
        });
        changes.extend(drafted.into_iter().map(|poll| Change::Poll { op: op.clone(), poll: Box::new(poll) }));
        if live != self.live {
            changes.push(Change::Live {
                op: op.clone(),
                live: LiveState { version: self.live.version + 1, ..live },
                speaking: None,
            });
        }
        changes.extend(added.into_iter().map(|(queue, state)| Change::Queue {
            op: op.clone(),
            queue,
            state: Box::new(state),
            closed: Vec::new(),
            speaking: None,
        }));
        changes.extend(cues.into_iter().map(|cue| Change::Cue { op: op.clone(), cue: Box::new(cue) }));
        changes.extend(stage.map(|message| Change::Stage { op, message }));
        Ok(changes)
    }

    /// No plan edit re-plans what has run: the segments that ran or are running stay, in
    /// their order, and nothing is placed (added, moved, brought back by an undo) among them,
    /// where `next` would never reach it and the record would show it as skipped. A segment
    /// skipped earlier may still be moved on, after them.
    fn keeps_the_past(&self, places: &Places<'_>, moved: Option<&str>) -> Result<(), Rejection> {
        let mut ran: Vec<usize> = self.live.actual.iter().map(|run| run.segment).chain(self.live.segment).collect();
        ran.sort_unstable();
        ran.dedup();
        let Some(&last) = ran.last() else { return Ok(()) };
        let has_run = |index: usize| places.old.segments[index].id.as_str();
        if let Some(index) = moved.and_then(|id| places.old.segment_index(id)).filter(|k| ran.contains(k)) {
            let what = if Some(index) == self.live.segment { "is running" } else { "has run" };
            return Err(Rejection::InvalidState(format!("{:?} {what} and stays where it is", has_run(index))));
        }
        let mut new_places = Vec::with_capacity(ran.len());
        for &index in &ran {
            let place = places.segment(index).ok_or_else(|| {
                Rejection::InvalidState(format!("{:?} has run; it stays in the plan with its record", has_run(index)))
            })?;
            new_places.push(place);
        }
        if new_places.windows(2).any(|pair| pair[0] > pair[1]) {
            return Err(Rejection::InvalidState(
                "segments that have run keep their order; only what is still to come can move".into(),
            ));
        }
        let boundary = places.segment(last).unwrap_or_default();
        for (index, segment) in places.new.segments.iter().enumerate().take(boundary) {
            let was = places.old.segment_index(&segment.id);
            let moved_into_the_past = match was {
                None => true,
                Some(was) => was > last,
            };
            if moved_into_the_past {
                return Err(Rejection::InvalidState(format!(
                    "{:?} would come at {} among segments that have already run, where the show would never reach it; \
                     place it after {:?}",
                    segment.id,
                    index + 1,
                    has_run(last)
                )));
            }
        }
        Ok(())
    }
}

/// Where a segment and speaker of the plan before an edit are in the plan after it:
/// segments by id, speakers by name, so that no edit moves the show.
struct Places<'a> {
    old: &'a RunOfShow,
    new: &'a RunOfShow,
}

impl Places<'_> {
    fn segment(&self, index: usize) -> Option<usize> {
        self.new.segment_index(&self.old.segments.get(index)?.id)
    }

    /// By id; plans stored before speakers had ids match by name.
    fn speaker(&self, segment: usize, speaker: usize) -> Option<usize> {
        let old = self.old.segments.get(segment)?.speakers.get(speaker)?;
        let speakers = &self.new.segments[self.segment(segment)?].speakers;
        if !old.id.is_empty() {
            return speakers.iter().position(|s| s.id == old.id);
        }
        let name = text::match_key(&old.name.en);
        speakers.iter().position(|s| text::match_key(&s.name.en) == name)
    }

    /// A live state's segment and speaker in the new plan; `None` when either is gone.
    fn place(&self, live: &LiveState) -> Option<(Option<usize>, Option<usize>)> {
        let Some(segment) = live.segment else { return Some((None, None)) };
        let speaker = match live.speaker {
            Some(k) => Some(self.speaker(segment, k)?),
            None => None,
        };
        Some((Some(self.segment(segment)?), speaker))
    }

    /// `live` pointed into the new plan. The record drops runs of removed segments; undo
    /// keeps only the states after the latest one that no longer has a place.
    fn live(&self, live: &LiveState) -> LiveState {
        let mut next = live.clone();
        if let Some((segment, speaker)) = self.place(live) {
            (next.segment, next.speaker) = (segment, speaker);
        }
        next.actual = live
            .actual
            .iter()
            .filter_map(|run| Some(ActualRun { segment: self.segment(run.segment)?, ..run.clone() }))
            .collect();
        let kept = live.history.iter().rposition(|state| self.place(state).is_none()).map_or(0, |k| k + 1);
        next.history = live.history[kept..]
            .iter()
            .map(|state| {
                let mut state = self.live(state);
                state.history = Vec::new();
                state
            })
            .collect();
        next
    }
}
