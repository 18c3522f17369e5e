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
    Caller { cookie: String },
    /// With the cookie and session id from an `RNG` (sends `ANS`).
    Callee { cookie: String, session_id: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SbConfig {
    pub handle: String,
    pub join: SbJoin,
    pub first_trid: u32,
}

/// Someone in the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub handle: String,
    /// Friendly name, encoded.
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbPhase {
    Idle,
    Joining,
    Joined,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbCloseReason {
    /// We sent `OUT`.
    Left,
    /// `911`: the cookie was refused.
    AuthenticationFailed,
    /// The connection ended.
    ConnectionLost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbEvent {
    /// In the session; `participants` are those already there (from `IRO`; empty for a caller).
    Joined {
        participants: Vec<Participant>,
    },
    /// `CAL … RINGING`: the invitation for `handle` went out.
    Ringing {
        trid: TrId,
        handle: String,
        session_id: String,
    },
    ParticipantJoined(Participant),
    ParticipantLeft {
        handle: String,
    },
    Message {
        sender: String,
        sender_name: String,
        message: Message,
    },
    /// `ACK`: the message with this TrID reached the others.
    Delivered {
        trid: TrId,
    },
    /// `NAK`: nobody received the message with this TrID.
    NotDelivered {
        trid: TrId,
    },
    ServerError {
        trid: Option<TrId>,
        code: ErrorCode,
        command: Option<&'static str>,
    },
    Unrecognized {
        line: String,
        error: String,
    },
    Closed(SbCloseReason),
}

/// One switchboard connection.
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

    pub fn handle_close(&mut self) {
        if self.phase != SbPhase::Closed {
            self.close(SbCloseReason::ConnectionLost);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SbEvent> {
        self.events.pop_front()
    }

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
