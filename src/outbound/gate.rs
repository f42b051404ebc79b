//! Once across a cluster: every node works out each automation output, and only the node
//! holding the event's lease sends it. The holder records each output's mark in the lease
//! before it sends it and renews the lease every second; the others keep what they worked
//! out until the lease shows it was sent. When the lease stops moving (its holder died),
//! another node takes it over and sends what came after the last recorded mark, in order.
//! Recording before sending makes a holder's death lose at most the output it was sending,
//! never send one twice: a desk that gets a GO twice runs two cues.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::domain::Millis;
use crate::store::nats::{Lease, LeaseError};

/// How often the holder renews the lease and the others look at it.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);
/// How long a lease may stand still before another node takes it over.
pub const LAPSE: Duration = Duration::from_secs(3);
/// Outputs a node keeps while another holds the lease, at most: a holder this far ahead
/// has recorded them long since.
const KEPT: usize = 256;

/// Where one firing stands in the event, the same on every node: the change it came with
/// (`at` 0), or the threshold crossed after the change (`at` its time), then its order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mark {
    pub seq: u64,
    pub at: Millis,
    pub n: u32,
}

impl Mark {
    /// The mark after `self` for a firing of change `seq`, or of the threshold at `at`.
    pub fn next(self, seq: u64, at: Millis) -> Mark {
        let n = if self.seq == seq && self.at == at { self.n + 1 } else { 0 };
        Mark { seq, at, n }
    }
}

enum Turn {
    /// No cluster: every output is sent here.
    Alone,
    Holding {
        revision: u64,
    },
    /// Another node holds the lease: its revision, when this node saw it move.
    Standing {
        seen: Option<(u64, Instant)>,
    },
}

/// Which outputs of one event this node sends; `T` is one firing's outputs.
pub struct Gate<T> {
    lease: Option<Lease>,
    turn: Turn,
    waiting: VecDeque<(Mark, T)>,
    /// The newest mark passed here.
    last: Mark,
}

impl<T> Gate<T> {
    /// A gate that lets everything through at once, for a server on its own.
    pub fn alone() -> Self {
        Gate { lease: None, turn: Turn::Alone, waiting: VecDeque::new(), last: Mark::default() }
    }

    /// A gate on the event's lease; it holds nothing until its first [`Gate::tick`].
    pub fn shared(lease: Lease) -> Self {
        Gate {
            lease: Some(lease),
            turn: Turn::Standing { seen: None },
            waiting: VecDeque::new(),
            last: Mark::default(),
        }
    }

    /// The outputs of the firing at `mark`: back to send now, or kept for later.
    pub async fn pass(&mut self, mark: Mark, outputs: T) -> Option<T> {
        self.last = self.last.max(mark);
        let (Some(lease), Turn::Holding { revision }) = (&self.lease, &mut self.turn) else {
            if matches!(self.turn, Turn::Alone) {
                return Some(outputs);
            }
            self.keep(mark, outputs);
            return None;
        };
        match lease.set(&mark, *revision).await {
            Ok(next) => *revision = next,
            Err(LeaseError::Taken) => {
                warn!("another node took the automations' lease");
                self.turn = Turn::Standing { seen: None };
                self.keep(mark, outputs);
                return None;
            }
            // Nobody can take the lease without NATS either: the show goes on from here.
            Err(LeaseError::Unavailable(e)) => warn!(error = %e, "cannot record an automation output; sending it"),
        }
        Some(outputs)
    }

    fn keep(&mut self, mark: Mark, outputs: T) {
        if self.waiting.len() == KEPT {
            self.waiting.pop_front();
        }
        self.waiting.push_back((mark, outputs));
    }

    /// Renews the lease, or looks at it and takes it over when its holder has gone quiet;
    /// returns what this node must send now that it holds it, in order.
    pub async fn tick(&mut self) -> Vec<T> {
        let Some(lease) = &self.lease else { return Vec::new() };
        match &mut self.turn {
            Turn::Alone => Vec::new(),
            Turn::Holding { revision } => {
                match lease.set(&self.last, *revision).await {
                    Ok(next) => *revision = next,
                    Err(LeaseError::Taken) => self.turn = Turn::Standing { seen: None },
                    Err(LeaseError::Unavailable(e)) => warn!(error = %e, "cannot renew the automations' lease"),
                }
                Vec::new()
            }
            Turn::Standing { seen } => {
                let holding = match lease.read::<Mark>().await {
                    Ok(holding) => holding,
                    Err(e) => {
                        warn!(error = %e, "cannot read the automations' lease");
                        return Vec::new();
                    }
                };
                let Some(holding) = holding else {
                    return match lease.create(&self.last).await {
                        Ok(revision) => self.take(revision),
                        Err(_) => Vec::new(),
                    };
                };
                self.waiting.retain(|(mark, _)| *mark > holding.progress);
                let now = Instant::now();
                let lapsed = match *seen {
                    Some((revision, since)) if revision == holding.revision => now - since >= LAPSE,
                    _ => {
                        *seen = Some((holding.revision, now));
                        false
                    }
                };
                if holding.holder.is_some() && !lapsed {
                    return Vec::new();
                }
                let progress = self.last.max(holding.progress);
                match lease.set(&progress, holding.revision).await {
                    Ok(revision) => {
                        info!(holder = ?holding.holder, "took over the automations' lease");
                        self.last = progress;
                        self.take(revision)
                    }
                    Err(_) => Vec::new(),
                }
            }
        }
    }

    fn take(&mut self, revision: u64) -> Vec<T> {
        self.turn = Turn::Holding { revision };
        self.waiting.drain(..).map(|(_, outputs)| outputs).collect()
    }

    /// Lets the lease go, so that another node takes it at once rather than after
    /// [`LAPSE`].
    pub async fn release(&mut self) {
        if let (Some(lease), Turn::Holding { revision }) = (&self.lease, &self.turn) {
            if let Err(e) = lease.release(&self.last, *revision).await {
                warn!(error = %e, "cannot hand the automations' lease over");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Mark;

    #[test]
    fn a_change_s_firings_come_before_the_thresholds_after_it_and_before_the_next_change() {
        let start = Mark { seq: 7, ..Mark::default() };
        let first = start.next(8, 0);
        let second = first.next(8, 0);
        let warning = second.next(8, 1_000);
        let danger = warning.next(8, 2_000);
        let next_change = danger.next(9, 0);
        assert_eq!((first.n, second.n, warning.n), (0, 1, 0));
        assert!(start < first && first < second && second < warning && warning < danger && danger < next_change);
    }
}
