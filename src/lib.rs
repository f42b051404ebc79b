//! A live hybrid-event coordination hub.
//!
//! - [`domain`]: the pure core (run of show, live state machine, commands, changes).
//! - [`hub`]: one task per event that owns its state, sequences and publishes changes.
//! - [`protocol`]: the JSON frames of docs/protocol.md, decoded and encoded.
//! - [`transport`]: HTTP routes, embedded pages and websocket sessions.
//! - [`wire`]: websocket framing, and each connection's bounded outbound side.
//! - [`store`]: the durable change log (SQLite by default), written before publishing.
//! - [`import`]: the `eventhub import` command, a client of the running server.
//! - [`sheet`]: the run of show in and out of CSV and XLSX, and what an import changes.
//! - [`server`]: start-up, the shared state, and serving until shutdown.
//! - [`rooms`]: events created and archived while the server runs.
//! - [`config`] and [`auth`]: settings, event files and role tokens.

pub mod auth;
pub mod automations;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hub;
pub mod import;
pub mod limits;
pub mod metrics;
pub mod osc;
pub mod protocol;
pub mod rooms;
pub mod server;
pub mod sheet;
pub mod store;
pub mod transport;
pub mod wire;
