//! A file as rows of cells: CSV records or the cells of an XLSX sheet, before any column
//! means anything.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::{Format, SheetError, SHEET_NAME};

/// A cell as the file holds it. Spreadsheets keep numbers and times apart from text, and
/// which one a cell is depends on how someone typed it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// An Excel date-time: days since 1899-12-30, the fraction being the time of day.
    Time(f64),
}

impl Cell {
    pub fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(text) if text.trim().is_empty())
    }

    /// The cell as text: whole numbers without a fraction (Excel stores every number as
    /// a float), times as `HH:MM`.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
            Cell::Number(n) => n.to_string(),
            Cell::Time(days) => time_of_day(*days),
        }
    }

    /// The cell as a time of day: a time value, or a number a sheet lost the time format
    /// of, is a fraction of a day.
    pub fn time_text(&self) -> String {
        match self {
            Cell::Number(n) if (0.0..1.0).contains(n) => time_of_day(*n),
            other => other.text(),
        }
    }
}

/// `HH:MM` of a fraction of a day, or `HH:MM:SS` when it is not whole minutes.
fn time_of_day(days: f64) -> String {
    // Rounded to the second: Excel's binary fractions are never exact.
    let seconds = ((days.fract() * 86_400.0).round() as u32) % 86_400;
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if s == 0 {
        format!("{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// The rows of the file, the header row first; row `k` of the result is spreadsheet row
/// `k + 1`.
pub fn read(format: Format, file: &[u8]) -> Result<Vec<Vec<Cell>>, Vec<SheetError>> {
    match format {
        Format::Csv => csv_rows(file),
        Format::Xlsx => xlsx_rows(file).map_err(|e| vec![e]),
        Format::Toml => Err(vec![SheetError::file("an event file is not a spreadsheet")]),
    }
}

fn csv_rows(file: &[u8]) -> Result<Vec<Vec<Cell>>, Vec<SheetError>> {
    // Excel's "CSV UTF-8" starts with a byte order mark, which is no part of the header.
    let file = file.strip_prefix("\u{feff}".as_bytes()).unwrap_or(file);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (k, record) in reader.byte_records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(SheetError::row(k + 1, format!("not readable as CSV: {e}")));
                break;
            }
        };
        let cells: Result<Vec<Cell>, _> =
            record.iter().map(|field| String::from_utf8(field.to_vec()).map(Cell::Text)).collect();
        match cells {
            Ok(cells) => rows.push(cells),
            Err(_) => {
                errors.push(SheetError::row(k + 1, "not UTF-8 text; save the file as \"CSV UTF-8\""));
                rows.push(Vec::new());
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn xlsx_rows(file: &[u8]) -> Result<Vec<Vec<Cell>>, SheetError> {
    let mut workbook =
        Xlsx::new(Cursor::new(file)).map_err(|e| SheetError::file(format!("not a readable XLSX workbook: {e}")))?;
    let names = workbook.sheet_names();
    let name = names
        .iter()
        .find(|name| name.eq_ignore_ascii_case(SHEET_NAME))
        .or(names.first())
        .cloned()
        .ok_or_else(|| SheetError::file("the workbook has no sheet"))?;
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| SheetError::file(format!("the sheet {name:?} is not readable: {e}")))?;
    let Some((last_row, last_column)) = range.end() else { return Ok(Vec::new()) };
    // Absolute positions, so that a sheet whose first cell is not A1 still numbers its
    // rows as the spreadsheet shows them.
    let rows = (0..=last_row)
        .map(|r| (0..=last_column).map(|c| range.get_value((r, c)).map_or(blank(), cell)).collect())
        .collect();
    Ok(rows)
}

fn blank() -> Cell {
    Cell::Text(String::new())
}

fn cell(data: &Data) -> Cell {
    match data {
        Data::Int(n) => Cell::Number(*n as f64),
        Data::Float(n) => Cell::Number(*n),
        Data::String(text) | Data::DateTimeIso(text) | Data::DurationIso(text) => Cell::Text(text.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(at) => Cell::Time(at.as_f64()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
        Data::Empty => blank(),
    }
}
