//! Outbound integrations: what the server sends to other systems on its own (today the
//! automations' OSC and HTTP outputs, sent once across a cluster through `gate`). They follow a hub like any listener and never
//! decide anything; no way in, and nothing of the app's shared state, is imported here.

pub mod automations;
pub mod gate;
