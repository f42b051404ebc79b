//! OSC in: show commands from a lighting desk, QLab or Companion over UDP. An address is
//! `/eventhub/{event}/{command}` with the control API's command names (`next`,
//! `cue/go`, …); the first argument is the role token, since OSC has no authentication;
//! the rest are the command's own, in order. Applied as the control API applies them
//! (roles, budgets, double presses). A packet that is not that is counted, logged and
//! dropped: nothing a sender does stops the listener. A datagram's structure is checked,
//! bounded and without deep recursion, before rosc decodes it, since rosc's decoder recurses
//! into bundles and a packet of thousands of nested bundles would overflow the stack.

use std::collections::HashMap;
use std::net::SocketAddr;

use rosc::{OscMessage, OscPacket, OscType};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::app::control::Control;
use crate::metrics::Metrics;

/// Larger than any UDP payload, so that no datagram is cut short.
const MAX_DATAGRAM: usize = 65_536;
const PREFIX: &str = "/eventhub/";
/// Bundles nest at most this deep (a packet that is a bundle is at depth 1), and arrays in a
/// message's arguments too: a desk sends one level, a script a few.
pub const MAX_DEPTH: usize = 8;
/// Messages in one packet at most; each is a show command, as many as a cue list fires at once.
pub const MAX_MESSAGES: usize = 64;
const BUNDLE_TAG: &[u8] = b"#bundle\0";

/// A message read as a command: which event, which command, the token and the arguments
/// by the names the control API gives them.
#[derive(Debug, PartialEq)]
pub struct OscCommand {
    pub event: String,
    pub command: String,
    pub token: String,
    pub args: HashMap<String, String>,
}

/// Serves OSC on `socket` until `shutdown`.
pub async fn serve(socket: UdpSocket, control: Control, metrics: std::sync::Arc<Metrics>, shutdown: CancellationToken) {
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        let (len, from) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                Err(error) => {
                    // An ICMP error from an earlier send, or a full buffer: the socket itself is fine.
                    debug!(%error, "an OSC datagram could not be read");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let commands = match decode(&buffer[..len]) {
            Ok(messages) => messages.iter().map(command_of).collect::<Vec<_>>(),
            Err(why) => {
                reject(&metrics, from, &why);
                continue;
            }
        };
        for command in commands {
            match command {
                Ok(command) => apply(&control, &metrics, command, from).await,
                Err(why) => reject(&metrics, from, &why),
            }
        }
    }
}

/// The messages of a datagram, in order, or why the whole datagram is dropped.
pub fn decode(datagram: &[u8]) -> Result<Vec<OscMessage>, String> {
    let mut census = Census::default();
    census.packet(datagram, 0)?;
    match rosc::decoder::decode_udp(datagram) {
        // rosc stops at a bundle element it cannot read and leaves it unread.
        Ok((rest, _)) if !rest.is_empty() => Err("not an OSC packet: an element rosc cannot read".into()),
        Ok((_, packet)) => Ok(messages(packet)),
        Err(error) => Err(format!("not an OSC packet: {error:?}")),
    }
}

async fn apply(control: &Control, metrics: &Metrics, command: OscCommand, from: SocketAddr) {
    let OscCommand { event, command, token, args } = command;
    let answer = control.run(&event, &command, args, &token, None).await;
    if answer.status.is_success() {
        Metrics::count(&metrics.osc_packets, "accepted");
        debug!(%from, event, command, "OSC command applied");
    } else {
        let code = answer.body["code"].as_str().unwrap_or_default().to_owned();
        let message = answer.body["message"].as_str().unwrap_or_default().to_owned();
        Metrics::count(&metrics.osc_packets, "rejected");
        warn!(%from, event, command, code, message, "OSC command refused");
    }
}

fn reject(metrics: &Metrics, from: SocketAddr, why: &str) {
    Metrics::count(&metrics.osc_packets, "rejected");
    warn!(%from, why, "OSC packet dropped");
}

/// The messages of a packet, bundles opened (their time tags are not honoured: a show
/// command is applied when it arrives).
fn messages(packet: OscPacket) -> Vec<OscMessage> {
    match packet {
        OscPacket::Message(message) => vec![message],
        OscPacket::Bundle(bundle) => bundle.content.into_iter().flat_map(messages).collect(),
    }
}

