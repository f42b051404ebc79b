//! Rows of cells into a run of show: each column parsed, every error collected with its
//! row and column, then the plan checked as a plan edit is.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::cells::{Header, Row};
use super::grid::Cell;
use super::{SheetError, COLUMNS, REQUIRED};
use crate::domain::cues::{CrewPosition, CueTarget};
use crate::domain::plan;
use crate::domain::queue::EVENT_QUEUE;
use crate::domain::show::{PlannedCue, RunOfShow, Segment, SegmentKind, Speaker};
use crate::domain::text::{Lang, Localized, Mode};
use crate::domain::Millis;

const MINUTE: Millis = 60_000;
/// As a plan edit allows: a segment or a speaker lasts at most a day.
const MAX_MINUTES: u32 = 24 * 60;
/// As a plan edit allows for a side's budget: a day.
const MAX_BUDGET_S: u32 = 24 * 3600;
/// As a plan edit allows for the countdown's thresholds.
const MAX_THRESHOLD_S: u32 = 3600;
/// What a segment gets when the file leaves its thresholds empty, as a segment added live.
const DEFAULT_WARNING_S: u32 = 120;
const DEFAULT_DANGER_S: u32 = 30;

/// The new plan, checked segment by segment (so that an error names its row) and then
/// whole, against `current`, with planned times from the start.
pub fn whole(current: &RunOfShow, new: &RunOfShow) -> Result<RunOfShow, Vec<SheetError>> {
    plan::checked(current, new).map(plan::retimed).map_err(|e| vec![SheetError::file(e.to_string())])
}

/// An event file as the new plan: its segments and its event's title, venue, time zone and
/// start. Without a date of its own it keeps the current plan's day.
pub fn event_file(file: &[u8], current: &RunOfShow) -> Result<RunOfShow, Vec<SheetError>> {
    let text = std::str::from_utf8(file).map_err(|_| vec![SheetError::file("the event file is not UTF-8 text")])?;
    let day = DateTime::<Utc>::from_timestamp_millis(current.event.planned_start).unwrap_or_default();
    let new = crate::config::parse_event(text, day).map_err(|e| vec![SheetError::file(format!("{e:#}"))])?;
    if new.event.id != current.event.id {
        return Err(vec![SheetError::file(format!(
            "the file is the event {:?}, not {:?}; import it into that event, or change its id",
            new.event.id, current.event.id
        ))]);
    }
    Ok(new)
}

/// Minutes since midnight of `HH:MM` (a time cell's `HH:MM:00` too).
fn minute_of_day(text: &str) -> Option<u32> {
    let time = NaiveTime::parse_from_str(text, "%H:%M")
        .ok()
        .or_else(|| NaiveTime::parse_from_str(text, "%H:%M:%S").ok().filter(|t| t.second() == 0))?;
    Some(time.hour() * 60 + time.minute())
}

fn clock(minute_of_day: u32) -> String {
    format!("{:02}:{:02}", minute_of_day / 60 % 24, minute_of_day % 60)
}

/// A segment as its row gives it, with what the rows around it need.
struct Parsed {
    number: usize,
    /// None when the row has errors; its id is empty when the row leaves it to be made.
    segment: Option<Segment>,
    start: Option<u32>,
    duration_min: Option<u32>,
}

fn enum_of<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    let name = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    serde_json::from_value(serde_json::Value::String(name)).ok()
}

const KINDS: &str = "ceremony, speech, keynote, panel, qa, break, closing";

