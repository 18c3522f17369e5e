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
    /// The notification-server session is not signed in (or has ended).
    #[error("not signed in")]
    NotSignedIn,
    /// The switchboard session has not been joined (or has ended).
    #[error("not in a conversation")]
    NotJoined,
    /// The handle fails the syntax rule of [`crate::handle::is_valid`]; holds the handle as given.
    #[error("{0:?} is not a valid e-mail address")]
    InvalidHandle(String),
    /// The name is empty or too long once encoded.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The message's payload is over the switchboard's limit.
    #[error("the message is {len} bytes; at most {limit} can be sent")]
    MessageTooLong {
        /// The payload's length, headers included, in bytes.
        len: usize,
        /// The most a switchboard accepts, in bytes ([`crate::frame::MAX_CLIENT_PAYLOAD`]).
        limit: usize,
    },
    /// A typed command line cannot be sent; says why.
    #[error("{0}")]
    InvalidLine(&'static str),
}

/// A command line typed by a person (a raw console), checked, with its TrID filled in when left out.
#[derive(Debug)]
struct RawLine {
    /// The command name, e.g. `CHG`.
    name: String,
    /// The TrID it carries (given or filled in); `None` for `OUT` and `PNG`.
    trid: Option<crate::TrId>,
    /// The rest after the TrID, space-separated.
    params: Vec<String>,
}

impl RawLine {
    fn parse(input: &str, trids: &mut TrIds) -> Result<RawLine, ActionError> {
        let input = input.trim();
        if input.contains(['\r', '\n']) {
            return Err(ActionError::InvalidLine("a command is one line"));
        }
        if input.len() + 2 > crate::frame::MAX_LINE {
            return Err(ActionError::InvalidLine("that line is longer than servers accept (2048 bytes)"));
        }
        let mut tokens = input.split([' ', '\t']).filter(|t| !t.is_empty()).map(str::to_owned);
        let Some(name) = tokens.next() else { return Err(ActionError::InvalidLine("type a command")) };
        let mut params: Vec<String> = tokens.collect();
        let trid = match name.as_str() {
            "OUT" | "PNG" => None,
            _ => match params.first().and_then(|t| t.parse::<crate::TrId>().ok()) {
                Some(trid) => {
                    params.remove(0);
                    Some(trid)
                }
                None => Some(trids.next()),
            },
        };
        Ok(RawLine { name, trid, params })
    }

    fn line(&self) -> String {
        let mut line = self.name.clone();
        if let Some(trid) = self.trid {
            line.push_str(&format!(" {trid}"));
        }
        for p in &self.params {
            line.push(' ');
            line.push_str(p);
        }
        line
    }
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
