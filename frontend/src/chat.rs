//! One conversation on a switchboard, as the page shows it. Pure state like [`crate::session`]: frames
//! and times in, frames to send and what to show out.

use msnp::client::{ActionError, SbClient, SbCloseReason, SbConfig, SbEvent, SbJoin, SbPhase};
use msnp::message::{Content, Message};
use msnp::{AckMode, Frame, TrId, name};

use crate::explain::Conn;
use crate::log::{Direction, Log};

/// The font of a message, from its `X-MMS-IM-Format` header (`FN=Arial; EF=BI; CO=ff0000`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Font {
    pub family: Option<String>,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    /// CSS colour, `#rrggbb` (the header gives blue-green-red).
    pub color: Option<String>,
}

impl Font {
    pub fn parse(header: &str) -> Font {
        let mut font = Font::default();
        for field in header.split(';') {
            let Some((key, value)) = field.trim().split_once('=') else { continue };
            match key.trim() {
                "FN" => font.family = Some(name::decode(value.trim())).filter(|f| !f.is_empty()),
                "EF" => {
                    font.bold = value.contains('B');
                    font.italic = value.contains('I');
                    font.underline = value.contains('U');
                    font.strike = value.contains('S');
                }
                "CO" => {
                    let hex = value.trim();
                    if !hex.is_empty() && hex.len() <= 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        let bgr = format!("{hex:0>6}");
                        font.color = Some(format!("#{}{}{}", &bgr[4..6], &bgr[2..4], &bgr[0..2]));
                    }
                }
                _ => {}
            }
        }
        font
    }

    /// Inline CSS for the message text (the colour as `--sender-color`).
    pub fn css(&self) -> String {
        let mut css = String::new();
        if let Some(family) = &self.family {
            // Quotes and semicolons cannot escape the declaration.
            css.push_str(&format!("font-family: \"{}\";", family.replace(['"', ';', '\\'], "")));
        }
        if self.bold {
            css.push_str("font-weight: bold;");
        }
        if self.italic {
            css.push_str("font-style: italic;");
        }
        let lines: Vec<&str> = [(self.underline, "underline"), (self.strike, "line-through")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, l)| *l)
            .collect();
        if !lines.is_empty() {
            css.push_str(&format!("text-decoration: {};", lines.join(" ")));
        }
        if let Some(color) = &self.color {
            // The stylesheet applies it in light mode only: a sender's black would vanish on dark.
            css.push_str(&format!("--sender-color: {color};"));
        }
        css
    }
}

/// A line of the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatLine {
    Message {
        at_ms: u32,
        /// Decoded friendly name.
        who: String,
        mine: bool,
        text: String,
        font: Option<Font>,
        /// Our own messages, for marking a NAK.
        trid: Option<TrId>,
        /// Nobody received it (NAK), or nobody came to receive it.
        undelivered: bool,
        /// Typed before anyone joined: held until someone does.
        waiting: bool,
    },
    /// Joins, leaves, errors.
    Event { at_ms: u32, text: String },
}

/// How long a typing notification shows, and how often we send ours.
const TYPING_MS: f64 = 6000.0;
const TYPING_EVERY_MS: f64 = 4000.0;

/// How long a message typed before anyone joined waits for someone before it is marked not delivered.
pub const HOLD_MS: f64 = 60_000.0;

/// A conversation.
#[derive(Debug)]
pub struct Chat {
    /// The page's own number for this chat.
    pub id: u32,
    sb: SbClient,
    own_handle: String,
    own_name: String,
    /// The sign-in's start, so that all logs share one clock.
    base_ms: f64,
    pub log: Log,
    pub lines: Vec<ChatLine>,
    /// Who is typing (handle, name) and until when.
    typing: Vec<(String, String, f64)>,
    /// Whom to invite once the switchboard has let us in (a chat we started).
    invite_on_join: Option<String>,
    /// Messages received since the chat was last looked at.
    pub unread: u32,
    /// Names (decoded) of everyone who has been in the conversation, to name those who leave.
    names: std::collections::HashMap<String, String>,
    last_typing_sent: f64,
    outbox: Vec<Frame>,
    /// Raw-console commands waiting for their reply.
    raw: crate::watch::Waiting,
    /// Messages typed before anyone joined (some servers drop a `MSG` sent then): their lines' indexes,
    /// and when the first was typed.
    held: Vec<usize>,
    held_since: f64,
}

