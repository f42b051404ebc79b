//! Why a command was not applied: the domain's one error, each kind with a stable code
//! for clients. Depends on nothing else in the domain.

/// Why a command was not applied. Each maps to a stable client-facing code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidField(String),
    /// Too many of something from one participant, too fast.
    #[error("{0}")]
    RateLimited(String),
}

impl Rejection {
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Forbidden(_) => "forbidden",
            Rejection::Conflict(_) => "conflict",
            Rejection::InvalidState(_) => "invalid_state",
            Rejection::InvalidField(_) => "invalid_field",
            Rejection::RateLimited(_) => "rate_limited",
        }
    }
}
