//! A run of show written as the rows an import reads back to the same plan, as CSV and
//! as an XLSX workbook, and any tables as a workbook of a sheet each.

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::formula::csv_safe;
use super::{COLUMNS, POLLS_SHEET, POLL_COLUMNS, SHEET_NAME};
use crate::domain::cues::CueTarget;
use crate::domain::show::{PlannedCue, RunOfShow, Segment, Speaker};
use crate::domain::sides;
use crate::domain::text::Localized;
use crate::domain::Millis;

/// What each column holds, for the workbook's second sheet; the operations guide has the
/// same table.
const COLUMN_HELP: [(&str, &str); 35] = [
    ("id", "Segment id: letters, digits, '-' or '_'. Empty: made from the kind (break-1, …). Keep it to keep the segment's queue and record."),
    ("start", "Local HH:MM. The first row's start sets the event's start; a later one must equal the running total, or stay empty."),
    ("duration", "Required. Whole minutes, 1-1440."),
    ("kind", "Required. ceremony, speech, keynote, panel, qa, break or closing."),
    ("title_en", "Required. The title in English."),
    ("title_zh", "The title in Chinese; English when empty."),
    ("title_ja", "The title in Japanese; English when empty."),
    ("chair_en", "Who chairs the segment, in English; empty for none."),
    ("chair_zh", "The chair's name in Chinese; English when empty."),
    ("chair_ja", "The chair's name in Japanese; English when empty."),
    ("speakers_en", "One speaker per line (Alt+Enter in Excel). The other speaker_ columns follow these lines."),
    ("speakers_zh", "Each speaker's name in Chinese, line by line; a blank line: the English name."),
    ("speakers_ja", "Each speaker's name in Japanese, line by line; a blank line: the English name."),
    ("speaker_ids", "Each speaker's stable id, line by line; a blank line: one is made."),
    ("speaker_minutes", "Each speaker's planned minutes, line by line; a blank line: not planned."),
    ("speaker_modes", "in_room or remote, line by line; a blank line: not known."),
    ("speaker_langs", "The language each speaks: zh, ja or en, line by line."),
    ("speaker_sides", "The side each speaks for (a side id of the event, e.g. cn), line by line; a blank line: none."),
    ("speaker_affiliations_en", "Each speaker's affiliation in English, line by line."),
    ("speaker_affiliations_zh", "Affiliations in Chinese, line by line; a blank line: the English one."),
    ("speaker_affiliations_ja", "Affiliations in Japanese, line by line; a blank line: the English one."),
    ("speaker_topics_en", "Each speaker's talk title in English, line by line."),
    ("speaker_topics_zh", "Talk titles in Chinese, line by line; a blank line: the English one."),
    ("speaker_topics_ja", "Talk titles in Japanese, line by line; a blank line: the English one."),
    ("cue_targets", "One planned cue per line: audio, video, lighting, interpretation, stage or person:Name."),
    ("cue_texts_en", "Each cue's text in English, line by line (at most 140 characters)."),
    ("cue_texts_zh", "Cue texts in Chinese; a blank line: the English text."),
    ("cue_texts_ja", "Cue texts in Japanese; a blank line: the English text."),
    ("cue_presets", "A cue preset id of the event, line by line: it gives the target and text left empty."),
    ("av_notes", "Notes for the AV crew."),
    ("warning_s", "Seconds left when the stage countdown turns amber (0-3600; empty: 120)."),
    ("danger_s", "Seconds left when it turns red (0-3600; empty: 30)."),
    ("speaking_limit_min", "Minutes each person called from the queue may speak; empty or 0: no limit."),
    ("join_url", "The meeting link remote speakers join by (http or https)."),
    ("side_budgets", "Each side's floor time in the segment, one side per line as id=seconds (cn=600)."),
];

