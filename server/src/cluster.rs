//! One node of a cluster: what crosses nodes, seen from the logic (the farms of MSNP2.md §5.4).
//!
//! Sans-IO like the rest of the logic. Notes to another node leave as [`Output::Bus`] and notes from
//! others arrive through [`Logic::note`]; the sign-in registry (which node holds each user's session, under
//! a revision that orders sign-ins across the cluster) arrives through [`Logic::directory`]; other nodes'
//! heartbeats through [`Logic::peer_heard`]. [`crate::bus`] carries it all over NATS. Without a cluster
//! nothing here is used: every user is local.
//!
//! Privacy stays with the user's own node: a node tells others what each of their watchers may see of its
//! users (state and name, or nothing), never the lists behind it.

use std::collections::HashMap;
use std::time::Duration;

use msnp::ns::ServerCommand;
use msnp::{List, State, TrId};
use serde::{Deserialize, Serialize};

use crate::jobs::Done;
use crate::notification::{ConnId, JobId, Logic, Output, key};
use crate::presence::Seen;
use crate::store::Account;
use crate::switchboard::{Directory, Reach, Ring, Ringing};

/// A node's place in its cluster, each a command-line flag.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster (letters, digits, `-` and `_`).
    pub node: String,
    /// A node not heard from for this long is gone: its users go offline everywhere.
    pub node_timeout: Duration,
    /// The address clients reach this node's notification server at (dispatch nodes and draining nodes
    /// send clients there); empty: the address it listens on.
    pub public_ns: String,
    /// A dispatch node: it refers every sign-in to the live notification node with the fewest users.
    pub dispatch: bool,
}

impl ClusterConfig {
    pub fn new(node: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            node: node.into(),
            node_timeout: Duration::from_secs(5),
            public_ns: String::new(),
            dispatch: false,
        }
    }
}

/// What every node says of itself every second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node: String,
    /// Where it takes sign-ins; `None` for a dispatch node or one being drained.
    pub ns: Option<String>,
    /// Users signed in on it.
    pub users: usize,
}

/// Another node, as last heard.
#[derive(Debug)]
struct Peer {
    heard: Duration,
    ns: Option<String>,
    /// Its users by its last heartbeat, plus the sign-ins sent its way since.
    users: usize,
}

/// What the logic asks of the bus.
#[derive(Debug)]
pub enum BusCall {
    /// Deliver `note` to node `to`.
    Note { to: String, note: Note },
    /// Record in the registry that `user` signs in here; the revision comes back as [`Done::Registered`].
    Register { id: JobId, user: String },
    /// `user`'s session of revision `rev` has ended (unless a newer one replaced it).
    Unregister { user: String, rev: u64 },
}

/// What one node tells another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Note {
    /// What watchers on the receiving node now see of users on node `from`: changes (`NLN`/`FLN`), or
    /// with `trid` the answer to a [`Note::Watch`] (`ILN`).
    Presence { from: String, trid: Option<u32>, sights: Vec<Sight> },
    /// `watcher` (canonical handle) of node `from` asks what it may see of `contacts` (lowercased handles).
    Watch { from: String, watcher: String, trid: u32, contacts: Vec<String> },
    /// `target`'s RL gained `handle` under `name`; its list version is now `version` (`ADD 0 RL`).
    ReverseAdded { target: String, handle: String, name: String, version: u32 },
    /// `target`'s RL lost `contact`; its list version is now `version` (`REM 0 RL`).
    ReverseRemoved { target: String, contact: String, version: u32 },
    /// `user` has signed in on `node` under registry revision `rev` (as the registry says too).
    SignedIn { user: String, node: String, rev: u64 },
    /// Move every client to `to` (or to the live node with the fewest users) and take no more sign-ins:
    /// `XFR 0 NS` (MSNP2.md §5.4); sent by `msnp-server drain`.
    Drain { to: Option<String> },
    /// Ring `callee` into switchboard `session` at `address` on node `from`; answered with [`Note::Rang`].
    Ring {
        from: String,
        id: u64,
        callee: String,
        caller: String,
        caller_name: String,
        session: String,
        address: String,
        cookie: String,
    },
    /// The answer to ring `id`: the callee's canonical handle and name, or `None` (offline to the caller).
    Rang { id: u64, callee: Option<(String, String)> },
}

