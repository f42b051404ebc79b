//! One websocket session: checks the handshake (origin, per-address limit), decodes
//! frames under a flood budget, forwards commands to the event's hub, writes what the hub
//! queues for it, and answers pings. It owns no event state.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;
use tracing::{debug, instrument};

use crate::clock::now_millis;
use crate::domain::presence::Liveness;
use crate::domain::text::{Affiliation, DisplayName};
use crate::domain::{Actor, Role};
use crate::hub::{ConnId, HubHandle, Joining, Kick, Kicked, ResumeFrom, OUTBOX_CAPACITY};
use crate::limits::{FrameBudget, Verdict};
use crate::protocol::{
    decode, encode, ClientFrame, ErrorCode, FrameError, Hello, ServerFrame, SharedText, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use crate::server::AppState;

/// How often the server pings a connection; a live one answers well within
/// `presence::DEAD_AFTER_MS`, so that a dead one is found and closed within 30 to 40 seconds.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
/// A write the client does not take within this long means it stopped reading: give up.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Socket buffers per connection. tungstenite's defaults (128 KiB) would cost gigabytes at
/// tens of thousands of connections; our frames are small and flushed in batches.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 4 * 1024;
/// The most one connection may have waiting to be written: a large welcome fits.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
const MAX_PARTICIPANT_ID_CHARS: usize = 64;
/// How long a closing connection waits for the peer's close frame.
const LINGER: Duration = Duration::from_secs(1);
const RESTARTING: (u16, &str) = (1012, "server restarting; reconnect shortly");

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !origin_allowed(&app, &headers) {
        return (StatusCode::FORBIDDEN, "this page's origin may not open a websocket here").into_response();
    }
    let Some(slot) = AddressSlot::take(&app, peer.ip()) else {
        return (StatusCode::TOO_MANY_REQUESTS, "too many connections from this address").into_response();
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| async move {
            let conn = app.next_conn.fetch_add(1, Ordering::Relaxed);
            Session::new(app, conn).run(socket, peer).await;
            drop(slot);
        })
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

type Sink = SplitSink<WebSocket, Message>;

/// What the session loop does after a frame.
enum Next {
    Continue,
    Close(CloseFrame),
    /// The socket is unusable: end without a close frame.
    Drop,
}

fn close((code, reason): (u16, &'static str)) -> Next {
    Next::Close(CloseFrame { code, reason: reason.into() })
}

struct Session {
    app: AppState,
    conn: ConnId,
    /// Given to the hub on join; until then the session keeps it so its queue stays open.
    outbox: Option<mpsc::Sender<SharedText>>,
    kick: Kick,
    membership: Option<Membership>,
}

impl Session {
    fn new(app: AppState, conn: ConnId) -> Self {
        Session { app, conn, outbox: None, kick: Kick::default(), membership: None }
    }

    #[instrument(name = "session", skip_all, fields(conn = self.conn, %peer))]
    async fn run(mut self, socket: WebSocket, peer: SocketAddr) {
        let _tracked = self.app.tracker.token();
        let (mut sink, mut stream) = socket.split();
        let (outbox, mut queue) = mpsc::channel(OUTBOX_CAPACITY);
        self.outbox = Some(outbox);
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        let mut liveness = Liveness::new(now_millis());
        let mut budget = FrameBudget::new(&self.app.limits, now_millis());
        // A child of the server's shutdown token, and made once: polling a token takes its
        // lock, and the parent is shared by every session.
        let shutdown = self.app.shutdown.child_token();
        let shutdown = shutdown.cancelled();
        tokio::pin!(shutdown);
        let kick = self.kick.clone();
        let kicked = kick.kicked();
        tokio::pin!(kicked);
        let outcome = loop {
            // Queued frames first: on a delivery that is the only branch polled.
            let next = tokio::select! {
                biased;
                queued = queue.recv() => match queued {
                    Some(frame) => write_batch(&mut sink, frame, &mut queue).await,
                    // The hub let go of this connection: it says why, unless it stopped.
                    None => match kick.reason() {
                        Some(kicked) => kicked_out(&mut sink, kicked).await,
                        None => close(RESTARTING),
                    },
                },
                _ = &mut shutdown => close(RESTARTING),
                kicked = &mut kicked => kicked_out(&mut sink, kicked).await,
                incoming = stream.next() => {
                    liveness.heard(now_millis());
                    match budget.check(now_millis()) {
                        Verdict::Accept => self.incoming(incoming, &mut sink).await,
                        Verdict::Reject { tell } => rate_limited(incoming, tell, &mut sink).await,
                        Verdict::Close => close((1008, "rate limit: too many frames")),
                    }
                }
                _ = keepalive.tick() => {
                    if liveness.is_dead(now_millis()) {
                        close((1001, "no keep-alive answer"))
                    } else {
                        send_message(&mut sink, Message::Ping(Default::default())).await
                    }
                }
            };
            match next {
                Next::Continue => {}
                other => break other,
            }
        };
        if let Next::Close(frame) = outcome {
            debug!(code = frame.code, reason = %frame.reason, "closing");
            if let Ok(Ok(())) = tokio::time::timeout(WRITE_STALL, sink.send(Message::Close(Some(frame)))).await {
                linger(&mut stream).await;
            }
        }
        debug!("session ended");
    }

    /// Handles what the socket delivered.
    async fn incoming(&mut self, incoming: Option<Result<Message, axum::Error>>, sink: &mut Sink) -> Next {
        match incoming {
            Some(Ok(Message::Text(text))) => self.frame(text.as_str(), sink).await,
            Some(Ok(Message::Binary(_))) => {
                reply(sink, FrameError::new(ErrorCode::BinaryFrame, "frames must be JSON text, not binary")).await
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Next::Continue,
            Some(Ok(Message::Close(_))) | None => close((1000, "bye")),
            Some(Err(e)) => {
                use tokio_tungstenite::tungstenite::Error;
                let (code, message, close_with) = match e.into_inner().downcast_ref::<Error>() {
                    Some(Error::Capacity(_)) => (
                        ErrorCode::TooLarge,
                        format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
                        (1009, "frame too large"),
                    ),
                    Some(Error::Utf8(_)) => {
                        (ErrorCode::InvalidUtf8, "a text frame must be valid UTF-8".into(), (1007, "invalid UTF-8"))
                    }
                    _ => return Next::Drop,
                };
                reply(sink, FrameError::new(code, message)).await;
                close(close_with)
            }
        }
    }

    async fn frame(&mut self, text: &str, sink: &mut Sink) -> Next {
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(error) => return reply(sink, error).await,
        };
        match frame {
            ClientFrame::Ping { t } => send(sink, encode(&ServerFrame::Pong { t, server_time: now_millis() })).await,
            ClientFrame::Hello(hello) => self.hello(*hello, sink).await,
            ClientFrame::Command { id, command } => match &self.membership {
                Some(membership) => match membership.hub.command(membership.conn, id, command).await {
                    Ok(()) => Next::Continue,
                    Err(_) => close(RESTARTING),
                },
                None => reply(sink, not_joined(id)).await,
            },
            ClientFrame::PresencePage { id, offset, limit } => match &self.membership {
                Some(membership) => match membership.hub.presence_page(membership.conn, id, offset, limit).await {
                    Ok(()) => Next::Continue,
                    Err(_) => close(RESTARTING),
                },
                None => reply(sink, not_joined(id)).await,
            },
        }
    }

    async fn hello(&mut self, hello: Hello, sink: &mut Sink) -> Next {
        if self.membership.is_some() {
            return reply(sink, FrameError::new(ErrorCode::AlreadyJoined, "this connection has already joined")).await;
        }
        if hello.protocol != PROTOCOL_VERSION {
            let message =
                format!("protocol {} is not supported; this server speaks {PROTOCOL_VERSION}", hello.protocol);
            reply(sink, FrameError::new(ErrorCode::UnsupportedVersion, message)).await;
            return close((1002, "unsupported protocol version"));
        }
        let Some(entry) = self.app.event(&hello.event) else {
            reply(sink, FrameError::new(ErrorCode::UnknownEvent, format!("no event {:?} here", hello.event))).await;
            return close((1008, "unknown event"));
        };
        let role = entry.role_of(&hello.token);
        let code_ok = match (&entry.attendee_code, role) {
            (Some(expected), Some(Role::Attendee)) => {
                hello.code.as_deref().is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
            }
            _ => true,
        };
        let (Some(role), true) = (role, code_ok) else {
            let message = if code_ok { "this token is not valid for this event" } else { "this event needs its code" };
            reply(sink, FrameError::new(ErrorCode::Unauthorized, message)).await;
            return close((1008, "unauthorized"));
        };
        let name = match DisplayName::parse(&hello.name) {
            Ok(name) => name,
            Err(e) => return reply(sink, FrameError::new(ErrorCode::InvalidField, format!("name {e}"))).await,
        };
        let affiliation = match hello.affiliation.as_deref().map(Affiliation::parse).transpose() {
            Ok(affiliation) => affiliation.map(|a| a.as_str().to_owned()),
            Err(e) => return reply(sink, FrameError::new(ErrorCode::InvalidField, format!("affiliation {e}"))).await,
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
                return reply(sink, FrameError::new(ErrorCode::InvalidField, message)).await;
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let Some(outbox) = self.outbox.take() else {
            return close((1011, "internal error"));
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
        let resume = hello.resume.map(|r| ResumeFrom { epoch: r.epoch, seq: r.seq });
        let joining = Joining { conn: self.conn, actor, resume, outbox, kick: self.kick.clone() };
        if entry.hub.join(joining).await.is_err() {
            return close(RESTARTING);
        }
        self.membership = Some(Membership { hub: entry.hub.clone(), conn: self.conn });
        Next::Continue
    }
}

/// The closing handshake: waits briefly for the peer's close. A socket dropped with unread
/// input (the rest of an oversized frame, say) is reset, and a reset makes the peer discard
/// the close frame that says why; so when the input cannot be read any more, this waits for
/// the peer to read the close and hang up first.
async fn linger(stream: &mut futures_util::stream::SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => std::future::pending::<()>().await,
            }
        }
    })
    .await;
}

