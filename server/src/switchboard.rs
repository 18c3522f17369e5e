//! The switchboard: chat sessions (MSNP2.md §8).
//!
//! Switchboards share [`Logic`] with the notification server because they cannot work apart from it:
//! `XFR SB` hands out the caller's cookie, `CAL` checks the callee's presence and privacy there, and `RNG`
//! goes out on the callee's notification-server connection. A cookie carries its holder's canonical
//! handle and friendly name, so the switchboard never needs the store.

use std::collections::HashMap;
use std::time::Duration;

use msnp::sb::{ClientCommand, ServerCommand};
use msnp::{AckMode, ErrorCode, Frame, ParseError, TrId, handle};

use crate::conn::{Conn, ConnId, next_deadline, overdue};
use crate::notification::{Logic, Output, key};
use crate::secret::random_bytes;
use crate::store::StoreError;

/// Switchboard settings and limits, each a command-line flag.
#[derive(Clone, Debug)]
pub struct SbConfig {
    /// The address announced in `XFR` and `RNG` (`host:port`).
    pub public_address: String,
    /// How long a cookie from `XFR` or `RNG` stays valid (single use).
    pub cookie_lifetime: Duration,
    /// Time from connecting to `USR`/`ANS … OK`.
    pub auth_timeout: Duration,
    /// People in one session.
    pub max_participants: usize,
    /// Sessions one user may be in (and ask for) at once.
    pub max_sessions_per_user: usize,
    /// Invitations a session may have waiting for an answer.
    pub max_pending_invitations: usize,
}

impl Default for SbConfig {
    fn default() -> SbConfig {
        SbConfig {
            public_address: "127.0.0.1:1864".into(),
            cookie_lifetime: Duration::from_secs(120),
            auth_timeout: Duration::from_secs(60),
            max_participants: 32,
            max_sessions_per_user: 32,
            max_pending_invitations: 32,
        }
    }
}

/// Someone in a session.
#[derive(Clone, Debug)]
struct Participant {
    conn: ConnId,
    /// Canonical handle.
    handle: String,
    /// Friendly name when they joined (used if they are no longer signed in to the NS).
    name: String,
    /// The other node they are signed in on, if not this one.
    home: Option<String>,
}

#[derive(Debug)]
enum Phase {
    AwaitAuth,
    Joined { session: u64 },
    Closed,
}

/// A single-use ticket into a switchboard.
#[derive(Debug)]
struct Cookie {
    /// Lowercased handle it was issued to.
    user: String,
    /// Who that is: canonical handle and friendly name when it was issued.
    identity: (String, String),
    /// `None`: from `XFR` (starts a session); `Some`: from `RNG` (joins that session).
    session: Option<u64>,
    expires: Duration,
    /// The other node its holder is signed in on, if not this one.
    home: Option<String>,
}

#[derive(Debug, Default)]
struct Session {
    /// In join order.
    participants: Vec<Participant>,
}

/// All switchboard state.
#[derive(Debug)]
pub(crate) struct Switchboards {
    config: SbConfig,
    conns: HashMap<ConnId, Conn<Phase>>,
    sessions: HashMap<u64, Session>,
    cookies: HashMap<String, Cookie>,
    next_session: u64,
}

impl Switchboards {
    pub(crate) fn new(config: SbConfig) -> Result<Switchboards, StoreError> {
        // Session ids are decimal (§8.3); start somewhere unremarkable rather than at 1.
        let start = 10_000_000 + u64::from_le_bytes(random_bytes::<8>()?) % 80_000_000;
        Ok(Switchboards {
            config,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            cookies: HashMap::new(),
            next_session: start,
        })
    }

    pub(crate) fn connections(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `conn` is a switchboard connection not yet closed.
    pub(crate) fn is_open(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| !matches!(c.phase, Phase::Closed))
    }

