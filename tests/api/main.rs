//! Black-box tests: the real server on port 0, real websocket clients.

mod browser;
mod browser_console;
mod browser_screens;
mod crash;
mod cues;
mod errors;
mod export;
mod handshake;
mod helpers;
mod hostile;
mod http_limits;
mod import;
mod load;
mod pages;
mod plan;
mod presence;
mod queue;
mod resume;
mod retries;
mod run_of_show;
mod slow;
mod undo;
mod wire_conformance;
