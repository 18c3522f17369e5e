//! Presence (MSNP2.md §7): CHG, who sees whom, and telling watchers what changed.

use msnp::ns::ServerCommand;
use msnp::{Blp, ErrorCode, List, State, TrId};

use crate::cluster::{BusCall, RemoteWatcher};
use crate::notification::{ConnId, Logic, Output, User, key};

/// What watcher W can see of user U: state and friendly name, or nothing (offline to W).
pub(crate) type Seen = Option<(State, String)>;

/// What each watcher of a user saw before a change: those signed in here, and (in a cluster) those
/// signed in on other nodes.
#[derive(Debug, Default)]
pub(crate) struct Before {
    local: Vec<(String, Seen)>,
    remote: Vec<RemoteWatcher>,
}

impl Logic {
    pub(crate) fn chg(&mut self, conn: ConnId, user: &str, trid: TrId, state: State) {
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
            let mut elsewhere = Vec::new();
            for contact in contacts {
                if let Some((state, name)) = self.seen(&contact, &own) {
                    let handle = self.users[&contact].account.handle.clone();
                    self.send(conn, ServerCommand::Iln { trid, state, handle, name });
                } else if !self.users.contains_key(&contact) {
                    elsewhere.push(contact);
                }
            }
            // Contacts on other nodes answer with ILN when they can.
            self.watch_remote(user, trid, elsewhere);
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
    pub(crate) fn snapshot(&self, user: &str) -> Before {
        let remote = self.remote_watchers(user);
        let Some(watchers) = self.watchers.get(user) else {
            return Before { local: Vec::new(), remote };
        };
        let local = watchers
            .iter()
            .filter_map(|w| self.users.get(w).filter(|wu| wu.state.is_some()).map(|wu| (w, &wu.account.handle)))
            .map(|(w, handle)| (w.clone(), self.seen(user, handle)))
            .collect();
        Before { local, remote }
    }

    /// Sends each watcher in `before` what changed in what they see of `user` (§7.3's table).
    pub(crate) fn notify(&mut self, user: &str, before: Before) {
        let (handle, rev) = match self.users.get(user) {
            Some(u) => (u.account.handle.clone(), u.rev),
            None => return,
        };
        self.notify_as(user, &handle, rev, before);
    }

    fn notify_as(&mut self, user: &str, handle: &str, rev: u64, before: Before) {
        self.notify_remote(user, handle, rev, before.remote);
        for (w, old) in before.local {
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
    pub(crate) fn sign_off(&mut self, user: &str, conn: ConnId) {
        if self.users.get(user).is_none_or(|u| u.conn != conn) {
            return;
        }
        let before = self.snapshot(user);
        let User { account, rev, .. } = *self.users.remove(user).expect("checked");
        for entry in account.list(List::Forward) {
            if let Some(set) = self.watchers.get_mut(&key(&entry.handle)) {
                set.remove(user);
                if set.is_empty() {
                    self.watchers.remove(&key(&entry.handle));
                }
            }
        }
        self.notify_as(user, &account.handle, rev, before);
        self.unwatch_remote(user, None);
        if self.cluster.is_some() {
            self.push(Output::Bus(BusCall::Unregister { user: user.to_owned(), rev }));
        }
        tracing::info!(user = %account.handle, "signed off");
    }
}
