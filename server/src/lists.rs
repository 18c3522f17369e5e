//! The list commands (MSNP2.md §6): SYN, LST, GTC, BLP, ADD, REM, REA.
//!
//! A change is checked against the signed-in account held in memory, written to the store, and only
//! then answered; when the store is done, the in-memory copy of every signed-in account it touched is
//! brought up to date (with the versions the store gave) and the replies and notifications go out.

use msnp::ns::{Entry, ServerCommand};
use msnp::{Blp, ErrorCode, Gtc, List, TrId, handle, name};

use crate::cluster::Note;
use crate::jobs::{Done, Job};
use crate::notification::{ConnId, Logic, key};
use crate::store::{Account, Change, Versions};

impl Logic {
    pub(crate) fn syn(&mut self, conn: ConnId, user: &str, trid: TrId, version: u32) {
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

    pub(crate) fn lst(&mut self, conn: ConnId, user: &str, trid: TrId, list: List) {
        let lines = lst_lines(trid, list, &self.users[user].account);
        lines.into_iter().for_each(|l| self.send(conn, l));
    }

    /// The signed-in account of `user`, if still signed in.
    fn account_mut(&mut self, user: &str) -> Option<&mut Account> {
        self.users.get_mut(user).map(|u| &mut u.account)
    }

    /// The version to report for `handle` after a write: the store's, or (if the write changed nothing of
    /// it) the one it has.
    fn version_after(&self, handle: &str, versions: &Versions) -> u32 {
        versions.of(handle).or_else(|| self.users.get(&key(handle)).map(|u| u.account.version)).unwrap_or_default()
    }

    pub(crate) fn gtc(&mut self, conn: ConnId, user: &str, trid: TrId, mode: Gtc) {
        let account = &self.users[user].account;
        if account.gtc == mode {
            return self.error(conn, ErrorCode::AlreadyInMode, trid);
        }
        let handle = account.handle.clone();
        let change = Change::SetGtc { account: handle.clone(), gtc: mode };
        self.write(conn, trid, vec![change], move |logic, versions| {
            if let Some(a) = logic.account_mut(&key(&handle)) {
                a.gtc = mode;
            }
            let version = logic.version_after(&handle, versions);
            logic.send(conn, ServerCommand::Gtc { trid, version, mode });
        });
    }

    pub(crate) fn blp(&mut self, conn: ConnId, user: &str, trid: TrId, mode: Blp) {
        let account = &self.users[user].account;
        if account.blp == mode {
            return self.error(conn, ErrorCode::AlreadyInMode, trid);
        }
        let handle = account.handle.clone();
        let change = Change::SetBlp { account: handle.clone(), blp: mode };
        self.write(conn, trid, vec![change], move |logic, versions| {
            let user = key(&handle);
            let before = logic.snapshot(&user);
            if let Some(a) = logic.account_mut(&user) {
                a.blp = mode;
            }
            let version = logic.version_after(&handle, versions);
            logic.send(conn, ServerCommand::Blp { trid, version, mode });
            logic.notify(&user, before);
        });
    }

    pub(crate) fn add(&mut self, conn: ConnId, user: &str, trid: TrId, list: List, who: &str, custom: &str) {
        if list == List::Reverse {
            return self.close(conn);
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
            return self.error(conn, code, trid);
        }
        if let Some(target) = self.users.get(&key(who)) {
            if self.out_of_reach(user, list, &target.account) {
                return self.error(conn, ErrorCode::InvalidUser, trid);
            }
            let target = target.account.handle.clone();
            return self.add_existing(conn, user, trid, list, target, custom.to_owned());
        }
        let (user, custom) = (user.to_owned(), custom.to_owned());
        self.job(conn, Job::Account { handle: who.to_owned() }, move |logic, done, _| match done {
            Done::Account(Ok(Some(target))) if logic.out_of_reach(&user, list, &target) => {
                logic.error(conn, ErrorCode::InvalidUser, trid)
            }
            Done::Account(Ok(Some(target))) => logic.add_existing(conn, &user, trid, list, target.handle, custom),
            Done::Account(Ok(None)) => logic.error(conn, ErrorCode::InvalidUser, trid),
            Done::Account(Err(err)) => logic.internal_error(conn, trid, &err),
            other => crate::notification::unexpected(&other),
        });
    }

    /// Whether `user` is a guest that may not put `target` on its FL: it is told `205`, as if there were no
    /// such account, so that it cannot tell who exists either.
    fn out_of_reach(&self, user: &str, list: List, target: &Account) -> bool {
        let reach = &self.config.guests_reach;
        list == List::Forward && self.users.get(user).is_some_and(|u| !reach.allows(&u.account, target))
    }

    /// ADD once the target is known to exist, as `target` (its canonical handle).
    fn add_existing(&mut self, conn: ConnId, user: &str, trid: TrId, list: List, target: String, custom: String) {
        // The session may have ended while the target was looked up.
        let Some(own) = self.users.get(user).filter(|u| u.conn == conn).map(|u| &u.account) else { return };
        let opposite = match list {
            List::Allow => Some(List::Block),
            List::Block => Some(List::Allow),
            _ => None,
        };
        let code = if own.on(list, &target) {
            Some(ErrorCode::AlreadyThere)
        } else if opposite.is_some_and(|o| own.on(o, &target)) {
            Some(ErrorCode::AlreadyInOppositeList)
        } else if own.list(list).len() >= self.config.max_list {
            Some(ErrorCode::ListFull)
        } else {
            None
        };
        if let Some(code) = code {
            return self.error(conn, code, trid);
        }
        let entry = Entry { handle: target, name: custom };
        // The requester joins the target's RL under the requester's current friendly name (§6.7).
        let reverse = Entry { handle: own.handle.clone(), name: own.name.clone() };
        let mut changes = vec![Change::AddEntry { account: own.handle.clone(), list, entry: entry.clone() }];
        if list == List::Forward {
            let account = entry.handle.clone();
            changes.push(Change::AddEntry { account, list: List::Reverse, entry: reverse.clone() });
        }
        let user = user.to_owned();
        self.write(conn, trid, changes, move |logic, versions| {
            logic.added(conn, &user, trid, list, entry, reverse, versions)
        });
    }

    /// ADD is in the store: memory, the reply, and what others see (§6.7 steps 1–4).
    #[allow(clippy::too_many_arguments)]
    fn added(
        &mut self,
        conn: ConnId,
        user: &str,
        trid: TrId,
        list: List,
        entry: Entry,
        reverse: Entry,
        versions: &Versions,
    ) {
        let before = self.snapshot(user);
        if let Some(a) = self.account_mut(user) {
            put(a.list_mut(list), entry.clone());
        }
        let version = self.version_after(&reverse.handle, versions);
        let (handle, name) = (entry.handle.clone(), entry.name);
        self.send(conn, ServerCommand::Add { trid, list, version, handle: handle.clone(), name });
        if list != List::Forward {
            return self.notify(user, before);
        }
        let target = key(&handle);
        if self.users.contains_key(user) {
            self.watchers.entry(target.clone()).or_default().insert(user.to_owned());
        }
        if self.users.contains_key(&target) {
            self.reverse_added(&target, reverse.clone(), None);
        } else if let Some(version) = versions.of(&handle) {
            let (handle, name) = (reverse.handle.clone(), reverse.name.clone());
            self.tell_holder(&target, Note::ReverseAdded { target: target.clone(), handle, name, version });
        }
        if self.users.get(user).is_some_and(|u| u.state.is_some()) {
            match self.seen(&target, &reverse.handle) {
                Some((state, name)) => self.send(conn, ServerCommand::Iln { trid, state, handle, name }),
                None => self.watch_remote(user, trid, vec![target]),
            }
        }
    }

    /// `target`'s RL gained `entry`: its session (if here) follows and is told (`ADD 0 RL`, §6.7);
    /// `version`: the list version after it, when the store's answer reached another node.
    pub(crate) fn reverse_added(&mut self, target: &str, entry: Entry, version: Option<u32>) {
        let Some(t) = self.users.get_mut(target) else { return };
        put(t.account.list_mut(List::Reverse), entry.clone());
        if let Some(version) = version.filter(|v| (v.wrapping_sub(t.account.version) as i32) > 0) {
            t.account.version = version;
        }
        let (target_conn, version) = (t.conn, t.account.version);
        let (handle, name) = (entry.handle, entry.name);
        let rl = ServerCommand::Add { trid: TrId::UNSOLICITED, list: List::Reverse, version, handle, name };
        self.send(target_conn, rl);
    }

    pub(crate) fn rem(&mut self, conn: ConnId, user: &str, trid: TrId, list: List, who: &str) {
        if list == List::Reverse {
            return self.close(conn);
        }
        if !handle::is_valid(who) {
            return self.error(conn, ErrorCode::InvalidParameter, trid);
        }
        let own = &self.users[user].account;
        let Some(entry) = own.find(list, who).cloned() else {
            return self.error(conn, ErrorCode::NotOnList, trid);
        };
        let own_handle = own.handle.clone();
        let mut changes = vec![Change::RemoveEntry { account: own_handle.clone(), list, handle: entry.handle.clone() }];
        if list == List::Forward {
            // The target's RL loses the requester, if it has them (then its version moves too).
            let account = entry.handle.clone();
            changes.push(Change::RemoveEntry { account, list: List::Reverse, handle: own_handle.clone() });
        }
        let user = user.to_owned();
        self.write(conn, trid, changes, move |logic, versions| {
            logic.removed(conn, &user, trid, list, &entry.handle, &own_handle, versions)
        });
    }

    /// REM is in the store: memory, the reply, and what others see (§6.8).
    #[allow(clippy::too_many_arguments)]
    fn removed(
        &mut self,
        conn: ConnId,
        user: &str,
        trid: TrId,
        list: List,
        gone: &str,
        own: &str,
        versions: &Versions,
    ) {
        let before = self.snapshot(user);
        if let Some(a) = self.account_mut(user) {
            a.list_mut(list).retain(|e| !handle::same(&e.handle, gone));
        }
        let version = self.version_after(own, versions);
        self.send(conn, ServerCommand::Rem { trid, list, version, handle: gone.to_owned() });
        if list != List::Forward {
            return self.notify(user, before);
        }
        let target = key(gone);
        if let Some(set) = self.watchers.get_mut(&target) {
            set.remove(user);
            if set.is_empty() {
                self.watchers.remove(&target);
            }
        }
        self.unwatch_remote(user, Some(&target));
        if let Some(version) = versions.of(gone) {
            let note = Note::ReverseRemoved { target: target.clone(), contact: own.to_owned(), version };
            self.tell_holder(&target, note);
            self.reverse_removed(gone, own, self.version_after(gone, versions));
        }
    }

    /// The store removed `contact` from `handle`'s RL, whose version is now `version`: its session (if
    /// any) follows and is told (`REM 0 RL`, §6.8).
    pub(crate) fn reverse_removed(&mut self, handle: &str, contact: &str, version: u32) {
        let Some(u) = self.users.get_mut(&key(handle)) else { return };
        u.account.list_mut(List::Reverse).retain(|e| !handle::same(&e.handle, contact));
        // Versions only grow (they wrap at 2^32): an older one arriving late changes nothing.
        if (version.wrapping_sub(u.account.version) as i32) > 0 {
            u.account.version = version;
        }
        let (conn, version) = (u.conn, u.account.version);
        let handle = contact.to_owned();
        self.send(conn, ServerCommand::Rem { trid: TrId::UNSOLICITED, list: List::Reverse, version, handle });
    }

    pub(crate) fn rea(&mut self, conn: ConnId, user: &str, trid: TrId, who: &str, new_name: &str) {
        if name::validate_encoded(new_name).is_err() {
            return self.error(conn, ErrorCode::InvalidFriendlyName, trid);
        }
        let own = &self.users[user].account;
        let own_handle = own.handle.clone();
        let new_name = new_name.to_owned();
        if handle::same(who, &own_handle) {
            let change = Change::SetName { account: own_handle.clone(), name: new_name.clone() };
            return self.write(conn, trid, vec![change], move |logic, versions| {
                let user = key(&own_handle);
                let before = logic.snapshot(&user);
                if let Some(a) = logic.account_mut(&user) {
                    a.name = new_name.clone();
                }
                let version = logic.version_after(&own_handle, versions);
                logic.send(conn, ServerCommand::Rea { trid, version, handle: own_handle, name: new_name });
                logic.notify(&user, before);
            });
        }
        let Some(stored) = List::ALL.iter().find_map(|l| own.find(*l, who)).map(|e| e.handle.clone()) else {
            return self.error(conn, ErrorCode::NotOnList, trid);
        };
        let change =
            Change::RenameEntry { account: own_handle.clone(), handle: stored.clone(), name: new_name.clone() };
        self.write(conn, trid, vec![change], move |logic, versions| {
            if let Some(a) = logic.account_mut(&key(&own_handle)) {
                for list in &mut a.lists {
                    list.iter_mut()
                        .filter(|e| handle::same(&e.handle, &stored))
                        .for_each(|e| e.name = new_name.clone());
                }
            }
            let version = logic.version_after(&own_handle, versions);
            logic.send(conn, ServerCommand::Rea { trid, version, handle: stored, name: new_name });
        });
    }
}

/// Adds `entry` to `list`, or replaces the entry with its handle (moving it last), as the store does.
fn put(list: &mut Vec<Entry>, entry: Entry) {
    list.retain(|e| !handle::same(&e.handle, &entry.handle));
    list.push(entry);
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
