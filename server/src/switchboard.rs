//! The switchboard: chat sessions (MSNP2.md §8), a sans-IO machine of its own.
//!
//! It owns its connections, sessions and cookies, and never touches the notification server's state:
//! what it needs of it goes through [`Directory`] (the friendly name a user goes by now; whether a callee
//! can be rung, and ringing them, on this node or another), and the notification server asks it for a
//! cookie with [`Switchboards::invite`] (`XFR SB`). A cookie carries its holder's canonical handle and
//! friendly name, so the switchboard never needs the store.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use msnp::parse::error_frame;
use msnp::sb::{ClientCommand, ServerCommand};
use msnp::{AckMode, ErrorCode, Frame, ParseError, TrId, handle};

use crate::conn::{Conn, ConnId, next_deadline, overdue};
use crate::notification::{Output, key};
use crate::secret::random_bytes;
use crate::store::StoreError;

/// What the switchboard asks of the notification server (on this node, or through it of the cluster).
pub trait Directory {
    /// The friendly name `user` (lowercased handle) goes by now, if signed in on this node.
    fn name(&self, user: &str) -> Option<String>;
    /// Whether `callee` (lowercased) may be rung for `caller` (canonical handle): visible to them here, or
    /// signed in on another node (which decides when asked).
    fn reach(&self, callee: &str, caller: &str) -> Reach;
    /// Rings `ring.callee`: `RNG` sent here (whom to), or the ring asked of another node (its answer comes
    /// through [`Switchboards::rang`] with `ring.id`), or neither.
    fn ring(&mut self, ring: Ring) -> Ringing;
}

/// Where a callee can be rung.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    Here,
    /// On that other node.
    Elsewhere(String),
    /// Offline, hidden, or not accepting the caller (`217`).
    No,
}

/// An invitation to a switchboard session, for [`Directory::ring`].
#[derive(Clone, Debug)]
pub struct Ring {
    pub id: u64,
    pub callee: String,
    pub caller: String,
    pub caller_name: String,
    pub session: String,
    pub address: String,
    pub cookie: String,
}

/// What became of a [`Ring`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ringing {
    /// `RNG` went out here, to this canonical handle and friendly name.
    Rung(String, String),
    /// Asked of that other node.
    Asked(String),
    NotRung,
}

/// Why [`Switchboards::invite`] gave no cookie.
#[derive(Debug)]
pub enum InviteError {
    /// `800`: the user is in (or invited to) as many sessions as allowed.
    TooMany,
    Random(StoreError),
}

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
    /// Invitations (`CAL`s that ring) one user may send per minute, in all sessions together.
    pub max_invitations_per_minute: usize,
    /// Invitations one user may have waiting for their answer, from everyone together: past it, callers get
    /// `713` and the callee is not rung.
    pub max_unanswered_per_callee: usize,
    /// How long `CAL` waits for another node to ring its callee before answering `217`.
    pub ring_timeout: Duration,
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
            max_invitations_per_minute: 30,
            max_unanswered_per_callee: 8,
            ring_timeout: Duration::from_secs(3),
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

/// A `CAL` waiting for another node to ring its callee.
#[derive(Debug)]
struct Calling {
    conn: ConnId,
    trid: TrId,
    session: u64,
    cookie: String,
    node: String,
    until: Duration,
}

/// What the limits ask about, counted as it changes rather than by scanning every cookie and session
/// under the lock: cookies for new sessions per user, rings into each session, rings to each callee,
/// sessions each user is in, and the times of each caller's rings in the last minute.
#[derive(Debug, Default)]
struct Counts {
    new_sessions: HashMap<String, usize>,
    rings_into: HashMap<u64, usize>,
    rings_to: HashMap<String, usize>,
    joined: HashMap<String, usize>,
    rang: HashMap<String, VecDeque<Duration>>,
}

/// Counts `key` up or down by one, forgetting keys that reach zero.
fn count<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K, up: bool) {
    if up {
        *map.entry(key).or_default() += 1;
    } else if let std::collections::hash_map::Entry::Occupied(mut e) = map.entry(key) {
        *e.get_mut() -= 1;
        if *e.get() == 0 {
            e.remove();
        }
    }
}

impl Counts {
    fn cookie(&mut self, c: &Cookie, up: bool) {
        match c.session {
            None => count(&mut self.new_sessions, c.user.clone(), up),
            Some(session) => {
                count(&mut self.rings_into, session, up);
                count(&mut self.rings_to, c.user.clone(), up);
            }
        }
    }

