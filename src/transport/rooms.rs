//! The rooms API, behind the server-wide rooms token: every event at a glance
//! (`GET /api/events`), an event created from an uploaded plan (`POST /api/events`), and
//! archiving (`POST /api/events/{event}/archive`). Errors are JSON with a stable code.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::shared::{off_workers, NO_STORE};
use crate::app::rooms::{self, RoomsError};
use crate::app::{page_of, AppState};
use crate::auth::EventTokens;
use crate::clock::now_millis;
use crate::domain::live::{timing, Phase};
use crate::domain::presence::Counts;
use crate::domain::show::{RunOfShow, Segment, SegmentKind};
use crate::domain::text::Localized;
use crate::domain::{EventState, Millis, Role};
use crate::sheet::{self, Format, NewEvent, XLSX};

/// The largest plan upload taken; a bigger body is answered 413 `too_large`.
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
pub struct RoomsQuery {
    token: Option<String>,
    #[serde(default)]
    force: bool,
}

/// A refused rooms request: its status, and a stable code with a message for people.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    UnsupportedMediaType(String),
    TooLarge,
    BadBody(String),
    InvalidEvent(String),
    Conflict(String),
    NotFound(String),
    InvalidState(String),
    Internal(String),
}

impl ApiError {
    fn parts(self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "unauthorized", "the rooms token is needed (an event's token is not)".into())
            }
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", m),
            ApiError::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("uploads are limited to {MAX_UPLOAD_BYTES} bytes"))
            }
            ApiError::BadBody(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::InvalidEvent(m) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            ApiError::InvalidState(m) => (StatusCode::CONFLICT, "invalid_state", m),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        (status, Json(serde_json::json!({ "code": code, "message": message }))).into_response()
    }
}

impl From<RoomsError> for ApiError {
    fn from(e: RoomsError) -> Self {
        let message = e.to_string();
        match e {
            RoomsError::Exists(_) => ApiError::Conflict(message),
            RoomsError::NotFound(_) => ApiError::NotFound(message),
            RoomsError::AlreadyArchived(_) | RoomsError::Live(_) => ApiError::InvalidState(message),
            RoomsError::Internal(_) => ApiError::Internal(message),
        }
    }
}

/// The request carries the rooms token, as a bearer token or a `token` query parameter.
fn authorize(app: &AppState, headers: &HeaderMap, query: &RoomsQuery) -> Result<(), ApiError> {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or(query.token.as_deref()).unwrap_or_default();
    if app.rooms_token.grants(token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The plan formats an upload may be in.
enum PlanFormat {
    /// An event file, as in config/events.
    EventFile,
    /// A run of show in CSV or XLSX, with the event's own fields in the query.
    Spreadsheet,
}

/// The format of an upload by its content type: an event file is sent as
/// `application/toml`, `text/plain` or with no type; a spreadsheet as `text/csv` or the
/// XLSX type (or `application/octet-stream`, as browsers send files they do not know).
fn plan_format(content_type: Option<&str>) -> Result<PlanFormat, ApiError> {
    let essence = content_type.map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match essence.as_deref() {
        None | Some("" | "application/toml" | "text/plain") => Ok(PlanFormat::EventFile),
        Some("text/csv" | "application/csv" | XLSX | "application/octet-stream") => Ok(PlanFormat::Spreadsheet),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "{other} is not a plan format this server reads; send an event file as application/toml, \
             or a spreadsheet as text/csv or {XLSX}"
        ))),
    }
}

/// Turns an uploaded plan into a run of show, by its content type; a spreadsheet's event
/// fields come from the request's query (`id`, `title_en`, `venue_en`, …).
pub fn parse_upload(content_type: Option<&str>, bytes: &[u8], uri: &axum::http::Uri) -> Result<RunOfShow, ApiError> {
    match plan_format(content_type)? {
        PlanFormat::EventFile => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| ApiError::InvalidEvent(format!("an event file must be UTF-8 text: {e}")))?;
            crate::config::parse_event(text, chrono::Utc::now()).map_err(|e| ApiError::InvalidEvent(format!("{e:#}")))
        }
        PlanFormat::Spreadsheet => {
            let format = Format::of(content_type, bytes).unwrap_or(Format::Csv);
            let fields = Query::<NewEvent>::try_from_uri(uri).map_err(|e| {
                ApiError::InvalidEvent(format!(
                    "a spreadsheet needs the event's fields as query parameters (id, title_en, venue_en, …): {e}"
                ))
            })?;
            sheet::read_new_event(format, bytes, &fields, chrono::Utc::now()).map_err(|errors| {
                ApiError::InvalidEvent(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            })
        }
    }
}

