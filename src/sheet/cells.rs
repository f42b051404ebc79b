//! The cells of an imported sheet by column: the header row, and one data row read column
//! by column with every error kept with its row and column.

use std::collections::HashMap;

use super::grid::Cell;
use super::SheetError;
use crate::domain::text::Localized;

/// The header row: which column each known header is in.
pub(super) struct Header {
    columns: HashMap<&'static str, usize>,
}

impl Header {
    /// The header row of a sheet of `known` columns, of which `required` must be there.
    pub(super) fn parse(row: &[Cell], known: &[&'static str], required: &[&str]) -> Result<Header, Vec<SheetError>> {
        let mut columns = HashMap::new();
        let mut errors = Vec::new();
        for (k, cell) in row.iter().enumerate() {
            let name = cell.text().trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            match known.iter().find(|c| **c == name) {
                Some(known) => {
                    if columns.insert(*known, k).is_some() {
                        errors.push(SheetError::cell(1, known, "this column appears twice"));
                    }
                }
                None => errors.push(SheetError::cell(
                    1,
                    &name,
                    format!("unknown column; the columns are {}", known.join(", ")),
                )),
            }
        }
        for required in required {
            if !columns.contains_key(required) {
                errors.push(SheetError::row(1, format!("the column {required:?} is missing")));
            }
        }
        if errors.is_empty() {
            Ok(Header { columns })
        } else {
            Err(errors)
        }
    }
}

/// One data row while it is read: its cells by column name, and the errors found in it.
pub(super) struct Row<'a> {
    pub(super) number: usize,
    pub(super) cells: &'a [Cell],
    pub(super) header: &'a Header,
    pub(super) errors: &'a mut Vec<SheetError>,
}

impl Row<'_> {
    pub(super) fn cell(&self, column: &str) -> Option<&Cell> {
        self.header.columns.get(column).and_then(|k| self.cells.get(*k))
    }

    /// The trimmed text, or None when the cell is empty or absent.
    pub(super) fn text(&self, column: &str) -> Option<String> {
        self.cell(column).map(Cell::text).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
    }

    /// One entry per line, a blank line being none; trailing blank lines do not count.
    pub(super) fn lines(&self, column: &str) -> Vec<Option<String>> {
        let text = self.cell(column).map(Cell::text).unwrap_or_default();
        let mut lines: Vec<Option<String>> =
            text.split('\n').map(|line| Some(line.trim().to_owned()).filter(|l| !l.is_empty())).collect();
        while lines.last().is_some_and(Option::is_none) {
            lines.pop();
        }
        lines
    }

    pub(super) fn error(&mut self, column: &str, message: impl Into<String>) {
        self.errors.push(SheetError::cell(self.number, column, message));
    }

    /// A whole number in `range`, or None when empty.
    pub(super) fn number(&mut self, column: &str, range: std::ops::RangeInclusive<u32>, what: &str) -> Option<u32> {
        let text = self.text(column)?;
        self.parse_number(column, &text, range, what)
    }

    pub(super) fn parse_number(
        &mut self,
        column: &str,
        text: &str,
        range: std::ops::RangeInclusive<u32>,
        what: &str,
    ) -> Option<u32> {
        let Some(value) = whole_number(text) else {
            self.error(column, format!("{text:?} is not a number of {what}"));
            return None;
        };
        if !range.contains(&value) {
            self.error(column, format!("{value} must be {}-{} {what}", range.start(), range.end()));
            return None;
        }
        Some(value)
    }

    /// A text in three languages from `{stem}_en`, `_zh`, `_ja`; zh and ja default to en.
    pub(super) fn localized(&mut self, stem: &str) -> Option<Localized> {
        let [en, zh, ja] = ["en", "zh", "ja"].map(|lang| self.text(&format!("{stem}_{lang}")));
        let Some(en) = en else {
            for (lang, given) in [("zh", &zh), ("ja", &ja)] {
                if given.is_some() {
                    self.error(&format!("{stem}_{lang}"), format!("given without {stem}_en"));
                }
            }
            return None;
        };
        Some(Localized { zh: zh.unwrap_or_else(|| en.clone()), ja: ja.unwrap_or_else(|| en.clone()), en })
    }

    /// Lines of a list column, as many as `count` at most.
    pub(super) fn list(&mut self, column: &str, count: usize, of: &str) -> Vec<Option<String>> {
        let mut lines = self.lines(column);
        if lines.len() > count {
            self.error(column, format!("{} lines, but {} {of}", lines.len(), count));
            lines.truncate(count);
        }
        lines.resize(count, None);
        lines
    }

    /// Localized lines from `{stem}_en`, `_zh`, `_ja`, one per entry of a list of `count`.
    pub(super) fn localized_lines(&mut self, stem: &str, count: usize, of: &str) -> Vec<Option<Localized>> {
        let [en, zh, ja] = ["en", "zh", "ja"].map(|lang| self.list(&format!("{stem}_{lang}"), count, of));
        let mut out = Vec::with_capacity(count);
        for k in 0..count {
            out.push(match (&en[k], &zh[k], &ja[k]) {
                (Some(en), zh, ja) => Some(Localized {
                    zh: zh.clone().unwrap_or_else(|| en.clone()),
                    ja: ja.clone().unwrap_or_else(|| en.clone()),
                    en: en.clone(),
                }),
                (None, None, None) => None,
                (None, _, _) => {
                    self.error(&format!("{stem}_en"), format!("line {} is empty but other languages give it", k + 1));
                    None
                }
            });
        }
        out
    }
}

/// A whole number, a spreadsheet's `60.0` included.
fn whole_number(text: &str) -> Option<u32> {
    let text = text.trim();
    let text = text.strip_suffix(".0").unwrap_or(text);
    text.parse().ok()
}
