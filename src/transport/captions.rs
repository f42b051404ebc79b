//! Captions over HTTP: ingest in the convention captioning services already speak for
//! Zoom (`POST …/captions?lang=ja&seq=N` with one line of plain text; `GET …/captions/seq`
//! for the last seq), and the transcripts as plain text, WebVTT and SRT.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::shared::{authorized, download};
use crate::app::control::{refusal, Answer};
use crate::app::{AppState, EventEntry};
use crate::domain::captions::{self, CaptionError, Line, Taken, Track};
use crate::domain::Role;
use crate::hub::HubGone;
use crate::protocol::ErrorCode;
use crate::store::nats::{Cluster, Refused};

/// A caption line's body at most: 500 characters of CJK are 1,500 bytes. A longer one is
/// answered `413 too_large` in the API's JSON, not axum's plain text.
const MAX_BODY_BYTES: usize = 4096;

pub fn routes(app: AppState) -> Router {
    Router::new()
        .route("/api/v1/events/{event}/captions", post(ingest).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .route("/api/v1/events/{event}/captions/seq", get(last_seq))
        .route("/api/events/{event}/transcript.txt", get(|s, p, q, h| transcript(s, p, q, h, Format::Text)))
        .route("/api/events/{event}/transcript.vtt", get(|s, p, q, h| transcript(s, p, q, h, Format::WebVtt)))
        .route("/api/events/{event}/transcript.srt", get(|s, p, q, h| transcript(s, p, q, h, Format::Srt)))
        .with_state(app)
}

type Args = Query<HashMap<String, String>>;

/// The event and the track named by `lang`, for a token of one of `roles`.
fn track_for(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    roles: &[Role],
) -> Result<(std::sync::Arc<EventEntry>, Track), Answer> {
    let (entry, role) = authorized(app, event, headers, query)?;
    if !roles.contains(&role) {
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        return Err(refusal(ErrorCode::Forbidden, format!("this needs a {} token", allowed.join(" or "))));
    }
    let lang = query.get("lang").map(String::as_str).unwrap_or_default();
    let track = Track::parse(lang)
        .ok_or_else(|| refusal(ErrorCode::InvalidField, format!("lang must be zh, ja, en or floor, not {lang:?}")))?;
    Ok((entry, track))
}

const WRITERS: [Role; 2] = [Role::Captioner, Role::Organizer];

/// `POST /api/v1/events/{event}/captions?lang=&seq=[&final=false]`, one line of text.
async fn ingest(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Args,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let (entry, track) = match track_for(&app, &event, &headers, &query, &WRITERS) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refusal(ErrorCode::TooLarge, format!("a caption line's body is at most {MAX_BODY_BYTES} bytes"));
        }
        Err(rejection) => return refusal(ErrorCode::InvalidField, format!("the body could not be read: {rejection}")),
    };
    let Some(seq) = query.get("seq").and_then(|s| s.parse::<u64>().ok()).filter(|&s| s > 0) else {
        return refusal(ErrorCode::InvalidField, "seq must be a whole number from 1");
    };
    let is_final = match query.get("final").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => return refusal(ErrorCode::InvalidField, format!("final must be true or false, not {other:?}")),
    };
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return refusal(ErrorCode::InvalidUtf8, "the body must be UTF-8 text");
    };
    let posted = Posted { track, seq, text, is_final };
    match app.cluster.clone() {
        Some(cluster) if cluster.in_cloud() => {
            refusal(ErrorCode::Forbidden, "a cloud node shows the venue's captions: post them to the venue")
        }
        Some(cluster) => ingest_clustered(&cluster, &entry, &event, posted).await,
        None => ingest_embedded(&app, &entry, &event, posted).await,
    }
}

/// A line as its captioner posted it.
struct Posted {
    track: Track,
    seq: u64,
    text: String,
    is_final: bool,
}

fn gone() -> Answer {
    refusal(ErrorCode::Internal, "the event's hub has stopped")
}

/// What the hub made of a line: the line to store and send, or the answer.
fn placed(taken: Result<Result<Taken, CaptionError>, HubGone>, posted: &Posted) -> Result<Line, Answer> {
    let Posted { track, seq, ref text, .. } = *posted;
    match taken {
        Err(_) => Err(gone()),
        Ok(Err(CaptionError::OutOfOrder { got, expected })) => {
            let message = format!("seq {got} is out of order: the next line of {} is seq {expected}", track.as_str());
            Err(Answer {
                status: StatusCode::CONFLICT,
                body: json!({ "code": ErrorCode::OutOfOrder, "message": message, "expected": expected }),
            })
        }
        Ok(Err(CaptionError::Text(error))) => Err(refusal(ErrorCode::InvalidField, format!("the line {error}"))),
        // The hub knows a retry by its seq alone; a retry must still be a line, not an empty body.
        Ok(Ok(Taken::Repeated)) if text.is_empty() => {
            Err(refusal(ErrorCode::InvalidField, "the body must be the line's text"))
        }
        Ok(Ok(Taken::Repeated)) => {
            Err(Answer { status: StatusCode::OK, body: json!({ "track": track, "seq": seq, "ignored": true }) })
        }
        Ok(Ok(Taken::Line(line))) => Ok(line),
    }
}

fn taken(line: &Line) -> Answer {
    Answer { status: StatusCode::OK, body: json!({ "track": line.track, "seq": line.seq, "final": line.is_final }) }
}

