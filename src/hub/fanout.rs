//! The fan-out of changes: each change encoded once for each way it is seen, written to the
//! staff and the batch's senders at once, then to the audience in rounds between which the
//! next commands go first; sent on to listeners and followers outside websockets; and kept
//! for resuming clients.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;

use super::members::{is_staff, Member};
use super::{ConnId, Hub, RESUME_BUFFER};
use crate::domain::cues::CrewPosition;
use crate::domain::{Change, Role};
use crate::metrics::EventRole;
use crate::protocol::{
    crew_sees_as_chair, differs_by_audience, encode, owner, Audience, By, ChangeView, Routing, ServerFrame, Tagger,
    View,
};
use crate::store::LogEntry;
use crate::wire::Frame;

/// Attendees a change (or a caption line) is written to before the hub looks at its inbox
/// again: a command waits at most this many writes (split over the cores) behind them.
pub(super) const AUDIENCE_ROUND: usize = 1024;

/// One change encoded once for each way it is seen; the same bytes where views agree.
#[derive(Clone)]
pub(super) struct Frames {
    routing: Routing,
    chair: Frame,
    public: Frame,
    /// For the AV crew: the chair's frame or the public's, by change.
    crew: Frame,
    /// For connections the change is not for: only its seq.
    hidden: Frame,
    /// For the one participant who sees it unlike the rest of the public (a question's
    /// asker), and how they see it.
    owner: Option<(String, Frame)>,
    /// The change itself, for followers that keep a state of their own; shared, since a
    /// batch of votes carries thousands of ballots.
    change: std::sync::Arc<Change>,
}

impl Frames {
    pub(super) fn encode(entry: &LogEntry, tagger: &Tagger) -> Frames {
        let routing = Routing::of(&entry.change);
        let (seq, at) = (entry.seq, entry.at);
        let full = |audience, role, me| {
            let view = View { audience, role, crew: &[], tagger, me };
            let change = view.change(&entry.change);
            let by = By::of(&entry.actor, tagger);
            encode(&ServerFrame::Change { seq, at, by: Some(by), command: entry.command.as_deref(), change })
        };
        let chair = full(Audience::Chair, Role::Organizer, None);
        let public = if differs_by_audience(&entry.change) {
            full(Audience::Public, Role::Attendee, None)
        } else {
            chair.clone()
        };
        let owner = owner(&entry.change).map(|me| (me.to_owned(), full(Audience::Public, Role::Attendee, Some(me))));
        let crew = if crew_sees_as_chair(&entry.change) { chair.clone() } else { public.clone() };
        let hidden = encode(&ServerFrame::Change { seq, at, by: None, command: None, change: ChangeView::Hidden });
        Frames { routing, chair, public, crew, hidden, owner, change: std::sync::Arc::new(entry.change.clone()) }
    }

    pub(super) fn change(&self) -> &Change {
        &self.change
    }

    pub(super) fn for_member(&self, member: &Member) -> &Frame {
        match &self.owner {
            Some((me, frame))
                if *me == member.actor.participant && Audience::of(member.actor.role) == Audience::Public =>
            {
                frame
            }
            _ => self.for_role(member.actor.role, &member.actor.crew),
        }
    }

    pub(super) fn for_role(&self, role: Role, crew: &[CrewPosition]) -> &Frame {
        if !self.routing.reaches(role, crew) {
            return &self.hidden;
        }
        match (Audience::of(role), role) {
            (Audience::Chair, _) => &self.chair,
            (Audience::Public, Role::Av) => &self.crew,
            (Audience::Public, _) => &self.public,
        }
    }
}

/// A registered listener.
pub(super) struct Listener {
    pub(super) role: Role,
    pub(super) frames: mpsc::Sender<Frame>,
}

/// Changes on their way to the audience, in rounds: who is to get them, and how far they got.
pub(super) struct AudienceOut {
    /// The changes, oldest first, by seq: one, or several that caught up with each other on
    /// their way; each connection gets all of them in one write.
    changes: Vec<(u64, Frames)>,
    to: Vec<ConnId>,
    /// `to`, as a set, once a later change has caught up with these: `to` is then no longer
    /// simply the audience when the first was published.
    among: Option<HashSet<ConnId>>,
    next: usize,
    since: std::time::Instant,
    /// Frames that go to one connection right after the changes, in the same write (a
    /// vote's ack after the batch that applied it), so that the change still comes first.
    then: HashMap<ConnId, Vec<Frame>>,
    /// The audience's presence frame, when it was due as the change went out: last in the
    /// same write, to each of `to`.
    presence: Option<Frame>,
}

impl AudienceOut {
    fn new(seq: u64, frames: Frames, to: Vec<ConnId>, since: std::time::Instant) -> AudienceOut {
        AudienceOut {
            changes: vec![(seq, frames)],
            to,
            among: None,
            next: 0,
            since,
            then: HashMap::new(),
            presence: None,
        }
    }

    /// Whether this out brings the change with `seq` alone, and to everyone it was queued for.
    fn brings_only(&self, seq: u64) -> bool {
        self.next == 0 && self.among.is_none() && matches!(self.changes[..], [(only, _)] if only == seq)
    }

    /// Whether `conn` is among those still to get the change with `seq` from this out.
    fn brings(&self, seq: u64, conn: ConnId) -> bool {
        self.next == 0
            && self.changes.last().is_some_and(|(last, _)| *last == seq)
            && self.among.as_ref().is_none_or(|among| among.contains(&conn))
    }
}

impl Hub {
    pub(super) fn connections(&self, role: Role) -> prometheus_client::metrics::gauge::Gauge {
        let labels = EventRole { event: self.event.to_string(), role: role.as_str().to_owned() };
        self.metrics.connections.get_or_create(&labels).clone()
    }