#[derive(Serialize)]
pub struct Created {
    id: String,
    tokens: BTreeMap<Role, String>,
    links: BTreeMap<Role, String>,
}

/// `POST /api/events`: creates and starts the event the body describes; 201 with its
/// tokens and page links.
pub async fn create(
    State(app): State<AppState>,
    Query(query): Query<RoomsQuery>,
    request: Request,
) -> Result<(StatusCode, [(header::HeaderName, &'static str); 1], Json<Created>), ApiError> {
    authorize(&app, request.headers(), &query)?;
    let uri = request.uri().clone();
    let content_type =
        request.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("unreadable").to_owned());
    // A wrong type is known from the head alone: refused before the body is read.
    plan_format(content_type.as_deref())?;
    let body = Bytes::from_request(request, &()).await.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        _ => ApiError::BadBody(rejection.body_text()),
    })?;
    let show =
        off_workers(move || parse_upload(content_type.as_deref(), &body, &uri)).await.map_err(ApiError::Internal)??;
    let entry = rooms::create(&app, show).await?;
    let id = entry.show.event.id.clone();
    let tokens = entry.tokens.read().unwrap_or_else(|e| e.into_inner()).clone();
    let links = links(&id, &tokens);
    let tokens = Role::ALL.into_iter().map(|role| (role, tokens.token(role).to_owned())).collect();
    Ok((StatusCode::CREATED, NO_STORE, Json(Created { id, tokens, links })))
}

/// `POST /api/events/{event}/archive[?force=true]`.
pub async fn archive(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<RoomsQuery>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&app, &headers, &query)?;
    rooms::archive(&app, &event, query.force).await?;
    Ok(Json(serde_json::json!({ "id": event, "archived": true })))
}

/// The page of each role that has one, with its token, relative to this server.
fn links(id: &str, tokens: &EventTokens) -> BTreeMap<Role, String> {
    Role::ALL
        .into_iter()
        .map(|role| (role, format!("/{}#event={id}&token={}", page_of(role), tokens.token(role))))
        .collect()
}

/// An event's downloads, with its organizer token.
fn exports(id: &str, tokens: &EventTokens) -> BTreeMap<&'static str, String> {
    let token = tokens.token(Role::Organizer);
    [("record", "record.csv"), ("log", "log.jsonl"), ("attendance", "attendance.csv")]
        .into_iter()
        .map(|(name, file)| (name, format!("/api/events/{id}/{file}?token={token}")))
        .collect()
}

#[derive(Serialize)]
pub struct Rooms {
    /// The server's clock when the answer was made, for counting down until the next poll.
    server_time: Millis,
    events: Vec<Room>,
}

