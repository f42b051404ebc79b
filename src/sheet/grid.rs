//! A file as rows of cells: CSV records or the cells of an XLSX sheet, before any column
//! means anything. Every limit of a file's content is checked here, while it is read, so
//! that a hostile file is refused before it costs memory or time.

use std::io::{Cursor, Read, Write};

use calamine::{DataRef, Reader, Xlsx};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::formula::csv_text;
use super::{
    Format, SheetError, MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, MAX_SHARED_STRINGS, MAX_UNPACKED_BYTES, POLLS_SHEET,
    SHEET_NAME,
};

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

/// The rows of the file's run of show, the header row first (row `k` of the result is
/// spreadsheet row `k + 1`), and those of a workbook's polls sheet if it has one. At most
/// [`MAX_ROWS`] rows of [`MAX_COLUMNS`] cells of [`MAX_CELL_CHARS`] characters a sheet;
/// reading stops at the first cell past a limit.
pub fn read(format: Format, file: &[u8]) -> Result<Sheets, Vec<SheetError>> {
    match format {
        Format::Csv => Ok((csv_rows(file)?, None)),
        Format::Xlsx => xlsx_sheets(file).map_err(|e| vec![e]),
        Format::Toml => Err(vec![SheetError::file("an event file is not a spreadsheet")]),
    }
}

/// A sheet's rows of cells.
pub type Rows = Vec<Vec<Cell>>;
/// The run of show's rows, and the polls sheet's if there is one.
pub type Sheets = (Rows, Option<Rows>);

/// The column's name as a spreadsheet shows it: A, B, …, Z, AA, ….
fn column_name(column: usize) -> String {
    let mut name = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        n -= 1;
        name.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    name.reverse();
    String::from_utf8_lossy(&name).into_owned()
}

fn too_many_rows() -> SheetError {
    SheetError::file(format!("the file has more than {MAX_ROWS} rows, the most a plan file may have"))
}

fn too_many_columns(row: usize, column: usize) -> SheetError {
    SheetError::row(
        row,
        format!(
            "cell {}{row} is past column {}: a plan file uses at most {MAX_COLUMNS} columns",
            column_name(column),
            column_name(MAX_COLUMNS - 1)
        ),
    )
}

/// `text` as a cell, unless it is longer than a cell may be.
fn text_cell(text: String, row: usize, column: usize) -> Result<Cell, SheetError> {
    if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
        return Err(SheetError::row(
            row,
            format!(
                "cell {}{row} holds more than {MAX_CELL_CHARS} characters, the most a cell may",
                column_name(column)
            ),
        ));
    }
    Ok(Cell::Text(text))
}

