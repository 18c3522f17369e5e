//! The MSNP2 protocol (MSN Messenger Service 1.0), without I/O.
//!
//! Everything that touches MSNP bytes lives here so that the server, the bridge and the browser app agree
//! byte for byte (the reference is `shared/protocol/MSNP2.md`, beside this repository; these docs cite its
//! sections as §N):
//!
//! - [`frame`]: cutting a byte stream into commands (lines plus length-prefixed `MSG` payloads), and back.
//! - [`ns`] and [`sb`]: typed commands for the notification server and the switchboard, both directions.
//! - [`error`]: the numeric error codes and what they mean to a person.
//! - [`auth`], [`name`], [`handle`]: the MD5 login, friendly-name encoding and handle syntax.
//! - [`message`]: the MIME-style payloads carried by `MSG`.
//! - [`client`]: the client session state machines (sans-IO: feed frames and time in, poll frames and
//!   events out).
//! - [`types`] and [`parse`]: the small values commands are made of (TrIDs, lists, states, modes), and
//!   what can be wrong with a line.
//!
//! The crate does no I/O and has no runtime: it builds for native targets and for `wasm32`. The caller
//! moves bytes; `examples/signin.rs` does it with a blocking [`std::net::TcpStream`]
//! (`cargo run -p msnp --example signin -- HOST:PORT EMAIL PASSWORD`).
//!
//! # Example
//!
//! Signing in: the session says what to send, the [`Decoder`] cuts what the server sends back into
//! frames, whatever sizes the reads come in. The exchange is that of MSNP2.md §13.1 (with TrIDs from 1),
//! plus one contact's initial presence.
//!
//! ```
//! use std::time::Duration;
//!
//! use msnp::client::{NsClient, NsConfig, NsEvent, Presence};
//! use msnp::{Decoder, Limits, State};
//!
//! let mut session = NsClient::new(NsConfig {
//!     handle: "jd@hotmail.com".into(),
//!     password: "hunter2".into(),
//!     initial_state: State::Online,
//!     client: None,
//!     first_trid: 1,
//!     cache: None,
//! });
//! let mut decoder = Decoder::new(Limits::CLIENT);
//! let now = Duration::ZERO; // time since any fixed instant; it only matters for the sign-in timeout
//! session.connect(now);
//!
//! // What the server writes after each of the client's lines; the last read holds two lines.
//! let reads: [&[u8]; 6] = [
//!     b"VER 1 MSNP2\r\n",
//!     b"INF 2 MD5\r\n",
//!     b"USR 3 MD5 S 1013928519.693957190\r\n",
//!     b"USR 4 OK jd@hotmail.com JD\r\n",
//!     b"SYN 5 0\r\n",
//!     b"CHG 6 NLN\r\nILN 6 AWY bob@hotmail.com Bob\r\n",
//! ];
//! let mut sent = Vec::new();
//! for read in reads {
//!     // Send what the session queued (a real client writes `frame.as_bytes()` to the socket)...
//!     while let Some(frame) = session.poll_transmit() {
//!         sent.push(frame.line().to_owned());
//!     }
//!     // ...then feed it what came back, frame by frame.
//!     decoder.extend(read);
//!     while let Some(frame) = decoder.next_frame().expect("well-formed server bytes") {
//!         session.handle_frame(&frame, now);
//!     }
//! }
//! assert_eq!(
//!     sent,
//!     [
//!         "VER 1 MSNP2 CVR0",
//!         "INF 2",
//!         "USR 3 MD5 I jd@hotmail.com",
//!         "USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a",
//!         "SYN 5 0",
//!         "CHG 6 NLN",
//!     ]
//! );
//!
//! let events: Vec<NsEvent> = std::iter::from_fn(|| session.poll_event()).collect();
//! assert!(events.contains(&NsEvent::SignedIn { state: State::Online }));
//! let bob = Presence { state: State::Away, name: "Bob".into() };
//! let bob_away = NsEvent::PresenceChanged { handle: "bob@hotmail.com".into(), presence: Some(bob) };
//! assert_eq!(events.last(), Some(&bob_away));
//! ```

#![warn(missing_docs)]

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

// Runs the README's code blocks as doctests, so its example stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
