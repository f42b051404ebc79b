//! The run of show as a spreadsheet: read from CSV, XLSX or an event file, written as CSV
//! and XLSX (and as an iCalendar file), and what changed between two plans in words. Pure apart from byte buffers;
//! it knows nothing of HTTP or the hub.
//!
//! One row per segment under English headers on row 1; a cell may hold one line per
//! speaker or planned cue. Errors name the spreadsheet row (the header is row 1) and the
//! column, and a file with any error yields no plan.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::show::{EventInfo, RunOfShow};
use crate::domain::text::{Lang, Localized};
use crate::domain::Millis;

mod calendar;
mod cells;
mod diff;
mod formula;
mod grid;
mod polls;
mod read;
mod write;

pub use calendar::programme_ics;
pub use diff::differences;
pub use formula::csv_safe;
pub use write::{plan_csv, plan_xlsx, tables_xlsx, Table, TableCell};

/// The largest file an import reads, so that one upload cannot hold megabytes of memory
/// per row while it is parsed.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

/// The most an XLSX workbook's parts may unpack to, all together, counted as they are
/// inflated (the sizes a zip declares can lie): a 2 MiB workbook may otherwise unpack to
/// gigabytes.
pub const MAX_UNPACKED_BYTES: usize = 20 * 1024 * 1024;

/// The most shared strings a workbook may hold: a plan has at most [`MAX_ROWS`] rows of
/// [`MAX_COLUMNS`] cells, and the reader sets aside room for as many as the workbook claims.
pub const MAX_SHARED_STRINGS: usize = 100_000;

/// The most characters a cell may hold: Excel's own limit.
pub const MAX_CELL_CHARS: usize = 32_767;

/// The most rows a sheet may have, the header included, as the spreadsheet numbers them:
/// room for the 200 segments of a plan with blank rows between them.
pub const MAX_ROWS: usize = 1_000;

/// The most columns a sheet may use, A to BL: the 35 columns a plan has, in any order,
/// with room for blank ones between them.
pub const MAX_COLUMNS: usize = 64;

/// Every column, in the order exports write them; imports take them in any order.
pub const COLUMNS: [&str; 35] = [
    "id",
    "start",
    "duration",
    "kind",
    "title_en",
    "title_zh",
    "title_ja",
    "chair_en",
    "chair_zh",
    "chair_ja",
    "speakers_en",
    "speakers_zh",
    "speakers_ja",
    "speaker_ids",
    "speaker_minutes",
    "speaker_modes",
    "speaker_langs",
    "speaker_sides",
    "speaker_affiliations_en",
    "speaker_affiliations_zh",
    "speaker_affiliations_ja",
    "speaker_topics_en",
    "speaker_topics_zh",
    "speaker_topics_ja",
    "cue_targets",
    "cue_texts_en",
    "cue_texts_zh",
    "cue_texts_ja",
    "cue_presets",
    "av_notes",
    "warning_s",
    "danger_s",
    "speaking_limit_min",
    "join_url",
    "side_budgets",
];

/// The columns a file must have.
pub const REQUIRED: [&str; 3] = ["kind", "duration", "title_en"];

/// The sheet an XLSX import reads when the workbook has one of this name (any case).
pub const SHEET_NAME: &str = "Run of show";

/// The sheet of a workbook that holds the plan's prepared polls, one row each (any case).
pub const POLLS_SHEET: &str = "Polls";

/// The columns of the polls sheet, in the order exports write them.
pub const POLL_COLUMNS: [&str; 11] = [
    "id",
    "segment",
    "question_en",
    "question_zh",
    "question_ja",
    "options_en",
    "options_zh",
    "options_ja",
    "multiple",
    "anonymous",
    "results",
];

/// The columns the polls sheet must have.
pub const POLL_REQUIRED: [&str; 3] = ["id", "question_en", "options_en"];

/// How an uploaded file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    /// An event file, as in the events directory.
    Toml,
}

/// The content type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl Format {
    /// The format a content type names; an XLSX file is known by its zip signature
    /// whatever it is sent as, since browsers and scripts often send octet-stream.
    pub fn of(content_type: Option<&str>, body: &[u8]) -> Option<Format> {
        if body.starts_with(b"PK\x03\x04") {
            return Some(Format::Xlsx);
        }
        let essence = content_type?.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            XLSX => Some(Format::Xlsx),
            "application/toml" | "text/toml" | "text/x-toml" => Some(Format::Toml),
            _ => None,
        }
    }
}

/// One thing wrong with a file: where (the spreadsheet row, header = 1, and the column
/// header), when it is about a cell, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SheetError {
    /// The sheet, when it is not the run of show's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<&'static str>,
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

impl SheetError {
    fn cell(row: usize, column: &str, message: impl Into<String>) -> Self {
        SheetError { sheet: None, row: Some(row), column: Some(column.to_owned()), message: message.into() }
    }

    fn row(row: usize, message: impl Into<String>) -> Self {
        SheetError { sheet: None, row: Some(row), column: None, message: message.into() }
    }

    fn file(message: impl Into<String>) -> Self {
        SheetError { sheet: None, row: None, column: None, message: message.into() }
    }
}

