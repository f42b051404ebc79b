//! Black-box tests: the real server on port 0, real websocket clients.

mod browser;
mod errors;
mod helpers;
mod pages;
mod run_of_show;
