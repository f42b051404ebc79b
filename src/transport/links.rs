//! The links API (`/api/events/{event}/links`): an event's extra tokens listed, made and
//! revoked, for its organizer or the rooms token; the links themselves are `app::links`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::shared::{request_token, TokenQuery, NO_STORE};
use crate::app::links::{Link, LinkError, NewLink, LINK_ENDED_CLOSE};
use crate::app::{page_of, Access, AppState, EventEntry};
use crate::clock::now_millis;
use crate::domain::{Millis, Role};

/// A new link's request body is small; more is refused.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A refused links request: status and `{code, message}`.
pub struct Refused(StatusCode, &'static str, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let Refused(status, code, message) = self;
        (status, NO_STORE, Json(json!({"code": code, "message": message}))).into_response()
    }
}

impl From<LinkError> for Refused {
    fn from(e: LinkError) -> Self {
        let (status, code) = match &e {
            LinkError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            LinkError::TooMany => (StatusCode::CONFLICT, "invalid_state"),
            LinkError::NotFound(_) => (StatusCode::NOT_FOUND, "unknown_link"),
            LinkError::Cluster => (StatusCode::CONFLICT, "cluster_unsupported"),
            LinkError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Refused(status, code, e.to_string())
    }
}

/// The running event, if the request carries its organizer token or the rooms token.
fn manager(app: &AppState, event: &str, headers: &HeaderMap, query: &TokenQuery) -> Result<Arc<EventEntry>, Refused> {
    let entry = app
        .event(event)
        .ok_or_else(|| Refused(StatusCode::NOT_FOUND, "unknown_event", format!("no running event {event:?}")))?;
    let token = request_token(headers, query.token.as_deref());
    if app.rooms_token.grants(token) {
        return Ok(entry);
    }
    match entry.access(token) {
        Access::Granted(Role::Organizer, _) => Ok(entry),
        Access::Granted(..) => {
            Err(Refused(StatusCode::FORBIDDEN, "forbidden", "only an organizer token manages links".into()))
        }
        Access::Ended(ended) => {
            let code = if ended.revoked { "link_revoked" } else { "link_expired" };
            Err(Refused(StatusCode::UNAUTHORIZED, code, ended.message(&entry.show.event.time_zone)))
        }
        Access::Refused => Err(Refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the event's organizer token or the rooms token is needed (Authorization: Bearer or ?token=)".into(),
        )),
    }
}

/// A link as the API shows it: with its page address and where it stands at `now`.
fn view(event: &str, link: &Link, now: Millis) -> Value {
    json!({
        "id": link.id,
        "role": link.role,
        "name": link.name,
        "token": link.token,
        "url": format!("/{}#event={event}&token={}", page_of(link.role), link.token),
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "state": link.state(now),
        "ended_at": link.ended_at(now),
    })
}

/// `GET /api/events/{event}/links`: every link kept, in the order made.
pub async fn list(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    let entry = manager(&app, &event, &headers, &query)?;
    let now = now_millis();
    let links: Vec<Value> = entry.links.all().iter().map(|link| view(&event, link, now)).collect();
    let body = json!({
        "event": event,
        "server_time": now,
        "time_zone": entry.show.event.time_zone,
        "links": links,
    });
    Ok((NO_STORE, Json(body)).into_response())
}

/// `POST /api/events/{event}/links`: `{role, name?, expires_at? | expires_in_s?}` → 201.
pub async fn create(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refused> {
    manager(&app, &event, &headers, &query)?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Refused(e.status(), "too_large", format!("a link's request is at most {MAX_BODY_BYTES} bytes"))
        }
        _ => Refused(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    })?;
    let value: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Refused(StatusCode::BAD_REQUEST, "bad_request", "the body must be a JSON object".into()))?;
    let new: NewLink = serde_json::from_value(value)
        .map_err(|e| Refused(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", e.to_string()))?;
    if app.cluster.is_some() {
        return Err(LinkError::Cluster.into());
    }
    let now = now_millis();
    let link = app.links.create(&event, new, now)?;
    tracing::info!(event, link = link.id, role = link.role.as_str(), "link made");
    Ok((StatusCode::CREATED, NO_STORE, Json(view(&event, &link, now))).into_response())
}

/// `POST /api/events/{event}/links/{id}/revoke` and `DELETE …/links/{id}`: the link opens no
/// connection from now on, and those it opened are closed (4401); again changes nothing.
pub async fn revoke(
    State(app): State<AppState>,
    Path((event, id)): Path<(String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    manager(&app, &event, &headers, &query)?;
    let now = now_millis();
    let link = app.links.revoke(&event, &id, now)?;
    tracing::info!(event, link = link.id, close = LINK_ENDED_CLOSE, "link revoked");
    Ok((NO_STORE, Json(view(&event, &link, now))).into_response())
}
