//! What the tools' command path answers (status and JSON body) and how it reads the text
//! arguments of a command: every adapter (HTTP control, OSC) and every command family
//! builds on these.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::domain::Seconds;
use crate::protocol::ErrorCode;

/// An HTTP answer kept for a double press: status and body.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

pub fn refusal(code: ErrorCode, message: impl Into<String>) -> Answer {
    Answer { status: status_of(code), body: json!({ "code": code, "message": message.into() }) }
}

/// The websocket error codes as HTTP statuses (documented in docs/integrations.md).
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized | ErrorCode::LinkExpired | ErrorCode::LinkRevoked => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::UnknownEvent => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::InvalidState => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unavailable | ErrorCode::VenueUnreachable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub(super) fn arg<'a>(args: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Answer> {
    args.get(name).map(String::as_str).ok_or_else(|| refusal(ErrorCode::InvalidField, format!("{name} is needed")))
}

pub(super) fn number<T: std::str::FromStr>(args: &HashMap<String, String>, name: &str) -> Result<T, Answer> {
    let text = arg(args, name)?;
    text.parse().map_err(|_| refusal(ErrorCode::InvalidField, format!("{name} must be a number, not {text:?}")))
}

/// The number of seconds argument `name`, fractions allowed.
pub(super) fn seconds(args: &HashMap<String, String>, name: &str) -> Result<Seconds, Answer> {
    let text = arg(args, name)?;
    text.parse()
        .ok()
        .and_then(Seconds::parse)
        .ok_or_else(|| refusal(ErrorCode::InvalidField, format!("{name} must be a number, not {text:?}")))
}

/// The switch argument `name`: `true`, `false`, or absent.
pub(super) fn flag(args: &HashMap<String, String>, name: &str) -> Result<Option<bool>, Answer> {
    match args.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(refusal(ErrorCode::InvalidField, format!("{name} must be true or false, not {other:?}"))),
    }
}
