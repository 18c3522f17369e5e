//! The switchboards the bridge may connect to: only addresses a notification server announced through
//! this bridge (`XFR … SB` or `RNG`), recently, and only for a connection presenting the cookie
//! announced with the address. Likewise the notification servers a configured one refers a browser to
//! (`XFR … NS`): only that browser, once, soon after. This is what keeps the bridge from being an open
//! proxy.
//!
//! Bridges behind one load balancer share their tickets through a NATS key-value bucket whose entries
//! expire with the announcement TTL ([`Announcements::shared`]): the page's switchboard connection may
//! land on another instance than its notification-server connection. Using a ticket deletes it at the
//! revision read, which succeeds for one bridge only: still once per cookie. A bucket rather than
//! tickets signed with a shared key, because a signature cannot be used up.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use msnp_server::bus::hex;
use serde::{Deserialize, Serialize};

/// The bucket bridges share tickets in.
const BUCKET: &str = "msnp_bridge_tickets";

/// How a cookie is presented on the switchboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// From `XFR … SB`: the first command must be `USR`.
    Caller,
    /// From `RNG`: the first command must be `ANS`.
    Callee,
    /// From `XFR … NS`: a notification server, for the browser it was sent to (its address is the key).
    Referral,
}

/// The notification server that announced a switchboard: where the bridge reached it, and whether
/// connections to it start with a PROXY header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcer {
    pub ip: IpAddr,
    pub proxy_protocol: bool,
}

#[derive(Debug)]
struct Ticket {
    entry: Entry,
    from: Announcer,
    expires: Instant,
}

/// A ticket as bridges share it.
#[derive(Debug, Serialize, Deserialize)]
struct SharedTicket {
    entry: Entry,
    from: Announcer,
}

/// The tickets this bridge holds, by address and cookie, and in the order they expire (all live the same
/// time, so that is the order they came): what has expired is dropped from the front, never by a scan.
#[derive(Debug, Default)]
struct Tickets {
    by_address: HashMap<String, HashMap<String, Ticket>>,
    expiry: VecDeque<(Instant, String, String)>,
}

impl Tickets {
    fn expire(&mut self, now: Instant) {
        while let Some((at, address, cookie)) = self.expiry.pop_front_if(|(at, _, _)| *at <= now) {
            let Some(tickets) = self.by_address.get_mut(&address) else { continue };
            // A ticket announced again since has a later time: it stays.
            if tickets.get(&cookie).is_some_and(|t| t.expires == at) {
                tickets.remove(&cookie);
            }
            if tickets.is_empty() {
                self.by_address.remove(&address);
            }
        }
    }
}

/// Announced switchboard addresses and their cookies.
pub struct Announcements {
    ttl: Duration,
    tickets: Mutex<Tickets>,
    /// The bucket shared with other bridges, if any.
    shared: Option<kv::Store>,
}

impl std::fmt::Debug for Announcements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcements").field("ttl", &self.ttl).field("shared", &self.shared.is_some()).finish()
    }
}

/// The shared bucket's keys: one per ticket, and one per address with any ticket.
fn ticket_key(address: &str, cookie: &str) -> String {
    format!("t.{}.{}", hex(address), hex(cookie))
}

fn address_key(address: &str) -> String {
    format!("a.{}", hex(address))
}

impl Announcements {
    pub fn new(ttl: Duration) -> Announcements {
        Announcements { ttl, tickets: Mutex::new(Tickets::default()), shared: None }
    }

