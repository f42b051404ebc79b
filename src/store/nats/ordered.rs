//! Reading an ordered consumer that may go quiet without an error (it does after a stream
//! leader changes): every quiet moment is checked against the stream itself, and a
//! subscription behind twice in a row is given up, for its follower to subscribe anew.

use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// How long a subscription may be quiet before the stream is asked whether it holds more.
pub(super) const FOLLOW_CHECK: Duration = Duration::from_millis(500);
/// How soon a follower that looked behind looks again before it subscribes anew: what was
/// stored at the moment of the check may still be on its way.
const RECHECK: Duration = Duration::from_millis(150);

/// A follower of one ordered consumer: how it checks a quiet moment and hands on a message.
pub(super) trait Follower {
    type Item: DeserializeOwned;

    /// Whether the stream holds more than `position` (`None`: it could not tell), asked in a
    /// quiet moment; `suspect` when it did at the last check. It may read what was missed
    /// itself, moving `position` on. `Err` ends the following.
    async fn check(&self, position: &mut u64, suspect: bool) -> Result<Option<bool>, ()>;

    /// Hands on the message at stream sequence `position`; `Err` ends the following.
    async fn deliver(&self, position: u64, item: Self::Item) -> Result<(), ()>;
}

/// Hands on what `messages` delivers after `position`, decoded, through `follower`, moving
/// `position` on; `Ok` when the subscription is lost or falls behind (subscribe again),
/// `Err` when `stop` or the follower ends the following.
pub(super) async fn read<F: Follower>(
    follower: &F,
    event: &str,
    what: &str,
    messages: &mut pull::Ordered,
    position: &mut u64,
    stop: &CancellationToken,
) -> Result<(), ()> {
    let mut suspect = false;
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return Err(()),
            message = messages.next() => message,
            () = tokio::time::sleep(if suspect { RECHECK } else { FOLLOW_CHECK }) => {
                match follower.check(position, suspect).await? {
                    Some(true) if suspect => {
                        warn!(event, position = *position, "fell behind {what}; following again");
                        return Ok(());
                    }
                    Some(behind) => suspect = behind,
                    None => {}
                }
                continue;
            }
        };
        let message = match message {
            Some(Ok(message)) => message,
            Some(Err(e)) => {
                warn!(event, error = %e, "lost {what}; following again");
                return Ok(());
            }
            None => return Ok(()),
        };
        let Ok(next) = message.info().map(|info| info.stream_sequence) else { continue };
        suspect = false;
        if next <= *position {
            continue;
        }
        match serde_json::from_slice(&message.payload) {
            Ok(item) => follower.deliver(next, item).await?,
            Err(e) => error!(event, position = next, error = %e, "a message of {what} does not decode"),
        }
        *position = next;
    }
}
