//! The server's wall clock, read in one place so that the domain never reads it.

use crate::domain::Millis;

pub fn now_millis() -> Millis {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Millis::try_from(since_epoch.as_millis()).unwrap_or(Millis::MAX)
}
