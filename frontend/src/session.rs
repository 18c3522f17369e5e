//! The session as the page shows it: the msnp client machine, the protocol log, and what to tell the person.
//!
//! Pure state: frames and times go in, frames to send and a view come out. The page (`app`) owns the
//! WebSocket; tests drive this directly.

use msnp::client::{Contact, NsClient, NsConfig, NsEvent, NsPhase, SignOutReason};
use msnp::{Blp, Frame, List, State, name};

use crate::explain::Conn;
pub use crate::log::{Direction, Log, LogLine};

/// Someone who added the user and is waiting for an answer (GTC `A`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedBy {
    pub handle: String,
    /// Decoded friendly name.
    pub name: String,
}

/// One contact as the contact list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub handle: String,
    /// Decoded friendly name (or stored custom name while offline).
    pub name: String,
    /// `None`: offline.
    pub state: Option<State>,
    pub blocked: bool,
}

/// Everything the contact list shows: the session's view of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub handle: String,
    pub name: String,
    pub state: Option<State>,
    pub online: Vec<Row>,
    pub offline: Vec<Row>,
    pub blp: Blp,
    pub prompts: Vec<AddedBy>,
    pub announcement: String,
    pub notice: Option<String>,
    /// Milliseconds from connecting to online (shown for the curious, read by the end-to-end test).
    pub sign_in_ms: Option<u32>,
}

/// A switchboard connection to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// Our `XFR` was answered: start a chat, inviting `invitee`.
    Start { address: String, cookie: String, invitee: Option<String> },
    /// Someone invited us (`RNG`): join at once, as Messenger did.
    Answer { address: String, cookie: String, session_id: String, caller: String, caller_name: String },
}

/// A signed-in (or signing-in) session.
#[derive(Debug)]
pub struct Session {
    ns: NsClient,
    started_ms: f64,
    pub log: Log,
    /// A failure or warning to show the person (role=alert).
    pub notice: Option<String>,
    /// The latest presence change, for the ARIA live region.
    pub announcement: String,
    pub prompts: Vec<AddedBy>,
    /// Milliseconds from opening the connection to being online.
    pub sign_in_ms: Option<u32>,
    /// The last friendly name (decoded) seen for each contact, to name them once they go offline.
    seen_names: std::collections::HashMap<String, String>,
    /// Whom each pending `XFR` is for.
    chat_requests: std::collections::HashMap<msnp::TrId, String>,
    calls: Vec<Call>,
    outbox: Vec<Frame>,
    /// The hash of the challenge this server sent this account last time, and of the one it sent now.
    previous_challenge: Option<String>,
    challenge: Option<String>,
    /// Raw-console commands waiting for their reply.
    raw: crate::watch::Waiting,
    /// How the session ended, once it has.
    ended: Option<SignOutReason>,
    /// The lists are complete and changed since the page last saved them.
    lists_changed: bool,
}

/// What the page says when a server sends an account the same challenge as last time.
pub const REUSED_CHALLENGE: &str = "This server reused its challenge: anyone who recorded an earlier sign-in \
                                    can replay it (a fresh random challenge per sign-in prevents that).";

impl Session {
    pub fn new(config: NsConfig, now_ms: f64) -> Session {
        Session {
            ns: NsClient::new(config),
            started_ms: now_ms,
            log: Log::default(),
            notice: None,
            announcement: String::new(),
            prompts: Vec::new(),
            sign_in_ms: None,
            seen_names: std::collections::HashMap::new(),
            chat_requests: std::collections::HashMap::new(),
            calls: Vec::new(),
            outbox: Vec::new(),
            previous_challenge: None,
            challenge: None,
            raw: crate::watch::Waiting::default(),
            ended: None,
            lists_changed: false,
        }
    }

    /// The hash of the challenge the server sent this account at its previous sign-in, if known.
    pub fn remember_previous_challenge(&mut self, hash: Option<String>) {
        self.previous_challenge = hash;
    }

    /// The hash of this sign-in's challenge (MD5 of the challenge alone), to remember for the next one.
    pub fn challenge_hash(&self) -> Option<&str> {
        self.challenge.as_deref()
    }

    fn elapsed(&self, now_ms: f64) -> u32 {
        (now_ms - self.started_ms).max(0.0) as u32
    }

