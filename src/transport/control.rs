//! The control API for the booth's hardware and scripts (`/api/v1`): the show's state, flat
//! and ready to show on a key, and the show commands, each answered with the new state.
//! Hardware does not know versions: the API fills them in, an optional `expect` guards a
//! button pressed against a segment the show has left, an `Idempotency-Key` makes a retry
//! harmless, and an identical press within `api_double_press_ms` is answered, not applied.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::shared::{authorized, request_token};
use super::sse::stream;
use crate::app::control::{authorized_token, overview, refusal, Answer, Control};
use crate::app::flat::flat_state;
use crate::clock::now_millis;
use crate::domain::Role;
use crate::metrics::Format;
use crate::protocol::ErrorCode;

/// The control API's routes, with what they remember between requests.
pub fn routes(control: Control) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/api/v1/events/{event}/state", get(state))
        .route("/api/v1/events/{event}/stream", get(stream))
        .route("/api/v1/events/{event}/automations", get(automations))
        .route("/api/v1/events/{event}/{command}", post(command))
        .route("/api/v1/events/{event}/{group}/{command}", post(grouped_command))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(control)
}

/// A command's JSON body at most, as a websocket frame: its arguments are a few short fields.
/// A longer one is answered `413 too_large` in the API's JSON.
const MAX_BODY_BYTES: usize = crate::protocol::MAX_FRAME_BYTES;

/// `GET /api/v1/events/{event}/state`, with the seq as `ETag`.
async fn state(
    State(control): State<Control>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (entry, role) = match authorized(control.app(), &event, &headers, &query) {
        Ok(found) => found,
        Err(answer) => return answer.into_response(),
    };
    let overview = match overview(&entry).await {
        Ok(overview) => overview,
        Err(answer) => return answer.into_response(),
    };
    let etag = format!("\"{}\"", overview.seq);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Json(flat_state(&overview, role, now_millis())).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("a number in quotes is a valid header"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /api/v1/events/{event}/automations`: the plan's automations and what they sent
/// lately, for the chair and AV.
async fn automations(
    State(control): State<Control>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let (entry, role) = match authorized(control.app(), &event, &headers, &query) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if !matches!(role, Role::Organizer | Role::Moderator | Role::Av) {
        return refusal(ErrorCode::Forbidden, "automations are for the chair and AV");
    }
    match overview(&entry).await {
        Ok(overview) => Answer {
            status: StatusCode::OK,
            body: json!({ "automations": overview.state.show.automations, "recent": entry.deliveries.recent() }),
        },
        Err(answer) => answer,
    }
}

/// `GET /metrics`: the classic Prometheus text or OpenMetrics, as `Accept` asks, for the rooms
/// token or an organizer token of any event.
async fn metrics(
    State(control): State<Control>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = request_token(&headers, query.get("token").map(String::as_str));
    let organizer = control.app().rooms_token.grants(token)
        || control.app().events.iter().any(|entry| entry.value().role_of(token) == Some(Role::Organizer));
    if !organizer {
        return refusal(ErrorCode::Unauthorized, "an organizer token is needed").into_response();
    }
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let vary = (header::VARY, "Accept");
    ([(header::CONTENT_TYPE, format.content_type()), vary], control.app().metrics.encode(format)).into_response()
}

/// The API's OpenAPI document, as docs/openapi.json has it.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../docs/openapi.json")).into_response()
}

async fn command(
    State(control): State<Control>,
    Path((event, command)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    http(&control, &event, &command, query, &headers, body).await.into_response()
}

async fn grouped_command(
    State(control): State<Control>,
    Path((event, group, command)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    http(&control, &event, &format!("{group}/{command}"), query, &headers, body).await.into_response()
}

/// A command as HTTP sends it: the token from the header or the query, the arguments from
/// the query and a JSON body, the idempotency key from its header.
async fn http(
    control: &Control,
    event: &str,
    name: &str,
    mut args: HashMap<String, String>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let token = request_token(headers, args.get("token").map(String::as_str)).to_owned();
    args.remove("token");
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            // Who asks comes first: without a token of the event the answer is 401, whatever the body.
            if let Err(answer) = authorized_token(control.app(), event, &token) {
                return answer;
            }
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                return refusal(ErrorCode::TooLarge, format!("a command's body is at most {MAX_BODY_BYTES} bytes"));
            }
            return refusal(ErrorCode::BadJson, format!("the body could not be read: {rejection}"));
        }
    };
    if let Err(answer) = merge_body(&mut args, &body) {
        return answer;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    control.run(event, name, args, &token, key).await
}

/// A JSON object body's fields join the query's (the query wins), for tools that post JSON.
fn merge_body(args: &mut HashMap<String, String>, body: &[u8]) -> Result<(), Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(refusal(ErrorCode::BadJson, "the body must be empty or a JSON object"));
    };
    for (name, value) in fields {
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        args.entry(name).or_insert(text);
    }
    Ok(())
}
