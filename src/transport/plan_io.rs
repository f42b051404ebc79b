//! The run of show as files over HTTP: the current plan downloaded as CSV or XLSX, and an
//! uploaded spreadsheet or event file checked, compared with the plan and, when asked,
//! applied through the event's hub as one `plan_replace`. Parsing is [`crate::sheet`]'s;
//! nothing here changes a plan except through the hub.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::shared::{download, off_workers, request_token, TokenQuery};
use crate::app::{Access, AppState, EventEntry};
use crate::clock::now_millis;
use crate::domain::text::{Lang, Mode};
use crate::domain::{Actor, Command, Role};
use crate::hub::retries::Outcome;
use crate::hub::Overview;
use crate::protocol::{ErrorCode, FrameError};
use crate::sheet::{self, Format, SheetError, MAX_FILE_BYTES, XLSX};

/// Why a plan file request was refused, answered as JSON `{code, message, errors}`.
#[derive(Debug)]
pub enum PlanIoError {
    UnknownEvent,
    /// No token, or one of no role.
    Unauthorized,
    /// No token of the event, for what any of its tokens may read.
    NotOfEvent,
    /// A token of another role than organizer.
    Forbidden,
    /// A link that has expired or was revoked: its code and message.
    LinkEnded(ErrorCode, String),
    TooLarge,
    UnsupportedMediaType,
    /// Everything wrong with the file; nothing was applied.
    InvalidFile(Vec<SheetError>),
    /// The hub refused the replacement (live without force, a stale plan version).
    Refused(FrameError),
    /// Ours, not the client's: the hub has stopped, or a workbook could not be written.
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [SheetError],
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl IntoResponse for PlanIoError {
    fn into_response(self) -> Response {
        let (status, code, message, errors) = match &self {
            PlanIoError::UnknownEvent => {
                (StatusCode::NOT_FOUND, "unknown_event".into(), "no such event".into(), &[][..])
            }
            PlanIoError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "unauthorized".into(), "an organizer token is needed".into(), &[][..])
            }
            PlanIoError::NotOfEvent => {
                (StatusCode::UNAUTHORIZED, "unauthorized".into(), "a token of the event is needed".into(), &[][..])
            }
            PlanIoError::LinkEnded(code, message) => {
                (StatusCode::UNAUTHORIZED, code_name(*code), message.clone(), &[][..])
            }
            PlanIoError::Forbidden => {
                (StatusCode::FORBIDDEN, "forbidden".into(), "only an organizer token may do this".into(), &[][..])
            }
            PlanIoError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large".into(),
                format!("a plan file is at most {} MiB", MAX_FILE_BYTES / 1024 / 1024),
                &[][..],
            ),
            PlanIoError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type".into(),
                format!("send text/csv, {XLSX} or application/toml"),
                &[][..],
            ),
            PlanIoError::InvalidFile(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_file".into(),
                format!("the file has {} error(s); nothing was changed", errors.len()),
                &errors[..],
            ),
            PlanIoError::Refused(e) => {
                let status = match e.code {
                    ErrorCode::Conflict | ErrorCode::InvalidState => StatusCode::CONFLICT,
                    ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                    ErrorCode::InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, code_name(e.code), e.message.clone(), &[][..])
            }
            PlanIoError::Internal(message) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal".into(), message.clone(), &[][..])
            }
        };
        (status, Json(ErrorBody { code: &code, message, errors })).into_response()
    }
}

