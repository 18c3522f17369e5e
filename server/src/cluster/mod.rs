//! One node of a cluster: what crosses nodes, seen from the logic (the farms of MSNP2.md §5.4).
//!
//! Sans-IO like the rest of the logic. Notes to another node leave as [`Output::Bus`] and notes from
//! others arrive through [`Logic::note`]; the sign-in registry (which node holds each user's session, under
//! a revision that orders sign-ins across the cluster) arrives through [`Logic::directory`]; other nodes'
//! heartbeats through [`Logic::peer_heard`]. [`crate::bus`] carries it all over NATS. Without a cluster
//! nothing here is used: every user is local.
//!
//! [`registry`]: sign-ins; [`presence`]: presence; [`nodes`]: the other nodes; the switchboard's
//! [`Directory`] is implemented here.
//!
//! Privacy stays with the user's own node: a node tells others what each of their watchers may see of its
//! users (state and name, or nothing), never the lists behind it.

use std::collections::HashMap;
use std::time::Duration;

use msnp::ns::ServerCommand;
use msnp::{State, TrId};
use serde::{Deserialize, Serialize};

mod nodes;
mod presence;
mod registry;

use crate::notification::{JobId, Logic, Output, key};
use crate::presence::Seen;
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
    /// When the timeouts were last looked at (each second): a longer gap means this node stood still.
    last_checked: Option<Duration>,
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
        Cluster {
            config,
            directory: HashMap::new(),
            peers: HashMap::new(),
            visible: HashMap::new(),
            drained_to: None,
            last_checked: None,
        }
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

    /// Rings a callee signed in here: sends `RNG` if the caller may reach it.
    fn ring_here(&mut self, ring: Ring) -> Option<(String, String)> {
        self.seen(&ring.callee, &ring.caller)?;
        if !self.may_ring(&ring.callee, &ring.caller) {
            return None;
        }
        let u = self.users.get(&ring.callee)?;
        let (conn, identity) = (u.conn, (u.account.handle.clone(), u.account.name.clone()));
        let Ring { session, address, cookie, caller, caller_name, .. } = ring;
        self.send(conn, ServerCommand::Rng { session_id: session, address, cookie, caller, caller_name });
        Some(identity)
    }

    /// Whether `caller` (a canonical handle) may ring `callee` (signed in here) by the guests' reach; a
    /// caller signed in on another node is not known here (guests are a lone server's).
    fn may_ring(&self, callee: &str, caller: &str) -> bool {
        let (Some(callee), Some(caller)) = (self.users.get(callee), self.users.get(&key(caller))) else { return true };
        self.config.guests_reach.allows(&caller.account, &callee.account)
    }
}

/// What the switchboard asks of this node's notification server, and through it of the cluster.
impl Directory for Logic {
    fn name(&self, user: &str) -> Option<String> {
        self.users.get(user).map(|u| u.account.name.clone())
    }

