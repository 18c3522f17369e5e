//! Switchboard commands, both directions (MSNP2.md §8.2–§8.9).

use crate::parse::{Args, ParseError, error_frame, parse_error_line};
use crate::{AckMode, ErrorCode, Frame, TrId};

/// Commands a client sends to a switchboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// `USR <trid> <handle> <cookie>`: the caller authenticates with the cookie from `XFR` (§8.2).
    Usr {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// Own handle.
        handle: String,
        /// The cookie from `XFR … SB`.
        cookie: String,
    },
    /// `CAL <trid> <handle>`: invite someone (§8.3).
    Cal {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// Handle of the person to invite.
        handle: String,
    },
    /// `ANS <trid> <handle> <cookie> <session-id>`: the callee joins with the cookie from `RNG` (§8.5).
    Ans {
        /// The transaction id the `IRO` lines and the reply echo.
        trid: TrId,
        /// Own handle.
        handle: String,
        /// The cookie from `RNG`.
        cookie: String,
        /// The session id from `RNG`.
        session_id: String,
    },
    /// `MSG <trid> U|N|A <length>` and payload (§8.7).
    Msg {
        /// The transaction id an `ACK` or `NAK` echoes.
        trid: TrId,
        /// Which acknowledgement the sender wants.
        ack: AckMode,
        /// The payload bytes, relayed untouched: MIME-style headers and body (see
        /// [`Message`](crate::message::Message)). At most [`MAX_CLIENT_PAYLOAD`](crate::frame::MAX_CLIENT_PAYLOAD)
        /// bytes.
        payload: Vec<u8>,
    },
    /// `OUT`: leave the session; the server closes the connection (§8.9).
    Out,
}

impl ClientCommand {
    /// Parses a frame received from a client. A bad ack letter is a violation: close without relaying.
    pub fn parse(frame: &Frame) -> Result<ClientCommand, ParseError> {
        let mut a = Args::new(frame);
        Ok(match a.name() {
            "OUT" => ClientCommand::Out,
            "USR" => {
                let trid = a.trid()?;
                a.require(2)?;
                ClientCommand::Usr { trid, handle: a.string()?, cookie: a.string()? }
            }
            "CAL" => {
                let trid = a.trid()?;
                ClientCommand::Cal { trid, handle: a.string()? }
            }
            "ANS" => {
                let trid = a.trid()?;
                a.require(3)?;
                ClientCommand::Ans { trid, handle: a.string()?, cookie: a.string()?, session_id: a.string()? }
            }
            "MSG" => {
                let trid = a.trid()?;
                a.require(2)?;
                let ack = a.text()?.parse().map_err(|_| a.violation("MSG acknowledgement must be U, N or A"))?;
                ClientCommand::Msg { trid, ack, payload: frame.payload().unwrap_or_default().to_vec() }
            }
            _ => return Err(a.unknown()),
        })
    }

    /// The frame to send.
    pub fn to_frame(&self) -> Frame {
        Frame::command(match self {
            ClientCommand::Msg { trid, ack, payload } => {
                return Frame::with_payload(&format!("MSG {trid} {ack}"), payload);
            }
            ClientCommand::Usr { trid, handle, cookie } => format!("USR {trid} {handle} {cookie}"),
            ClientCommand::Cal { trid, handle } => format!("CAL {trid} {handle}"),
            ClientCommand::Ans { trid, handle, cookie, session_id } => {
                format!("ANS {trid} {handle} {cookie} {session_id}")
            }
            ClientCommand::Out => "OUT".into(),
        })
    }

    /// The TrID, for commands that carry one.
    pub fn trid(&self) -> Option<TrId> {
        match self {
            ClientCommand::Usr { trid, .. }
            | ClientCommand::Cal { trid, .. }
            | ClientCommand::Ans { trid, .. }
            | ClientCommand::Msg { trid, .. } => Some(*trid),
            ClientCommand::Out => None,
        }
    }
}

