//! The MIME-style payloads that `MSG` carries (MSNP2.md §8.8): `Name: value` header lines, a blank
//! line, then the body (not followed by CRLF).

/// A parsed `MSG` payload.
///
/// ```
/// use msnp::message::{Content, Message};
///
/// let bytes = Message::text("Hello Bob").to_bytes();
/// assert_eq!(bytes, b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob");
/// assert_eq!(Message::parse(&bytes).content(), Content::Text("Hello Bob".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    /// The header lines as `(name, value)` pairs, in order.
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line, as bytes (UTF-8 for `text/plain; charset=UTF-8`).
    pub body: Vec<u8>,
}

/// What a payload means to a chat client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// `text/plain`: a message to show.
    Text(String),
    /// `text/x-msmsgscontrol` with `TypingUser`: someone is typing.
    Typing(String),
    /// Anything else: clients ignore content types they do not know.
    Other(String),
}

impl Message {
    /// A plain-text chat message, as MSN Messenger sends it.
    pub fn text(text: &str) -> Message {
        Message {
            headers: vec![
                ("MIME-Version".into(), "1.0".into()),
                ("Content-Type".into(), "text/plain; charset=UTF-8".into()),
            ],
            body: text.as_bytes().to_vec(),
        }
    }

    /// A typing notification for `handle` (sent with ack mode `U`).
    pub fn typing(handle: &str) -> Message {
        Message {
            headers: vec![
                ("MIME-Version".into(), "1.0".into()),
                ("Content-Type".into(), "text/x-msmsgscontrol".into()),
                ("TypingUser".into(), handle.into()),
            ],
            body: b"\r\n".to_vec(),
        }
    }

    /// Splits a payload into headers and body. Lenient: a bare LF ends lines too, a header line without
    /// a colon is skipped, and a payload without a blank line is all headers.
    pub fn parse(payload: &[u8]) -> Message {
        let mut message = Message::default();
        let mut rest = payload;
        while !rest.is_empty() {
            let (line, after) = match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => (&rest[..lf], &rest[lf + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = after;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                message.body = rest.to_vec();
                break;
            }
            let line = String::from_utf8_lossy(line);
            if let Some((name, value)) = line.split_once(':') {
                message.headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        message
    }

    /// The payload bytes: each header as `Name: value` CRLF, CRLF, then the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type without parameters, lowercased (`text/plain`).
    pub fn content_type(&self) -> String {
        let value = self.header("Content-Type").unwrap_or("text/plain");
        value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
    }

    /// What the payload means, by content type: text, typing notification, or something else.
    pub fn content(&self) -> Content {
        match self.content_type().as_str() {
            "text/plain" => Content::Text(String::from_utf8_lossy(&self.body).into_owned()),
            "text/x-msmsgscontrol" => match self.header("TypingUser") {
                Some(user) => Content::Typing(user.to_owned()),
                None => Content::Other("text/x-msmsgscontrol".into()),
            },
            other => Content::Other(other.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn text_message_bytes_match_the_reference() {
        let bytes = Message::text("Hello Bob").to_bytes();
        assert_eq!(bytes, b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob");
        assert_eq!(bytes.len(), 71);
        assert_eq!(Message::text("Hi Alice, lunch?").to_bytes().len(), 78);
        assert_eq!(Message::text("Sure!").to_bytes().len(), 67);
    }

    #[test]
    fn parse_and_classify() {
        let m = Message::parse(b"MIME-Version: 1.0\r\nContent-Type: text/plain;charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff\r\n\r\nCaf\xc3\xa9\r\nline 2");
        assert_eq!(m.content(), Content::Text("Café\r\nline 2".into()));
        assert_eq!(m.header("x-mms-im-format"), Some("FN=Arial; EF=B; CO=ff"));
        let typing = Message::parse(&Message::typing("bob@hotmail.com").to_bytes());
        assert_eq!(typing.content(), Content::Typing("bob@hotmail.com".into()));
        let other = Message::parse(b"Content-Type: application/x-msmsgsinvite\n\nInvitation-Command: INVITE");
        assert_eq!(other.content(), Content::Other("application/x-msmsgsinvite".into()));
        assert_eq!(other.body, b"Invitation-Command: INVITE");
        assert_eq!(Message::parse(b"").content(), Content::Text(String::new()));
        assert_eq!(Message::parse(b"garbage without colon").headers, vec![]);
    }
}