/// The event's entry, if the request carries its organizer token.
fn organizer(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Arc<EventEntry>, PlanIoError> {
    let entry = app.event(event).ok_or(PlanIoError::UnknownEvent)?;
    match entry.access(request_token(headers, token)) {
        Access::Granted(Role::Organizer, _) => Ok(entry),
        Access::Granted(..) => Err(PlanIoError::Forbidden),
        Access::Ended(ended) => Err(PlanIoError::LinkEnded(ended.code(), ended.message(&entry.show.event.time_zone))),
        Access::Refused => Err(PlanIoError::Unauthorized),
    }
}

async fn overview(entry: &EventEntry) -> Result<Overview, PlanIoError> {
    entry.hub.overview().await.map_err(|e| PlanIoError::Internal(e.to_string()))
}

/// `GET /api/events/{event}/plan.csv`: the current plan, as an import reads it back.
pub async fn plan_csv(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, PlanIoError> {
    let entry = organizer(&app, &event, &headers, query.token.as_deref())?;
    let plan = overview(&entry).await?.state.show;
    Ok(download("text/csv; charset=utf-8", format!("{event}-plan.csv"), sheet::plan_csv(&plan)))
}

/// `GET /api/events/{event}/plan.xlsx`: the current plan as a workbook.
pub async fn plan_xlsx(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, PlanIoError> {
    let entry = organizer(&app, &event, &headers, query.token.as_deref())?;
    let plan = overview(&entry).await?.state.show;
    let body = sheet::plan_xlsx(&plan).map_err(|e| PlanIoError::Internal(e.to_string()))?;
    Ok(download(XLSX, format!("{event}-plan.xlsx"), body))
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    token: Option<String>,
    /// The language of titles and names; the event's first when absent.
    lang: Option<Lang>,
}

/// `GET /api/events/{event}/programme.ics`: the programme for attendees' calendars, with
/// any of the event's tokens (a calendar that subscribes fetches it again as plans change).
pub async fn programme_ics(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<CalendarQuery>,
    headers: HeaderMap,
) -> Result<Response, PlanIoError> {
    let entry = app.event(&event).ok_or(PlanIoError::UnknownEvent)?;
    if entry.role_of(request_token(&headers, query.token.as_deref())).is_none() {
        return Err(PlanIoError::NotOfEvent);
    }
    let plan = entry.hub.plan().await.map_err(|e| PlanIoError::Internal(e.to_string()))?;
    let lang = query.lang.or(plan.show.event.languages.first().copied()).unwrap_or(Lang::En);
    let body = sheet::programme_ics(&plan.show, plan.version, lang, now_millis());
    Ok(download("text/calendar; charset=utf-8", format!("{event}.ics"), body))
}

#[derive(Deserialize)]
pub struct ImportQuery {
    token: Option<String>,
    /// Replace the plan; without it the request is a dry run.
    #[serde(default)]
    apply: bool,
    /// Replace it even while the show is live.
    #[serde(default)]
    force: bool,
    /// The plan version the organizer reviewed the differences against.
    plan_version: Option<u64>,
}

/// What an import did, or would do.
#[derive(Serialize)]
struct ImportAnswer {
    applied: bool,
    /// The plan's version now: the new one when applied.
    plan_version: u64,
    differences: Vec<String>,
}

/// The body, at most [`MAX_FILE_BYTES`], and the format its content type or signature says.
pub async fn upload(headers: &HeaderMap, body: Body) -> Result<(Format, bytes::Bytes), PlanIoError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_FILE_BYTES) {
        return Err(PlanIoError::TooLarge);
    }
    let bytes = axum::body::to_bytes(body, MAX_FILE_BYTES).await.map_err(|_| PlanIoError::TooLarge)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = Format::of(content_type, &bytes).ok_or(PlanIoError::UnsupportedMediaType)?;
    Ok((format, bytes))
}

/// Who an import's plan change is logged as.
fn importer() -> Actor {
    Actor {
        participant: "import".into(),
        name: "Import".into(),
        role: Role::Organizer,
        mode: Mode::InRoom,
        lang: Lang::En,
        affiliation: None,
        crew: Vec::new(),
    }
}

/// `POST /api/events/{event}/plan`: the uploaded file's differences from the current plan,
/// and with `apply=true` the plan replaced by it.
pub async fn import(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PlanIoError> {
    let entry = organizer(&app, &event, &headers, query.token.as_deref())?;
    let (format, bytes) = upload(&headers, body).await?;
    let current = overview(&entry).await?.state;
    let show = Arc::clone(&current.show);
    let (new, differences) = off_workers(move || {
        let new = sheet::read_plan(format, &bytes, &show)?;
        let differences = sheet::differences(&show, &new);
        Ok((new, differences))
    })
    .await
    .map_err(PlanIoError::Internal)?
    .map_err(PlanIoError::InvalidFile)?;
    if !query.apply {
        return Ok(
            Json(ImportAnswer { applied: false, plan_version: current.plan_version, differences }).into_response()
        );
    }
    let plan_version = query.plan_version.unwrap_or(current.plan_version);
    let command = Command::PlanReplace { plan_version, plan: Box::new(new), force: query.force };
    let outcome = entry
        .hub
        .request(importer(), uuid::Uuid::new_v4().to_string(), command)
        .await
        .map_err(|e| PlanIoError::Internal(e.to_string()))?;
    match outcome {
        Outcome::Ack { .. } => {
            tracing::info!(event, plan_version = plan_version + 1, "plan imported");
            Ok(Json(ImportAnswer { applied: true, plan_version: plan_version + 1, differences }).into_response())
        }
        Outcome::Rejected(e) => Err(PlanIoError::Refused(e)),
    }
}