impl Chat {
    /// A chat we start (`USR` with the cookie from `XFR`), inviting `invitee` once in.
    pub fn start(id: u32, handle: &str, own_name: &str, cookie: String, invitee: Option<String>, base_ms: f64) -> Chat {
        Chat::new(id, handle, own_name, SbJoin::Caller { cookie }, invitee, base_ms)
    }

    /// A chat we were invited to (`ANS` with the cookie and session from `RNG`).
    pub fn answer(id: u32, handle: &str, own_name: &str, cookie: String, session_id: String, base_ms: f64) -> Chat {
        Chat::new(id, handle, own_name, SbJoin::Callee { cookie, session_id }, None, base_ms)
    }

    fn new(id: u32, handle: &str, own_name: &str, join: SbJoin, invite_on_join: Option<String>, base_ms: f64) -> Chat {
        Chat {
            id,
            sb: SbClient::new(SbConfig { handle: handle.to_owned(), join, first_trid: 1 }),
            own_handle: handle.to_owned(),
            own_name: own_name.to_owned(),
            base_ms,
            log: Log::default(),
            lines: Vec::new(),
            typing: Vec::new(),
            invite_on_join,
            unread: 0,
            names: std::collections::HashMap::new(),
            last_typing_sent: f64::NEG_INFINITY,
            outbox: Vec::new(),
            raw: crate::watch::Waiting::default(),
            held: Vec::new(),
            held_since: 0.0,
        }
    }

    fn at(&self, now_ms: f64) -> u32 {
        (now_ms - self.base_ms).max(0.0) as u32
    }

    pub fn opened(&mut self, now_ms: f64) {
        self.sb.connect();
        self.pump(now_ms);
    }

    pub fn received(&mut self, frame: &Frame, now_ms: f64) {
        self.log.record(Conn::Switchboard, Direction::Received, frame, self.at(now_ms));
        self.raw.received(frame);
        self.sb.handle_frame(frame);
        self.pump(now_ms);
    }

    pub fn closed(&mut self, reason: &str, now_ms: f64) {
        let was_open = self.sb.phase() != SbPhase::Closed;
        self.sb.handle_close();
        self.pump(now_ms);
        if was_open && !reason.is_empty() {
            self.event(format!("The connection ended: {reason}."), now_ms);
        }
    }

