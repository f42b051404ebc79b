//! The organizer's HTTP API: the change log as JSON lines, the planned-vs-actual record (as
//! CSV and XLSX) and the attendance history as CSV, of running and archived events; and token
//! rotation.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::TimeZone;
use serde::Serialize;

use super::shared::{download, request_token, TokenQuery, NO_STORE};
use crate::app::control::{refusal, Answer};
use crate::app::links::EndedLink;
use crate::app::{Access, AppState, EventEntry};
use crate::clock::now_millis;
use crate::domain::live::LiveState;
use crate::domain::queue::EVENT_QUEUE;
use crate::domain::record::planned_vs_actual;
use crate::domain::show::RunOfShow;
use crate::domain::speaking::{Person, SideSummary, SpeakingRecord};
use crate::domain::{Actor, Change, Millis, Role};
use crate::protocol::{Audience, ChangeView, Tagger, View};
use crate::sheet::{tables_xlsx, Table, TableCell, XLSX};
use crate::store::LogEntry;

/// Why an organizer request was refused.
pub enum ExportError {
    NoSuchEvent,
    NotOrganizer,
    /// A link that has expired or was revoked: 401 with its code, as JSON.
    LinkEnded(Answer),
    Fixed,
    Store(String),
}

impl IntoResponse for ExportError {
    fn into_response(self) -> Response {
        match self {
            ExportError::LinkEnded(answer) => return answer.into_response(),
            ExportError::NoSuchEvent => (StatusCode::NOT_FOUND, "no such event".to_owned()),
            ExportError::NotOrganizer => (StatusCode::UNAUTHORIZED, "an organizer token is needed".to_owned()),
            ExportError::Fixed => {
                (StatusCode::CONFLICT, "this token is fixed in the settings; change it there and restart".to_owned())
            }
            ExportError::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
        }
        .into_response()
    }
}

/// The token a request carries, as a bearer token, or a query parameter for download links.
fn presented<'a>(headers: &'a HeaderMap, query: Option<&'a TokenQuery>) -> &'a str {
    request_token(headers, query.and_then(|q| q.token.as_deref()))
}

/// The running event's entry, if the request carries its organizer token.
fn organizer(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: Option<&TokenQuery>,
) -> Result<Arc<EventEntry>, ExportError> {
    let entry = app.event(event).ok_or(ExportError::NoSuchEvent)?;
    match entry.access(presented(headers, query)) {
        Access::Granted(Role::Organizer, _) => Ok(entry),
        Access::Ended(ended) => Err(link_ended(&entry, &ended)),
        _ => Err(ExportError::NotOrganizer),
    }
}

fn link_ended(entry: &EventEntry, ended: &EndedLink) -> ExportError {
    ExportError::LinkEnded(refusal(ended.code(), ended.message(&entry.show.event.time_zone)))
}

/// A running or archived event's plan, log and participants' public tags, for its organizer.
struct Logged {
    show: Arc<RunOfShow>,
    log: Vec<LogEntry>,
    tagger: Tagger,
}

/// The plan of a running or archived event and its log, for its organizer.
async fn authorized_log(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &TokenQuery,
) -> Result<Logged, ExportError> {
    let token = presented(headers, Some(query));
    let (show, role, tagger) = match (app.event(event), app.archived_event(event)) {
        (Some(entry), _) => {
            let role = match entry.access(token) {
                Access::Granted(role, _) => Some(role),
                Access::Ended(ended) => return Err(link_ended(&entry, &ended)),
                Access::Refused => None,
            };
            (Arc::clone(&entry.show), role, entry.tagger.clone())
        }
        (None, Some(archived)) => {
            (Arc::clone(&archived.state.show), archived.tokens.role_of(token), archived.tagger.clone())
        }
        (None, None) => return Err(ExportError::NoSuchEvent),
    };
    if role != Some(Role::Organizer) {
        return Err(ExportError::NotOrganizer);
    }
    let log = app.journal.read_log(event).await.map_err(|e| ExportError::Store(e.to_string()))?;
    Ok(Logged { show, log, tagger })
}

/// `POST /api/events/{event}/tokens/{role}`: a new token for the role, effective at once.
pub async fn rotate(
    State(app): State<AppState>,
    Path((event, role)): Path<(String, Role)>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let entry = organizer(&app, &event, &headers, None)?;
    if app.configured_tokens.get(&event).is_some_and(|roles| roles.contains_key(&role)) {
        return Err(ExportError::Fixed);
    }
    let token = {
        let mut tokens = entry.tokens.write().unwrap_or_else(|e| e.into_inner());
        crate::auth::rotate(&app.data_dir, &event, role, &mut tokens)
            .map_err(|e| ExportError::Store(format!("{e:#}")))?
    };
    // Every node grants what the cluster shares; each takes the new token from its watch.
    if let Some(cluster) = &app.cluster {
        let shared = cluster.rotate_shared_token(&event, role, &token).await;
        shared.map_err(|e| ExportError::Store(format!("rotated on this node only: {e}; rotate again")))?;
    }
    tracing::info!(event, role = role.as_str(), "token rotated");
    Ok((NO_STORE, axum::Json(serde_json::json!({"event": event, "role": role, "token": token}))).into_response())
}

