//! The one policy for text people type (cleaning, limits, how names compare), validated
//! names built on it, and multilingual labels; pure, no I/O.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup, VariationSelector};
use icu_properties::{CodePointMapData, CodePointMapDataBorrowed, CodePointSetData, CodePointSetDataBorrowed};
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
    #[error("contains a control character")]
    Control,
}

const CATEGORY: CodePointMapDataBorrowed<'static, GeneralCategory> = CodePointMapData::new();
const IGNORABLE: CodePointSetDataBorrowed<'static> = CodePointSetData::new::<DefaultIgnorableCodePoint>();
const VARIATION_SELECTOR: CodePointSetDataBorrowed<'static> = CodePointSetData::new::<VariationSelector>();
const NFC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfc();
const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// Characters cleaned as white space although Unicode does not class them so: the blank
/// braille cell draws as an empty space and no property table marks it.
const BLANK_GLYPHS: [char; 1] = ['\u{2800}'];

/// The one policy for everything people type (names, affiliations, topics, stage and cue
/// texts, cue person targets), so that what one client typed shows the same, and compares
/// the same, on every screen:
///
/// - a control character (Cc) other than tab, CR and LF is refused: it has no business in
///   a name and can drive the terminals that tail the log;
/// - format characters (Cf: zero-width space and joiners, bidi embeddings, overrides,
///   isolates and marks, word joiner, BOM, soft hyphen, tags) and the other
///   default-ignorable code points (Hangul fillers, …) are removed: they hide or reorder
///   text, so `Eve\u{202e}txt.exe` would display reversed and two different strings
///   would look like one name. A variation selector stays when it follows a character it
///   can modify;
/// - any white space (tab, CR, LF, no-break and ideographic spaces, …, the blank braille
///   cell) becomes one ASCII space, runs collapse and the ends are trimmed;
/// - the result is NFC-normalized, so two spellings of "é" are one string;
/// - a text with no visible character left (only spaces or combining marks) is empty;
/// - the length limit is counted in characters of the cleaned text.
///
/// Pages render the result as text, never as markup. An empty text is none here; callers
/// that need one use [`clean`].
pub fn clean_optional(input: &str, max: usize) -> Result<Option<String>, TextError> {
    let mut kept = String::with_capacity(input.len());
    let mut space_pending = false;
    let mut after_base = false;
    for c in input.chars() {
        if c.is_control() && !matches!(c, '\t' | '\r' | '\n') {
            return Err(TextError::Control);
        }
        if c.is_whitespace() || BLANK_GLYPHS.contains(&c) {
            space_pending = !kept.is_empty();
            after_base = false;
        } else if VARIATION_SELECTOR.contains(c) {
            if after_base {
                kept.push(c);
                after_base = false;
            }
        } else if !is_hidden(c) {
            if space_pending {
                kept.push(' ');
                space_pending = false;
            }
            kept.push(c);
            after_base = true;
        }
    }
    let cleaned = NFC.normalize(&kept).into_owned();
    if !cleaned.chars().any(|c| c != ' ' && !GeneralCategoryGroup::Mark.contains(CATEGORY.get(c))) {
        return Ok(None);
    }
    if cleaned.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(Some(cleaned))
}

/// A required text under the same policy: empty is an error.
pub fn clean(input: &str, max: usize) -> Result<String, TextError> {
    clean_optional(input, max)?.ok_or(TextError::Empty)
}

/// Characters that take no room on screen but change what a text seems to say.
fn is_hidden(c: char) -> bool {
    CATEGORY.get(c) == GeneralCategory::Format || IGNORABLE.contains(c)
}