#[derive(Serialize)]
pub struct Room {
    id: String,
    title: Localized,
    archived: bool,
    phase: Phase,
    overview: RoomOverview,
    links: BTreeMap<Role, String>,
    exports: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct SegmentView {
    id: String,
    title: Localized,
    kind: SegmentKind,
    planned_start: Millis,
    /// The planned length with the time the chair added or took.
    duration_ms: Millis,
}

impl SegmentView {
    fn of(segment: &Segment, extended_ms: Millis) -> Self {
        SegmentView {
            id: segment.id.clone(),
            title: segment.title.clone(),
            kind: segment.kind,
            planned_start: segment.planned_start,
            duration_ms: segment.duration_ms + extended_ms,
        }
    }
}

/// Where the show stands at `server_time`, as the console derives it.
#[derive(Serialize)]
struct TimingView {
    elapsed_ms: Millis,
    /// Negative once the segment overruns.
    remaining_ms: Millis,
    overrun_ms: Millis,
    /// Positive when the day runs behind its plan.
    drift_ms: Millis,
    projected_end: Millis,
}

#[derive(Serialize)]
struct RoomOverview {
    /// The seq of the last change this overview includes; not known for archived events.
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    server_time: Millis,
    time_zone: String,
    planned_start: Millis,
    planned_end: Millis,
    current: Option<SegmentView>,
    next: Option<SegmentView>,
    /// The live timestamps, so that a page can count down between polls.
    segment_started_at: Option<Millis>,
    held_since: Option<Millis>,
    segment_paused_ms: Millis,
    show_started_at: Option<Millis>,
    ended_at: Option<Millis>,
    timing: TimingView,
    /// Who is connected: in the room, remote, in all.
    people: Counts,
}

impl RoomOverview {
    fn of(state: &EventState, seq: Option<u64>, counts: Counts, now: Millis) -> Self {
        let (show, live) = (&state.show, &state.live);
        let tm = timing(show, live, now);
        let current = live.segment.filter(|_| live.phase == Phase::Live);
        let next = match live.phase {
            Phase::Standby => Some(0),
            Phase::Live => current.map(|k| k + 1),
            Phase::Ended => None,
        };
        let view = |index: usize, extended| show.segments.get(index).map(|s| SegmentView::of(s, extended));
        RoomOverview {
            seq,
            server_time: now,
            time_zone: show.event.time_zone.clone(),
            planned_start: show.event.planned_start,
            planned_end: show.event.planned_end,
            current: current.and_then(|k| view(k, live.extended_ms)),
            next: next.and_then(|k| view(k, 0)),
            segment_started_at: live.segment_started_at,
            held_since: live.held_since,
            segment_paused_ms: live.segment_paused_ms,
            show_started_at: live.show_started_at,
            ended_at: live.ended_at,
            timing: TimingView {
                elapsed_ms: tm.elapsed_ms,
                remaining_ms: tm.remaining_ms,
                overrun_ms: tm.overrun_ms(),
                drift_ms: tm.drift_ms,
                projected_end: tm.projected_end,
            },
            people: counts,
        }
    }
}

fn room(state: &EventState, seq: Option<u64>, counts: Counts, tokens: &EventTokens, archived: bool) -> Room {
    let id = state.show.event.id.clone();
    let overview = RoomOverview::of(state, seq, counts, now_millis());
    Room {
        title: state.show.event.title.clone(),
        archived,
        phase: state.live.phase,
        overview,
        links: links(&id, tokens),
        exports: exports(&id, tokens),
        id,
    }
}

/// `GET /api/events`: every event, running ones first, each with where its show stands.
pub async fn list(
    State(app): State<AppState>,
    Query(query): Query<RoomsQuery>,
    headers: HeaderMap,
) -> Result<([(header::HeaderName, &'static str); 1], Json<Rooms>), ApiError> {
    authorize(&app, &headers, &query)?;
    let running: Vec<_> = app.events.iter().map(|entry| Arc::clone(entry.value())).collect();
    let archived: Vec<_> = app.archived.iter().map(|entry| Arc::clone(entry.value())).collect();
    let overviews = futures_util::future::join_all(running.iter().map(|entry| entry.hub.overview())).await;
    let mut events = Vec::with_capacity(running.len() + archived.len());
    for (entry, overview) in running.iter().zip(overviews) {
        // A hub stopped meanwhile belongs to an event just archived; it is listed next time.
        let Ok(overview) = overview else { continue };
        let tokens = entry.tokens.read().unwrap_or_else(|e| e.into_inner()).clone();
        events.push(room(&overview.state, Some(overview.seq), overview.counts, &tokens, false));
    }
    for entry in &archived {
        events.push(room(&entry.state, None, Counts::default(), &entry.tokens, true));
    }
    events.sort_by(|a, b| {
        (a.archived, a.overview.planned_start, &a.id).cmp(&(b.archived, b.overview.planned_start, &b.id))
    });
    Ok((NO_STORE, Json(Rooms { server_time: now_millis(), events })))
}