/// `GET /api/events/{event}/attendance.csv`: people present over time, per mode.
pub async fn attendance(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let Logged { show, log: entries, .. } = authorized_log(&app, &event, &headers, &query).await?;
    let samples = app.journal.read_attendance(&event).await.map_err(|e| ExportError::Store(e.to_string()))?;
    let zone: chrono_tz::Tz = current_plan(&show, &entries).event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let csv_error = |e: csv::Error| ExportError::Store(e.to_string());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["at", "in_room", "remote", "total"]).map_err(csv_error)?;
    for s in samples {
        let at = zone.timestamp_millis_opt(s.at).single().map(|t| t.to_rfc3339()).unwrap_or_default();
        let row = [at, s.in_room.to_string(), s.remote.to_string(), (s.in_room + s.remote).to_string()];
        out.write_record(row).map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| ExportError::Store(e.to_string()))?;
    Ok(download(
        "text/csv; charset=utf-8",
        format!("{event}-attendance.csv"),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// A line of the exported log: the entry as stored, but a live change as the chair got it,
/// with its `undo_depth` instead of the undo history, which would repeat up to 32 earlier
/// states on every line, and the speaking record it carries with participants' public tags.
#[derive(Serialize)]
struct LogLine<'a> {
    seq: u64,
    at: Millis,
    actor: &'a Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    change: LoggedChange<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LoggedChange<'a> {
    Live(Box<ChangeView<'a>>),
    Other(&'a Change),
}

impl<'a> LogLine<'a> {
    fn of(entry: &'a LogEntry, tagger: &'a Tagger) -> Self {
        let change = match &entry.change {
            live @ Change::Live { .. } => {
                let chair = View { audience: Audience::Chair, role: Role::Organizer, crew: &[], tagger, me: None };
                LoggedChange::Live(Box::new(chair.change(live)))
            }
            other => LoggedChange::Other(other),
        };
        LogLine { seq: entry.seq, at: entry.at, actor: &entry.actor, command: entry.command.as_deref(), change }
    }
}

pub async fn log(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let Logged { log: entries, tagger, .. } = authorized_log(&app, &event, &headers, &query).await?;
    let mut body = String::new();
    for entry in &entries {
        let line = LogLine::of(entry, &tagger);
        body.push_str(&serde_json::to_string(&line).map_err(|e| ExportError::Store(e.to_string()))?);
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
    let record = record_of(&app, &event, &headers, &query).await?;
    let body = record_csv(&record).map_err(|e| ExportError::Store(e.to_string()))?;
    Ok(download("text/csv; charset=utf-8", format!("{event}-record.csv"), body))
}

/// `GET /api/events/{event}/record.xlsx`: the record of `record.csv` as a workbook, its two
/// tables on two sheets.
pub async fn record_xlsx(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ExportError> {
    let record = record_of(&app, &event, &headers, &query).await?;
    let tables = [
        Table { name: "Planned vs actual", columns: &RECORD_COLUMNS, rows: record_rows(&record.show, &record.live) },
        Table { name: "Speaking time", columns: &SPEAKING_COLUMNS, rows: speaking_rows(&record) },
    ];
    let body = tables_xlsx(&tables).map_err(|e| ExportError::Store(e.to_string()))?;
    Ok(download(XLSX, format!("{event}-record.xlsx"), body))
}

/// What the record shows, as the log leaves it: the plan, the runs of the show and who has
/// spoken how long, at the moment asked.
struct Record {
    show: Arc<RunOfShow>,
    live: LiveState,
    speaking: SpeakingRecord,
    tagger: Tagger,
    now: Millis,
}

async fn record_of(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &TokenQuery,
) -> Result<Record, ExportError> {
    let Logged { show, log: entries, tagger } = authorized_log(app, event, headers, query).await?;
    // Each live change carries the whole live state, and the changes that move the speaking
    // record the whole record, so the last of each holds it all.
    let live = entries.iter().rev().find_map(|e| e.change.live()).cloned().unwrap_or_default();
    let speaking = entries.iter().rev().find_map(|e| e.change.speaking()).cloned().unwrap_or_default();
    Ok(Record { show: current_plan(&show, &entries), live, speaking, tagger, now: now_millis() })
}

/// The plan as the log leaves it: the latest plan change, else the plan the event started with.
fn current_plan(show: &Arc<RunOfShow>, log: &[LogEntry]) -> Arc<RunOfShow> {
    log.iter().rev().find_map(|e| e.change.plan()).map_or_else(|| Arc::clone(show), Arc::clone)
}

const RECORD_COLUMNS: [&str; 9] = [
    "segment",
    "title",
    "planned_start",
    "planned_minutes",
    "actual_start",
    "actual_end",
    "actual_minutes",
    "start_delay_minutes",
    "overrun_minutes",
];

/// The record's rows, one per run and then one per segment never run, under
/// [`RECORD_COLUMNS`]: the CSV and the workbook are the same table. Moments are in the
/// event's time zone; minutes to a tenth.
fn record_rows(show: &RunOfShow, live: &LiveState) -> Vec<Vec<TableCell>> {
    let zone: chrono_tz::Tz = show.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let time = |at: Option<Millis>| {
        at.and_then(|ms| zone.timestamp_millis_opt(ms).single()).map_or(TableCell::Empty, TableCell::Time)
    };
    let minutes =
        |ms: Option<Millis>| ms.map_or(TableCell::Empty, |ms| TableCell::Number((ms as f64 / 6_000.0).round() / 10.0));
    planned_vs_actual(show, live)
        .into_iter()
        .map(|run| {
            let segment = &show.segments[run.segment];
            vec![
                TableCell::Text(segment.id.clone()),
                TableCell::Text(segment.title.en.clone()),
                time(Some(run.planned_start)),
                minutes(Some(run.planned_ms)),
                time(run.started_at),
                time(run.ended_at),
                minutes(run.actual_ms()),
                minutes(run.start_delay_ms()),
                minutes(run.overrun_ms()),
            ]
        })
        .collect()
}

/// The second table of the record, of as many columns as the first, so that the CSV that
/// holds both stays one valid table.
const SPEAKING_COLUMNS: [&str; 9] =
    ["speaking", "segment", "side", "name", "person", "spoken_minutes", "turns", "budget_minutes", "remaining_minutes"];

/// Who has spoken how long, under [`SPEAKING_COLUMNS`], a running turn up to the moment
/// asked: each side of the event in all (`side`), then each side in each segment where it
/// spoke or has a budget (`side in segment`), then each person (`person`, named
/// `speaker:<id>` or `who:<tag>` as the protocol names them). Minutes to a tenth; the
/// remaining budget goes below zero once a side is over it.
fn speaking_rows(record: &Record) -> Vec<Vec<TableCell>> {
    let (show, speaking) = (&record.show, &record.speaking);
    let minutes = |ms: Millis| TableCell::Number((ms as f64 / 6_000.0).round() / 10.0);
    let optional = |ms: Option<Millis>| ms.map_or(TableCell::Empty, minutes);
    let text = |t: &str| if t.is_empty() { TableCell::Empty } else { TableCell::Text(t.to_owned()) };
    let side_name = |side: &SideSummary| side.name.as_ref().map_or("", |n| n.en.as_str()).to_owned();
    let mut rows = Vec::new();
    for side in speaking.sides_at(show, None, record.now) {
        rows.push(vec![
            text("side"),
            TableCell::Empty,
            text(side.id.as_deref().unwrap_or_default()),
            text(&side_name(&side)),
            TableCell::Empty,
            minutes(side.spoken_ms),
            TableCell::Count(side.turns),
            optional(side.budget_ms),
            optional(side.remaining_ms),
        ]);
    }
    let segments = show.segments.iter().map(|s| s.id.as_str()).chain([EVENT_QUEUE]);
    for segment in segments {
        for side in speaking.sides_at(show, Some(segment), record.now) {
            let spoke = speaking.sides.iter().any(|s| s.segment == segment && s.side == side.id);
            if !spoke && side.segment_budget_ms.is_none() {
                continue;
            }
            rows.push(vec![
                text("side in segment"),
                text(segment),
                text(side.id.as_deref().unwrap_or_default()),
                text(&side_name(&side)),
                TableCell::Empty,
                minutes(side.segment_spoken_ms),
                TableCell::Empty,
                optional(side.segment_budget_ms),
                optional(side.segment_remaining_ms),
            ]);
        }
    }
    for person in speaking.people_at(record.now) {
        let key = match &person.person {
            Person::Speaker(id) => format!("speaker:{id}"),
            Person::Participant(participant) => format!("who:{}", record.tagger.who(participant)),
        };
        rows.push(vec![
            text("person"),
            TableCell::Empty,
            text(person.side.as_deref().unwrap_or_default()),
            text(&person.name.en),
            TableCell::Text(key),
            minutes(person.tally.spoken_ms),
            TableCell::Count(person.tally.turns),
            TableCell::Empty,
            TableCell::Empty,
        ]);
    }
    rows
}

/// A record cell in CSV: moments in RFC 3339 with their offset, minutes with one decimal,
/// text that could run as a formula quoted (a minus before minutes is a number's).
fn record_csv_cell(cell: &TableCell) -> String {
    match cell {
        TableCell::Text(text) => crate::sheet::csv_safe(text).into_owned(),
        TableCell::Number(n) => format!("{n:.1}"),
        TableCell::Count(n) => n.to_string(),
        TableCell::Time(at) => at.to_rfc3339(),
        TableCell::Empty => String::new(),
    }
}

/// The record as one CSV: the planned-vs-actual table, an empty row, then the speaking
/// table under its own header.
fn record_csv(record: &Record) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(RECORD_COLUMNS)?;
    for row in record_rows(&record.show, &record.live) {
        out.write_record(row.iter().map(record_csv_cell))?;
    }
    out.write_record([""; SPEAKING_COLUMNS.len()])?;
    out.write_record(SPEAKING_COLUMNS)?;
    for row in speaking_rows(record) {
        out.write_record(row.iter().map(record_csv_cell))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
