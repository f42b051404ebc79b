//! The checks every field of a plan goes through, whoever gives it (an edit, an import, an
//! event file): names and titles under the text policy, minutes within a day. Pure.

use super::rejection::Rejection;
use super::text::{self, DisplayName, Localized};
use super::time::Millis;

/// Titles, venues, affiliations and topics, in characters of each language.
pub(super) const MAX_TITLE_CHARS: usize = 200;
/// Planned minutes of a segment or speaker at most: a whole day.
const MAX_MINUTES: u32 = 24 * 60;
const MINUTE: Millis = 60_000;

pub(super) fn field(message: String) -> Rejection {
    Rejection::InvalidField(message)
}

pub(super) fn minutes(value: u32, name: &str) -> Result<Millis, Rejection> {
    if value == 0 || value > MAX_MINUTES {
        return Err(field(format!("{name} must be 1-{MAX_MINUTES}")));
    }
    Ok(Millis::from(value) * MINUTE)
}

/// Each language cleaned and bounded as typed text is; none may be empty.
pub(super) fn clean_localized(text: &Localized, what: &str) -> Result<Localized, Rejection> {
    let clean = |t: &str| text::clean(t, MAX_TITLE_CHARS).map_err(|e| field(format!("{what} {e}")));
    Ok(Localized { zh: clean(&text.zh)?, ja: clean(&text.ja)?, en: clean(&text.en)? })
}

/// A person's name in every language, cleaned as the name they join with is, so that
/// presence still matches them.
pub(super) fn person_name(name: &Localized, what: &str) -> Result<Localized, Rejection> {
    let clean =
        |t: &str| DisplayName::parse(t).map(|n| n.as_str().to_owned()).map_err(|e| field(format!("{what} name {e}")));
    Ok(Localized { zh: clean(&name.zh)?, ja: clean(&name.ja)?, en: clean(&name.en)? })
}
