//! What a cloud node and the venue say to each other about a remote page's command: the
//! command with who sent it, and the venue's answer, as JSON over NATS.

use serde::{Deserialize, Serialize};

use super::ErrorCode;
use crate::domain::{Actor, Command};

/// The message of `venue_unreachable`.
pub const VENUE_UNREACHABLE: &str = "the hall is offline; try again";

/// A remote page's command as a cloud node sends it to the venue.
#[derive(Debug, Serialize, Deserialize)]
pub struct RemoteCommand {
    pub actor: Actor,
    /// The sender's own id, which the venue remembers, so that a re-sent command is applied
    /// once.
    pub id: String,
    pub command: Command,
}

/// The venue's answer.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RemoteAnswer {
    Ack { seq: u64, warning: Option<String> },
    Rejected { code: ErrorCode, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_crosses_to_the_venue_unchanged() {
        let frames = [
            r#"{"type":"next","version":3}"#,
            r#"{"type":"extend","version":1,"seconds":-12.5}"#,
            r#"{"type":"plan_update_event","plan_version":2,"title":{"zh":"论坛","ja":null,"en":null},"venue":null,"start":"09:30","date":null,"time_zone":null}"#,
        ];
        for frame in frames {
            let command: Command = serde_json::from_str(frame).unwrap();
            let sent = serde_json::to_string(&command).unwrap();
            assert_eq!(serde_json::from_str::<Command>(&sent).unwrap(), command, "{sent}");
        }
    }
}
