//! A real server on port 0 and a small typed websocket client for black-box tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use eventhub::config::{ServerSettings, Settings};
use eventhub::domain::Role;
use eventhub::server::{self, Server};

pub const EVENT: &str = "sjtu-forum";
/// How long a test waits for a frame it expects before failing.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test waits for a whole HTTP answer, a websocket handshake or a server to stop:
/// generous, for a loaded machine; past it the server is taken to hang, and the test fails
/// saying so rather than hanging `cargo test`.
pub const HTTP_PATIENCE: Duration = Duration::from_secs(60);

pub struct TestApp {
    pub addr: SocketAddr,
    /// Where the server receives OSC, when the settings turn that on.
    pub osc: Option<SocketAddr>,
    configure: fn(&mut Settings),
    /// The events directory a restart reads in place of the settings', once a test chose one.
    events: Option<PathBuf>,
    shutdown: CancellationToken,
    serving: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    tokens: Vec<(Role, String)>,
    data: tempfile::TempDir,
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("debug").with_test_writer().try_init();
    }
}

/// The demo events shipped in config/events.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/events")
}

/// Starts the server with the demo events on a fresh data dir and an OS-chosen port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with settings changed by `configure` first.
pub async fn spawn_app_with(configure: fn(&mut Settings)) -> TestApp {
    init_logs();
    let data = tempfile::tempdir().expect("a temporary data dir");
    let (addr, shutdown, serving, tokens, osc) = serve(data.path(), "127.0.0.1:0".parse().unwrap(), configure, None);
    TestApp { addr, osc, configure, events: None, shutdown, serving: Some(serving), tokens, data }
}

type Serving = (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
    Vec<(Role, String)>,
    Option<SocketAddr>,
);

fn serve(data_dir: &Path, bind: SocketAddr, configure: fn(&mut Settings), events: Option<&Path>) -> Serving {
    let mut settings = Settings {
        server: ServerSettings {
            bind,
            public_url: None,
            data_dir: data_dir.to_path_buf(),
            events_dir: events_dir(),
            organizer_token: None,
            osc_bind: None,
        },
        tokens: Default::default(),
        limits: Default::default(),
        attendee_codes: Default::default(),
        cluster: None,
    };
    configure(&mut settings);
    if let Some(events) = events {
        settings.server.events_dir = events.to_path_buf();
    }
    let shutdown = CancellationToken::new();
    let server = Server::start(&settings, shutdown.clone()).expect("the server starts");
    // None when the demo is archived.
    let tokens = Role::ALL.iter().filter_map(|&role| server.token(EVENT, role).map(|token| (role, token))).collect();
    let listener = server::bind(bind).expect("the address binds");
    let addr = listener.local_addr().unwrap();
    let osc = server.osc_addr();
    (addr, shutdown, tokio::spawn(server.serve(listener)), tokens, osc)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// Shuts the server down gracefully and waits until it has stopped.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(HTTP_PATIENCE, serving)
                .await
                .unwrap_or_else(|_| panic!("the server did not stop within {HTTP_PATIENCE:?}"))
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }

    /// Starts the server again on the same address and data dir.
    pub async fn start_again(&mut self) {
        let events = self.events.as_deref();
        let (addr, shutdown, serving, tokens, osc) = serve(self.data.path(), self.addr, self.configure, events);
        self.osc = osc;
        assert_eq!(addr, self.addr);
        assert_eq!(tokens, self.tokens, "tokens survive a restart");
        self.shutdown = shutdown;
        self.serving = Some(serving);
    }

    /// Starts the server again on the same data dir, where the demo event is archived.
    pub async fn start_again_with_the_demo_archived(&mut self) {
        let events = self.events.as_deref();
        let (addr, shutdown, serving, tokens, osc) = serve(self.data.path(), self.addr, self.configure, events);
        self.osc = osc;
        assert!(tokens.is_empty(), "the archived demo does not run");
        self.shutdown = shutdown;
        self.serving = Some(serving);
        self.addr = addr;
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// Stops the server and starts it again on the same address and data dir, reading its
    /// event files from `events` from now on, as an operator who edited them would.
    pub async fn restart_with_events_dir(&mut self, events: &Path) {
        self.stop().await;
        self.events = Some(events.to_path_buf());
        self.start_again().await;
    }

    /// A token of any event this server runs, as kept in its data dir.
    pub fn event_token(&self, event: &str, role: Role) -> String {
        let text = std::fs::read_to_string(self.data.path().join("tokens.toml")).expect("the tokens file");
        let tokens: std::collections::HashMap<String, std::collections::HashMap<Role, String>> =
            toml::from_str(&text).expect("tokens parse");
        tokens[event][&role].clone()
    }

    /// The server-wide rooms token, as kept in its data dir.
    pub fn rooms_token(&self) -> String {
        std::fs::read_to_string(self.data.path().join("rooms-token")).expect("the rooms token file").trim().to_owned()
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    /// A connected socket that has not said hello.
    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// A client that reconnects with `resume`; the welcome is left to the test.
    pub async fn rejoin(&self, role: Role, name: &str, epoch: &str, seq: u64) -> Client {
        let mut client = self.connect().await;
        let mut hello = self.hello(role, name);
        hello["resume"] = json!({"epoch": epoch, "seq": seq});
        client.send(hello).await;
        client
    }

    pub fn hello(&self, role: Role, name: &str) -> Value {
        hello_frame(self.token(role), name)
    }

    /// A client that has joined with `role` and read its welcome.
    pub async fn join(&self, role: Role, name: &str) -> (Client, Value) {
        Client::join(self.addr, self.token(role), name).await
    }

    /// Status, headers and body of a plain HTTP GET.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.addr, path).await
    }
}