fn parse_row(mut row: Row<'_>, current: &RunOfShow) -> Parsed {
    let before = row.errors.len();
    let id = row.text("id").unwrap_or_default();
    let start = row.cell("start").map(Cell::time_text).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let start = start.and_then(|text| {
        let minute = minute_of_day(&text);
        if minute.is_none() {
            row.error("start", format!("{text:?} is not a time of day (HH:MM)"));
        }
        minute
    });
    let duration_min = match row.text("duration") {
        Some(text) => row.parse_number("duration", &text, 1..=MAX_MINUTES, "minutes"),
        None => {
            row.error("duration", "is empty; give the segment's length in minutes");
            None
        }
    };
    let kind = match row.text("kind") {
        Some(text) => {
            let kind = enum_of::<SegmentKind>(&text);
            if kind.is_none() {
                row.error("kind", format!("{text:?} is not one of {KINDS}"));
            }
            kind
        }
        None => {
            row.error("kind", format!("is empty; give one of {KINDS}"));
            None
        }
    };
    let title = row.localized("title");
    if title.is_none() && row.text("title_zh").is_none() && row.text("title_ja").is_none() {
        row.error("title_en", "is empty; every segment needs an English title");
    }
    let chair = row.localized("chair");
    let speakers = speakers(&mut row);
    let cues = cues(&mut row, current);
    let warning_s = row.number("warning_s", 0..=MAX_THRESHOLD_S, "seconds").unwrap_or(DEFAULT_WARNING_S);
    let danger_s = row.number("danger_s", 0..=MAX_THRESHOLD_S, "seconds").unwrap_or(DEFAULT_DANGER_S);
    let speaking_limit = row.number("speaking_limit_min", 0..=MAX_MINUTES, "minutes").filter(|m| *m > 0);
    let join_url = row.text("join_url");
    if let Some(url) = &join_url {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 500
            && !url.chars().any(char::is_whitespace);
        if !ok {
            row.error("join_url", format!("{url:?} is not an http(s) link of at most 500 characters"));
        }
    }
    let av_notes = row.text("av_notes").unwrap_or_default();
    let side_budgets = side_budgets(&mut row);
    let ok = row.errors.len() == before;
    let segment = (|| {
        Some(Segment {
            id,
            kind: kind?,
            title: title?,
            chair,
            speakers,
            planned_start: 0,
            duration_ms: Millis::from(duration_min?) * MINUTE,
            speaking_limit_ms: speaking_limit.map(|m| Millis::from(m) * MINUTE),
            warning_ms: Millis::from(warning_s) * 1000,
            danger_ms: Millis::from(danger_s) * 1000,
            av_notes,
            join_url,
            cues,
            interpretation: Vec::new(),
            qa: None,
            side_budgets,
        })
    })()
    .filter(|_| ok);
    Parsed { number: row.number, segment, start, duration_min }
}

fn speakers(row: &mut Row<'_>) -> Vec<Speaker> {
    let names = row.lines("speakers_en");
    let count = names.len();
    for (k, name) in names.iter().enumerate() {
        if name.is_none() {
            row.error("speakers_en", format!("line {} is empty; every speaker needs an English name", k + 1));
        }
    }
    let of = "speakers in speakers_en";
    let [zh, ja] = ["speakers_zh", "speakers_ja"].map(|c| row.list(c, count, of));
    let ids = row.list("speaker_ids", count, of);
    let minutes = row.list("speaker_minutes", count, of);
    let modes = row.list("speaker_modes", count, of);
    let langs = row.list("speaker_langs", count, of);
    let sides = row.list("speaker_sides", count, of);
    let affiliations = row.localized_lines("speaker_affiliations", count, of);
    let topics = row.localized_lines("speaker_topics", count, of);
    let mut speakers = Vec::with_capacity(count);
    for k in 0..count {
        let minutes = minutes[k].as_deref().and_then(|text| {
            row.parse_number("speaker_minutes", text, 1..=MAX_MINUTES, "minutes").map(|m| Millis::from(m) * MINUTE)
        });
        let mode = modes[k].as_deref().and_then(|text| {
            let mode = enum_of::<Mode>(text);
            if mode.is_none() {
                row.error("speaker_modes", format!("{text:?} is not in_room or remote"));
            }
            mode
        });
        let lang = langs[k].as_deref().and_then(|text| {
            let lang = enum_of::<Lang>(text);
            if lang.is_none() {
                row.error("speaker_langs", format!("{text:?} is not zh, ja or en"));
            }
            lang
        });
        let Some(en) = names[k].clone() else { continue };
        speakers.push(Speaker {
            id: ids[k].clone().unwrap_or_default(),
            name: Localized {
                zh: zh[k].clone().unwrap_or_else(|| en.clone()),
                ja: ja[k].clone().unwrap_or_else(|| en.clone()),
                en,
            },
            affiliation: affiliations[k].clone(),
            topic: topics[k].clone(),
            mode,
            lang,
            duration_ms: minutes,
            side: sides[k].clone(),
        });
    }
    speakers
}

/// The sides' budgets of a segment, one side per line as `id=seconds`.
fn side_budgets(row: &mut Row<'_>) -> BTreeMap<String, Millis> {
    let mut budgets = BTreeMap::new();
    for line in row.lines("side_budgets").into_iter().flatten() {
        let Some((side, seconds)) = line.split_once('=') else {
            row.error("side_budgets", format!("{line:?} is not a side and its seconds, as cn=600"));
            continue;
        };
        if let Some(seconds) = row.parse_number("side_budgets", seconds.trim(), 1..=MAX_BUDGET_S, "seconds") {
            budgets.insert(side.trim().to_owned(), Millis::from(seconds) * 1000);
        }
    }
    budgets
}

