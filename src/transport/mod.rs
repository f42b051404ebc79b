//! The edge: HTTP routes, embedded pages and websocket sessions. Frames become commands
//! for a hub and changes become frames; no business logic lives here.

pub mod captions;
pub mod control;
pub mod export;
pub mod http;
pub mod links;
pub mod listener;
pub mod osc;
pub mod plan_io;
pub mod rooms;
pub mod screens;
pub mod shared;
pub mod sse;
pub mod voice_export;
pub mod ws;
