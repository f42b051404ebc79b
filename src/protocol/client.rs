//! Client frames: each text frame decoded into a typed value (a hello, a ping, a command,
//! a page of the presence list, a language) before anything acts on it, with unknown
//! types told apart from bad fields.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ErrorCode, FrameError};
use crate::domain::captions::Track;
use crate::domain::cues::CrewPosition;
use crate::domain::presence::Cursor;
use crate::domain::text::{Lang, Mode};
use crate::domain::Command;

const MAX_ID_CHARS: usize = 64;

/// The first frame of every connection.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: u32,
    pub event: String,
    pub token: String,
    pub name: String,
    pub mode: Mode,
    pub lang: Lang,
    pub participant: Option<String>,
    pub affiliation: Option<String>,
    pub resume: Option<Resume>,
    /// For AV screens: the crew positions watched; absent means all.
    pub crew: Option<Vec<CrewPosition>>,
    /// The event's attendee code, for events that require one.
    pub code: Option<String>,
    /// This connection is a screen (a stage screen), not a person.
    pub screen: Option<bool>,
    /// The caption track to receive: `zh`, `ja`, `en` or `floor`; none when absent.
    pub captions: Option<Track>,
    /// The page of a screen the chair manages (`stage`, `cues`, `captions`, `wall`, `caption`).
    pub page: Option<String>,
    /// That screen's view settings, as its address carries them (`speaker`, `tracks`, …).
    pub view: Option<std::collections::BTreeMap<String, String>>,
}

/// Where a reconnecting client left off.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub epoch: String,
    pub seq: u64,
    /// The presence `version` the client last applied (chair and crew), so that it gets the
    /// joins and leaves it missed instead of the list again.
    pub presence: Option<u64>,
}

/// A decoded client frame.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    Hello(Box<Hello>),
    Ping {
        t: f64,
    },
    Command {
        id: String,
        command: Command,
    },
    /// A page of the full presence list (chair and crew).
    PresencePage {
        id: String,
        after: Option<Cursor>,
        limit: usize,
    },
    /// Another language for this connection, and with it another caption track.
    SetLang {
        id: String,
        lang: Lang,
        captions: CaptionChoice,
    },
}

/// What `set_lang` does to the caption track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptionChoice {
    /// `captions` absent: a connection with captions follows its new language.
    Follow,
    /// `captions: null`: none.
    Off,
    Track(Track),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetLang {
    lang: Lang,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresencePage {
    after: Option<String>,
    limit: usize,
}

/// A page cursor as clients see it: the last entry's `who` (16 hex digits), then its name.
pub fn cursor_text((name, who): &Cursor) -> String {
    format!("{who}{name}")
}

fn parse_cursor(text: &str) -> Option<Cursor> {
    let who = text.get(..16).filter(|who| who.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some((text[16..].to_owned(), who.to_owned()))
}

/// The most entries one presence page holds.
pub const MAX_PRESENCE_PAGE: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ping {
    t: f64,
}

/// Parses one text frame. Unknown types and bad fields are told apart so that clients get
/// `unknown_type` for a frame this server version does not know.
pub fn decode(text: &str) -> Result<ClientFrame, FrameError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| FrameError::new(ErrorCode::BadJson, format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(FrameError::new(ErrorCode::BadJson, "a frame must be a JSON object"));
    };
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(FrameError::new(ErrorCode::InvalidField, "`type` must be a string")),
        None => return Err(FrameError::new(ErrorCode::InvalidField, "missing `type`")),
    };
    let invalid = |e: serde_json::Error| FrameError::new(ErrorCode::InvalidField, format!("{kind}: {e}"));
    match kind.as_str() {
        "hello" => {
            object.remove("type");
            let hello: Hello = serde_json::from_value(Value::Object(object)).map_err(invalid)?;
            Ok(ClientFrame::Hello(Box::new(hello)))
        }
        "ping" => {
            object.remove("type");
            let ping: Ping = serde_json::from_value(Value::Object(object)).map_err(invalid)?;
            Ok(ClientFrame::Ping { t: ping.t })
        }
        "presence_page" => {
            object.remove("type");
            let id = take_id(&mut object)?;
            let page: PresencePage = serde_json::from_value(Value::Object(object))
                .map_err(|e| FrameError { id: Some(id.clone()), ..invalid(e) })?;
            if !(1..=MAX_PRESENCE_PAGE).contains(&page.limit) {
                let message = format!("limit must be 1-{MAX_PRESENCE_PAGE}");
                return Err(FrameError { id: Some(id), ..FrameError::new(ErrorCode::InvalidField, message) });
            }
            let after = match page.after.as_deref().map(parse_cursor) {
                None => None,
                Some(Some(cursor)) => Some(cursor),
                Some(None) => {
                    let message = "after must be the `next` of an earlier page";
                    return Err(FrameError { id: Some(id), ..FrameError::new(ErrorCode::InvalidField, message) });
                }
            };
            Ok(ClientFrame::PresencePage { id, after, limit: page.limit })
        }
        "set_lang" => {
            object.remove("type");
            let id = take_id(&mut object)?;
            let field = |e: serde_json::Error| FrameError { id: Some(id.clone()), ..invalid(e) };
            let captions = match object.remove("captions") {
                None => CaptionChoice::Follow,
                Some(Value::Null) => CaptionChoice::Off,
                Some(track) => CaptionChoice::Track(serde_json::from_value(track).map_err(field)?),
            };
            let set: SetLang = serde_json::from_value(Value::Object(object)).map_err(field)?;
            Ok(ClientFrame::SetLang { id, lang: set.lang, captions })
        }
        kind if Command::TYPES.contains(&kind) => {
            let id = take_id(&mut object)?;
            let command = serde_json::from_value(Value::Object(object))
                .map_err(|e| FrameError { id: Some(id.clone()), ..invalid(e) })?;
            Ok(ClientFrame::Command { id, command })
        }
        _ => Err(FrameError::new(ErrorCode::UnknownType, format!("unknown frame type {kind:?}"))),
    }
}

