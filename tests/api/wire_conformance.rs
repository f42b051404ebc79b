//! Autobahn-style cases for the server's own websocket framing: raw client frames over TCP,
//! and what the server must answer to each, down to the code in its close frame.

use std::net::SocketAddr;
use std::time::Duration;

use eventhub::domain::Role;
use futures_util::future::join_all;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{hello_frame, spawn_app};

/// How long a case waits for each thing it expects; the server answers in milliseconds.
const PATIENCE: Duration = Duration::from_secs(3);

pub(crate) const FIN: u8 = 0x80;
const CONTINUATION: u8 = 0x0;
pub(crate) const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The smallest frame the server answers with a frame of its own, a JSON `pong`.
pub(crate) const JSON_PING: &[u8] = br#"{"type":"ping","t":1}"#;

/// A frame as a client sends it: masked, with the shortest length encoding.
pub(crate) fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    with_masked_payload(frame, payload)
}

/// A frame whose length takes the 64-bit form whatever its size: the server takes no message
/// of 64 KiB, the least that needs it.
fn masked_with_64_bit_length(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first, 0x80 | 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    with_masked_payload(frame, payload)
}

fn with_masked_payload(mut frame: Vec<u8>, payload: &[u8]) -> Vec<u8> {
    let mask = [0x5A, 0x13, 0xC7, 0x81];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn unmasked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}

/// A text message sent as these fragments, in order.
fn fragmented(pieces: &[&[u8]]) -> Vec<u8> {
    let last = pieces.len() - 1;
    let mut bytes = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { TEXT } else { CONTINUATION };
        let fin = if i == last { FIN } else { 0 };
        bytes.extend(masked(fin | opcode, piece));
    }
    bytes
}

/// A text message with every byte in a fragment of its own.
fn byte_by_byte(payload: &[u8]) -> Vec<u8> {
    let pieces: Vec<&[u8]> = payload.chunks(1).collect();
    fragmented(&pieces)
}

fn close_with(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    masked(FIN | CLOSE, &body)
}

/// A hello whose name needs multi-byte UTF-8, of two, three and four bytes a character.
const MANY_BYTE_NAME: &str = "Zoë 张伟 🎤";

fn hello_bytes(token: &str) -> Vec<u8> {
    hello_frame(token, MANY_BYTE_NAME).to_string().into_bytes()
}

