//! Validated participant-typed text and multilingual labels; pure, no I/O.

use serde::{Deserialize, Serialize};

/// A language the hub shows its content in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    Zh,
    Ja,
    En,
}

/// How a participant takes part in a hybrid event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    InRoom,
    Remote,
}

/// A text in zh, ja and en. Config may give a plain string or only some languages;
/// missing ones fall back to English so that every client always has something to show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LocalizedInput")]
pub struct Localized {
    pub zh: String,
    pub ja: String,
    pub en: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LocalizedInput {
    Plain(String),
    Languages { en: String, zh: Option<String>, ja: Option<String> },
}

impl From<LocalizedInput> for Localized {
    fn from(input: LocalizedInput) -> Self {
        match input {
            LocalizedInput::Plain(text) => Localized::same(&text),
            LocalizedInput::Languages { en, zh, ja } => {
                Localized { zh: zh.unwrap_or_else(|| en.clone()), ja: ja.unwrap_or_else(|| en.clone()), en }
            }
        }
    }
}

impl Localized {
    pub fn same(text: &str) -> Self {
        Localized { zh: text.to_owned(), ja: text.to_owned(), en: text.to_owned() }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// Why a typed text was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
}

/// Text a participant typed, with control characters removed and surrounding space
/// trimmed, bounded in length. Pages render it as text, never as markup.
fn clean(input: &str, max: usize) -> Result<String, TextError> {
    clean_optional(input, max)?.ok_or(TextError::Empty)
}

/// Like a required text, but an empty one is none rather than an error.
pub fn clean_optional(input: &str, max: usize) -> Result<Option<String>, TextError> {
    let cleaned: String = input.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// A participant's display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean(input, Self::MAX_CHARS).map(DisplayName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A participant's organisation, shown next to their name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Affiliation(String);

impl Affiliation {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(input: &str) -> Result<Self, TextError> {
        clean(input, Self::MAX_CHARS).map(Affiliation)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_string_is_the_same_in_every_language() {
        let text: Localized = serde_json::from_str(r#""Round table""#).unwrap();
        assert_eq!(text.get(Lang::Ja), "Round table");
    }

    #[test]
    fn missing_languages_fall_back_to_english() {
        let text: Localized = serde_json::from_str(r#"{"en": "Keynotes", "zh": "主旨演讲"}"#).unwrap();
        assert_eq!(text.get(Lang::Zh), "主旨演讲");
        assert_eq!(text.get(Lang::Ja), "Keynotes");
    }

    #[test]
    fn control_characters_are_stripped_from_names() {
        let name = DisplayName::parse("  Sato\u{0007} Longliang\n ").unwrap();
        assert_eq!(name.as_str(), "Sato Longliang");
    }

    #[test]
    fn markup_in_names_is_kept_as_literal_text() {
        let name = DisplayName::parse("<img src=x onerror=alert(1)>").unwrap();
        assert_eq!(name.as_str(), "<img src=x onerror=alert(1)>");
    }

    #[test]
    fn empty_and_overlong_names_are_refused() {
        assert_eq!(DisplayName::parse(" \u{0000} "), Err(TextError::Empty));
        let long = "名".repeat(DisplayName::MAX_CHARS + 1);
        assert_eq!(DisplayName::parse(&long), Err(TextError::TooLong { max: 80 }));
        assert!(DisplayName::parse(&"名".repeat(DisplayName::MAX_CHARS)).is_ok());
    }
}
