//! The connections joined to one hub, and the fan-out that writes a frame to each of them.
//! The people running the show come first: the list keeps the staff (chair consoles, AV,
//! stage and caption screens) ahead of the audience, and every fan-out writes to them
//! before it writes to any attendee. A large fan-out is split over the machine's cores: the kernel's work for each write
//! (loopback charges the receiver's side to the sender, too) is most of a delivery's cost,
//! and one thread alone would leave the other cores idle while the last client waits.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;
use tracing::warn;

use super::{ConnId, TOO_SLOW};
use crate::domain::captions::Track;
use crate::domain::screens::ScreenSetup;
use crate::domain::{Actor, Role};
use crate::wire::outbound::{Outbound, Refused};
use crate::wire::Frame;

/// Below this many connections one thread writes to them all: handing a part over costs a
/// helper's wake-up.
const SPLIT_FROM: usize = 512;

/// A joined connection, as the hub sees it.
pub struct Member {
    pub conn: ConnId,
    pub actor: Actor,
    pub out: Arc<Outbound>,
    pub captions: Option<Track>,
    /// A screen the chair manages (stage, cues, captions, hall): its page and view, where
    /// from, since when. Boxed: the audience's members have none.
    pub screen: Option<Box<ScreenInfo>>,
}

/// What the chair's list of screens shows of one.
pub struct ScreenInfo {
    pub setup: ScreenSetup,
    pub address: String,
    pub since: crate::domain::Millis,
}

impl Member {
    /// Sends one frame; false when the member is gone, or too slow and now being closed.
    fn deliver(&self, frame: &Frame, slow: &Counter) -> bool {
        self.took(self.out.send(frame), slow)
    }

    /// Sends several frames in one write.
    fn deliver_all(&self, frames: &[&Frame], slow: &Counter) -> bool {
        match frames {
            [frame] => self.deliver(frame, slow),
            frames => self.took(self.out.send_many(frames), slow),
        }
    }

    fn took(&self, sent: Result<(), Refused>, slow: &Counter) -> bool {
        match sent {
            Ok(()) => true,
            Err(Refused::TooSlow) => {
                slow.inc();
                warn!(conn = self.conn, "closing a connection that is too slow to keep up");
                self.out.close(TOO_SLOW.0, TOO_SLOW.1, None);
                false
            }
            Err(Refused::Closed) => false,
        }
    }
}

/// Whether a role's screens get every frame before the audience does.
pub fn is_staff(role: Role) -> bool {
    matches!(role, Role::Organizer | Role::Moderator | Role::Av | Role::Speaker | Role::Captioner)
}

/// Members in a dense list, so that a fan-out can be cut into equal parts: the staff in
/// `list[..staff]`, the audience after them.
pub struct Members {
    list: Vec<Member>,
    staff: usize,
    index: HashMap<ConnId, usize>,
    /// Members closed for being too slow, for the metrics.
    slow: Counter,
}

impl Members {
    pub fn new(slow: Counter) -> Self {
        Members { list: Vec::new(), staff: 0, index: HashMap::new(), slow }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn get(&self, conn: ConnId) -> Option<&Member> {
        self.index.get(&conn).map(|&i| &self.list[i])
    }

    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut Member> {
        self.index.get(&conn).map(|&i| &mut self.list[i])
    }

    /// The members in fan-out order: the staff first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Member> {
        self.list.iter()
    }

    pub fn insert(&mut self, member: Member) {
        self.remove(member.conn);
        let (conn, staff) = (member.conn, is_staff(member.actor.role));
        self.list.push(member);
        let mut at = self.list.len() - 1;
        if staff {
            self.list.swap(self.staff, at);
            self.reindex(at);
            at = self.staff;
            self.staff += 1;
        }
        self.index.insert(conn, at);
    }

    pub fn remove(&mut self, conn: ConnId) -> Option<Member> {
        let mut i = self.index.remove(&conn)?;
        if i < self.staff {
            // The last staff member takes its place, and it takes the last staff place,
            // which the audience then starts at.
            self.staff -= 1;
            if i != self.staff {
                self.list.swap(i, self.staff);
                self.reindex(i);
                i = self.staff;
            }
        }
        let member = self.list.swap_remove(i);
        self.reindex(i);
        Some(member)
    }

