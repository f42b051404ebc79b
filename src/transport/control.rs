//! The control API for the booth's hardware and scripts (`/api/v1`): the show's state, flat
//! and ready to show on a key, and the show commands, each answered with the new state.
//! Hardware does not know versions: the API fills them in, an optional `expect` guards a
//! button pressed against a segment the show has left, an `Idempotency-Key` makes a retry
//! harmless, and an identical press within `api_double_press_ms` is answered, not applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dashmap::DashMap;
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::now_millis;
use crate::domain::cues::{CueState, SignalKind};
use crate::domain::live::{clock_text, remaining_text, timing, Phase};
use crate::domain::show::Segment;
use crate::domain::text::{Lang, Localized, Mode};
use crate::domain::{Actor, Command, EventState, Millis, Role, Seconds};
use crate::hub::retries::{Outcome, RETRY_WINDOW_MS};
use crate::hub::{Overview, Start};
use crate::limits::{FrameBudget, Verdict};
use crate::metrics::Format;
use crate::protocol::{ErrorCode, Routing};
use crate::server::{AppState, EventEntry};

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

#[derive(Clone)]
pub struct Control {
    app: AppState,
    /// The last answer to each (event, role, command with its arguments), for double presses;
    /// held while that command is applied, so that a second press waits for it.
    presses: Arc<Mutex<HashMap<String, Press>>>,
    /// Commands each (event, role) may still send, as websocket frames are budgeted.
    budgets: Arc<DashMap<(String, Role), FrameBudget>>,
    /// What each (event, role, `Idempotency-Key`) was first sent with, and when, for the
    /// hub's retry window: the same key with another command or other arguments is refused,
    /// not answered as the first. As many as the budget lets through in that window.
    keys: Arc<Mutex<HashMap<String, (Millis, String)>>>,
}

type Press = Arc<tokio::sync::Mutex<Option<(Millis, Answer)>>>;

/// An HTTP answer kept for a double press: status and body.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub(crate) fn refusal(code: ErrorCode, message: impl Into<String>) -> Answer {
    Answer { status: status_of(code), body: json!({ "code": code, "message": message.into() }) }
}