/// What `watcher` (lowercased) sees of `handle`, signed in under registry revision `rev`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sight {
    pub watcher: String,
    pub handle: String,
    pub rev: u64,
    /// State code and friendly name; `None`: offline to this watcher.
    pub seen: Option<(String, String)>,
}

/// A watcher of a local user signed in on another node.
#[derive(Debug)]
pub(crate) struct RemoteWatcher {
    key: String,
    handle: String,
    node: String,
    seen: Seen,
}

/// What a node keeps of the others.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) config: ClusterConfig,
    /// Where each user is signed in, by the registry: node and revision.
    directory: HashMap<String, (String, u64)>,
    /// The other nodes, as last heard.
    peers: HashMap<String, Peer>,
    /// For each local watcher, the contacts on other nodes it now sees online: node and revision.
    visible: HashMap<String, HashMap<String, (String, u64)>>,
    /// Where clients are being moved, once drained.
    pub(crate) drained_to: Option<String>,
}

impl Cluster {
    fn heard(&mut self, node: &str, now: Duration) {
        if node == self.config.node {
            return;
        }
        match self.peers.get_mut(node) {
            Some(peer) => peer.heard = now,
            None => {
                self.peers.insert(node.to_owned(), Peer { heard: now, ns: None, users: 0 });
            }
        }
    }

    pub(crate) fn new(config: ClusterConfig) -> Cluster {
        Cluster { config, directory: HashMap::new(), peers: HashMap::new(), visible: HashMap::new(), drained_to: None }
    }

    /// The live node taking sign-ins with the fewest users (by name among equals), counted as one more.
    pub(crate) fn least_loaded(&mut self) -> Option<String> {
        let (_, peer) = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.ns.is_some())
            .min_by(|(a, p), (b, q)| p.users.cmp(&q.users).then(a.cmp(b)))?;
        peer.users += 1;
        peer.ns.clone()
    }

    /// The node holding `user`'s session, if it is another node and alive.
    fn remote_node(&self, user: &str) -> Option<&str> {
        let (node, _) = self.directory.get(user)?;
        (node != &self.config.node && self.peers.contains_key(node)).then_some(node.as_str())
    }

    /// The newest registry revision known for `user`.
    fn revision(&self, user: &str) -> u64 {
        self.directory.get(user).map_or(0, |(_, rev)| *rev)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        self.peers.values().map(|p| p.heard + self.config.node_timeout).min()
    }
}

fn state_code(seen: &Seen) -> Option<(String, String)> {
    seen.as_ref().map(|(state, name)| (state.as_str().to_owned(), name.clone()))
}

fn parse_seen(seen: Option<(String, String)>) -> Seen {
    seen.and_then(|(state, name)| Some((state.parse::<State>().ok()?, name)))
}

impl Logic {
    /// This node's name, in a cluster.
    fn node(&self) -> Option<String> {
        self.cluster.as_ref().map(|c| c.config.node.clone())
    }

    /// The other node holding `user`'s session, if any (and alive).
    pub(crate) fn remote_node(&self, user: &str) -> Option<String> {
        if self.users.contains_key(user) {
            return None;
        }
        self.cluster.as_ref()?.remote_node(user).map(str::to_owned)
    }

    fn tell(&mut self, to: String, note: Note) {
        self.push(Output::Bus(BusCall::Note { to, note }));
    }

    /// Signs `account` in on `conn`: at once on a lone server; in a cluster once the registry has
    /// recorded it, so that of two sign-ins of one handle on two nodes the later one wins everywhere.
    pub(crate) fn admit(&mut self, conn: ConnId, trid: TrId, account: Account) {
        if self.cluster.is_none() {
            return self.signed_in(conn, trid, account, 0);
        }
        let user = key(&account.handle);
        let registered = user.clone();
        // Whoever holds the session now, as far as this node knows.
        let previous = self.cluster.as_ref().and_then(|c| c.directory.get(&user)).map(|(node, _)| node.clone());
        let id = self.pending(conn, move |logic, done, _| match done {
            Done::Registered(Ok(rev)) if logic.awaiting_auth(conn) => {
                if let Some(previous) = previous {
                    logic.tell_previous_holder(previous, &registered, rev);
                }
                logic.signed_in(conn, trid, account, rev);
                // A later sign-in elsewhere was recorded before this one's answer came back.
                if logic.cluster.as_ref().is_some_and(|c| c.revision(&registered) > rev) {
                    logic.replaced(conn);
                }
            }
            Done::Registered(Ok(_)) => {}
            Done::Registered(Err(err)) => {
                tracing::error!(%err, "cannot record a sign-in in the cluster's registry");
                logic.error(conn, msnp::ErrorCode::InternalServer, trid);
                logic.close(conn);
            }
            other => crate::notification::unexpected(&other),
        });
        self.push(Output::Bus(BusCall::Register { id, user }));
    }