    pub fn take_outbox(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.outbox)
    }

    pub fn is_closed(&self) -> bool {
        self.sb.phase() == SbPhase::Closed
    }

    pub fn joined(&self) -> bool {
        self.sb.phase() == SbPhase::Joined
    }

    /// The other people in the conversation: (handle, decoded name).
    pub fn participants(&self) -> Vec<(String, String)> {
        self.sb.participants().iter().map(|p| (p.handle.clone(), name::decode(&p.name))).collect()
    }

    /// Who is here, in a sentence: the others, or that they have all left, or that nobody came yet; once
    /// the conversation is over, only that.
    pub fn presence(&self) -> String {
        let names: Vec<String> = self.participants().into_iter().map(|(_, n)| n).collect();
        if self.is_closed() {
            "This conversation has ended: you can read it, not write in it.".into()
        } else if !names.is_empty() {
            format!("In this conversation: {}", names.join(", "))
        } else if self.names.is_empty() {
            "Nobody else is here yet.".into()
        } else if self.joined() {
            "Everyone else has left; invite someone to carry on.".into()
        } else {
            "Everyone else has left.".into()
        }
    }

    /// A title for the chat's tab.
    pub fn title(&self) -> String {
        let names: Vec<String> = self.participants().into_iter().map(|(_, n)| n).collect();
        match (names.is_empty(), &self.invite_on_join) {
            (false, _) => names.join(", "),
            (true, Some(invitee)) => invitee.clone(),
            (true, None) => "Conversation".into(),
        }
    }

    /// Names of the people typing now (nobody, once the conversation is over).
    pub fn typing(&self, now_ms: f64) -> Vec<String> {
        if self.is_closed() {
            return Vec::new();
        }
        self.typing.iter().filter(|(_, _, until)| *until > now_ms).map(|(_, name, _)| name.clone()).collect()
    }

    /// Sends a message; before anyone has joined, holds it (shown as waiting) until someone does.
    pub fn send_text(&mut self, text: &str, now_ms: f64) -> Result<(), ActionError> {
        let message = Message::text(text);
        let len = message.to_bytes().len();
        if len > msnp::frame::MAX_CLIENT_PAYLOAD {
            return Err(ActionError::MessageTooLong { len, limit: msnp::frame::MAX_CLIENT_PAYLOAD });
        }
        // Before the switchboard has let us in, or before anyone has joined, nobody would get it.
        let waiting = !self.is_closed() && (!self.joined() || self.names.is_empty());
        let trid = if waiting { None } else { Some(self.sb.send(&message, AckMode::NegativeOnly)?) };
        if waiting {
            if self.held.is_empty() {
                self.held_since = now_ms;
            }
            self.held.push(self.lines.len());
        }
        self.lines.push(ChatLine::Message {
            at_ms: self.at(now_ms),
            who: self.own_name.clone(),
            mine: true,
            text: text.to_owned(),
            font: None,
            trid,
            undelivered: false,
            waiting,
        });
        self.last_typing_sent = f64::NEG_INFINITY;
        self.pump(now_ms);
        Ok(())
    }

    /// Someone is here: the held messages go out, in order.
    fn send_held(&mut self) {
        for index in std::mem::take(&mut self.held) {
            if let Some(ChatLine::Message { text, trid, waiting, undelivered, .. }) = self.lines.get_mut(index) {
                *waiting = false;
                match self.sb.send(&Message::text(text), AckMode::NegativeOnly) {
                    Ok(t) => *trid = Some(t),
                    Err(_) => *undelivered = true,
                }
            }
        }
    }

    /// Nobody came: the held messages are marked not delivered.
    fn drop_held(&mut self) {
        for index in std::mem::take(&mut self.held) {
            if let Some(ChatLine::Message { waiting, undelivered, .. }) = self.lines.get_mut(index) {
                *waiting = false;
                *undelivered = true;
            }
        }
    }

    /// The person is typing: tell the others, at most every few seconds.
    pub fn typed(&mut self, now_ms: f64) {
        if self.joined() && !self.sb.participants().is_empty() && now_ms - self.last_typing_sent >= TYPING_EVERY_MS {
            let typing = Message::typing(&self.own_handle);
            if self.sb.send(&typing, AckMode::Unacknowledged).is_ok() {
                self.last_typing_sent = now_ms;
                self.pump(now_ms);
            }
        }
    }

    pub fn invite(&mut self, handle: &str, now_ms: f64) -> Result<(), ActionError> {
        self.sb.invite(handle.trim())?;
        self.pump(now_ms);
        Ok(())
    }

    pub fn send_raw(&mut self, line: &str, now_ms: f64) -> Result<(), ActionError> {
        let trid = self.sb.send_raw(line)?;
        self.pump(now_ms);
        if let Some(sent) = self.log.last().filter(|l| l.direction == Direction::Sent) {
            self.raw.sent(trid, &sent.text.clone(), now_ms);
        }
        Ok(())
    }

    /// Time passed: the raw console stops waiting for replies that do not come, and says so here.
    pub fn tick(&mut self, now_ms: f64) {
        for late in self.raw.overdue(now_ms) {
            self.event(late, now_ms);
        }
        if !self.held.is_empty() && now_ms - self.held_since >= HOLD_MS {
            self.drop_held();
            self.event("Nobody joined, so your messages were not delivered.".into(), now_ms);
        }
    }

    pub fn leave(&mut self, now_ms: f64) {
        self.sb.leave();
        self.pump(now_ms);
    }

    fn event(&mut self, text: String, now_ms: f64) {
        self.lines.push(ChatLine::Event { at_ms: self.at(now_ms), text });
    }

    /// Moves frames and events out of the machine, until both are drained.
    fn pump(&mut self, now_ms: f64) {
        crate::pump::pump(
            self,
            |chat| chat.sb.poll_transmit(),
            |chat| chat.sb.poll_event(),
            |chat, frame| {
                chat.log.record(Conn::Switchboard, Direction::Sent, &frame, chat.at(now_ms));
                chat.outbox.push(frame);
            },
            |chat, event| chat.on_event(event, now_ms),
        );
    }

    fn on_event(&mut self, event: SbEvent, now_ms: f64) {
        match event {
            SbEvent::Joined { participants } => {
                for p in &participants {
                    self.names.insert(p.handle.to_ascii_lowercase(), name::decode(&p.name));
                }
                if !participants.is_empty() {
                    self.send_held();
                }
                if participants.is_empty() {
                    self.event("You are in the conversation.".into(), now_ms);
                } else {
                    let names: Vec<String> = participants.iter().map(|p| name::decode(&p.name)).collect();
                    self.event(format!("You joined {}.", names.join(", ")), now_ms);
                }
                if let Some(invitee) = self.invite_on_join.clone()
                    && self.sb.invite(&invitee).is_err()
                {
                    self.event(format!("{invitee} cannot be invited."), now_ms);
                }
            }
            SbEvent::Ringing { handle, .. } => self.event(format!("Inviting {handle}…"), now_ms),
            SbEvent::ParticipantJoined(p) => {
                self.invite_on_join = None;
                self.names.insert(p.handle.to_ascii_lowercase(), name::decode(&p.name));
                self.event(format!("{} joined the conversation.", name::decode(&p.name)), now_ms);
                self.send_held();
            }
            SbEvent::ParticipantLeft { handle } => {
                self.typing.retain(|(h, _, _)| !msnp::handle::same(h, &handle));
                let who = self.names.get(&handle.to_ascii_lowercase()).cloned().unwrap_or(handle);
                self.event(format!("{who} left the conversation."), now_ms);
            }
            SbEvent::Message { sender, sender_name, message } => {
                let who = name::decode(&sender_name);
                match message.content() {
                    Content::Text(text) => {
                        self.typing.retain(|(h, _, _)| !msnp::handle::same(h, &sender));
                        let font = message.header("X-MMS-IM-Format").map(Font::parse);
                        let at_ms = self.at(now_ms);
                        self.lines.push(ChatLine::Message {
                            at_ms,
                            who,
                            mine: false,
                            text,
                            font,
                            trid: None,
                            undelivered: false,
                            waiting: false,
                        });
                        self.unread += 1;
                    }
                    Content::Typing(_) => {
                        self.typing.retain(|(h, _, _)| !msnp::handle::same(h, &sender));
                        self.typing.push((sender, who, now_ms + TYPING_MS));
                    }
                    Content::Other(_) => {}
                }
            }
            SbEvent::Delivered { .. } => {}
            SbEvent::NotDelivered { trid } => {
                for line in &mut self.lines {
                    if let ChatLine::Message { trid: Some(t), undelivered, .. } = line
                        && *t == trid
                    {
                        *undelivered = true;
                    }
                }
            }
            SbEvent::ServerError { code, command, .. } => {
                if command == Some("CAL") && self.names.is_empty() {
                    self.drop_held();
                }
                let what = match (command, code.code()) {
                    (Some("CAL"), 217) => "That person is offline or not accepting messages.".to_owned(),
                    _ => format!("{} (error {})", code.meaning(), code.code()),
                };
                self.event(what, now_ms);
            }
            SbEvent::Unrecognized { line, .. } => {
                self.event(format!("The server sent something unexpected: {line}"), now_ms)
            }
            SbEvent::Closed(reason) => {
                self.drop_held();
                let text = match reason {
                    SbCloseReason::Left => "You left the conversation.",
                    SbCloseReason::AuthenticationFailed => "The conversation server refused this page.",
                    SbCloseReason::ConnectionLost => "The conversation ended.",
                };
                self.event(text.into(), now_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn feed(chat: &mut Chat, wire: &[u8], at: f64) {
        let mut decoder = msnp::Decoder::new(msnp::Limits::CLIENT);
        decoder.extend(wire);
        while let Some(frame) = decoder.next_frame().unwrap() {
            chat.received(&frame, at);
        }
    }

    fn sent(chat: &mut Chat) -> Vec<String> {
        chat.take_outbox().iter().map(|f| f.line().to_owned()).collect()
    }

    #[test]
    fn fonts_from_the_format_header() {
        let font = Font::parse("FN=Comic%20Sans%20MS; EF=BI; CO=ff; CS=0; PF=22");
        assert_eq!(font.family.as_deref(), Some("Comic Sans MS"));
        assert!(font.bold && font.italic && !font.underline);
        assert_eq!(font.color.as_deref(), Some("#ff0000"));
        assert_eq!(Font::parse("CO=ff0000").color.as_deref(), Some("#0000ff"));
        assert_eq!(Font::parse("CO=zz; FN=").color, None);
        let css = Font::parse("FN=a%22%3Bcolor:red; EF=US").css();
        assert!(!css.contains("\";color"), "{css}");
        assert!(css.contains("text-decoration: underline line-through;"));
    }

    #[test]
    fn a_chat_we_start_invites_once_in_and_marks_what_nobody_got() {
        let mut chat = Chat::start(1, "jd@hotmail.com", "JD", "cookie".into(), Some("bob@hotmail.com".into()), 0.0);
        chat.opened(10.0);
        assert_eq!(sent(&mut chat), ["USR 1 jd@hotmail.com cookie"]);
        feed(&mut chat, b"USR 1 OK jd@hotmail.com JD\r\n", 20.0);
        assert_eq!(sent(&mut chat), ["CAL 2 bob@hotmail.com"]);
        assert_eq!(chat.title(), "bob@hotmail.com");
        assert_eq!(chat.presence(), "Nobody else is here yet.");
        feed(&mut chat, b"CAL 2 RINGING 42\r\nJOI bob@hotmail.com Bob%20B\r\n", 30.0);
        assert_eq!(chat.title(), "Bob B");
        assert_eq!(chat.presence(), "In this conversation: Bob B");
        let typing = Message::typing("bob@hotmail.com").to_bytes();
        feed(
            &mut chat,
            &[format!("MSG bob@hotmail.com Bob%20B {}\r\n", typing.len()).as_bytes(), &typing].concat(),
            40.0,
        );
        assert_eq!(chat.typing(41.0), ["Bob B"]);
        assert!(chat.typing(40.0 + TYPING_MS).is_empty());
        let hi = Message::parse(b"Content-Type: text/plain\r\nX-MMS-IM-Format: EF=B\r\n\r\nhi").to_bytes();
        feed(&mut chat, &[format!("MSG bob@hotmail.com Bob%20B {}\r\n", hi.len()).as_bytes(), &hi].concat(), 50.0);
        assert!(chat.typing(51.0).is_empty());
        assert_eq!(chat.unread, 1);
        assert!(
            matches!(&chat.lines.last(), Some(ChatLine::Message { text, font: Some(f), .. }) if text == "hi" && f.bold)
        );
        // Typing notifications go out at most every few seconds.
        chat.typed(60.0);
        chat.typed(70.0);
        assert_eq!(sent(&mut chat).len(), 1);
        feed(&mut chat, b"BYE bob@hotmail.com\r\n", 80.0);
        assert!(
            matches!(&chat.lines.last(), Some(ChatLine::Event { text, .. }) if text == "Bob B left the conversation.")
        );
        assert_eq!(chat.presence(), "Everyone else has left; invite someone to carry on.");
        chat.send_text("anyone?", 90.0).unwrap();
        assert_eq!(sent(&mut chat), ["MSG 4 N 69"]);
        feed(&mut chat, b"NAK 4\r\n", 95.0);
        assert!(matches!(&chat.lines.last(), Some(ChatLine::Message { mine: true, undelivered: true, .. })));
        chat.leave(100.0);
        assert_eq!(sent(&mut chat), ["OUT"]);
        assert!(chat.is_closed());
    }

    #[test]
    fn after_leaving_nobody_is_shown_as_here_or_typing() {
        let mut chat = Chat::answer(1, "jd@hotmail.com", "JD", "c".into(), "9".into(), 0.0);
        chat.opened(0.0);
        feed(&mut chat, b"IRO 1 1 2 alice@hotmail.com Alice\r\nIRO 1 2 2 bob@hotmail.com Bob\r\nANS 1 OK\r\n", 1.0);
        assert_eq!(chat.presence(), "In this conversation: Alice, Bob");
        let typing = Message::typing("bob@hotmail.com").to_bytes();
        feed(&mut chat, &[format!("MSG bob@hotmail.com Bob {}\r\n", typing.len()).as_bytes(), &typing].concat(), 2.0);
        assert_eq!(chat.typing(3.0), ["Bob"]);
        chat.leave(4.0);
        assert!(chat.is_closed());
        assert_eq!(chat.presence(), "This conversation has ended: you can read it, not write in it.");
        assert!(chat.typing(5.0).is_empty());
        assert!(chat.send_text("still here?", 6.0).is_err());
    }

    fn held(chat: &Chat) -> Vec<(bool, bool)> {
        chat.lines
            .iter()
            .filter_map(|l| match l {
                ChatLine::Message { mine: true, waiting, undelivered, .. } => Some((*waiting, *undelivered)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn messages_typed_before_anyone_joins_wait_for_them() {
        let mut chat = Chat::start(1, "jd@hotmail.com", "JD", "cookie".into(), Some("bob@hotmail.com".into()), 0.0);
        chat.opened(10.0);
        feed(&mut chat, b"USR 1 OK jd@hotmail.com JD\r\nCAL 2 RINGING 42\r\n", 20.0);
        sent(&mut chat);
        chat.send_text("are you there?", 30.0).unwrap();
        chat.send_text("hello?", 31.0).unwrap();
        assert!(sent(&mut chat).is_empty(), "nothing goes out before someone is there");
        assert_eq!(held(&chat), [(true, false), (true, false)]);
        feed(&mut chat, b"JOI bob@hotmail.com Bob\r\n", 40.0);
        assert_eq!(sent(&mut chat), ["MSG 3 N 76", "MSG 4 N 68"]);
        assert_eq!(held(&chat), [(false, false), (false, false)]);
        // Once someone has been here, messages go out at once (a NAK marks them if nobody gets them).
        feed(&mut chat, b"BYE bob@hotmail.com\r\n", 50.0);
        chat.send_text("bye", 51.0).unwrap();
        assert_eq!(sent(&mut chat), ["MSG 5 N 65"]);
    }

    #[test]
    fn held_messages_are_not_delivered_when_nobody_comes() {
        // The invitation fails.
        let mut chat = Chat::start(1, "jd@hotmail.com", "JD", "cookie".into(), Some("bob@hotmail.com".into()), 0.0);
        chat.opened(0.0);
        feed(&mut chat, b"USR 1 OK jd@hotmail.com JD\r\n", 1.0);
        chat.send_text("hi", 2.0).unwrap();
        feed(&mut chat, b"217 2\r\n", 3.0);
        assert_eq!(held(&chat), [(false, true)]);
        // Nobody answers the ring in time.
        let mut chat = Chat::start(1, "jd@hotmail.com", "JD", "cookie".into(), Some("bob@hotmail.com".into()), 0.0);
        chat.opened(0.0);
        feed(&mut chat, b"USR 1 OK jd@hotmail.com JD\r\nCAL 2 RINGING 42\r\n", 1.0);
        chat.send_text("hi", 2.0).unwrap();
        chat.tick(2.0 + HOLD_MS - 1.0);
        assert_eq!(held(&chat), [(true, false)]);
        chat.tick(2.0 + HOLD_MS);
        assert_eq!(held(&chat), [(false, true)]);
        assert!(sent(&mut chat).iter().all(|l| !l.starts_with("MSG")));
    }
}