/// A crew position by its name, or a person as `person:Name`.
fn cue_target(text: &str) -> Option<CueTarget> {
    if let Some((prefix, name)) = text.split_once(':') {
        let name = name.trim();
        return (prefix.trim().eq_ignore_ascii_case("person") && !name.is_empty())
            .then(|| CueTarget::Person { person: name.to_owned() });
    }
    enum_of::<CrewPosition>(text).map(CueTarget::Position)
}

fn cues(row: &mut Row<'_>, current: &RunOfShow) -> Vec<PlannedCue> {
    let columns = ["cue_targets", "cue_texts_en", "cue_texts_zh", "cue_texts_ja", "cue_presets"];
    let count = columns.iter().map(|c| row.lines(c).len()).max().unwrap_or(0);
    let of = "planned cues";
    let targets = row.list("cue_targets", count, of);
    let presets = row.list("cue_presets", count, of);
    let texts = row.localized_lines("cue_texts", count, of);
    let mut cues = Vec::with_capacity(count);
    for k in 0..count {
        let line = k + 1;
        let preset = match presets[k].as_deref() {
            Some(id) => match current.cue_presets.iter().find(|p| p.id == id) {
                Some(preset) => Some(preset),
                None => {
                    let known: Vec<&str> = current.cue_presets.iter().map(|p| p.id.as_str()).collect();
                    let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                    row.error("cue_presets", format!("line {line}: no cue preset {id:?} (this event has {known})"));
                    continue;
                }
            },
            None => None,
        };
        let target = match targets[k].as_deref() {
            Some(text) => match cue_target(text) {
                Some(target) => Some(target),
                None => {
                    row.error(
                        "cue_targets",
                        format!(
                            "line {line}: {text:?} is not audio, video, lighting, interpretation, stage or person:Name"
                        ),
                    );
                    continue;
                }
            },
            None => preset.map(|p| p.target.clone()),
        };
        let Some(target) = target else {
            row.error("cue_targets", format!("line {line}: a planned cue needs a target or a preset"));
            continue;
        };
        let Some(text) = texts[k].clone().or_else(|| preset.map(|p| p.text.clone())) else {
            row.error("cue_texts_en", format!("line {line}: a planned cue needs a text or a preset"));
            continue;
        };
        cues.push(PlannedCue { target, text, preset: preset.map(|p| p.id.clone()) });
    }
    cues
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn stem(kind: SegmentKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The rows as a new plan for the event `current` plans. The first row's start, when
/// given, sets the event's start on the same day; `start_known` says whether the event
/// has one otherwise.
pub fn sheet(rows: &[Vec<Cell>], current: &RunOfShow, start_known: bool) -> Result<RunOfShow, Vec<SheetError>> {
    let Some((header_row, data)) = rows.split_first() else {
        return Err(vec![SheetError::file("the file is empty; row 1 must hold the column headers")]);
    };
    let header = Header::parse(header_row, &COLUMNS, &REQUIRED)?;
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for (k, cells) in data.iter().enumerate() {
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        let row = Row { number: k + 2, cells, header: &header, errors: &mut errors };
        parsed.push(parse_row(row, current));
    }
    if parsed.is_empty() && errors.is_empty() {
        errors.push(SheetError::file("the file has no segments; give one row per segment under the headers"));
    }
    name_segments(&mut parsed, &mut errors);
    check_speaker_ids(&parsed, &mut errors);
    let zone: chrono_tz::Tz = current.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = zone.timestamp_millis_opt(current.event.planned_start).single().map(|t| t.naive_local());
    let mut planned_start = current.event.planned_start;
    let first_row = parsed.first().map_or(2, |p| p.number);
    let first_start = parsed.first().and_then(|p| p.start);
    if let Some(minute) = first_start {
        let at = local.map(|l| l.date()).and_then(|date| {
            let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?;
            zone.from_local_datetime(&date.and_time(time)).earliest()
        });
        match at {
            Some(at) => planned_start = at.timestamp_millis(),
            None => errors.push(SheetError::cell(
                first_row,
                "start",
                format!("{} does not exist in {} that day", clock(minute), current.event.time_zone),
            )),
        }
    } else if !start_known {
        errors.push(SheetError::cell(
            first_row,
            "start",
            "is empty; give the first segment's start (HH:MM) or the event's start",
        ));
    }
    check_starts(&parsed, first_start.or(local.map(|l| l.hour() * 60 + l.minute())), &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut event = current.event.clone();
    event.planned_start = planned_start;
    let new = RunOfShow {
        event,
        segments: Vec::new(),
        cue_presets: current.cue_presets.clone(),
        note_presets: current.note_presets.clone(),
        short_links: current.short_links.clone(),
        branding: current.branding.clone(),
        automations: current.automations.clone(),
        qa: current.qa,
        prepared_polls: current.prepared_polls.clone(),
        sides: current.sides.clone(),
    };
    // Each segment alone first, so that what the plan check refuses names its row.
    let segments: Vec<(usize, Segment)> = parsed.into_iter().filter_map(|p| Some((p.number, p.segment?))).collect();
    for (number, segment) in &segments {
        let alone = RunOfShow { segments: vec![segment.clone()], ..new.clone() };
        if let Err(e) = plan::checked(current, &alone) {
            errors.push(SheetError::row(*number, e.to_string()));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The sheet has no column for how a segment takes questions: a segment keeps its own.
    let kept_qa = |segment: Segment| {
        let qa = current.segments.iter().find(|s| s.id == segment.id).and_then(|s| s.qa);
        Segment { qa, ..segment }
    };
    Ok(RunOfShow { segments: segments.into_iter().map(|(_, segment)| kept_qa(segment)).collect(), ..new })
}

/// Checks the ids rows give and makes the others: the first free `{kind}-{n}`.
fn name_segments(parsed: &mut [Parsed], errors: &mut Vec<SheetError>) {
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (number, segment) in parsed.iter().filter_map(|p| Some((p.number, p.segment.as_ref()?))) {
        let id = &segment.id;
        if id.is_empty() {
            continue;
        }
        if !valid_id(id) || id == EVENT_QUEUE {
            errors.push(SheetError::cell(
                number,
                "id",
                format!("{id:?} must be 1-64 letters, digits, '-' or '_', and not {EVENT_QUEUE:?}"),
            ));
        } else if let Some(first) = taken.get(id) {
            errors.push(SheetError::cell(number, "id", format!("{id:?} is already the id of row {first}")));
        } else {
            taken.insert(id.clone(), number);
        }
    }
    // Per kind, the next number to try: the ones below it are taken, so each search goes
    // on from where the last one stopped rather than from 1 again, which made a sheet of
    // rows without ids take time in the square of its rows.
    let mut next: HashMap<String, u32> = HashMap::new();
    for p in parsed.iter_mut() {
        let Some(segment) = p.segment.as_mut().filter(|s| s.id.is_empty()) else { continue };
        let stem = stem(segment.kind);
        let n = next.entry(stem.clone()).or_insert(1);
        let id = loop {
            let id = format!("{stem}-{n}");
            *n += 1;
            if !taken.contains_key(&id) {
                break id;
            }
        };
        taken.insert(id.clone(), p.number);
        segment.id = id;
    }
}

fn check_speaker_ids(parsed: &[Parsed], errors: &mut Vec<SheetError>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut reported = HashSet::new();
    for (number, segment) in parsed.iter().filter_map(|p| Some((p.number, p.segment.as_ref()?))) {
        for id in segment.speakers.iter().map(|s| s.id.as_str()).filter(|id| !id.is_empty()) {
            if !valid_id(id) {
                errors.push(SheetError::cell(
                    number,
                    "speaker_ids",
                    format!("{id:?} must be 1-64 letters, digits, '-' or '_'"),
                ));
            } else if let Some(first) = seen.get(id) {
                if reported.insert(id) {
                    errors.push(SheetError::cell(
                        number,
                        "speaker_ids",
                        format!("{id:?} is already a speaker in row {first}"),
                    ));
                }
            } else {
                seen.insert(id, number);
            }
        }
    }
}

/// A start given after the first row must be where the durations above put it.
fn check_starts(parsed: &[Parsed], first: Option<u32>, errors: &mut Vec<SheetError>) {
    let mut cursor = first;
    for (k, p) in parsed.iter().enumerate() {
        if let (Some(given), Some(expected), true) = (p.start, cursor, k > 0) {
            if given != expected % (24 * 60) {
                errors.push(SheetError::cell(
                    p.number,
                    "start",
                    format!(
                        "'{}' does not follow from the rows above ({}); leave it empty or fix the durations",
                        clock(given),
                        clock(expected)
                    ),
                ));
            }
        }
        cursor = cursor.zip(p.duration_min).map(|(at, d)| at + d);
    }
}