    fn time(&self, now_ms: f64) -> std::time::Duration {
        std::time::Duration::from_millis(self.elapsed(now_ms).into())
    }

    /// The WebSocket is open: start signing in.
    pub fn opened(&mut self, now_ms: f64) {
        self.ns.connect(self.time(now_ms));
        self.pump(now_ms);
    }

    /// A command arrived from the server.
    pub fn received(&mut self, frame: &Frame, now_ms: f64) {
        self.log(Direction::Received, frame, now_ms);
        self.raw.received(frame);
        if let Ok(msnp::ns::ServerCommand::UsrChallenge { challenge, .. }) = msnp::ns::ServerCommand::parse(frame) {
            self.check_challenge(&challenge);
        }
        self.ns.handle_frame(frame, self.time(now_ms));
        self.pump(now_ms);
    }

    /// The connection closed; `reason` is the bridge's close reason, if any.
    pub fn closed(&mut self, code: u16, reason: &str, now_ms: f64) {
        let was_online = self.ns.phase() == NsPhase::Online;
        self.ns.handle_close();
        self.pump(now_ms);
        // A bridge refusal explains itself better than "connection lost".
        if code != 1000 && !reason.is_empty() && !was_online && self.notice.as_deref().is_none_or(is_connection_lost) {
            self.notice = Some(format!("Could not sign in: {reason}."));
        }
    }

    /// Says so when the server sends the challenge it sent this account last time.
    fn check_challenge(&mut self, challenge: &str) {
        let hash = msnp::auth::md5_response(challenge, "");
        if self.previous_challenge.as_deref() == Some(hash.as_str()) {
            self.log.annotate_last(REUSED_CHALLENGE);
            self.notice = Some(REUSED_CHALLENGE.into());
        }
        self.challenge = Some(hash);
    }

    /// The server's byte stream broke (`error`): nothing more can be read from it, so the session ends,
    /// saying why.
    pub fn broken(&mut self, error: &msnp::FrameError, now_ms: f64) {
        self.ns.handle_close();
        self.pump(now_ms);
        self.notice = Some(format!("The server sent something that is not MSNP ({error}), so the session ended."));
        // Signing in again would meet the same server: this ending is not retried.
        self.ended = None;
    }

    /// The notification server this one referred the page to (`XFR … NS`), once the session has ended so.
    pub fn referral(&self) -> Option<&str> {
        match &self.ended {
            Some(SignOutReason::Redirected(to)) => Some(to),
            _ => None,
        }
    }

    /// Why the page should sign in again by itself, if it should: the connection was lost, the server
    /// shut down or did not answer; not after a sign-out, a sign-in elsewhere or a refusal.
    pub fn retry_reason(&self) -> Option<crate::reconnect::Why> {
        match self.ended {
            Some(SignOutReason::ConnectionLost | SignOutReason::Timeout) => Some(crate::reconnect::Why::Lost),
            Some(SignOutReason::ServerShutdown) => Some(crate::reconnect::Why::Shutdown),
            _ => None,
        }
    }

    /// Whether the person got as far as signing in (then a session's end wipes what it showed).
    pub fn signed_in(&self) -> bool {
        self.sign_in_ms.is_some()
    }

    /// Time passed: sign-in gives up if the server does not answer, and so does the raw console.
    pub fn tick(&mut self, now_ms: f64) {
        if let Some(late) = self.raw.overdue(now_ms).pop() {
            self.notice = Some(late);
        }
        self.ns.handle_timeout(self.time(now_ms));
        self.pump(now_ms);
    }

    /// When the session's clock started (page milliseconds), for the chats' logs.
    pub fn started_ms(&self) -> f64 {
        self.started_ms
    }

