//! Presence as the hub publishes it: the joins and leaves of each tick coalesced into one
//! diff for the chair and crew, written at once; the audience's head counts at most twice a
//! second, written in rounds, so that churn in a crowd costs a fixed number of writes a
//! second whatever the number of joins; what the chair, the crew and the audience see of
//! it, in welcomes and pages; the event's counts (in a cluster, every node's, as the
//! chair's list and the programme speakers here are); the attendance history's samples.

use std::time::{Duration, Instant};

use super::fanout::AUDIENCE_ROUND;
use super::members::{is_staff, Member};
use super::{ConnId, Hub, ResumeFrom};
use crate::clock::now_millis;
use crate::domain::presence::{speakers_present, Counts, Cursor};
use crate::domain::text::Mode;
use crate::domain::Role;
use crate::protocol::{cursor_text, encode, ErrorCode, FrameError, PresenceView, PresentView, RecentView, ServerFrame};
use crate::store::nats;
use crate::wire::Frame;

/// How often joins and leaves are published to the chair and crew, coalesced into one diff.
pub const PRESENCE_EVERY: Duration = Duration::from_millis(250);
/// While people keep coming and going, everyone else gets a presence frame only every this
/// many ticks: each one is a write to every attendee, so a crowd in motion must not set the
/// pace. Once a tick finds nothing new, the frame goes at once.
const AUDIENCE_TICKS: u32 = 4;
/// Between two of the audience's frames at least this long, however they go (on their own,
/// or with a change): at most two a second, however often the show moves.
const AUDIENCE_GAP: Duration = Duration::from_millis(500);
/// Members a presence fan-out writes to before it lets waiting commands and joins go first.
const PRESENCE_ROUND: usize = AUDIENCE_ROUND;
/// How often the attendance history takes a sample.
pub(super) const ATTENDANCE_EVERY: Duration = Duration::from_secs(60);
/// Entries of the full presence list in a chair's welcome; more come by `presence_page`.
const PRESENCE_FIRST_PAGE: usize = 200;

/// The chair and the crew see everyone present; attendees see counts and recent joins.
pub(super) fn sees_everyone(role: Role) -> bool {
    matches!(role, Role::Organizer | Role::Moderator | Role::Av)
}

/// The audience's presence frames: the one still being written out and who is still to get
/// it (members who join meanwhile are welcomed with presence as it is), whether what they
/// see has changed since, and the ticks since the last and when it went.
#[derive(Default)]
pub(super) struct AudiencePresence {
    out: Option<(Frame, Vec<ConnId>)>,
    due: bool,
    ticks: u32,
    last: Option<Instant>,
}

impl AudiencePresence {
    /// Whether a frame is due and may go now.
    fn may_go(&self) -> bool {
        self.due && self.out.is_none() && self.last.is_none_or(|last| last.elapsed() >= AUDIENCE_GAP)
    }

    fn going(&mut self) {
        (self.due, self.ticks, self.last) = (false, 0, Some(Instant::now()));
    }
}

impl Hub {
    /// The event's counts: this node's, and in a cluster every other live node's too.
    pub(super) fn counts(&self) -> Counts {
        let ours = self.presence.counts();
        match &self.cluster {
            Some(cluster) => nats::add(&ours, &cluster.others.borrow()),
            None => ours,
        }
    }

    /// Publishes the joins and leaves since the last tick to the chair and crew, and
    /// presence as it is now to everyone else when it has changed since their last frame,
    /// [`AUDIENCE_GAP`] has passed since, and either it has settled (this tick found nothing
    /// new) or [`AUDIENCE_TICKS`] have passed.
    pub(super) fn presence_tick(&mut self) {
        let changed = self.publish_presence();
        let audience = &mut self.audience_presence;
        audience.ticks = audience.ticks.saturating_add(1);
        if !audience.may_go() || (changed && audience.ticks < AUDIENCE_TICKS) {
            return;
        }
        audience.going();
        let public = encode(&ServerFrame::Presence(self.presence_view(false, false)));
        // Rounds are taken from the end of the list: the staff's part is the first.
        let to = self.members.iter().rev().filter(|m| !sees_everyone(m.actor.role)).map(|m| m.conn).collect();
        self.audience_presence.out = Some((public, to));
        self.continue_presence();
    }

    /// Publishes the joins and leaves since the last tick to the chair and crew, at once:
    /// they are a handful of consoles and screens. The audience's frame waits for a tick or
    /// a change to go with. Whether there were any.
    pub(super) fn publish_presence(&mut self) -> bool {
        let Some(diff) = self.presence.diff() else { return false };
        self.audience_presence.due = true;
        let mut full = self.presence_view(true, false);
        full.joined = Some(diff.joined.iter().map(PresentView::of).collect());
        full.left = Some(diff.left.iter().map(|p| self.tagger.who(p)).collect());
        let full = encode(&ServerFrame::Presence(full));
        let to: Vec<ConnId> =
            self.members.iter().filter(|member| sees_everyone(member.actor.role)).map(|member| member.conn).collect();
        let dropped = self.members.send_some(&to, &|_| &full);
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
        true
    }

