//! Transcripts: the inspector's Copy and Download format, and what replay reads back (downloads and the
//! built-in lessons alike).
//!
//! ```text
//! # comments and blank lines are ignored
//! == This page -> Notification server
//! +0.000s C: VER 1 MSNP2 CVR0
//! +0.021s S: VER 1 MSNP2
//! == This page -> Switchboard (chat 1)
//! +5.310s S: MSG bob@hotmail.com Bob 71
//!   | MIME-Version: 1.0
//!   | Content-Type: text/plain; charset=UTF-8
//!   |
//!   | Hello
//! ```
//!
//! A `==` line starts a connection: who connects, then the server (a server named `Switchboard…` is a
//! switchboard). `C:` lines went to the server, `S:` lines came from it; the time is optional. A payload
//! follows its command, one `  | ` line per line of it (CRLF between them on the wire). The MD5 response
//! is hidden in exports.

use msnp::{Frame, frame::has_payload};

use crate::explain::Conn;
use crate::log::{Direction, Log};

/// Who is on the page's end of its connections.
pub const THIS_PAGE: &str = "This page";

/// One connection's lines, as the inspector, the diagram and transcripts see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// Who connects: this page, or a person of a lesson.
    pub client: String,
    /// Which server: `Notification server`, `Switchboard (chat 2)`, …
    pub server: String,
    pub conn: Conn,
    pub log: Log,
    /// A switchboard whose conversation has ended.
    pub closed: bool,
}

impl Connection {
    pub fn new(client: &str, server: &str) -> Connection {
        let conn = if server.starts_with("Switchboard") { Conn::Switchboard } else { Conn::Notification };
        Connection { client: client.into(), server: server.into(), conn, log: Log::default(), closed: false }
    }

    /// `Notification server`, or `Alice -> Notification server` when someone else connects.
    pub fn label(&self) -> String {
        if self.client == THIS_PAGE { self.server.clone() } else { format!("{} -> {}", self.client, self.server) }
    }
}

/// Every connection's lines, in the format above.
pub fn export(connections: &[Connection]) -> String {
    let mut out =
        String::from("# MSNP2 transcript from MSN Messenger 1.0 in the browser: C: to the server, S: from it\n");
    for c in connections {
        out.push_str(&format!("== {} -> {}\n", c.client, c.server));
        for l in c.log.iter() {
            let who = if l.direction == Direction::Sent { "C" } else { "S" };
            out.push_str(&format!("+{}.{:03}s {who}: {}\n", l.at_ms / 1000, l.at_ms % 1000, l.exported_text()));
            for line in l.payload.iter().flat_map(|p| p.split("\r\n")) {
                out.push_str(&format!("  | {line}\n"));
            }
        }
    }
    out
}

/// A transcript read back: its connections, and every line in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Transcript {
    /// (client, server) of each connection.
    pub connections: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Index into [`Transcript::connections`].
    pub connection: usize,
    pub at_ms: u32,
    pub direction: Direction,
    pub frame: Frame,
}

impl Transcript {
    /// The connections with their logs as they were after the first `count` steps, explained as live.
    pub fn replay(&self, count: usize) -> Vec<Connection> {
        let mut out: Vec<Connection> = self.connections.iter().map(|(c, s)| Connection::new(c, s)).collect();
        for step in &self.steps[..count.min(self.steps.len())] {
            let c = &mut out[step.connection];
            c.log.record(c.conn, step.direction, &step.frame, step.at_ms);
        }
        out
    }
}

/// A transcript that cannot be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Line {}: {}", self.line, self.message)
    }
}

/// The largest transcript the page opens.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// A payload command whose `  | ` lines are being read.
struct Pending {
    line: usize,
    head: String,
    declared: usize,
    lines: Vec<String>,
    step: (usize, u32, Direction),
}

/// Reads a transcript; steps are ordered by time (file order among equal times).
pub fn parse(text: &str) -> Result<Transcript, ParseError> {
    let error = |line: usize, message: String| ParseError { line, message };
    if text.len() > MAX_BYTES {
        return Err(error(1, format!("the file is larger than {} MB", MAX_BYTES / 1024 / 1024)));
    }
    let mut t = Transcript { connections: Vec::new(), steps: Vec::new() };
    let mut pending: Option<Pending> = None;
    let mut at_ms = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(rest) = raw.strip_prefix("  |") {
            let p = pending.as_mut().ok_or_else(|| error(n, "a payload line, but no MSG before it".into()))?;
            p.lines.push(rest.strip_prefix(' ').unwrap_or(rest).trim_end_matches('\r').to_owned());
            continue;
        }
        if let Some(p) = pending.take() {
            t.steps.push(finish(p)?);
        }
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix("==") {
            let (client, server) = header.trim().split_once(" -> ").unwrap_or((THIS_PAGE, header.trim()));
            if server.trim().is_empty() {
                return Err(error(n, "a connection needs a server: `== Alice -> Notification server`".into()));
            }
            t.connections.push((client.trim().to_owned(), server.trim().to_owned()));
            continue;
        }
        let (time, direction, command) = split_line(line).map_err(|m| error(n, m))?;
        at_ms = time.unwrap_or(at_ms);
        if t.connections.is_empty() {
            t.connections.push((THIS_PAGE.into(), "Notification server".into()));
        }
        let step = (t.connections.len() - 1, at_ms, direction);
        let name = command.split(' ').next().unwrap_or_default();
        if has_payload(name) && command.split(' ').count() >= 4 {
            let (head, length) = command.rsplit_once(' ').unwrap_or_default();
            let declared = length
                .parse()
                .map_err(|_| error(n, format!("{name} ends with its payload's length in bytes, not `{length}`")))?;
            pending = Some(Pending { line: n, head: head.to_owned(), declared, lines: Vec::new(), step });
        } else {
            let (connection, at_ms, direction) = step;
            t.steps.push(Step { connection, at_ms, direction, frame: Frame::command(command) });
        }
    }
    if let Some(p) = pending {
        t.steps.push(finish(p)?);
    }
    if t.steps.is_empty() {
        return Err(error(1, "no MSNP lines (`+0.000s C: VER 1 MSNP2 CVR0`) in this file".into()));
    }
    t.steps.sort_by_key(|s| s.at_ms);
    Ok(t)
}