/// Something the server must send, in order; its keep-alive pings and presence frames,
/// which come on their own schedule, are passed over.
#[derive(Clone, Debug)]
enum Reply {
    /// A JSON text frame of this type.
    Json(&'static str),
    /// A welcome that names the participant [`MANY_BYTE_NAME`].
    WelcomeWithTheName,
    Pong(Vec<u8>),
    /// A close frame with this code; the connection is over.
    Close(u16),
}

use Reply::{Close, Json, Pong, WelcomeWithTheName};

struct Case {
    name: String,
    /// Whether the connection says hello (and is welcomed) before the case's bytes.
    joined: bool,
    send: Vec<u8>,
    expect: Vec<Reply>,
}

fn joined(name: impl Into<String>, send: Vec<u8>, expect: Vec<Reply>) -> Case {
    Case { name: name.into(), joined: true, send, expect }
}

fn cases(token: &str) -> Vec<Case> {
    let mut cases = Vec::new();

    // Framing.
    for opcode in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        cases.push(joined(format!("reserved opcode {opcode:#x}"), masked(FIN | opcode, b"x"), vec![Close(1002)]));
    }
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        cases.push(joined(
            format!("reserved bits {rsv:#x} on text"),
            masked(FIN | rsv | TEXT, JSON_PING),
            vec![Close(1002)],
        ));
        cases.push(joined(
            format!("reserved bits {rsv:#x} on a ping"),
            masked(FIN | rsv | PING, b""),
            vec![Close(1002)],
        ));
    }
    cases.push(joined("an unmasked frame", unmasked(FIN | TEXT, JSON_PING), vec![Close(1002)]));
    let padded = [JSON_PING, &[b' '; 300]].concat();
    cases.push(joined("a 7-bit length", masked(FIN | TEXT, JSON_PING), vec![Json("pong")]));
    cases.push(joined("a 16-bit length", masked(FIN | TEXT, &padded), vec![Json("pong")]));
    cases.push(joined("a 64-bit length", masked_with_64_bit_length(FIN | TEXT, &padded), vec![Json("pong")]));

    // Fragmentation.
    let (head, tail) = JSON_PING.split_at(9);
    cases.push(joined("text in two fragments", fragmented(&[head, tail]), vec![Json("pong")]));
    cases.push(joined("text in a fragment a byte", byte_by_byte(JSON_PING), vec![Json("pong")]));
    cases.push(joined("text with empty fragments", fragmented(&[b"", head, b"", tail, b""]), vec![Json("pong")]));
    cases.push(joined("a continuation without a start", masked(FIN | CONTINUATION, JSON_PING), vec![Close(1002)]));
    cases.push(joined("an unfinished continuation without a start", masked(CONTINUATION, head), vec![Close(1002)]));
    let text_inside = [masked(TEXT, head), masked(FIN | TEXT, JSON_PING), masked(FIN | CONTINUATION, tail)].concat();
    cases.push(joined("a new text frame inside a fragmented one", text_inside, vec![Close(1002)]));
    let binary_inside = [masked(TEXT, head), masked(FIN | BINARY, b"x"), masked(FIN | CONTINUATION, tail)].concat();
    cases.push(joined("a binary frame inside a fragmented text", binary_inside, vec![Close(1002)]));

    // Control frames.
    cases.push(joined("an empty ping", masked(FIN | PING, b""), vec![Pong(Vec::new())]));
    cases.push(joined("a ping with a payload", masked(FIN | PING, b"hello"), vec![Pong(b"hello".to_vec())]));
    cases.push(joined("a ping of 125 bytes", masked(FIN | PING, &[0xFE; 125]), vec![Pong(vec![0xFE; 125])]));
    cases.push(joined("a ping of 126 bytes", masked(FIN | PING, &[0xFE; 126]), vec![Close(1002)]));
    cases.push(joined(
        "a fragmented ping",
        [masked(PING, b"a"), masked(FIN | CONTINUATION, b"b")].concat(),
        vec![Close(1002)],
    ));
    let ping_inside = [masked(TEXT, head), masked(FIN | PING, b"mid"), masked(FIN | CONTINUATION, tail)].concat();
    cases.push(joined("a ping between fragments", ping_inside, vec![Pong(b"mid".to_vec()), Json("pong")]));
    let unasked = [masked(FIN | PONG, b"unasked"), masked(FIN | TEXT, JSON_PING)].concat();
    cases.push(joined("a pong nobody asked for", unasked, vec![Json("pong")]));
    cases.push(joined("a close of 126 bytes", close_with(1000, &[b'x'; 124]), vec![Close(1002)]));

    // UTF-8. A hello carries text of the client's choosing, and its welcome gives the name
    // back: proof that the characters cut between fragments were put together again.
    let hello = hello_bytes(token);
    let cut = hello.windows(2).position(|w| w == [0xE5, 0xBC]).expect("张 starts with E5 BC") + 1;
    let (before, after) = hello.split_at(cut);
    let split_hello =
        |name: &str, send| Case { name: name.into(), joined: false, send, expect: vec![WelcomeWithTheName] };
    cases.push(split_hello("a character split between two fragments", fragmented(&[before, after])));
    cases.push(split_hello("every character split between fragments", byte_by_byte(&hello)));
    let invalid = vec![Json("error"), Close(1007)];
    // ED A0 80 would be U+D800, a surrogate, which UTF-8 may not encode.
    let not_utf8 = b"{\"type\":\"ping\",\"t\":1}\xED\xA0\x80";
    cases.push(joined("invalid UTF-8 in one frame", masked(FIN | TEXT, not_utf8), invalid.clone()));
    let across = fragmented(&[b"caf\xC3", b"("]);
    cases.push(joined("invalid UTF-8 across fragments", across, invalid.clone()));
    let truncated = fragmented(&[b"ok ", b"\xE5\xBC"]);
    cases.push(joined("a message ending inside a character", truncated, invalid.clone()));

    // Close frames.
    cases.push(joined("an empty close", masked(FIN | CLOSE, b""), vec![Close(1000)]));
    for code in [1000, 1001, 1003, 3000, 4999] {
        cases.push(joined(format!("close code {code}, which may be sent"), close_with(code, b""), vec![Close(1000)]));
    }
    cases.push(joined("a close with a UTF-8 reason", close_with(1001, "再见".as_bytes()), vec![Close(1000)]));
    cases.push(joined("a close body of one byte", masked(FIN | CLOSE, &[0x03]), vec![Close(1002)]));
    for code in [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        cases.push(joined(
            format!("close code {code}, which may not be sent"),
            close_with(code, b""),
            vec![Close(1002)],
        ));
    }
    cases.push(joined("a close reason that is not UTF-8", close_with(1000, b"bye\xFF"), invalid));
    cases
}

/// A websocket connection over raw TCP, past its upgrade: it answers nothing by itself, so
/// a test can be a client that never answers a ping or never reads.
pub(crate) struct Raw {
    stream: TcpStream,
    /// What has arrived and is not yet parsed.
    input: Vec<u8>,
}