/// On the embedded store: the hub judges the line, the captions file keeps it.
async fn ingest_embedded(app: &AppState, entry: &EventEntry, event: &str, posted: Posted) -> Answer {
    let Posted { track, seq, ref text, is_final } = posted;
    let line = match placed(entry.hub.caption(track, seq, text.clone(), is_final, None).await, &posted) {
        Ok(line) => line,
        Err(answer) => return answer,
    };
    if line.is_final {
        let (store, stored_line, id) = (std::sync::Arc::clone(&app.captions), line.clone(), event.to_owned());
        let stored = tokio::task::spawn_blocking(move || store.append(&id, &stored_line)).await;
        let stored = match stored {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::error!(event, error = %format!("{error:#}"), "a caption line could not be stored");
                false
            }
            Err(_) => false,
        };
        if entry.hub.caption_stored(line.clone(), stored).await.is_err() {
            return gone();
        }
        if !stored {
            return refusal(ErrorCode::Internal, "the line could not be stored; send it again");
        }
    }
    taken(&line)
}

/// How many times a line is judged again after another node stored a line of its track
/// first; the second look normally settles it (a retry, or out of order).
const CLUSTER_ATTEMPTS: u32 = 10;

/// In a cluster: the line is judged against the track's end in the captions stream and
/// published expecting that end, so that of two nodes taking one seq only one stores it;
/// the other looks again and answers as for any retry or gap.
async fn ingest_clustered(cluster: &Cluster, entry: &EventEntry, event: &str, posted: Posted) -> Answer {
    let Posted { track, seq, ref text, is_final } = posted;
    for attempt in 1..=CLUSTER_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
        }
        let end = match cluster.track_end(event, track).await {
            Ok(end) => end,
            Err(e) => {
                tracing::warn!(event, error = %e, "cannot read where a caption track ends");
                return unavailable(NOT_STORED);
            }
        };
        let taken_by_hub = entry.hub.caption(track, seq, text.clone(), is_final, Some(end.seq)).await;
        let line = match placed(taken_by_hub, &posted) {
            Ok(line) => line,
            Err(answer) => return answer,
        };
        if !line.is_final {
            return taken(&line);
        }
        match cluster.append_line(event, &line, end).await {
            Ok(_) => {
                return match entry.hub.caption_stored(line.clone(), true).await {
                    Ok(()) => taken(&line),
                    Err(_) => gone(),
                };
            }
            Err(Refused::Behind) => continue,
            Err(Refused::Unavailable) => return unavailable(NOT_STORED),
            Err(Refused::Unconfirmed) => return unavailable(UNCONFIRMED_LINE),
        }
    }
    refusal(ErrorCode::Conflict, "the track kept changing on other nodes; send the line again")
}

const NOT_STORED: &str = "the cluster cannot store captions right now; the line was not stored: send it again";
const UNCONFIRMED_LINE: &str =
    "the cluster did not confirm the line in time; it may still be stored: send it again with the same seq";

/// `503 unavailable`: the cluster's store cannot be reached.
fn unavailable(message: &str) -> Answer {
    Answer {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body: json!({ "code": ErrorCode::Unavailable, "message": message }),
    }
}

/// `GET /api/v1/events/{event}/captions/seq?lang=`: the last final seq of the track.
async fn last_seq(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Args,
    headers: HeaderMap,
) -> Answer {
    let (entry, track) = match track_for(&app, &event, &headers, &query, &WRITERS) {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if let Some(cluster) = &app.cluster {
        return match cluster.track_end(&event, track).await {
            Ok(end) => Answer { status: StatusCode::OK, body: json!({ "track": track, "seq": end.seq }) },
            Err(_) => unavailable("the cluster cannot be read right now; ask again"),
        };
    }
    match entry.hub.caption_seqs().await {
        Ok(seqs) => Answer {
            status: StatusCode::OK,
            body: json!({ "track": track, "seq": seqs.get(&track).copied().unwrap_or(0) }),
        },
        Err(_) => refusal(ErrorCode::Internal, "the event's hub has stopped"),
    }
}

#[derive(Clone, Copy)]
enum Format {
    Text,
    WebVtt,
    Srt,
}

/// `GET /api/events/{event}/transcript.{txt,vtt,srt}?lang=`, for the organizer.
async fn transcript(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Args,
    headers: HeaderMap,
    format: Format,
) -> Response {
    let (entry, track) = match track_for(&app, &event, &headers, &query, &[Role::Organizer]) {
        Ok(found) => found,
        Err(answer) => return answer.into_response(),
    };
    let Ok(overview) = entry.hub.overview().await else {
        return refusal(ErrorCode::Internal, "the event's hub has stopped").into_response();
    };
    let lines = match &app.cluster {
        Some(cluster) => match cluster.track_lines(&event, track).await {
            Ok(lines) => lines,
            Err(_) => return unavailable("the cluster cannot be read right now; ask again").into_response(),
        },
        None => {
            let (store, id) = (std::sync::Arc::clone(&app.captions), event.clone());
            match tokio::task::spawn_blocking(move || store.lines(&id, track)).await {
                Ok(Ok(lines)) => lines,
                _ => return refusal(ErrorCode::Internal, "the captions could not be read").into_response(),
            }
        }
    };
    let (kind, ext, body) = match format {
        Format::Text => ("text/plain; charset=utf-8", "txt", captions::transcript_text(&lines, &overview.state)),
        Format::WebVtt => ("text/vtt; charset=utf-8", "vtt", captions::webvtt(&lines, &overview.state)),
        Format::Srt => ("application/x-subrip; charset=utf-8", "srt", captions::srt(&lines, &overview.state)),
    };
    download(kind, format!("{event}-{}.{ext}", track.as_str()), body)
}
