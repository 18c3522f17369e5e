//! Framing: MSNP byte streams in, whole commands out (MSNP2.md §3.1, §3.3, §3.7, §11).
//!
//! A frame is one command line, plus for `MSG` the payload whose byte length is the line's last token.
//! [`Decoder`] is incremental: feed it bytes as they arrive, in any split, and take frames out. It keeps
//! each frame's bytes exactly as received, so a relay can forward them unchanged.

use std::fmt;

use thiserror::Error;

/// Inbound command lines longer than this (terminator included) close the connection (§3.7).
pub const MAX_LINE: usize = 2048;
/// Client-to-switchboard `MSG` payloads longer than this close the connection (§3.3).
pub const MAX_CLIENT_PAYLOAD: usize = 1664;

/// The limits a [`Decoder`] enforces. Both are inclusive maxima in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, its CRLF (or LF) included.
    pub max_line: usize,
    /// Longest `MSG` payload.
    pub max_payload: usize,
}

impl Limits {
    /// What a project server accepts from clients (MSNP2.md §3.7).
    pub const SERVER: Limits = Limits { max_line: MAX_LINE, max_payload: MAX_CLIENT_PAYLOAD };
    /// What a client accepts from servers: lines as the server's, but payloads may be longer, since
    /// other servers (revival servers) send long profile messages and relay payloads they did not check.
    pub const CLIENT: Limits = Limits { max_line: MAX_LINE, max_payload: 64 * 1024 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SERVER
    }
}

/// Why a byte stream cannot be cut into frames. After any of these the stream cannot be trusted: the
/// connection is closed (MSNP2.md §11 rules 2 and 8).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A command line (terminator included) is longer than [`Limits::max_line`], or that many bytes
    /// arrived without a line end.
    #[error("command line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// A command line is not valid UTF-8.
    #[error("command line is not valid UTF-8")]
    NotUtf8,
    /// The last token of an `MSG` line is not a decimal length; holds (the start of) that token.
    #[error("MSG length {0:?} is not a decimal number")]
    BadLength(String),
    /// An `MSG` announces a payload longer than [`Limits::max_payload`].
    #[error("MSG payload of {len} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The announced length, in bytes (`usize::MAX` if it does not fit).
        len: usize,
        /// The limit, in bytes.
        limit: usize,
    },
}

/// One command as it travels on the wire: its line and, for `MSG`, its payload.
///
/// ```
/// use msnp::Frame;
///
/// let png = Frame::command("PNG");
/// assert_eq!(png.as_bytes(), b"PNG\r\n");
///
/// // The payload length is counted in bytes and appended to the line.
/// let msg = Frame::with_payload("MSG 3 N", "Café".as_bytes());
/// assert_eq!(msg.line(), "MSG 3 N 5");
/// assert_eq!(msg.as_bytes(), "MSG 3 N 5\r\nCafé".as_bytes());
/// assert_eq!(msg.tokens().collect::<Vec<_>>(), ["MSG", "3", "N", "5"]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// The exact bytes: line, terminator, payload.
    raw: Vec<u8>,
    /// Length of the line text (terminator excluded); valid UTF-8.
    line_len: usize,
    /// Where the payload starts, if this frame has one.
    payload_start: Option<usize>,
}

impl Frame {
    /// A command without payload. `line` is written as given, followed by CRLF.
    pub fn command(line: impl Into<String>) -> Frame {
        let mut raw = line.into().into_bytes();
        let line_len = raw.len();
        raw.extend_from_slice(b"\r\n");
        Frame { raw, line_len, payload_start: None }
    }

    /// A payload command: `head` is the line without its length, which is appended as the last token.
    pub fn with_payload(head: &str, payload: &[u8]) -> Frame {
        let mut raw = format!("{head} {}", payload.len()).into_bytes();
        let line_len = raw.len();
        raw.extend_from_slice(b"\r\n");
        let start = raw.len();
        raw.extend_from_slice(payload);
        Frame { raw, line_len, payload_start: Some(start) }
    }