/// A datagram's structure, checked as OSC 1.0 lays it out, before anything decodes it: bundles
/// (their header, each element's size a positive multiple of 4 within the bundle, nesting at
/// most `MAX_DEPTH`, at least one element) and messages (address, type tags rosc reads,
/// closed arrays at most `MAX_DEPTH` deep, arguments that fill the message exactly), at most
/// `MAX_MESSAGES` of them. Recursion is bounded by `MAX_DEPTH`.
#[derive(Default)]
struct Census {
    messages: usize,
}

impl Census {
    fn packet(&mut self, bytes: &[u8], depth: usize) -> Result<(), String> {
        if let Some(bundle) = bytes.strip_prefix(BUNDLE_TAG) {
            return self.bundle(bundle, depth + 1);
        }
        if bytes.first() != Some(&b'/') {
            return Err("neither a message nor a bundle".into());
        }
        self.messages += 1;
        if self.messages > MAX_MESSAGES {
            return Err(format!("more than {MAX_MESSAGES} messages in one packet"));
        }
        message(bytes)
    }

    /// A bundle after its `#bundle` tag: the time tag, then its elements.
    fn bundle(&mut self, bytes: &[u8], depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("bundles nested deeper than {MAX_DEPTH}"));
        }
        let mut rest = bytes.get(8..).ok_or("a bundle cut short in its time tag")?;
        if rest.is_empty() {
            return Err("an empty bundle".into());
        }
        while !rest.is_empty() {
            let (size, after) = rest.split_first_chunk::<4>().ok_or("bytes after a bundle's last element")?;
            let size = u32::from_be_bytes(*size) as usize;
            if size == 0 || !size.is_multiple_of(4) {
                return Err(format!("a bundle element of {size} bytes, not a positive multiple of 4"));
            }
            if size > after.len() {
                return Err(format!("a bundle element of {size} bytes, longer than the bundle"));
            }
            let (element, next) = after.split_at(size);
            self.packet(element, depth)?;
            rest = next;
        }
        Ok(())
    }
}

/// A message: its address, its type tags and each argument, filling `bytes` exactly.
fn message(bytes: &[u8]) -> Result<(), String> {
    let mut reader = Reader { bytes, at: 0 };
    reader.string()?;
    let tags = reader.string()?;
    let tags = tags.strip_prefix(',').ok_or("a message without type tags")?;
    let mut arrays = 0;
    for tag in tags.chars() {
        match tag {
            'i' | 'f' | 'c' | 'r' | 'm' => reader.skip(4)?,
            'h' | 'd' | 't' => reader.skip(8)?,
            's' => reader.string().map(drop)?,
            'b' => {
                let size = reader.take(4)?;
                let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
                reader.skip(size.div_ceil(4) * 4)?;
            }
            'T' | 'F' | 'N' | 'I' => {}
            '[' if arrays == MAX_DEPTH => return Err(format!("arrays nested deeper than {MAX_DEPTH}")),
            '[' => arrays += 1,
            ']' if arrays == 0 => return Err("an array closed that was not opened".into()),
            ']' => arrays -= 1,
            other => return Err(format!("an unknown type tag {other:?}")),
        }
    }
    if arrays > 0 {
        return Err("an array that is not closed".into());
    }
    if reader.at != bytes.len() {
        return Err("bytes after a message's last argument".into());
    }
    Ok(())
}

/// A cursor over one message; OSC pads strings and blobs to 4 bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or("a message cut short")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn skip(&mut self, len: usize) -> Result<(), String> {
        self.take(len).map(drop)
    }

    /// A NUL-terminated UTF-8 string, padded with NULs to 4 bytes.
    fn string(&mut self) -> Result<&'a str, String> {
        let rest = &self.bytes[self.at..];
        let len = rest.iter().position(|&b| b == 0).ok_or("a string without its NUL")?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| "a string that is not UTF-8")?;
        self.skip((len / 4 + 1) * 4)?;
        Ok(text)
    }
}

/// What a message asks for, or why it cannot be a command.
pub fn command_of(message: &OscMessage) -> Result<OscCommand, String> {
    let path = message.addr.strip_prefix(PREFIX).ok_or_else(|| format!("{:?} is not under {PREFIX}", message.addr))?;
    let (event, command) = path.split_once('/').ok_or_else(|| format!("{:?} names no command", message.addr))?;
    let mut values = message.args.iter().map(text_of);
    let token = match values.next() {
        Some(Some(token)) if !token.is_empty() => token,
        _ => return Err(format!("{}: the first argument must be the role token", message.addr)),
    };
    let mut args = HashMap::new();
    for (name, value) in names(command, message.args.get(1)).iter().zip(values) {
        let value = value.ok_or_else(|| format!("{}: {name} must be a string or a number", message.addr))?;
        args.insert((*name).to_owned(), value);
    }
    Ok(OscCommand { event: event.to_owned(), command: command.to_owned(), token, args })
}

