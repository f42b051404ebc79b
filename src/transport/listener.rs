//! The accept loop: every TCP connection is served as HTTP/1.1 under a time limit for each
//! request head and a cap on connections per address and in all, until it becomes a
//! websocket or closes. Shutdown stops accepting at once and gives open connections a
//! deadline. No routing here: requests go to the router it is given.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::{debug, warn};

use crate::limits::Limits;

/// How long the loop waits before accepting again when the process is out of descriptors:
/// the error repeats at once otherwise, and the loop would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Connections that still speak HTTP (not websockets yet), by client address.
#[derive(Default)]
struct Pending {
    by_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// Why a new connection was turned away; the answer it gets before it is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Address,
    Server,
}

impl Refusal {
    fn response(self) -> &'static [u8] {
        match self {
            Refusal::Address => {
                b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\n\
                  Content-Length: 44\r\n\r\ntoo many HTTP connections from this address\n"
            }
            Refusal::Server => {
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n\
                  Content-Length: 34\r\n\r\ntoo many HTTP connections; retry\n\n"
            }
        }
    }
}

/// One connection counted as HTTP until it is dropped: when it closes or is upgraded.
struct PendingSlot {
    pending: Arc<Mutex<Pending>>,
    ip: IpAddr,
}

fn lock(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(|e| e.into_inner())
}

impl PendingSlot {
    fn take(pending: &Arc<Mutex<Pending>>, ip: IpAddr, limits: &Limits) -> Result<Self, Refusal> {
        let mut counts = lock(pending);
        if counts.total >= limits.max_http_connections {
            return Err(Refusal::Server);
        }
        let here = counts.by_ip.entry(ip).or_insert(0);
        if *here >= limits.max_http_connections_per_ip {
            return Err(Refusal::Address);
        }
        *here += 1;
        counts.total += 1;
        Ok(PendingSlot { pending: Arc::clone(pending), ip })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.pending);
        counts.total -= 1;
        if let Some(here) = counts.by_ip.get_mut(&self.ip) {
            *here -= 1;
            if *here == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

/// What every connection task needs.
pub struct Serving {
    pub router: Router,
    pub limits: Arc<Limits>,
    /// Stop accepting, and let open connections finish what they are doing.
    pub shutdown: CancellationToken,
    /// The shutdown deadline has passed: drop whatever is still open.
    pub hard_stop: CancellationToken,
    pub tracker: TaskTracker,
}

/// Accepts connections until shutdown, then returns, dropping the listener so that the
/// address is free at once. Each connection is served on the tracker.
pub async fn accept(listener: TcpListener, serving: Serving) {
    let pending = Arc::new(Mutex::new(Pending::default()));
    let serving = Arc::new(serving);
    loop {
        let (socket, peer) = tokio::select! {
            biased;
            () = serving.shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Frames are small and must go out at once: Nagle's algorithm would hold a frame back
        // for up to 40 ms waiting for the previous one's acknowledgement.
        if let Err(e) = socket.set_nodelay(true) {
            warn!(error = %e, "cannot set TCP_NODELAY");
        }
        match PendingSlot::take(&pending, peer.ip(), &serving.limits) {
            Ok(slot) => {
                serving.tracker.spawn(serve_connection(socket, peer, slot, Arc::clone(&serving)));
            }
            Err(refusal) => {
                debug!(%peer, ?refusal, "connection refused");
                // Best effort: a socket that cannot take these few bytes at once gets nothing.
                let _ = socket.try_write(refusal.response());
            }
        }
    }
}

/// Serves one connection; `_slot` counts it as HTTP for as long as this runs, which ends
/// when it closes or becomes a websocket.
async fn serve_connection(socket: TcpStream, peer: SocketAddr, _slot: PendingSlot, serving: Arc<Serving>) {
    let router = serving.router.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head timer runs from the moment the connection waits for a request, so it also
    // closes keep-alive connections left idle between requests.
    builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_millis(serving.limits.request_head_timeout_ms));
    let connection = builder.serve_connection(TokioIo::new(socket), service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        biased;
        () = serving.hard_stop.cancelled() => return,
        result = connection.as_mut() => return finished(result, peer),
        () = serving.shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        () = serving.hard_stop.cancelled() => {}
        result = connection.as_mut() => finished(result, peer),
    }
}

fn finished(result: hyper::Result<()>, peer: SocketAddr) {
    if let Err(e) = result {
        debug!(%peer, error = %e, "HTTP connection ended");
    }
}
