//! One task per event owns its live state: it checks each command against the domain,
//! gives every accepted change the next sequence number, makes it durable, and only then
//! publishes it, encoded once, to every joined connection. It keeps the latest changes so
//! that reconnecting clients get exactly what they missed.
//!
//! This file holds the state the task owns (`Hub`) and the words its parts share. Each
//! part adds what it is responsible for, and calls or names only the parts listed after it:
//! - `actor`: the task: its start, its loop, and each batch settled with one commit;
//! - `join`: welcomes (a snapshot, or the changes missed), listeners, the overview;
//! - `handle`: [`HubHandle`], which other tasks hold, and the messages it sends the task;
//! - `presence`: who is here: each tick's diff to the chair and crew, the audience's counts
//!   at a steady pace in rounds; the list's pages; the counts (in a cluster, every node's);
//!   attendance;
//! - `cluster`: commands published to the event's NATS stream, what other nodes append
//!   followed and applied in order;
//! - `apply`: one command against the domain;
//! - `captions`: caption lines placed against the live state and sent in rounds;
//! - `fanout`: a change encoded once per view, written to the staff first, then to the
//!   audience in rounds;
//! - `members` and `retries`: the joined connections; recent commands' outcomes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::domain::captions::Track;
use crate::domain::presence::Presence;
use crate::domain::screens::ScreenSetup;
use crate::domain::text::match_key;
use crate::domain::{Actor, Change, EventState, Millis};
use crate::metrics::Metrics;
use crate::protocol::Tagger;
use crate::store::Journal;
use crate::wire::outbound::{Outbound, MAX_QUEUED_FRAMES};
pub use actor::SNAPSHOT_EVERY;
use captions::CaptionOut;
pub use captions::Tracks;
use cluster::Clustered;
use fanout::{AudienceOut, Frames, Listener};
use handle::HubMsg;
pub use handle::{HubGone, HubHandle, Overview, PlanNow, Start};
use join::SharedSnapshot;
use members::Members;
use presence::AudiencePresence;
pub use presence::PRESENCE_EVERY;
use retries::Retries;

mod actor;
mod apply;
mod captions;
mod cluster;
mod fanout;
mod handle;
mod join;
mod members;
mod presence;
mod remote;
pub mod retries;
mod screens;
mod votes;

/// Identifies one websocket connection for the life of the process.
pub type ConnId = u64;

/// How many recent changes the hub keeps for resuming clients. A replay must fit in a
/// fresh connection's queue with the welcome, so that a resume never trips the slow-client
/// limit.
pub const RESUME_BUFFER: usize = 192;
const _: () = assert!(RESUME_BUFFER < MAX_QUEUED_FRAMES);

/// Why a slow client is closed; documented in docs/protocol.md.
pub const TOO_SLOW: (u16, &str) = (1008, "too slow: frames were dropped; reconnect to resume");

/// Where a reconnecting client left off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeFrom {
    pub epoch: String,
    pub seq: u64,
    /// The presence version the client last applied.
    pub presence: Option<u64>,
}

/// A connection that has said hello and been authorised.
pub struct Joining {
    pub conn: ConnId,
    pub actor: Actor,
    /// The connection is a screen (a stage screen), not a person: listed, never counted.
    pub screen: bool,
    pub resume: Option<ResumeFrom>,
    pub out: Arc<Outbound>,
    /// The caption track this connection follows, if any.
    pub captions: Option<Track>,
    /// A screen's page and view, and the client's address, for the chair's list of screens.
    pub screen_setup: Option<(ScreenSetup, String)>,
}

/// What the hub's task reads from: its handles' messages and the connections that left.
struct Inputs {
    inbox: mpsc::Receiver<HubMsg>,
    leaves: mpsc::UnboundedReceiver<ConnId>,
    /// Every handle is gone: the inbox will give nothing more.
    closed: bool,
}

/// The live state of one event, owned by its task (`actor`); each part adds its methods.
struct Hub {
    /// The snapshot every attendee with nothing of their own sees, encoded once per seq: a
    /// welcome splices it in while the state stands still.
    audience_snapshot: SharedSnapshot,
    /// In a cluster, the event's stream: the log instead of the journal's appends.
    cluster: Option<Clustered>,
    event: Arc<str>,
    /// The store's epoch: resume positions from another epoch mean nothing here.
    epoch: Arc<str>,
    tagger: Tagger,
    /// Who is here; ephemeral, never in the change log.
    presence: Presence,
    /// The programme's speakers and chairs by name key, to show who of them is here.
    programme: BTreeMap<String, Vec<(usize, usize)>>,
    /// Connections this event holds at most.
    max_members: usize,
    state: EventState,
    /// Sequence number of the last durable, published change.
    seq: u64,
    /// Seq of the last stored snapshot.
    snapshot_seq: u64,
    /// The latest published change frames, oldest first, for resuming clients.
    recent: VecDeque<(u64, Frames)>,
    journal: Journal,
    members: Members,
    /// The connections whose commands (or language changes) are in the batch being settled:
    /// they get its changes with the staff, ahead of the audience.
    senders: Vec<ConnId>,
    /// Changes the staff and senders have and the audience is still getting, oldest first.
    audience_out: VecDeque<AudienceOut>,
    /// Messages read while a publish was in flight that must wait for its outcome
    /// (commands, and anything that answers with the state), oldest first.
    deferred: VecDeque<HubMsg>,
    /// The audience's presence frames: one under way (let wait while commands go first),
    /// or one due at the next audience tick.
    audience_presence: AudiencePresence,
    /// Recent commands' outcomes, so that a retried command is applied once.
    retries: Retries,
    /// Commands (participant, id) whose publish went out unconfirmed, and when: until the
    /// stream shows them, a retry is never told that nothing was applied.
    unconfirmed: HashMap<(String, String), Millis>,
    /// Streams of changes outside websockets.
    listeners: Vec<Listener>,
    /// Followers of the changes themselves (the automations).
    followers: Vec<mpsc::Sender<(u64, Change)>>,
    metrics: Arc<Metrics>,
    /// Each caption track's last seq and latest lines.
    captions: Tracks,
    /// Caption lines still being written out, oldest first, in rounds between commands.
    captions_out: VecDeque<CaptionOut>,
    /// Votes waiting for their batch.
    votes: votes::Gathered,
}

/// Every speaker and chair of the run of show by the key their names match on, with their places
/// (segment, speaker index; a chair is listed as speaker `usize::MAX`).
fn programme(state: &EventState) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut names: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (s, segment) in state.show.segments.iter().enumerate() {
        let people = segment.speakers.iter().enumerate().map(|(k, p)| (k, &p.name));
        for (k, name) in people.chain(segment.chair.iter().map(|c| (usize::MAX, c))) {
            for text in [&name.zh, &name.ja, &name.en] {
                let places = names.entry(match_key(text)).or_default();
                if !places.contains(&(s, k)) {
                    places.push((s, k));
                }
            }
        }
    }
    names
}
