//! Presence as the hub publishes it: the joins and leaves of each tick coalesced into one
//! frame per audience and written in rounds; what the chair, the crew and the audience see
//! of it, in welcomes and pages; the event's counts (in a cluster, every node's, as the
//! chair's list and the programme speakers here are); the attendance history's samples.

use std::time::Duration;

use super::fanout::AUDIENCE_ROUND;
use super::{ConnId, Hub, ResumeFrom};
use crate::clock::now_millis;
use crate::domain::presence::{speakers_present, Counts, Cursor};
use crate::domain::text::Mode;
use crate::domain::Role;
use crate::protocol::{cursor_text, encode, ErrorCode, FrameError, PresenceView, PresentView, RecentView, ServerFrame};
use crate::store::nats;
use crate::wire::Frame;

/// How often joins and leaves are published, coalesced into one diff.
pub const PRESENCE_EVERY: Duration = Duration::from_millis(250);
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

/// A presence frame for the chair and crew, one for everyone else, and who is still to get
/// theirs. Members who join meanwhile are welcomed with presence as it is, so need neither.
pub(super) struct PresenceOut {
    full: Frame,
    public: Frame,
    to: Vec<ConnId>,
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

    /// Publishes the joins and leaves since the last tick as one frame per audience. While
    /// the last such frames are still being written out, newer joins and leaves wait for the
    /// next tick.
    pub(super) fn publish_presence(&mut self) {
        if self.presence_out.is_some() {
            return;
        }
        let Some(diff) = self.presence.diff() else { return };
        let public = encode(&ServerFrame::Presence(self.presence_view(false, false)));
        let mut full = self.presence_view(true, false);
        full.joined = Some(diff.joined.iter().map(|p| PresentView::of(p, &self.tagger)).collect());
        full.left = Some(diff.left.iter().map(|p| self.tagger.who(p)).collect());
        let full = encode(&ServerFrame::Presence(full));
        // Rounds are taken from the end of the list: the staff's is the first.
        let to = self.members.iter().rev().map(|member| member.conn).collect();
        self.presence_out = Some(PresenceOut { full, public, to });
        self.continue_presence();
    }

    /// Writes the pending presence frames to the next round of members.
    pub(super) fn continue_presence(&mut self) {
        let Some(out) = &mut self.presence_out else { return };
        let round = out.to.split_off(out.to.len().saturating_sub(PRESENCE_ROUND));
        let (full, public) = (&out.full, &out.public);
        let dropped =
            self.members.send_some(&round, &|member| if sees_everyone(member.actor.role) { full } else { public });
        if out.to.is_empty() {
            self.presence_out = None;
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
            recent: self.presence.recent().into_iter().map(|p| RecentView::of(p, &self.tagger)).collect(),
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
                view.joined = Some(joined.map(|p| PresentView::of(p, &self.tagger)).collect());
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
        (page.into_iter().take(limit).map(|p| PresentView::of(p, &self.tagger)).collect(), next)
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