/// What each column of the polls sheet holds, for the workbook's "Columns" sheet.
const POLL_COLUMN_HELP: [(&str, &str); 11] = [
    ("id", "Polls sheet. Required. The poll's id: letters, digits, '-' or '_'; the console and the control API name it so."),
    ("segment", "Polls sheet. The id of the segment it is for (the console offers it while that segment is live); empty: any."),
    ("question_en", "Polls sheet. Required. The question in English (at most 280 characters)."),
    ("question_zh", "Polls sheet. The question in Chinese; English when empty."),
    ("question_ja", "Polls sheet. The question in Japanese; English when empty."),
    ("options_en", "Polls sheet. Required. One option per line, 2 to 10 (at most 100 characters each)."),
    ("options_zh", "Polls sheet. Each option in Chinese, line by line; a blank line: the English option."),
    ("options_ja", "Polls sheet. Each option in Japanese, line by line; a blank line: the English option."),
    ("multiple", "Polls sheet. yes: several options may be chosen; empty or no: one."),
    ("anonymous", "Polls sheet. no: each voter's name is kept for the exports; empty or yes: only the counts."),
    ("results", "Polls sheet. When the audience sees the results: live, closed (after closing; empty) or chair (when shown)."),
];

/// A cell of an exported row: numbers stay numbers and times times in a workbook.
enum Value {
    Text(String),
    Number(u32),
    /// A local time of day, hours and minutes.
    Clock(u32, u32),
    Empty,
}

impl Value {
    /// The cell in a CSV file, text that could run as a formula quoted.
    fn csv(&self) -> String {
        match self {
            Value::Text(text) => csv_safe(text).into_owned(),
            Value::Number(n) => n.to_string(),
            Value::Clock(hour, minute) => format!("{hour:02}:{minute:02}"),
            Value::Empty => String::new(),
        }
    }
}

/// How a workbook shows a planned start: a time cell, which a spreadsheet can add to.
const CLOCK_FORMAT: &str = "hh:mm";
/// How a workbook shows a moment of the record, in the event's time zone.
const MOMENT_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";

/// One line per entry; a missing value is a blank line.
fn lines<'a>(items: impl Iterator<Item = Option<&'a str>>) -> Value {
    let lines: Vec<&str> = items.map(Option::unwrap_or_default).collect();
    let text = lines.join("\n");
    if text.trim().is_empty() {
        Value::Empty
    } else {
        Value::Text(text.trim_end_matches('\n').to_owned())
    }
}

fn text(text: &str) -> Value {
    if text.is_empty() {
        Value::Empty
    } else {
        Value::Text(text.to_owned())
    }
}

fn minutes(ms: Millis) -> u32 {
    u32::try_from(ms / 60_000).unwrap_or(u32::MAX)
}

