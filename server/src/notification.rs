//! The server's logic, without sockets or database: the notification server here (MSNP2.md §4–§7,
//! §9–§11), its list commands in [`crate::lists`], presence in [`crate::presence`], its part in a cluster
//! in [`crate::cluster`]; the switchboard is a machine of its own ([`crate::switchboard`]), which [`Logic`]
//! holds and feeds, and which reaches the notification server only through its `Directory` interface.
//!
//! [`Logic`] owns every notification connection's state, who is online, and who watches whom. The network layer
//! feeds it frames ([`Logic::receive`], [`Logic::sb_receive`]) and connection events, and drains
//! [`Output`]s: frames to write, connections to close, and store [`Job`]s to run, whose results come back
//! through [`Logic::job_done`]. While a connection waits for a job it takes no frames
//! ([`Logic::waiting`]), so its commands are answered in order; everyone else carries on. Presence
//! fan-out happens in one place, in the order the causes were processed (§3.2).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use msnp::ns::{ClientCommand, DIALECT, ServerCommand, UsrStage};
use msnp::parse::error_frame;
use msnp::{ErrorCode, Frame, List, ParseError, State, TrId, auth};

use crate::cluster::{BusCall, Cluster, ClusterConfig};
pub use crate::conn::ConnId;
use crate::conn::{Conn, next_deadline, overdue};
use crate::guests::GuestsReach;
use crate::jobs::{Done, Job};
use crate::metrics::Metrics;
use crate::store::{Account, AdminEvent, StoreError, Versions};
use crate::switchboard::{InviteError, SbConfig, Switchboards};
use crate::throttle::{SignInLimits, SignInThrottle, TokenBucket};

/// Identifies a store job the logic is waiting for.
pub type JobId = u64;

/// What the network layer must do.
#[derive(Debug)]
pub enum Output {
    /// Write this frame to the connection.
    Send(ConnId, Frame),
    /// Flush what was sent, then close the connection.
    Close(ConnId),
    /// Run this job on the store and give its result to [`Logic::job_done`].
    Job(JobId, Job),
    /// The connection's job is done: it takes frames again.
    Resume(ConnId),
    /// Work for the cluster's bus (only in a cluster).
    Bus(BusCall),
}

/// Behaviour that operators choose.
#[derive(Clone, Debug)]
pub struct NsConfig {
    /// E-mail domains accounts may sign in from (MSN Messenger 1.0 only knew `hotmail.com`); empty: any.
    pub allowed_domains: Vec<String>,
    /// Entries per list (FL, AL, BL) before `ADD` answers `210`.
    pub max_list: usize,
    /// Time from connecting to `USR … OK` before the connection is closed.
    pub login_timeout: Duration,
    /// The download and information URLs of the `CVR` reply.
    pub cvr_download_url: String,
    pub cvr_info_url: String,
    /// Failed sign-ins checked before more are refused unchecked.
    pub sign_in_limits: SignInLimits,
    /// Notification servers this one refers clients to, making it a dispatch server (MSNP2.md §5.4):
    /// `USR … I` is answered with `XFR … NS` to one of them, chosen by [`dispatch_node`]. Empty: it
    /// signs clients in itself.
    pub dispatch_to: Vec<String>,
    /// `REA`s one user may send per minute (each is a durable write and tells every watcher), up to
    /// [`RENAME_BURST`] at once; more get `713`.
    pub renames_per_minute: u32,
    /// `CHG`s one user may send per minute (each tells every watcher), up to [`STATE_CHANGE_BURST`] at once;
    /// more get `713` and change nothing, so watchers always see the state the user is told they have.
    pub state_changes_per_minute: u32,
    /// Whom guest accounts may add to their forward list and ring (`205` and `217` otherwise, as for
    /// someone who does not exist or is offline).
    pub guests_reach: GuestsReach,
}

/// `CHG`s a user may send at once before [`NsConfig::state_changes_per_minute`] applies.
pub const STATE_CHANGE_BURST: f64 = 20.0;

/// `REA`s a user may send at once before [`NsConfig::renames_per_minute`] applies.
pub const RENAME_BURST: f64 = 10.0;

/// The notification server for `handle`: a stable hash of the lowercased handle (FNV-1a) over `nodes`.
/// Stable, so that every sign-in of one handle lands on the same node while the list is the same: two
/// sessions of one account meet there, and one of them ends (`OUT OTH`) without asking any other node.
pub fn dispatch_node<'a>(handle: &str, nodes: &'a [String]) -> Option<&'a String> {
    let hash = handle
        .bytes()
        .map(|b| b.to_ascii_lowercase())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    nodes.get(usize::try_from(hash % nodes.len().max(1) as u64).ok()?)
}

impl Default for NsConfig {
    fn default() -> NsConfig {
        NsConfig {
            allowed_domains: Vec::new(),
            max_list: 150,
            login_timeout: Duration::from_secs(60),
            cvr_download_url: "http://messenger.example/setup.exe".into(),
            cvr_info_url: "http://messenger.example/".into(),
            sign_in_limits: SignInLimits::default(),
            dispatch_to: Vec::new(),
            renames_per_minute: 30,
            state_changes_per_minute: 600,
            guests_reach: GuestsReach::default(),
        }
    }
}

