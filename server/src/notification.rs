//! The server's logic, without sockets: the notification server here (MSNP2.md §4–§7, §9–§11), the
//! switchboards in [`crate::switchboard`].
//!
//! [`Logic`] owns every connection's state, who is online, and who watches whom. The network layer
//! feeds it frames ([`Logic::receive`], [`Logic::sb_receive`]) and connection events, and drains
//! [`Output`]s: frames to write to a connection, and connections to close. Presence fan-out therefore
//! happens in one place, in the order the causes were processed (§3.2).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use msnp::ns::{ClientCommand, DIALECT, Entry, ServerCommand, UsrStage};
use msnp::parse::error_frame;
use msnp::{Blp, ErrorCode, Frame, Gtc, List, ParseError, State, TrId, auth, handle, name};

pub use crate::conn::ConnId;
use crate::conn::{Conn, next_deadline, overdue};
use crate::store::{Account, Change, Store, StoreError};
use crate::switchboard::{SbConfig, Switchboards};

/// What the network layer must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write this frame to the connection.
    Send(ConnId, Frame),
    /// Flush what was sent, then close the connection.
    Close(ConnId),
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
}

impl Default for NsConfig {
    fn default() -> NsConfig {
        NsConfig {
            allowed_domains: Vec::new(),
            max_list: 150,
            login_timeout: Duration::from_secs(60),
            cvr_download_url: "http://messenger.example/setup.exe".into(),
            cvr_info_url: "http://messenger.example/".into(),
        }
    }
}

/// Commands that need a signed-in user: `302` before `USR … OK` (§4).
const POST_LOGIN: &[&str] = &["SYN", "LST", "GTC", "BLP", "CHG", "ADD", "REM", "REA", "XFR", "FND", "SND", "URL"];

#[derive(Debug)]
enum Phase {
    AwaitVer,
    AwaitAuth {
        challenge: Option<(String, String)>,
    },
    /// Signed in as the user with this key (lowercased handle).
    Online(String),
    Closed,
}

/// A signed-in user.
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) conn: ConnId,
    pub(crate) account: Account,
    /// `None` until the first `CHG`: invisible, and receives no presence.
    state: Option<State>,
}

/// What watcher W can see of user U: state and friendly name, or nothing (offline to W).
type Seen = Option<(State, String)>;

/// Users are keyed by their lowercased handle (handles compare case-insensitively).
pub(crate) fn key(handle: &str) -> String {
    handle.to_ascii_lowercase()
}

/// The notification server and its switchboards.
#[derive(Debug)]
pub struct Logic<S> {
    config: NsConfig,
    pub(crate) store: S,
    conns: HashMap<ConnId, Conn<Phase>>,
    pub(crate) users: HashMap<String, User>,
    pub(crate) sb: Switchboards,
    /// For each handle, the signed-in users who have it on their FL.
    watchers: HashMap<String, BTreeSet<String>>,
    out: VecDeque<Output>,
}

impl<S: Store> Logic<S> {
    pub fn new(config: NsConfig, sb: SbConfig, store: S) -> Result<Logic<S>, StoreError> {
        Ok(Logic {
            config,
            store,
            sb: Switchboards::new(sb)?,
            conns: HashMap::new(),
            users: HashMap::new(),
            watchers: HashMap::new(),
            out: VecDeque::new(),
        })
    }

    /// A client connected.
    pub fn connect(&mut self, conn: ConnId, now: Duration) {
        self.conns.insert(conn, Conn::new(Phase::AwaitVer, now + self.config.login_timeout));
    }

    /// The connection is gone (closed by either side): forget it; its user goes offline.
    pub fn disconnect(&mut self, conn: ConnId) {
        if self.sb.has(conn) {
            return self.sb_disconnect(conn);
        }
        if let Some(c) = self.conns.remove(&conn)
            && let Phase::Online(user) = c.phase
        {
            self.sign_off(&user, conn);
        }
    }

