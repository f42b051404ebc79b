//! Per-connection flood control: a token bucket for frames, and the rule for when sustained
//! abuse ends the connection. Pure: time is passed in.

use serde::Deserialize;

use crate::domain::Millis;

/// Limits a server enforces, from the `[limits]` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Joined connections one event holds; more get `event_full`.
    pub max_connections_per_event: usize,
    /// Websocket connections from one IP address; more get HTTP 429. A hotel's NAT puts a
    /// whole hall behind one address, so this is generous.
    pub max_connections_per_ip: usize,
    /// Frames a connection may send per second, on average.
    pub frames_per_second: u32,
    /// Frames a connection may send at once, above the average.
    pub frame_burst: u32,
    /// Origins whose pages may open a websocket. Empty: only pages served by this host.
    pub allowed_origins: Vec<String>,
    /// A connection waiting for a request head (a new one, or one kept alive between
    /// requests) is closed after this long.
    pub request_head_timeout_ms: u64,
    /// Connections still speaking HTTP (not websockets) from one address; more are refused
    /// with 429, so that one address cannot use up the server's file descriptors.
    pub max_http_connections_per_ip: usize,
    /// Connections still speaking HTTP in all; more are refused with 503.
    pub max_http_connections: usize,
    /// After SIGTERM, how long open connections get to finish before they are dropped and
    /// the store is closed.
    pub shutdown_grace_ms: u64,
    /// A show command from the control API identical to one from the same role's token
    /// this recently is answered with the first one's answer, not applied again.
    pub api_double_press_ms: Millis,
    /// Where automations may send: host names, addresses and networks (`10.0.0.0/8`).
    /// Empty: anywhere but link-local addresses (docs/integrations.md).
    pub automation_destinations: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections_per_event: 25_000,
            max_connections_per_ip: 2_000,
            frames_per_second: 20,
            frame_burst: 40,
            allowed_origins: Vec::new(),
            request_head_timeout_ms: 10_000,
            max_http_connections_per_ip: 256,
            max_http_connections: 4096,
            shutdown_grace_ms: 5_000,
            api_double_press_ms: 1_000,
            automation_destinations: Vec::new(),
        }
    }
}

/// Rejected frames a connection may accumulate before it is closed; halved every
/// [`STRIKE_HALF_LIFE_MS`], so that only sustained abuse gets there.
const STRIKES_TO_CLOSE: u32 = 400;
const STRIKE_HALF_LIFE_MS: Millis = 10_000;

/// What to do with one incoming frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Drop it; `tell` is true at most once a second, so that errors do not amplify a flood.
    Reject {
        tell: bool,
    },
    /// Close the connection.
    Close,
}

#[derive(Clone, Debug)]
pub struct FrameBudget {
    capacity: f64,
    per_ms: f64,
    tokens: f64,
    last: Millis,
    strikes: u32,
    strikes_halved_at: Millis,
    last_told: Option<Millis>,
}

impl FrameBudget {
    pub fn new(limits: &Limits, now: Millis) -> Self {
        let capacity = f64::from(limits.frame_burst.max(1));
        FrameBudget {
            capacity,
            per_ms: f64::from(limits.frames_per_second.max(1)) / 1000.0,
            tokens: capacity,
            last: now,
            strikes: 0,
            strikes_halved_at: now,
            last_told: None,
        }
    }

    pub fn check(&mut self, now: Millis) -> Verdict {
        let elapsed = (now - self.last).max(0);
        self.tokens = (self.tokens + elapsed as f64 * self.per_ms).min(self.capacity);
        self.last = self.last.max(now);
        while now - self.strikes_halved_at >= STRIKE_HALF_LIFE_MS {
            self.strikes /= 2;
            self.strikes_halved_at += STRIKE_HALF_LIFE_MS;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Accept;
        }
        self.strikes += 1;
        if self.strikes >= STRIKES_TO_CLOSE {
            return Verdict::Close;
        }
        let tell = self.last_told.is_none_or(|at| now - at >= 1000);
        if tell {
            self.last_told = Some(now);
        }
        Verdict::Reject { tell }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32) -> Limits {
        Limits { frames_per_second: per_second, frame_burst: burst, ..Limits::default() }
    }

    #[test]
    fn a_burst_passes_then_the_average_rate_holds() {
        let mut budget = FrameBudget::new(&limits(10, 5), 0);
        for _ in 0..5 {
            assert_eq!(budget.check(0), Verdict::Accept);
        }
        assert_eq!(budget.check(0), Verdict::Reject { tell: true });
        assert_eq!(budget.check(50), Verdict::Reject { tell: false }, "half a token is not a frame");
        assert_eq!(budget.check(100), Verdict::Accept, "10 per second refill one every 100 ms");
    }

    #[test]
    fn rejections_are_told_at_most_once_a_second() {
        let mut budget = FrameBudget::new(&limits(1, 1), 0);
        budget.check(0);
        let told: usize = (1..100).filter(|t| budget.check(*t) == Verdict::Reject { tell: true }).count();
        assert_eq!(told, 1);
    }

    #[test]
    fn a_flood_is_closed_but_a_client_a_little_too_fast_is_not() {
        let mut flood = FrameBudget::new(&limits(20, 40), 0);
        let closed_after = (0..10_000).position(|k| flood.check(k / 10) == Verdict::Close);
        assert!(closed_after.is_some_and(|k| k < 1_000), "10,000 frames a second are closed quickly");

        let mut eager = FrameBudget::new(&limits(20, 40), 0);
        let mut closed = false;
        for k in 0..3_000 {
            closed |= eager.check(k * 40) == Verdict::Close;
        }
        assert!(!closed, "25 frames a second for two minutes are limited, not closed");
    }
}