/// Whole seconds, rounded up as a plan edit reads them back.
fn seconds(ms: Millis) -> u32 {
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

/// The name an enum has in files and frames (`in_room`, `keynote`, …).
pub(super) fn serde_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn target_text(target: &CueTarget) -> String {
    match target {
        CueTarget::Position(position) => serde_name(position),
        CueTarget::Person { person } => format!("person:{person}"),
    }
}

/// A cue that is its preset unchanged is written as the preset alone.
fn is_preset(plan: &RunOfShow, cue: &PlannedCue) -> bool {
    cue.preset
        .as_ref()
        .is_some_and(|id| plan.cue_presets.iter().any(|p| &p.id == id && p.target == cue.target && p.text == cue.text))
}

/// One language of a text.
type Pick = fn(&Localized) -> &str;

fn row(plan: &RunOfShow, segment: &Segment, start: Value) -> Vec<Value> {
    let speakers = &segment.speakers;
    let name = |pick: fn(&Localized) -> &str| lines(speakers.iter().map(|p| Some(pick(&p.name))));
    let of = |field: fn(&Speaker) -> Option<&Localized>, pick: fn(&Localized) -> &str| {
        lines(speakers.iter().map(|p| field(p).map(pick)))
    };
    let chair = |pick: fn(&Localized) -> &str| segment.chair.as_ref().map_or(Value::Empty, |c| text(pick(c)));
    let own: Vec<Option<&PlannedCue>> = segment.cues.iter().map(|c| (!is_preset(plan, c)).then_some(c)).collect();
    let cue_text = |pick: fn(&Localized) -> &str| lines(own.iter().map(|c| c.map(|c| pick(&c.text))));
    let targets: Vec<Option<String>> = own.iter().map(|c| c.map(|c| target_text(&c.target))).collect();
    let (en, zh, ja): (Pick, Pick, Pick) = (|l| &l.en, |l| &l.zh, |l| &l.ja);
    let minutes_lines: Vec<Option<String>> =
        speakers.iter().map(|p| p.duration_ms.map(|ms| minutes(ms).to_string())).collect();
    let budgets: Vec<String> =
        sides::budget_seconds(&segment.side_budgets).iter().map(|(side, s)| format!("{side}={s}")).collect();
    let enum_lines = |value: fn(&Speaker) -> Option<String>| {
        let names: Vec<Option<String>> = speakers.iter().map(value).collect();
        lines(names.iter().map(Option::as_deref))
    };
    vec![
        text(&segment.id),
        start,
        Value::Number(minutes(segment.duration_ms)),
        text(&serde_name(segment.kind)),
        text(&segment.title.en),
        text(&segment.title.zh),
        text(&segment.title.ja),
        chair(en),
        chair(zh),
        chair(ja),
        name(en),
        name(zh),
        name(ja),
        lines(speakers.iter().map(|p| Some(p.id.as_str()))),
        lines(minutes_lines.iter().map(Option::as_deref)),
        enum_lines(|p| p.mode.map(serde_name)),
        enum_lines(|p| p.lang.map(serde_name)),
        lines(speakers.iter().map(|p| p.side.as_deref())),
        of(|p| p.affiliation.as_ref(), en),
        of(|p| p.affiliation.as_ref(), zh),
        of(|p| p.affiliation.as_ref(), ja),
        of(|p| p.topic.as_ref(), en),
        of(|p| p.topic.as_ref(), zh),
        of(|p| p.topic.as_ref(), ja),
        lines(targets.iter().map(Option::as_deref)),
        cue_text(en),
        cue_text(zh),
        cue_text(ja),
        lines(segment.cues.iter().map(|c| c.preset.as_deref())),
        text(&segment.av_notes),
        Value::Number(seconds(segment.warning_ms)),
        Value::Number(seconds(segment.danger_ms)),
        segment.speaking_limit_ms.map_or(Value::Empty, |ms| Value::Number(minutes(ms))),
        segment.join_url.as_deref().map_or(Value::Empty, text),
        lines(budgets.iter().map(|line| Some(line.as_str()))),
    ]
}

/// Every segment's row, with its start as the running total from the event's start (which
/// is what an import checks a given start against).
fn rows(plan: &RunOfShow) -> Vec<Vec<Value>> {
    let zone: chrono_tz::Tz = plan.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let mut cursor = plan.event.planned_start;
    plan.segments
        .iter()
        .map(|segment| {
            let start =
                zone.timestamp_millis_opt(cursor).single().map_or(Value::Empty, |t| Value::Clock(t.hour(), t.minute()));
            cursor += segment.duration_ms;
            row(plan, segment, start)
        })
        .collect()
}

/// The plan as CSV, every column, one row per segment.
pub fn plan_csv(plan: &RunOfShow) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory with the same number of fields in every record cannot fail.
    let _ = out.write_record(COLUMNS);
    for row in rows(plan) {
        let _ = out.write_record(row.iter().map(Value::csv));
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One row per prepared poll, under [`POLL_COLUMNS`].
fn poll_rows(plan: &RunOfShow) -> Vec<Vec<Value>> {
    let yes_no = |yes: bool| text(if yes { "yes" } else { "no" });
    plan.prepared_polls
        .iter()
        .map(|poll| {
            let options = |pick: fn(&Localized) -> &str| lines(poll.options.iter().map(|option| Some(pick(option))));
            vec![
                text(&poll.id),
                poll.segment.as_deref().map_or(Value::Empty, text),
                text(&poll.question.en),
                text(&poll.question.zh),
                text(&poll.question.ja),
                options(|l| &l.en),
                options(|l| &l.zh),
                options(|l| &l.ja),
                yes_no(poll.multiple),
                yes_no(poll.anonymous),
                text(&serde_name(poll.results)),
            ]
        })
        .collect()
}

/// The plan as a workbook: the sheet "Run of show", the sheet "Polls" of its prepared
/// polls, and a sheet explaining the columns.
pub fn plan_xlsx(plan: &RunOfShow) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET_NAME)?;
    header(sheet, &COLUMNS, &bold)?;
    write_rows(sheet, &rows(plan))?;
    let sheet = workbook.add_worksheet();
    sheet.set_name(POLLS_SHEET)?;
    header(sheet, &POLL_COLUMNS, &bold)?;
    write_rows(sheet, &poll_rows(plan))?;
    let help = workbook.add_worksheet();
    help.set_name("Columns")?;
    header(help, &["column", "what it holds"], &bold)?;
    for (r, (column, what)) in COLUMN_HELP.iter().chain(&POLL_COLUMN_HELP).enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        help.write_string(r, 0, *column)?;
        help.write_string(r, 1, *what)?;
    }
    help.set_column_width(0, 24)?;
    help.set_column_width(1, 100)?;
    workbook.save_to_buffer()
}