/// The names of a command's arguments after the token, in order. `goto` takes a segment
/// id, or a number that is the segment's index.
fn names(command: &str, first: Option<&OscType>) -> &'static [&'static str] {
    match command {
        "goto" if first.is_some_and(|a| matches!(a, OscType::Int(_) | OscType::Long(_))) => &["index"],
        "goto" => &["segment"],
        "extend" => &["seconds"],
        "queue/next" | "queue/close" | "queue/open" => &["queue"],
        "queue/side" => &["entry", "side", "queue"],
        "queue/policy" => &["policy", "queue"],
        "cue/standby" => &["preset"],
        "cue/go" | "cue/cancel" => &["cue"],
        "stage/signal" => &["signal"],
        "stage/message" => &["text", "pinned"],
        "stage/blackout" | "stage/on_air" => &["on"],
        "stage/fullscreen" => &["text", "seconds"],
        "timer/create" => &["name", "direction", "seconds", "timer"],
        "timer/start" | "timer/pause" | "timer/toggle" | "timer/reset" | "timer/remove" => &["timer"],
        "timer/adjust" => &["timer", "seconds"],
        "timer/show" => &["timer", "stage", "cues"],
        "note/read" => &["note"],
        "question/highlight" | "question/answer" => &["question"],
        "poll/open" | "poll/close" | "poll/show" | "poll/hide" => &["poll"],
        _ => &[],
    }
}