    pub(crate) fn has(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    fn sessions_of(&self, user: &str) -> usize {
        let joined = self.sessions.values().flat_map(|s| &s.participants).filter(|p| key(&p.handle) == user).count();
        let waiting = self.cookies.values().filter(|c| c.user == user && c.session.is_none()).count();
        joined + waiting
    }

    fn pending_invitations(&self, session: u64) -> usize {
        self.cookies.values().filter(|c| c.session == Some(session)).count()
    }

    /// A cookie for `identity` (canonical handle, friendly name): into `session`, or a new one.
    fn issue(&mut self, identity: (String, String), session: Option<u64>, now: Duration) -> Result<String, StoreError> {
        let [a, b] = [random_bytes::<8>()?, random_bytes::<8>()?].map(u64::from_le_bytes);
        // The digits-and-dots shape of the 1999 service's cookies, with 66 bits of randomness.
        let cookie = format!("{:010}.{:010}", a % 10_000_000_000, b % 10_000_000_000);
        let user = key(&identity.0);
        let expires = now + self.config.cookie_lifetime;
        self.cookies.insert(cookie.clone(), Cookie { user, identity, session, expires, home: None });
        Ok(cookie)
    }

    /// Takes `cookie` if it is valid for `user` and `session`, returning it; a failed try leaves it in place.
    fn redeem(&mut self, cookie: &str, user: &str, session: Option<u64>, now: Duration) -> Option<Cookie> {
        let valid = self.cookies.get(cookie).is_some_and(|c| c.user == user && c.session == session && c.expires > now);
        valid.then(|| self.cookies.remove(cookie)).flatten()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        next_deadline(&self.conns)
    }
}

impl Logic {
    /// `XFR <trid> SB` from a signed-in, visible user: a cookie for a new session.
    pub(crate) fn xfr_sb(&mut self, conn: ConnId, user: &str, trid: TrId, now: Duration) {
        if self.sb.sessions_of(user) >= self.sb.config.max_sessions_per_user {
            return self.error(conn, ErrorCode::TooManySessions, trid);
        }
        let account = &self.users[user].account;
        let cookie = match self.sb.issue((account.handle.clone(), account.name.clone()), None, now) {
            Ok(cookie) => cookie,
            Err(err) => return self.internal_error(conn, trid, &err),
        };
        let address = self.sb.config.public_address.clone();
        self.send(conn, msnp::ns::ServerCommand::XfrSb { trid, address, cookie });
    }

    /// A client connected to the switchboard port.
    pub fn sb_connect(&mut self, conn: ConnId, now: Duration) {
        self.sb.conns.insert(conn, Conn::new(Phase::AwaitAuth, now + self.sb.config.auth_timeout));
    }