/// `+1.250s C: CHG 6 NLN` (the time optional): the time, the direction and the command.
fn split_line(line: &str) -> Result<(Option<u32>, Direction, &str), String> {
    let (time, rest) = match line.strip_prefix('+') {
        Some(timed) => {
            let (time, rest) = timed.split_once(' ').unwrap_or((timed, ""));
            let seconds: f64 = time
                .strip_suffix('s')
                .and_then(|t| t.parse().ok())
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 4e6)
                .ok_or_else(|| format!("`+{time}` is not a time like `+1.250s`"))?;
            (Some((seconds * 1000.0).round() as u32), rest)
        }
        None => (None, line),
    };
    let (direction, command) = if let Some(c) = rest.strip_prefix("C: ") {
        (Direction::Sent, c)
    } else if let Some(s) = rest.strip_prefix("S: ") {
        (Direction::Received, s)
    } else {
        return Err(format!("expected `C: ` (to the server) or `S: ` (from it) before the command in `{line}`"));
    };
    if command.trim().is_empty() {
        return Err("a line without a command".into());
    }
    Ok((time, direction, command))
}

fn finish(p: Pending) -> Result<Step, ParseError> {
    let payload = p.lines.join("\r\n");
    if payload.len() != p.declared {
        return Err(ParseError {
            line: p.line,
            message: format!(
                "the command says its payload is {} bytes, the `  | ` lines after it hold {}",
                p.declared,
                payload.len()
            ),
        });
    }
    let (connection, at_ms, direction) = p.step;
    Ok(Step { connection, at_ms, direction, frame: Frame::with_payload(&p.head, payload.as_bytes()) })
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::explain::Context;
    use crate::log::LogLine;

    fn line(direction: Direction, frame: &Frame, at_ms: u32) -> LogLine {
        LogLine::new(Conn::Notification, direction, frame, at_ms, Context::default())
    }

    #[test]
    fn an_export_reads_back_as_the_same_lines_with_the_md5_response_hidden() {
        let mut ns = Connection::new(THIS_PAGE, "Notification server");
        ns.log.push(line(Direction::Sent, &Frame::command("USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a"), 40));
        let mut sb = Connection::new(THIS_PAGE, "Switchboard (chat 1)");
        let hello = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello\r\n";
        sb.log.push(line(Direction::Received, &Frame::with_payload("MSG bob@hotmail.com Bob", hello), 1250));
        sb.log.push(line(Direction::Sent, &Frame::command("OUT"), 2000));
        let text = export(&[ns, sb]);
        assert!(!text.contains("8aca4d"), "{text}");
        assert!(text.contains("+1.250s S: MSG bob@hotmail.com Bob 69\n  | MIME-Version: 1.0\n"), "{text}");

        let t = parse(&text).unwrap();
        assert_eq!(t.connections[1], (THIS_PAGE.to_owned(), "Switchboard (chat 1)".to_owned()));
        let lines: Vec<&str> = t.steps.iter().map(|s| s.frame.line()).collect();
        assert_eq!(lines, ["USR 4 MD5 S <md5 response hidden>", "MSG bob@hotmail.com Bob 69", "OUT"]);
        assert_eq!(t.steps[1].frame.payload(), Some(&hello[..]));
        let replayed = t.replay(2);
        assert_eq!((replayed[0].log.len(), replayed[1].log.len()), (1, 1));
        assert_eq!(replayed[1].conn, Conn::Switchboard);
        assert!(replayed[1].log[0].note.contains("Hello"), "{}", replayed[1].log[0].note);
    }

    #[test]
    fn steps_follow_the_clock_across_connections() {
        let t =
            parse("== A -> Notification server\n+0.5s C: PNG\n+2s S: QNG\n== B -> Notification server\n+1s C: PNG\n")
                .unwrap();
        let order: Vec<(usize, u32)> = t.steps.iter().map(|s| (s.connection, s.at_ms)).collect();
        assert_eq!(order, [(0, 500), (1, 1000), (0, 2000)]);
        // Untimed lines, as in MSNP2.md, keep their order.
        let t = parse("C: VER 1 MSNP2\nS: VER 1 MSNP2\n").unwrap();
        assert_eq!(t.connections, [(THIS_PAGE.to_owned(), "Notification server".to_owned())]);
        assert_eq!(t.steps.len(), 2);
    }

    #[test]
    fn a_malformed_file_is_refused_naming_the_line() {
        let cases = [
            ("C: VER 1\nhello\n", 2, "expected `C: `"),
            ("+x C: VER 1\n", 1, "not a time"),
            ("C: VER 1\n  | stray\n", 2, "no MSG before it"),
            ("# a\n\nS: MSG a b 10\n  | short\n", 3, "payload is 10 bytes"),
            ("S: MSG a b ten\n", 1, "not `ten`"),
            ("# nothing\n", 1, "no MSNP lines"),
            ("==  \n", 1, "needs a server"),
        ];
        for (text, line, words) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(words), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("Line {line}: ")));
        }
    }
}