/// Sends the hub's last word, if any, then closes with its reason.
async fn kicked_out(sink: &mut Sink, kicked: Kicked) -> Next {
    if let Some(frame) = kicked.last_word {
        if let Next::Drop = send(sink, frame).await {
            return Next::Drop;
        }
    }
    close((kicked.code, kicked.reason))
}

fn not_joined(id: String) -> FrameError {
    FrameError { id: Some(id), code: ErrorCode::NotJoined, message: "say hello first".into() }
}

/// A frame over the budget is dropped; its sender hears about it at most once a second.
async fn rate_limited(incoming: Option<Result<Message, axum::Error>>, tell: bool, sink: &mut Sink) -> Next {
    match incoming {
        Some(Ok(Message::Close(_))) | None => close((1000, "bye")),
        Some(Err(_)) => Next::Drop,
        Some(Ok(_)) if tell => {
            let error =
                FrameError::new(ErrorCode::RateLimited, "too many frames; slow down (frames are being dropped)");
            reply(sink, error).await
        }
        Some(Ok(_)) => Next::Continue,
    }
}

async fn send_message(sink: &mut Sink, message: Message) -> Next {
    match tokio::time::timeout(WRITE_STALL, sink.send(message)).await {
        Ok(Ok(())) => Next::Continue,
        _ => Next::Drop,
    }
}

async fn send(sink: &mut Sink, frame: SharedText) -> Next {
    send_message(sink, Message::Text(frame)).await
}

async fn reply(sink: &mut Sink, error: FrameError) -> Next {
    send(sink, error.encode()).await
}

/// Writes `first` and everything else already queued, then flushes once. A client that
/// takes nothing for [`WRITE_STALL`] has stopped reading and is dropped.
async fn write_batch(sink: &mut Sink, first: SharedText, queue: &mut mpsc::Receiver<SharedText>) -> Next {
    let batch = async {
        sink.feed(Message::Text(first)).await?;
        while let Ok(frame) = queue.try_recv() {
            sink.feed(Message::Text(frame)).await?;
        }
        sink.flush().await
    };
    match tokio::time::timeout(WRITE_STALL, batch).await {
        Ok(Ok(())) => Next::Continue,
        _ => Next::Drop,
    }
}
