//! Joins: a connection welcomed with a snapshot, or with exactly the changes it missed when
//! it resumes from a seq the hub still holds, then made a member; listeners outside
//! websockets started the same way, and the overview that listeners and followers start from.

use tracing::debug;

use super::fanout::Listener;
use super::handle::{Listen, Overview, PlanNow, Start};
use super::members::{Member, ScreenInfo};
use super::presence::sees_everyone;
use super::{Hub, Joining};
use crate::clock::now_millis;
use serde_json::value::RawValue;

use crate::domain::{Actor, EventState, Role};
use crate::protocol::{
    encode, Audience, ErrorCode, FrameError, ResumeOutcome, ServerFrame, Snapshot, Tagger, View, You, PROTOCOL_VERSION,
};

/// The snapshot every attendee with nothing of their own in the state sees, encoded once
/// per seq, and the seq it is of: a flash crowd's welcomes splice the same bytes.
#[derive(Default)]
pub(super) struct SharedSnapshot(Option<(u64, Box<RawValue>)>);

impl SharedSnapshot {
    /// Whether `actor` sees what every attendee sees: an attendee with no question, vote or
    /// note of their own in the state.
    fn fits(state: &EventState, actor: &Actor) -> bool {
        actor.role == Role::Attendee && state.holds_nothing_of(&actor.participant)
    }

    /// Encodes the audience's snapshot of the state at `seq` if `actor` is to be welcomed
    /// with it and it is not encoded yet.
    pub(super) fn prepare(&mut self, state: &EventState, seq: u64, tagger: &Tagger, actor: &Actor) {
        if !Self::fits(state, actor) || self.0.as_ref().is_some_and(|(at, _)| *at == seq) {
            return;
        }
        let view = View { audience: Audience::Public, role: Role::Attendee, crew: &[], tagger, me: None };
        let text = serde_json::to_string(&view.snapshot(state)).expect("a snapshot serializes");
        self.0 = Some((seq, RawValue::from_string(text).expect("serde_json wrote JSON")));
    }

    /// The snapshot `actor` is welcomed with: the shared bytes when they fit and are of
    /// `seq` ([`SharedSnapshot::prepare`]), else their own view of the state.
    pub(super) fn for_actor<'a>(
        &'a self,
        state: &'a EventState,
        seq: u64,
        tagger: &'a Tagger,
        actor: &'a Actor,
    ) -> Snapshot<'a> {
        match &self.0 {
            Some((at, raw)) if *at == seq && Self::fits(state, actor) => Snapshot::Encoded(raw),
            _ => {
                let me = Some(actor.participant.as_str());
                let view = View { audience: Audience::of(actor.role), role: actor.role, crew: &actor.crew, tagger, me };
                Snapshot::View(Box::new(view.snapshot(state)))
            }
        }
    }
}

impl Hub {
    pub(super) fn join(&mut self, joining: Joining) {
        if self.members.len() >= self.max_members {
            let message = format!("this event is full ({} connections); try again later", self.max_members);
            joining.out.close(1013, "event full", Some(FrameError::new(ErrorCode::EventFull, message).encode()));
            return;
        }
        let outcome = match &joining.resume {
            None => ResumeOutcome::None,
            Some(from) if *from.epoch != *self.epoch => ResumeOutcome::Snapshot,
            Some(from) if from.seq > self.seq => {
                let message =
                    format!("seq {} is ahead of this server's {}; here is a fresh snapshot", from.seq, self.seq);
                let _ = joining.out.send(&FrameError::new(ErrorCode::BadResume, message).encode());
                ResumeOutcome::Snapshot
            }
            Some(from) if self.seq - from.seq <= self.recent.len() as u64 => ResumeOutcome::Replay,
            Some(_) => ResumeOutcome::Snapshot,
        };
        let replay_from = match (&outcome, &joining.resume) {
            (ResumeOutcome::Replay, Some(from)) => from.seq,
            _ => self.seq,
        };
        let actor = &joining.actor;
        self.presence.connect(actor, joining.screen, now_millis());
        if sees_everyone(actor.role) {
            // The list comes from the published state: publish now, so that it holds
            // everyone here, this client too.
            let _ = self.publish_presence();
        }
        if outcome != ResumeOutcome::Replay {
            self.audience_snapshot.prepare(&self.state, self.seq, &self.tagger, actor);
        }
        let snapshot = (outcome != ResumeOutcome::Replay)
            .then(|| self.audience_snapshot.for_actor(&self.state, self.seq, &self.tagger, actor));
        let welcome = encode(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            epoch: &self.epoch,
            seq: replay_from,
            resume: outcome,
            server_time: now_millis(),
            you: You {
                participant: &actor.participant,
                who: self.tagger.who(&actor.participant),
                role: actor.role,
                name: &actor.name,
                mode: actor.mode,
                lang: actor.lang,
            },
            snapshot,
            presence: Box::new(self.welcome_presence(actor.role, joining.resume.as_ref())),
        });
        let screen =
            joining.screen_setup.map(|(setup, address)| Box::new(ScreenInfo { setup, address, since: now_millis() }));
        let member =
            Member { conn: joining.conn, actor: joining.actor, out: joining.out, captions: joining.captions, screen };
        let missed = self.recent.iter().filter(|(seq, _)| *seq > replay_from).map(|(_, f)| f.for_member(&member));
        let captions = member.captions.map(|track| self.recent_captions(track));
        let link = self.link_down();
        let delivered = std::iter::once(&welcome)
            .chain(link.as_ref())
            .chain(missed)
            .chain(captions.as_ref())
            .all(|frame| member.out.send(frame).is_ok());
        if delivered {
            debug!(conn = joining.conn, role = member.actor.role.as_str(), ?outcome, "joined");
            self.connections(member.actor.role).inc();
            self.members.insert(member);
        } else {
            self.presence.disconnect(&member.actor.participant);
        }
    }

    pub(super) fn overview(&self) -> Overview {
        Overview { state: self.state.clone(), seq: self.seq, counts: self.counts() }
    }

    pub(super) fn plan_now(&self) -> PlanNow {
        PlanNow { show: self.state.show.clone(), version: self.state.plan_version }
    }

    /// Registers a listener after sending it what it missed, or a snapshot.
    pub(super) fn listen(&mut self, listen: Listen) {
        let Listen { role, after, frames, reply } = listen;
        let replay = after.filter(|&seq| seq <= self.seq && self.seq - seq <= self.recent.len() as u64);
        let start = match replay {
            Some(after) => {
                let missed = self.recent.iter().filter(|(seq, _)| *seq > after);
                if missed.map(|(_, f)| f.for_role(role, &[]).clone()).any(|frame| frames.try_send(frame).is_err()) {
                    return;
                }
                Start::Replayed
            }
            None => Start::Snapshot(Box::new(self.overview())),
        };
        if reply.send(start).is_ok() {
            self.listeners.push(Listener { role, frames });
        }
    }
}

#[cfg(test)]
mod tests;
