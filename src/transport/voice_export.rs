//! The organizer's exports of the audience's voice, of running and archived events: every
//! written question with its asker, votes and fate, and every poll's results (with the
//! voters' names for a named poll), as CSV and XLSX. Texts that could run as formulas are
//! quoted in CSV and written as text in the workbook.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::TimeZone;

use super::shared::{download, request_token, TokenQuery};
use crate::app::AppState;
use crate::domain::{EventState, Millis, Role};
use crate::sheet::{csv_safe, tables_xlsx, TableCell, XLSX};

/// Why an export was refused: the status and what to say.
type Refused = (axum::http::StatusCode, &'static str);

const QUESTION_COLUMNS: [&str; 16] = [
    "id",
    "segment",
    "asked_at",
    "state",
    "lang",
    "text",
    "asker",
    "affiliation",
    "mode",
    "anonymous",
    "votes",
    "starred",
    "edited",
    "closed_at",
    "reason",
    "promoted_to_queue",
];

const POLL_COLUMNS: [&str; 13] = [
    "poll",
    "segment",
    "question",
    "state",
    "multiple",
    "anonymous",
    "opened_at",
    "closed_at",
    "voters",
    "option",
    "option_text",
    "ballots",
    "named_voters",
];

/// The event's state, running or archived, for its organizer.
async fn state_of(app: &AppState, event: &str, headers: &HeaderMap, query: &TokenQuery) -> Result<EventState, Refused> {
    use axum::http::StatusCode;
    let token = request_token(headers, query.token.as_deref());
    let state = match (app.event(event), app.archived_event(event)) {
        (Some(entry), _) if entry.role_of(token) == Some(Role::Organizer) => {
            entry
                .hub
                .overview()
                .await
                .map_err(|_| (StatusCode::SERVICE_UNAVAILABLE, "the event's hub has stopped"))?
                .state
        }
        (None, Some(archived)) if archived.tokens.role_of(token) == Some(Role::Organizer) => archived.state.clone(),
        (None, None) => return Err((StatusCode::NOT_FOUND, "no such event")),
        _ => return Err((StatusCode::UNAUTHORIZED, "an organizer token is needed")),
    };
    Ok(state)
}

fn moment(zone: chrono_tz::Tz, at: Option<Millis>) -> TableCell {
    at.and_then(|ms| zone.timestamp_millis_opt(ms).single()).map_or(TableCell::Empty, TableCell::Time)
}

fn zone(state: &EventState) -> chrono_tz::Tz {
    state.show.event.time_zone.parse().unwrap_or(chrono_tz::UTC)
}

fn text(value: impl Into<String>) -> TableCell {
    TableCell::Text(value.into())
}

fn word<T: serde::Serialize>(value: &T) -> TableCell {
    text(serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
}

/// Every question, in the order they were asked.
fn question_rows(state: &EventState) -> Vec<Vec<TableCell>> {
    let zone = zone(state);
    let yes = |b: bool| text(if b { "yes" } else { "no" });
    state
        .questions
        .items
        .values()
        .map(|q| {
            vec![
                TableCell::Count(u32::try_from(q.id).unwrap_or(u32::MAX)),
                text(q.segment.clone().unwrap_or_default()),
                moment(zone, Some(q.asked_at)),
                word(&q.state),
                word(&q.lang),
                text(q.text.clone()),
                text(q.name.clone()),
                text(q.affiliation.clone().unwrap_or_default()),
                word(&q.mode),
                yes(q.anonymous),
                TableCell::Count(q.votes),
                yes(q.starred),
                yes(q.edited),
                moment(zone, q.closed_at),
                text(q.reason.clone().unwrap_or_default()),
                text(q.promoted.as_ref().map(|p| p.queue.clone()).unwrap_or_default()),
            ]
        })
        .collect()
}

/// A row per option of every poll, with its ballots and, for a named poll, who chose it.
fn poll_rows(state: &EventState) -> Vec<Vec<TableCell>> {
    let zone = zone(state);
    let mut rows = Vec::new();
    for poll in &state.polls.polls {
        let ballots = state.polls.ballots.get(&poll.def.id);
        for (k, option) in poll.def.options.iter().enumerate() {
            let names: Vec<&str> = ballots
                .into_iter()
                .flat_map(|b| b.values())
                .filter(|b| b.choices.contains(&k))
                .filter_map(|b| b.name.as_deref())
                .collect();
            rows.push(vec![
                text(poll.def.id.clone()),
                text(poll.def.segment.clone().unwrap_or_default()),
                text(poll.def.question.en.clone()),
                word(&poll.state),
                text(if poll.def.multiple { "yes" } else { "no" }),
                text(if poll.def.anonymous { "yes" } else { "no" }),
                moment(zone, poll.opened_at),
                moment(zone, poll.closed_at),
                TableCell::Count(poll.voters),
                TableCell::Count(u32::try_from(k).unwrap_or(u32::MAX)),
                text(option.en.clone()),
                TableCell::Count(poll.counts.get(k).copied().unwrap_or_default()),
                text(names.join("; ")),
            ]);
        }
    }
    rows
}

/// A cell in CSV: counts as integers, moments in RFC 3339 with their offset, text that could
/// run as a formula quoted.
fn csv_cell(cell: &TableCell) -> String {
    match cell {
        TableCell::Text(text) => csv_safe(text).into_owned(),
        TableCell::Number(n) => format!("{n}"),
        TableCell::Count(n) => n.to_string(),
        TableCell::Time(at) => at.to_rfc3339(),
        TableCell::Empty => String::new(),
    }
}

fn csv(columns: &[&str], rows: &[Vec<TableCell>]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(columns)?;
    for row in rows {
        out.write_record(row.iter().map(csv_cell))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One export: the table of `rows` for the event, as CSV or as a workbook.
async fn export(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &TokenQuery,
    Table { name, columns, rows }: Table,
    xlsx: bool,
) -> Result<Response, Refused> {
    use axum::http::StatusCode;
    let state = state_of(app, event, headers, query).await?;
    let rows = rows(&state);
    let failed = (StatusCode::INTERNAL_SERVER_ERROR, "the export could not be written");
    Ok(match xlsx {
        true => {
            let table = crate::sheet::Table { name, columns, rows };
            download(XLSX, format!("{event}-{name}.xlsx"), tables_xlsx(&[table]).map_err(|_| failed)?)
        }
        false => {
            download("text/csv; charset=utf-8", format!("{event}-{name}.csv"), csv(columns, &rows).map_err(|_| failed)?)
        }
    })
}

/// An export: its name, its columns and how its rows come from the state.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    rows: fn(&EventState) -> Vec<Vec<TableCell>>,
}

const QUESTIONS: Table = Table { name: "questions", columns: &QUESTION_COLUMNS, rows: question_rows };
const POLLS: Table = Table { name: "polls", columns: &POLL_COLUMNS, rows: poll_rows };

/// `GET /api/events/{event}/questions.csv`.
pub async fn questions_csv(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    export(&app, &event, &headers, &query, QUESTIONS, false).await
}

/// `GET /api/events/{event}/questions.xlsx`.
pub async fn questions_xlsx(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    export(&app, &event, &headers, &query, QUESTIONS, true).await
}

/// `GET /api/events/{event}/polls.csv`.
pub async fn polls_csv(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    export(&app, &event, &headers, &query, POLLS, false).await
}

/// `GET /api/events/{event}/polls.xlsx`.
pub async fn polls_xlsx(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    export(&app, &event, &headers, &query, POLLS, true).await
}