/// An argument as the control API reads it; desks send numbers as ints or floats.
fn text_of(value: &OscType) -> Option<String> {
    match value {
        OscType::String(text) => Some(text.clone()),
        OscType::Int(n) => Some(n.to_string()),
        OscType::Long(n) => Some(n.to_string()),
        OscType::Float(x) if x.fract() == 0.0 => Some(format!("{x:.0}")),
        OscType::Double(x) if x.fract() == 0.0 => Some(format!("{x:.0}")),
        OscType::Float(x) => Some(x.to_string()),
        OscType::Double(x) => Some(x.to_string()),
        OscType::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(addr: &str, args: Vec<OscType>) -> OscMessage {
        OscMessage { addr: addr.into(), args }
    }

    fn string(text: &str) -> OscType {
        OscType::String(text.into())
    }

    #[test]
    fn a_command_takes_the_token_then_its_own_arguments() {
        let goto = command_of(&message("/eventhub/forum/goto", vec![string("t"), string("keynote")])).unwrap();
        assert_eq!((goto.event.as_str(), goto.command.as_str(), goto.token.as_str()), ("forum", "goto", "t"));
        assert_eq!(goto.args, HashMap::from([("segment".to_owned(), "keynote".to_owned())]));
        let by_index = command_of(&message("/eventhub/forum/goto", vec![string("t"), OscType::Int(2)])).unwrap();
        assert_eq!(by_index.args["index"], "2");
        let extend = command_of(&message("/eventhub/forum/extend", vec![string("t"), OscType::Float(60.0)])).unwrap();
        assert_eq!(extend.args["seconds"], "60");
        let go = command_of(&message("/eventhub/forum/cue/go", vec![string("t"), OscType::Int(7)])).unwrap();
        assert_eq!((go.command.as_str(), go.args["cue"].as_str()), ("cue/go", "7"));
        let next = command_of(&message("/eventhub/forum/next", vec![string("t"), string("extra")])).unwrap();
        assert!(next.args.is_empty(), "arguments a command does not take are ignored");
    }

    #[test]
    fn the_queue_commands_take_their_entry_side_policy_and_queue_in_order() {
        let args = |command: &str, values: Vec<OscType>| {
            let mut all = vec![string("t")];
            all.extend(values);
            command_of(&message(&format!("/eventhub/forum/{command}"), all)).unwrap().args
        };
        let side = args("queue/side", vec![OscType::Int(3), string("jp"), string("round-table")]);
        assert_eq!((side["entry"].as_str(), side["side"].as_str(), side["queue"].as_str()), ("3", "jp", "round-table"));
        assert_eq!(args("queue/side", vec![OscType::Int(3), string("")])["side"], "", "an empty side clears it");
        assert_eq!(args("queue/policy", vec![string("balanced")])["policy"], "balanced");
        assert_eq!(args("queue/close", vec![string("event")])["queue"], "event");
        assert!(args("queue/open", vec![]).is_empty(), "the live segment's queue");
    }

    fn encode(packet: &OscPacket) -> Vec<u8> {
        rosc::encoder::encode(packet).unwrap()
    }

    fn next(token: &str) -> OscPacket {
        OscPacket::Message(message("/eventhub/forum/next", vec![string(token)]))
    }

    fn bundle(content: Vec<OscPacket>) -> OscPacket {
        OscPacket::Bundle(rosc::OscBundle { timetag: (0, 1).into(), content })
    }

    /// `bytes` as one element of a bundle, its size written as given.
    fn bundle_of(size: u32, bytes: &[u8]) -> Vec<u8> {
        let mut packet = b"#bundle\0\0\0\0\0\0\0\0\x01".to_vec();
        packet.extend(size.to_be_bytes());
        packet.extend(bytes);
        packet
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut packet = encode(&next("t"));
        for _ in 0..depth {
            packet = bundle_of(packet.len() as u32, &packet);
        }
        packet
    }

    #[test]
    fn bundles_nest_eight_deep_at_most_and_thousands_deep_are_refused_without_recursing() {
        assert_eq!(decode(&nested(MAX_DEPTH)).unwrap().len(), 1);
        assert!(decode(&nested(MAX_DEPTH + 1)).unwrap_err().contains("deeper than 8"));
        assert!(decode(&nested(3_000)).unwrap_err().contains("deeper than 8"));
    }

    #[test]
    fn a_packet_holds_sixty_four_messages_at_most() {
        let full = bundle((0..MAX_MESSAGES).map(|_| next("t")).collect());
        assert_eq!(decode(&encode(&full)).unwrap().len(), MAX_MESSAGES);
        let over = bundle((0..=MAX_MESSAGES).map(|_| next("t")).collect());
        assert!(decode(&encode(&over)).unwrap_err().contains("more than 64"));
    }

    #[test]
    fn malformed_packets_are_refused_whole() {
        let message = encode(&next("t"));
        let size = message.len() as u32;
        let mut trailing = bundle_of(size, &message);
        trailing.extend([0, 0]);
        let mut unclosed = b"/eventhub/forum/next\0\0\0\0,[s\0".to_vec();
        unclosed.extend(b"t\0\0\0");
        let mut message_with_more = message.clone();
        message_with_more.extend([0, 0, 0, 0]);
        for (why, packet) in [
            ("empty", encode(&bundle(vec![]))),
            ("size 0", bundle_of(0, &message)),
            ("size not a multiple of 4", bundle_of(size - 2, &message)),
            ("size past the end", bundle_of(size + 4, &message)),
            ("trailing bytes", trailing),
            ("an element that is neither", bundle_of(8, b"garbage!")),
            ("cut short in its time tag", b"#bundle\0\0\0".to_vec()),
            ("unclosed array", unclosed),
            ("array closed unopened", b"/eventhub/forum/next\0\0\0\0,]\0\0".to_vec()),
            ("arrays 9 deep", b"/a\0\0,[[[[[[[[[]]]]]]]]]\0".to_vec()),
            ("unknown type tag", b"/a\0\0,x\0\0".to_vec()),
            ("no type tags", b"/a\0\0".to_vec()),
            ("bytes after the arguments", message_with_more),
            ("a string cut short", b"/a\0\0,s\0\0abcd".to_vec()),
            ("a blob past the end", b"/a\0\0,b\0\0\0\0\0\x08abcd".to_vec()),
            ("not OSC", b"\xffnot osc at all".to_vec()),
        ] {
            assert!(decode(&packet).is_err(), "{why}: {packet:?}");
        }
        let arrays = b"/a\0\0,[[[[[[[[]]]]]]]]\0\0\0";
        assert!(decode(arrays).is_ok(), "arrays 8 deep are fine");
    }

    #[test]
    fn what_is_not_a_command_says_why() {
        for (addr, args) in [
            ("/other/forum/next", vec![string("t")]),
            ("/eventhub/forum", vec![string("t")]),
            ("/eventhub/forum/next", vec![]),
            ("/eventhub/forum/next", vec![OscType::Nil]),
            ("/eventhub/forum/next", vec![string("")]),
            ("/eventhub/forum/stage/message", vec![string("t"), OscType::Blob(vec![1])]),
        ] {
            assert!(command_of(&message(addr, args.clone())).is_err(), "{addr} {args:?}");
        }
    }
}