/// Rows under a sheet's header: text with lines wrapped, numbers as numbers, times as
/// time cells.
fn write_rows(sheet: &mut Worksheet, rows: &[Vec<Value>]) -> Result<(), XlsxError> {
    let wrapped = Format::new().set_text_wrap();
    let clock = Format::new().set_num_format(CLOCK_FORMAT);
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (c, value) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            match value {
                Value::Text(text) if text.contains('\n') => sheet.write_string_with_format(r, c, text, &wrapped)?,
                Value::Text(text) => sheet.write_string(r, c, text)?,
                Value::Number(n) => sheet.write_number(r, c, *n)?,
                Value::Clock(hour, minute) => {
                    let at = ExcelDateTime::from_hms(*hour as u16, *minute as u8, 0)?;
                    sheet.write_datetime_with_format(r, c, at, &clock)?
                }
                Value::Empty => sheet,
            };
        }
    }
    Ok(())
}

fn header(sheet: &mut Worksheet, names: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, name) in names.iter().enumerate() {
        let c = u16::try_from(c).unwrap_or(u16::MAX);
        sheet.write_string_with_format(0, c, *name, bold)?;
        sheet.set_column_width(c, 18)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// A cell of a table that goes out as CSV and as a workbook.
pub enum TableCell {
    Text(String),
    Number(f64),
    /// A whole number: how many.
    Count(u32),
    /// A moment, written in its time zone.
    Time(DateTime<Tz>),
    Empty,
}

/// A moment as a workbook's date-time, to the millisecond, in its own time zone.
fn excel_moment(at: &DateTime<Tz>) -> Result<ExcelDateTime, XlsxError> {
    let t = at.naive_local();
    // Calendar and clock fields are small; only the year can be out of a workbook's range.
    let year = u16::try_from(t.year()).unwrap_or(0);
    let milli = (t.nanosecond() / 1_000_000 % 1000) as u16;
    ExcelDateTime::from_ymd(year, t.month() as u8, t.day() as u8)?.and_hms_milli(
        t.hour() as u16,
        t.minute() as u8,
        t.second() as u8,
        milli,
    )
}

/// A table of a workbook: its sheet's name, its header and its rows.
pub struct Table<'a> {
    pub name: &'a str,
    pub columns: &'a [&'a str],
    pub rows: Vec<Vec<TableCell>>,
}

/// Tables as a workbook, one sheet each: numbers as numbers, so that a spreadsheet sums
/// them, and moments as date-time cells; text is written as text, which a spreadsheet
/// never runs as a formula.
pub fn tables_xlsx(tables: &[Table<'_>]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let moment = Format::new().set_num_format(MOMENT_FORMAT);
    for table in tables {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.name)?;
        header(sheet, table.columns, &bold)?;
        for (r, row) in table.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).unwrap_or(u16::MAX);
                match cell {
                    TableCell::Text(text) => sheet.write_string(r, c, text)?,
                    TableCell::Number(n) => sheet.write_number(r, c, *n)?,
                    TableCell::Count(n) => sheet.write_number(r, c, *n)?,
                    TableCell::Time(at) => {
                        sheet.set_column_width(c, 20)?;
                        sheet.write_datetime_with_format(r, c, excel_moment(at)?, &moment)?
                    }
                    TableCell::Empty => sheet,
                };
            }
        }
    }
    workbook.save_to_buffer()
}