/// How two cleaned names are compared (the programme's speakers against who joined):
/// compatibility forms folded (full-width letters, ideographic space), case ignored,
/// spaces collapsed. Invisible characters were removed by cleaning, not turned into
/// spaces, so `Ji\u{200b}Wei\u{2060}dong` keys as "jiweidong", never as "ji weidong".
pub fn match_key(name: &str) -> String {
    NFKC.normalize(name).to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
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
    fn control_characters_in_names_are_refused() {
        assert_eq!(DisplayName::parse("Sato\u{0000} Longliang"), Err(TextError::Control));
        assert_eq!(DisplayName::parse("Sato\u{0007} Longliang"), Err(TextError::Control));
        assert_eq!(DisplayName::parse("\u{1b}[2JSato"), Err(TextError::Control));
        assert_eq!(DisplayName::parse("Sato\u{85}Longliang"), Err(TextError::Control));
    }

    #[test]
    fn tabs_and_line_breaks_count_as_spaces() {
        let name = DisplayName::parse("  Sato\tLong\r\nliang\n ").unwrap();
        assert_eq!(name.as_str(), "Sato Long liang");
    }

    #[test]
    fn zero_width_characters_are_removed_without_leaving_a_space() {
        let name = DisplayName::parse("Ji\u{200b}Wei\u{2060}dong\u{200c}\u{200d}").unwrap();
        assert_eq!(name.as_str(), "JiWeidong");
    }

    #[test]
    fn bidi_controls_cannot_reorder_a_name() {
        assert_eq!(DisplayName::parse("Eve\u{202e}txt.exe").unwrap().as_str(), "Evetxt.exe");
        let every = "\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}";
        assert_eq!(DisplayName::parse(&format!("A{every}B")).unwrap().as_str(), "AB");
    }

    #[test]
    fn a_byte_order_mark_and_a_soft_hyphen_are_removed() {
        assert_eq!(DisplayName::parse("\u{feff}Lu\u{ad}Ming").unwrap().as_str(), "LuMing");
    }

    #[test]
    fn hangul_fillers_are_removed() {
        let name = DisplayName::parse("\u{3164}Kim\u{115f}\u{1160}\u{ffa0}").unwrap();
        assert_eq!(name.as_str(), "Kim");
    }

    #[test]
    fn a_name_of_only_invisible_characters_is_refused_as_empty() {
        assert_eq!(DisplayName::parse("\u{200b}\u{2060}"), Err(TextError::Empty));
        assert_eq!(DisplayName::parse("\u{3164}\u{3000}\u{2800}\u{feff}"), Err(TextError::Empty));
        assert_eq!(DisplayName::parse(" \u{301}\u{fe0f} "), Err(TextError::Empty));
        assert_eq!(clean_optional("\u{202e} \u{200b}", 140), Ok(None));
    }

    #[test]
    fn two_spellings_of_an_accented_letter_are_one_name() {
        let decomposed = DisplayName::parse("Ren\u{65}\u{301}e").unwrap();
        assert_eq!(decomposed, DisplayName::parse("Ren\u{e9}e").unwrap());
        assert_eq!(decomposed.as_str(), "Renée");
        assert_eq!(DisplayName::parse("e\u{200b}\u{301}").unwrap().as_str(), "é");
    }

    #[test]
    fn chinese_japanese_and_full_width_text_is_kept() {
        for name in ["季卫东", "坂野俊明", "さかの としあき", "サカノ", "ＳＡＫＡＮＯ", "𠮷野家", "Zoë Ångström"]
        {
            assert_eq!(DisplayName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn ideographic_and_no_break_spaces_collapse_into_one_space() {
        let name = DisplayName::parse("\u{3000}坂野\u{3000}\u{3000}俊明\u{a0}\u{2003}さん\u{3000}").unwrap();
        assert_eq!(name.as_str(), "坂野 俊明 さん");
    }

    #[test]
    fn a_variation_selector_stays_after_its_base_character_only() {
        assert_eq!(DisplayName::parse("葛\u{e0100}城").unwrap().as_str(), "葛\u{e0100}城");
        assert_eq!(DisplayName::parse("Mia \u{2764}\u{fe0f}").unwrap().as_str(), "Mia \u{2764}\u{fe0f}");
        assert_eq!(DisplayName::parse("\u{fe0f}Mia \u{fe0f}x\u{fe0f}\u{fe0f}").unwrap().as_str(), "Mia x\u{fe0f}");
    }

    #[test]
    fn limits_are_counted_in_characters_after_cleaning() {
        let padded = format!("{}{}", "名".repeat(DisplayName::MAX_CHARS), "\u{200b}".repeat(50));
        assert!(DisplayName::parse(&padded).is_ok());
        let decomposed = "e\u{301}".repeat(DisplayName::MAX_CHARS);
        assert_eq!(DisplayName::parse(&decomposed).unwrap().as_str().chars().count(), 80);
        let long = "a".repeat(Affiliation::MAX_CHARS + 1);
        assert_eq!(Affiliation::parse(&long), Err(TextError::TooLong { max: 120 }));
        assert!(Affiliation::parse(&long[1..]).is_ok());
    }

    #[test]
    fn names_match_across_full_width_forms_case_and_spacing() {
        assert_eq!(match_key("ＪＩ\u{3000}ＷＥＩＤＯＮＧ"), match_key("Ji Weidong"));
        assert_eq!(match_key("  ji   WEIDONG "), "ji weidong");
    }

    #[test]
    fn a_name_with_hidden_characters_keys_without_the_space_it_hid() {
        let cleaned = DisplayName::parse("Ji\u{200b}Wei\u{2060}dong").unwrap();
        assert_eq!(match_key(cleaned.as_str()), "jiweidong");
        assert_ne!(match_key(cleaned.as_str()), match_key("Ji Weidong"));
    }

    #[test]
    fn markup_in_names_is_kept_as_literal_text() {
        let name = DisplayName::parse("<img src=x onerror=alert(1)>").unwrap();
        assert_eq!(name.as_str(), "<img src=x onerror=alert(1)>");
    }

    #[test]
    fn empty_and_overlong_names_are_refused() {
        assert_eq!(DisplayName::parse(" \t\n "), Err(TextError::Empty));
        let long = "名".repeat(DisplayName::MAX_CHARS + 1);
        assert_eq!(DisplayName::parse(&long), Err(TextError::TooLong { max: 80 }));
        assert!(DisplayName::parse(&"名".repeat(DisplayName::MAX_CHARS)).is_ok());
    }
}
