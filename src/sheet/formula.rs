//! Text in CSV files kept from being run as a formula: a spreadsheet takes a cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula (OWASP "CSV
//! injection"), so an export puts a `'` before such text and an import takes it off again.

use std::borrow::Cow;

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `text` starts as a formula would, past any quotes already before it: counting
/// through them is what lets a text that itself starts with `'=` come back unchanged.
fn quoted_on_export(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A text cell as CSV exports write it: with one more `'` when it could run as a formula.
/// Only for text columns: a number such as `-5` must stay a number.
pub fn csv_safe(text: &str) -> Cow<'_, str> {
    if quoted_on_export(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A CSV cell as the text it was before [`csv_safe`].
pub fn csv_text(cell: String) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if quoted_on_export(rest) => rest.to_owned(),
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_quoted_and_read_back_to_the_same_text() {
        for text in
            ["=HYPERLINK(\"x\")", "@SUM(A1)", "+1", "-1", "\tx", "\rx", "'=x", "''@x", "'hello", "plain", "", "'"]
        {
            let written = csv_safe(text);
            assert!(!written.starts_with(FORMULA_STARTS), "{written:?}");
            assert_eq!(csv_text(written.into_owned()), text);
        }
        assert_eq!(csv_safe("=1+1"), "'=1+1");
        assert_eq!(csv_safe("Opening"), "Opening");
    }
}
