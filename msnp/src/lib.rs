//! The MSNP2 protocol (MSN Messenger Service 1.0), without I/O.
//!
//! Everything that touches MSNP bytes lives here so that the server, the bridge and the browser app agree
//! byte for byte (the reference is `shared/protocol/MSNP2.md`):
//!
//! - [`frame`]: cutting a byte stream into commands (lines plus length-prefixed `MSG` payloads), and back.
//! - [`ns`] and [`sb`]: typed commands for the notification server and the switchboard, both directions.
//! - [`error`]: the numeric error codes and what they mean to a person.
//! - [`auth`], [`name`], [`handle`]: the MD5 login, friendly-name encoding and handle syntax.
//! - [`message`]: the MIME-style payloads carried by `MSG`.
//! - [`client`]: the client session state machines (sans-IO: feed frames and time in, poll frames and
//!   events out).

pub mod auth;
pub mod client;
pub mod error;
pub mod frame;
pub mod handle;
pub mod message;
pub mod name;
pub mod ns;
pub mod parse;
pub mod sb;
pub mod types;

pub use error::ErrorCode;
pub use frame::{Decoder, Frame, FrameError, Limits};
pub use parse::ParseError;
pub use types::{AckMode, Blp, Gtc, List, State, TrId};

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