/// What the logic holds ([`Logic::census`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Connections not yet disconnected, both listeners.
    pub connections: usize,
    /// Signed-in users.
    pub users: usize,
    /// Handles someone signed in watches.
    pub watched: usize,
    /// Switchboard sessions (with participants, or invitations that can still be answered).
    pub sb_sessions: usize,
    /// Store jobs not yet done, connections waiting for them, accounts being loaded.
    pub jobs: usize,
    pub waiting: usize,
    pub loading: usize,
}

/// Commands that need a signed-in user: `302` before `USR … OK` (§4).
const POST_LOGIN: &[&str] = &["SYN", "LST", "GTC", "BLP", "CHG", "ADD", "REM", "REA", "XFR", "FND", "SND", "URL"];

#[derive(Debug)]
enum Phase {
    /// Connected from this address (`None`: unknown, behind a proxy that did not say).
    AwaitVer(Option<IpAddr>),
    AwaitAuth(Box<Auth>),
    /// Signed in as the user with this key (lowercased handle).
    Online(String),
    Closed,
}

/// A connection between VER and a successful USR.
#[derive(Debug)]
struct Auth {
    client: Option<IpAddr>,
    /// The handle of `USR … I` and the challenge it was sent.
    challenge: Option<(String, String)>,
}

/// A signed-in user.
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) conn: ConnId,
    pub(crate) account: Account,
    /// `None` until the first `CHG`: invisible, and receives no presence.
    pub(crate) state: Option<State>,
    /// The session's revision in the cluster's registry (0 on a lone server).
    pub(crate) rev: u64,
    /// `REA`s and `CHG`s this session may still send.
    pub(crate) renames: TokenBucket,
    pub(crate) changes: TokenBucket,
}

/// Users are keyed by their lowercased handle (handles compare case-insensitively).
pub(crate) fn key(handle: &str) -> String {
    handle.to_ascii_lowercase()
}

/// A sign-in being checked by the store (no `Debug`: it holds the MD5 response).
struct SignIn {
    trid: TrId,
    handle: String,
    challenge: String,
    response: String,
    client: Option<IpAddr>,
    /// How many times the account has been read for it.
    reads: u32,
}

/// Reads of an account for one sign-in, when writes to it keep finishing meanwhile; the last is in line
/// with the writes.
const MAX_SIGN_IN_READS: u32 = 3;

/// What to do with a job's result.
type Then = Box<dyn FnOnce(&mut Logic, Done, Duration) + Send>;

struct Pending {
    conn: ConnId,
    then: Then,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("conn", &self.conn).finish_non_exhaustive()
    }
}

/// The notification server and its switchboards.
#[derive(Debug)]
pub struct Logic {
    pub(crate) config: NsConfig,
    conns: HashMap<ConnId, Conn<Phase>>,
    /// Boxed: a table of 10,000 users then holds 32 bytes per slot, not a whole `User` per slot (spare
    /// slots included).
    pub(crate) users: HashMap<String, Box<User>>,
    pub(crate) sb: Switchboards,
    /// For each handle, the signed-in users who have it on their FL.
    pub(crate) watchers: HashMap<String, BTreeSet<String>>,
    out: VecDeque<Output>,
    jobs: HashMap<JobId, Pending>,
    next_job: JobId,
    /// Connections waiting for a job.
    busy: HashSet<ConnId>,
    /// Accounts being loaded for a sign-in, and how many writes to each have completed meanwhile: a
    /// load that raced a write is done again, so a session never starts from a stale account.
    loading: HashMap<String, (usize, u64)>,
    throttle: SignInThrottle,
    pub(crate) metrics: Arc<Metrics>,
    /// This node's view of its cluster; `None` on a lone server.
    pub(crate) cluster: Option<Cluster>,
}

impl Logic {
    pub fn new(config: NsConfig, sb: SbConfig, metrics: Arc<Metrics>) -> Result<Logic, StoreError> {
        Ok(Logic {
            throttle: SignInThrottle::new(config.sign_in_limits),
            config,
            sb: Switchboards::new(sb)?,
            conns: HashMap::new(),
            users: HashMap::new(),
            watchers: HashMap::new(),
            out: VecDeque::new(),
            jobs: HashMap::new(),
            next_job: 1,
            busy: HashSet::new(),
            loading: HashMap::new(),
            metrics,
            cluster: None,
        })
    }

    /// The same logic as one node of a cluster (`None`: a lone server).
    pub fn with_cluster(mut self, cluster: Option<ClusterConfig>) -> Logic {
        self.cluster = cluster.map(Cluster::new);
        self
    }

    /// A client connected from `client` (`None`: address unknown).
    pub fn connect(&mut self, conn: ConnId, client: Option<IpAddr>, now: Duration) {
        self.conns.insert(conn, Conn::new(Phase::AwaitVer(client), now + self.config.login_timeout));
    }

