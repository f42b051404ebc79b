//! The planned run of show: the event and its ordered segments; pure data, no I/O.

use serde::{Deserialize, Serialize};

use super::text::{Lang, Localized, Mode};
use super::Millis;

/// What a segment is, as a programme lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Ceremony,
    Speech,
    Keynote,
    Panel,
    Qa,
    Break,
    Closing,
}

/// The event as a whole: what attendees see in every header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    pub id: String,
    pub title: Localized,
    pub venue: Localized,
    /// IANA name, so that every page shows planned times in the venue's local time.
    pub time_zone: String,
    pub languages: Vec<Lang>,
    pub hybrid: bool,
    pub planned_start: Millis,
    pub planned_end: Millis,
}

/// Someone on the programme of a segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    pub name: Localized,
    pub affiliation: Option<Localized>,
    /// The title of their talk, when it has one.
    pub topic: Option<Localized>,
    /// How they take part, when the programme knows it (a remote panellist, say).
    pub mode: Option<Mode>,
    pub duration_ms: Option<Millis>,
}

/// One item of the run of show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: String,
    pub kind: SegmentKind,
    pub title: Localized,
    pub chair: Option<Localized>,
    pub speakers: Vec<Speaker>,
    pub planned_start: Millis,
    pub duration_ms: Millis,
    /// How long each person called from the queue may speak, when limited.
    pub speaking_limit_ms: Option<Millis>,
    pub av_notes: String,
}

/// The planned event: fixed while the show runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOfShow {
    pub event: EventInfo,
    pub segments: Vec<Segment>,
}

impl RunOfShow {
    pub fn segment_index(&self, id: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// Planned duration of the segments after `index`.
    pub fn planned_after(&self, index: usize) -> Millis {
        self.segments.iter().skip(index + 1).map(|s| s.duration_ms).sum()
    }

    pub fn planned_total(&self) -> Millis {
        self.segments.iter().map(|s| s.duration_ms).sum()
    }
}
