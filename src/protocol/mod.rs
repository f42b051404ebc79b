//! Wire frames (docs/protocol.md): client frames decoded into typed values before anything
//! acts on them (`client`), server frames encoded once into shared bytes (`server`), and
//! what they carry: the state as each connection sees it (`views`) and who is here
//! (`presence`). Here what they all share: the version, the frame cap and the error codes.
//! No I/O here.

mod client;
mod presence;
mod remote;
mod screens;
mod server;
mod tagger;
mod views;
mod voice;

use serde::{Deserialize, Serialize};

use crate::domain::Rejection;

pub use client::{cursor_text, decode, CaptionChoice, ClientFrame, Hello, Resume, MAX_PRESENCE_PAGE};
pub use presence::{PresenceView, PresentView, RecentView};
pub use remote::{RemoteAnswer, RemoteCommand, VENUE_UNREACHABLE};
pub use screens::{screen_name, Directive, ScreenEntry, IDENTIFY_MS};
pub use server::{encode, By, ResumeOutcome, ServerFrame, Snapshot, You, LIVE_TRACK_MS};
pub use tagger::Tagger;
pub use views::{
    crew_sees_as_chair, differs_by_audience, owner, Audience, ChangeView, EntryView, LiveView, PlanView, QueueView,
    Routing, SegmentView, SnapshotView, View,
};

pub const PROTOCOL_VERSION: u32 = 1;
/// Larger frames close the connection with 1009: no legitimate frame comes near it.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// A stable, client-facing error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    InvalidField,
    UnsupportedVersion,
    UnknownEvent,
    Unauthorized,
    NotJoined,
    AlreadyJoined,
    Forbidden,
    Conflict,
    InvalidState,
    TooLarge,
    BinaryFrame,
    BadResume,
    InvalidUtf8,
    RateLimited,
    EventFull,
    /// A caption line whose seq is not the next of its track.
    OutOfOrder,
    Internal,
    /// A cluster node cannot reach the cluster's store: nothing was applied.
    Unavailable,
    /// A cloud node cannot reach the venue, which decides every command: nothing was
    /// applied.
    VenueUnreachable,
    /// A link's token after the link's end: refused, its connections closed (4401).
    LinkExpired,
    /// A revoked link's token: refused, its connections closed (4401).
    LinkRevoked,
}

impl ErrorCode {
    /// The code as the frames spell it.
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    fn from_rejection(rejection: &Rejection) -> Self {
        match rejection {
            Rejection::Forbidden(_) => ErrorCode::Forbidden,
            Rejection::Conflict(_) => ErrorCode::Conflict,
            Rejection::InvalidState(_) => ErrorCode::InvalidState,
            Rejection::InvalidField(_) => ErrorCode::InvalidField,
            Rejection::RateLimited(_) => ErrorCode::RateLimited,
        }
    }
}

/// A frame the server refuses, with the id of the command it answers when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FrameError { id: None, code, message: message.into() }
    }

    pub fn rejected(id: &str, rejection: &Rejection) -> Self {
        FrameError {
            id: Some(id.to_owned()),
            code: ErrorCode::from_rejection(rejection),
            message: rejection.to_string(),
        }
    }
}