    /// The connection is gone (closed by either side): forget it; its user goes offline.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.busy.remove(&conn);
        if self.sb.has(conn) {
            return self.sb.disconnect(conn);
        }
        if let Some(c) = self.conns.remove(&conn)
            && let Phase::Online(user) = c.phase
        {
            self.sign_off(&user, conn);
        }
    }

    /// Closes connections that have not signed in within the login timeout, expires cookies, forgets
    /// old sign-in failures.
    pub fn handle_timeout(&mut self, now: Duration) {
        for conn in overdue(&self.conns, now) {
            self.close(conn);
        }
        self.sb.handle_timeout(now);
        self.cluster_timeouts(now);
        self.throttle.sweep(now);
    }

    /// The earliest login deadline, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let cluster = self.cluster_poll_timeout();
        next_deadline(&self.conns).into_iter().chain(self.sb.poll_timeout()).chain(cluster).min()
    }

    /// Server shutdown: `OUT SSD` to every connection past VER, then close all.
    pub fn shutdown(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            if matches!(self.conns[&conn].phase, Phase::AwaitAuth(_) | Phase::Online(_)) {
                self.send(conn, ServerCommand::Out { reason: Some("SSD".into()) });
            }
            self.close(conn);
        }
        self.sb.shutdown();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front().or_else(|| self.sb.poll_output())
    }

    /// A client connected to the switchboard port.
    pub fn sb_connect(&mut self, conn: ConnId, now: Duration) {
        self.sb.connect(conn, now);
    }

    /// A frame arrived on switchboard connection `conn`: the switchboard handles it, asking this node's
    /// notification server (its [`crate::switchboard::Directory`]) what it needs.
    pub fn sb_receive(&mut self, conn: ConnId, frame: &Frame, now: Duration) {
        let mut sb = std::mem::take(&mut self.sb);
        sb.receive(conn, frame, now, self);
        self.sb = sb;
    }

    /// How many users are signed in.
    pub fn online(&self) -> usize {
        self.users.len()
    }

    /// How much the logic holds: after every connection has gone and every job is done, nothing.
    pub fn census(&self) -> Census {
        Census {
            connections: self.conns.len() + self.sb.connections(),
            users: self.users.len(),
            watched: self.watchers.len(),
            sb_sessions: self.sb.sessions(),
            jobs: self.jobs.len(),
            waiting: self.busy.len(),
            loading: self.loading.len(),
        }
    }

    /// Whether `conn` waits for a store job: feed it no frames until [`Output::Resume`].
    pub fn waiting(&self, conn: ConnId) -> bool {
        self.busy.contains(&conn) || self.sb.waiting(conn)
    }

    /// A frame arrived on `conn`.
    pub fn receive(&mut self, conn: ConnId, frame: &Frame, now: Duration) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match &c.phase {
            Phase::Closed => {}
            Phase::AwaitVer(client) => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Ver { trid, dialects }) => self.ver(conn, *client, trid, &dialects),
                Err(err @ ParseError::MissingParams { .. }) if frame.name() == "VER" => self.reply_error(conn, &err),
                // Anything else before VER: close without a reply (§4, §11 rule 3).
                _ => self.close(conn),
            },
            Phase::AwaitAuth(_) | Phase::Online(_) => self.command(conn, frame, now),
        }
    }

    fn command(&mut self, conn: ConnId, frame: &Frame, now: Duration) {
        let user = match &self.conns[&conn].phase {
            Phase::Online(user) => Some(user.clone()),
            _ => None,
        };
        if user.is_none() && POST_LOGIN.contains(&frame.name()) {
            match frame.tokens().nth(1).and_then(|t| t.parse::<TrId>().ok()) {
                Some(trid) => self.error(conn, ErrorCode::NotLoggedIn, trid),
                None => self.close(conn),
            }
            return;
        }
        let cmd = match ClientCommand::parse(frame) {
            Ok(cmd) => cmd,
            Err(err) => return self.reply_error(conn, &err),
        };
        match (cmd, user) {
            (ClientCommand::Ver { trid, .. }, _) => {
                self.error(conn, ErrorCode::NotExpected, trid);
                self.close(conn);
            }
            (ClientCommand::Out, _) => self.close(conn),
            (ClientCommand::Png, _) => self.send(conn, ServerCommand::Qng),
            (ClientCommand::Inf { trid }, _) => {
                self.send(conn, ServerCommand::Inf { trid, packages: vec![auth::PACKAGE.into()] })
            }
            (ClientCommand::Cvr { trid, client }, _) => {
                let v = client.version;
                let (download_url, info_url) = (self.config.cvr_download_url.clone(), self.config.cvr_info_url.clone());
                let reply = ServerCommand::Cvr {
                    trid,
                    recommended: v.clone(),
                    recommended2: v.clone(),
                    minimum: v,
                    download_url,
                    info_url,
                };
                self.send(conn, reply);
            }
            (ClientCommand::Usr { trid, .. }, Some(_)) => self.error(conn, ErrorCode::AlreadyLoggedIn, trid),
            (ClientCommand::Usr { trid, package, stage, value }, None) => {
                self.usr(conn, trid, &package, stage, value, now)
            }
            (cmd, Some(user)) => self.online_command(conn, &user, cmd, now),
            // POST_LOGIN covers every other command.
            (_, None) => {}
        }
    }

    fn online_command(&mut self, conn: ConnId, user: &str, cmd: ClientCommand, now: Duration) {
        match cmd {
            ClientCommand::Syn { trid, version } => self.syn(conn, user, trid, version),
            ClientCommand::Lst { trid, list } => self.lst(conn, user, trid, list),
            ClientCommand::Gtc { trid, mode } => self.gtc(conn, user, trid, mode),
            ClientCommand::Blp { trid, mode } => self.blp(conn, user, trid, mode),
            ClientCommand::Add { trid, list, handle, name } => self.add(conn, user, trid, list, &handle, &name),
            ClientCommand::Rem { trid, list, handle } => self.rem(conn, user, trid, list, &handle),
            ClientCommand::Rea { trid, handle, name } => {
                let allowed = self.users.get_mut(user).is_some_and(|u| u.renames.take(now));
                if allowed {
                    self.rea(conn, user, trid, &handle, &name)
                } else {
                    self.error(conn, ErrorCode::UserTooActive, trid)
                }
            }
            ClientCommand::Chg { trid, state } => {
                if self.users.get_mut(user).is_some_and(|u| u.changes.take(now)) {
                    self.chg(conn, user, trid, state)
                } else {
                    self.error(conn, ErrorCode::UserTooActive, trid)
                }
            }
            ClientCommand::Xfr { trid } => match self.users[user].state {
                None | Some(State::Hidden) => self.error(conn, ErrorCode::NotAllowedWhenOffline, trid),
                Some(_) => self.xfr_sb(conn, user, trid, now),
            },
            ClientCommand::Fnd { trid, .. } => {
                self.send(conn, ServerCommand::Fnd { trid, results: vec!["0".into(), "0".into()] });
            }
            ClientCommand::Snd { trid, .. } => self.send(conn, ServerCommand::Snd { trid, result: "OK".into() }),
            ClientCommand::Url { trid, .. } => self
                .send(conn, ServerCommand::Url { trid, url: "/".into(), login_url: self.config.cvr_info_url.clone() }),
            ClientCommand::Ver { .. }
            | ClientCommand::Inf { .. }
            | ClientCommand::Usr { .. }
            | ClientCommand::Cvr { .. }
            | ClientCommand::Png
            | ClientCommand::Out => unreachable!("handled before"),
        }
    }

    fn ver(&mut self, conn: ConnId, client: Option<IpAddr>, trid: TrId, dialects: &[String]) {
        if dialects.iter().any(|d| d.eq_ignore_ascii_case(DIALECT)) {
            self.send(conn, ServerCommand::Ver { trid, dialect: DIALECT.into() });
            self.set_phase(conn, Phase::AwaitAuth(Box::new(Auth { client, challenge: None })));
        } else {
            self.send(conn, ServerCommand::Ver { trid, dialect: "0".into() });
            self.close(conn);
        }
    }

    fn usr(&mut self, conn: ConnId, trid: TrId, package: &str, stage: UsrStage, value: String, now: Duration) {
        if package != auth::PACKAGE {
            return self.auth_failed(conn, trid);
        }
        let Some(Phase::AwaitAuth(auth)) = self.conns.get_mut(&conn).map(|c| &mut c.phase) else { return };
        match stage {
            UsrStage::Initial => {
                if !value.contains('@') {
                    return self.auth_failed(conn, trid);
                }
                let referral = match dispatch_node(&value, &self.config.dispatch_to) {
                    Some(node) => Some(Ok(node.clone())),
                    None => self.referral(),
                };
                match referral {
                    // A dispatch server, or a drained one: refer the client on, and close (MSNP2.md §5.4).
                    Some(Ok(address)) => {
                        self.metrics.referred();
                        self.send(conn, ServerCommand::XfrNs { trid, address });
                        return self.close(conn);
                    }
                    Some(Err(())) => {
                        self.error(conn, ErrorCode::ServerUnavailable, trid);
                        return self.close(conn);
                    }
                    None => {}
                }
                let Some(Phase::AwaitAuth(auth)) = self.conns.get_mut(&conn).map(|c| &mut c.phase) else { return };
                let challenge = match new_challenge() {
                    Ok(challenge) => challenge,
                    Err(err) => return self.internal_error(conn, trid, &err),
                };
                auth.challenge = Some((value, challenge.clone()));
                let reply = ServerCommand::UsrChallenge { trid, package: auth::PACKAGE.into(), challenge };
                self.send(conn, reply);
            }
            UsrStage::Subsequent => {
                let client = auth.client;
                let Some((handle, challenge)) = auth.challenge.take() else {
                    return self.auth_failed(conn, trid);
                };
                if self.throttle.refused(&handle, client, now) {
                    self.metrics.sign_in_throttled();
                    tracing::debug!(user = %handle, client = ?client, "sign-in refused unchecked: too many failures");
                    return self.auth_failed(conn, trid);
                }
                // Counted from now on, so guesses sent all at once are limited like guesses in a row.
                self.throttle.started(&handle, client);
                if !self.domain_allowed(&handle) {
                    return self.sign_in_failed(conn, trid, &handle, client, now);
                }
                let attempt = SignIn { trid, handle, challenge, response: value, client, reads: 1 };
                self.check_sign_in(conn, attempt);
            }
        }
    }

    /// Asks the store whether the response answers the challenge; signs in or fails with its answer.
    fn check_sign_in(&mut self, conn: ConnId, attempt: SignIn) {
        let user = key(&attempt.handle);
        let loading = self.loading.entry(user.clone()).or_default();
        loading.0 += 1;
        let generation = loading.1;
        // The last read goes in line with the writes, so it cannot be stale.
        let ordered = attempt.reads >= MAX_SIGN_IN_READS;
        let job = Job::SignIn {
            handle: attempt.handle.clone(),
            challenge: attempt.challenge.clone(),
            response: attempt.response.clone(),
            ordered,
        };
        self.job(conn, job, move |logic, done, now| {
            let stale = logic.loaded(&user) != generation;
            let still_waiting = logic.awaiting_auth(conn);
            let SignIn { trid, ref handle, client, .. } = attempt;
            match done {
                _ if !still_waiting => logic.throttle.abandoned(handle, client),
                // A write to the account (or an administrator's change) finished while it was read: read it
                // again; the last time in line with the writes, so a busy account cannot keep its owner out.
                Done::SignIn(Ok(Some(_))) if stale && !ordered => {
                    logic.check_sign_in(conn, SignIn { reads: attempt.reads + 1, ..attempt })
                }
                Done::SignIn(Ok(Some(account))) => {
                    logic.throttle.succeeded(handle, client);
                    logic.admit(conn, trid, account);
                }
                Done::SignIn(Ok(None)) => logic.sign_in_failed(conn, trid, handle, client, now),
                Done::SignIn(Err(err)) => {
                    logic.throttle.abandoned(handle, client);
                    logic.internal_error(conn, trid, &err);
                }
                other => {
                    logic.throttle.abandoned(handle, client);
                    unexpected(&other);
                }
            }
        });
    }

    /// Marks a sign-in load of `user` finished; returns how many writes to it completed so far.
    fn loaded(&mut self, user: &str) -> u64 {
        let Some(entry) = self.loading.get_mut(user) else { return 0 };
        entry.0 -= 1;
        let generation = entry.1;
        if entry.0 == 0 {
            self.loading.remove(user);
        }
        generation
    }

    fn sign_in_failed(&mut self, conn: ConnId, trid: TrId, handle: &str, client: Option<IpAddr>, now: Duration) {
        self.throttle.failed(handle, client, now);
        self.metrics.sign_in_failed();
        // The handle and the address, never the response.
        tracing::warn!(user = %handle, client = ?client, "sign-in failed: wrong e-mail address or password");
        self.auth_failed(conn, trid);
    }

    /// `XFR <trid> SB` from a signed-in, visible user: the switchboard's address and a cookie for a new
    /// session.
    fn xfr_sb(&mut self, conn: ConnId, user: &str, trid: TrId, now: Duration) {
        let account = &self.users[user].account;
        match self.sb.invite((account.handle.clone(), account.name.clone()), now) {
            Ok((address, cookie)) => self.send(conn, ServerCommand::XfrSb { trid, address, cookie }),
            Err(InviteError::TooMany) => self.error(conn, ErrorCode::TooManySessions, trid),
            Err(InviteError::Random(err)) => self.internal_error(conn, trid, &err),
        }
    }

    /// Whether `conn` is between VER and a successful USR.
    pub(crate) fn awaiting_auth(&self, conn: ConnId) -> bool {
        matches!(self.conns.get(&conn).map(|c| &c.phase), Some(Phase::AwaitAuth(_)))
    }

    pub(crate) fn signed_in(&mut self, conn: ConnId, trid: TrId, account: Account, rev: u64) {
        let user = key(&account.handle);
        // A second sign-in boots the first session before the new one is confirmed (§5.3).
        if let Some(old) = self.users.get(&user).map(|u| u.conn) {
            self.send(old, ServerCommand::Out { reason: Some("OTH".into()) });
            self.close(old);
        }
        for entry in account.list(List::Forward) {
            self.watchers.entry(key(&entry.handle)).or_default().insert(user.clone());
        }
        let reply = ServerCommand::UsrOk { trid, handle: account.handle.clone(), name: account.name.clone() };
        tracing::info!(user = %account.handle, "signed in");
        self.metrics.signed_in();
        let rate = f64::from(self.config.renames_per_minute) / 60.0;
        // Full from the start: the first take fills it from time zero, up to the burst.
        let renames = TokenBucket::with_burst(rate, RENAME_BURST, Duration::ZERO);
        let rate = f64::from(self.config.state_changes_per_minute) / 60.0;
        let changes = TokenBucket::with_burst(rate, STATE_CHANGE_BURST, Duration::ZERO);
        self.users.insert(user.clone(), Box::new(User { conn, account, state: None, rev, renames, changes }));
        self.forget_remote(&user);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.admit(Phase::Online(user));
        }
        self.send(conn, reply);
    }

    fn auth_failed(&mut self, conn: ConnId, trid: TrId) {
        self.error(conn, ErrorCode::AuthenticationFailed, trid);
        self.close(conn);
    }

    fn domain_allowed(&self, handle: &str) -> bool {
        let domain = handle.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        self.config.allowed_domains.is_empty()
            || self.config.allowed_domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Runs `job` for `conn`, which takes no frames until `then` has handled the result.
    pub(crate) fn job(
        &mut self,
        conn: ConnId,
        job: Job,
        then: impl FnOnce(&mut Logic, Done, Duration) + Send + 'static,
    ) {
        let id = self.pending(conn, then);
        self.out.push_back(Output::Job(id, job));
    }

    /// Work for `conn` under a new id, whose result `then` will handle; `conn` takes no frames until then.
    pub(crate) fn pending(
        &mut self,
        conn: ConnId,
        then: impl FnOnce(&mut Logic, Done, Duration) + Send + 'static,
    ) -> JobId {
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.insert(id, Pending { conn, then: Box::new(then) });
        self.busy.insert(conn);
        id
    }

    /// A job finished.
    pub fn job_done(&mut self, id: JobId, done: Done, now: Duration) {
        let Some(Pending { conn, then }) = self.jobs.remove(&id) else { return };
        self.busy.remove(&conn);
        then(self, done, now);
        if !self.busy.contains(&conn) {
            self.out.push_back(Output::Resume(conn));
        }
    }

    /// Applies `changes` for `conn`'s command `trid`, then calls `then` with the new versions, which
    /// online accounts already carry; a store failure answers `500`.
    pub(crate) fn write(
        &mut self,
        conn: ConnId,
        trid: TrId,
        changes: Vec<crate::store::Change>,
        then: impl FnOnce(&mut Logic, &Versions) + Send + 'static,
    ) {
        self.job(conn, Job::Write { changes }, move |logic, done, _| match done {
            Done::Written(Ok(versions)) => {
                for (handle, version) in &versions.0 {
                    let user = key(handle);
                    if let Some(u) = logic.users.get_mut(&user) {
                        u.account.version = *version;
                    }
                    if let Some(loading) = logic.loading.get_mut(&user) {
                        loading.1 += 1;
                    }
                }
                then(logic, &versions);
            }
            Done::Written(Err(err)) => logic.internal_error(conn, trid, &err),
            other => unexpected(&other),
        });
    }

    /// Changes administrators made to the database (`msnp-server user …`, `import`) while running.
    pub fn admin_events(&mut self, events: Vec<AdminEvent>) {
        for event in events {
            // A sign-in reading that account meanwhile reads it again (a new password included).
            let (AdminEvent::SessionInvalid { handle } | AdminEvent::ReverseRemoved { handle, .. }) = &event;
            if let Some(loading) = self.loading.get_mut(&key(handle)) {
                loading.1 += 1;
            }
            match event {
                AdminEvent::SessionInvalid { handle } => {
                    if let Some(conn) = self.users.get(&key(&handle)).map(|u| u.conn) {
                        tracing::info!(user = %handle, "account changed by an administrator: session ended");
                        self.close(conn);
                    }
                }
                AdminEvent::ReverseRemoved { handle, contact, version } => {
                    self.reverse_removed(&handle, &contact, version)
                }
            }
        }
    }

    fn set_phase(&mut self, conn: ConnId, phase: Phase) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = phase;
        }
    }

    /// Queues an output other than a frame (frames go through [`Logic::send_frame`]).
    pub(crate) fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    /// Queues `frame` for `conn`, unless it is closed: nothing is sent after a close (§11 rule 11), such
    /// as the answer to a command whose connection went while the store was busy with it.
    pub(crate) fn send_frame(&mut self, conn: ConnId, frame: Frame) {
        if self.conns.get(&conn).is_some_and(|c| !matches!(c.phase, Phase::Closed)) {
            self.out.push_back(Output::Send(conn, frame));
        }
    }

    pub(crate) fn send(&mut self, conn: ConnId, cmd: ServerCommand) {
        self.send_frame(conn, cmd.to_frame());
    }

    pub(crate) fn error(&mut self, conn: ConnId, code: ErrorCode, trid: TrId) {
        self.send_frame(conn, error_frame(code, Some(trid)));
    }

    /// An unexpected failure while handling a valid command: `500`, and the session carries on (§11).
    pub(crate) fn internal_error(&mut self, conn: ConnId, trid: TrId, err: &dyn std::error::Error) {
        tracing::error!(%err, "command failed");
        self.error(conn, ErrorCode::InternalServer, trid);
    }

    /// Answers a malformed command as §11 says: its error line, or a close (911 closes too).
    fn reply_error(&mut self, conn: ConnId, err: &ParseError) {
        match err.reply() {
            Some(frame) => {
                self.send_frame(conn, frame);
                if matches!(err, ParseError::InvalidParam { code: ErrorCode::AuthenticationFailed, .. }) {
                    self.close(conn);
                }
            }
            None => self.close(conn),
        }
    }

    /// Closes `conn`: nothing more is read from or sent to it; its user goes offline now.
    pub(crate) fn close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let phase = c.close(Phase::Closed);
        if matches!(phase, Phase::Closed) {
            return;
        }
        if let Phase::Online(user) = phase {
            self.sign_off(&user, conn);
        }
        self.out.push_back(Output::Close(conn));
    }
}

