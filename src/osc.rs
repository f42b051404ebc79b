//! OSC in: show commands from a lighting desk, QLab or Companion over UDP. An address is
//! `/eventhub/{event}/{command}` with the control API's command names (`next`,
//! `cue/go`, …); the first argument is the role token, since OSC has no authentication;
//! the rest are the command's own, in order. Applied as the control API applies them
//! (roles, budgets, double presses). A packet that is not that is counted, logged and
//! dropped: nothing a sender does stops the listener.

use std::collections::HashMap;
use std::net::SocketAddr;

use rosc::{OscMessage, OscPacket, OscType};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::metrics::Metrics;
use crate::transport::control::Control;

/// Larger than any UDP payload, so that no datagram is cut short.
const MAX_DATAGRAM: usize = 65_536;
const PREFIX: &str = "/eventhub/";

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
        let commands = match rosc::decoder::decode_udp(&buffer[..len]) {
            Ok((_, packet)) => messages(packet).into_iter().map(|m| command_of(&m)).collect(),
            Err(error) => vec![Err(format!("not an OSC packet: {error:?}"))],
        };
        for command in commands {
            match command {
                Ok(command) => apply(&control, &metrics, command, from).await,
                Err(why) => reject(&metrics, from, &why),
            }
        }
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
        "queue/next" => &["queue"],
        "cue/standby" => &["preset"],
        "cue/go" | "cue/cancel" => &["cue"],
        "stage/signal" => &["signal"],
        "stage/message" => &["text", "pinned"],
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