/// Commands a switchboard sends to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    /// `USR <trid> OK <handle> <friendly-name>`: the caller is in a new session (§8.2).
    UsrOk {
        /// The TrID of the client's `USR`.
        trid: TrId,
        /// Own canonical handle.
        handle: String,
        /// Own friendly name, URL-encoded.
        name: String,
    },
    /// `CAL <trid> RINGING <session-id>`: the invitation went out (§8.3).
    CalRinging {
        /// The TrID of the client's `CAL`.
        trid: TrId,
        /// The session's id; the same for the whole life of the session.
        session_id: String,
    },
    /// `IRO <trid> <n> <total> <handle> <friendly-name>`: one participant already present (§8.5).
    Iro {
        /// The TrID of the client's `ANS`.
        trid: TrId,
        /// Position of this participant, from 1.
        index: u32,
        /// Number of participants listed.
        total: u32,
        /// The participant's handle.
        handle: String,
        /// The participant's friendly name, URL-encoded.
        name: String,
    },
    /// `ANS <trid> OK`: the callee is in the session (§8.5).
    AnsOk {
        /// The TrID of the client's `ANS`.
        trid: TrId,
    },
    /// `JOI <handle> <friendly-name>`: someone joined (§8.6).
    Joi {
        /// The newcomer's handle.
        handle: String,
        /// The newcomer's friendly name, URL-encoded.
        name: String,
    },
    /// `BYE <handle>`: someone left (§8.6).
    Bye {
        /// Handle of the participant who left.
        handle: String,
    },
    /// `MSG <sender> <sender-name> <length>` and payload: a message from another participant (§8.8).
    Msg {
        /// The sender's handle.
        sender: String,
        /// The sender's current friendly name, URL-encoded.
        sender_name: String,
        /// The payload bytes as the sender wrote them (see [`Message::parse`](crate::message::Message::parse)).
        payload: Vec<u8>,
    },
    /// `ACK <trid>`: the message sent with this TrID was delivered (§8.7).
    Ack {
        /// The TrID of the client's `MSG`.
        trid: TrId,
    },
    /// `NAK <trid>`: the message sent with this TrID was not delivered (§8.7).
    Nak {
        /// The TrID of the client's `MSG`.
        trid: TrId,
    },
    /// `<code> <trid>`: an error reply (§3.6, §10).
    Error {
        /// The error code.
        code: ErrorCode,
        /// The TrID of the failed request; `None` when the line has none.
        trid: Option<TrId>,
    },
}

impl ServerCommand {
    /// Parses a frame received from a switchboard; extra trailing parameters (`BYE <handle> 1` of later
    /// dialects) are ignored.
    pub fn parse(frame: &Frame) -> Result<ServerCommand, ParseError> {
        if let Some((code, trid)) = parse_error_line(frame) {
            return Ok(ServerCommand::Error { code, trid });
        }
        let mut a = Args::new(frame);
        let bad = ErrorCode::InvalidParameter;
        Ok(match a.name() {
            "JOI" => {
                a.require(2)?;
                ServerCommand::Joi { handle: a.string()?, name: a.string()? }
            }
            "BYE" => ServerCommand::Bye { handle: a.string()? },
            "MSG" => {
                a.require(3)?;
                let (sender, sender_name) = (a.string()?, a.string()?);
                ServerCommand::Msg { sender, sender_name, payload: frame.payload().unwrap_or_default().to_vec() }
            }
            "USR" => {
                let trid = a.trid()?;
                a.require(3)?;
                if a.text()? != "OK" {
                    return Err(a.invalid(bad));
                }
                ServerCommand::UsrOk { trid, handle: a.string()?, name: a.string()? }
            }
            "CAL" => {
                let trid = a.trid()?;
                a.require(2)?;
                if a.text()? != "RINGING" {
                    return Err(a.invalid(bad));
                }
                ServerCommand::CalRinging { trid, session_id: a.string()? }
            }
            "IRO" => {
                let trid = a.trid()?;
                a.require(4)?;
                ServerCommand::Iro {
                    trid,
                    index: a.number(bad)?,
                    total: a.number(bad)?,
                    handle: a.string()?,
                    name: a.string()?,
                }
            }
            "ANS" => {
                let trid = a.trid()?;
                if a.text()? != "OK" {
                    return Err(a.invalid(bad));
                }
                ServerCommand::AnsOk { trid }
            }
            "ACK" => ServerCommand::Ack { trid: a.trid()? },
            "NAK" => ServerCommand::Nak { trid: a.trid()? },
            _ => return Err(a.unknown()),
        })
    }

    /// The frame to send.
    pub fn to_frame(&self) -> Frame {
        Frame::command(match self {
            ServerCommand::Msg { sender, sender_name, payload } => {
                return Frame::with_payload(&format!("MSG {sender} {sender_name}"), payload);
            }
            ServerCommand::Error { code, trid } => return error_frame(*code, *trid),
            ServerCommand::UsrOk { trid, handle, name } => format!("USR {trid} OK {handle} {name}"),
            ServerCommand::CalRinging { trid, session_id } => {
                format!("CAL {trid} RINGING {session_id}")
            }
            ServerCommand::Iro { trid, index, total, handle, name } => {
                format!("IRO {trid} {index} {total} {handle} {name}")
            }
            ServerCommand::AnsOk { trid } => format!("ANS {trid} OK"),
            ServerCommand::Joi { handle, name } => format!("JOI {handle} {name}"),
            ServerCommand::Bye { handle } => format!("BYE {handle}"),
            ServerCommand::Ack { trid } => format!("ACK {trid}"),
            ServerCommand::Nak { trid } => format!("NAK {trid}"),
        })
    }