    fn reach(&self, callee: &str, caller: &str) -> Reach {
        if self.users.contains_key(callee) {
            let reached = self.seen(callee, caller).is_some() && self.may_ring(callee, caller);
            return if reached { Reach::Here } else { Reach::No };
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

#[cfg(test)]
mod tests {
    //! Two nodes without sockets, NATS or threads: the test carries their notes and plays the registry,
    //! answering registrations and delivering its entries in whatever order a race could.

    use std::sync::Arc;

    use msnp::{Frame, auth};

    use super::*;
    use crate::jobs::Done;
    use crate::metrics::Metrics;
    use crate::notification::ConnId;
    use crate::secret::Secret;
    use crate::store::{Account, Admin, SqliteStore};
    use crate::switchboard::SbConfig;

    struct Pair {
        nodes: [Logic; 2],
        store: SqliteStore,
        /// The registry's entries, in revision order (revision = index + 1): user and node.
        registry: Vec<(String, String)>,
        /// Registrations recorded but not yet answered: node, job and revision.
        unanswered: Vec<(usize, JobId, u64)>,
    }

    impl Pair {
        fn new() -> Pair {
            let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
            store.put_account(&Account::new("jd@hotmail.com", "JD"), "hunter2").unwrap();
            let node = |name: &str| {
                let logic = Logic::new(Default::default(), SbConfig::default(), Arc::new(Metrics::default())).unwrap();
                logic.with_cluster(Some(ClusterConfig::new(name)))
            };
            Pair { nodes: [node("a"), node("b")], store, registry: Vec::new(), unanswered: Vec::new() }
        }

        /// Runs what the nodes asked for (store jobs, notes), leaving registrations unanswered and the
        /// registry unwatched; returns the lines sent.
        fn run(&mut self) -> Vec<String> {
            let mut lines = Vec::new();
            let mut more = true;
            while more {
                more = false;
                for i in 0..2 {
                    while let Some(output) = self.nodes[i].poll_output() {
                        more = true;
                        match output {
                            Output::Send(conn, frame) => lines.push(format!("{i}/{conn}: {}", frame.line())),
                            Output::Close(conn) => lines.push(format!("{i}/{conn}: <close>")),
                            Output::Job(id, job) => {
                                let done = job.run(&mut self.store);
                                self.nodes[i].job_done(id, done, Duration::ZERO);
                            }
                            Output::Bus(BusCall::Register { id, user }) => {
                                self.registry.push((user, ["a", "b"][i].to_owned()));
                                self.unanswered.push((i, id, self.registry.len() as u64));
                            }
                            Output::Bus(BusCall::Note { to, note }) => {
                                self.nodes[usize::from(to == "b")].note(note, Duration::ZERO)
                            }
                            Output::Bus(BusCall::Unregister { .. }) | Output::Resume(_) => {}
                        }
                    }
                }
            }
            lines
        }

        /// Answers node `i`'s registration.
        fn answer(&mut self, i: usize) {
            let k = self.unanswered.iter().position(|(n, ..)| *n == i).unwrap();
            let (_, id, rev) = self.unanswered.remove(k);
            self.nodes[i].job_done(id, Done::Registered(Ok(rev)), Duration::ZERO);
        }

        /// Delivers registry revision `rev` to node `i`'s watch.
        fn watch(&mut self, i: usize, rev: u64) {
            let (user, node) = self.registry[rev as usize - 1].clone();
            self.nodes[i].directory(&user, Some((node, rev)), rev, true, Duration::ZERO);
        }

        /// jd signs in on node `i`, connection `conn`, up to the registration.
        fn sign_in(&mut self, i: usize, conn: ConnId) {
            let node = &mut self.nodes[i];
            node.connect(conn, None, Duration::ZERO);
            node.receive(conn, &Frame::command("VER 1 MSNP2"), Duration::ZERO);
            node.receive(conn, &Frame::command("USR 2 MD5 I jd@hotmail.com"), Duration::ZERO);
            let challenge = self.run().pop().unwrap();
            let response = auth::md5_response(challenge.rsplit(' ').next().unwrap(), "hunter2");
            self.nodes[i].receive(conn, &Frame::command(format!("USR 3 MD5 S {response}")), Duration::ZERO);
            assert_eq!(self.run(), Vec::<String>::new());
        }
    }

    const OK: &str = "USR 3 OK jd@hotmail.com JD";

    #[test]
    fn of_two_sign_ins_at_once_the_later_survives_whatever_order_the_watches_see() {
        for order in [[1, 2], [2, 1]] {
            let mut pair = Pair::new();
            pair.sign_in(0, 1);
            pair.sign_in(1, 2);
            pair.answer(0);
            pair.answer(1);
            assert_eq!(pair.run(), [format!("0/1: {OK}"), format!("1/2: {OK}")]);
            for rev in order {
                pair.watch(0, rev);
                pair.watch(1, rev);
            }
            assert_eq!(pair.run(), ["0/1: OUT OTH", "0/1: <close>"], "order {order:?}");
            assert_eq!((pair.nodes[0].online(), pair.nodes[1].online()), (0, 1));
        }
    }

    #[test]
    fn a_registration_answered_after_a_later_one_was_watched_ends_at_once() {
        let mut pair = Pair::new();
        pair.sign_in(0, 1);
        pair.sign_in(1, 2);
        pair.answer(1);
        pair.watch(0, 2);
        pair.answer(0);
        assert_eq!(
            pair.run(),
            [format!("0/1: {OK}"), "0/1: OUT OTH".into(), "0/1: <close>".into(), format!("1/2: {OK}")]
        );
        pair.watch(1, 1);
        assert_eq!(pair.run(), Vec::<String>::new());
    }

    #[test]
    fn a_sign_in_elsewhere_tells_the_previous_holder_before_its_watch_does() {
        let mut pair = Pair::new();
        pair.sign_in(0, 1);
        pair.answer(0);
        pair.watch(0, 1);
        pair.watch(1, 1);
        assert_eq!(pair.run(), [format!("0/1: {OK}")]);
        // Node b knows node a holds jd: its confirmed sign-in tells a, whose watch has seen nothing yet.
        pair.sign_in(1, 2);
        pair.answer(1);
        assert_eq!(pair.run(), [format!("1/2: {OK}"), "0/1: OUT OTH".into(), "0/1: <close>".into()]);
    }
}
