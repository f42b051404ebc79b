//! A live hybrid-event coordination hub. The layers, from the bottom (each imports only
//! those below it; docs/architecture.md has the picture and the rules):
//!
//! - [`domain`]: the pure core (run of show, live state machine, commands, changes); no
//!   I/O, no clock. [`clock`] and [`limits`] are the small pure helpers beside it.
//! - [`protocol`]: the JSON frames of docs/protocol.md, decoded into commands and encoded
//!   from changes and views.
//! - [`wire`]: websocket framing (RFC 6455), and each connection's bounded outbound side.
//! - [`store`]: the durable change log (SQLite by default, NATS JetStream in a cluster),
//!   written before anything is published.
//! - [`hub`]: one task per event that owns its state, sequences and fans out changes.
//! - [`outbound`]: what the server sends to other systems (automations' OSC and HTTP).
//! - [`app`]: the shared state (the events' registry, runtime create and archive) and the
//!   one command path of the tools (HTTP control, OSC).
//! - [`transport`]: every way in, one file each: websocket sessions, the HTTP control API,
//!   SSE, captions ingest, OSC, the rooms API, plan files, exports, links; and the embedded pages.
//! - [`server`]: start-up and shutdown, which only wires the layers together.
//! - [`config`], [`auth`], [`metrics`], [`sheet`]: settings and event files, role tokens,
//!   the Prometheus counters, the run of show in and out of CSV and XLSX.
//! - [`import`]: the `eventhub import` command, a client of the running server;
//!   [`migrate`]: `eventhub migrate`, the embedded store's events moved into a cluster.

pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod hub;
pub mod import;
pub mod limits;
pub mod metrics;
pub mod migrate;
pub mod outbound;
pub mod protocol;
pub mod server;
pub mod sheet;
pub mod store;
pub mod transport;
pub mod wire;