    /// Switchboards to connect to now.
    pub fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }

    /// Asks for a switchboard to chat with `handle`.
    pub fn request_chat(&mut self, handle: &str, now_ms: f64) {
        let result = self.ns.request_switchboard().map(|trid| {
            self.chat_requests.insert(trid, handle.to_owned());
        });
        self.act(result, now_ms);
    }

    /// A command typed in the raw console.
    pub fn send_raw(&mut self, line: &str, now_ms: f64) -> Result<(), msnp::client::ActionError> {
        let trid = self.ns.send_raw(line)?;
        self.pump(now_ms);
        if let Some(sent) = self.log.last().filter(|l| l.direction == Direction::Sent) {
            self.raw.sent(trid, &sent.text.clone(), now_ms);
        }
        Ok(())
    }

    /// Frames to send now (each is logged as sent).
    pub fn take_outbox(&mut self) -> Vec<Frame> {
        std::mem::take(&mut self.outbox)
    }

    pub fn phase(&self) -> NsPhase {
        self.ns.phase()
    }

    pub fn handle(&self) -> &str {
        self.ns.handle()
    }

    /// Own friendly name, decoded.
    pub fn name(&self) -> String {
        name::decode(self.ns.name())
    }

    pub fn state(&self) -> Option<State> {
        self.ns.state()
    }

    pub fn lists(&self) -> &msnp::client::Lists {
        self.ns.lists()
    }

    /// Whether the lists are to be saved now: once the sign-in's sync is complete and after each change,
    /// never while a download is under way (a version without its entries would be a wrong cache).
    pub fn take_lists_changed(&mut self) -> bool {
        std::mem::take(&mut self.lists_changed)
    }

    pub fn contacts(&self) -> Vec<Contact> {
        self.ns.contacts()
    }

    pub fn blocked(&self, handle: &str) -> bool {
        self.ns.lists().contains(List::Block, handle)
    }

    /// What the contact list shows.
    pub fn view(&self) -> View {
        let (mut online, mut offline) = (Vec::new(), Vec::new());
        for c in self.ns.contacts() {
            let row = Row {
                name: self.display_name(&c.handle),
                state: c.presence.as_ref().map(|p| p.state),
                blocked: self.blocked(&c.handle),
                handle: c.handle,
            };
            if row.state.is_some() { online.push(row) } else { offline.push(row) }
        }
        View {
            handle: self.handle().to_owned(),
            name: self.name(),
            state: self.state(),
            online,
            offline,
            blp: self.lists().blp,
            prompts: self.prompts.clone(),
            announcement: self.announcement.clone(),
            notice: self.notice.clone(),
            sign_in_ms: self.sign_in_ms,
        }
    }

    pub fn set_state(&mut self, state: State, now_ms: f64) {
        let result = self.ns.set_state(state).map(drop);
        self.act(result, now_ms);
    }

    pub fn rename(&mut self, new_name: &str, now_ms: f64) {
        let result = self.ns.rename(new_name).map(drop);
        self.act(result, now_ms);
    }

    /// Adds someone to the contact list (and allows them, as Messenger does).
    pub fn add_contact(&mut self, handle: &str, now_ms: f64) {
        let handle = handle.trim();
        let mut result = self.ns.add(List::Forward, handle, None).map(drop);
        if result.is_ok() && !self.ns.lists().contains(List::Allow, handle) && !self.blocked(handle) {
            result = self.ns.add(List::Allow, handle, None).map(drop);
        }
        self.act(result, now_ms);
    }

    pub fn remove_contact(&mut self, handle: &str, now_ms: f64) {
        let result = self.ns.remove(List::Forward, handle).map(drop);
        self.act(result, now_ms);
    }

    /// Blocks: off the allow list, onto the block list (AL and BL are exclusive).
    pub fn block(&mut self, handle: &str, now_ms: f64) {
        let mut result = Ok(());
        if self.ns.lists().contains(List::Allow, handle) {
            result = self.ns.remove(List::Allow, handle).map(drop);
        }
        if result.is_ok() {
            result = self.ns.add(List::Block, handle, None).map(drop);
        }
        self.act(result, now_ms);
    }

    /// Unblocks: off the block list, onto the allow list.
    pub fn unblock(&mut self, handle: &str, now_ms: f64) {
        let mut result = self.ns.remove(List::Block, handle).map(drop);
        if result.is_ok() {
            result = self.ns.add(List::Allow, handle, None).map(drop);
        }
        self.act(result, now_ms);
    }

    pub fn set_privacy(&mut self, mode: Blp, now_ms: f64) {
        let result = self.ns.set_blp(mode).map(drop);
        self.act(result, now_ms);
    }

    /// Answers "X has added you": allow (AL) or block (BL).
    pub fn answer(&mut self, handle: &str, allow: bool, now_ms: f64) {
        self.prompts.retain(|p| p.handle != handle);
        let list = if allow { List::Allow } else { List::Block };
        let result = self.ns.add(list, handle, None).map(drop);
        self.act(result, now_ms);
    }

    pub fn sign_out(&mut self, now_ms: f64) {
        self.ns.sign_out();
        self.pump(now_ms);
    }

    fn act(&mut self, result: Result<(), msnp::client::ActionError>, now_ms: f64) {
        match result {
            Ok(()) => self.notice = None,
            Err(e) => self.notice = Some(capitalize(&e.to_string())),
        }
        self.pump(now_ms);
    }

    fn log(&mut self, direction: Direction, frame: &Frame, now_ms: f64) {
        self.log.record(Conn::Notification, direction, frame, self.elapsed(now_ms));
    }

    /// Moves frames and events out of the machine, until both are drained.
    fn pump(&mut self, now_ms: f64) {
        crate::pump::pump(
            self,
            |session| session.ns.poll_transmit(),
            |session| session.ns.poll_event(),
            |session, frame| {
                session.log(Direction::Sent, &frame, now_ms);
                session.outbox.push(frame);
            },
            |session, event| session.on_event(event, now_ms),
        );
    }

    /// A contact's name: their friendly name if seen this session, else the name stored with the entry.
    fn display_name(&self, handle: &str) -> String {
        if let Some(p) = self.ns.presence(handle) {
            return name::decode(&p.name);
        }
        if let Some(seen) = self.seen_names.get(&handle.to_ascii_lowercase()) {
            return seen.clone();
        }
        let stored = self.ns.lists().forward.iter().find(|e| msnp::handle::same(&e.handle, handle));
        name::decode(stored.map_or(handle, |e| e.name.as_str()))
    }

    fn on_event(&mut self, event: NsEvent, now_ms: f64) {
        match event {
            NsEvent::SignedIn { .. } => self.sign_in_ms = Some(self.elapsed(now_ms)),
            NsEvent::ListsChanged { .. } => self.lists_changed = true,
            NsEvent::PresenceChanged { handle, presence } => {
                if let Some(p) = &presence {
                    self.seen_names.insert(handle.to_ascii_lowercase(), name::decode(&p.name));
                }
                let who = self.display_name(&handle);
                let removed = !self.ns.lists().contains(List::Forward, &handle);
                self.announcement = match presence {
                    Some(p) => format!("{who} is now {}", p.state.label()),
                    None if removed => format!("{who} was removed from your contacts"),
                    None => format!("{who} is now offline"),
                };
            }
            NsEvent::AddedBy { handle, name, ask: true } => {
                self.prompts.retain(|p| p.handle != handle);
                self.prompts.push(AddedBy { handle, name: name::decode(&name) });
            }
            NsEvent::ServerError { code, command, .. } => {
                let what = command.map(|c| format!("{c}: ")).unwrap_or_default();
                self.notice = Some(format!("{what}{} (error {})", code.meaning(), code.code()));
            }
            NsEvent::SignedOut(reason) => {
                self.notice = sign_out_notice(&reason);
                self.ended = Some(reason);
            }
            NsEvent::SwitchboardReady { trid, address, cookie } => {
                let invitee = self.chat_requests.remove(&trid);
                self.calls.push(Call::Start { address, cookie, invitee });
            }
            NsEvent::Invited { session_id, address, cookie, caller, caller_name } => {
                let who = name::decode(&caller_name);
                self.announcement = format!("{who} started a conversation with you");
                self.calls.push(Call::Answer { address, cookie, session_id, caller, caller_name: who });
            }
            _ => {}
        }
    }
}