    /// The command line, without its terminator.
    pub fn line(&self) -> &str {
        // Checked when the frame was made: lines are UTF-8 (the constructors take `str`, the decoder
        // validates).
        std::str::from_utf8(&self.raw[..self.line_len]).unwrap_or_default()
    }

    /// The tokens of the line: runs of spaces or tabs separate them (§3.1).
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.line().split([' ', '\t']).filter(|t| !t.is_empty())
    }

    /// The command name (first token), e.g. `"USR"` or `"911"`.
    pub fn name(&self) -> &str {
        self.tokens().next().unwrap_or("")
    }

    /// The `MSG` payload, if this frame carries one.
    pub fn payload(&self) -> Option<&[u8]> {
        self.payload_start.map(|start| &self.raw[start..])
    }

    /// The frame's bytes exactly as received (or as they will be sent).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Consumes the frame, returning its wire bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.raw
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Frame");
        s.field("line", &self.line());
        if let Some(payload) = self.payload() {
            s.field("payload", &String::from_utf8_lossy(payload));
        }
        s.finish()
    }
}

/// True when `name` is a command that carries a length-prefixed payload. In MSNP2 that is only `MSG`,
/// whichever server and direction (§3.3), so the decoder stays in sync even for commands it will reject.
pub fn has_payload(name: &str) -> bool {
    name == "MSG"
}

/// Incremental decoder: bytes in ([`Decoder::extend`]), frames out ([`Decoder::next_frame`]).
///
/// Empty lines are skipped (§11 rule 1). A bare LF ends a line as CRLF does (§3.1). Once it has
/// returned an error the decoder returns that error forever.
///
/// Decoding costs O(bytes received), however the peer splits or pads them: each byte is searched for
/// LF once, a line is parsed once, and bytes are moved only when a partial frame is kept across
/// [`Decoder::extend`] calls (once each). A peer flooding blank lines or one-byte writes therefore costs
/// only what it sends.
///
/// ```
/// use msnp::{Decoder, Limits};
///
/// let mut decoder = Decoder::new(Limits::CLIENT);
/// // A line, then an `MSG` with a 9-byte payload that arrives in two reads.
/// decoder.extend(b"JOI bob@hotmail.com Bob\r\nMSG bob@hotmail.com Bob 9\r\nHello");
///
/// let joi = decoder.next_frame().unwrap().unwrap();
/// assert_eq!(joi.line(), "JOI bob@hotmail.com Bob");
/// assert_eq!(joi.payload(), None);
/// // The MSG is not whole yet: more bytes are needed, which is not an error.
/// assert_eq!(decoder.next_frame(), Ok(None));
///
/// decoder.extend(b" Bob");
/// let msg = decoder.next_frame().unwrap().unwrap();
/// assert_eq!(msg.name(), "MSG");
/// assert_eq!(msg.payload(), Some(&b"Hello Bob"[..]));
/// assert_eq!(decoder.next_frame(), Ok(None));
/// assert_eq!(decoder.buffered(), 0);
///
/// // A payload length that is not a number breaks the stream for good.
/// decoder.extend(b"MSG bob@hotmail.com Bob many\r\n");
/// assert!(decoder.next_frame().is_err());
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    buf: Vec<u8>,
    /// Where the bytes not yet returned start in `buf`.
    start: usize,
    /// Bytes of `buf` from `start` already searched for LF without finding one.
    scanned: usize,
    /// A whole `MSG` line whose payload has not fully arrived.
    awaiting_payload: Option<Line>,
    failed: Option<FrameError>,
    /// Bytes searched, parsed or moved: what the decoder's work is measured by in tests.
    #[cfg(test)]
    work: usize,
}

