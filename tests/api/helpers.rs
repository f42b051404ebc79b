//! A real server on port 0 and a small typed websocket client for black-box tests.

use std::net::SocketAddr;
use std::path::PathBuf;
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

pub struct TestApp {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    tokens: Vec<(Role, String)>,
    _data: tempfile::TempDir,
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("debug").with_test_writer().try_init();
    }
}

/// Starts the server with the demo events on a fresh data dir and an OS-chosen port.
pub async fn spawn_app() -> TestApp {
    init_logs();
    let data = tempfile::tempdir().expect("a temporary data dir");
    let settings = Settings {
        server: ServerSettings {
            bind: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
            data_dir: data.path().to_path_buf(),
            events_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/events"),
        },
        tokens: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let server = Server::start(&settings, shutdown.clone()).expect("the server starts");
    let tokens = Role::ALL.iter().map(|&role| (role, server.token(EVENT, role).unwrap())).collect();
    let listener = server::bind(settings.server.bind).expect("port 0 binds");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve(listener));
    TestApp { addr, shutdown, tokens, _data: data }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    /// A connected socket that has not said hello.
    pub async fn connect(&self) -> Client {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws", self.addr)).await.expect("websocket connects");
        Client { ws, next_id: 0, version: 0, seq: 0 }
    }

    pub fn hello(&self, role: Role, name: &str) -> Value {
        json!({"type": "hello", "protocol": 1, "event": EVENT, "token": self.token(role),
               "name": name, "mode": "remote", "lang": "en"})
    }

    /// A client that has joined with `role` and read its welcome.
    pub async fn join(&self, role: Role, name: &str) -> (Client, Value) {
        let mut client = self.connect().await;
        client.send(self.hello(role, name)).await;
        let welcome = client.expect("welcome").await;
        client.version = welcome["snapshot"]["live"]["version"].as_u64().unwrap();
        client.seq = welcome["seq"].as_u64().unwrap();
        (client, welcome)
    }

    /// Status, headers and body of a plain HTTP GET.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_owned())
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// The live version this client last saw, as a console would send it.
    pub version: u64,
    /// The seq of the last change this client read.
    pub seq: u64,
}

/// How a connection ended, as the client saw it.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<CloseFrame>),
    Dropped,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("frame sent");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("frame sent");
    }

    /// Sends a command against the version this client last saw; returns its id.
    pub async fn command(&mut self, kind: &str, fields: Value) -> String {
        self.next_id += 1;
        let id = format!("c{}", self.next_id);
        let mut frame = json!({"type": kind, "id": id, "version": self.version});
        if let (Value::Object(frame), Value::Object(fields)) = (&mut frame, fields) {
            frame.extend(fields);
        }
        self.send(frame).await;
        id
    }

    /// The next text frame, skipping keep-alive control frames.
    pub async fn next_frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame arrives in time")
                .expect("the connection is open")
                .expect("the frame is readable");
            match message {
                Message::Text(text) => {
                    let frame: Value = serde_json::from_str(text.as_str()).expect("the server sends JSON");
                    if frame["type"] == "change" {
                        self.seq = frame["seq"].as_u64().unwrap();
                        if let Some(version) = frame["change"]["live"]["version"].as_u64() {
                            self.version = version;
                        }
                    }
                    return frame;
                }
                Message::Ping(_) | Message::Pong(_) => continue,
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

    /// Round-trips a ping, proving that the connection still works.
    pub async fn still_works(&mut self) {
        self.send(json!({"type": "ping", "t": 1.5})).await;
        let pong = self.expect("pong").await;
        assert_eq!(pong["t"], 1.5);
    }
}