    /// Points the index at whoever is now at `i`.
    fn reindex(&mut self, i: usize) {
        if let Some(moved) = self.list.get(i) {
            self.index.insert(moved.conn, i);
        }
    }

    /// The first half of a fan-out: the staff and `senders` (the connections whose commands
    /// caused the frame), so that they can be answered before the audience has it.
    pub fn send_first<'f>(
        &self,
        senders: &[ConnId],
        frame_for: &(impl Fn(&Member) -> &'f Frame + Sync),
    ) -> Vec<ConnId> {
        let audience = senders.iter().filter(|&&conn| self.index.get(&conn).is_some_and(|&i| i >= self.staff));
        let first = self.list[..self.staff].iter().chain(audience.map(|conn| &self.list[self.index[conn]]));
        first.filter(|member| !member.deliver(frame_for(member), &self.slow)).map(|member| member.conn).collect()
    }

    /// The audience's connections, in fan-out order.
    pub fn audience(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.list[self.staff..].iter().map(|member| member.conn)
    }

    /// Sends one member one frame; false when it is gone, or too slow and now being closed.
    pub fn deliver(&self, conn: ConnId, frame: &Frame) -> bool {
        self.get(conn).is_some_and(|member| member.deliver(frame, &self.slow))
    }

    /// Sends each of `conns` that is still a member the frame chosen for it, in the order
    /// given; returns those that are gone or too slow (and now being closed).
    pub fn send_some<'f>(&self, conns: &[ConnId], frame_for: &(impl Fn(&Member) -> &'f Frame + Sync)) -> Vec<ConnId> {
        fan_out(conns, |&conn| self.get(conn), |member| member.deliver(frame_for(member), &self.slow))
    }

    /// [`Members::send_some`] with several frames for each, in one write.
    pub fn send_each<'f>(
        &self,
        conns: &[ConnId],
        frames_for: &(impl Fn(&Member) -> Vec<&'f Frame> + Sync),
    ) -> Vec<ConnId> {
        fan_out(conns, |&conn| self.get(conn), |member| member.deliver_all(&frames_for(member), &self.slow))
    }
}

/// Sends to each member of `items` with `send`, over the cores; returns those it failed.
/// This thread writes the first part; the others go to the fan-out pool's threads, which
/// stay up between rounds, so a round costs no thread start.
fn fan_out<'m, T: Sync>(
    items: &'m [T],
    member_of: impl Fn(&'m T) -> Option<&'m Member> + Sync,
    send: impl Fn(&Member) -> bool + Sync,
) -> Vec<ConnId> {
    let send_part = |part: &'m [T]| -> Vec<ConnId> {
        let members = part.iter().filter_map(&member_of);
        members.filter(|member| !send(member)).map(|member| member.conn).collect()
    };
    let Some(pool) = pool().filter(|_| items.len() >= SPLIT_FROM) else {
        return send_part(items);
    };
    let mut parts = items.chunks(items.len().div_ceil(pool.current_num_threads() + 1));
    let mine = parts.next().unwrap_or_default();
    let mut helpers: Vec<(&[T], Option<Vec<ConnId>>)> = parts.map(|part| (part, None)).collect();
    let mut failed = Vec::new();
    pool.in_place_scope(|scope| {
        for (part, result) in &mut helpers {
            let send_part = &send_part;
            scope.spawn(move |_| *result = catch_unwind(AssertUnwindSafe(|| send_part(part))).ok());
        }
        failed = send_part(mine);
    });
    for (part, result) in helpers {
        // A part whose writer panicked may have missed the frame: its members are closed,
        // so that they reconnect and resume instead of silently skipping it.
        failed.extend(result.unwrap_or_else(|| {
            let members: Vec<&Member> = part.iter().filter_map(&member_of).collect();
            for member in &members {
                member.out.close(1011, "internal error; reconnect", None);
            }
            members.iter().map(|member| member.conn).collect()
        }));
    }
    failed
}

/// The fan-out's helper threads: one fewer than the cores, since the hub's thread writes a
/// part too; none on one core. (Asked once: the standard library reads the cgroup's files
/// each time.)
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(helpers).thread_name(|i| format!("fan-out-{i}"));
        (helpers > 0).then(|| pool.build().expect("the fan-out threads start"))
    });
    pool.as_ref()
}

#[cfg(test)]
mod tests;
