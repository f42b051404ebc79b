//! One command against the event's state: a retried command answered with its first
//! outcome, else the domain's verdict, each change given the next seq, a warning when no
//! crew screen shows a cue, and the outcome counted.

use super::retries::Outcome;
use super::{programme, Hub};
use crate::domain::{Actor, Change, Command, Millis, Role};
use crate::metrics::CommandLabels;
use crate::protocol::{FrameError, Routing};
use crate::store::LogEntry;

/// A command's outcome, and whether it was applied in this batch (and so holds only if
/// the batch is stored).
pub(super) struct Step {
    pub(super) outcome: Outcome,
    pub(super) acked: bool,
}

impl Hub {
    /// Applies one command of a batch, appending its changes to `entries`.
    pub(super) fn step(
        &mut self,
        actor: &Actor,
        id: &str,
        command: &Command,
        now: Millis,
        entries: &mut Vec<LogEntry>,
    ) -> Step {
        if let Some(outcome) = self.retries.get(&actor.participant, id, now) {
            return Step { outcome: outcome.clone(), acked: false };
        }
        let step = self.apply(actor, id, command, now, entries);
        self.count(command, &step.outcome);
        step
    }

    pub(super) fn count(&self, command: &Command, outcome: &Outcome) {
        let outcome = match outcome {
            Outcome::Ack { .. } => "ack".to_owned(),
            Outcome::Rejected(error) => {
                self.metrics.error(&error.code.as_str());
                error.code.as_str()
            }
        };
        let labels = CommandLabels { event: self.event.to_string(), command: command.name().to_owned(), outcome };
        self.metrics.commands.get_or_create(&labels).inc();
    }

    pub(super) fn apply(
        &mut self,
        actor: &Actor,
        id: &str,
        command: &Command,
        now: Millis,
        entries: &mut Vec<LogEntry>,
    ) -> Step {
        match self.state.apply(command, actor, now) {
            Ok(changes) => {
                if changes.iter().any(|change| matches!(change, Change::Plan { .. })) {
                    self.programme = programme(&self.state);
                    self.presence.republish();
                }
                let warning = changes.iter().find_map(|change| self.unwatched(change));
                for change in changes {
                    self.seq += 1;
                    let command = Some(id.to_owned());
                    entries.push(LogEntry { seq: self.seq, at: now, actor: actor.clone(), command, change });
                }
                let outcome = Outcome::Ack { seq: self.seq, warning };
                self.retries.remember(&actor.participant, id, outcome.clone(), now);
                Step { outcome, acked: true }
            }
            Err(rejection) => {
                let outcome = Outcome::Rejected(FrameError::rejected(id, &rejection));
                self.retries.remember(&actor.participant, id, outcome.clone(), now);
                Step { outcome, acked: false }
            }
        }
    }

    /// A warning for the sender of a cue that no crew screen will show.
    fn unwatched(&self, change: &Change) -> Option<String> {
        // A plan edit re-points cues without sending them anywhere new.
        let Change::Cue { cue, op } = change else { return None };
        if !op.starts_with("cue_") {
            return None;
        }
        let routing = Routing::of(change);
        let watched = self.members.iter().any(|m| m.actor.role == Role::Av && routing.reaches(Role::Av, &m.actor.crew));
        let screen =
            cue.target.position().map_or("cue screen".to_owned(), |p| format!("{p:?} cue screen").to_lowercase());
        (!watched).then(|| format!("nobody is watching the {screen}"))
    }
}