/// A job answered with the wrong kind of result: a bug, reported rather than acted on.
pub(crate) fn unexpected(done: &Done) {
    tracing::error!(?done, "a store job returned a result of another kind");
}

/// A fresh random challenge in the MD5-era `seconds.fraction` shape (e.g. `1013928519.693957190`).
fn new_challenge() -> Result<String, StoreError> {
    let bytes = crate::secret::random_bytes::<8>()?;
    let n = u64::from_le_bytes(bytes);
    Ok(format!("{:010}.{:09}", (n >> 30) % 10_000_000_000, (n & 0x3FFF_FFFF) % 1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::{Admin, SqliteStore, Store};

    /// The logic with an in-memory store, driven as the network layer and the store threads drive it,
    /// except that jobs run when the test says.
    struct Harness {
        logic: Logic,
        store: SqliteStore,
        now: Duration,
        /// Jobs asked for and not yet run.
        jobs: VecDeque<(JobId, Job)>,
    }

    impl Harness {
        fn new(config: NsConfig) -> Harness {
            let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
            store.put_account(&Account::new("jd@hotmail.com", "JD"), "hunter2").unwrap();
            store.put_account(&Account::new("erin@hotmail.com", "Erin"), "erinpw").unwrap();
            let logic = Logic::new(config, SbConfig::default(), Arc::new(Metrics::default())).unwrap();
            Harness { logic, store, now: Duration::ZERO, jobs: VecDeque::new() }
        }

        /// What the logic asked for so far: lines sent (as `conn: line`) and closes; jobs are kept.
        fn outputs(&mut self) -> Vec<String> {
            let mut lines = Vec::new();
            while let Some(output) = self.logic.poll_output() {
                match output {
                    Output::Send(conn, frame) => lines.push(format!("{conn}: {}", frame.line())),
                    Output::Close(conn) => lines.push(format!("{conn}: <close>")),
                    Output::Job(id, job) => self.jobs.push_back((id, job)),
                    Output::Resume(_) | Output::Bus(_) => {}
                }
            }
            lines
        }

        /// Runs every job (and those they lead to); returns what was sent meanwhile.
        fn run_jobs(&mut self) -> Vec<String> {
            let mut lines = self.outputs();
            while let Some((id, job)) = self.jobs.pop_front() {
                let done = job.run(&mut self.store);
                self.logic.job_done(id, done, self.now);
                lines.extend(self.outputs());
            }
            lines
        }

        fn send(&mut self, conn: ConnId, line: &str) -> Vec<String> {
            self.logic.receive(conn, &Frame::command(line), self.now);
            self.run_jobs()
        }

        /// VER, USR I and USR S for `handle` on `conn`; returns the reply to USR S.
        fn sign_in(&mut self, conn: ConnId, client: &str, handle: &str, password: &str) -> Vec<String> {
            self.logic.connect(conn, Some(client.parse().unwrap()), self.now);
            self.send(conn, "VER 1 MSNP2");
            let challenge = self.send(conn, &format!("USR 2 MD5 I {handle}")).remove(0);
            let challenge = challenge.rsplit(' ').next().unwrap().to_owned();
            self.send(conn, &format!("USR 3 MD5 S {}", auth::md5_response(&challenge, password)))
        }
    }

    #[test]
    fn sign_in_without_sockets() {
        let mut h = Harness::new(NsConfig::default());
        assert_eq!(h.sign_in(7, "10.0.0.1", "jd@hotmail.com", "hunter2"), ["7: USR 3 OK jd@hotmail.com JD"]);
        assert_eq!(h.logic.online(), 1);
        assert_eq!(h.send(7, "OUT"), ["7: <close>"]);
        assert_eq!(h.logic.online(), 0);
        h.logic.disconnect(7);
        assert_eq!(h.logic.poll_timeout(), None);
    }

    #[test]
    fn a_connection_waits_for_its_job_while_others_carry_on() {
        let mut h = Harness::new(NsConfig::default());
        h.sign_in(1, "10.0.0.1", "jd@hotmail.com", "hunter2");
        h.logic.receive(1, &Frame::command("ADD 5 FL erin@hotmail.com Erin"), h.now);
        assert!(h.outputs().is_empty());
        assert!(h.logic.waiting(1));
        // Another connection is served meanwhile.
        h.logic.connect(2, None, h.now);
        h.logic.receive(2, &Frame::command("VER 1 MSNP2"), h.now);
        assert_eq!(h.outputs(), ["2: VER 1 MSNP2"]);
        // The store finishes (two jobs: the contact's account, then the write).
        assert_eq!(h.run_jobs(), ["1: ADD 5 FL 1 erin@hotmail.com Erin"]);
        assert!(!h.logic.waiting(1));
    }

    #[test]
    fn guesses_are_refused_unchecked_until_the_window_passes() {
        let mut h = Harness::new(NsConfig::default());
        for conn in 0..5 {
            assert_eq!(
                h.sign_in(conn, "10.0.0.1", "jd@hotmail.com", "guess"),
                [format!("{conn}: 911 3"), format!("{conn}: <close>")]
            );
        }
        // The right password from the same address is refused without a store job.
        h.logic.connect(9, Some("10.0.0.1".parse().unwrap()), h.now);
        h.send(9, "VER 1 MSNP2");
        let challenge = h.send(9, "USR 2 MD5 I jd@hotmail.com").remove(0);
        let response = auth::md5_response(challenge.rsplit(' ').next().unwrap(), "hunter2");
        h.logic.receive(9, &Frame::command(format!("USR 3 MD5 S {response}")), h.now);
        assert_eq!(h.outputs(), ["9: 911 3", "9: <close>"]);
        assert!(h.jobs.is_empty());
        // From elsewhere, and after the minute, it works.
        assert_eq!(h.sign_in(10, "10.0.0.2", "jd@hotmail.com", "hunter2"), ["10: USR 3 OK jd@hotmail.com JD"]);
        h.now = Duration::from_secs(61);
        assert_eq!(h.sign_in(11, "10.0.0.1", "jd@hotmail.com", "hunter2")[0], "10: OUT OTH");
    }

    #[test]
    fn guesses_sent_at_once_are_limited_like_guesses_in_a_row() {
        let mut h = Harness::new(NsConfig::default());
        for conn in 0..10 {
            h.logic.connect(conn, Some("10.0.0.1".parse().unwrap()), h.now);
            h.logic.receive(conn, &Frame::command("VER 1 MSNP2"), h.now);
            h.logic.receive(conn, &Frame::command("USR 2 MD5 I jd@hotmail.com"), h.now);
        }
        h.outputs();
        // All ten answers arrive before the store has checked any of them.
        for conn in 0..10 {
            h.logic.receive(conn, &Frame::command("USR 3 MD5 S 00000000000000000000000000000000"), h.now);
        }
        let refused = h.outputs().iter().filter(|l| l.ends_with(": 911 3")).count();
        assert_eq!((h.jobs.len(), refused), (5, 5));
        assert_eq!(h.run_jobs().iter().filter(|l| l.ends_with(": 911 3")).count(), 5);
    }

    #[test]
    fn a_sign_in_that_raced_a_write_to_its_account_loads_it_again() {
        let mut h = Harness::new(NsConfig::default());
        h.sign_in(1, "10.0.0.1", "erin@hotmail.com", "erinpw");
        // jd signs in; the store reads his account before erin adds him, and answers after.
        h.logic.connect(2, None, h.now);
        h.send(2, "VER 1 MSNP2");
        let challenge = h.send(2, "USR 2 MD5 I jd@hotmail.com").remove(0);
        let response = auth::md5_response(challenge.rsplit(' ').next().unwrap(), "hunter2");
        h.logic.receive(2, &Frame::command(format!("USR 3 MD5 S {response}")), h.now);
        h.outputs();
        let (sign_in, job) = h.jobs.pop_front().unwrap();
        let stale = job.run(&mut h.store);
        assert_eq!(h.send(1, "ADD 5 FL jd@hotmail.com JD"), ["1: ADD 5 FL 1 jd@hotmail.com JD"]);
        h.logic.job_done(sign_in, stale, h.now);
        assert_eq!(h.run_jobs(), ["2: USR 3 OK jd@hotmail.com JD"]);
        assert_eq!(h.send(2, "LST 4 RL"), ["2: LST 4 RL 1 1 1 erin@hotmail.com Erin"]);
    }

    #[test]
    fn login_deadline_closes_without_sockets() {
        let config = NsConfig { login_timeout: Duration::from_secs(60), ..NsConfig::default() };
        let mut h = Harness::new(config);
        h.logic.connect(1, None, Duration::from_secs(10));
        assert_eq!(h.logic.poll_timeout(), Some(Duration::from_secs(70)));
        h.logic.handle_timeout(Duration::from_secs(69));
        assert!(h.outputs().is_empty());
        h.logic.handle_timeout(Duration::from_secs(70));
        assert_eq!(h.outputs(), ["1: <close>"]);
    }

    #[test]
    fn store_failures_answer_500_and_change_nothing() {
        let mut h = Harness::new(NsConfig::default());
        h.sign_in(1, "10.0.0.1", "jd@hotmail.com", "hunter2");
        h.logic.receive(1, &Frame::command("BLP 5 BL"), h.now);
        h.outputs();
        let (id, _) = h.jobs.pop_front().unwrap();
        let failed = Done::Written(Err(StoreError::NoAccount("jd@hotmail.com".into())));
        h.logic.job_done(id, failed, h.now);
        assert_eq!(h.outputs(), ["1: 500 5"]);
        assert_eq!(h.send(1, "SYN 6 9")[..3], ["1: SYN 6 0", "1: GTC 6 0 A", "1: BLP 6 0 AL"]);
        assert_eq!(h.store.account("jd@hotmail.com").unwrap().unwrap().blp, msnp::Blp::AllowAll);
    }
}
