//! Live edits of the run of show: each builds a whole new plan from the current one, with
//! the planned times recomputed; checking it against the running show is the caller's.
//! Pure, no I/O.

use chrono::{NaiveDate, NaiveTime, TimeZone};
use serde::Deserialize;

use super::queue::EVENT_QUEUE;
use super::show::{RunOfShow, Segment, SegmentKind, Speaker};
use super::text::{self, DisplayName, Localized, Mode};
use super::{Millis, Rejection};

/// Earlier plans a chair can walk back to with `plan_undo`.
pub const PLAN_UNDO_DEPTH: usize = 16;
/// Titles, venues, affiliations and topics, in characters of each language.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_AV_NOTES_CHARS: usize = 2000;
/// The most segments a plan holds, so that a runaway script cannot grow every welcome.
pub const MAX_SEGMENTS: usize = 200;
pub const MAX_SPEAKERS: usize = 50;
/// Planned minutes of a segment or speaker at most: a whole day.
const MAX_MINUTES: u32 = 24 * 60;
const MINUTE: Millis = 60_000;

/// Some languages of a text: those given replace the current ones, the others stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedEdit {
    pub zh: Option<String>,
    pub ja: Option<String>,
    pub en: Option<String>,
}

/// A speaker as a plan edit gives them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerInput {
    pub name: Localized,
    pub affiliation: Option<Localized>,
    pub topic: Option<Localized>,
    pub mode: Option<Mode>,
    pub minutes: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSegment {
    pub plan_version: u64,
    /// The segment the new one follows; absent, it comes first.
    pub after: Option<String>,
    /// The new segment's id (`id` names the command); generated from the kind when absent.
    pub new_segment: Option<String>,
    pub kind: SegmentKind,
    pub title: Localized,
    pub duration_min: u32,
}

/// Any of a segment's fields; those absent stay as they are.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSegment {
    pub plan_version: u64,
    pub segment: String,
    pub kind: Option<SegmentKind>,
    pub title: Option<LocalizedEdit>,
    /// An empty name removes the chair.
    pub chair: Option<Localized>,
    /// The whole list, in order.
    pub speakers: Option<Vec<SpeakerInput>>,
    pub duration_min: Option<u32>,
    pub av_notes: Option<String>,
    pub warning_s: Option<u32>,
    pub danger_s: Option<u32>,
    /// 0 removes the limit.
    pub speaking_limit_min: Option<u32>,
    /// An empty link removes it.
    pub join_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEvent {
    pub plan_version: u64,
    pub title: Option<LocalizedEdit>,
    pub venue: Option<LocalizedEdit>,
    /// Local time of the first segment, "HH:MM".
    pub start: Option<String>,
    /// Local date, "YYYY-MM-DD".
    pub date: Option<String>,
    /// IANA name; the local start time and date stay, so the instant moves.
    pub time_zone: Option<String>,
}