impl fmt::Display for SheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(sheet) = self.sheet {
            write!(f, "sheet {sheet:?}, ")?;
        }
        match (self.row, &self.column) {
            (Some(row), Some(column)) => write!(f, "row {row}, {column}: {}", self.message),
            (Some(row), None) => write!(f, "row {row}: {}", self.message),
            (None, Some(column)) => write!(f, "{column}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// `file`, in `format`, as a new plan for the event `current` plans: its segments, and
/// from a spreadsheet's first row the event's start (on the same day); from an event file
/// also its title, venue, time zone and day. Checked as a plan edit is, under `current`'s
/// id, languages and cue presets, with planned times from the start.
pub fn read_plan(format: Format, file: &[u8], current: &RunOfShow) -> Result<RunOfShow, Vec<SheetError>> {
    let new = match format {
        Format::Toml => read::event_file(file, current)?,
        Format::Csv | Format::Xlsx => sheets(format, file, current, true)?,
    };
    read::whole(current, &new)
}

/// The event fields of a new event, as query parameters give them when a spreadsheet
/// (which holds only segments) creates it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NewEvent {
    pub id: String,
    pub title_en: String,
    pub title_zh: Option<String>,
    pub title_ja: Option<String>,
    pub venue_en: String,
    pub venue_zh: Option<String>,
    pub venue_ja: Option<String>,
    /// IANA name; UTC when absent.
    pub time_zone: Option<String>,
    /// Local date, YYYY-MM-DD; the day `now` falls on in the time zone when absent.
    pub date: Option<String>,
    /// Local HH:MM; the first row's start when absent, which must then be given.
    pub start: Option<String>,
    /// Comma-separated, e.g. "zh,ja,en"; English alone when absent.
    pub languages: Option<String>,
    #[serde(default)]
    pub hybrid: bool,
}

/// `file`, in `format`, as the plan of a new event: a spreadsheet's segments under the
/// event `fields` give, or an event file whole (whose own `[event]` section then wins).
pub fn read_new_event(
    format: Format,
    file: &[u8],
    fields: &NewEvent,
    now: DateTime<Utc>,
) -> Result<RunOfShow, Vec<SheetError>> {
    if format == Format::Toml {
        let text = std::str::from_utf8(file).map_err(|_| vec![SheetError::file("the event file is not UTF-8 text")])?;
        return crate::config::parse_event(text, now).map_err(|e| vec![SheetError::file(format!("{e:#}"))]);
    }
    let (skeleton, start_known) = new_event_skeleton(fields, now).map_err(|e| vec![SheetError::file(e)])?;
    let new = sheets(format, file, &skeleton, start_known)?;
    read::whole(&skeleton, &new)
}

/// A spreadsheet as a new plan for the event `current` plans: the run of show, and the
/// prepared polls of a workbook's polls sheet (without one, those of `current`).
fn sheets(format: Format, file: &[u8], current: &RunOfShow, start_known: bool) -> Result<RunOfShow, Vec<SheetError>> {
    let (rows, polls) = grid::read(format, file)?;
    let mut new = read::sheet(&rows, current, start_known)?;
    if let Some(rows) = polls {
        new.prepared_polls = polls::read(&rows, &new)?;
    }
    Ok(new)
}

/// A plan of no segments holding `fields`, and whether its start was given.
fn new_event_skeleton(fields: &NewEvent, now: DateTime<Utc>) -> Result<(RunOfShow, bool), String> {
    let localized = |en: &str, zh: &Option<String>, ja: &Option<String>| Localized {
        zh: zh.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| en.to_owned()),
        ja: ja.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| en.to_owned()),
        en: en.to_owned(),
    };
    let valid_id = |id: &str| {
        (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !valid_id(&fields.id) {
        return Err(format!("event id {:?} must be 1-64 letters, digits, '-' or '_'", fields.id));
    }
    let zone_name = fields.time_zone.clone().unwrap_or_else(|| "UTC".to_owned());
    let zone: chrono_tz::Tz = zone_name
        .parse()
        .map_err(|_| format!("unknown time zone {zone_name:?}; use an IANA name such as Asia/Shanghai"))?;
    let date = match &fields.date {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "date must be YYYY-MM-DD".to_owned())?,
        None => now.with_timezone(&zone).date_naive(),
    };
    let time = match &fields.start {
        Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| "start must be HH:MM".to_owned())?,
        None => NaiveTime::MIN,
    };
    let planned_start: Millis = zone
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .ok_or_else(|| format!("{date} {time} does not exist in {zone_name}"))?
        .timestamp_millis();
    let languages = match &fields.languages {
        Some(list) => list
            .split(',')
            .map(|code| {
                serde_json::from_value::<Lang>(serde_json::Value::String(code.trim().to_ascii_lowercase()))
                    .map_err(|_| format!("language {code:?} is not one of zh, ja, en"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![Lang::En],
    };
    let event = EventInfo {
        id: fields.id.clone(),
        title: localized(&fields.title_en, &fields.title_zh, &fields.title_ja),
        venue: localized(&fields.venue_en, &fields.venue_zh, &fields.venue_ja),
        time_zone: zone_name,
        languages,
        hybrid: fields.hybrid,
        planned_start,
        planned_end: planned_start,
        standby_alert_ms: 10_000,
    };
    let plan = RunOfShow {
        event,
        segments: Vec::new(),
        cue_presets: Vec::new(),
        note_presets: Vec::new(),
        short_links: Vec::new(),
        branding: None,
        automations: Vec::new(),
        sides: Vec::new(),
        qa: Default::default(),
        prepared_polls: Vec::new(),
    };
    Ok((plan, fields.start.is_some()))
}

#[cfg(test)]
mod tests;