/// A TCP connection to the server, failing the test if it is not made in time.
pub async fn tcp_connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("no TCP connection to {addr} within {PATIENCE:?}"))
        .expect("the server accepts TCP connections")
}

/// Reads into `response` until the server closes the connection, as it does after an
/// HTTP/1.0 answer. A server that never closes fails the test after [`HTTP_PATIENCE`],
/// showing what it sent, instead of hanging `cargo test`.
pub async fn read_to_close(stream: &mut TcpStream, response: &mut Vec<u8>) -> std::io::Result<usize> {
    match tokio::time::timeout(HTTP_PATIENCE, stream.read_to_end(response)).await {
        Ok(read) => read,
        Err(_) => panic!(
            "the server did not finish its answer and close within {HTTP_PATIENCE:?}; it sent {:?}",
            String::from_utf8_lossy(response)
        ),
    }
}

/// Status, head and body of a whole HTTP answer.
fn parse_answer(response: &str) -> (u16, String, String) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// Status, lower-cased headers and body of a plain HTTP GET.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = tcp_connect(addr).await;
    // HTTP/1.0, so that the body comes whole rather than chunked.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    read_to_close(&mut stream, &mut response).await.unwrap();
    let (status, head, body) = parse_answer(&String::from_utf8(response).expect("the answer is UTF-8"));
    (status, head.to_ascii_lowercase(), body)
}

/// Status and body of an HTTP POST with a bearer token.
pub async fn http_post(addr: SocketAddr, path: &str, token: &str) -> (u16, String) {
    let mut stream = tcp_connect(addr).await;
    let request =
        format!("POST {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    read_to_close(&mut stream, &mut response).await.unwrap();
    let (status, _, body) = parse_answer(&String::from_utf8(response).expect("the answer is UTF-8"));
    (status, body)
}

/// Status and body of an HTTP request with the given headers and body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = tcp_connect(addr).await;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // A server that refuses a body from its head may answer and close before taking it all.
    let _ = tokio::time::timeout(HTTP_PATIENCE, stream.write_all(body))
        .await
        .unwrap_or_else(|_| panic!("the server took no more of the body for {HTTP_PATIENCE:?} and did not close"));
    let mut response = Vec::new();
    let _ = read_to_close(&mut stream, &mut response).await;
    let (status, _, body) = parse_answer(&String::from_utf8_lossy(&response));
    (status, body)
}

/// A hello frame for the demo event.
pub fn hello_frame(token: &str, name: &str) -> Value {
    json!({"type": "hello", "protocol": 1, "event": EVENT, "token": token, "name": name, "mode": "remote", "lang": "en"})
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The live version this client last saw, as a console would send it.
    pub version: u64,
    /// The live state this client last saw, from its welcome or a live change.
    pub live: Value,
    /// The seq of the last change this client read.
    pub seq: u64,
    /// Presence frames, which arrive on their own schedule, set aside from the others.
    pub presence: Vec<Value>,
    /// The server's close frame, once read.
    closed: Option<CloseFrame>,
}

