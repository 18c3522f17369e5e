//! Client session state machines, sans-IO (in the style of quinn-proto).
//!
//! The caller owns the connection. It feeds every received [`Frame`](crate::Frame) in with
//! `handle_frame`, tells the machine when the connection closed, drives timers with `poll_timeout` and
//! `handle_timeout` (time is a [`Duration`](std::time::Duration) since any fixed instant the caller
//! chooses, so the machines run the same natively and in a browser), and after each call drains
//! `poll_transmit` (frames to send, in order) and `poll_event` (what changed, for the UI).
//!
//! Replies are matched to requests by TrID, never by order.

mod ns;
mod sb;

use thiserror::Error;

pub use ns::{Contact, Lists, NsClient, NsConfig, NsEvent, NsPhase, Presence, SIGN_IN_TIMEOUT, SignOutReason};
pub use sb::{Participant, SbClient, SbCloseReason, SbConfig, SbEvent, SbJoin, SbPhase};

use crate::name::NameError;

/// Why a user action could not be sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ActionError {
    #[error("not signed in")]
    NotSignedIn,
    #[error("not in a conversation")]
    NotJoined,
    #[error("{0:?} is not a valid e-mail address")]
    InvalidHandle(String),
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("the message is {len} bytes; at most {limit} can be sent")]
    MessageTooLong { len: usize, limit: usize },
}

/// Hands out TrIDs for one connection: one counter per connection (§14), wrapping past 2^32−1 and
/// skipping 0, which servers use for unsolicited lines.
#[derive(Debug, Clone)]
struct TrIds(u32);

impl TrIds {
    fn next(&mut self) -> crate::TrId {
        let trid = self.0.max(1);
        self.0 = trid.wrapping_add(1);
        crate::TrId(trid)
    }
}