    /// The registry changed: `user` is now signed in on `holder` (node, revision), or on no node (the
    /// revision of the removal). `fresh`: recorded within the node timeout, so its node is alive.
    pub fn directory(&mut self, user: &str, holder: Option<(String, u64)>, rev: u64, fresh: bool, now: Duration) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if cluster.revision(user) > rev {
            return;
        }
        match holder {
            Some((node, rev)) => {
                if fresh && node != cluster.config.node {
                    cluster.heard(&node, now);
                }
                cluster.directory.insert(user.to_owned(), (node, rev));
                // A later sign-in, here or elsewhere, replaces this node's session (§5.3).
                if let Some(u) = self.users.get(user)
                    && u.rev < rev
                {
                    let conn = u.conn;
                    self.replaced(conn);
                }
            }
            None => {
                cluster.directory.remove(user);
            }
        }
    }

    /// Tells the other node that held `user`'s session, if any, that revision `rev` replaces it: the
    /// registry's watch tells it too, this is quicker and survives a watch being re-opened.
    fn tell_previous_holder(&mut self, previous: String, user: &str, rev: u64) {
        let Some(node) = self.node() else { return };
        if previous != node {
            self.tell(previous, Note::SignedIn { user: user.to_owned(), node, rev });
        }
    }

    /// The session on `conn` was replaced by a later sign-in: `OUT OTH`.
    fn replaced(&mut self, conn: ConnId) {
        self.send(conn, ServerCommand::Out { reason: Some("OTH".into()) });
        self.close(conn);
    }

    /// Node `node` is alive.
    pub fn peer_heard(&mut self, node: &str, now: Duration) {
        if let Some(cluster) = self.cluster.as_mut() {
            cluster.heard(node, now);
        }
    }

    /// Another node's heartbeat.
    pub fn heartbeat(&mut self, beat: Heartbeat, now: Duration) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if beat.node != cluster.config.node {
            let peer = Peer { heard: now, ns: beat.ns, users: beat.users };
            cluster.peers.insert(beat.node, peer);
        }
    }

    /// What this node says of itself.
    pub fn own_heartbeat(&self) -> Option<Heartbeat> {
        let cluster = self.cluster.as_ref()?;
        let takes_sign_ins = !cluster.config.dispatch && cluster.drained_to.is_none();
        let ns = takes_sign_ins.then(|| cluster.config.public_ns.clone());
        Some(Heartbeat { node: cluster.config.node.clone(), ns, users: self.users.len() })
    }

    /// Where a dispatch node or a drained one sends a sign-in; `None` when this node takes it.
    pub(crate) fn referral(&mut self) -> Option<Result<String, ()>> {
        let cluster = self.cluster.as_mut()?;
        if let Some(to) = &cluster.drained_to {
            return Some(Ok(to.clone()));
        }
        cluster.config.dispatch.then(|| cluster.least_loaded().ok_or(()))
    }

    /// Moves every client elsewhere (`XFR 0 NS`) and refers sign-ins there from now on.
    fn drain(&mut self, to: Option<String>) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        let Some(to) = to.or_else(|| cluster.least_loaded()) else {
            return tracing::warn!("cannot drain: no other node takes sign-ins");
        };
        tracing::info!(to, "draining: clients move to another node");
        cluster.drained_to = Some(to.clone());
        let conns: Vec<ConnId> = self.users.values().map(|u| u.conn).collect();
        for conn in conns {
            self.send(conn, ServerCommand::XfrNs { trid: TrId::UNSOLICITED, address: to.clone() });
        }
    }

    /// Nodes not heard from in time are gone.
    pub(crate) fn cluster_timeouts(&mut self, now: Duration) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        let timeout = cluster.config.node_timeout;
        let lost: Vec<String> =
            cluster.peers.iter().filter(|(_, p)| p.heard + timeout <= now).map(|(n, _)| n.clone()).collect();
        for node in lost {
            self.node_lost(&node);
        }
    }

    /// A node went silent: its users are offline to everyone here, and leave the switchboards here.
    fn node_lost(&mut self, node: &str) {
        tracing::warn!(node, "node lost: its users go offline");
        let Some(cluster) = self.cluster.as_mut() else { return };
        cluster.peers.remove(node);
        let mut gone = Vec::new();
        for (watcher, contacts) in &mut cluster.visible {
            contacts.retain(|contact, (n, _)| {
                let keep = n != node;
                if !keep {
                    gone.push((watcher.clone(), contact.clone()));
                }
                keep
            });
        }
        for (watcher, contact) in gone {
            let Some(w) = self.users.get(&watcher) else { continue };
            let handle = w.account.find(List::Forward, &contact).map_or(contact, |e| e.handle.clone());
            self.send(w.conn, ServerCommand::Fln { handle });
        }
        self.sb.node_lost(node);
    }

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

    /// A note from another node.
    pub fn note(&mut self, note: Note, now: Duration) {
        match note {
            Note::Presence { from, trid, sights } => {
                self.peer_heard(&from, now);
                for sight in sights {
                    self.sight(&from, trid.map(TrId), sight);
                }
            }
            Note::Watch { from, watcher, trid, contacts } => self.watched(from, &watcher, trid, contacts),
            Note::ReverseAdded { target, handle, name, version } => {
                self.reverse_added(&target, msnp::ns::Entry { handle, name }, Some(version))
            }
            Note::ReverseRemoved { target, contact, version } => self.reverse_removed(&target, &contact, version),
            Note::Ring { from, id, callee, caller, caller_name, session, address, cookie } => {
                let ring = Ring { id, callee, caller, caller_name, session, address, cookie };
                let rung = self.ring_here(ring);
                self.tell(from, Note::Rang { id, callee: rung });
            }
            Note::Rang { id, callee } => self.sb.rang(id, callee),
            Note::Drain { to } => self.drain(to),
            Note::SignedIn { user, node, rev } => self.directory(&user, Some((node, rev)), rev, true, now),
        }
    }

    /// Delivers one sight to its watcher here, unless out of date or not watched.
    fn sight(&mut self, from: &str, trid: Option<TrId>, sight: Sight) {
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
    fn watched(&mut self, from: String, watcher: &str, trid: u32, contacts: Vec<String>) {
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

    /// Rings a callee signed in here: sends `RNG` if the caller may reach it.
    fn ring_here(&mut self, ring: Ring) -> Option<(String, String)> {
        self.seen(&ring.callee, &ring.caller)?;
        let u = self.users.get(&ring.callee)?;
        let (conn, identity) = (u.conn, (u.account.handle.clone(), u.account.name.clone()));
        let Ring { session, address, cookie, caller, caller_name, .. } = ring;
        self.send(conn, ServerCommand::Rng { session_id: session, address, cookie, caller, caller_name });
        Some(identity)
    }

    /// The cluster's part of [`Logic::poll_timeout`].
    pub(crate) fn cluster_poll_timeout(&self) -> Option<Duration> {
        self.cluster.as_ref()?.poll_timeout()
    }
}

/// What the switchboard asks of this node's notification server, and through it of the cluster.
impl Directory for Logic {
    fn name(&self, user: &str) -> Option<String> {
        self.users.get(user).map(|u| u.account.name.clone())
    }

    fn reach(&self, callee: &str, caller: &str) -> Reach {
        if self.users.contains_key(callee) {
            return if self.seen(callee, caller).is_some() { Reach::Here } else { Reach::No };
        }
        self.remote_node(callee).map_or(Reach::No, Reach::Elsewhere)
    }

    fn ring(&mut self, ring: Ring) -> Ringing {
        if self.users.contains_key(&ring.callee) {
            return self.ring_here(ring).map_or(Ringing::NotRung, |(handle, name)| Ringing::Rung(handle, name));
        }
        let (Some(node), Some(from)) = (self.remote_node(&ring.callee), self.node()) else { return Ringing::NotRung };
        let Ring { id, callee, caller, caller_name, session, address, cookie } = ring;
        self.tell(node.clone(), Note::Ring { from, id, callee, caller, caller_name, session, address, cookie });
        Ringing::Asked(node)
    }
}
