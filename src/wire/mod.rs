//! The websocket wire format (RFC 6455), as this server needs it: server frames are
//! encoded once, header and payload together, and the same bytes are written to every
//! socket; client frames are parsed from a connection's input with their size bounded
//! before a byte of payload is kept. tungstenite parses the frame headers.

pub mod outbound;

use std::io::Cursor;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// The longest server frame header: 2 bytes, then a 64-bit length.
const MAX_HEADER: usize = 10;

/// One encoded server frame, header included; cheap to clone and share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    /// A text frame whose payload `write` appends to the buffer it is given.
    pub fn text(write: impl FnOnce(&mut Vec<u8>)) -> Frame {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&[0; MAX_HEADER]);
        write(&mut buf);
        Frame::framed(0x1, buf)
    }

    /// A close frame with its status code and reason.
    pub fn close(code: u16, reason: &str) -> Frame {
        let mut buf = vec![0; MAX_HEADER];
        buf.extend_from_slice(&code.to_be_bytes());
        buf.extend_from_slice(reason.as_bytes());
        Frame::framed(0x8, buf)
    }

    pub fn ping() -> Frame {
        Frame::framed(0x9, vec![0; MAX_HEADER])
    }

    pub fn pong(payload: &[u8]) -> Frame {
        let mut buf = vec![0; MAX_HEADER];
        buf.extend_from_slice(payload);
        Frame::framed(0xA, buf)
    }

    /// Writes the header into the space reserved in front of the payload, so that the
    /// payload is never copied.
    fn framed(opcode: u8, mut buf: Vec<u8>) -> Frame {
        let len = buf.len() - MAX_HEADER;
        let start = match len {
            0..=125 => {
                buf[MAX_HEADER - 2..MAX_HEADER].copy_from_slice(&[0x80 | opcode, len as u8]);
                MAX_HEADER - 2
            }
            126..=0xFFFF => {
                buf[MAX_HEADER - 4..MAX_HEADER - 2].copy_from_slice(&[0x80 | opcode, 126]);
                buf[MAX_HEADER - 2..MAX_HEADER].copy_from_slice(&(len as u16).to_be_bytes());
                MAX_HEADER - 4
            }
            _ => {
                buf[0..2].copy_from_slice(&[0x80 | opcode, 127]);
                buf[2..MAX_HEADER].copy_from_slice(&(len as u64).to_be_bytes());
                0
            }
        };
        Frame(Bytes::from(buf).slice(start..))
    }

    /// Header and payload, as written to the socket.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The payload alone.
    pub fn payload(&self) -> &[u8] {
        let header = match self.0.get(1).map(|b| b & 0x7F) {
            Some(126) => 4,
            Some(127) => 10,
            _ => 2,
        };
        &self.0[header..]
    }

    /// The payload of a text frame as text; empty for other frames.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.payload()).unwrap_or_default()
    }
}

/// A whole message from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary,
    Ping(Vec<u8>),
    Pong,
    /// The client is closing, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why a client's input cannot be read further; the connection must close.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("a message over {0} bytes")]
    TooLarge(usize),
    #[error("a text message that is not UTF-8")]
    InvalidUtf8,
    #[error("a protocol violation: {0}")]
    Protocol(&'static str),
}

impl WireError {
    /// The close code RFC 6455 gives for it.
    pub fn close_code(&self) -> u16 {
        match self {
            WireError::TooLarge(_) => 1009,
            WireError::InvalidUtf8 => 1007,
            WireError::Protocol(_) => 1002,
        }
    }
}

/// A connection's unparsed input and the message being reassembled from fragments.
#[derive(Debug)]
pub struct Reader {
    /// Bytes read and not yet parsed; released when empty, so an idle connection holds none.
    input: Vec<u8>,
    /// A fragmented data message: whether it is text, and its payload so far.
    partial: Option<(bool, Vec<u8>)>,
    max_message: usize,
}

