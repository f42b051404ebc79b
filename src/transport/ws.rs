//! One websocket session: checks the handshake (origin, per-address limit), decodes
//! frames under a flood budget, forwards commands to the event's hub, and answers pings.
//! It owns no event state, and it writes little itself: the hub writes to the socket
//! directly, and the session only finishes what the socket could not take at once.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use subtle::ConstantTimeEq;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::{debug, error, instrument};

use crate::app::links::{EndedLink, LinkWatch, LINK_ENDED_CLOSE};
use crate::app::{Access, AppState};
use crate::clock::now_millis;
use crate::domain::presence::Liveness;
use crate::domain::screens::{ScreenSetup, SCREEN_PAGES};
use crate::domain::text::{Affiliation, DisplayName};
use crate::domain::{Actor, Role};
use crate::hub::{ConnId, HubHandle, Joining, ResumeFrom, TOO_SLOW};
use crate::limits::{FrameBudget, Verdict};
use crate::protocol::{
    decode, encode, ClientFrame, ErrorCode, FrameError, Hello, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use crate::wire::outbound::{Flushed, Outbound, Refused};
use crate::wire::{Frame, Message, Reader, WireError};

/// How often the server pings a connection; a live one answers well within
/// `presence::DEAD_AFTER_MS`, so that a dead one is found and closed within 30 to 40 seconds.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
/// A socket that takes nothing of what waits for it within this long has a client that
/// stopped reading: give up.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Bytes taken from the socket at a time; a stack buffer, so that idle connections hold none.
const READ_CHUNK: usize = 4096;
const MAX_PARTICIPANT_ID_CHARS: usize = 64;
/// How long a closing connection waits for the peer's close frame.
const LINGER: Duration = Duration::from_secs(1);
const RESTARTING: (u16, &str) = (1012, "server restarting; reconnect shortly");

pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    if !origin_allowed(&app, request.headers()) {
        return (StatusCode::FORBIDDEN, "this page's origin may not open a websocket here").into_response();
    }
    let accept = match handshake_accept(request.version(), request.headers()) {
        Ok(accept) => accept,
        Err(Handshake::NotAnUpgrade) => {
            let version = [(header::SEC_WEBSOCKET_VERSION, "13")];
            return (
                StatusCode::UPGRADE_REQUIRED,
                version,
                "a websocket upgrade (HTTP/1.1, version 13) is expected here",
            )
                .into_response();
        }
        Err(Handshake::BadKey) => {
            return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Key must be 16 bytes in base64").into_response();
        }
    };
    let Some(slot) = AddressSlot::take(&app, peer.ip()) else {
        return (StatusCode::TOO_MANY_REQUESTS, "too many connections from this address").into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    let tracker = app.tracker.clone();
    tracker.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return debug!(error = %e, "the upgrade did not complete"),
        };
        // The socket itself, so that the hub can write to it without a task in between.
        let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
            return error!("an upgraded connection is not a TCP stream");
        };
        let conn = app.next_conn.fetch_add(1, Ordering::Relaxed);
        let out = Arc::new(Outbound::new(parts.io.into_inner()));
        let hard_stop = app.hard_stop.clone();
        // Past the shutdown deadline a session still draining or lingering is dropped.
        tokio::select! {
            () = Session::new(app, conn, out, peer).run(parts.read_buf) => {}
            () = hard_stop.cancelled() => debug!(conn, "dropped at the shutdown deadline"),
        }
        drop(slot);
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Why a request to `/ws` does not become a websocket.
enum Handshake {
    /// Not an HTTP/1.1 upgrade to websocket version 13: 426 says what is expected.
    NotAnUpgrade,
    /// An upgrade whose key is missing or not 16 bytes in base64 (RFC 6455 4.2.1): 400.
    BadKey,
}

