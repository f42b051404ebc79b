//! The screens a chair manages over HTTP (docs/integrations.md, "Screens"): the list of
//! joined screens and the event's short links, a screen told to show its name, to take a
//! name, or to change its view; and the short links themselves (`/s/lectern`), which open an
//! unattended screen's page with its role's token for clients on the venue's own network.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::shared::{authorized, NO_STORE};
use crate::app::control::{refusal, Answer};
use crate::app::{AppState, EventEntry};
use crate::domain::automation::percent_encoded;
use crate::domain::screens::{checked_view, ScreenSetup, VIEW_KEYS};
use crate::domain::Role;
use crate::protocol::{screen_name, Directive, ErrorCode, IDENTIFY_MS};

/// The event for a chair's token (organizer, moderator), else the refusal.
fn chair(
    app: &AppState,
    event: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<std::sync::Arc<EventEntry>, Answer> {
    match authorized(app, event, headers, query)? {
        (entry, Role::Organizer | Role::Moderator) => Ok(entry),
        (_, role) => Err(refusal(ErrorCode::Forbidden, format!("a {} token cannot manage screens", role.as_str()))),
    }
}

/// `GET /api/v1/events/{event}/screens`: the joined screens and the event's short links.
pub async fn list(
    State(app): State<AppState>,
    Path(event): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let entry = match chair(&app, &event, &headers, &query) {
        Ok(entry) => entry,
        Err(answer) => return answer.into_response(),
    };
    let (Ok(screens), Ok(plan)) = (entry.hub.screens().await, entry.hub.plan().await) else {
        return refusal(ErrorCode::Internal, "the event's hub has stopped").into_response();
    };
    let links: Vec<_> = plan
        .show
        .short_links
        .iter()
        .map(|l| json!({ "id": l.id, "page": l.page, "name": l.name, "view": l.view, "path": format!("/s/{}", l.id) }))
        .collect();
    (NO_STORE, Json(json!({ "screens": screens, "short_links": links }))).into_response()
}

/// `POST /api/v1/events/{event}/screens/{action}` (`identify`, `name`, `view`), for the
/// screen its `screen` argument names.
pub async fn act(
    State(app): State<AppState>,
    Path((event, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match direct(&app, &event, &action, &query, &headers).await {
        Ok(screen) => Json(json!({ "screen": screen, "sent": true })).into_response(),
        Err(answer) => answer.into_response(),
    }
}

async fn direct(
    app: &AppState,
    event: &str,
    action: &str,
    args: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<u64, Answer> {
    let entry = chair(app, event, headers, args)?;
    let invalid = |why: String| refusal(ErrorCode::InvalidField, why);
    let text = args.get("screen").ok_or_else(|| invalid("screen is needed".into()))?;
    let screen: u64 = text.parse().map_err(|_| invalid(format!("screen must be a number, not {text:?}")))?;
    let gone = || refusal(ErrorCode::Internal, "the event's hub has stopped");
    let screens = entry.hub.screens().await.map_err(|_| gone())?;
    let target =
        screens.iter().find(|s| s.screen == screen).ok_or_else(|| invalid(format!("no screen {screen} is joined")))?;
    let directive = match action {
        "identify" => Directive::Identify { name: target.name.clone(), ms: IDENTIFY_MS },
        "name" => {
            Directive::Rename { name: screen_name(args.get("name").map_or("", String::as_str)).map_err(invalid)? }
        }
        "view" => {
            let page = args.get("page").cloned();
            let view: BTreeMap<String, String> = args
                .iter()
                .filter(|(key, _)| VIEW_KEYS.contains(&key.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if page.is_none() && view.is_empty() {
                return Err(invalid(format!("name a page or a view setting: {}", VIEW_KEYS.join(", "))));
            }
            let view = checked_view(view).map_err(invalid)?;
            if let Some(page) = &page {
                ScreenSetup::parse(target.role, page, BTreeMap::new()).map_err(invalid)?;
            }
            Directive::View { page, view }
        }
        other => return Err(refusal(ErrorCode::UnknownType, format!("no screen action {other:?}"))),
    };
    match entry.hub.direct(screen, directive).await {
        Ok(true) => Ok(screen),
        Ok(false) => Err(invalid(format!("screen {screen} has left"))),
        Err(_) => Err(gone()),
    }
}

/// `GET /s/{link}`: the short link's page with its role's token, for a client on loopback or
/// a private network (the venue's); anyone else gets 403, since the answer carries a token.
pub async fn short_link(
    State(app): State<AppState>,
    Path(link): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !on_the_venue_network(peer.ip()) {
        let why = "short links open only from the venue's own network; use the page's full link";
        return (StatusCode::FORBIDDEN, Json(json!({ "code": "forbidden", "message": why }))).into_response();
    }
    let events: Vec<_> = app.events.iter().map(|e| (e.key().clone(), std::sync::Arc::clone(e.value()))).collect();
    for (event, entry) in events {
        let Ok(plan) = entry.hub.plan().await else { continue };
        let Some(found) = plan.show.short_links.iter().find(|l| l.id == link) else { continue };
        let Some(role) = found.role() else { continue };
        let mut fragment = format!("event={event}&token={}", entry.token(role));
        if let Some(name) = &found.name {
            fragment.push_str(&format!("&name={}", percent_encoded(name)));
        }
        for (key, value) in &found.view {
            fragment.push_str(&format!("&{key}={}", percent_encoded(value)));
        }
        let location = format!("/{}#{fragment}", found.page);
        return (StatusCode::FOUND, NO_STORE, [(header::LOCATION, location)]).into_response();
    }
    (StatusCode::NOT_FOUND, Json(json!({ "code": "not_found", "message": format!("no short link {link:?}") })))
        .into_response()
}

fn on_the_venue_network(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private())
                || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}
