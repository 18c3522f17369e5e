//! The switchboard client session: join, invite, chat, leave (MSNP2.md §8).

use std::collections::{BTreeMap, VecDeque};

use super::{ActionError, RawLine, TrIds};
use crate::frame::MAX_CLIENT_PAYLOAD;
use crate::message::Message;
use crate::sb::{ClientCommand, ServerCommand};
use crate::{AckMode, ErrorCode, Frame, TrId, handle};

/// How this client enters the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbJoin {
    /// With the cookie from our own `XFR … SB` (sends `USR`).
    Caller {
        /// The cookie from [`NsEvent::SwitchboardReady`](super::NsEvent::SwitchboardReady).
        cookie: String,
    },
    /// With the cookie and session id from an `RNG` (sends `ANS`).
    Callee {
        /// The cookie from [`NsEvent::Invited`](super::NsEvent::Invited).
        cookie: String,
        /// The session id from [`NsEvent::Invited`](super::NsEvent::Invited).
        session_id: String,
    },
}

/// What a switchboard session needs to join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SbConfig {
    /// Own handle, as the notification server spells it ([`NsClient::handle`](super::NsClient::handle)).
    pub handle: String,
    /// How to enter the session.
    pub join: SbJoin,
    /// The first TrID to use; switchboard TrIDs are independent of the notification server's (§3.2).
    pub first_trid: u32,
}

/// Someone in the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// The participant's handle.
    pub handle: String,
    /// Friendly name, encoded.
    pub name: String,
}

/// Where the switchboard session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbPhase {
    /// Created; `connect` not called yet.
    Idle,
    /// `USR` or `ANS` sent, awaiting `USR … OK` or `ANS … OK`.
    Joining,
    /// In the session: messages and invitations may be sent.
    Joined,
    /// Left or failed; the connection should be closed.
    Closed,
}

/// Why the switchboard session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbCloseReason {
    /// We sent `OUT`.
    Left,
    /// `911`: the cookie was refused.
    AuthenticationFailed,
    /// The connection ended.
    ConnectionLost,
}

/// What changed in a switchboard session, for the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbEvent {
    /// In the session; `participants` are those already there (from `IRO`; empty for a caller).
    Joined {
        /// The other participants, in the order the server listed them.
        participants: Vec<Participant>,
    },
    /// `CAL … RINGING`: the invitation for `handle` went out.
    Ringing {
        /// The TrID of the `CAL` ([`SbClient::invite`] returns it).
        trid: TrId,
        /// The person invited (empty if the `CAL` was not one of ours).
        handle: String,
        /// The session's id.
        session_id: String,
    },
    /// `JOI`: someone joined.
    ParticipantJoined(Participant),
    /// `BYE`: someone left.
    ParticipantLeft {
        /// Handle of the participant who left.
        handle: String,
    },
    /// `MSG`: a message from another participant.
    Message {
        /// The sender's handle.
        sender: String,
        /// The sender's friendly name, URL-encoded.
        sender_name: String,
        /// The parsed payload; [`Message::content`] says whether it is text, typing or something else.
        message: Message,
    },
    /// `ACK`: the message with this TrID reached the others.
    Delivered {
        /// The TrID of the `MSG` ([`SbClient::send`] returns it).
        trid: TrId,
    },
    /// `NAK`: nobody received the message with this TrID.
    NotDelivered {
        /// The TrID of the `MSG` ([`SbClient::send`] returns it).
        trid: TrId,
    },
    /// An error reply, usually to one of our requests; `command` names it when known.
    ServerError {
        /// The TrID the error line carries, if any.
        trid: Option<TrId>,
        /// The error code; [`ErrorCode::meaning`] explains it.
        code: ErrorCode,
        /// The name of our request with that TrID (e.g. `"CAL"`), when it was one of ours.
        command: Option<&'static str>,
    },
    /// A line this client could not understand; the session carries on.
    Unrecognized {
        /// The line, without its terminator.
        line: String,
        /// Why it could not be parsed.
        error: String,
    },
    /// The session ended, for this reason; close the connection.
    Closed(SbCloseReason),
}