    /// The TrID this line answers, if any.
    pub fn trid(&self) -> Option<TrId> {
        match self {
            ServerCommand::UsrOk { trid, .. }
            | ServerCommand::CalRinging { trid, .. }
            | ServerCommand::Iro { trid, .. }
            | ServerCommand::AnsOk { trid }
            | ServerCommand::Ack { trid }
            | ServerCommand::Nak { trid } => Some(*trid),
            ServerCommand::Error { trid, .. } => *trid,
            ServerCommand::Joi { .. } | ServerCommand::Bye { .. } | ServerCommand::Msg { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn every_client_command() {
        let cases = [
            (
                "USR 1 alice@hotmail.com 1056411141.26158.2718",
                ClientCommand::Usr {
                    trid: TrId(1),
                    handle: s("alice@hotmail.com"),
                    cookie: s("1056411141.26158.2718"),
                },
            ),
            ("CAL 2 bob@hotmail.com", ClientCommand::Cal { trid: TrId(2), handle: s("bob@hotmail.com") }),
            (
                "ANS 1 bob@hotmail.com 1056411142.99120.3141 17342299",
                ClientCommand::Ans {
                    trid: TrId(1),
                    handle: s("bob@hotmail.com"),
                    cookie: s("1056411142.99120.3141"),
                    session_id: s("17342299"),
                },
            ),
            ("OUT", ClientCommand::Out),
        ];
        for (line, cmd) in cases {
            let frame = Frame::command(line);
            assert_eq!(ClientCommand::parse(&frame), Ok(cmd.clone()));
            assert_eq!(cmd.to_frame(), frame);
        }
        for ack in AckMode::ALL {
            let cmd = ClientCommand::Msg { trid: TrId(3), ack: *ack, payload: b"Hello Bob".to_vec() };
            let frame = cmd.to_frame();
            assert_eq!(frame.line(), format!("MSG 3 {ack} 9"));
            assert_eq!(ClientCommand::parse(&frame), Ok(cmd));
        }
    }

    #[test]
    fn every_server_command() {
        let cases = [
            (
                "USR 1 OK alice@hotmail.com Alice",
                ServerCommand::UsrOk { trid: TrId(1), handle: s("alice@hotmail.com"), name: s("Alice") },
            ),
            ("CAL 2 RINGING 17342299", ServerCommand::CalRinging { trid: TrId(2), session_id: s("17342299") }),
            (
                "IRO 1 1 1 alice@hotmail.com Alice",
                ServerCommand::Iro {
                    trid: TrId(1),
                    index: 1,
                    total: 1,
                    handle: s("alice@hotmail.com"),
                    name: s("Alice"),
                },
            ),
            ("ANS 1 OK", ServerCommand::AnsOk { trid: TrId(1) }),
            ("JOI bob@hotmail.com Bob", ServerCommand::Joi { handle: s("bob@hotmail.com"), name: s("Bob") }),
            ("BYE bob@hotmail.com", ServerCommand::Bye { handle: s("bob@hotmail.com") }),
            ("ACK 2", ServerCommand::Ack { trid: TrId(2) }),
            ("NAK 3", ServerCommand::Nak { trid: TrId(3) }),
            ("217 2", ServerCommand::Error { code: ErrorCode::NotOnline, trid: Some(TrId(2)) }),
        ];
        for (line, cmd) in cases {
            let frame = Frame::command(line);
            assert_eq!(ServerCommand::parse(&frame), Ok(cmd.clone()));
            assert_eq!(cmd.to_frame(), frame);
        }
        let msg =
            ServerCommand::Msg { sender: s("alice@hotmail.com"), sender_name: s("Alice"), payload: b"hi".to_vec() };
        assert_eq!(msg.to_frame().as_bytes(), b"MSG alice@hotmail.com Alice 2\r\nhi");
        assert_eq!(ServerCommand::parse(&msg.to_frame()), Ok(msg));
        // A later dialect's "disconnected automatically" flag is tolerated.
        assert_eq!(
            ServerCommand::parse(&Frame::command("BYE bob@hotmail.com 1")),
            Ok(ServerCommand::Bye { handle: s("bob@hotmail.com") })
        );
    }

    #[test]
    fn malformed_client_lines() {
        let err = |line: &str| ClientCommand::parse(&Frame::with_payload(line, b"x")).unwrap_err();
        // A bad ack letter (case-sensitive) closes without relaying (§8.7).
        assert!(matches!(err("MSG 3 a"), ParseError::Violation { .. }));
        assert!(err("MSG 3 a").reply().is_none());
        assert!(matches!(err("MSG 3 X"), ParseError::Violation { .. }));
        let err = |line: &str| ClientCommand::parse(&Frame::command(line)).unwrap_err();
        assert_eq!(err("CAL 2").reply().unwrap().line(), "200 2");
        assert_eq!(err("ANS 1 bob@hotmail.com cookie").reply().unwrap().line(), "200 1");
        assert_eq!(err("INF 1").reply().unwrap().line(), "200 1");
        assert!(err("CAL x bob@hotmail.com").reply().is_none());
    }
}