    /// Tickets shared with every bridge using the NATS servers of `url` (kept on `replicas` of them).
    pub async fn shared(
        ttl: Duration,
        url: &str,
        replicas: usize,
    ) -> Result<Announcements, msnp_server::bus::BusError> {
        let client = msnp_server::bus::connect(url).await?;
        let bucket = msnp_server::bus::open_bucket(&client, BUCKET, replicas, ttl).await?;
        Ok(Announcements { shared: Some(bucket), ..Announcements::new(ttl) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that the notification server `from` sent `cookie` for `address` (in the shared bucket
    /// too, before the browser can present it elsewhere).
    pub async fn announce(&self, address: &str, cookie: &str, entry: Entry, from: Announcer, now: Instant) {
        self.remember(address, cookie, entry, from, now);
        let Some(bucket) = &self.shared else { return };
        let ticket = serde_json::to_vec(&SharedTicket { entry, from }).unwrap_or_default();
        let put = async {
            bucket.put(ticket_key(address, cookie), ticket.into()).await?;
            bucket.put(address_key(address), Vec::new().into()).await
        };
        if let Err(e) = put.await {
            tracing::warn!(error = %e, "cannot share an announcement with the other bridges");
        }
    }

    fn remember(&self, address: &str, cookie: &str, entry: Entry, from: Announcer, now: Instant) {
        let mut tickets = self.lock();
        // Forget what has expired, so the table stays as small as the traffic.
        tickets.expire(now);
        let expires = now + self.ttl;
        tickets
            .by_address
            .entry(address.to_owned())
            .or_default()
            .insert(cookie.to_owned(), Ticket { entry, from, expires });
        tickets.expiry.push_back((expires, address.to_owned(), cookie.to_owned()));
    }

    /// Whether `address` has any live announcement.
    pub async fn known(&self, address: &str, now: Instant) -> bool {
        let here = self.lock().by_address.get(address).is_some_and(|tickets| tickets.values().any(|t| t.expires > now));
        match &self.shared {
            Some(bucket) if !here => matches!(bucket.get(address_key(address)).await, Ok(Some(_))),
            _ => here,
        }
    }

    /// Who announced `cookie` for `address`, if it is live and presented the right way; the ticket stays
    /// (it is used up by [`Announcements::redeem`] once the switchboard is reached).
    pub async fn check(&self, address: &str, cookie: &str, entry: Entry, now: Instant) -> Option<Announcer> {
        let here = {
            let tickets = self.lock();
            let ticket = tickets.by_address.get(address).and_then(|t| t.get(cookie));
            ticket.filter(|t| t.entry == entry && t.expires > now).map(|t| t.from)
        };
        match &self.shared {
            Some(bucket) if here.is_none() => {
                let found = shared_ticket(bucket, &ticket_key(address, cookie)).await?;
                (found.1.entry == entry).then_some(found.1.from)
            }
            _ => here,
        }
    }

    /// Takes the ticket for `cookie` at `address` if it is live and presented the right way. Single use,
    /// across every bridge sharing the bucket.
    pub async fn redeem(&self, address: &str, cookie: &str, entry: Entry, now: Instant) -> bool {
        let here = {
            let mut all = self.lock();
            let tickets = all.by_address.get_mut(address);
            let valid =
                tickets.as_ref().is_some_and(|t| t.get(cookie).is_some_and(|t| t.entry == entry && t.expires > now));
            if valid && let Some(tickets) = tickets {
                tickets.remove(cookie);
            }
            valid
        };
        let Some(bucket) = &self.shared else { return here };
        // The bucket decides: deleting at the revision read succeeds for one bridge only.
        let key = ticket_key(address, cookie);
        match shared_ticket(bucket, &key).await {
            Some((revision, ticket)) if ticket.entry == entry => {
                bucket.delete_expect_revision(&key, Some(revision)).await.is_ok()
            }
            _ => false,
        }
    }
}

/// A live ticket in the shared bucket, and its revision.
async fn shared_ticket(bucket: &kv::Store, key: &str) -> Option<(u64, SharedTicket)> {
    let entry = bucket.entry(key).await.ok()??;
    if entry.operation != kv::Operation::Put {
        return None;
    }
    Some((entry.revision, serde_json::from_slice(&entry.value).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tickets_are_single_use_bound_and_expire() {
        let t0 = Instant::now();
        let a = Announcements::new(Duration::from_secs(60));
        let ns = Announcer { ip: "10.0.0.7".parse().unwrap(), proxy_protocol: false };
        a.announce("10.0.0.7:1864", "c1", Entry::Caller, ns, t0).await;
        assert!(a.known("10.0.0.7:1864", t0).await);
        assert!(!a.known("10.0.0.8:1864", t0).await);
        assert!(!a.redeem("10.0.0.7:1864", "c1", Entry::Callee, t0).await);
        assert!(!a.redeem("10.0.0.7:1864", "c2", Entry::Caller, t0).await);
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Caller, t0).await, Some(ns));
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Callee, t0).await, None);
        assert!(a.redeem("10.0.0.7:1864", "c1", Entry::Caller, t0).await);
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Caller, t0).await, None);
        assert!(!a.redeem("10.0.0.7:1864", "c1", Entry::Caller, t0).await);
        a.announce("10.0.0.7:1864", "c3", Entry::Callee, ns, t0).await;
        let later = t0 + Duration::from_secs(61);
        assert!(!a.known("10.0.0.7:1864", later).await);
        assert!(!a.redeem("10.0.0.7:1864", "c3", Entry::Callee, later).await);
    }

    #[tokio::test]
    async fn expired_tickets_leave_the_table_as_new_ones_come() {
        let t0 = Instant::now();
        let a = Announcements::new(Duration::from_secs(60));
        let ns = Announcer { ip: "10.0.0.7".parse().unwrap(), proxy_protocol: false };
        for n in 0..100 {
            a.announce(&format!("10.0.0.7:{}", 2000 + n), "c", Entry::Callee, ns, t0).await;
        }
        // Announced again later: the first one's expiry must not take the second.
        a.announce("10.0.0.7:2000", "c", Entry::Callee, ns, t0 + Duration::from_secs(30)).await;
        a.announce("10.0.0.8:1864", "d", Entry::Callee, ns, t0 + Duration::from_secs(61)).await;
        let tickets = a.lock();
        assert_eq!(tickets.by_address.len(), 2, "the hundred expired ones are gone but the renewed one");
        assert_eq!(tickets.expiry.len(), 2);
    }
}
