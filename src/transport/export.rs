//! Organizer exports over HTTP: the change log as JSON lines, and the planned-vs-actual
//! record as CSV, both rebuilt from the stored log.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::TimeZone;
use serde::Deserialize;

use crate::domain::live::LiveState;
use crate::domain::record::planned_vs_actual;
use crate::domain::show::RunOfShow;
use crate::domain::{Millis, Role};
use crate::server::{AppState, EventEntry};
use crate::store::LogEntry;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// Why an export was refused.
pub enum ExportError {
    NoSuchEvent,
    NotOrganizer,
    Store(String),
}

impl IntoResponse for ExportError {
    fn into_response(self) -> Response {
        match self {
            ExportError::NoSuchEvent => (StatusCode::NOT_FOUND, "no such event".to_owned()),
            ExportError::NotOrganizer => (StatusCode::UNAUTHORIZED, "an organizer token is needed".to_owned()),
            ExportError::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
        }
        .into_response()
    }
}

/// The event's entry and its log, if the request carries the event's organizer token.
async fn authorized_log(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &TokenQuery,
) -> Result<(Arc<EventEntry>, Vec<LogEntry>), ExportError> {
    let entry = app.event(event).ok_or(ExportError::NoSuchEvent)?;
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or(query.token.as_deref()).unwrap_or_default();
    if entry.tokens.role_of(token) != Some(Role::Organizer) {
        return Err(ExportError::NotOrganizer);
    }
    let log = app.journal.read_log(event).await.map_err(|e| ExportError::Store(e.to_string()))?;
    Ok((entry, log))
}

fn download(content_type: &'static str, name: String, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

pub async fn log(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let (_, entries) = authorized_log(&app, &event, &headers, &query).await?;
    let mut body = String::new();
    for entry in &entries {
        body.push_str(&serde_json::to_string(entry).map_err(|e| ExportError::Store(e.to_string()))?);
        body.push('\n');
    }
    Ok(download("application/jsonl; charset=utf-8", format!("{event}-log.jsonl"), body))
}

pub async fn record(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let (entry, entries) = authorized_log(&app, &event, &headers, &query).await?;
    // Each live change carries the whole live state, so the last one holds every run.
    let live = entries.iter().rev().find_map(|e| e.change.live()).cloned().unwrap_or_default();
    let body = record_csv(&entry.show, &live).map_err(|e| ExportError::Store(e.to_string()))?;
    Ok(download("text/csv; charset=utf-8", format!("{event}-record.csv"), body))
}

fn record_csv(show: &RunOfShow, live: &LiveState) -> Result<String, csv::Error> {
    let zone: chrono_tz::Tz = show.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let time = |at: Option<Millis>| {
        at.and_then(|ms| zone.timestamp_millis_opt(ms).single()).map(|t| t.to_rfc3339()).unwrap_or_default()
    };
    let minutes = |ms: Option<Millis>| ms.map(|ms| format!("{:.1}", ms as f64 / 60_000.0)).unwrap_or_default();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "segment",
        "title",
        "planned_start",
        "planned_minutes",
        "actual_start",
        "actual_end",
        "actual_minutes",
        "start_delay_minutes",
        "overrun_minutes",
    ])?;
    for run in planned_vs_actual(show, live) {
        let segment = &show.segments[run.segment];
        out.write_record([
            segment.id.clone(),
            segment.title.en.clone(),
            time(Some(run.planned_start)),
            minutes(Some(run.planned_ms)),
            time(run.started_at),
            time(run.ended_at),
            minutes(run.actual_ms()),
            minutes(run.start_delay_ms()),
            minutes(run.overrun_ms()),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
