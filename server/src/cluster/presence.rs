//! Presence across nodes: the watched user's node decides what each watcher may see and tells the
//! watcher's node; a watcher's node keeps which of its contacts elsewhere it sees online.

use std::collections::HashMap;

use msnp::ns::ServerCommand;
use msnp::{List, TrId};

use super::{Note, RemoteWatcher, Sight, parse_seen, state_code};
use crate::notification::{Logic, key};

impl Logic {
    /// The watchers of local `user` signed in on other nodes (its RL), with what each sees now.
    pub(crate) fn remote_watchers(&self, user: &str) -> Vec<RemoteWatcher> {
        let (Some(cluster), Some(u)) = (&self.cluster, self.users.get(user)) else { return Vec::new() };
        u.account
            .list(List::Reverse)
            .iter()
            .filter_map(|e| {
                let watcher = key(&e.handle);
                let node = cluster.remote_node(&watcher).filter(|_| !self.users.contains_key(&watcher))?;
                let seen = self.seen(user, &e.handle);
                Some(RemoteWatcher { key: watcher, handle: e.handle.clone(), node: node.to_owned(), seen })
            })
            .collect()
    }

    /// Tells the other nodes' watchers of `user` (as `handle`, session `rev`) what changed for them.
    pub(crate) fn notify_remote(&mut self, user: &str, handle: &str, rev: u64, before: Vec<RemoteWatcher>) {
        let mut by_node: HashMap<String, Vec<Sight>> = HashMap::new();
        for w in before {
            let now = self.seen(user, &w.handle);
            if now != w.seen {
                let sight = Sight { watcher: w.key, handle: handle.to_owned(), rev, seen: state_code(&now) };
                by_node.entry(w.node).or_default().push(sight);
            }
        }
        let Some(from) = self.node() else { return };
        for (to, sights) in by_node {
            self.tell(to, Note::Presence { from: from.clone(), trid: None, sights });
        }
    }

    /// `user` has just come online (first `CHG`) or added `contacts`: asks the nodes holding them what it sees.
    pub(crate) fn watch_remote(&mut self, user: &str, trid: TrId, contacts: Vec<String>) {
        let (Some(from), Some(u)) = (self.node(), self.users.get(user)) else { return };
        let watcher = u.account.handle.clone();
        let mut by_node: HashMap<String, Vec<String>> = HashMap::new();
        for contact in contacts {
            if let Some(node) = self.remote_node(&contact) {
                by_node.entry(node).or_default().push(contact);
            }
        }
        for (to, contacts) in by_node {
            let note = Note::Watch { from: from.clone(), watcher: watcher.clone(), trid: trid.0, contacts };
            self.tell(to, note);
        }
    }

    /// A local user signed in: what watchers here knew of it on another node is out of date.
    pub(crate) fn forget_remote(&mut self, user: &str) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if let Some(watchers) = self.watchers.get(user) {
            for w in watchers {
                if let Some(contacts) = cluster.visible.get_mut(w) {
                    contacts.remove(user);
                }
            }
        }
    }

    /// Local `watcher` signed off, or no longer watches `contact` (all contacts if `None`).
    pub(crate) fn unwatch_remote(&mut self, watcher: &str, contact: Option<&str>) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        match contact {
            None => {
                cluster.visible.remove(watcher);
            }
            Some(contact) => {
                if let Some(contacts) = cluster.visible.get_mut(watcher) {
                    contacts.remove(contact);
                }
            }
        }
    }

    /// Delivers one sight to its watcher here, unless out of date or not watched.
    pub(super) fn sight(&mut self, from: &str, trid: Option<TrId>, sight: Sight) {
        let contact = key(&sight.handle);
        let Some(w) = self.users.get(&sight.watcher) else { return };
        if w.state.is_none() || !w.account.on(List::Forward, &sight.handle) || self.users.contains_key(&contact) {
            return;
        }
        let conn = w.conn;
        let Some(cluster) = self.cluster.as_mut() else { return };
        let contacts = cluster.visible.entry(sight.watcher.clone()).or_default();
        if contacts.get(&contact).is_some_and(|(_, rev)| *rev > sight.rev) {
            return;
        }
        let handle = sight.handle;
        match (parse_seen(sight.seen), trid) {
            (Some((state, name)), trid) => {
                contacts.insert(contact, (from.to_owned(), sight.rev));
                match trid {
                    Some(trid) => self.send(conn, ServerCommand::Iln { trid, state, handle, name }),
                    None => self.send(conn, ServerCommand::Nln { state, handle, name }),
                }
            }
            (None, _) => {
                if contacts.remove(&contact).is_some() {
                    self.send(conn, ServerCommand::Fln { handle });
                }
            }
        }
        if self.cluster.as_ref().is_some_and(|c| c.visible.get(&sight.watcher).is_some_and(HashMap::is_empty)) {
            self.unwatch_remote(&sight.watcher, None);
        }
    }

    /// Another node's `watcher` asks what it sees of `contacts` signed in here.
    pub(super) fn watched(&mut self, from: String, watcher: &str, trid: u32, contacts: Vec<String>) {
        let sights: Vec<Sight> = contacts
            .iter()
            .filter_map(|c| {
                let u = self.users.get(c)?;
                let seen = state_code(&self.seen(c, watcher));
                seen.as_ref()?;
                Some(Sight { watcher: key(watcher), handle: u.account.handle.clone(), rev: u.rev, seen })
            })
            .collect();
        if let (false, Some(node)) = (sights.is_empty(), self.node()) {
            self.tell(from, Note::Presence { from: node, trid: Some(trid), sights });
        }
    }

    /// Sends `note` about a change to `target`'s lists to the node holding it, if another.
    pub(crate) fn tell_holder(&mut self, target: &str, note: Note) {
        if let Some(node) = self.remote_node(target) {
            self.tell(node, note);
        }
    }
}
