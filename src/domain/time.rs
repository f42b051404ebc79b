//! How the domain counts time: instants and durations in milliseconds, and the seconds a
//! client writes for an `extend`. Depends on nothing else in the domain.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, or a duration in milliseconds.
pub type Millis = i64;

/// An `extend`'s amount: seconds as a client writes them, whole or not, so that the
/// websocket, the control API and OSC take the same numbers. Counted to the millisecond.
#[derive(Clone, Copy, Debug)]
pub struct Seconds(f64);

impl Seconds {
    /// The smallest amount either way: a millisecond.
    const LEAST: f64 = 0.001;

    /// `None` when `seconds` is not a finite number.
    pub fn parse(seconds: f64) -> Option<Self> {
        seconds.is_finite().then_some(Seconds(seconds))
    }

    /// The amount in milliseconds (to the nearest one), when it is at least a millisecond
    /// and at most `max` seconds either way; compared as written, so that the bounds are
    /// exactly those docs/openapi.json states.
    pub fn millis_within(self, max: f64) -> Option<Millis> {
        let magnitude = self.0.abs();
        (Self::LEAST..=max).contains(&magnitude).then(|| (self.0 * 1000.0).round() as Millis)
    }
}

/// Two amounts are the same when written the same.
impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Seconds {}

impl From<i32> for Seconds {
    fn from(seconds: i32) -> Self {
        Seconds(f64::from(seconds))
    }
}

impl Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Seconds::parse(seconds).ok_or_else(|| serde::de::Error::custom("seconds must be a finite number"))
    }
}