/// The `Sec-WebSocket-Accept` answer to a valid websocket upgrade request (RFC 6455 4.2.1).
fn handshake_accept(version: Version, headers: &HeaderMap) -> Result<header::HeaderValue, Handshake> {
    let has_token = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let websocket_13 = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    if version != Version::HTTP_11
        || !has_token(header::CONNECTION, "upgrade")
        || !has_token(header::UPGRADE, "websocket")
        || !websocket_13
    {
        return Err(Handshake::NotAnUpgrade);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Handshake::BadKey)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes()).map_err(|_| Handshake::BadKey)?;
    if decoded.len() != 16 {
        return Err(Handshake::BadKey);
    }
    derive_accept_key(key.as_bytes()).parse().map_err(|_| Handshake::BadKey)
}

/// Browsers send Origin; a page from elsewhere must not drive a participant's session.
/// Clients that are not browsers send none and are judged by their token alone.
fn origin_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    if !app.limits.allowed_origins.is_empty() {
        return app.limits.allowed_origins.iter().any(|allowed| allowed == origin);
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// One connection counted against its address; released on drop.
struct AddressSlot {
    app: AppState,
    ip: IpAddr,
}

impl AddressSlot {
    fn take(app: &AppState, ip: IpAddr) -> Option<Self> {
        let mut count = app.per_ip.entry(ip).or_insert(0);
        if *count >= app.limits.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(AddressSlot { app: app.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.app.per_ip.remove_if_mut(&self.ip, |_, count| {
            *count -= 1;
            *count == 0
        });
    }
}

/// A connection's membership of a hub; leaving happens on drop, whatever ends the session.
struct Membership {
    hub: HubHandle,
    conn: ConnId,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.leave(self.conn);
    }
}

/// What the session loop does next.
enum Next {
    Continue,
    /// Close with this code and reason, after what is already queued.
    Close(u16, &'static str),
    /// The close frame is written: wait briefly for the peer's, then end.
    Closed,
    /// The socket is unusable: end without a close frame.
    Drop,
}

fn close((code, reason): (u16, &'static str)) -> Next {
    Next::Close(code, reason)
}

struct Session {
    app: AppState,
    conn: ConnId,
    out: Arc<Outbound>,
    membership: Option<Membership>,
    /// The client's address: a screen's is in the chair's list of screens.
    peer: SocketAddr,
    /// The link this session joined with, with its event's time zone, until the loop
    /// takes it to wait for the link's end.
    joined_by_link: Option<(LinkWatch, String)>,
}

impl Session {
    fn new(app: AppState, conn: ConnId, out: Arc<Outbound>, peer: SocketAddr) -> Self {
        Session { app, conn, out, membership: None, peer, joined_by_link: None }
    }

    #[instrument(name = "session", skip_all, fields(conn = self.conn, peer = %self.peer))]
    async fn run(mut self, early: Bytes) {
        let out = Arc::clone(&self.out);
        let mut reader = Reader::new(MAX_FRAME_BYTES);
        reader.push(&early);
        // A slice of the HTTP server's read buffer: kept, it would keep all of that alive.
        drop(early);
        // Spread over the interval: the connections of a join storm would otherwise all be
        // pinged, and all answer, within the same few seconds, again and again.
        let jitter = Duration::from_millis(rand::random_range(0..KEEPALIVE_EVERY.as_millis() as u64));
        let first_ping = tokio::time::Instant::now() + jitter;
        let mut keepalive = tokio::time::interval_at(first_ping, KEEPALIVE_EVERY);
        let mut liveness = Liveness::new(now_millis());
        let mut budget = FrameBudget::new(&self.app.limits, now_millis());
        let shutdown = self.app.shutdown.clone();
        let shutdown = shutdown.cancelled();
        tokio::pin!(shutdown);
        // The link this session joined with, once it has: its end closes the session.
        let mut link = None;
        // What came with the handshake is handled before waiting for more.
        let mut next = self.input(&mut reader, &mut budget).await;
        while let Next::Continue = next {
            if link.is_none() {
                link = self.joined_by_link.take();
            }
            next = tokio::select! {
                biased;
                _ = out.woken() => drain(&out).await,
                _ = &mut shutdown => close(RESTARTING),
                (ended, zone) = link_ended(&mut link) => self.refuse_link(&ended, &zone),
                ready = out.socket().readable() => match ready.and_then(|()| read_some(out.socket(), Some(&mut reader))) {
                    Ok(Read::Some) => {
                        liveness.heard(now_millis());
                        self.input(&mut reader, &mut budget).await
                    }
                    Ok(Read::Nothing) => Next::Continue,
                    Ok(Read::End) | Err(_) => Next::Drop,
                },
                _ = keepalive.tick() => {
                    if liveness.is_dead(now_millis()) {
                        close((1001, "no keep-alive answer"))
                    } else {
                        self.send(&Frame::ping())
                    }
                }
            };
        }
        if let Next::Close(code, reason) = next {
            debug!(code, reason, "closing");
            out.close(code, reason, None);
            next = drain(&out).await;
        }
        if let Next::Closed = next {
            linger(&out, reader).await;
        }
        out.shut();
        debug!("session ended");
    }

    /// Handles every whole message the reader holds.
    async fn input(&mut self, reader: &mut Reader, budget: &mut FrameBudget) -> Next {
        loop {
            let message = match reader.message() {
                Ok(Some(message)) => message,
                Ok(None) => return Next::Continue,
                Err(e) => return self.broken(e),
            };
            let next = match budget.check(now_millis()) {
                Verdict::Accept => self.message(message).await,
                Verdict::Reject { tell } => self.rate_limited(message, tell),
                Verdict::Close => close((1008, "rate limit: too many frames")),
            };
            if !matches!(next, Next::Continue) {
                return next;
            }
        }
    }

    /// The input cannot be read further: say why, then close.
    fn broken(&self, error: WireError) -> Next {
        let code = error.close_code();
        match error {
            WireError::TooLarge(max) => {
                self.reply(FrameError::new(ErrorCode::TooLarge, format!("frames are limited to {max} bytes")));
                Next::Close(code, "frame too large")
            }
            WireError::InvalidUtf8 => {
                self.reply(FrameError::new(
                    ErrorCode::InvalidUtf8,
                    "a text frame or a close reason must be valid UTF-8",
                ));
                Next::Close(code, "invalid UTF-8")
            }
            WireError::Protocol(why) => Next::Close(code, why),
        }
    }

    async fn message(&mut self, message: Message) -> Next {
        match message {
            Message::Text(text) => self.frame(&text).await,
            Message::Binary => {
                self.reply(FrameError::new(ErrorCode::BinaryFrame, "frames must be JSON text, not binary"))
            }
            Message::Ping(payload) => self.send(&Frame::pong(&payload)),
            Message::Pong => Next::Continue,
            Message::Close(_) => close((1000, "bye")),
        }
    }

    /// A frame over the budget is dropped; its sender hears about it at most once a second.
    fn rate_limited(&self, message: Message, tell: bool) -> Next {
        self.app.metrics.rate_limited_frames.inc();
        match message {
            Message::Close(_) => close((1000, "bye")),
            _ if tell => self.reply(FrameError::new(
                ErrorCode::RateLimited,
                "too many frames; slow down (frames are being dropped)",
            )),
            _ => Next::Continue,
        }
    }

    async fn frame(&mut self, text: &str) -> Next {
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(error) => return self.reply(error),
        };
        match frame {
            ClientFrame::Ping { t } => self.send(&encode(&ServerFrame::Pong { t, server_time: now_millis() })),
            ClientFrame::Hello(hello) => self.hello(*hello).await,
            ClientFrame::Command { id, command } => match &self.membership {
                // Boxed: a session waits here rarely, and its future should stay small the
                // rest of the time.
                Some(membership) => match Box::pin(membership.hub.command(membership.conn, id, command)).await {
                    Ok(()) => Next::Continue,
                    Err(_) => close(RESTARTING),
                },
                None => self.reply(not_joined(id)),
            },
            ClientFrame::SetLang { id, lang, captions } => match &self.membership {
                Some(membership) => {
                    match Box::pin(membership.hub.set_lang(membership.conn, id, lang, captions)).await {
                        Ok(()) => Next::Continue,
                        Err(_) => close(RESTARTING),
                    }
                }
                None => self.reply(not_joined(id)),
            },
            ClientFrame::PresencePage { id, after, limit } => match &self.membership {
                Some(membership) => {
                    match Box::pin(membership.hub.presence_page(membership.conn, id, after, limit)).await {
                        Ok(()) => Next::Continue,
                        Err(_) => close(RESTARTING),
                    }
                }
                None => self.reply(not_joined(id)),
            },
        }
    }

    async fn hello(&mut self, hello: Hello) -> Next {
        if self.membership.is_some() {
            return self.reply(FrameError::new(ErrorCode::AlreadyJoined, "this connection has already joined"));
        }
        if hello.protocol != PROTOCOL_VERSION {
            let message =
                format!("protocol {} is not supported; this server speaks {PROTOCOL_VERSION}", hello.protocol);
            self.reply(FrameError::new(ErrorCode::UnsupportedVersion, message));
            return close((1002, "unsupported protocol version"));
        }
        let Some(entry) = self.app.event(&hello.event) else {
            self.reply(FrameError::new(ErrorCode::UnknownEvent, format!("no event {:?} here", hello.event)));
            return close((1008, "unknown event"));
        };
        let (role, grant) = match entry.access(&hello.token) {
            Access::Granted(role, grant) => (Some(role), grant),
            Access::Ended(ended) => return self.refuse_link(&ended, &entry.show.event.time_zone),
            Access::Refused => (None, None),
        };
        let code_ok = match (&entry.attendee_code, role) {
            (Some(expected), Some(Role::Attendee)) => {
                hello.code.as_deref().is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
            }
            _ => true,
        };
        let (Some(role), true) = (role, code_ok) else {
            let message = if code_ok { "this token is not valid for this event" } else { "this event needs its code" };
            self.reply(FrameError::new(ErrorCode::Unauthorized, message));
            return close((1008, "unauthorized"));
        };
        let name = match DisplayName::parse(&hello.name) {
            Ok(name) => name,
            Err(e) => return self.reply(FrameError::new(ErrorCode::InvalidField, format!("name {e}"))),
        };
        let affiliation = match hello.affiliation.as_deref().map(Affiliation::parse).transpose() {
            Ok(affiliation) => affiliation.map(|a| a.as_str().to_owned()),
            Err(e) => return self.reply(FrameError::new(ErrorCode::InvalidField, format!("affiliation {e}"))),
        };
        let participant = match hello.participant {
            Some(id)
                if (1..=MAX_PARTICIPANT_ID_CHARS).contains(&id.chars().count())
                    && !id.chars().any(char::is_control) =>
            {
                id
            }
            Some(_) => {
                let message = format!("participant must be 1-{MAX_PARTICIPANT_ID_CHARS} printable characters");
                return self.reply(FrameError::new(ErrorCode::InvalidField, message));
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let actor = Actor {
            participant,
            name: name.as_str().to_owned(),
            role,
            mode: hello.mode,
            lang: hello.lang,
            affiliation,
            crew: hello.crew.unwrap_or_default(),
        };
        let resume = hello.resume.map(|r| ResumeFrom { epoch: r.epoch, seq: r.seq, presence: r.presence });
        let screen = hello.screen.unwrap_or(false);
        let captions = hello.captions;
        // A page opened with another role's token (a chair watching /stage) is no managed screen.
        let page = hello.page.filter(|page| SCREEN_PAGES.contains(&(page.as_str(), role)));
        let screen_setup = match page.map(|page| ScreenSetup::parse(role, &page, hello.view.unwrap_or_default())) {
            Some(Ok(setup)) => Some((setup, self.peer.ip().to_string())),
            Some(Err(why)) => return self.reply(FrameError::new(ErrorCode::InvalidField, why)),
            None => None,
        };
        let out = Arc::clone(&self.out);
        let joining = Joining { conn: self.conn, actor, screen, resume, out, captions, screen_setup };
        if Box::pin(entry.hub.join(joining)).await.is_err() {
            return close(RESTARTING);
        }
        self.membership = Some(Membership { hub: entry.hub.clone(), conn: self.conn });
        if let Some(grant) = grant {
            self.joined_by_link = Some((entry.links.watch(grant), entry.show.event.time_zone.clone()));
        }
        Next::Continue
    }

    /// A link that has ended: says which and when, then closes.
    fn refuse_link(&self, ended: &EndedLink, time_zone: &str) -> Next {
        self.reply(FrameError::new(ended.code(), ended.message(time_zone)));
        close((LINK_ENDED_CLOSE, ended.reason()))
    }

    /// Sends a frame of the session's own: a reply, a pong, a keep-alive.
    fn send(&self, frame: &Frame) -> Next {
        match self.out.send(frame) {
            Ok(()) => Next::Continue,
            Err(Refused::TooSlow) => close(TOO_SLOW),
            // Closing already, or dead: the wake-up that says so ends the session.
            Err(Refused::Closed) => Next::Continue,
        }
    }

    fn reply(&self, error: FrameError) -> Next {
        self.app.metrics.error(&error.code.as_str());
        self.send(&error.encode())
    }
}

/// What one read from the socket gave.
enum Read {
    Some,
    /// Nothing was ready after all.
    Nothing,
    /// The peer hung up.
    End,
}

/// Reads what the socket has into the reader, or discards it when there is no reader.
fn read_some(socket: &TcpStream, reader: Option<&mut Reader>) -> io::Result<Read> {
    let mut chunk = [0u8; READ_CHUNK];
    match socket.try_read(&mut chunk) {
        Ok(0) => Ok(Read::End),
        Ok(n) => {
            if let Some(reader) = reader {
                reader.push(&chunk[..n]);
            }
            Ok(Read::Some)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Nothing),
        Err(e) => Err(e),
    }
}

/// Writes out what waits for the socket. A client that takes none of it for
/// [`WRITE_STALL`] has stopped reading and is dropped.
async fn drain(out: &Outbound) -> Next {
    let drained = tokio::time::timeout(WRITE_STALL, async {
        loop {
            match out.flush() {
                Flushed::Waiting => {
                    if out.socket().writable().await.is_err() {
                        return Flushed::Dead;
                    }
                }
                other => return other,
            }
        }
    });
    match drained.await {
        Ok(Flushed::Open) => Next::Continue,
        Ok(Flushed::Closed { code, reason }) => {
            debug!(code, reason, "closed");
            Next::Closed
        }
        Ok(Flushed::Dead | Flushed::Waiting) | Err(_) => Next::Drop,
    }
}

/// The closing handshake: waits briefly for the peer's close. A socket dropped with unread
/// input (the rest of an oversized frame, say) is reset, and a reset makes the peer discard
/// the close frame that says why; so when the input cannot be parsed any more, this reads
/// and discards until the peer, having read the close, hangs up.
async fn linger(out: &Outbound, mut reader: Reader) {
    let mut parsing = true;
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            if out.socket().readable().await.is_err() {
                return;
            }
            match read_some(out.socket(), parsing.then_some(&mut reader)) {
                Ok(Read::Some) => {}
                Ok(Read::Nothing) => continue,
                Ok(Read::End) | Err(_) => return,
            }
            while parsing {
                match reader.message() {
                    Ok(Some(Message::Close(_))) => return,
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => parsing = false,
                }
            }
        }
    })
    .await;
}

/// Resolves when the link a session joined with ends; never for a session without one.
async fn link_ended(link: &mut Option<(LinkWatch, String)>) -> (EndedLink, String) {
    match link {
        Some((watch, zone)) => (watch.ended().await, zone.clone()),
        None => std::future::pending().await,
    }
}

fn not_joined(id: String) -> FrameError {
    FrameError { id: Some(id), code: ErrorCode::NotJoined, message: "say hello first".into() }
}