    /// Rings `caller` sent in the minute before `now`, forgetting older ones.
    fn rang_lately(&mut self, caller: &str, now: Duration) -> usize {
        let Some(times) = self.rang.get_mut(caller) else { return 0 };
        while times.front().is_some_and(|t| now.saturating_sub(*t) >= MINUTE) {
            times.pop_front();
        }
        times.len()
    }

    /// Forgets callers with no ring in the last minute.
    fn sweep(&mut self, now: Duration) {
        self.rang.retain(|_, times| times.back().is_some_and(|t| now.saturating_sub(*t) < MINUTE));
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// All switchboard state.
#[derive(Debug, Default)]
pub struct Switchboards {
    config: SbConfig,
    conns: HashMap<ConnId, Conn<Phase>>,
    sessions: HashMap<u64, Session>,
    cookies: HashMap<String, Cookie>,
    counts: Counts,
    next_session: u64,
    /// Rings asked of other nodes, by ring id; their connections take no frames meanwhile.
    calling: HashMap<u64, Calling>,
    busy: HashSet<ConnId>,
    next_ring: u64,
    out: VecDeque<Output>,
}

impl Switchboards {
    pub fn new(config: SbConfig) -> Result<Switchboards, StoreError> {
        // Session ids are decimal (§8.3); start somewhere unremarkable rather than at 1.
        let start = 10_000_000 + u64::from_le_bytes(random_bytes::<8>()?) % 80_000_000;
        Ok(Switchboards {
            config,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            cookies: HashMap::new(),
            counts: Counts::default(),
            next_session: start,
            calling: HashMap::new(),
            busy: HashSet::new(),
            next_ring: 1,
            out: VecDeque::new(),
        })
    }

    /// Whether `conn` is a switchboard connection.
    pub fn has(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `conn` waits for another node's answer: feed it no frames until [`Output::Resume`].
    pub fn waiting(&self, conn: ConnId) -> bool {
        self.busy.contains(&conn)
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn sessions_of(&self, user: &str) -> usize {
        let joined = self.counts.joined.get(user).copied().unwrap_or(0);
        joined + self.counts.new_sessions.get(user).copied().unwrap_or(0)
    }

    fn pending_invitations(&self, session: u64) -> usize {
        self.counts.rings_into.get(&session).copied().unwrap_or(0)
    }

    /// Takes `cookie` out, whatever becomes of it.
    fn forget(&mut self, cookie: &str) -> Option<Cookie> {
        let c = self.cookies.remove(cookie)?;
        self.counts.cookie(&c, false);
        Some(c)
    }

    /// `participant` is in `session` now.
    fn seat(&mut self, session: u64, participant: Participant) {
        count(&mut self.counts.joined, key(&participant.handle), true);
        if let Some(s) = self.sessions.get_mut(&session) {
            s.participants.push(participant);
        }
    }

    /// A cookie for `identity` (canonical handle, friendly name): into `session`, or a new one.
    fn issue(&mut self, identity: (String, String), session: Option<u64>, now: Duration) -> Result<String, StoreError> {
        let [a, b] = [random_bytes::<8>()?, random_bytes::<8>()?].map(u64::from_le_bytes);
        // The digits-and-dots shape of the 1999 service's cookies, with 66 bits of randomness.
        let cookie = format!("{:010}.{:010}", a % 10_000_000_000, b % 10_000_000_000);
        let user = key(&identity.0);
        let expires = now + self.config.cookie_lifetime;
        let c = Cookie { user, identity, session, expires, home: None };
        self.counts.cookie(&c, true);
        self.cookies.insert(cookie.clone(), c);
        Ok(cookie)
    }

    /// Takes `cookie` if it is valid for `user` and `session`, returning it; a failed try leaves it in place.
    fn redeem(&mut self, cookie: &str, user: &str, session: Option<u64>, now: Duration) -> Option<Cookie> {
        let valid = self.cookies.get(cookie).is_some_and(|c| c.user == user && c.session == session && c.expires > now);
        valid.then(|| self.forget(cookie)).flatten()
    }

    pub fn poll_timeout(&self) -> Option<Duration> {
        next_deadline(&self.conns).into_iter().chain(self.calling.values().map(|c| c.until)).min()
    }

    /// `XFR SB` from `identity` (canonical handle, friendly name): this switchboard's address and a cookie
    /// for a new session.
    pub fn invite(&mut self, identity: (String, String), now: Duration) -> Result<(String, String), InviteError> {
        if self.sessions_of(&key(&identity.0)) >= self.config.max_sessions_per_user {
            return Err(InviteError::TooMany);
        }
        let cookie = self.issue(identity, None, now).map_err(InviteError::Random)?;
        Ok((self.config.public_address.clone(), cookie))
    }

    /// A client connected to the switchboard port.
    pub fn connect(&mut self, conn: ConnId, now: Duration) {
        self.conns.insert(conn, Conn::new(Phase::AwaitAuth, now + self.config.auth_timeout));
    }

    /// A frame arrived on switchboard connection `conn`.
    pub fn receive(&mut self, conn: ConnId, frame: &Frame, now: Duration, dir: &mut dyn Directory) {
        let Some(c) = self.conns.get(&conn) else { return };
        match c.phase {
            Phase::Closed => {}
            Phase::AwaitAuth => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Usr { trid, handle, cookie }) => self.usr(conn, trid, &handle, &cookie, now, dir),
                Ok(ClientCommand::Ans { trid, handle, cookie, session_id }) => {
                    self.ans(conn, trid, &handle, &cookie, &session_id, now, dir)
                }
                Err(ParseError::MissingParams { trid: Some(trid), .. }) if matches!(frame.name(), "USR" | "ANS") => {
                    self.auth_failed(conn, trid)
                }
                // Anything else before USR/ANS: close (project rule, §8.2).
                _ => self.close(conn),
            },
            Phase::Joined { session } => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Cal { trid, handle }) => self.cal(conn, session, trid, &handle, now, dir),
                Ok(ClientCommand::Msg { trid, ack, payload }) => self.msg(conn, session, trid, ack, payload, dir),
                Ok(ClientCommand::Out) => self.close(conn),
                Ok(ClientCommand::Usr { trid, .. } | ClientCommand::Ans { trid, .. }) => {
                    self.error(conn, ErrorCode::AlreadyLoggedIn, trid)
                }
                Err(err) => match err.reply() {
                    Some(reply) => self.send_frame(conn, reply),
                    None => self.close(conn),
                },
            },
        }
    }