/// How a connection ended, as the client saw it.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<CloseFrame>),
    Dropped,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio::time::timeout(HTTP_PATIENCE, tokio_tungstenite::connect_async(format!("ws://{addr}/ws")))
            .await
            .unwrap_or_else(|_| panic!("no websocket handshake within {HTTP_PATIENCE:?}"))
            .expect("websocket connects");
        Client::from_stream(ws)
    }

    /// A client over a socket the test set up itself.
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client { ws, version: 0, live: Value::Null, seq: 0, presence: Vec::new(), closed: None }
    }

    /// Connects, says hello with `token` and reads the welcome.
    pub async fn join(addr: SocketAddr, token: &str, name: &str) -> (Client, Value) {
        let mut client = Client::connect(addr).await;
        client.send(hello_frame(token, name)).await;
        let welcome = client.expect("welcome").await;
        client.version = welcome["snapshot"]["live"]["version"].as_u64().expect("a snapshot");
        client.live = welcome["snapshot"]["live"].clone();
        client.seq = welcome["seq"].as_u64().unwrap();
        (client, welcome)
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_raw(Message::Text(frame.to_string().into())).await;
    }

    /// Sends without failing the test when the server has already hung up.
    pub async fn try_send(&mut self, frame: Value) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let sent = self.ws.send(Message::Text(frame.to_string().into()));
        tokio::time::timeout(PATIENCE, sent).await.expect("the server takes the frame in time")
    }

    /// The close frame the server sent, once the connection has ended.
    pub fn close_frame(&self) -> Option<(u16, String)> {
        self.closed.as_ref().map(|frame| (u16::from(frame.code), frame.reason.to_string()))
    }

    pub async fn send_raw(&mut self, message: Message) {
        tokio::time::timeout(PATIENCE, self.ws.send(message))
            .await
            .expect("the server takes the frame in time")
            .expect("frame sent");
    }

    /// Sends a command; a show command goes against the version this client last saw.
    /// Returns the command's id.
    pub async fn command(&mut self, kind: &str, fields: Value) -> String {
        // Unique in the whole test run: a participant's ids must differ across its tabs, or
        // the server takes a second tab's command for a retry of the first's.
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = format!("c{}", NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mut frame = json!({"type": kind, "id": id});
        // Show commands name the show version this client saw; others carry their own fields.
        const SHOW: [&str; 10] =
            ["next", "previous", "goto", "next_speaker", "goto_speaker", "hold", "resume", "extend", "end", "undo"];
        if SHOW.contains(&kind) {
            frame["version"] = json!(self.version);
        }
        if let (Value::Object(frame), Value::Object(fields)) = (&mut frame, fields) {
            frame.extend(fields);
        }
        self.send(frame).await;
        id
    }

    /// Sends a command and reads up to its reply, which it returns.
    pub async fn run(&mut self, kind: &str, fields: Value) -> Value {
        let id = self.command(kind, fields).await;
        loop {
            let frame = self.next_frame().await;
            if frame["id"] == id.as_str() {
                return frame;
            }
        }
    }

    /// The next text frame, skipping keep-alive control frames.
    pub async fn next_frame(&mut self) -> Value {
        self.try_next_frame().await.expect("the connection is open")
    }

    /// The next text frame, or None once the connection is gone. One deadline for the
    /// frame: presence frames and keep-alives set aside meanwhile do not extend it.
    pub async fn try_next_frame(&mut self) -> Option<Value> {
        self.try_next_frame_within(PATIENCE).await
    }

    /// [`Client::try_next_frame`] for a frame the server may take longer than usual to send.
    pub async fn try_next_frame_within(&mut self, patience: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
            let message = match next.expect("a frame arrives in time") {
                Some(Ok(message)) => message,
                Some(Err(_)) | None => return None,
            };
            match message {
                Message::Text(text) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("the server sends JSON");
                    if frame["type"] == "presence" {
                        self.presence.push(frame);
                        continue;
                    }
                    if frame["type"] == "change" {
                        self.seq = frame["seq"].as_u64().unwrap();
                        if let Some(version) = frame["change"]["live"]["version"].as_u64() {
                            self.version = version;
                            self.live = frame["change"]["live"].clone();
                        }
                    }
                    return Some(frame);
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(frame) => {
                    self.closed = frame;
                    return None;
                }
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, which must be of type `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.next_frame().await;
        assert_eq!(frame["type"], kind, "expected a {kind} frame, got {frame}");
        frame
    }

    /// The next frame must be an error with `code`; returns it.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let frame = self.expect("error").await;
        assert_eq!(frame["code"], code, "{frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()), "errors explain themselves: {frame}");
        frame
    }

    /// Waits for the server to end the connection.
    pub async fn ended(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await.expect("the server ends the connection in time")
            {
                Some(Ok(Message::Close(frame))) => return Ended::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ended::Dropped,
            }
        }
    }

    /// Reads until a presence frame satisfies `ok` and returns it; other frames are dropped.
    pub async fn presence_until(&mut self, ok: impl Fn(&Value) -> bool) -> Value {
        self.presence_within(PATIENCE, ok).await
    }

    /// Like [`Client::presence_until`], waiting up to `patience`: for what depends on many
    /// other clients, which a loaded machine takes its time to connect.
    pub async fn presence_within(&mut self, patience: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        // One deadline for the whole wait: keep-alive pings must not keep a failing wait going.
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(found) = self.presence.iter().rev().find(|p| ok(p)) {
                return found.clone();
            }
            self.presence.clear();
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("the awaited presence frame arrives in time")
                .expect("the connection is open")
                .expect("the frame is readable");
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str()).expect("the server sends JSON");
                if frame["type"] == "presence" {
                    self.presence.push(frame);
                }
            }
        }
    }

    /// Round-trips a ping, proving that the connection still works.
    pub async fn still_works(&mut self) {
        self.send(json!({"type": "ping", "t": 1.5})).await;
        let pong = self.expect("pong").await;
        assert_eq!(pong["t"], 1.5);
    }
}

/// Runs `script` with the tests' python (`EVENTHUB_PYTHON`, which `./test` sets up with
/// `library`, e.g. "openpyxl 3.1.5") on `args`; returns what it printed, as JSON.
pub async fn python_json(script: &str, args: &[&Path], library: &str) -> Value {
    let python = std::env::var("EVENTHUB_PYTHON")
        .unwrap_or_else(|_| panic!("run through ./test, or set EVENTHUB_PYTHON to a python with {library}"));
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("python runs ({e}): install {library} (./test does)"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}
