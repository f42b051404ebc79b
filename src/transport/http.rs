//! HTTP routes: the embedded web pages with security headers, the websocket endpoint, and
//! the organizer APIs (rooms, exports, plan files, token rotation, links).

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use rust_embed::RustEmbed;

use crate::app::AppState;

/// The pages and their modules, embedded in the binary so that one file serves everything.
#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router(state: AppState, control: crate::app::control::Control) -> Router {
    Router::new()
        .route("/ws", get(super::ws::upgrade))
        .route("/healthz", get(healthz))
        .route(
            "/api/events",
            get(super::rooms::list)
                .post(super::rooms::create)
                .layer(DefaultBodyLimit::max(super::rooms::MAX_UPLOAD_BYTES)),
        )
        .route("/api/events/{event}/archive", post(super::rooms::archive))
        .route("/api/events/{event}/log.jsonl", get(super::export::log))
        .route("/api/events/{event}/record.csv", get(super::export::record))
        .route("/api/events/{event}/record.xlsx", get(super::export::record_xlsx))
        .route("/api/events/{event}/plan.csv", get(super::plan_io::plan_csv))
        .route("/api/events/{event}/programme.ics", get(super::plan_io::programme_ics))
        .route("/api/events/{event}/plan.xlsx", get(super::plan_io::plan_xlsx))
        .route("/api/events/{event}/plan", post(super::plan_io::import))
        .route("/api/events/{event}/attendance.csv", get(super::export::attendance))
        .route("/api/events/{event}/questions.csv", get(super::voice_export::questions_csv))
        .route("/api/events/{event}/questions.xlsx", get(super::voice_export::questions_xlsx))
        .route("/api/events/{event}/polls.csv", get(super::voice_export::polls_csv))
        .route("/api/events/{event}/polls.xlsx", get(super::voice_export::polls_xlsx))
        .route("/api/events/{event}/tokens/{role}", post(super::export::rotate))
        .route("/api/v1/events/{event}/screens", get(super::screens::list))
        .route("/api/v1/events/{event}/screens/{action}", post(super::screens::act))
        .route("/s/{link}", get(super::screens::short_link))
        .route(
            "/api/events/{event}/links",
            get(super::links::list)
                .post(super::links::create)
                .layer(DefaultBodyLimit::max(super::links::MAX_BODY_BYTES)),
        )
        .route("/api/events/{event}/links/{id}", delete(super::links::revoke))
        .route("/api/events/{event}/links/{id}/revoke", post(super::links::revoke))
        .route("/", get(|| asset("index.html")))
        .route("/{page}", get(|Path(page): Path<String>| page_or_asset(page)))
        .with_state(state.clone())
        .merge(super::captions::routes(state))
        .merge(super::control::routes(control))
        .layer(middleware::from_fn(security_headers))
}

/// `/console` serves `console.html`; any other name must be an embedded file.
/// `GET /healthz`: 200 `ok`, or 503 with the reason when this node cannot serve its events:
/// in a cluster, no NATS server answers, or an event's stream cannot be followed or
/// published to, so that a load balancer takes the node out.
async fn healthz(State(app): State<AppState>) -> Response {
    match app.cluster.as_ref().and_then(|cluster| cluster.trouble()) {
        None => "ok".into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {why}")).into_response(),
    }
}

async fn page_or_asset(name: String) -> Response {
    if !name.contains('.') {
        return asset(&format!("{name}.html")).await;
    }
    asset(&name).await
}

async fn asset(name: &str) -> Response {
    match Assets::get(name) {
        Some(file) => {
            let mime = mime_guess::from_path(name).first_or_octet_stream();
            let cache = if name.ends_with(".html") { "no-cache" } else { "max-age=300" };
            (
                [(header::CONTENT_TYPE, mime.as_ref()), (header::CACHE_CONTROL, cache)],
                Body::from(file.data.into_owned()),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