/// One switchboard connection.
///
/// Driven like [`NsClient`](super::NsClient): [`connect`](SbClient::connect), then
/// [`handle_frame`](SbClient::handle_frame) for each frame received, draining
/// [`poll_transmit`](SbClient::poll_transmit) and [`poll_event`](SbClient::poll_event) after each call.
/// Alice's side of the chat in MSNP2.md §13.3:
///
/// ```
/// use msnp::client::{Participant, SbClient, SbConfig, SbEvent, SbJoin};
/// use msnp::message::Message;
/// use msnp::{AckMode, Frame, TrId};
///
/// // The cookie comes from `NsEvent::SwitchboardReady`; the connection goes to its address.
/// let mut sb = SbClient::new(SbConfig {
///     handle: "alice@hotmail.com".into(),
///     join: SbJoin::Caller { cookie: "1056411141.26158.2718".into() },
///     first_trid: 1,
/// });
/// sb.connect();
/// assert_eq!(sb.poll_transmit().unwrap().line(), "USR 1 alice@hotmail.com 1056411141.26158.2718");
/// sb.handle_frame(&Frame::command("USR 1 OK alice@hotmail.com Alice"));
///
/// let trid = sb.invite("bob@hotmail.com").unwrap();
/// assert_eq!(sb.poll_transmit().unwrap().line(), "CAL 2 bob@hotmail.com");
/// sb.handle_frame(&Frame::command("CAL 2 RINGING 17342299"));
/// sb.handle_frame(&Frame::command("JOI bob@hotmail.com Bob"));
///
/// sb.send(&Message::text("Hello Bob"), AckMode::NegativeOnly).unwrap();
/// let msg = sb.poll_transmit().unwrap();
/// assert_eq!(msg.line(), "MSG 3 N 71");
/// let payload = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob";
/// assert_eq!(msg.payload(), Some(&payload[..]));
///
/// let bob = Participant { handle: "bob@hotmail.com".into(), name: "Bob".into() };
/// assert_eq!(
///     std::iter::from_fn(|| sb.poll_event()).collect::<Vec<_>>(),
///     [
///         SbEvent::Joined { participants: vec![] },
///         SbEvent::Ringing { trid, handle: "bob@hotmail.com".into(), session_id: "17342299".into() },
///         SbEvent::ParticipantJoined(bob.clone()),
///     ]
/// );
/// assert_eq!(sb.participants(), [bob]);
/// assert_eq!(trid, TrId(2));
/// ```
#[derive(Debug)]
pub struct SbClient {
    config: SbConfig,
    phase: SbPhase,
    trids: TrIds,
    /// TrID → (command name, handle for CAL).
    pending: BTreeMap<TrId, (&'static str, Option<String>)>,
    transmit: VecDeque<Frame>,
    events: VecDeque<SbEvent>,
    participants: Vec<Participant>,
    session_id: Option<String>,
}

impl SbClient {
    /// A session that will join with `config`. Nothing is sent until [`SbClient::connect`].
    pub fn new(config: SbConfig) -> SbClient {
        let session_id = match &config.join {
            SbJoin::Callee { session_id, .. } => Some(session_id.clone()),
            SbJoin::Caller { .. } => None,
        };
        SbClient {
            trids: TrIds(config.first_trid),
            config,
            phase: SbPhase::Idle,
            pending: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            participants: Vec::new(),
            session_id,
        }
    }

    /// The connection is open: authenticate.
    pub fn connect(&mut self) {
        if self.phase != SbPhase::Idle {
            return;
        }
        self.phase = SbPhase::Joining;
        let handle = self.config.handle.clone();
        let trid = self.trids.next();
        let (name, command) = match self.config.join.clone() {
            SbJoin::Caller { cookie } => ("USR", ClientCommand::Usr { trid, handle, cookie }),
            SbJoin::Callee { cookie, session_id } => ("ANS", ClientCommand::Ans { trid, handle, cookie, session_id }),
        };
        self.pending.insert(trid, (name, None));
        self.push(command);
    }

    /// A frame arrived from the switchboard.
    pub fn handle_frame(&mut self, frame: &Frame) {
        if self.phase == SbPhase::Closed {
            return;
        }
        match ServerCommand::parse(frame) {
            Ok(cmd) => self.on_command(cmd),
            Err(err) => {
                self.events.push_back(SbEvent::Unrecognized { line: frame.line().to_owned(), error: err.to_string() })
            }
        }
    }