    /// The audience's presence frame, when it is due and may go with the change now going
    /// out to them: in the same write as the change to each attendee, since a frame of its
    /// own would cost each a write more; at once to the rest of those who see it (the
    /// staff's screens and the change's senders, who have the change already).
    pub(super) fn presence_along(&mut self) -> Option<Frame> {
        let audience = &mut self.audience_presence;
        if !audience.may_go() {
            return None;
        }
        audience.going();
        let public = encode(&ServerFrame::Presence(self.presence_view(false, false)));
        let first = |member: &Member| {
            !sees_everyone(member.actor.role)
                && (is_staff(member.actor.role) || self.senders.binary_search(&member.conn).is_ok())
        };
        let first: Vec<ConnId> = self.members.iter().filter(|member| first(member)).map(|m| m.conn).collect();
        let dropped = self.members.send_some(&first, &|_| &public);
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
        Some(public)
    }

    /// Whether the audience's presence frame is still being written out.
    pub(super) fn presence_going_out(&self) -> bool {
        self.audience_presence.out.is_some()
    }

    /// Writes the audience's presence frame to the next round of members.
    pub(super) fn continue_presence(&mut self) {
        let Some((public, to)) = &mut self.audience_presence.out else { return };
        let round = to.split_off(to.len().saturating_sub(PRESENCE_ROUND));
        let dropped = self.members.send_some(&round, &|_| &*public);
        if to.is_empty() {
            self.audience_presence.out = None;
        }
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    pub(super) async fn sample_attendance(&mut self) {
        let mut sample = self.presence.sample(now_millis());
        if let Some(cluster) = &self.cluster {
            let others = cluster.others.borrow();
            (sample.in_room, sample.remote) = (sample.in_room + others.in_room, sample.remote + others.remote);
        }
        self.journal.record_attendance(&self.event, sample).await;
    }

    /// Presence as a viewer sees it: counts, recent joins and which speakers are here; for
    /// the chair and crew (`full`) in a welcome also the attendance history.
    fn presence_view(&self, full: bool, welcome: bool) -> PresenceView<'_> {
        let speakers = speakers_present(self.presence.speaker_names().map(|(name, _)| name), &self.programme);
        let in_room = self.presence.speaker_names().filter(|(_, mode)| *mode == Mode::InRoom).map(|(name, _)| name);
        let speakers_in_room = speakers_present(in_room, &self.programme);
        PresenceView {
            version: self.presence.version(),
            counts: self.counts(),
            listed: full.then(|| self.presence.published_total()),
            recent: self.presence.recent().into_iter().map(RecentView::of).collect(),
            speakers,
            speakers_in_room,
            history: (full && welcome).then(|| self.presence.history()),
            list: None,
            joined: None,
            left: None,
            next: None,
        }
    }

    /// A welcome's presence: for the chair and crew, the joins and leaves missed since the
    /// version a reconnecting client names while they are kept, else the first page of the
    /// list and where the next one starts.
    pub(super) fn welcome_presence(&self, role: Role, resume: Option<&ResumeFrom>) -> PresenceView<'_> {
        let mut view = self.presence_view(sees_everyone(role), true);
        if !sees_everyone(role) {
            return view;
        }
        // Presence versions are each node's own: in a cluster, one from another node means
        // nothing here.
        let same_epoch = resume.filter(|r| *r.epoch == *self.epoch && self.cluster.is_none());
        match same_epoch.and_then(|r| r.presence).and_then(|version| self.presence.since(version)) {
            Some(missed) => {
                let joined = missed.joined.iter().filter_map(|p| self.presence.published(&p.participant));
                view.joined = Some(joined.map(PresentView::of).collect());
                view.left = Some(missed.left.iter().map(|p| self.tagger.who(p)).collect());
            }
            None => {
                let (entries, next) = self.page(None, PRESENCE_FIRST_PAGE);
                view.list = Some(entries);
                view.next = next;
            }
        }
        view
    }

    /// A page of the published list after `after`, and the cursor of the next one.
    fn page(&self, after: Option<&Cursor>, limit: usize) -> (Vec<PresentView<'_>>, Option<String>) {
        let page = self.presence.page(after, limit + 1);
        let next =
            (page.len() > limit).then(|| cursor_text(&(page[limit - 1].name.clone(), page[limit - 1].who.clone())));
        (page.into_iter().take(limit).map(PresentView::of).collect(), next)
    }

    pub(super) fn presence_page(&mut self, conn: ConnId, id: &str, after: Option<Cursor>, limit: usize) {
        let Some(member) = self.members.get(conn) else { return };
        if !sees_everyone(member.actor.role) {
            let error = FrameError {
                id: Some(id.to_owned()),
                code: ErrorCode::Forbidden,
                message: "only the chair and the crew see the full list".into(),
            };
            self.send_to(conn, error.encode());
            return;
        }
        let (entries, next) = self.page(after.as_ref(), limit);
        let (version, total) = (self.presence.version(), self.presence.published_total());
        let frame = encode(&ServerFrame::PresencePage { id, version, next, total, entries });
        self.send_to(conn, frame);
    }
}