impl Decoder {
    /// A decoder enforcing `limits`: [`Limits::SERVER`] for bytes from clients, [`Limits::CLIENT`] for bytes
    /// from servers. ([`Decoder::default`] uses [`Limits::SERVER`].)
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits, ..Decoder::default() }
    }

    /// Appends bytes received from the peer.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 {
            // Keep only the partial frame; it is at most one frame long, and moves at most once.
            #[cfg(test)]
            {
                self.work += self.buf.len() - self.start;
            }
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.cut() {
            Err(err) => {
                self.failed = Some(err.clone());
                self.release(self.buf.len());
                Err(err)
            }
            ok => ok,
        }
    }

    /// Marks everything before `end` as taken. An emptied buffer is given back, so an idle connection
    /// holds no memory here.
    fn release(&mut self, end: usize) {
        if end == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        } else {
            self.start = end;
        }
        self.scanned = 0;
        self.awaiting_payload = None;
    }

    fn cut(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.awaiting_payload.is_none() {
                self.skip_empty_lines();
            }
            let line = match self.awaiting_payload.take() {
                Some(line) => line,
                None => match self.next_line()? {
                    None => return Ok(None),
                    Some(Line { lf, payload: Payload::Blank, .. }) => {
                        self.release(self.start + lf + 1);
                        continue;
                    }
                    Some(line) => line,
                },
            };
            let payload_len = match line.payload {
                Payload::Msg(len) => Some(len),
                _ => None,
            };
            let end = line.lf + 1 + payload_len.unwrap_or(0);
            if self.buffered() < end {
                // The line is known good; wait for the rest of the payload without parsing it again.
                self.awaiting_payload = Some(line);
                return Ok(None);
            }
            let raw = self.buf[self.start..self.start + end].to_vec();
            #[cfg(test)]
            {
                self.work += raw.len();
            }
            self.release(self.start + end);
            let payload_start = payload_len.map(|_| line.lf + 1);
            return Ok(Some(Frame { raw, line_len: line.len, payload_start }));
        }
    }

    /// Skips empty lines (`LF` or `CR LF`) at `start` in one pass: a flood of them costs a byte's look each.
    fn skip_empty_lines(&mut self) {
        let pending = &self.buf[self.start..];
        let mut skip = 0;
        loop {
            match pending[skip..] {
                [b'\n', ..] => skip += 1,
                [b'\r', b'\n', ..] => skip += 2,
                _ => break,
            }
        }
        if skip > 0 {
            #[cfg(test)]
            {
                self.work += skip;
            }
            let scanned = self.scanned.saturating_sub(skip);
            self.release(self.start + skip);
            self.scanned = scanned;
        }
    }

    /// Finds and checks the next line after `start`.
    fn next_line(&mut self) -> Result<Option<Line>, FrameError> {
        let pending = &self.buf[self.start..];
        let from = self.scanned;
        let found = pending[from..].iter().position(|&b| b == b'\n');
        #[cfg(test)]
        {
            self.work += found.map_or(pending.len() - from, |i| i + 1);
        }
        let Some(lf) = found.map(|i| from + i) else {
            self.scanned = pending.len();
            if pending.len() >= self.limits.max_line {
                return Err(FrameError::LineTooLong { limit: self.limits.max_line });
            }
            return Ok(None);
        };
        if lf + 1 > self.limits.max_line {
            return Err(FrameError::LineTooLong { limit: self.limits.max_line });
        }
        let len = if lf > 0 && pending[lf - 1] == b'\r' { lf - 1 } else { lf };
        #[cfg(test)]
        {
            self.work += len;
        }
        let text = std::str::from_utf8(&pending[..len]).map_err(|_| FrameError::NotUtf8)?;
        let mut tokens = text.split([' ', '\t']).filter(|t| !t.is_empty());
        let payload = match tokens.next() {
            None => Payload::Blank,
            Some(name) if has_payload(name) => {
                let len = parse_length(tokens.next_back().unwrap_or(name))?;
                if len > self.limits.max_payload {
                    return Err(FrameError::PayloadTooLarge { len, limit: self.limits.max_payload });
                }
                Payload::Msg(len)
            }
            Some(_) => Payload::None,
        };
        Ok(Some(Line { lf, len, payload }))
    }
}

/// A line found in the buffer; positions are relative to the decoder's `start`.
#[derive(Clone, Copy, Debug)]
struct Line {
    /// Where its LF is.
    lf: usize,
    /// Its length without the terminator.
    len: usize,
    payload: Payload,
}

