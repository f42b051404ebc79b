//! The connections joined to one hub, and the fan-out that writes a frame to each of them.
//! A large fan-out is split over the machine's cores: the kernel's work for each write
//! (loopback charges the receiver's side to the sender, too) is most of a delivery's cost,
//! and one thread alone would leave the other cores idle while the last client waits.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use tracing::warn;

use super::{ConnId, TOO_SLOW};
use crate::domain::captions::Track;
use crate::domain::Actor;
use crate::wire::outbound::{Outbound, Refused};
use crate::wire::Frame;

/// Below this many connections one thread writes to them all: splitting costs a thread start.
const SPLIT_FROM: usize = 2048;

/// A joined connection, as the hub sees it.
pub struct Member {
    pub conn: ConnId,
    pub actor: Actor,
    pub out: Arc<Outbound>,
    pub captions: Option<Track>,
}

impl Member {
    /// Sends one frame; false when the member is gone, or too slow and now being closed.
    fn deliver(&self, frame: &Frame, slow: &Counter) -> bool {
        match self.out.send(frame) {
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

/// Members in a dense list, so that a fan-out can be cut into equal parts.
pub struct Members {
    list: Vec<Member>,
    index: HashMap<ConnId, usize>,
    /// Members closed for being too slow, for the metrics.
    slow: Counter,
}

impl Members {
    pub fn new(slow: Counter) -> Self {
        Members { list: Vec::new(), index: HashMap::new(), slow }
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

    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.list.iter()
    }

    pub fn insert(&mut self, member: Member) {
        if let Some(&i) = self.index.get(&member.conn) {
            self.list[i] = member;
            return;
        }
        self.index.insert(member.conn, self.list.len());
        self.list.push(member);
    }

    pub fn remove(&mut self, conn: ConnId) -> Option<Member> {
        let i = self.index.remove(&conn)?;
        let member = self.list.swap_remove(i);
        if let Some(moved) = self.list.get(i) {
            self.index.insert(moved.conn, i);
        }
        Some(member)
    }

    /// Sends every member the frame chosen for it, and returns the members that are gone or
    /// too slow (and now being closed). Every member's frames stay in order: the call
    /// returns only when every write is done.
    pub fn send_each<'f>(&self, frame_for: &(impl Fn(&Member) -> &'f Frame + Sync)) -> Vec<ConnId> {
        fan_out(&self.list, Some, frame_for, &self.slow)
    }

    /// Sends one member one frame; false when it is gone, or too slow and now being closed.
    pub fn deliver(&self, conn: ConnId, frame: &Frame) -> bool {
        self.get(conn).is_some_and(|member| member.deliver(frame, &self.slow))
    }

    /// As `send_each`, for those of `conns` that are still members.
    pub fn send_some<'f>(&self, conns: &[ConnId], frame_for: &(impl Fn(&Member) -> &'f Frame + Sync)) -> Vec<ConnId> {
        fan_out(conns, |&conn| self.get(conn), frame_for, &self.slow)
    }
}

fn fan_out<'m, 'f, T: Sync>(
    items: &'m [T],
    member_of: impl Fn(&'m T) -> Option<&'m Member> + Sync,
    frame_for: &(impl Fn(&Member) -> &'f Frame + Sync),
    slow: &Counter,
) -> Vec<ConnId> {
    let send_part = |part: &'m [T]| -> Vec<ConnId> {
        let members = part.iter().filter_map(&member_of);
        members.filter(|member| !member.deliver(frame_for(member), slow)).map(|member| member.conn).collect()
    };
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < SPLIT_FROM || parts < 2 {
        return send_part(items);
    }
    let part_len = items.len().div_ceil(parts);
    std::thread::scope(|scope| {
        let mut parts = items.chunks(part_len);
        let mine = parts.next().unwrap_or_default();
        let helpers: Vec<_> = parts.map(|part| (part, scope.spawn(move || send_part(part)))).collect();
        let mut failed = send_part(mine);
        for (part, helper) in helpers {
            // A part whose writer panicked may have missed the frame: its members are
            // closed, so that they reconnect and resume instead of silently skipping it.
            failed.extend(helper.join().unwrap_or_else(|_| {
                let members: Vec<&Member> = part.iter().filter_map(&member_of).collect();
                for member in &members {
                    member.out.close(1011, "internal error; reconnect", None);
                }
                members.iter().map(|member| member.conn).collect()
            }));
        }
        failed
    })
}

#[cfg(test)]
mod tests;
