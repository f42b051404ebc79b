//! Server frames: welcome, change, ack, error, pong, presence and captions, each serialized
//! once into the shared bytes every connection it is for receives.

use serde::Serialize;

use super::presence::{PresenceView, PresentView};
use super::screens::Directive;
use super::tagger::Tagger;
use super::views::{ChangeView, SnapshotView};
use super::{ErrorCode, FrameError};
use crate::domain::captions::{Line, Track};
use crate::domain::text::{Lang, Mode};
use crate::domain::{Actor, Millis, Role};
use crate::wire::Frame;

/// What a welcome gives a client: see "Resuming" in docs/protocol.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeOutcome {
    None,
    Replay,
    Snapshot,
}

/// A caption track counts as live while its latest line is at most this old.
pub const LIVE_TRACK_MS: crate::domain::Millis = 10 * 60_000;

/// A welcome's snapshot: made for this client, or the audience's, encoded once for every
/// attendee who joins while the state stands still (the same bytes either way).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Snapshot<'a> {
    View(Box<SnapshotView<'a>>),
    Encoded(&'a serde_json::value::RawValue),
}

/// Who the server took a client to be.
#[derive(Clone, Debug, Serialize)]
pub struct You<'a> {
    pub participant: &'a str,
    /// The public tag of this participant in queue entries.
    pub who: String,
    pub role: Role,
    pub name: &'a str,
    pub mode: Mode,
    pub lang: Lang,
}

/// Who caused a change, as every client sees it: `who` is the sender's public tag, so that
/// a sender knows its own changes and two consoles with one name are told apart.
#[derive(Clone, Debug, Serialize)]
pub struct By<'a> {
    pub name: &'a str,
    pub role: Role,
    pub who: String,
}

impl<'a> By<'a> {
    pub fn of(actor: &'a Actor, tagger: &Tagger) -> Self {
        By { name: &actor.name, role: actor.role, who: tagger.who(&actor.participant) }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        protocol: u32,
        epoch: &'a str,
        seq: u64,
        resume: ResumeOutcome,
        server_time: Millis,
        you: You<'a>,
        snapshot: Option<Snapshot<'a>>,
        presence: Box<PresenceView<'a>>,
    },
    Change {
        seq: u64,
        at: Millis,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<By<'a>>,
        /// The id of the command that caused it, as its sender gave it.
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<&'a str>,
        change: ChangeView<'a>,
    },
    Ack {
        id: &'a str,
        seq: u64,
        /// Applied, but something the sender should know: a cue nobody is watching.
        #[serde(skip_serializing_if = "Option::is_none")]
        warning: Option<&'a str>,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        code: ErrorCode,
        message: &'a str,
    },
    Pong {
        t: f64,
        server_time: Millis,
    },
    Presence(PresenceView<'a>),
    PresencePage {
        id: &'a str,
        /// The published state the page was read from.
        version: u64,
        /// Where the next page starts; null after the last.
        next: Option<String>,
        total: usize,
        entries: Vec<PresentView<'a>>,
    },
    /// A caption line of the track this connection follows.
    Caption {
        line: &'a Line,
    },
    /// In a hybrid event: the link to the other side (`to`: "venue" on a cloud node,
    /// "cloud" on a venue node) went down or came back; sent after the welcome too while
    /// it is down.
    Link {
        to: &'static str,
        up: bool,
        since: Millis,
    },
    /// A chair's word to this screen (docs/protocol.md, "Screens").
    Directive {
        #[serde(flatten)]
        directive: &'a Directive,
    },
    /// The latest lines of a track, when a connection starts to follow it.
    Captions {
        track: Track,
        lines: Vec<&'a Line>,
        /// The tracks with a final line in the last [`LIVE_TRACK_MS`], so that a viewer of
        /// a silent track can be offered those that run.
        live: Vec<Track>,
    },
}

pub fn encode(frame: &ServerFrame<'_>) -> Frame {
    // Serializing these types cannot fail: all keys are strings and no value is a map.
    Frame::text(|buf| {
        let _ = serde_json::to_writer(buf, frame);
    })
}

// Here, with the frame it becomes, so that the shared bits in mod.rs need nothing of this file.
impl FrameError {
    pub fn encode(&self) -> Frame {
        encode(&ServerFrame::Error { id: self.id.as_deref(), code: self.code, message: &self.message })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn error_frames_carry_code_message_and_id() {
        let text = FrameError { id: Some("c1".into()), code: ErrorCode::Conflict, message: "moved on".into() }.encode();
        let value: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(value, serde_json::json!({"type":"error","id":"c1","code":"conflict","message":"moved on"}));
    }
}
