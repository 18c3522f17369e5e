//! MSN Messenger 1.0 in the browser: the yew app on top of the `msnp` crate.
//!
//! [`session`] is the pure state (the msnp client machine, the protocol log, what to tell the person);
//! [`app`] is the shell that owns the WebSocket and renders [`components`].

pub mod alerts;
pub mod api;
pub mod app;
pub mod chat;
pub mod components;
pub mod diagram;
pub mod explain;
pub mod fields;
pub mod files;
pub mod log;
pub mod pump;
pub mod reconnect;
pub mod replay;
pub mod session;
pub mod socket;
pub mod storage;
pub mod transcript;
pub mod watch;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