    /// Closes connections that have not signed in within the login timeout.
    pub fn handle_timeout(&mut self, now: Duration) {
        for conn in overdue(&self.conns, now) {
            self.close(conn);
        }
        self.sb_timeouts(now);
    }

    /// The earliest login deadline, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        next_deadline(&self.conns).into_iter().chain(self.sb.poll_timeout()).min()
    }

    /// Server shutdown: `OUT SSD` to every connection past VER, then close all.
    pub fn shutdown(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            if matches!(self.conns[&conn].phase, Phase::AwaitAuth { .. } | Phase::Online(_)) {
                self.send(conn, ServerCommand::Out { reason: Some("SSD".into()) });
            }
            self.close(conn);
        }
        self.sb_shutdown();
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// How many users are signed in.
    pub fn online(&self) -> usize {
        self.users.len()
    }

    /// A frame arrived on `conn`.
    pub fn receive(&mut self, conn: ConnId, frame: &Frame, now: Duration) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match &c.phase {
            Phase::Closed => {}
            Phase::AwaitVer => match ClientCommand::parse(frame) {
                Ok(ClientCommand::Ver { trid, dialects }) => self.ver(conn, trid, &dialects),
                Err(err @ ParseError::MissingParams { .. }) if frame.name() == "VER" => self.reply_error(conn, &err),
                // Anything else before VER: close without a reply (§4, §11 rule 3).
                _ => self.close(conn),
            },
            Phase::AwaitAuth { .. } | Phase::Online(_) => self.command(conn, frame, now),
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
        let result = match (cmd, user) {
            (ClientCommand::Ver { trid, .. }, _) => {
                self.error(conn, ErrorCode::NotExpected, trid);
                self.close(conn);
                Ok(())
            }
            (ClientCommand::Out, _) => {
                self.close(conn);
                Ok(())
            }
            (ClientCommand::Png, _) => {
                self.send(conn, ServerCommand::Qng);
                Ok(())
            }
            (ClientCommand::Inf { trid }, _) => {
                self.send(conn, ServerCommand::Inf { trid, packages: vec![auth::PACKAGE.into()] });
                Ok(())
            }
            (ClientCommand::Cvr { trid, client }, _) => {
                let v = client.version;
                self.send(
                    conn,
                    ServerCommand::Cvr {
                        trid,
                        recommended: v.clone(),
                        recommended2: v.clone(),
                        minimum: v,
                        download_url: self.config.cvr_download_url.clone(),
                        info_url: self.config.cvr_info_url.clone(),
                    },
                );
                Ok(())
            }
            (ClientCommand::Usr { trid, .. }, Some(_)) => {
                self.error(conn, ErrorCode::AlreadyLoggedIn, trid);
                Ok(())
            }
            (ClientCommand::Usr { trid, package, stage, value }, None) => self.usr(conn, trid, &package, stage, value),
            (cmd, Some(user)) => self.online_command(conn, &user, cmd, now),
            // POST_LOGIN covers every other command.
            (_, None) => Ok(()),
        };
        if let Err((trid, err)) = result {
            tracing::error!(%err, "command failed");
            self.error(conn, ErrorCode::InternalServer, trid);
        }
    }

    fn online_command(
        &mut self,
        conn: ConnId,
        user: &str,
        cmd: ClientCommand,
        now: Duration,
    ) -> Result<(), (TrId, StoreError)> {
        match cmd {
            ClientCommand::Syn { trid, version } => self.syn(conn, user, trid, version),
            ClientCommand::Lst { trid, list } => {
                let account = &self.users[user].account;
                let lines = lst_lines(trid, list, account);
                lines.into_iter().for_each(|l| self.send(conn, l));
            }
            ClientCommand::Gtc { trid, mode } => {
                return self.gtc(conn, user, trid, mode).map_err(|e| (trid, e));
            }
            ClientCommand::Blp { trid, mode } => {
                return self.blp(conn, user, trid, mode).map_err(|e| (trid, e));
            }
            ClientCommand::Add { trid, list, handle, name } => {
                return self.add(conn, user, trid, list, &handle, &name).map_err(|e| (trid, e));
            }
            ClientCommand::Rem { trid, list, handle } => {
                return self.rem(conn, user, trid, list, &handle).map_err(|e| (trid, e));
            }
            ClientCommand::Rea { trid, handle, name } => {
                return self.rea(conn, user, trid, &handle, &name).map_err(|e| (trid, e));
            }
            ClientCommand::Chg { trid, state } => self.chg(conn, user, trid, state),
            ClientCommand::Xfr { trid } => match self.users[user].state {
                None | Some(State::Hidden) => self.error(conn, ErrorCode::NotAllowedWhenOffline, trid),
                Some(_) => return self.xfr_sb(conn, user, trid, now).map_err(|e| (trid, e)),
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
        Ok(())
    }

    fn ver(&mut self, conn: ConnId, trid: TrId, dialects: &[String]) {
        if dialects.iter().any(|d| d.eq_ignore_ascii_case(DIALECT)) {
            self.send(conn, ServerCommand::Ver { trid, dialect: DIALECT.into() });
            self.set_phase(conn, Phase::AwaitAuth { challenge: None });
        } else {
            self.send(conn, ServerCommand::Ver { trid, dialect: "0".into() });
            self.close(conn);
        }
    }

    fn usr(
        &mut self,
        conn: ConnId,
        trid: TrId,
        package: &str,
        stage: UsrStage,
        value: String,
    ) -> Result<(), (TrId, StoreError)> {
        if package != auth::PACKAGE {
            self.auth_failed(conn, trid);
            return Ok(());
        }
        match stage {
            UsrStage::Initial => {
                if !value.contains('@') {
                    self.auth_failed(conn, trid);
                    return Ok(());
                }
                let challenge = new_challenge().map_err(|e| (trid, e))?;
                self.send(
                    conn,
                    ServerCommand::UsrChallenge { trid, package: auth::PACKAGE.into(), challenge: challenge.clone() },
                );
                self.set_phase(conn, Phase::AwaitAuth { challenge: Some((value, challenge)) });
            }
            UsrStage::Subsequent => {
                let pending = match self.conns.get_mut(&conn).map(|c| &mut c.phase) {
                    Some(Phase::AwaitAuth { challenge }) => challenge.take(),
                    _ => None,
                };
                let Some((handle, challenge)) = pending else {
                    self.auth_failed(conn, trid);
                    return Ok(());
                };
                let account = if self.domain_allowed(&handle) {
                    self.store.account(&handle).map_err(|e| (trid, e))?
                } else {
                    None
                };
                let password = match &account {
                    Some(a) => self.store.password(&a.handle).map_err(|e| (trid, e))?,
                    None => None,
                };
                let verified = password.is_some_and(|p| auth::verify_md5_response(&challenge, &p, &value));
                match account {
                    Some(account) if verified => self.signed_in(conn, trid, account),
                    _ => self.auth_failed(conn, trid),
                }
            }
        }
        Ok(())
    }

    fn signed_in(&mut self, conn: ConnId, trid: TrId, account: Account) {
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
        self.users.insert(user.clone(), User { conn, account, state: None });
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

    fn syn(&mut self, conn: ConnId, user: &str, trid: TrId, version: u32) {
        let account = &self.users[user].account;
        let v = account.version;
        let mut lines = vec![ServerCommand::Syn { trid, version: v }];
        if version != v {
            lines.push(ServerCommand::Gtc { trid, version: v, mode: account.gtc });
            lines.push(ServerCommand::Blp { trid, version: v, mode: account.blp });
            for list in List::ALL {
                lines.extend(lst_lines(trid, *list, account));
            }
        }
        lines.into_iter().for_each(|l| self.send(conn, l));
    }

    /// Applies `changes` plus a version bump of `user`, then updates the in-memory account with
    /// `update`. Returns the new version.
    fn commit(
        &mut self,
        user: &str,
        mut changes: Vec<Change>,
        update: impl FnOnce(&mut Account),
    ) -> Result<u32, StoreError> {
        let account = &self.users[user].account;
        let version = account.version.wrapping_add(1);
        changes.push(Change::SetVersion { account: account.handle.clone(), version });
        self.store.apply(&changes)?;
        let account = &mut self.users.get_mut(user).expect("signed in").account;
        update(account);
        account.version = version;
        Ok(version)
    }

    fn gtc(&mut self, conn: ConnId, user: &str, trid: TrId, mode: Gtc) -> Result<(), StoreError> {
        let account = &self.users[user].account;
        if account.gtc == mode {
            self.error(conn, ErrorCode::AlreadyInMode, trid);
            return Ok(());
        }
        let change = Change::SetGtc { account: account.handle.clone(), gtc: mode };
        let version = self.commit(user, vec![change], |a| a.gtc = mode)?;
        self.send(conn, ServerCommand::Gtc { trid, version, mode });
        Ok(())
    }

    fn blp(&mut self, conn: ConnId, user: &str, trid: TrId, mode: Blp) -> Result<(), StoreError> {
        let account = &self.users[user].account;
        if account.blp == mode {
            self.error(conn, ErrorCode::AlreadyInMode, trid);
            return Ok(());
        }
        let change = Change::SetBlp { account: account.handle.clone(), blp: mode };
        let before = self.snapshot(user);
        let version = self.commit(user, vec![change], |a| a.blp = mode)?;
        self.send(conn, ServerCommand::Blp { trid, version, mode });
        self.notify(user, before);
        Ok(())
    }

    /// An account's current state: from memory if signed in, else from the store.
    fn account(&mut self, handle: &str) -> Result<Option<Account>, StoreError> {
        match self.users.get(&key(handle)) {
            Some(u) => Ok(Some(u.account.clone())),
            None => self.store.account(handle),
        }
    }

    fn add(
        &mut self,
        conn: ConnId,
        user: &str,
        trid: TrId,
        list: List,
        who: &str,
        custom: &str,
    ) -> Result<(), StoreError> {
        if list == List::Reverse {
            self.close(conn);
            return Ok(());
        }
        let own = &self.users[user].account;
        let code = if !handle::is_valid(who) {
            Some(ErrorCode::InvalidParameter)
        } else if name::validate_encoded(custom).is_err() {
            Some(ErrorCode::InvalidFriendlyName)
        } else if handle::same(who, &own.handle) {
            Some(ErrorCode::InvalidParameter)
        } else {
            None
        };
        if let Some(code) = code {
            self.error(conn, code, trid);
            return Ok(());
        }
        let Some(target) = self.account(who)? else {
            self.error(conn, ErrorCode::InvalidUser, trid);
            return Ok(());
        };
        let own = &self.users[user].account;
        let opposite = match list {
            List::Allow => Some(List::Block),
            List::Block => Some(List::Allow),
            _ => None,
        };
        let code = if own.on(list, who) {
            Some(ErrorCode::AlreadyThere)
        } else if opposite.is_some_and(|o| own.on(o, who)) {
            Some(ErrorCode::AlreadyInOppositeList)
        } else if own.list(list).len() >= self.config.max_list {
            Some(ErrorCode::ListFull)
        } else {
            None
        };
        if let Some(code) = code {
            self.error(conn, code, trid);
            return Ok(());
        }

        let (own_handle, own_name) = (own.handle.clone(), own.name.clone());
        let entry = Entry { handle: target.handle.clone(), name: custom.to_owned() };
        let mut changes = vec![Change::AddEntry { account: own_handle.clone(), list, entry: entry.clone() }];
        let target_version = target.version.wrapping_add(1);
        let rl_entry = Entry { handle: own_handle.clone(), name: own_name.clone() };
        if list == List::Forward {
            changes.push(Change::AddEntry {
                account: target.handle.clone(),
                list: List::Reverse,
                entry: rl_entry.clone(),
            });
            changes.push(Change::SetVersion { account: target.handle.clone(), version: target_version });
        }
        let target_key = key(&target.handle);
        let before = self.snapshot(user);
        let version = self.commit(user, changes, |a| a.list_mut(list).push(entry.clone()))?;
        self.send(conn, ServerCommand::Add { trid, list, version, handle: entry.handle.clone(), name: entry.name });

        if list == List::Forward {
            self.watchers.entry(target_key.clone()).or_default().insert(user.to_owned());
            if let Some(t) = self.users.get_mut(&target_key) {
                t.account.list_mut(List::Reverse).push(rl_entry);
                t.account.version = target_version;
                let target_conn = t.conn;
                self.send(
                    target_conn,
                    ServerCommand::Add {
                        trid: TrId::UNSOLICITED,
                        list: List::Reverse,
                        version: target_version,
                        handle: own_handle.clone(),
                        name: own_name,
                    },
                );
            }
            if self.users[user].state.is_some()
                && let Some((state, name)) = self.seen(&target_key, &own_handle)
            {
                self.send(conn, ServerCommand::Iln { trid, state, handle: target.handle, name });
            }
        } else {
            self.notify(user, before);
        }
        Ok(())
    }

    fn rem(&mut self, conn: ConnId, user: &str, trid: TrId, list: List, who: &str) -> Result<(), StoreError> {
        if list == List::Reverse {
            self.close(conn);
            return Ok(());
        }
        if !handle::is_valid(who) {
            self.error(conn, ErrorCode::InvalidParameter, trid);
            return Ok(());
        }
        let own = &self.users[user].account;
        let Some(entry) = own.find(list, who).cloned() else {
            self.error(conn, ErrorCode::NotOnList, trid);
            return Ok(());
        };
        let own_handle = own.handle.clone();
        let mut changes = vec![Change::RemoveEntry { account: own_handle.clone(), list, handle: entry.handle.clone() }];
        let target = if list == List::Forward { self.account(&entry.handle)? } else { None };
        let target = target.filter(|t| t.on(List::Reverse, &own_handle));
        if let Some(t) = &target {
            changes.push(Change::RemoveEntry {
                account: t.handle.clone(),
                list: List::Reverse,
                handle: own_handle.clone(),
            });
            changes.push(Change::SetVersion { account: t.handle.clone(), version: t.version.wrapping_add(1) });
        }
        let before = self.snapshot(user);
        let gone = entry.handle.clone();
        let version = self.commit(user, changes, |a| a.list_mut(list).retain(|e| !handle::same(&e.handle, &gone)))?;
        self.send(conn, ServerCommand::Rem { trid, list, version, handle: entry.handle.clone() });
        if list == List::Forward {
            let target_key = key(&entry.handle);
            if let Some(set) = self.watchers.get_mut(&target_key) {
                set.remove(user);
            }
            if let (Some(t), Some(online)) = (target, self.users.get_mut(&target_key)) {
                online.account.list_mut(List::Reverse).retain(|e| !handle::same(&e.handle, &own_handle));
                online.account.version = t.version.wrapping_add(1);
                let (target_conn, version) = (online.conn, online.account.version);
                self.send(
                    target_conn,
                    ServerCommand::Rem { trid: TrId::UNSOLICITED, list: List::Reverse, version, handle: own_handle },
                );
            }
        } else {
            self.notify(user, before);
        }
        Ok(())
    }

    fn rea(&mut self, conn: ConnId, user: &str, trid: TrId, who: &str, new_name: &str) -> Result<(), StoreError> {
        if name::validate_encoded(new_name).is_err() {
            self.error(conn, ErrorCode::InvalidFriendlyName, trid);
            return Ok(());
        }
        let own = &self.users[user].account;
        let own_handle = own.handle.clone();
        if handle::same(who, &own_handle) {
            let before = self.snapshot(user);
            let change = Change::SetName { account: own_handle.clone(), name: new_name.to_owned() };
            let version = self.commit(user, vec![change], |a| a.name = new_name.to_owned())?;
            self.send(conn, ServerCommand::Rea { trid, version, handle: own_handle, name: new_name.to_owned() });
            self.notify(user, before);
            return Ok(());
        }
        let Some(stored) = List::ALL.iter().find_map(|l| own.find(*l, who)).map(|e| e.handle.clone()) else {
            self.error(conn, ErrorCode::NotOnList, trid);
            return Ok(());
        };
        let change = Change::RenameEntry { account: own_handle, handle: stored.clone(), name: new_name.to_owned() };
        let version = self.commit(user, vec![change], |a| {
            for list in &mut a.lists {
                list.iter_mut().filter(|e| handle::same(&e.handle, who)).for_each(|e| e.name = new_name.to_owned());
            }
        })?;
        self.send(conn, ServerCommand::Rea { trid, version, handle: stored, name: new_name.to_owned() });
        Ok(())
    }

    fn chg(&mut self, conn: ConnId, user: &str, trid: TrId, state: State) {
        if state == State::Offline {
            return self.error(conn, ErrorCode::InvalidParameter, trid);
        }
        let before = self.snapshot(user);
        let u = self.users.get_mut(user).expect("signed in");
        let first = u.state.is_none();
        u.state = Some(state);
        self.send(conn, ServerCommand::Chg { trid, state });
        if first {
            // Initial presence: every FL contact this user can see (§7.1).
            let own = self.users[user].account.handle.clone();
            let contacts: Vec<String> =
                self.users[user].account.list(List::Forward).iter().map(|e| key(&e.handle)).collect();
            for contact in contacts {
                if let Some((state, name)) = self.seen(&contact, &own) {
                    let handle = self.users[&contact].account.handle.clone();
                    self.send(conn, ServerCommand::Iln { trid, state, handle, name });
                }
            }
        }
        self.notify(user, before);
    }

    /// What the signed-in user `watcher` sees of user `u` (§7.3).
    pub(crate) fn seen(&self, u: &str, watcher: &str) -> Seen {
        let user = self.users.get(u)?;
        let state = user.state.filter(|s| *s != State::Hidden)?;
        let a = &user.account;
        if a.on(List::Block, watcher) || (a.blp == Blp::BlockAll && !a.on(List::Allow, watcher)) {
            return None;
        }
        Some((state, a.name.clone()))
    }

    /// What each watcher of `user` (signed in, past the first CHG) sees of them now.
    fn snapshot(&self, user: &str) -> Vec<(String, Seen)> {
        let Some(watchers) = self.watchers.get(user) else {
            return Vec::new();
        };
        watchers
            .iter()
            .filter_map(|w| self.users.get(w).filter(|wu| wu.state.is_some()).map(|wu| (w, &wu.account.handle)))
            .map(|(w, handle)| (w.clone(), self.seen(user, handle)))
            .collect()
    }

    /// Sends each watcher in `before` what changed in what they see of `user` (§7.3's table).
    fn notify(&mut self, user: &str, before: Vec<(String, Seen)>) {
        let handle = match self.users.get(user) {
            Some(u) => u.account.handle.clone(),
            None => return,
        };
        self.notify_as(user, &handle, before);
    }

    fn notify_as(&mut self, user: &str, handle: &str, before: Vec<(String, Seen)>) {
        for (w, old) in before {
            let Some(watcher) = self.users.get(&w) else {
                continue;
            };
            let (conn, now) = (watcher.conn, self.seen(user, &watcher.account.handle));
            if old == now {
                continue;
            }
            match now {
                Some((state, name)) => self.send(conn, ServerCommand::Nln { state, handle: handle.to_owned(), name }),
                None => self.send(conn, ServerCommand::Fln { handle: handle.to_owned() }),
            }
        }
    }

    /// `user` (signed in on `conn`) goes offline.
    fn sign_off(&mut self, user: &str, conn: ConnId) {
        if self.users.get(user).is_none_or(|u| u.conn != conn) {
            return;
        }
        let before = self.snapshot(user);
        let account = self.users.remove(user).expect("checked").account;
        for entry in account.list(List::Forward) {
            if let Some(set) = self.watchers.get_mut(&key(&entry.handle)) {
                set.remove(user);
                if set.is_empty() {
                    self.watchers.remove(&key(&entry.handle));
                }
            }
        }
        self.notify_as(user, &account.handle, before);
        tracing::info!(user = %account.handle, "signed off");
    }

    fn set_phase(&mut self, conn: ConnId, phase: Phase) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = phase;
        }
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    pub(crate) fn send(&mut self, conn: ConnId, cmd: ServerCommand) {
        self.out.push_back(Output::Send(conn, cmd.to_frame()));
    }

    pub(crate) fn error(&mut self, conn: ConnId, code: ErrorCode, trid: TrId) {
        self.out.push_back(Output::Send(conn, error_frame(code, Some(trid))));
    }

    /// Answers a malformed command as §11 says: its error line, or a close (911 closes too).
    fn reply_error(&mut self, conn: ConnId, err: &ParseError) {
        match err.reply() {
            Some(frame) => {
                self.out.push_back(Output::Send(conn, frame));
                if matches!(err, ParseError::InvalidParam { code: ErrorCode::AuthenticationFailed, .. }) {
                    self.close(conn);
                }
            }
            None => self.close(conn),
        }
    }

    /// Closes `conn`: nothing more is read from or sent to it; its user goes offline now.
    fn close(&mut self, conn: ConnId) {
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

/// The LST lines for one list (§6.4): one per entry, or `0 0` when empty.
fn lst_lines(trid: TrId, list: List, account: &Account) -> Vec<ServerCommand> {
    let entries = account.list(list);
    let version = account.version;
    if entries.is_empty() {
        return vec![ServerCommand::Lst { trid, list, version, item: 0, total: 0, entry: None }];
    }
    let total = entries.len() as u32;
    entries
        .iter()
        .zip(1..)
        .map(|(e, item)| ServerCommand::Lst { trid, list, version, item, total, entry: Some(e.clone()) })
        .collect()
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
    use crate::store::SqliteStore;

    /// The logic runs without any socket: frames in, frames and closes out.
    #[test]
    fn sign_in_without_sockets() {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        store.put_account(&Account::new("jd@hotmail.com", "JD"), "hunter2").unwrap();
        let mut ns = Logic::new(NsConfig::default(), SbConfig::default(), store).unwrap();
        let lines = |ns: &mut Logic<SqliteStore>, line: &str| {
            ns.receive(7, &Frame::command(line), Duration::ZERO);
            std::iter::from_fn(|| ns.poll_output())
                .map(|o| match o {
                    Output::Send(7, f) => f.line().to_owned(),
                    Output::Close(7) => "<close>".to_owned(),
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<_>>()
        };
        ns.connect(7, Duration::ZERO);
        assert_eq!(lines(&mut ns, "VER 1 MSNP2"), ["VER 1 MSNP2"]);
        let challenge = lines(&mut ns, "USR 2 MD5 I jd@hotmail.com").remove(0);
        let challenge = challenge.strip_prefix("USR 2 MD5 S ").unwrap().to_owned();
        let response = auth::md5_response(&challenge, "hunter2");
        assert_eq!(lines(&mut ns, &format!("USR 3 MD5 S {response}")), ["USR 3 OK jd@hotmail.com JD"]);
        assert_eq!(ns.online(), 1);
        assert_eq!(lines(&mut ns, "OUT"), ["<close>"]);
        assert_eq!(ns.online(), 0);
        ns.disconnect(7);
        assert_eq!(ns.poll_timeout(), None);
    }

    #[test]
    fn login_deadline_closes_without_sockets() {
        let store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        let config = NsConfig { login_timeout: Duration::from_secs(60), ..NsConfig::default() };
        let mut ns = Logic::new(config, SbConfig::default(), store).unwrap();
        ns.connect(1, Duration::from_secs(10));
        assert_eq!(ns.poll_timeout(), Some(Duration::from_secs(70)));
        ns.handle_timeout(Duration::from_secs(69));
        assert_eq!(ns.poll_output(), None);
        ns.handle_timeout(Duration::from_secs(70));
        assert_eq!(ns.poll_output(), Some(Output::Close(1)));
    }
}