/// A plan edit, decoded from its command.
pub enum PlanOp<'a> {
    Add(&'a AddSegment),
    Duplicate { segment: &'a str, id: Option<&'a str> },
    Remove(&'a str),
    Move { segment: &'a str, after: Option<&'a str> },
    Update(&'a UpdateSegment),
    Event(&'a UpdateEvent),
}

fn field(message: String) -> Rejection {
    Rejection::InvalidField(message)
}

/// The plan after `op`, with planned starts consecutive from the event's start.
pub fn edited(show: &RunOfShow, op: PlanOp<'_>) -> Result<RunOfShow, Rejection> {
    let mut plan = show.clone();
    match op {
        PlanOp::Add(add) => {
            let id = new_id(&plan, add.new_segment.as_deref(), segment_stem(add.kind))?;
            let at = position_after(&plan, add.after.as_deref())?;
            let segment = Segment {
                id,
                kind: add.kind,
                title: clean_localized(&add.title, "title")?,
                chair: None,
                speakers: Vec::new(),
                planned_start: 0,
                duration_ms: minutes(add.duration_min, "duration_min")?,
                speaking_limit_ms: None,
                warning_ms: 120_000,
                danger_ms: 30_000,
                av_notes: String::new(),
                join_url: None,
                cues: Vec::new(),
            };
            insert(&mut plan, at, segment)?;
        }
        PlanOp::Duplicate { segment, id } => {
            let index = index_of(&plan, segment)?;
            let mut copy = plan.segments[index].clone();
            copy.id = new_id(&plan, id, &copy.id)?;
            insert(&mut plan, index + 1, copy)?;
        }
        PlanOp::Remove(segment) => {
            let index = index_of(&plan, segment)?;
            if plan.segments.len() == 1 {
                return Err(Rejection::InvalidState("the run of show needs at least one segment".into()));
            }
            plan.segments.remove(index);
        }
        PlanOp::Move { segment, after } => {
            if after == Some(segment) {
                return Err(field("a segment cannot follow itself".into()));
            }
            let moved = plan.segments.remove(index_of(&plan, segment)?);
            let at = position_after(&plan, after)?;
            plan.segments.insert(at, moved);
        }
        PlanOp::Update(update) => {
            let index = index_of(&plan, &update.segment)?;
            update_segment(&mut plan.segments[index], update)?;
        }
        PlanOp::Event(update) => update_event(&mut plan, update)?,
    }
    Ok(retimed(plan))
}

/// Planned starts consecutive from the event's start, and its planned end after the last.
pub fn retimed(mut plan: RunOfShow) -> RunOfShow {
    let mut cursor = plan.event.planned_start;
    for segment in &mut plan.segments {
        segment.planned_start = cursor;
        cursor += segment.duration_ms;
    }
    plan.event.planned_end = cursor;
    plan
}

fn index_of(plan: &RunOfShow, id: &str) -> Result<usize, Rejection> {
    plan.segment_index(id).ok_or_else(|| field(format!("no segment has id {id:?}")))
}

/// Where a segment placed after `after` goes: first when `after` is absent.
fn position_after(plan: &RunOfShow, after: Option<&str>) -> Result<usize, Rejection> {
    after.map_or(Ok(0), |id| Ok(index_of(plan, id)? + 1))
}

fn insert(plan: &mut RunOfShow, at: usize, segment: Segment) -> Result<(), Rejection> {
    if plan.segments.len() >= MAX_SEGMENTS {
        return Err(Rejection::InvalidState(format!("the run of show holds at most {MAX_SEGMENTS} segments")));
    }
    plan.segments.insert(at, segment);
    Ok(())
}

fn segment_stem(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Ceremony => "ceremony",
        SegmentKind::Speech => "speech",
        SegmentKind::Keynote => "keynote",
        SegmentKind::Panel => "panel",
        SegmentKind::Qa => "qa",
        SegmentKind::Break => "break",
        SegmentKind::Closing => "closing",
    }
}

/// Ids as the event file's: 1-64 letters, digits, '-' or '_', unique and not the event
/// queue's name.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The id given, checked, or the first free `stem-2`, `stem-3`, … when none is.
fn new_id(plan: &RunOfShow, given: Option<&str>, stem: &str) -> Result<String, Rejection> {
    let taken = |id: &str| id == EVENT_QUEUE || plan.segment_index(id).is_some();
    if let Some(id) = given {
        if !valid_id(id) || taken(id) {
            return Err(field(format!(
                "segment id {id:?} must be unique, not {EVENT_QUEUE:?}, and 1-64 letters, digits, '-' or '_'"
            )));
        }
        return Ok(id.to_owned());
    }
    // Short enough that the number still fits in 64 characters.
    let stem: String = stem.chars().take(56).collect();
    let mut n = 2;
    loop {
        let id = format!("{stem}-{n}");
        if !taken(&id) {
            return Ok(id);
        }
        n += 1;
    }
}

fn minutes(value: u32, name: &str) -> Result<Millis, Rejection> {
    if value == 0 || value > MAX_MINUTES {
        return Err(field(format!("{name} must be 1-{MAX_MINUTES}")));
    }
    Ok(Millis::from(value) * MINUTE)
}

/// Each language cleaned and bounded as typed text is; none may be empty.
fn clean_localized(text: &Localized, what: &str) -> Result<Localized, Rejection> {
    let clean = |t: &str| text::clean(t, MAX_TITLE_CHARS).map_err(|e| field(format!("{what} {e}")));
    Ok(Localized { zh: clean(&text.zh)?, ja: clean(&text.ja)?, en: clean(&text.en)? })
}

fn merge_localized(current: &Localized, edit: &LocalizedEdit, what: &str) -> Result<Localized, Rejection> {
    let merged = Localized {
        zh: edit.zh.clone().unwrap_or_else(|| current.zh.clone()),
        ja: edit.ja.clone().unwrap_or_else(|| current.ja.clone()),
        en: edit.en.clone().unwrap_or_else(|| current.en.clone()),
    };
    clean_localized(&merged, what)
}

/// A person's name in every language, cleaned as the name they join with is, so that
/// presence still matches them.
fn person_name(name: &Localized, what: &str) -> Result<Localized, Rejection> {
    let clean =
        |t: &str| DisplayName::parse(t).map(|n| n.as_str().to_owned()).map_err(|e| field(format!("{what} name {e}")));
    Ok(Localized { zh: clean(&name.zh)?, ja: clean(&name.ja)?, en: clean(&name.en)? })
}

fn speaker(input: &SpeakerInput) -> Result<Speaker, Rejection> {
    Ok(Speaker {
        name: person_name(&input.name, "speaker")?,
        affiliation: input.affiliation.as_ref().map(|a| clean_localized(a, "affiliation")).transpose()?,
        topic: input.topic.as_ref().map(|t| clean_localized(t, "topic")).transpose()?,
        mode: input.mode,
        duration_ms: input.minutes.map(|m| minutes(m, "minutes")).transpose()?,
    })
}

fn update_segment(segment: &mut Segment, update: &UpdateSegment) -> Result<(), Rejection> {
    if let Some(kind) = update.kind {
        segment.kind = kind;
    }
    if let Some(title) = &update.title {
        segment.title = merge_localized(&segment.title, title, "title")?;
    }
    if let Some(chair) = &update.chair {
        let empty = text::clean_optional(&chair.en, MAX_TITLE_CHARS).ok().flatten().is_none();
        segment.chair = if empty { None } else { Some(person_name(chair, "chair")?) };
    }
    if let Some(speakers) = &update.speakers {
        if speakers.len() > MAX_SPEAKERS {
            return Err(field(format!("a segment has at most {MAX_SPEAKERS} speakers")));
        }
        segment.speakers = speakers.iter().map(speaker).collect::<Result<_, _>>()?;
    }
    if let Some(duration) = update.duration_min {
        segment.duration_ms = minutes(duration, "duration_min")?;
    }
    if let Some(notes) = &update.av_notes {
        segment.av_notes = text::clean_optional(notes, MAX_AV_NOTES_CHARS)
            .map_err(|e| field(format!("av_notes {e}")))?
            .unwrap_or_default();
    }
    let seconds = |s: u32, name: &str| {
        (s <= 3600).then(|| Millis::from(s) * 1000).ok_or_else(|| field(format!("{name} must be 0-3600")))
    };
    if let Some(warning) = update.warning_s {
        segment.warning_ms = seconds(warning, "warning_s")?;
    }
    if let Some(danger) = update.danger_s {
        segment.danger_ms = seconds(danger, "danger_s")?;
    }
    if let Some(limit) = update.speaking_limit_min {
        segment.speaking_limit_ms = (limit > 0).then(|| minutes(limit, "speaking_limit_min")).transpose()?;
    }
    if let Some(url) = &update.join_url {
        segment.join_url = match url.as_str() {
            "" => None,
            url if join_url_ok(url) => Some(url.to_owned()),
            _ => return Err(field("join_url must be an http(s) link of at most 500 characters".into())),
        };
    }
    Ok(())
}

/// As the event file's: http(s), without spaces, of a sane length, since pages link it.
fn join_url_ok(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn update_event(plan: &mut RunOfShow, update: &UpdateEvent) -> Result<(), Rejection> {
    let event = &mut plan.event;
    if let Some(title) = &update.title {
        event.title = merge_localized(&event.title, title, "title")?;
    }
    if let Some(venue) = &update.venue {
        event.venue = merge_localized(&event.venue, venue, "venue")?;
    }
    if update.start.is_none() && update.date.is_none() && update.time_zone.is_none() {
        return Ok(());
    }
    let zone_of = |name: &str| {
        name.parse::<chrono_tz::Tz>()
            .map_err(|_| field(format!("unknown time zone {name:?}; use an IANA name such as Asia/Shanghai")))
    };
    let local = zone_of(&event.time_zone)?
        .timestamp_millis_opt(event.planned_start)
        .single()
        .map(|t| t.naive_local())
        .ok_or_else(|| field("the event's planned start is out of range".into()))?;
    let time = match &update.start {
        Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| field("start must be HH:MM".into()))?,
        None => local.time(),
    };
    let date = match &update.date {
        Some(text) => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| field("date must be YYYY-MM-DD".into()))?
        }
        None => local.date(),
    };
    let name = update.time_zone.as_deref().unwrap_or(&event.time_zone).to_owned();
    let start = zone_of(&name)?
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .ok_or_else(|| field(format!("{date} {time} does not exist in {name}")))?;
    event.planned_start = start.timestamp_millis();
    event.time_zone = name;
    Ok(())
}
