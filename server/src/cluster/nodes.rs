//! The other nodes: heartbeats (alive, where they take sign-ins, how loaded), dispatch to the least
//! loaded, drains, and what a lost node's users leave behind.

use std::time::Duration;

use msnp::ns::ServerCommand;
use msnp::{List, TrId};

use super::{Heartbeat, Peer};
use crate::notification::{ConnId, Logic};

impl Logic {
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
    pub(super) fn drain(&mut self, to: Option<String>) {
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

    /// The cluster's part of [`Logic::poll_timeout`].
    pub(crate) fn cluster_poll_timeout(&self) -> Option<Duration> {
        self.cluster.as_ref()?.poll_timeout()
    }
}