fn csv_rows(file: &[u8]) -> Result<Vec<Vec<Cell>>, Vec<SheetError>> {
    // Excel's "CSV UTF-8" starts with a byte order mark, which is no part of the header.
    let file = file.strip_prefix("\u{feff}".as_bytes()).unwrap_or(file);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(file);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (k, record) in reader.byte_records().enumerate() {
        let number = k + 1;
        if number > MAX_ROWS {
            errors.push(too_many_rows());
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                errors.push(SheetError::row(number, format!("not readable as CSV: {e}")));
                break;
            }
        };
        match csv_row(&record, number) {
            Ok(cells) => rows.push(cells),
            Err(Unread::NotUtf8) => {
                errors.push(SheetError::row(number, "not UTF-8 text; save the file as \"CSV UTF-8\""));
                rows.push(Vec::new());
            }
            Err(Unread::Limit(error)) => {
                errors.push(error);
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Why a CSV record was not read: a limit, which stops the reading, or text that is not
/// UTF-8, which the rows after it are still checked past.
enum Unread {
    Limit(SheetError),
    NotUtf8,
}

fn csv_row(record: &csv::ByteRecord, number: usize) -> Result<Vec<Cell>, Unread> {
    let mut cells = Vec::new();
    for (column, field) in record.iter().enumerate() {
        if column >= MAX_COLUMNS {
            // Trailing empty fields are what a spreadsheet writes for a wide empty row.
            if field.is_empty() {
                continue;
            }
            return Err(Unread::Limit(too_many_columns(number, column)));
        }
        let text = String::from_utf8(field.to_vec()).map_err(|_| Unread::NotUtf8)?;
        cells.push(text_cell(csv_text(text), number, column).map_err(Unread::Limit)?);
    }
    Ok(cells)
}

fn unreadable(e: impl std::fmt::Display) -> SheetError {
    SheetError::file(format!("not a readable XLSX workbook: {e}"))
}

fn xlsx_sheets(file: &[u8]) -> Result<Sheets, SheetError> {
    let mut workbook = Xlsx::new(Cursor::new(unpacked(file)?)).map_err(unreadable)?;
    let names = workbook.sheet_names();
    let polls = names.iter().find(|name| name.eq_ignore_ascii_case(POLLS_SHEET)).cloned();
    let plan = names
        .iter()
        .find(|name| name.eq_ignore_ascii_case(SHEET_NAME))
        .or(names.iter().find(|name| Some(*name) != polls.as_ref()))
        .cloned()
        .ok_or_else(|| SheetError::file("the workbook has no sheet for the run of show"))?;
    let plan = xlsx_rows(&mut workbook, &plan)?;
    let polls = match polls {
        Some(name) => Some(xlsx_rows(&mut workbook, &name).map_err(|e| SheetError { sheet: Some(POLLS_SHEET), ..e })?),
        None => None,
    };
    Ok((plan, polls))
}

fn xlsx_rows(workbook: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> Result<Rows, SheetError> {
    let not_readable = |e: calamine::XlsxError| SheetError::file(format!("the sheet {name:?} is not readable: {e}"));
    let mut cells = workbook.worksheet_cells_reader(name).map_err(not_readable)?;
    // Cell by cell rather than as a range: a range is as large as the distance between
    // the first and the last cell, which one cell at XFD1048576 makes 512 GB.
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    while let Some(found) = cells.next_cell().map_err(not_readable)? {
        let value = found.get_value();
        if matches!(value, DataRef::Empty) {
            continue;
        }
        let (r, c) = found.get_position();
        let (r, c) = (r as usize, c as usize);
        if r >= MAX_ROWS {
            return Err(too_many_rows());
        }
        if c >= MAX_COLUMNS {
            return Err(too_many_columns(r + 1, c));
        }
        let cell = cell(value, r + 1, c)?;
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        let row = &mut rows[r];
        if row.len() <= c {
            row.resize_with(c + 1, blank);
        }
        row[c] = cell;
    }
    Ok(rows)
}

/// The workbook's parts, inflated under [`MAX_UNPACKED_BYTES`] and checked for the count
/// of shared strings, as a zip of stored parts for the reader: the reader inflates parts
/// itself, unbounded, and sets aside room for as many shared strings as the workbook says.
fn unpacked(file: &[u8]) -> Result<Vec<u8>, SheetError> {
    let too_large = || {
        SheetError::file(format!(
            "the workbook unpacks to more than {} MiB, the most a plan file may",
            MAX_UNPACKED_BYTES / 1024 / 1024
        ))
    };
    let mut archive = ZipArchive::new(Cursor::new(file)).map_err(unreadable)?;
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut total = 0;
    let mut strings = 0;
    let mut part = Vec::new();
    for k in 0..archive.len() {
        let mut entry = archive.by_index(k).map_err(unreadable)?;
        let name = entry.name().map_err(unreadable)?.into_owned();
        if entry.is_dir() {
            continue;
        }
        part.clear();
        let room = (MAX_UNPACKED_BYTES - total) as u64 + 1;
        (&mut entry).take(room).read_to_end(&mut part).map_err(unreadable)?;
        total += part.len();
        if total > MAX_UNPACKED_BYTES {
            return Err(too_large());
        }
        strings += shared_strings(&part)?;
        if strings > MAX_SHARED_STRINGS {
            return Err(too_many_strings());
        }
        out.start_file(name, stored).map_err(unreadable)?;
        out.write_all(&part).map_err(unreadable)?;
    }
    Ok(out.finish().map_err(unreadable)?.into_inner())
}

fn too_many_strings() -> SheetError {
    SheetError::file(format!(
        "the workbook has more than {MAX_SHARED_STRINGS} shared strings, the most a plan file may"
    ))
}

/// How many shared strings an XML part holds: its `si` elements, or more when its `sst`
/// element claims more (`uniqueCount`), which the reader would set room aside for. A plain
/// scan of the tags rather than a parse; a `<si` inside a comment counts too, which errs
/// on the safe side.
fn shared_strings(xml: &[u8]) -> Result<usize, SheetError> {
    let mut count = 0usize;
    let mut at = 0;
    while let Some(open) = xml[at..].iter().position(|b| *b == b'<') {
        let name_start = at + open + 1;
        let name_len = xml[name_start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
            .unwrap_or(xml.len() - name_start);
        let name = &xml[name_start..name_start + name_len];
        let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        at = name_start + name_len;
        if local == b"si" {
            count += 1;
        } else if local == b"sst" {
            let claimed = claimed_count(&xml[at..]);
            if claimed > MAX_SHARED_STRINGS as u128 {
                return Err(too_many_strings());
            }
        }
    }
    Ok(count)
}

/// The largest count an `sst` tag's attributes claim (`count`, `uniqueCount`), read up to
/// the tag's end outside quotes.
fn claimed_count(tag: &[u8]) -> u128 {
    let mut claimed = 0u128;
    let mut k = 0;
    while k < tag.len() && tag[k] != b'>' {
        let quote = tag[k];
        if quote != b'"' && quote != b'\'' {
            k += 1;
            continue;
        }
        let value_start = k + 1;
        let value_len = tag[value_start..].iter().position(|b| *b == quote).unwrap_or(tag.len() - value_start);
        let value = tag[value_start..value_start + value_len].trim_ascii();
        if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
            let n = value.iter().fold(0u128, |n, d| n.saturating_mul(10).saturating_add(u128::from(d - b'0')));
            claimed = claimed.max(n);
        }
        k = value_start + value_len + 1;
    }
    claimed
}

fn blank() -> Cell {
    Cell::Text(String::new())
}

fn cell(data: &DataRef<'_>, row: usize, column: usize) -> Result<Cell, SheetError> {
    Ok(match data {
        DataRef::Int(n) => Cell::Number(*n as f64),
        DataRef::Float(n) => Cell::Number(*n),
        DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => {
            text_cell(text.clone(), row, column)?
        }
        DataRef::SharedString(text) => text_cell((*text).to_owned(), row, column)?,
        DataRef::Bool(b) => Cell::Text(b.to_string()),
        DataRef::DateTime(at) => Cell::Time(at.as_f64()),
        DataRef::Error(e) => Cell::Text(format!("#{e:?}")),
        DataRef::Empty => blank(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_strings_are_counted_and_their_claimed_count_read_past_prefixes_and_quotes() {
        let counted = |xml: &[u8]| shared_strings(xml).ok();
        assert_eq!(counted(b"<x:sst count='2'><x:si><x:t>a</x:t></x:si><si/></x:sst>"), Some(2));
        assert_eq!(counted(b"<sheetData><row r=\"1\"><c><v>1</v></c></row></sheetData>"), Some(0));
        assert_eq!(counted(b"<sst a=\"x>y\" uniqueCount='4000000000'>"), None);
        assert_eq!(counted(b"<sst uniqueCount=\"000000000000000000000000000999999999999999999999\">"), None);
        assert_eq!(counted(b"<sst uniqueCount=\"100000\">"), Some(0));
    }

    #[test]
    fn columns_are_named_as_a_spreadsheet_names_them() {
        let names: Vec<String> = [0, 25, 26, 63, 16_383].into_iter().map(column_name).collect();
        assert_eq!(names, ["A", "Z", "AA", "BL", "XFD"]);
    }

    #[test]
    fn a_part_larger_than_its_declared_size_is_refused() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("xl/worksheets/sheet1.xml", SimpleFileOptions::default()).unwrap();
        zip.write_all(&vec![b' '; MAX_UNPACKED_BYTES + 1]).unwrap();
        let mut file = zip.finish().unwrap().into_inner();
        // The uncompressed size, in the local header and in the central directory.
        for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = file.windows(4).position(|w| w == signature).unwrap();
            file[at + offset..at + offset + 4].copy_from_slice(&100u32.to_le_bytes());
        }
        // Either bound may stop it: the zip reader's own check of the declared size, or
        // the count of bytes inflated.
        let refused = unpacked(&file).unwrap_err().message;
        assert!(refused.contains("declared uncompressed size") || refused.contains("more than 20 MiB"), "{refused}");
    }
}
