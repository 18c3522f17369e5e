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

    /// Whether a sign-in here can be served: anywhere but on a dispatch node that has heard of no node
    /// taking sign-ins yet (it would answer `601`).
    pub fn can_serve_sign_ins(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| !c.config.dispatch || c.peers.values().any(|p| p.ns.is_some()))
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

    /// Nodes not heard from in time are gone. A node that itself stood still that long (paused, starved)
    /// has been declared gone by the others and has missed what they said: it ends its sessions instead
    /// (`OUT SSD`), so that its clients sign in again and everyone's view is whole.
    pub(crate) fn cluster_timeouts(&mut self, now: Duration) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        let timeout = cluster.config.node_timeout;
        if cluster.last_checked.replace(now).is_some_and(|at| now.saturating_sub(at) >= timeout) {
            // The others were silent only to this node, which was not listening: they are not gone.
            cluster.peers.values_mut().for_each(|peer| peer.heard = now);
            return self.end_sessions_after_a_stall();
        }
        let lost: Vec<String> =
            cluster.peers.iter().filter(|(_, p)| p.heard + timeout <= now).map(|(n, _)| n.clone()).collect();
        for node in lost {
            self.node_lost(&node);
        }
    }

    fn end_sessions_after_a_stall(&mut self) {
        tracing::warn!("this node stood still past the node timeout: its sessions end, to be signed in again");
        let conns: Vec<ConnId> = self.users.values().map(|u| u.conn).collect();
        for conn in conns {
            self.send(conn, ServerCommand::Out { reason: Some("SSD".into()) });
            self.close(conn);
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