    /// The connection closed (or broke).
    pub fn handle_close(&mut self) {
        if self.phase != SbPhase::Closed {
            self.close(SbCloseReason::ConnectionLost);
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SbEvent> {
        self.events.pop_front()
    }

    /// Where the session is.
    pub fn phase(&self) -> SbPhase {
        self.phase
    }

    /// The other participants, in join order.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// The session id, once known (from `RNG`, or the first `CAL … RINGING`).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// `CAL`: invite someone.
    pub fn invite(&mut self, who: &str) -> Result<TrId, ActionError> {
        self.require_joined()?;
        if !handle::is_valid(who) {
            return Err(ActionError::InvalidHandle(who.to_owned()));
        }
        let trid = self.trids.next();
        self.push(ClientCommand::Cal { trid, handle: who.to_owned() });
        self.pending.insert(trid, ("CAL", Some(who.to_owned())));
        Ok(trid)
    }

    /// `MSG`: send a message with the given acknowledgement mode.
    pub fn send(&mut self, message: &Message, ack: AckMode) -> Result<TrId, ActionError> {
        self.require_joined()?;
        let payload = message.to_bytes();
        if payload.len() > MAX_CLIENT_PAYLOAD {
            return Err(ActionError::MessageTooLong { len: payload.len(), limit: MAX_CLIENT_PAYLOAD });
        }
        let trid = self.trids.next();
        self.push(ClientCommand::Msg { trid, ack, payload });
        if ack != AckMode::Unacknowledged {
            self.pending.insert(trid, ("MSG", None));
        }
        Ok(trid)
    }

    /// Sends a command line a person typed: the TrID is filled in when left out. `MSG [trid] U|N|A text`
    /// sends `text` as a plain-text message; `OUT` leaves.
    pub fn send_raw(&mut self, input: &str) -> Result<TrId, ActionError> {
        self.require_joined()?;
        let raw = RawLine::parse(input, &mut self.trids)?;
        let trid = raw.trid.unwrap_or_default();
        match raw.name.as_str() {
            "OUT" => {
                self.leave();
                Ok(trid)
            }
            "MSG" => {
                let ack = raw.params.first().and_then(|a| a.parse::<AckMode>().ok());
                let Some(ack) = ack else { return Err(ActionError::InvalidLine("MSG [trid] U|N|A text")) };
                let payload = Message::text(&raw.params[1..].join(" ")).to_bytes();
                if ack != AckMode::Unacknowledged {
                    self.pending.insert(trid, ("MSG", None));
                }
                self.push(ClientCommand::Msg { trid, ack, payload });
                Ok(trid)
            }
            name => {
                let pending = match name {
                    "CAL" => ("CAL", raw.params.first().cloned()),
                    "USR" => ("USR", None),
                    "ANS" => ("ANS", None),
                    _ => ("command", None),
                };
                self.pending.insert(trid, pending);
                self.transmit.push_back(Frame::command(raw.line()));
                Ok(trid)
            }
        }
    }

    /// `OUT`: leave the session; the caller sends the queued `OUT`, then closes.
    pub fn leave(&mut self) {
        if self.phase != SbPhase::Closed {
            if self.phase != SbPhase::Idle {
                self.transmit.push_back(ClientCommand::Out.to_frame());
            }
            self.close(SbCloseReason::Left);
        }
    }

    fn require_joined(&self) -> Result<(), ActionError> {
        if self.phase == SbPhase::Joined { Ok(()) } else { Err(ActionError::NotJoined) }
    }

    fn push(&mut self, command: ClientCommand) {
        self.transmit.push_back(command.to_frame());
    }

    fn close(&mut self, reason: SbCloseReason) {
        self.phase = SbPhase::Closed;
        self.events.push_back(SbEvent::Closed(reason));
    }

    fn joined(&mut self) {
        self.phase = SbPhase::Joined;
        self.events.push_back(SbEvent::Joined { participants: self.participants.clone() });
    }

    fn on_command(&mut self, cmd: ServerCommand) {
        match cmd {
            ServerCommand::UsrOk { trid, .. } => {
                self.pending.remove(&trid);
                self.joined();
            }
            ServerCommand::Iro { handle, name, .. } => {
                if !self.participants.iter().any(|p| handle::same(&p.handle, &handle)) {
                    self.participants.push(Participant { handle, name });
                }
            }
            ServerCommand::AnsOk { trid } => {
                self.pending.remove(&trid);
                self.joined();
            }
            ServerCommand::CalRinging { trid, session_id } => {
                let handle = self.pending.remove(&trid).and_then(|(_, h)| h).unwrap_or_default();
                self.session_id.get_or_insert_with(|| session_id.clone());
                self.events.push_back(SbEvent::Ringing { trid, handle, session_id });
            }
            ServerCommand::Joi { handle, name } => {
                let participant = Participant { handle, name };
                self.participants.retain(|p| !handle::same(&p.handle, &participant.handle));
                self.participants.push(participant.clone());
                self.events.push_back(SbEvent::ParticipantJoined(participant));
            }
            ServerCommand::Bye { handle } => {
                self.participants.retain(|p| !handle::same(&p.handle, &handle));
                self.events.push_back(SbEvent::ParticipantLeft { handle });
            }
            ServerCommand::Msg { sender, sender_name, payload } => {
                let message = Message::parse(&payload);
                self.events.push_back(SbEvent::Message { sender, sender_name, message });
            }
            ServerCommand::Ack { trid } => {
                self.pending.remove(&trid);
                self.events.push_back(SbEvent::Delivered { trid });
            }
            ServerCommand::Nak { trid } => {
                self.pending.remove(&trid);
                self.events.push_back(SbEvent::NotDelivered { trid });
            }
            ServerCommand::Error { code, trid } => {
                let command = trid.and_then(|t| self.pending.remove(&t)).map(|(name, _)| name);
                self.events.push_back(SbEvent::ServerError { trid, code, command });
                if code == ErrorCode::AuthenticationFailed && matches!(command, Some("USR" | "ANS")) {
                    self.close(SbCloseReason::AuthenticationFailed);
                }
            }
        }
    }
}