#[derive(Clone, Copy, Debug)]
enum Payload {
    /// An empty or blank line, skipped.
    Blank,
    /// A command without payload.
    None,
    /// `MSG` with a payload of this many bytes.
    Msg(usize),
}

/// A payload length: ASCII digits only (no sign, no spaces).
fn parse_length(token: &str) -> Result<usize, FrameError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FrameError::BadLength(token.chars().take(32).collect()));
    }
    // Digits only, so the only failure is overflow: a length that large is over any limit.
    Ok(token.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn decode_all(bytes: &[u8], limits: Limits) -> Result<Vec<Frame>, FrameError> {
        let mut d = Decoder::new(limits);
        d.extend(bytes);
        let mut frames = Vec::new();
        while let Some(f) = d.next_frame()? {
            frames.push(f);
        }
        Ok(frames)
    }

    #[test]
    fn lines_and_payloads() {
        let wire = b"VER 1 MSNP2 CVR0\r\nMSG 3 N 5\r\nhelloOUT\r\n";
        let frames = decode_all(wire, Limits::SERVER).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].line(), "VER 1 MSNP2 CVR0");
        assert_eq!(frames[0].payload(), None);
        assert_eq!(frames[1].line(), "MSG 3 N 5");
        assert_eq!(frames[1].payload(), Some(&b"hello"[..]));
        assert_eq!(frames[2].line(), "OUT");
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes().to_vec()).collect();
        assert_eq!(joined, wire.to_vec());
    }

    #[test]
    fn payload_length_counts_utf8_bytes() {
        // The §3.3 example: "Café ☕" is 6 characters but 9 bytes; the whole payload is 71 bytes.
        let payload = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nCafé ☕";
        assert_eq!(payload.len(), 71);
        let frame = Frame::with_payload("MSG 3 N", payload.as_bytes());
        assert_eq!(frame.line(), "MSG 3 N 71");
        let mut wire = frame.as_bytes().to_vec();
        wire.extend_from_slice(b"OUT\r\n");
        let frames = decode_all(&wire, Limits::SERVER).unwrap();
        assert_eq!(frames[0], frame);
        assert_eq!(frames[1].line(), "OUT");
    }

    #[test]
    fn empty_payload() {
        let frames = decode_all(b"MSG 1 U 0\r\nOUT\r\n", Limits::SERVER).unwrap();
        assert_eq!(frames[0].payload(), Some(&b""[..]));
        assert_eq!(frames[1].line(), "OUT");
    }

    #[test]
    fn need_more_bytes_is_not_an_error() {
        let mut d = Decoder::new(Limits::SERVER);
        for chunk in [&b"MS"[..], b"G 1 N", b" 3\r", b"\nab"] {
            d.extend(chunk);
            assert_eq!(d.next_frame(), Ok(None));
        }
        d.extend(b"c");
        assert_eq!(d.next_frame().unwrap().unwrap().payload(), Some(&b"abc"[..]));
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bare_lf_blank_lines_and_runs_of_spaces() {
        let frames = decode_all(b"\r\n\nCHG  7\tNLN\n  \r\nOUT\r\n", Limits::SERVER).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].line(), "CHG  7\tNLN");
        assert_eq!(frames[0].tokens().collect::<Vec<_>>(), ["CHG", "7", "NLN"]);
        assert_eq!(frames[0].as_bytes(), b"CHG  7\tNLN\n");
    }

    #[test]
    fn line_limit_counts_the_terminator() {
        let limits = Limits::SERVER;
        let ok = format!("PNG {}\r\n", "x".repeat(MAX_LINE - 6));
        assert_eq!(ok.len(), MAX_LINE);
        assert_eq!(decode_all(ok.as_bytes(), limits).unwrap().len(), 1);
        let long = format!("PNG {}\r\n", "x".repeat(MAX_LINE - 5));
        assert_eq!(decode_all(long.as_bytes(), limits), Err(FrameError::LineTooLong { limit: MAX_LINE }));
    }

    #[test]
    fn endless_line_is_refused_before_its_end() {
        let mut d = Decoder::new(Limits::SERVER);
        d.extend(&vec![b'A'; MAX_LINE - 1]);
        assert_eq!(d.next_frame(), Ok(None));
        d.extend(b"A");
        assert_eq!(d.next_frame(), Err(FrameError::LineTooLong { limit: MAX_LINE }));
        // The error sticks: the stream cannot be trusted any more.
        d.extend(b"\r\nOUT\r\n");
        assert!(d.next_frame().is_err());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_lengths() {
        let limits = Limits::SERVER;
        assert_eq!(decode_all(b"MSG 1 N x\r\n", limits), Err(FrameError::BadLength("x".into())));
        assert_eq!(decode_all(b"MSG 1 N -1\r\n", limits), Err(FrameError::BadLength("-1".into())));
        assert_eq!(decode_all(b"MSG\r\n", limits), Err(FrameError::BadLength("MSG".into())));
        assert_eq!(
            decode_all(b"MSG 1 N 1665\r\n", limits),
            Err(FrameError::PayloadTooLarge { len: 1665, limit: 1664 })
        );
        assert_eq!(
            decode_all(b"MSG 1 N 99999999999999999999999\r\n", limits),
            Err(FrameError::PayloadTooLarge { len: usize::MAX, limit: 1664 })
        );
        let max = format!("MSG 1 N 1664\r\n{}", "a".repeat(1664));
        assert_eq!(decode_all(max.as_bytes(), limits).unwrap().len(), 1);
    }

    #[test]
    fn not_utf8() {
        assert_eq!(decode_all(b"REA 1 a@b.c \xff\r\n", Limits::SERVER), Err(FrameError::NotUtf8));
        // A payload need not be UTF-8.
        let frames = decode_all(b"MSG 1 U 2\r\n\xff\xfe", Limits::SERVER).unwrap();
        assert_eq!(frames[0].payload(), Some(&b"\xff\xfe"[..]));
    }

    /// Feeds `bytes` in chunks of `chunk` bytes, taking every frame after each, until the first error;
    /// returns the decoder's work.
    fn work(bytes: &[u8], chunk: usize) -> usize {
        let mut d = Decoder::new(Limits::SERVER);
        for piece in bytes.chunks(chunk.max(1)) {
            d.extend(piece);
            loop {
                match d.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return d.work,
                }
            }
        }
        d.work
    }

    /// Searching, parsing, copying and moving: each byte at most once, so at most 4 units per byte.
    const WORK_PER_BYTE: usize = 4;

    #[test]
    fn a_flood_of_blank_lines_costs_linear_work() {
        // 4N blank lines cost 4 times what N cost, whether they arrive at once or byte by byte.
        for chunk in [1, 7, 16 * 1024, usize::MAX] {
            let n = 50_000;
            let small = work(&b"\n".repeat(n), chunk);
            let large = work(&b"\n".repeat(4 * n), chunk);
            assert!(small <= WORK_PER_BYTE * n, "{small} for {n} bytes in chunks of {chunk}");
            assert!(large <= 4 * small + 64, "{large} for 4N vs {small} for N, chunks of {chunk}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_costs_linear_work(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "\n".to_owned(),
                "\r\n".to_owned(),
                "    \t  \r\n".to_owned(),
                "PNG\r\n".to_owned(),
                format!("MSG 1 N 1600\r\n{}", "m".repeat(1600)),
                format!("PNG {}\r\n", "x".repeat(MAX_LINE - 6)),
                format!("PNG {}", "x".repeat(MAX_LINE - 4)),
            ]), 1..200),
            chunk in 1..3000usize,
        ) {
            let bytes = pieces.concat().into_bytes();
            let work = work(&bytes, chunk);
            proptest::prop_assert!(work <= WORK_PER_BYTE * bytes.len(), "{} for {} bytes", work, bytes.len());
        }
    }

    #[test]
    fn lowercase_msg_has_no_payload() {
        // Command names are case-sensitive: `msg` is an unknown command, not a payload command.
        let frames = decode_all(b"msg 1 N 3\r\nOUT\r\n", Limits::SERVER).unwrap();
        assert_eq!(frames.len(), 2);
    }
}
