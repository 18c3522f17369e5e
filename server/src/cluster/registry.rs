//! Sign-ins across the cluster: recorded in the registry before they are confirmed, and ended (`OUT OTH`)
//! when a later one of the same handle is recorded anywhere.

use std::time::Duration;

use msnp::TrId;
use msnp::ns::ServerCommand;

use super::{BusCall, Note};
use crate::jobs::Done;
use crate::notification::{ConnId, Logic, Output, key};
use crate::store::Account;

impl Logic {
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
}
