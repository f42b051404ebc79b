//! What the HTTP adapters share, so that none imports another: how a request presents its
//! token, the control path's answers as HTTP responses, downloads, and parsing uploaded
//! files off the async workers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::app::control::{authorized_token, Answer};
use crate::app::{AppState, EventEntry};
use crate::domain::Role;

/// Answers that carry a token are not kept by browsers or proxies.
pub const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

#[derive(Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

/// The token a request carries: a bearer token, else the `token` query parameter (for
/// download links and tools that can only set a URL); empty when it has none.
pub fn request_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> &'a str {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.or(query).unwrap_or_default()
}

/// The event and the role its token grants: `Authorization: Bearer`, or `?token=`.
pub fn authorized(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(Arc<EventEntry>, Role), Answer> {
    authorized_token(app, event, request_token(headers, query.get("token").map(String::as_str)))
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub fn download(content_type: &'static str, name: String, body: impl IntoResponse) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// Two plan files parsed at a time, on blocking threads: parsing takes from milliseconds
/// to a second of CPU, which on an async worker would hold up every websocket ping and
/// show command scheduled behind it. One process-wide bound, since the cores are.
static PARSERS: Semaphore = Semaphore::const_new(2);

/// `parse` run off the async workers, once one of `PARSERS` is free. The slot is held
/// by the parse itself, so a request that goes away while it runs frees no slot early.
pub async fn off_workers<T: Send + 'static>(parse: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let slot = PARSERS.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        parse()
    })
    .await
    .map_err(|e| format!("parsing the file failed: {e}"))
}