fn take_id(object: &mut Map<String, Value>) -> Result<String, FrameError> {
    match object.remove("id") {
        Some(Value::String(id)) if (1..=MAX_ID_CHARS).contains(&id.chars().count()) => Ok(id),
        _ => Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("a command needs an `id` string of 1-{MAX_ID_CHARS} characters"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        decode(text).unwrap_err().code
    }

    #[test]
    fn a_command_frame_becomes_a_typed_command_with_its_id() {
        let frame = decode(r#"{"type":"next","id":"c1","version":3}"#).unwrap();
        assert_eq!(frame, ClientFrame::Command { id: "c1".into(), command: Command::Next { version: 3 } });
    }

    #[test]
    fn a_new_segments_id_is_its_own_field_not_the_commands_id() {
        let text = r#"{"type":"plan_duplicate_segment","id":"c1","plan_version":0,"segment":"opening","new_segment":"opening-b"}"#;
        let frame = decode(text).unwrap();
        let command = Command::PlanDuplicateSegment {
            plan_version: 0,
            segment: "opening".into(),
            new_segment: Some("opening-b".into()),
        };
        assert_eq!(frame, ClientFrame::Command { id: "c1".into(), command });
    }

    #[test]
    fn a_plan_edit_decodes_with_its_fields_and_refuses_unknown_ones() {
        let text = r#"{"type":"plan_update_segment","id":"c1","plan_version":2,"segment":"opening","duration_min":20}"#;
        let Ok(ClientFrame::Command { command: Command::PlanUpdateSegment(update), .. }) = decode(text) else {
            panic!("a plan_update_segment command")
        };
        assert_eq!((update.plan_version, update.duration_min), (2, Some(20)));
        assert_eq!(code(&text.replace("\"duration_min\"", "\"length\"")), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"plan_undo","id":"c1"}"#), ErrorCode::InvalidField);
    }

    #[test]
    fn broken_json_and_non_objects_are_bad_json() {
        assert_eq!(code("{\"type\":"), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadJson);
    }

    #[test]
    fn unknown_types_are_told_apart_from_bad_fields() {
        assert_eq!(code(r#"{"type":"launch_rockets","id":"c1"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":"next","id":"c1"}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":"3"}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":3,"force":true}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":1e400}"#), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":"next","id":"c1","version":18446744073709551616}"#), ErrorCode::InvalidField);
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::InvalidField);
    }

    #[test]
    fn a_bad_field_error_names_the_command_id() {
        let err = decode(r#"{"type":"goto","id":"c9","version":1}"#).unwrap_err();
        assert_eq!(err.id.as_deref(), Some("c9"));
    }

    #[test]
    fn commands_need_an_id() {
        assert_eq!(code(r#"{"type":"next","version":3}"#), ErrorCode::InvalidField);
        assert_eq!(
            code(&format!(r#"{{"type":"next","version":3,"id":"{}"}}"#, "x".repeat(65))),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn hello_rejects_unknown_modes_and_extra_fields() {
        let ok = r#"{"type":"hello","protocol":1,"event":"e","token":"t","name":"n","mode":"remote","lang":"ja"}"#;
        assert!(matches!(decode(ok), Ok(ClientFrame::Hello(_))));
        assert_eq!(code(&ok.replace("remote", "hologram")), ErrorCode::InvalidField);
        assert_eq!(code(&ok.replace("\"lang\"", "\"admin\":true,\"lang\"")), ErrorCode::InvalidField);
    }
}