    /// Writes a change to the staff and the batch's senders, and queues it for everyone
    /// else there is now (`continue_audience`). A member too slow to take it is closed, so
    /// that it reconnects and resumes.
    pub(super) fn publish(&mut self, seq: u64, frames: Frames) {
        let dropped = self.members.send_first(&self.senders, &|member| frames.for_member(member));
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
        let to: Vec<ConnId> = self.members.audience().filter(|conn| !self.senders.contains(conn)).collect();
        let since = std::time::Instant::now();
        self.queue_for_audience(seq, &frames, to, since);
        if self.audience_out.back().is_some_and(|out| out.brings_only(seq)) {
            let presence = self.presence_along();
            if let Some(out) = self.audience_out.back_mut() {
                out.presence = presence;
            }
        }
        // A listener that has fallen this far behind, or has gone, is dropped.
        self.listeners.retain(|l| l.frames.try_send(frames.for_role(l.role, &[]).clone()).is_ok());
        self.followers.retain(|f| f.try_send((seq, (*frames.change).clone())).is_ok());
        if self.recent.len() == RESUME_BUFFER {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, frames));
    }

    /// A change never waits for the fan-out of those before it: to whom they have still to
    /// reach, it goes in the same write as they; to the rest, in an out of its own behind.
    /// (The batch's senders are none of the former: their earlier changes went out first.)
    fn queue_for_audience(&mut self, seq: u64, frames: &Frames, mut to: Vec<ConnId>, since: std::time::Instant) {
        let Some(last) = self.audience_out.back_mut() else {
            return self.audience_out.push_back(AudienceOut::new(seq, frames.clone(), to, since));
        };
        if last.next > 0 {
            // Only the oldest is under way: its rest becomes an out of its own.
            last.to.drain(..last.next);
            last.next = 0;
            last.among = None;
        }
        let among = last.among.get_or_insert_with(|| last.to.iter().copied().collect());
        to.retain(|conn| !among.contains(conn));
        last.changes.push((seq, frames.clone()));
        if !to.is_empty() {
            self.audience_out.push_back(AudienceOut::new(seq, frames.clone(), to, since));
        }
    }

    /// How many changes the audience is behind the staff: from the oldest one still going
    /// out to the newest.
    pub(super) fn audience_behind(&self) -> usize {
        let oldest = self.audience_out.front().and_then(|out| out.changes.first());
        let newest = self.audience_out.back().and_then(|out| out.changes.last());
        match (oldest, newest) {
            (Some((oldest, _)), Some((newest, _))) => (newest - oldest + 1) as usize,
            _ => 0,
        }
    }

    /// Writes the oldest queued changes to their next round of the audience. Who joined
    /// since they were queued has them in their welcome; who left is skipped.
    pub(super) fn continue_audience(&mut self) {
        let Some(out) = self.audience_out.front_mut() else { return };
        let end = (out.next + AUDIENCE_ROUND).min(out.to.len());
        let round = &out.to[out.next..end];
        let dropped = match (&out.changes[..], out.then.is_empty(), &out.presence) {
            ([(_, frames)], true, None) => self.members.send_some(round, &|member| frames.for_member(member)),
            (changes, _, presence) => {
                let then = &out.then;
                let frames_for = |member: &Member| -> Vec<&Frame> {
                    let own = changes.iter().map(|(_, frames)| frames.for_member(member));
                    own.chain(then.get(&member.conn).into_iter().flatten()).chain(presence).collect()
                };
                let dropped = self.members.send_each(round, &frames_for);
                round.iter().for_each(|conn| {
                    out.then.remove(conn);
                });
                dropped
            }
        };
        out.next = end;
        if out.next == out.to.len() {
            let since = out.since;
            self.audience_out.pop_front();
            self.metrics.fanout_seconds.observe(since.elapsed().as_secs_f64());
        }
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    /// Sends `frame` to `conn` right after the change with `seq`, just published: now to
    /// the staff, in the audience round that brings it the change to the rest (who were
    /// all members when it was published, so each is among those it is going to).
    pub(super) fn send_after_published(&mut self, conn: ConnId, seq: u64, frame: Frame) {
        let audience = self.members.get(conn).is_some_and(|m| !is_staff(m.actor.role));
        match self.audience_out.iter_mut().find(|out| audience && out.brings(seq, conn)) {
            Some(out) => out.then.entry(conn).or_default().push(frame),
            None => self.send_to(conn, frame),
        }
    }

    /// Sends `frame` to `conn` after every change published so far: in the audience round
    /// of the last out still to reach it, else now. (Rounds go oldest first, so once the
    /// last has passed `conn`, all have.)
    pub(super) fn send_after_all(&mut self, conn: ConnId, frame: Frame) {
        let audience = self.members.get(conn).is_some_and(|m| !is_staff(m.actor.role));
        let ahead = |out: &&mut AudienceOut| out.to[out.next..].contains(&conn);
        match self.audience_out.iter_mut().rev().find(|out| audience && ahead(out)) {
            Some(out) => out.then.entry(conn).or_default().push(frame),
            None => self.send_to(conn, frame),
        }
    }

    pub(super) fn send_to(&mut self, conn: ConnId, frame: Frame) {
        if self.members.get(conn).is_some() && !self.members.deliver(conn, &frame) {
            self.remove_member(conn);
        }
    }

    pub(super) fn remove_member(&mut self, conn: ConnId) {
        if let Some(member) = self.members.remove(conn) {
            self.connections(member.actor.role).dec();
            self.presence.disconnect(&member.actor.participant);
        }
    }
}