impl Raw {
    pub(crate) async fn open(addr: SocketAddr) -> Result<Raw, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        Raw::over(stream, addr).await
    }

    /// Upgrades a connection the test made itself (with socket options of its own).
    pub(crate) async fn over(stream: TcpStream, addr: SocketAddr) -> Result<Raw, String> {
        let mut raw = Raw { stream, input: Vec::new() };
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        raw.send(request.as_bytes()).await?;
        let end = loop {
            if let Some(at) = raw.input.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            raw.read_more().await?;
        };
        let head = String::from_utf8_lossy(&raw.input[..end]).into_owned();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(format!("no upgrade: {head}"));
        }
        raw.input.drain(..end);
        Ok(raw)
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).await.map_err(|e| format!("send: {e}"))
    }

    async fn read_more(&mut self) -> Result<(), String> {
        self.read_more_by(tokio::time::Instant::now() + PATIENCE).await
    }

    async fn read_more_by(&mut self, deadline: tokio::time::Instant) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Err(_) => Err("the server said nothing in time".into()),
            Ok(Err(e)) => Err(format!("read: {e}")),
            Ok(Ok(0)) => Err("the server hung up without a close frame".into()),
            Ok(Ok(n)) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// The server's next frame, its opcode and payload. Server frames are unmasked and never
    /// fragmented; their length takes 7, 16 or 64 bits.
    async fn frame(&mut self) -> Result<(u8, Vec<u8>), String> {
        self.frame_by(tokio::time::Instant::now() + PATIENCE).await
    }

    /// Like [`Raw::frame`], for a frame that may take until `deadline` to come.
    pub(crate) async fn frame_by(&mut self, deadline: tokio::time::Instant) -> Result<(u8, Vec<u8>), String> {
        loop {
            if let Some((first, payload)) = self.parsed()? {
                if first & FIN == 0 {
                    return Err(format!("a fragmented server frame: {first:#x}"));
                }
                return Ok((first & 0x0F, payload));
            }
            self.read_more_by(deadline).await?;
        }
    }

    fn parsed(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        let [first, second, ..] = self.input[..] else { return Ok(None) };
        if second & 0x80 != 0 {
            return Err("a masked server frame".into());
        }
        let (header, len) = match second & 0x7F {
            126 if self.input.len() >= 4 => (4, u64::from(u16::from_be_bytes([self.input[2], self.input[3]]))),
            127 if self.input.len() >= 10 => (10, u64::from_be_bytes(self.input[2..10].try_into().unwrap())),
            126 | 127 => return Ok(None),
            n => (2, u64::from(n)),
        };
        let end = header + len as usize;
        if self.input.len() < end {
            return Ok(None);
        }
        let payload = self.input[header..end].to_vec();
        self.input.drain(..end);
        Ok(Some((first, payload)))
    }

    /// Reads until `reply` has come, passing over keep-alive pings and presence frames.
    async fn expect(&mut self, reply: &Reply) -> Result<(), String> {
        loop {
            let (opcode, payload) = self.frame().await?;
            let text = (opcode == TEXT).then(|| serde_json::from_slice::<Value>(&payload).unwrap_or_default());
            let seen = match (reply, opcode, &text) {
                (_, PING, _) => continue,
                (_, TEXT, Some(json)) if json["type"] == "presence" => continue,
                (Json(kind), TEXT, Some(json)) => json["type"] == *kind,
                (WelcomeWithTheName, TEXT, Some(json)) => {
                    json["type"] == "welcome" && json["you"]["name"] == MANY_BYTE_NAME
                }
                (Pong(expected), PONG, _) => payload == *expected,
                (Close(code), CLOSE, _) => payload.get(..2) == Some(&code.to_be_bytes()[..]),
                _ => false,
            };
            if seen {
                return Ok(());
            }
            let got = match (opcode, payload.get(..2)) {
                (CLOSE, Some(&[high, low])) => format!("a close with {}", u16::from_be_bytes([high, low])),
                _ => format!("opcode {opcode:#x} with {:?}", String::from_utf8_lossy(&payload)),
            };
            return Err(format!("expected {reply:?}, got {got}"));
        }
    }
}

async fn run(addr: SocketAddr, token: &str, case: &Case) -> Result<(), String> {
    let mut raw = Raw::open(addr).await?;
    if case.joined {
        raw.send(&masked(FIN | TEXT, hello_frame(token, "conformance").to_string().as_bytes())).await?;
        raw.expect(&Json("welcome")).await?;
    }
    raw.send(&case.send).await?;
    for reply in &case.expect {
        raw.expect(reply).await?;
    }
    Ok(())
}

#[tokio::test]
async fn the_server_frames_websockets_as_rfc_6455_asks() {
    let app = spawn_app().await;
    let token = app.token(Role::Attendee);
    let cases = cases(token);
    let outcomes = join_all(cases.iter().map(|case| run(app.addr, token, case))).await;
    let failed: Vec<String> = cases
        .iter()
        .zip(outcomes)
        .filter_map(|(case, outcome)| outcome.err().map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n"));

    let (mut client, _) = app.join(Role::Attendee, "after the cases").await;
    client.still_works().await;
}