/// The websocket error codes as HTTP statuses (documented in docs/integrations.md).
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::UnknownEvent => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::InvalidState => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The event and the role its token grants: `Authorization: Bearer`, or `?token=` for
/// tools that can only set a URL.
pub(crate) fn authorized(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(Arc<EventEntry>, Role), Answer> {
    authorized_token(app, event, presented(headers, query))
}

fn presented<'a>(headers: &'a HeaderMap, query: &'a HashMap<String, String>) -> &'a str {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.or(query.get("token").map(String::as_str)).unwrap_or_default()
}

fn authorized_token(app: &AppState, event: &str, token: &str) -> Result<(Arc<EventEntry>, Role), Answer> {
    let entry = app.event(event).ok_or_else(|| refusal(ErrorCode::UnknownEvent, format!("no event {event:?}")))?;
    let role = entry
        .role_of(token)
        .ok_or_else(|| refusal(ErrorCode::Unauthorized, "a role token is needed (Authorization: Bearer or ?token=)"))?;
    Ok((entry, role))
}

async fn overview(entry: &EventEntry) -> Result<Overview, Answer> {
    entry.hub.overview().await.map_err(|_| refusal(ErrorCode::Internal, "the event's hub has stopped"))
}

/// `GET /api/v1/events/{event}/state`, with the seq as `ETag`.
async fn state(
    State(control): State<Control>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (entry, role) = match authorized(&control.app, &event, &headers, &query) {
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
    let (entry, role) = match authorized(&control.app, &event, &headers, &query) {
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
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer.or(query.get("token").map(String::as_str)).unwrap_or_default();
    let organizer = control.app.rooms_token.grants(token)
        || control.app.events.iter().any(|entry| entry.value().role_of(token) == Some(Role::Organizer));
    if !organizer {
        return refusal(ErrorCode::Unauthorized, "an organizer token is needed").into_response();
    }
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let vary = (header::VARY, "Accept");
    ([(header::CONTENT_TYPE, format.content_type()), vary], control.app.metrics.encode(format)).into_response()
}

/// The API's OpenAPI document, as docs/openapi.json has it.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../docs/openapi.json")).into_response()
}

/// Between two heartbeats a proxy or a tool may assume the stream has died.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /api/v1/events/{event}/stream`: Server-Sent Events. A `state` event first (or, with
/// `Last-Event-ID` the hub can still serve, the `change` events missed), then each change as a
/// `change` event whose id is its seq, each burst followed by a fresh `state` (without an id,
/// so that `Last-Event-ID` is always the last change received).
async fn stream(
    State(control): State<Control>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (entry, role) = match authorized(&control.app, &event, &headers, &query) {
        Ok(found) => found,
        Err(answer) => return answer.into_response(),
    };
    let after = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let Ok((start, frames)) = entry.hub.listen(role, after).await else {
        return refusal(ErrorCode::Internal, "the event's hub has stopped").into_response();
    };
    let first = match start {
        Start::Snapshot(overview) => Some(state_event(&overview, role)),
        Start::Replayed => None,
    };
    let events = Stream { entry, role, frames, first, burst: false, shutdown: control.app.shutdown.clone() };
    let events = futures_util::stream::unfold(events, |mut s| async move {
        s.next().await.map(|e| (Ok::<_, std::convert::Infallible>(e), s))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")).into_response()
}

/// What one SSE stream has still to send.
struct Stream {
    entry: Arc<EventEntry>,
    /// Whose view each `state` event is.
    role: Role,
    frames: tokio::sync::mpsc::Receiver<crate::wire::Frame>,
    first: Option<Event>,
    /// Changes were sent since the last `state`.
    burst: bool,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Stream {
    /// The next event; `None` ends the stream (the server is stopping, or this listener fell
    /// too far behind and should reconnect with `Last-Event-ID`).
    async fn next(&mut self) -> Option<Event> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.burst && self.frames.is_empty() {
            self.burst = false;
            let overview = self.entry.hub.overview().await.ok()?;
            return Some(state_event(&overview, self.role));
        }
        let frame = tokio::select! {
            frame = self.frames.recv() => frame?,
            () = self.shutdown.cancelled() => return None,
        };
        self.burst = true;
        let text = frame.as_str();
        let seq = serde_json::from_str::<SeqOnly>(text).map(|s| s.seq).unwrap_or_default();
        Some(Event::default().event("change").id(seq.to_string()).data(text))
    }
}

#[derive(serde::Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn state_event(overview: &Overview, role: Role) -> Event {
    Event::default().event("state").data(flat_state(overview, role, now_millis()).to_string())
}

async fn command(
    State(control): State<Control>,
    Path((event, command)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    control.http(&event, &command, query, &headers, body).await.into_response()
}

async fn grouped_command(
    State(control): State<Control>,
    Path((event, group, command)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    control.http(&event, &format!("{group}/{command}"), query, &headers, body).await.into_response()
}

/// Who a command from the API is by: one participant per event and role, so that an
/// `Idempotency-Key` means the same to every device holding that token.
fn api_actor(role: Role) -> Actor {
    Actor {
        participant: format!("api:{}", role.as_str()),
        name: "Control API".into(),
        role,
        mode: Mode::InRoom,
        lang: Lang::En,
        affiliation: None,
        crew: Vec::new(),
    }
}

impl Control {
    pub fn new(app: AppState) -> Self {
        Control { app, presses: Arc::default(), budgets: Arc::default(), keys: Arc::default() }
    }

    async fn http(
        &self,
        event: &str,
        name: &str,
        mut args: HashMap<String, String>,
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Answer {
        let token = presented(headers, &args).to_owned();
        args.remove("token");
        let body = match body {
            Ok(body) => body,
            Err(rejection) => {
                // Who asks comes first: without a token of the event the answer is 401, whatever the body.
                if let Err(answer) = authorized_token(&self.app, event, &token) {
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
        self.run(event, name, args, &token, key).await
    }

    /// Applies the API command `name` with `args` as the role `token` grants, guarded as
    /// documented (budget, idempotency key, double press); answers as HTTP would.
    pub async fn run(
        &self,
        event: &str,
        name: &str,
        args: HashMap<String, String>,
        token: &str,
        key: Option<String>,
    ) -> Answer {
        let (entry, role) = match authorized_token(&self.app, event, token) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        if matches!(role, Role::Attendee | Role::Display | Role::Captioner) {
            return refusal(ErrorCode::Forbidden, format!("the {} token cannot send show commands", role.as_str()));
        }
        let now = now_millis();
        if let Some(answer) = self.over_budget(event, role, now) {
            return answer;
        }
        if let Some(key) = key {
            if let Some(answer) = self.key_reused(event, role, &key, press_key(event, role, name, &args), now) {
                return answer;
            }
            // A retried key is answered by the hub's own record of it.
            return self.apply(&entry, role, name, &args, Some(key)).await;
        }
        let window = self.app.limits.api_double_press_ms;
        let slot = {
            let mut presses = self.presses.lock().unwrap_or_else(|e| e.into_inner());
            presses.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().is_ok_and(|last| last.as_ref().is_some_and(|(at, _)| now - at < window))
            });
            Arc::clone(presses.entry(press_key(event, role, name, &args)).or_default())
        };
        // The second press waits for the first one's answer, then is given it.
        let mut last = slot.lock().await;
        if let Some((at, answer)) = last.as_ref().filter(|(at, _)| now - at < window) {
            tracing::debug!(event, command = name, since_ms = now - at, "a double press is answered, not applied");
            return answer.clone();
        }
        let answer = self.apply(&entry, role, name, &args, None).await;
        *last = Some((now, answer.clone()));
        answer
    }

    /// A refusal when `key` was sent within the retry window with another request than `request`.
    fn key_reused(&self, event: &str, role: Role, key: &str, request: String, now: Millis) -> Option<Answer> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|_, (at, _)| now - *at < RETRY_WINDOW_MS);
        let (_, first) =
            keys.entry(format!("{event}\u{0}{}\u{0}{key}", role.as_str())).or_insert((now, request.clone()));
        (*first != request).then(|| {
            refusal(ErrorCode::Conflict, "this Idempotency-Key was sent with another command or other arguments")
        })
    }

    fn over_budget(&self, event: &str, role: Role, now: Millis) -> Option<Answer> {
        let mut budget =
            self.budgets.entry((event.to_owned(), role)).or_insert_with(|| FrameBudget::new(&self.app.limits, now));
        match budget.check(now) {
            Verdict::Accept => None,
            Verdict::Reject { .. } | Verdict::Close => {
                Some(refusal(ErrorCode::RateLimited, "too many commands; slow down"))
            }
        }
    }

    async fn apply(
        &self,
        entry: &EventEntry,
        role: Role,
        name: &str,
        args: &HashMap<String, String>,
        key: Option<String>,
    ) -> Answer {
        let before = match overview(entry).await {
            Ok(overview) => overview,
            Err(answer) => return answer,
        };
        if let Some(expected) = args.get("expect") {
            let current = before.state.live.segment.map(|k| before.state.show.segments[k].id.as_str());
            if current != Some(expected.as_str()) {
                let at = current.map_or("no segment".to_owned(), |id| format!("{id:?}"));
                return refusal(ErrorCode::Conflict, format!("the show is on {at}, not {expected:?}"));
            }
        }
        let command = match build(name, args, &before.state) {
            Ok(command) => command,
            Err(answer) => return answer,
        };
        let id = key.map_or_else(|| format!("api-{}", uuid::Uuid::new_v4()), |key| format!("key:{key}"));
        match entry.hub.request(api_actor(role), id, command).await {
            Ok(Outcome::Ack { .. }) => match overview(entry).await {
                Ok(after) => Answer { status: StatusCode::OK, body: flat_state(&after, role, now_millis()) },
                Err(answer) => answer,
            },
            Ok(Outcome::Rejected(error)) => refusal(error.code, error.message),
            Err(_) => refusal(ErrorCode::Internal, "the event's hub has stopped"),
        }
    }
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

/// What makes two presses the same: the event, the role, the command and its arguments.
fn press_key(event: &str, role: Role, name: &str, args: &HashMap<String, String>) -> String {
    let mut args: Vec<_> = args.iter().collect();
    args.sort();
    format!("{event}\u{0}{}\u{0}{name}\u{0}{args:?}", role.as_str())
}

fn arg<'a>(args: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Answer> {
    args.get(name).map(String::as_str).ok_or_else(|| refusal(ErrorCode::InvalidField, format!("{name} is needed")))
}

fn number<T: std::str::FromStr>(args: &HashMap<String, String>, name: &str) -> Result<T, Answer> {
    let text = arg(args, name)?;
    text.parse().map_err(|_| refusal(ErrorCode::InvalidField, format!("{name} must be a number, not {text:?}")))
}

/// The websocket command an API path stands for, against the current versions.
fn build(name: &str, args: &HashMap<String, String>, state: &EventState) -> Result<Command, Answer> {
    let version = state.live.version;
    let current = state.live.segment.map(|k| state.show.segments[k].id.clone());
    let signal = |text: &str| {
        serde_json::from_value::<SignalKind>(Value::String(text.to_owned()))
            .map_err(|_| refusal(ErrorCode::InvalidField, format!("unknown signal {text:?}")))
    };
    Ok(match name {
        "next" => Command::Next { version },
        "previous" => Command::Previous { version },
        "goto" => {
            let segment = match (args.get("segment"), args.get("index")) {
                (Some(id), _) => id.clone(),
                (None, Some(_)) => {
                    let index: usize = number(args, "index")?;
                    state.show.segments.get(index).map(|s| s.id.clone()).ok_or_else(|| {
                        refusal(ErrorCode::InvalidField, format!("index {index} is past the last segment"))
                    })?
                }
                (None, None) => return Err(refusal(ErrorCode::InvalidField, "segment (an id) or index is needed")),
            };
            Command::Goto { version, segment }
        }
        "next_speaker" => Command::NextSpeaker { version },
        "hold" => Command::Hold { version },
        "resume" => Command::Resume { version },
        "toggle_hold" if state.live.held_since.is_some() => Command::Resume { version },
        "toggle_hold" => Command::Hold { version },
        "extend" => {
            let text = arg(args, "seconds")?;
            let seconds =
                text.parse().ok().and_then(Seconds::parse).ok_or_else(|| {
                    refusal(ErrorCode::InvalidField, format!("seconds must be a number, not {text:?}"))
                })?;
            Command::Extend { version, seconds }
        }
        "end" => Command::End { version },
        "undo" => Command::Undo { version },
        "queue/next" => {
            let queue = match args.get("queue") {
                Some(queue) => queue.clone(),
                None => {
                    current.ok_or_else(|| refusal(ErrorCode::InvalidState, "no segment is live; name the queue"))?
                }
            };
            let version = state.queues.get(&queue).map_or(0, |q| q.version);
            Command::QueueNext { queue, version }
        }
        "cue/standby" => Command::CueStandby {
            target: None,
            text: None,
            preset: Some(arg(args, "preset")?.to_owned()),
            segment: current,
            speaker: None,
        },
        "cue/go" => Command::CueGo {
            cue: match args.contains_key("cue") {
                true => number(args, "cue")?,
                false => state.cue_to_go().ok_or_else(|| {
                    refusal(ErrorCode::InvalidState, "no cue of the current segment stands by (answered by the crew)")
                })?,
            },
        },
        "cue/cancel" => Command::CueCancel { cue: cue_or_oldest(args, state)? },
        "stage/signal" => {
            Command::StageSignal { signal: signal(arg(args, "signal")?)?, text: None, pinned: None, speaker: None }
        }
        "stage/message" => Command::StageSignal {
            signal: SignalKind::Message,
            text: Some(arg(args, "text")?.to_owned()),
            pinned: match args.get("pinned").map(String::as_str) {
                None => None,
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(other) => {
                    return Err(refusal(
                        ErrorCode::InvalidField,
                        format!("pinned must be true or false, not {other:?}"),
                    ))
                }
            },
            speaker: None,
        },
        "stage/clear" => Command::StageClear {},
        other => return Err(refusal(ErrorCode::UnknownType, format!("no command {other:?}"))),
    })
}

/// The cue named by `cue`, or else the oldest one waiting for its go.
fn cue_or_oldest(args: &HashMap<String, String>, state: &EventState) -> Result<u64, Answer> {
    if args.contains_key("cue") {
        return number(args, "cue");
    }
    state
        .cues
        .cues
        .iter()
        .filter(|c| matches!(c.state, CueState::Standby | CueState::StandingBy))
        .map(|c| c.id)
        .min()
        .ok_or_else(|| refusal(ErrorCode::InvalidState, "no cue is on standby"))
}

#[derive(Serialize)]
struct SegmentBrief<'a> {
    id: &'a str,
    index: usize,
    kind: crate::domain::show::SegmentKind,
    title: &'a Localized,
    planned_start: Millis,
    duration_ms: Millis,
}

impl<'a> SegmentBrief<'a> {
    fn of(segment: &'a Segment, index: usize) -> Self {
        SegmentBrief {
            id: &segment.id,
            index,
            kind: segment.kind,
            title: &segment.title,
            planned_start: segment.planned_start,
            duration_ms: segment.duration_ms,
        }
    }
}

/// The state as a key or a script with a token of `role` shows it, at `now`. Cues are seen
/// as the websocket's view of the role sees them (`protocol::View`): the chair and AV see
/// them all, the other roles, who get cue changes as `hidden`, see none.
fn flat_state(overview: &Overview, role: Role, now: Millis) -> Value {
    let state = &overview.state;
    let (show, live) = (&state.show, &state.live);
    let tm = timing(show, live, now);
    let current = live.segment.map(|k| (k, &show.segments[k]));
    let next_index = match live.phase {
        Phase::Standby => Some(0),
        Phase::Live => live.segment.map(|k| k + 1),
        Phase::Ended => None,
    };
    let next = next_index.and_then(|k| show.segments.get(k).map(|s| SegmentBrief::of(s, k)));
    let speaker = current.zip(live.speaker).and_then(|((_, segment), k)| segment.speakers.get(k).map(|p| (k, p)));
    let segment_clock = current.map(|(_, segment)| {
        json!({
            "planned_ms": segment.duration_ms + live.extended_ms,
            "elapsed_ms": tm.elapsed_ms,
            "remaining_ms": tm.remaining_ms,
            "elapsed": clock_text(tm.elapsed_ms),
            "remaining": remaining_text(tm.remaining_ms),
            "overrun": tm.remaining_ms < 0,
            "started_at": live.segment_started_at,
            "paused_ms": live.segment_paused_ms,
        })
    });
    let speaker_clock = speaker.zip(tm.speaker_elapsed_ms).map(|((_, person), elapsed)| {
        json!({
            "planned_ms": person.duration_ms.map(|d| d + live.speaker_extended_ms),
            "elapsed_ms": elapsed,
            "remaining_ms": tm.speaker_remaining_ms,
            "elapsed": clock_text(elapsed),
            "remaining": tm.speaker_remaining_ms.map(remaining_text),
            "overrun": tm.speaker_remaining_ms.is_some_and(|r| r < 0),
            "started_at": live.speaker_started_at,
            "paused_ms": live.speaker_paused_ms,
        })
    });
    let queue = current.and_then(|(_, segment)| state.queues.get(&segment.id));
    let open_cues: Vec<Value> = state
        .cues
        .cues
        .iter()
        .filter(|c| !matches!(c.state, CueState::Done | CueState::Cancelled))
        .filter(|c| Routing::Crew(c.target.position()).reaches(role, &[]))
        .map(|c| json!({ "id": c.id, "state": c.state, "target": c.target, "text": c.text, "preset": c.preset }))
        .collect();
    let drift_sign = if tm.drift_ms > 0 { "+" } else { "" };
    json!({
        "event": show.event.id,
        "seq": overview.seq,
        "server_time": now,
        "plan_version": state.plan_version,
        "version": live.version,
        "phase": live.phase,
        "held": live.held_since.is_some(),
        "held_since": live.held_since,
        "current": current.map(|(k, segment)| SegmentBrief::of(segment, k)),
        "next": next,
        "speaker": speaker.map(|(k, person)| json!({ "id": person.id, "index": k, "name": person.name })),
        "segment_clock": segment_clock,
        "speaker_clock": speaker_clock,
        "overrun": tm.remaining_ms < 0,
        "drift_ms": tm.drift_ms,
        "drift": format!("{drift_sign}{}", clock_text(tm.drift_ms)),
        "projected_end": tm.projected_end,
        "planned_end": show.event.planned_end,
        "queue": queue.map(|q| json!({
            "waiting": q.waiting.len(),
            "on_deck": q.on_deck.as_ref().map(|e| &e.name),
            "speaking": q.speaking.as_ref().map(|e| &e.name),
        })),
        "cues": open_cues,
    })
}