impl Reader {
    pub fn new(max_message: usize) -> Self {
        Reader { input: Vec::new(), partial: None, max_message }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The next whole message, if the input holds one.
    pub fn message(&mut self) -> Result<Option<Message>, WireError> {
        loop {
            let mut cursor = Cursor::new(&self.input[..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor).map_err(|_| WireError::Protocol("bad header"))?
            else {
                return Ok(None);
            };
            let Some(mask) = header.mask else { return Err(WireError::Protocol("an unmasked client frame")) };
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(WireError::Protocol("reserved bits set"));
            }
            if matches!(header.opcode, OpCode::Control(_)) && len > 125 {
                return Err(WireError::Protocol("a control frame over 125 bytes"));
            }
            let so_far = self.partial.as_ref().map_or(0, |(_, payload)| payload.len());
            if len > (self.max_message - so_far) as u64 {
                return Err(WireError::TooLarge(self.max_message));
            }
            let start = cursor.position() as usize;
            let end = start + len as usize;
            if self.input.len() < end {
                return Ok(None);
            }
            let mut payload = self.input[start..end].to_vec();
            self.consume(end);
            unmask(&mut payload, mask);
            if let Some(message) = self.assemble(header.opcode, header.is_final, payload)? {
                return Ok(Some(message));
            }
        }
    }

    fn consume(&mut self, n: usize) {
        if n == self.input.len() {
            self.input = Vec::new();
        } else {
            self.input.drain(..n);
        }
    }

    fn assemble(&mut self, opcode: OpCode, fin: bool, payload: Vec<u8>) -> Result<Option<Message>, WireError> {
        let control = |fin| if fin { Ok(()) } else { Err(WireError::Protocol("a fragmented control frame")) };
        match opcode {
            OpCode::Control(Control::Ping) => control(fin).map(|()| Some(Message::Ping(payload))),
            OpCode::Control(Control::Pong) => control(fin).map(|()| Some(Message::Pong)),
            OpCode::Control(Control::Close) => {
                control(fin)?;
                close_status(&payload).map(|code| Some(Message::Close(code)))
            }
            OpCode::Data(Data::Text | Data::Binary) if self.partial.is_some() => {
                Err(WireError::Protocol("a new message inside a fragmented one"))
            }
            OpCode::Data(Data::Text | Data::Binary) => {
                let text = opcode == OpCode::Data(Data::Text);
                if fin {
                    return whole(text, payload).map(Some);
                }
                self.partial = Some((text, payload));
                Ok(None)
            }
            OpCode::Data(Data::Continue) => {
                let Some((text, mut so_far)) = self.partial.take() else {
                    return Err(WireError::Protocol("a continuation without a message"));
                };
                so_far.extend_from_slice(&payload);
                if fin {
                    return whole(text, so_far).map(Some);
                }
                self.partial = Some((text, so_far));
                Ok(None)
            }
            _ => Err(WireError::Protocol("a reserved opcode")),
        }
    }
}

/// The status code of a client's close frame, checked as RFC 6455 asks (5.5.1, 7.4): the
/// body is empty, or a code that may be sent on the wire followed by a UTF-8 reason.
fn close_status(body: &[u8]) -> Result<Option<u16>, WireError> {
    let (code, reason) = match body {
        [] => return Ok(None),
        [_] => return Err(WireError::Protocol("a close body of one byte")),
        [high, low, reason @ ..] => (u16::from_be_bytes([*high, *low]), reason),
    };
    if !may_be_sent(code) {
        return Err(WireError::Protocol("a close code that may not be sent"));
    }
    std::str::from_utf8(reason).map_err(|_| WireError::InvalidUtf8)?;
    Ok(Some(code))
}

/// Close codes a peer may put in a close frame. Below 1000 is unused; 1004 is reserved;
/// 1005, 1006 and 1015 only report locally that no code, no close or no TLS came; 1016–2999
/// are kept for the protocol's future use; 3000–4999 belong to libraries and applications.
fn may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn whole(text: bool, payload: Vec<u8>) -> Result<Message, WireError> {
    if !text {
        return Ok(Message::Binary);
    }
    String::from_utf8(payload).map(Message::Text).map_err(|_| WireError::InvalidUtf8)
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests;
