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

use crate::domain::Role;
use crate::protocol::{
    encode, Audience, ErrorCode, FrameError, ResumeOutcome, ServerFrame, Snapshot, View, You, PROTOCOL_VERSION,
};

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
        let audience = Audience::of(actor.role);
        self.presence.connect(actor, joining.screen, now_millis());
        if sees_everyone(actor.role) {
            // The list comes from the published state: publish now, so that it holds
            // everyone here, this client too, unless a presence fan-out is still going out.
            self.publish_presence();
        }
        // An attendee with nothing of their own in the state sees what every attendee sees:
        // that snapshot is encoded once while the state stands still (a flash crowd).
        let shared = outcome != ResumeOutcome::Replay
            && actor.role == Role::Attendee
            && self.state.holds_nothing_of(&actor.participant);
        if shared && self.audience_snapshot.as_ref().is_none_or(|(seq, _)| *seq != self.seq) {
            let view =
                View { audience: Audience::Public, role: Role::Attendee, crew: &[], tagger: &self.tagger, me: None };
            let text = serde_json::to_string(&view.snapshot(&self.state)).expect("a snapshot serializes");
            let raw = RawValue::from_string(text).expect("serde_json wrote JSON");
            self.audience_snapshot = Some((self.seq, raw));
        }
        let me = Some(actor.participant.as_str());
        let view = View { audience, role: actor.role, crew: &actor.crew, tagger: &self.tagger, me };
        let snapshot = match (outcome, &self.audience_snapshot) {
            (ResumeOutcome::Replay, _) => None,
            (_, Some((_, raw))) if shared => Some(Snapshot::Encoded(raw)),
            _ => Some(Snapshot::View(Box::new(view.snapshot(&self.state)))),
        };
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
