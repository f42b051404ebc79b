//! Server-Sent Events (`GET /api/v1/events/{event}/stream`) for tools that only read: the
//! flat state, each change as the websocket's view of the token's role has it, and a resume
//! from `Last-Event-ID` through the hub's replay.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::shared::{authorized, request_token};
use crate::app::control::{refusal, Control};
use crate::app::flat::flat_state;
use crate::app::links::{EndedLink, LinkWatch};
use crate::app::{Access, EventEntry};
use crate::clock::now_millis;
use crate::domain::Role;
use crate::hub::{Overview, Start};
use crate::protocol::ErrorCode;

/// Between two heartbeats a proxy or a tool may assume the stream has died.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);

/// `GET /api/v1/events/{event}/stream`: Server-Sent Events. A `state` event first (or, with
/// `Last-Event-ID` the hub can still serve, the `change` events missed), then each change as a
/// `change` event whose id is its seq, each burst followed by a fresh `state` (without an id,
/// so that `Last-Event-ID` is always the last change received).
pub async fn stream(
    State(control): State<Control>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (entry, role) = match authorized(control.app(), &event, &headers, &query) {
        Ok(found) => found,
        Err(answer) => return answer.into_response(),
    };
    // A stream opened with a link ends when the link does, saying so.
    let token = request_token(&headers, query.get("token").map(String::as_str));
    let link = match entry.access(token) {
        Access::Granted(_, Some(grant)) => Some(entry.links.watch(grant)),
        _ => None,
    };
    let after = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let Ok((start, frames)) = entry.hub.listen(role, after).await else {
        return refusal(ErrorCode::Internal, "the event's hub has stopped").into_response();
    };
    let first = match start {
        Start::Snapshot(overview) => Some(state_event(&overview, role)),
        Start::Replayed => None,
    };
    let shutdown = control.app().shutdown.clone();
    let events = Stream { entry, role, frames, first, burst: false, shutdown, link, ended: false };
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
    /// The link the stream was opened with, if it was: its end ends the stream.
    link: Option<LinkWatch>,
    /// The link's end was sent: the stream ends.
    ended: bool,
}

impl Stream {
    /// The next event; `None` ends the stream (the server is stopping, or this listener fell
    /// too far behind and should reconnect with `Last-Event-ID`).
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
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
            ended = link_ended(&mut self.link) => {
                self.ended = true;
                let message = ended.message(&self.entry.show.event.time_zone);
                let body = serde_json::json!({"code": ended.code(), "message": message});
                return Some(Event::default().event("error").data(body.to_string()));
            }
        };
        self.burst = true;
        let text = frame.as_str();
        let seq = serde_json::from_str::<SeqOnly>(text).map(|s| s.seq).unwrap_or_default();
        Some(Event::default().event("change").id(seq.to_string()).data(text))
    }
}

/// Resolves when the stream's link ends; never for a stream opened with a role token.
async fn link_ended(link: &mut Option<LinkWatch>) -> EndedLink {
    match link {
        Some(watch) => watch.ended().await,
        None => std::future::pending().await,
    }
}

#[derive(serde::Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn state_event(overview: &Overview, role: Role) -> Event {
    Event::default().event("state").data(flat_state(overview, role, now_millis()).to_string())
}
