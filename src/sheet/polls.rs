//! The plan's prepared polls read from a workbook's polls sheet: one row per poll, its
//! options one per line (`write` writes them so).

use super::cells::{Header, Row};
use super::grid::{Cell, Rows};
use super::{SheetError, POLLS_SHEET, POLL_COLUMNS, POLL_REQUIRED};
use crate::domain::polls::{checked_polls, PollDef, ResultsShown};
use crate::domain::show::RunOfShow;

/// The polls sheet's rows as the plan's prepared polls, checked as a plan edit checks them,
/// against the segments of `plan`. Every error names the sheet.
pub(super) fn read(rows: &Rows, plan: &RunOfShow) -> Result<Vec<PollDef>, Vec<SheetError>> {
    let in_sheet = |errors: Vec<SheetError>| -> Vec<SheetError> {
        errors.into_iter().map(|e| SheetError { sheet: Some(POLLS_SHEET), ..e }).collect()
    };
    let Some((header_row, data)) = rows.split_first() else { return Ok(Vec::new()) };
    let header = Header::parse(header_row, &POLL_COLUMNS, &POLL_REQUIRED).map_err(in_sheet)?;
    let mut errors = Vec::new();
    let mut polls = Vec::new();
    for (k, cells) in data.iter().enumerate() {
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        let number = k + 2;
        let row = Row { number, cells, header: &header, errors: &mut errors };
        if let Some(poll) = poll(row, plan) {
            match checked_polls(std::slice::from_ref(&poll), |_| true) {
                Ok(_) => polls.push(poll),
                Err(e) => errors.push(SheetError::row(number, e.to_string())),
            }
        }
    }
    if !errors.is_empty() {
        return Err(in_sheet(errors));
    }
    checked_polls(&polls, |id| plan.segment_index(id).is_some())
        .map_err(|e| in_sheet(vec![SheetError::file(e.to_string())]))
}

/// One row's poll, or None when the row has errors (kept in the row's errors).
fn poll(mut row: Row<'_>, plan: &RunOfShow) -> Option<PollDef> {
    let id = row.text("id");
    if id.is_none() {
        row.error("id", "is empty; give each poll an id");
    }
    let segment = row.text("segment");
    if let Some(segment) = segment.as_deref().filter(|s| plan.segment_index(s).is_none()) {
        let ids: Vec<&str> = plan.segments.iter().map(|s| s.id.as_str()).collect();
        row.error("segment", format!("{segment:?} is no segment of the plan; the segments are {}", ids.join(", ")));
    }
    let question = row.localized("question");
    if question.is_none() && row.text("question_en").is_none() {
        row.error("question_en", "is empty; give the question in English");
    }
    let count = row.lines("options_en").len();
    let options = row.localized_lines("options", count, "options in options_en");
    if let Some(k) = options.iter().position(Option::is_none) {
        row.error("options_en", format!("line {} is empty; give one option per line", k + 1));
    }
    let multiple = yes_or_no(&mut row, "multiple", false);
    let anonymous = yes_or_no(&mut row, "anonymous", true);
    let results = match row.text("results") {
        None => Some(ResultsShown::default()),
        Some(text) => {
            let results = serde_json::from_value(serde_json::Value::String(text.to_ascii_lowercase())).ok();
            if results.is_none() {
                row.error("results", format!("{text:?} is not one of live, closed, chair"));
            }
            results
        }
    };
    Some(PollDef {
        id: id?,
        segment,
        question: question?,
        options: options.into_iter().collect::<Option<Vec<_>>>()?,
        multiple: multiple?,
        anonymous: anonymous?,
        results: results?,
    })
    .filter(|_| row.errors.iter().all(|e| e.row != Some(row.number)))
}

fn yes_or_no(row: &mut Row<'_>, column: &str, empty: bool) -> Option<bool> {
    let Some(text) = row.text(column) else { return Some(empty) };
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => {
            row.error(column, format!("{text:?} is not yes or no"));
            None
        }
    }
}
