//! The protocol log of one connection, for the inspector.

use std::rc::Rc;

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

/// Lines kept per connection; the oldest tenth goes when the log is full, so a long session stays small.
pub const MAX_LOG_LINES: usize = 5000;

/// A connection's log. Copies (one per render, for the inspector) share the lines until the log changes,
/// and compare equal only when they are the same copy, so an unchanged log costs a render nothing.
#[derive(Clone, Debug, Default)]
pub struct Log(Rc<Vec<LogLine>>);

impl Log {
    pub fn push(&mut self, line: LogLine) {
        let lines = Rc::make_mut(&mut self.0);
        if lines.len() >= MAX_LOG_LINES {
            lines.drain(..MAX_LOG_LINES / 10);
        }
        lines.push(line);
    }
}

impl std::ops::Deref for Log {
    type Target = [LogLine];
    fn deref(&self) -> &[LogLine] {
        &self.0
    }
}

impl PartialEq for Log {
    fn eq(&self, other: &Log) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn copies_compare_by_identity_and_the_log_is_bounded() {
        let mut log = Log::default();
        let line = |i: u32| LogLine { at_ms: i, direction: Direction::Sent, text: "PNG".into(), note: String::new() };
        log.push(line(0));
        let shown = log.clone();
        assert_eq!(shown, log);
        log.push(line(1));
        assert_ne!(shown, log);
        assert_eq!((shown.len(), log.len()), (1, 2));
        for i in 2..(MAX_LOG_LINES as u32 + 10) {
            log.push(line(i));
        }
        assert!(log.len() <= MAX_LOG_LINES);
        assert_eq!(log.last().map(|l| l.at_ms), Some(MAX_LOG_LINES as u32 + 9));
    }
}
