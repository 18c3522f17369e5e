//! The protocol log of one connection, for the inspector.

use std::rc::Rc;

use msnp::Frame;

pub use crate::explain::Direction;
use crate::explain::{self, Conn, Context};

/// One line of the protocol inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the sign-in started.
    pub at_ms: u32,
    pub direction: Direction,
    /// The command line, as on the wire.
    pub text: String,
    /// The payload of `MSG`, as text.
    pub payload: Option<String>,
    /// What it means, in plain words.
    pub note: String,
}

impl LogLine {
    /// The line for `frame`, explained with what the log knows around it.
    pub fn new(conn: Conn, direction: Direction, frame: &Frame, at_ms: u32, context: Context<'_>) -> LogLine {
        let text = frame.line().to_owned();
        let payload = frame.payload().map(|p| String::from_utf8_lossy(p).into_owned());
        let note = explain::explain(conn, direction, frame, context);
        LogLine { at_ms, direction, text, payload, note }
    }
}

/// What replaces an MD5 response in exported transcripts: with the challenge beside it, the response is
/// enough to try passwords offline.
pub const HIDDEN_RESPONSE: &str = "<md5 response hidden>";

impl LogLine {
    /// The line as the inspector shows it: a payload is summarised.
    pub fn shown_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.payload {
            Some(payload) => format!("{}  [{} byte payload]", self.text, payload.len()).into(),
            None => self.text.as_str().into(),
        }
    }

    /// The line as a transcript shows it: as sent, but with the sign-in's MD5 response hidden.
    pub fn exported_text(&self) -> std::borrow::Cow<'_, str> {
        use msnp::ns::{ClientCommand, UsrStage};
        if self.direction == Direction::Sent && self.text.starts_with("USR ") {
            let frame = Frame::command(self.text.as_str());
            if let Ok(ClientCommand::Usr { trid, package, stage: UsrStage::Subsequent, .. }) =
                ClientCommand::parse(&frame)
            {
                return format!("USR {trid} {package} S {HIDDEN_RESPONSE}").into();
            }
        }
        self.text.as_str().into()
    }

    /// The explanation as exports show it: without the MD5 response, which it quotes.
    pub fn exported_note(&self) -> std::borrow::Cow<'_, str> {
        let exported = self.exported_text();
        match self.text.split(' ').next_back() {
            Some(response) if exported != self.text => self.note.replace(response, HIDDEN_RESPONSE).into(),
            _ => self.note.as_str().into(),
        }
    }
}

/// Lines kept per connection; the oldest tenth goes when the log is full, so a long session stays small.
pub const MAX_LOG_LINES: usize = 5000;

/// A connection's log. Copies (one per render, for the inspector) share the lines until the log changes,
/// and compare equal only when they are the same copy, so an unchanged log costs a render nothing.
#[derive(Clone, Debug, Default)]
pub struct Log(Rc<Vec<LogLine>>);

impl Log {
    /// Logs `frame`, explained in the light of the lines before it: a reply names the request it answers,
    /// the MD5 answer the challenge it answers.
    pub fn record(&mut self, conn: Conn, direction: Direction, frame: &Frame, at_ms: u32) {
        let trid = frame.tokens().nth(1).filter(|_| direction == Direction::Received);
        let recent = || self.iter().rev().take(200);
        let request = trid.and_then(|t| {
            recent().find(|l| l.direction == Direction::Sent && l.text.split_whitespace().nth(1) == Some(t))
        });
        let challenge = recent().find_map(|l| {
            let mut tokens = l.text.split_whitespace();
            let usr_s = l.direction == Direction::Received
                && tokens.next() == Some("USR")
                && tokens.nth(1) == Some("MD5")
                && tokens.next() == Some("S");
            usr_s.then(|| tokens.next()).flatten()
        });
        let context = Context { request: request.map(|l| l.text.as_str()), challenge };
        let line = LogLine::new(conn, direction, frame, at_ms, context);
        self.push(line);
    }

    /// Adds `words` to the explanation of the last line.
    pub fn annotate_last(&mut self, words: &str) {
        if let Some(last) = Rc::make_mut(&mut self.0).last_mut() {
            last.note.push(' ');
            last.note.push_str(words);
        }
    }

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
    fn exported_lines_hide_the_md5_response_only() {
        let sent = |text: &str| {
            LogLine::new(Conn::Notification, Direction::Sent, &Frame::command(text), 0, Context::default())
        };
        let response = "USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a";
        assert_eq!(sent(response).exported_text(), "USR 4 MD5 S <md5 response hidden>");
        assert!(sent(response).note.contains("8aca4d4721b726ba9cd5e3a5f601671a"));
        assert!(!sent(response).exported_note().contains("8aca4d") && sent(response).exported_note().contains("MD5"));
        // What the server sends, the first step, and a switchboard's USR are shown as they are.
        let frame = Frame::command("USR 3 MD5 S 1013928519.693957190");
        let challenge = LogLine::new(Conn::Notification, Direction::Received, &frame, 0, Context::default());
        assert_eq!(challenge.exported_text(), "USR 3 MD5 S 1013928519.693957190");
        assert_eq!(sent("USR 3 MD5 I jd@hotmail.com").exported_text(), "USR 3 MD5 I jd@hotmail.com");
        assert_eq!(
            sent("USR 1 jd@hotmail.com 849102291.520491932").exported_text(),
            "USR 1 jd@hotmail.com 849102291.520491932"
        );
        // On screen, the person who signed in still sees it.
        assert_eq!(sent(response).text, response);
    }

    #[test]
    fn copies_compare_by_identity_and_the_log_is_bounded() {
        let mut log = Log::default();
        let line = |i: u32| LogLine {
            at_ms: i,
            direction: Direction::Sent,
            text: "PNG".into(),
            payload: None,
            note: String::new(),
        };
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
