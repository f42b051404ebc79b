//! Who is here, as one audience sees it: the people present, the recent joins, and the
//! presence view of welcomes and diffs.

use serde::Serialize;

use crate::domain::presence::{Counts, Present, Sample};
use crate::domain::text::{Lang, Mode};
use crate::domain::{Millis, Role};

/// Someone present, as the chair and crew see them.
#[derive(Serialize)]
pub struct PresentView<'a> {
    who: &'a str,
    name: &'a str,
    affiliation: Option<&'a str>,
    role: Role,
    mode: Mode,
    lang: Lang,
    since: Millis,
    connections: u32,
}

impl<'a> PresentView<'a> {
    pub fn of(present: &'a Present) -> Self {
        PresentView {
            who: &present.who,
            name: &present.name,
            affiliation: present.affiliation.as_deref(),
            role: present.role,
            mode: present.mode,
            lang: present.lang,
            since: present.since,
            connections: present.connections,
        }
    }
}

/// A recent join, as attendees see it.
#[derive(Serialize)]
pub struct RecentView<'a> {
    who: &'a str,
    name: &'a str,
    mode: Mode,
    lang: Lang,
    since: Millis,
}

impl<'a> RecentView<'a> {
    pub fn of(present: &'a Present) -> Self {
        RecentView {
            who: &present.who,
            name: &present.name,
            mode: present.mode,
            lang: present.lang,
            since: present.since,
        }
    }
}

/// Who is here, as one audience sees it. Fields that are `None` are left out.
#[derive(Serialize)]
pub struct PresenceView<'a> {
    /// The published presence state this view is of: one more with every diff.
    pub version: u64,
    pub counts: Counts,
    /// For the chair and crew: how many are on the full list (the audience, consoles,
    /// cue and stage screens) as of `version`, to check a list held against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<usize>,
    pub recent: Vec<RecentView<'a>>,
    /// (segment, speaker) of each programme speaker who is here; a chair is speaker -1.
    #[serde(serialize_with = "places")]
    pub speakers: Vec<(usize, usize)>,
    /// Those of `speakers` who are in the hall; the others are online.
    #[serde(serialize_with = "places")]
    pub speakers_in_room: Vec<(usize, usize)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<&'a [Sample]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<PresentView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<Vec<PresentView<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Vec<String>>,
    /// After a welcome's `list`: where the next page starts, when there is more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn places<S: serde::Serializer>(places: &[(usize, usize)], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(places.len()))?;
    for &(segment, speaker) in places {
        let speaker = if speaker == usize::MAX { -1 } else { speaker as i64 };
        seq.serialize_element(&(segment, speaker))?;
    }
    seq.end()
}