    fn auth_failed(&mut self, conn: ConnId, trid: TrId) {
        self.error(conn, ErrorCode::AuthenticationFailed, trid);
        self.close(conn);
    }

    fn joined(&mut self, conn: ConnId, session: u64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.admit(Phase::Joined { session });
        }
    }

    fn usr(&mut self, conn: ConnId, trid: TrId, who: &str, cookie: &str, now: Duration, dir: &dyn Directory) {
        let Some(Cookie { identity: (handle, name), home, .. }) = self.redeem(cookie, &key(who), None, now) else {
            return self.auth_failed(conn, trid);
        };
        let name = dir.name(&key(&handle)).unwrap_or(name);
        let id = self.next_session;
        self.next_session += 1;
        let participant = Participant { conn, handle: handle.clone(), name: name.clone(), home };
        self.sessions.insert(id, Session { participants: Vec::new() });
        self.seat(id, participant);
        self.joined(conn, id);
        tracing::info!(user = %handle, session = id, "switchboard session started");
        self.send(conn, ServerCommand::UsrOk { trid, handle, name });
    }

    #[allow(clippy::too_many_arguments)]
    fn ans(
        &mut self,
        conn: ConnId,
        trid: TrId,
        who: &str,
        cookie: &str,
        session_id: &str,
        now: Duration,
        dir: &dyn Directory,
    ) {
        let session = session_id.parse::<u64>().ok().filter(|s| self.sessions.contains_key(s));
        let redeemed = session.and_then(|s| self.redeem(cookie, &key(who), Some(s), now));
        let (Some(session), Some(Cookie { identity: (handle, name), home, .. })) = (session, redeemed) else {
            return self.auth_failed(conn, trid);
        };
        // Project rule (MSNP2.md is silent): one seat per handle, and the limit holds at joining too, since
        // a callee rung again before answering holds more than one cookie.
        let participants = &self.sessions[&session].participants;
        let refusal = if participants.iter().any(|p| key(&p.handle) == key(&handle)) {
            Some(ErrorCode::AlreadyThere)
        } else if participants.len() >= self.config.max_participants {
            Some(ErrorCode::SessionOverload)
        } else {
            None
        };
        if let Some(code) = refusal {
            self.error(conn, code, trid);
            return self.close(conn);
        }
        let name = dir.name(&key(&handle)).unwrap_or(name);
        let others = self.sessions[&session].participants.clone();
        let total = others.len() as u32;
        for (p, index) in others.iter().zip(1..) {
            let name = dir.name(&key(&p.handle)).unwrap_or_else(|| p.name.clone());
            self.send(conn, ServerCommand::Iro { trid, index, total, handle: p.handle.clone(), name });
        }
        self.send(conn, ServerCommand::AnsOk { trid });
        for p in &others {
            self.send(p.conn, ServerCommand::Joi { handle: handle.clone(), name: name.clone() });
        }
        let participant = Participant { conn, handle, name, home };
        self.seat(session, participant);
        self.joined(conn, session);
    }

    fn cal(&mut self, conn: ConnId, session: u64, trid: TrId, who: &str, now: Duration, dir: &mut dyn Directory) {
        let participants = &self.sessions[&session].participants;
        let caller = participants.iter().find(|p| p.conn == conn).cloned().expect("joined");
        let callee = key(who);
        let reach = if handle::is_valid(who) { dir.reach(&callee, &caller.handle) } else { Reach::No };
        let code = if !handle::is_valid(who) {
            Some(ErrorCode::InvalidUsername)
        } else if participants.iter().any(|p| key(&p.handle) == callee) {
            Some(ErrorCode::AlreadyThere)
        } else if reach == Reach::No || self.sessions_of(&callee) >= self.config.max_sessions_per_user {
            // Offline, not yet online, hidden, or not accepting messages from the caller (§8.3).
            Some(ErrorCode::NotOnline)
        } else if participants.len() >= self.config.max_participants {
            Some(ErrorCode::SessionOverload)
        } else if self.pending_invitations(session) >= self.config.max_pending_invitations
            || self.counts.rang_lately(&key(&caller.handle), now) >= self.config.max_invitations_per_minute
            || self.counts.rings_to.get(&callee).copied().unwrap_or(0) >= self.config.max_unanswered_per_callee
        {
            // Too many invitations: from this session or this caller, or waiting for this callee.
            Some(ErrorCode::UserTooActive)
        } else {
            None
        };
        if let Some(code) = code {
            return self.error(conn, code, trid);
        }
        let cookie = match self.issue((callee.clone(), callee.clone()), Some(session), now) {
            Ok(cookie) => cookie,
            Err(err) => return self.internal_error(conn, trid, &err),
        };
        self.counts.rang.entry(key(&caller.handle)).or_default().push_back(now);
        let id = self.next_ring;
        self.next_ring += 1;
        let caller_name = dir.name(&key(&caller.handle)).unwrap_or(caller.name);
        let ring = Ring {
            id,
            callee,
            caller: caller.handle,
            caller_name,
            session: session.to_string(),
            address: self.config.public_address.clone(),
            cookie: cookie.clone(),
        };
        match dir.ring(ring) {
            Ringing::Rung(handle, name) => self.rung(conn, trid, session, &cookie, (handle, name), None),
            Ringing::Asked(node) => {
                let until = now + self.config.ring_timeout;
                self.calling.insert(id, Calling { conn, trid, session, cookie, node, until });
                self.busy.insert(conn);
            }
            Ringing::NotRung => self.not_rung(conn, trid, session, &cookie),
        }
    }

    /// The callee was rung: its cookie names it, and the caller hears `RINGING`.
    fn rung(
        &mut self,
        conn: ConnId,
        trid: TrId,
        session: u64,
        cookie: &str,
        identity: (String, String),
        home: Option<String>,
    ) {
        // The callee may have answered already: rung all the same.
        if let Some(c) = self.cookies.get_mut(cookie) {
            (c.identity, c.home) = (identity, home);
        }
        self.send(conn, ServerCommand::CalRinging { trid, session_id: session.to_string() });
    }

    fn not_rung(&mut self, conn: ConnId, trid: TrId, session: u64, cookie: &str) {
        self.forget(cookie);
        self.drop_if_empty(session);
        self.error(conn, ErrorCode::NotOnline, trid);
    }

    /// Another node's answer to ring `id`: whom it rang, or `None`.
    pub fn rang(&mut self, id: u64, callee: Option<(String, String)>) {
        let Some(Calling { conn, trid, session, cookie, node, .. }) = self.calling.remove(&id) else { return };
        match callee {
            Some(identity) => self.rung(conn, trid, session, &cookie, identity, Some(node)),
            None => self.not_rung(conn, trid, session, &cookie),
        }
        self.busy.remove(&conn);
        self.out.push_back(Output::Resume(conn));
    }

    fn msg(&mut self, conn: ConnId, session: u64, trid: TrId, ack: AckMode, payload: Vec<u8>, dir: &dyn Directory) {
        let participants = &self.sessions[&session].participants;
        let sender = participants.iter().find(|p| p.conn == conn).cloned().expect("joined");
        let others: Vec<ConnId> = participants.iter().map(|p| p.conn).filter(|c| *c != conn).collect();
        let sender_name = dir.name(&key(&sender.handle)).unwrap_or(sender.name);
        let relay = ServerCommand::Msg { sender: sender.handle, sender_name, payload }.to_frame();
        for other in &others {
            self.send_frame(*other, relay.clone());
        }
        // Delivery fails exactly when nobody else is in the session (§8.7).
        match (others.is_empty(), ack) {
            (true, AckMode::NegativeOnly | AckMode::Acknowledged) => self.send(conn, ServerCommand::Nak { trid }),
            (false, AckMode::Acknowledged) => self.send(conn, ServerCommand::Ack { trid }),
            _ => {}
        }
    }

    /// Closes a switchboard connection; the others in its session get `BYE`.
    fn close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let phase = c.close(Phase::Closed);
        if matches!(phase, Phase::Closed) {
            return;
        }
        if let Phase::Joined { session } = phase {
            self.leave(conn, session);
        }
        self.out.push_back(Output::Close(conn));
    }

    fn leave(&mut self, conn: ConnId, session: u64) {
        let Some(s) = self.sessions.get_mut(&session) else { return };
        let Some(i) = s.participants.iter().position(|p| p.conn == conn) else { return };
        let gone = s.participants.remove(i);
        count(&mut self.counts.joined, key(&gone.handle), false);
        let remaining: Vec<ConnId> = s.participants.iter().map(|p| p.conn).collect();
        for other in remaining {
            self.send(other, ServerCommand::Bye { handle: gone.handle.clone() });
        }
        self.drop_if_empty(session);
    }

    /// An empty session lives on only while an invitation to it can still be answered.
    fn drop_if_empty(&mut self, session: u64) {
        let empty = self.sessions.get(&session).is_some_and(|s| s.participants.is_empty());
        if empty && self.pending_invitations(session) == 0 {
            self.sessions.remove(&session);
        }
    }

    /// The connection is gone.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.busy.remove(&conn);
        if let Some(c) = self.conns.remove(&conn)
            && let Phase::Joined { session } = c.phase
        {
            self.leave(conn, session);
        }
    }

    /// Closes connections that did not authenticate in time; forgets expired cookies; gives up on rings
    /// other nodes did not answer.
    pub fn handle_timeout(&mut self, now: Duration) {
        for conn in overdue(&self.conns, now) {
            self.close(conn);
        }
        let late: Vec<u64> = self.calling.iter().filter(|(_, c)| c.until <= now).map(|(id, _)| *id).collect();
        for id in late {
            self.rang(id, None);
        }
        let expired: Vec<String> =
            self.cookies.iter().filter(|(_, c)| c.expires <= now).map(|(cookie, _)| cookie.clone()).collect();
        for cookie in expired {
            if let Some(session) = self.forget(&cookie).and_then(|c| c.session) {
                self.drop_if_empty(session);
            }
        }
        self.counts.sweep(now);
    }

    /// Node `node` is gone: whoever is here through it leaves (the others get `BYE`).
    pub fn node_lost(&mut self, node: &str) {
        let gone: Vec<ConnId> = self
            .sessions
            .values()
            .flat_map(|s| &s.participants)
            .filter(|p| p.home.as_deref() == Some(node))
            .map(|p| p.conn)
            .collect();
        for conn in gone {
            self.close(conn);
        }
    }

    /// Shutdown: close every switchboard connection, without BYEs.
    pub fn shutdown(&mut self) {
        self.sessions.clear();
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(conn);
        }
    }

    /// Queues `frame` for `conn` unless it is closed (§11 rule 11).
    fn send_frame(&mut self, conn: ConnId, frame: Frame) {
        if self.conns.get(&conn).is_some_and(|c| !matches!(c.phase, Phase::Closed)) {
            self.out.push_back(Output::Send(conn, frame));
        }
    }

    fn send(&mut self, conn: ConnId, cmd: ServerCommand) {
        self.send_frame(conn, cmd.to_frame());
    }

    fn error(&mut self, conn: ConnId, code: ErrorCode, trid: TrId) {
        self.send_frame(conn, error_frame(code, Some(trid)));
    }

    fn internal_error(&mut self, conn: ConnId, trid: TrId, err: &dyn std::error::Error) {
        tracing::error!(%err, "command failed");
        self.error(conn, ErrorCode::InternalServer, trid);
    }
}