    /// A frame arrived on switchboard connection `conn`.
    pub fn sb_receive(&mut self, conn: ConnId, frame: &Frame, now: Duration) {
        let Some(c) = self.sb.conns.get(&conn) else { return };
        match c.phase {
            Phase::Closed => {}
            Phase::AwaitAuth => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Usr { trid, handle, cookie }) => self.sb_usr(conn, trid, &handle, &cookie, now),
                Ok(ClientCommand::Ans { trid, handle, cookie, session_id }) => {
                    self.sb_ans(conn, trid, &handle, &cookie, &session_id, now)
                }
                Err(ParseError::MissingParams { trid: Some(trid), .. }) if matches!(frame.name(), "USR" | "ANS") => {
                    self.sb_auth_failed(conn, trid)
                }
                // Anything else before USR/ANS: close (project rule, §8.2).
                _ => self.sb_close(conn),
            },
            Phase::Joined { session } => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Cal { trid, handle }) => self.sb_cal(conn, session, trid, &handle, now),
                Ok(ClientCommand::Msg { trid, ack, payload }) => self.sb_msg(conn, session, trid, ack, payload),
                Ok(ClientCommand::Out) => self.sb_close(conn),
                Ok(ClientCommand::Usr { trid, .. } | ClientCommand::Ans { trid, .. }) => {
                    self.error(conn, ErrorCode::AlreadyLoggedIn, trid)
                }
                Err(err) => match err.reply() {
                    Some(reply) => self.send_frame(conn, reply),
                    None => self.sb_close(conn),
                },
            },
        }
    }

    /// The caller's name as others should see it now: the NS's current name if signed in.
    fn current_name(&self, user: &str, fallback: &str) -> String {
        self.users.get(user).map(|u| u.account.name.clone()).unwrap_or_else(|| fallback.to_owned())
    }

    fn sb_auth_failed(&mut self, conn: ConnId, trid: TrId) {
        self.error(conn, ErrorCode::AuthenticationFailed, trid);
        self.sb_close(conn);
    }

    fn joined(&mut self, conn: ConnId, session: u64) {
        if let Some(c) = self.sb.conns.get_mut(&conn) {
            c.admit(Phase::Joined { session });
        }
    }

    fn sb_usr(&mut self, conn: ConnId, trid: TrId, who: &str, cookie: &str, now: Duration) {
        let Some(Cookie { identity: (handle, name), home, .. }) = self.sb.redeem(cookie, &key(who), None, now) else {
            return self.sb_auth_failed(conn, trid);
        };
        let name = self.current_name(&key(&handle), &name);
        let id = self.sb.next_session;
        self.sb.next_session += 1;
        let participant = Participant { conn, handle: handle.clone(), name: name.clone(), home };
        self.sb.sessions.insert(id, Session { participants: vec![participant] });
        self.joined(conn, id);
        tracing::info!(user = %handle, session = id, "switchboard session started");
        self.send_sb(conn, ServerCommand::UsrOk { trid, handle, name });
    }

    fn sb_ans(&mut self, conn: ConnId, trid: TrId, who: &str, cookie: &str, session_id: &str, now: Duration) {
        let session = session_id.parse::<u64>().ok().filter(|s| self.sb.sessions.contains_key(s));
        let redeemed = session.and_then(|s| self.sb.redeem(cookie, &key(who), Some(s), now));
        let (Some(session), Some(Cookie { identity: (handle, name), home, .. })) = (session, redeemed) else {
            return self.sb_auth_failed(conn, trid);
        };
        let name = self.current_name(&key(&handle), &name);
        let others = self.sb.sessions[&session].participants.clone();
        let total = others.len() as u32;
        for (p, index) in others.iter().zip(1..) {
            let name = self.current_name(&key(&p.handle), &p.name);
            self.send_sb(conn, ServerCommand::Iro { trid, index, total, handle: p.handle.clone(), name });
        }
        self.send_sb(conn, ServerCommand::AnsOk { trid });
        for p in &others {
            self.send_sb(p.conn, ServerCommand::Joi { handle: handle.clone(), name: name.clone() });
        }
        let participant = Participant { conn, handle, name, home };
        self.sb.sessions.get_mut(&session).expect("checked").participants.push(participant);
        self.joined(conn, session);
    }

    fn sb_cal(&mut self, conn: ConnId, session: u64, trid: TrId, who: &str, now: Duration) {
        let participants = &self.sb.sessions[&session].participants;
        let caller = participants.iter().find(|p| p.conn == conn).cloned().expect("joined");
        let callee = key(who);
        // A callee signed in on another node is asked there; its node checks what the caller may see.
        let elsewhere = self.remote_node(&callee);
        let code = if !handle::is_valid(who) {
            Some(ErrorCode::InvalidUsername)
        } else if participants.iter().any(|p| key(&p.handle) == callee) {
            Some(ErrorCode::AlreadyThere)
        } else if (elsewhere.is_none() && self.seen(&callee, &caller.handle).is_none())
            || self.sb.sessions_of(&callee) >= self.sb.config.max_sessions_per_user
        {
            // Offline, not yet online, hidden, or not accepting messages from the caller (§8.3).
            Some(ErrorCode::NotOnline)
        } else if participants.len() >= self.sb.config.max_participants {
            Some(ErrorCode::SessionOverload)
        } else if self.sb.pending_invitations(session) >= self.sb.config.max_pending_invitations {
            Some(ErrorCode::UserTooActive)
        } else {
            None
        };
        if let Some(code) = code {
            return self.error(conn, code, trid);
        }
        if let Some(node) = elsewhere {
            return self.cal_remote(conn, session, trid, (callee, node), caller, now);
        }
        let callee_user = &self.users[&callee];
        let (callee_conn, identity) =
            (callee_user.conn, (callee_user.account.handle.clone(), callee_user.account.name.clone()));
        let cookie = match self.sb.issue(identity, Some(session), now) {
            Ok(cookie) => cookie,
            Err(err) => return self.internal_error(conn, trid, &err),
        };
        let caller_name = self.current_name(&key(&caller.handle), &caller.name);
        self.send(
            callee_conn,
            msnp::ns::ServerCommand::Rng {
                session_id: session.to_string(),
                address: self.sb.config.public_address.clone(),
                cookie,
                caller: caller.handle,
                caller_name,
            },
        );
        self.send_sb(conn, ServerCommand::CalRinging { trid, session_id: session.to_string() });
    }

    /// `CAL` of `callee`, signed in on `node`: that node rings it; `217` if it cannot.
    fn cal_remote(
        &mut self,
        conn: ConnId,
        session: u64,
        trid: TrId,
        (callee, node): (String, String),
        caller: Participant,
        now: Duration,
    ) {
        let cookie = match self.sb.issue((callee.clone(), callee.clone()), Some(session), now) {
            Ok(cookie) => cookie,
            Err(err) => return self.internal_error(conn, trid, &err),
        };
        let Some(from) = self.cluster.as_ref().map(|c| c.config.node.clone()) else { return };
        let ring = crate::cluster::Note::Ring {
            from,
            id: 0,
            callee,
            caller_name: self.current_name(&key(&caller.handle), &caller.name),
            caller: caller.handle,
            session: session.to_string(),
            address: self.sb.config.public_address.clone(),
            cookie: cookie.clone(),
        };
        self.ring_remote(conn, node.clone(), ring, now, move |logic, rung| {
            let session_id = session.to_string();
            match (rung, logic.sb.cookies.get_mut(&cookie)) {
                (Some(identity), Some(c)) => {
                    (c.identity, c.home) = (identity, Some(node));
                    logic.send_sb(conn, ServerCommand::CalRinging { trid, session_id });
                }
                // Answered before the answer came: rung all the same.
                (Some(_), None) => logic.send_sb(conn, ServerCommand::CalRinging { trid, session_id }),
                (None, _) => {
                    logic.sb.cookies.remove(&cookie);
                    logic.drop_if_empty(session);
                    logic.error(conn, ErrorCode::NotOnline, trid);
                }
            }
        });
    }

    /// Node `node` is gone: whoever is here through it leaves (the others get `BYE`).
    pub(crate) fn sb_node_lost(&mut self, node: &str) {
        let gone: Vec<ConnId> = self
            .sb
            .sessions
            .values()
            .flat_map(|s| &s.participants)
            .filter(|p| p.home.as_deref() == Some(node))
            .map(|p| p.conn)
            .collect();
        for conn in gone {
            self.sb_close(conn);
        }
    }

    fn sb_msg(&mut self, conn: ConnId, session: u64, trid: TrId, ack: AckMode, payload: Vec<u8>) {
        let participants = &self.sb.sessions[&session].participants;
        let sender = participants.iter().find(|p| p.conn == conn).cloned().expect("joined");
        let others: Vec<ConnId> = participants.iter().map(|p| p.conn).filter(|c| *c != conn).collect();
        let sender_name = self.current_name(&key(&sender.handle), &sender.name);
        let relay = ServerCommand::Msg { sender: sender.handle, sender_name, payload }.to_frame();
        for other in &others {
            self.send_frame(*other, relay.clone());
        }
        // Delivery fails exactly when nobody else is in the session (§8.7).
        match (others.is_empty(), ack) {
            (true, AckMode::NegativeOnly | AckMode::Acknowledged) => self.send_sb(conn, ServerCommand::Nak { trid }),
            (false, AckMode::Acknowledged) => self.send_sb(conn, ServerCommand::Ack { trid }),
            _ => {}
        }
    }

    /// Closes a switchboard connection; the others in its session get `BYE`.
    pub(crate) fn sb_close(&mut self, conn: ConnId) {
        let Some(c) = self.sb.conns.get_mut(&conn) else { return };
        let phase = c.close(Phase::Closed);
        if matches!(phase, Phase::Closed) {
            return;
        }
        if let Phase::Joined { session } = phase {
            self.leave(conn, session);
        }
        self.push(Output::Close(conn));
    }

    fn leave(&mut self, conn: ConnId, session: u64) {
        let Some(s) = self.sb.sessions.get_mut(&session) else { return };
        let Some(i) = s.participants.iter().position(|p| p.conn == conn) else { return };
        let gone = s.participants.remove(i);
        let remaining: Vec<ConnId> = s.participants.iter().map(|p| p.conn).collect();
        for other in remaining {
            self.send_sb(other, ServerCommand::Bye { handle: gone.handle.clone() });
        }
        self.drop_if_empty(session);
    }

    /// An empty session lives on only while an invitation to it can still be answered.
    fn drop_if_empty(&mut self, session: u64) {
        let empty = self.sb.sessions.get(&session).is_some_and(|s| s.participants.is_empty());
        if empty && self.sb.pending_invitations(session) == 0 {
            self.sb.sessions.remove(&session);
        }
    }

    /// The connection is gone.
    pub(crate) fn sb_disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.sb.conns.remove(&conn)
            && let Phase::Joined { session } = c.phase
        {
            self.leave(conn, session);
        }
    }

    /// Closes connections that did not authenticate in time; forgets expired cookies.
    pub(crate) fn sb_timeouts(&mut self, now: Duration) {
        for conn in overdue(&self.sb.conns, now) {
            self.sb_close(conn);
        }
        let mut expired_sessions = Vec::new();
        self.sb.cookies.retain(|_, c| {
            let keep = c.expires > now;
            if !keep && let Some(s) = c.session {
                expired_sessions.push(s);
            }
            keep
        });
        for session in expired_sessions {
            self.drop_if_empty(session);
        }
    }

    /// Shutdown: close every switchboard connection, without BYEs.
    pub(crate) fn sb_shutdown(&mut self) {
        self.sb.sessions.clear();
        let conns: Vec<ConnId> = self.sb.conns.keys().copied().collect();
        for conn in conns {
            self.sb_close(conn);
        }
    }

    fn send_sb(&mut self, conn: ConnId, cmd: ServerCommand) {
        self.send_frame(conn, cmd.to_frame());
    }
}