const CONNECTION_LOST: &str = "The connection to the server was lost. Sign in again.";

fn is_connection_lost(notice: &str) -> bool {
    notice == CONNECTION_LOST
}

/// What to tell the person when the session ends.
fn sign_out_notice(reason: &SignOutReason) -> Option<String> {
    Some(match reason {
        SignOutReason::Requested => return None,
        SignOutReason::AuthenticationFailed => "Wrong e-mail address or password.".into(),
        SignOutReason::OtherLocation => "You signed in somewhere else, so you were signed out here.".into(),
        SignOutReason::ServerShutdown => "The server is shutting down for maintenance. Sign in again later.".into(),
        SignOutReason::ServerSignedOut(_) => "The server signed you out.".into(),
        SignOutReason::UnsupportedVersion => "This server does not speak MSNP2.".into(),
        SignOutReason::UnsupportedSecurity => "This server does not offer MD5 sign-in.".into(),
        SignOutReason::Redirected(to) => format!("This server sent the page on to the notification server {to}."),
        SignOutReason::Timeout => "The server did not answer in time. Sign in again.".into(),
        SignOutReason::ConnectionLost => CONNECTION_LOST.into(),
    })
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// jd@hotmail.com signing in with `password`, going online, no cache.
    pub(crate) fn config(password: &str) -> NsConfig {
        NsConfig {
            handle: "jd@hotmail.com".into(),
            password: password.into(),
            initial_state: State::Online,
            client: None,
            first_trid: 1,
            cache: None,
        }
    }

    fn session() -> Session {
        Session::new(config("hunter2"), 1000.0)
    }

    fn feed(s: &mut Session, lines: &[&str], at: f64) {
        for line in lines {
            s.received(&Frame::command(*line), at);
        }
    }

    fn online() -> Session {
        let mut s = session();
        s.opened(1000.0);
        feed(
            &mut s,
            &["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S 1013928519.693957190", "USR 4 OK jd@hotmail.com J%20D"],
            1010.0,
        );
        feed(&mut s, &["SYN 5 0", "CHG 6 NLN"], 1042.0);
        s.take_outbox();
        s
    }

    #[test]
    fn signs_in_and_logs_every_line_without_the_password() {
        let s = online();
        assert_eq!(s.phase(), NsPhase::Online);
        assert_eq!(s.name(), "J D");
        assert_eq!(s.sign_in_ms, Some(42));
        let sent: Vec<&str> =
            s.log.iter().filter(|l| l.direction == Direction::Sent).map(|l| l.text.as_str()).collect();
        assert_eq!(
            sent,
            [
                "VER 1 MSNP2 CVR0",
                "INF 2",
                "USR 3 MD5 I jd@hotmail.com",
                "USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a",
                "SYN 5 0",
                "CHG 6 NLN"
            ]
        );
        assert!(s.log.iter().all(|l| !l.text.contains("hunter2") && !l.note.contains("hunter2")));
        assert!(s.log[6].note.contains("MD5 of challenge '1013928519.693957190' followed by the password"));
        assert!(s.log[6].note.contains("never leaves the client"));
    }

    #[test]
    fn a_reused_challenge_is_pointed_out_and_a_fresh_one_is_not() {
        let hash = |c: &str| msnp::auth::md5_response(c, "");
        for (previous, reused) in
            [(Some(hash("1013928519.693957190")), true), (Some(hash("other")), false), (None, false)]
        {
            let mut s = session();
            s.remember_previous_challenge(previous);
            s.opened(0.0);
            feed(&mut s, &["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S 1013928519.693957190"], 5.0);
            assert_eq!(s.challenge_hash(), Some(hash("1013928519.693957190").as_str()));
            assert_eq!(s.notice.as_deref() == Some(REUSED_CHALLENGE), reused);
            assert_eq!(s.log.iter().any(|l| l.note.contains("reused its challenge")), reused);
            // The hash is of the challenge alone: nothing of the password.
            assert!(!s.challenge_hash().unwrap().contains("hunter2"));
        }
    }

    #[test]
    fn failures_become_readable_notices() {
        let mut s = session();
        s.opened(0.0);
        feed(&mut s, &["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S x", "911 4"], 5.0);
        assert_eq!(s.notice.as_deref(), Some("Wrong e-mail address or password."));
        let mut s = online();
        feed(&mut s, &["OUT OTH"], 2000.0);
        assert_eq!(s.notice.as_deref(), Some("You signed in somewhere else, so you were signed out here."));
        let mut s = online();
        s.closed(1006, "", 2000.0);
        assert_eq!(s.notice.as_deref(), Some(CONNECTION_LOST));
        let mut s = session();
        s.closed(1011, "the server is unreachable", 10.0);
        assert_eq!(s.notice.as_deref(), Some("Could not sign in: the server is unreachable."));
        let mut s = online();
        s.add_contact("erin@hotmail.com", 2000.0);
        feed(&mut s, &["205 7"], 2001.0);
        assert_eq!(s.notice.as_deref(), Some("ADD: There is no account with that e-mail address. (error 205)"));
        s.add_contact("not an address", 2002.0);
        assert_eq!(s.notice.as_deref(), Some("\"not an address\" is not a valid e-mail address"));
    }

    #[test]
    fn a_broken_stream_ends_the_session_and_says_why() {
        let mut s = online();
        s.broken(&msnp::FrameError::NotUtf8, 2000.0);
        assert_eq!(s.phase(), NsPhase::Closed);
        assert_eq!(
            s.notice.as_deref(),
            Some("The server sent something that is not MSNP (command line is not valid UTF-8), so the session ended.")
        );
    }

    #[test]
    fn presence_is_announced_and_added_by_prompts() {
        let mut s = online();
        feed(&mut s, &["ADD 0 RL 1 bob@hotmail.com Bob%20B"], 2000.0);
        assert_eq!(s.prompts, [AddedBy { handle: "bob@hotmail.com".into(), name: "Bob B".into() }]);
        s.answer("bob@hotmail.com", true, 2001.0);
        assert!(s.prompts.is_empty());
        assert_eq!(s.take_outbox()[0].line(), "ADD 7 AL bob@hotmail.com bob@hotmail.com");
        s.add_contact("bob@hotmail.com", 2002.0);
        feed(&mut s, &["ADD 8 FL 3 bob@hotmail.com bob@hotmail.com", "NLN AWY bob@hotmail.com Bob%20B"], 2003.0);
        assert_eq!(s.announcement, "Bob B is now Away");
        feed(&mut s, &["FLN bob@hotmail.com"], 2004.0);
        assert_eq!(s.announcement, "Bob B is now offline");
        feed(&mut s, &["NLN NLN bob@hotmail.com Bob%20B"], 2005.0);
        s.remove_contact("bob@hotmail.com", 2006.0);
        feed(&mut s, &["REM 10 FL 4 bob@hotmail.com"], 2007.0);
        assert_eq!(s.announcement, "Bob B was removed from your contacts");
    }

    #[test]
    fn lists_are_to_be_saved_once_complete_and_after_each_change_never_half_way() {
        let mut s = session();
        s.opened(0.0);
        feed(&mut s, &["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S 1.2", "USR 4 OK jd@hotmail.com JD"], 1.0);
        feed(&mut s, &["SYN 5 7", "GTC 5 7 A", "BLP 5 7 AL", "LST 5 FL 7 1 1 bob@hotmail.com Bob"], 2.0);
        assert!(!s.take_lists_changed(), "the version arrived, its entries not all yet");
        feed(&mut s, &["LST 5 AL 7 1 1 bob@hotmail.com Bob", "LST 5 BL 7 0 0", "LST 5 RL 7 0 0"], 3.0);
        assert!(s.take_lists_changed());
        assert_eq!(s.lists().forward.len(), 1);
        assert!(!s.take_lists_changed());
        feed(&mut s, &["CHG 6 NLN", "REA 0 8 bob@hotmail.com Bobby"], 4.0);
        assert!(s.take_lists_changed());
    }

    #[test]
    fn blocking_moves_between_allow_and_block() {
        let mut s = online();
        feed(&mut s, &["ADD 0 RL 1 bob@hotmail.com Bob"], 2000.0);
        s.answer("bob@hotmail.com", true, 2001.0);
        feed(&mut s, &["ADD 7 AL 2 bob@hotmail.com bob@hotmail.com"], 2002.0);
        s.take_outbox();
        s.block("bob@hotmail.com", 2003.0);
        let lines: Vec<String> = s.take_outbox().iter().map(|f| f.line().to_owned()).collect();
        assert_eq!(lines, ["REM 8 AL bob@hotmail.com", "ADD 9 BL bob@hotmail.com bob@hotmail.com"]);
        feed(&mut s, &["REM 8 AL 3 bob@hotmail.com", "ADD 9 BL 4 bob@hotmail.com bob@hotmail.com"], 2004.0);
        assert!(s.blocked("bob@hotmail.com"));
        s.unblock("bob@hotmail.com", 2005.0);
        let lines: Vec<String> = s.take_outbox().iter().map(|f| f.line().to_owned()).collect();
        assert_eq!(lines, ["REM 10 BL bob@hotmail.com", "ADD 11 AL bob@hotmail.com bob@hotmail.com"]);
    }
}
