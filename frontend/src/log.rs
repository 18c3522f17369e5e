//! The protocol log of one connection, for the inspector.

use msnp::Frame;

use crate::explain;

/// Which way a line went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Page to server.
    Sent,
    /// Server to page.
    Received,
}

/// One line of the protocol inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the sign-in started.
    pub at_ms: u32,
    pub direction: Direction,
    /// The command line (a payload is summarised, not shown).
    pub text: String,
    /// What it means, in plain words.
    pub note: String,
}

impl LogLine {
    pub fn new(direction: Direction, frame: &Frame, at_ms: u32) -> LogLine {
        let text = match frame.payload() {
            Some(payload) => format!("{}  [{} byte payload]", frame.line(), payload.len()),
            None => frame.line().to_owned(),
        };
        let note = match (direction, frame.name(), frame.tokens().nth(2), frame.tokens().nth(3)) {
            (Direction::Sent, "USR", Some("MD5"), Some("S")) => {
                "USR: the MD5 of the server's challenge followed by your password (the password never leaves this page)."
                    .to_owned()
            }
            (Direction::Received, "USR", Some("MD5"), Some("S")) => {
                "USR: the server's challenge, fresh for this sign-in; the answer is MD5(challenge + password).".to_owned()
            }
            _ => explain::line(frame.line()),
        };
        LogLine { at_ms, direction, text, note }
    }
}
