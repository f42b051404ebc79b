//! One websocket session: decodes frames, forwards commands to the event's hub, writes
//! what the hub queues for it, and answers pings. It owns no event state.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tracing::{debug, instrument};

use crate::clock::now_millis;
use crate::domain::presence::Liveness;
use crate::domain::text::{Affiliation, DisplayName};
use crate::domain::Actor;
use crate::hub::{ConnId, HubHandle, Joining, ResumeFrom, OUTBOX_CAPACITY};
use crate::protocol::{
    decode, encode, ClientFrame, ErrorCode, FrameError, Hello, ServerFrame, SharedText, MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
};
use crate::server::AppState;

/// How often the server pings a connection; a live one answers well within
/// `presence::DEAD_AFTER_MS`, so that a dead one is found and closed within 30 to 40 seconds.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);
const MAX_PARTICIPANT_ID_CHARS: usize = 64;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES).max_frame_size(MAX_FRAME_BYTES).on_upgrade(move |socket| async move {
        let conn = app.next_conn.fetch_add(1, Ordering::Relaxed);
        Session::new(app, conn).run(socket, peer).await;
    })
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
}

fn close(code: u16, reason: &'static str) -> Next {
    Next::Close(CloseFrame { code, reason: reason.into() })
}

struct Session {
    app: AppState,
    conn: ConnId,
    /// Given to the hub on join; until then the session keeps it so its queue stays open.
    outbox: Option<mpsc::Sender<SharedText>>,
    membership: Option<Membership>,
}

impl Session {
    fn new(app: AppState, conn: ConnId) -> Self {
        Session { app, conn, outbox: None, membership: None }
    }

    #[instrument(name = "session", skip_all, fields(conn = self.conn, %peer))]
    async fn run(mut self, socket: WebSocket, peer: SocketAddr) {
        let _tracked = self.app.tracker.token();
        let (mut sink, mut stream) = socket.split();
        let (outbox, mut queue) = mpsc::channel(OUTBOX_CAPACITY);
        self.outbox = Some(outbox);
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        let mut liveness = Liveness::new(now_millis());
        let shutdown = self.app.shutdown.clone();
        let outcome = loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break close(1012, "server restarting; reconnect shortly"),
                queued = queue.recv() => match queued {
                    Some(frame) => if write_batch(&mut sink, frame, &mut queue).await.is_err() {
                        break Next::Continue;
                    },
                    None => break close(1008, "too slow: the server dropped queued frames; reconnect to resume"),
                },
                incoming = stream.next() => {
                    liveness.heard(now_millis());
                    match self.incoming(incoming, &mut sink).await {
                        Next::Continue => {}
                        other => break other,
                    }
                }
                _ = keepalive.tick() => {
                    if liveness.is_dead(now_millis()) {
                        break close(1001, "no keep-alive answer");
                    }
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break Next::Continue;
                    }
                }
            }
        };
        if let Next::Close(frame) = outcome {
            debug!(code = frame.code, reason = %frame.reason, "closing");
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        debug!("session ended");
    }

    /// Handles what the socket delivered. `Next::Continue` out of a closed socket is
    /// turned into a silent end by returning a close the peer will never read.
    async fn incoming(&mut self, incoming: Option<Result<Message, axum::Error>>, sink: &mut Sink) -> Next {
        match incoming {
            Some(Ok(Message::Text(text))) => self.frame(text.as_str(), sink).await,
            Some(Ok(Message::Binary(_))) => {
                reply(sink, FrameError::new(ErrorCode::BinaryFrame, "frames must be JSON text, not binary")).await
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Next::Continue,
            Some(Ok(Message::Close(_))) | None => close(1000, "bye"),
            Some(Err(e)) => {
                if is_too_large(e) {
                    let error =
                        FrameError::new(ErrorCode::TooLarge, format!("frames are limited to {MAX_FRAME_BYTES} bytes"));
                    let _ = sink.send(Message::Text(error.encode())).await;
                    return close(1009, "frame too large");
                }
                close(1002, "protocol error")
            }
        }
    }

    async fn frame(&mut self, text: &str, sink: &mut Sink) -> Next {
        let frame = match decode(text) {
            Ok(frame) => frame,
            Err(error) => return reply(sink, error).await,
        };
        match frame {
            ClientFrame::Ping { t } => {
                let pong = encode(&ServerFrame::Pong { t, server_time: now_millis() });
                send(sink, pong).await
            }
            ClientFrame::Hello(hello) => self.hello(*hello, sink).await,
            ClientFrame::Command { id, command } => match &self.membership {
                Some(membership) => match membership.hub.command(membership.conn, id, command).await {
                    Ok(()) => Next::Continue,
                    Err(_) => close(1012, "server restarting; reconnect shortly"),
                },
                None => reply(sink, not_joined(id)).await,
            },
            ClientFrame::PresencePage { id, offset, limit } => match &self.membership {
                Some(membership) => match membership.hub.presence_page(membership.conn, id, offset, limit).await {
                    Ok(()) => Next::Continue,
                    Err(_) => close(1012, "server restarting; reconnect shortly"),
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
            return close(1002, "unsupported protocol version");
        }
        let Some(entry) = self.app.event(&hello.event) else {
            reply(sink, FrameError::new(ErrorCode::UnknownEvent, format!("no event {:?} here", hello.event))).await;
            return close(1008, "unknown event");
        };
        let Some(role) = entry.tokens.role_of(&hello.token) else {
            reply(sink, FrameError::new(ErrorCode::Unauthorized, "this token is not valid for this event")).await;
            return close(1008, "unauthorized");
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
            return close(1011, "internal error");
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
        let joining = Joining { conn: self.conn, actor, resume, outbox };
        if entry.hub.join(joining).await.is_err() {
            return close(1012, "server restarting; reconnect shortly");
        }
        self.membership = Some(Membership { hub: entry.hub.clone(), conn: self.conn });
        Next::Continue
    }
}

fn not_joined(id: String) -> FrameError {
    FrameError { id: Some(id), code: ErrorCode::NotJoined, message: "say hello first".into() }
}

fn is_too_large(error: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    matches!(error.into_inner().downcast_ref::<Error>(), Some(Error::Capacity(_)))
}

async fn send(sink: &mut Sink, frame: SharedText) -> Next {
    match sink.send(Message::Text(frame)).await {
        Ok(()) => Next::Continue,
        Err(_) => close(1000, "gone"),
    }
}

async fn reply(sink: &mut Sink, error: FrameError) -> Next {
    send(sink, error.encode()).await
}

/// Writes `first` and everything else already queued, then flushes once.
async fn write_batch(
    sink: &mut Sink,
    first: SharedText,
    queue: &mut mpsc::Receiver<SharedText>,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    while let Ok(frame) = queue.try_recv() {
        sink.feed(Message::Text(frame)).await?;
    }
    sink.flush().await
}
