//! The switchboards the bridge may connect to: only addresses a notification server announced through
//! this bridge (`XFR … SB` or `RNG`), recently, and only for a connection presenting the cookie
//! announced with the address. Likewise the notification servers a configured one refers a browser to
//! (`XFR … NS`): only that browser, once, soon after. This is what keeps the bridge from being an open
//! proxy.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a cookie is presented on the switchboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Announced switchboard addresses and their cookies.
#[derive(Debug)]
pub struct Announcements {
    ttl: Duration,
    by_address: Mutex<HashMap<String, HashMap<String, Ticket>>>,
}

impl Announcements {
    pub fn new(ttl: Duration) -> Announcements {
        Announcements { ttl, by_address: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Ticket>>> {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that the notification server `from` sent `cookie` for `address`.
    pub fn announce(&self, address: &str, cookie: &str, entry: Entry, from: Announcer, now: Instant) {
        let mut map = self.lock();
        // Forget what has expired, so the table stays as small as the traffic.
        map.retain(|_, tickets| {
            tickets.retain(|_, t| t.expires > now);
            !tickets.is_empty()
        });
        let ticket = Ticket { entry, from, expires: now + self.ttl };
        map.entry(address.to_owned()).or_default().insert(cookie.to_owned(), ticket);
    }

    /// Whether `address` has any live announcement.
    pub fn known(&self, address: &str, now: Instant) -> bool {
        self.lock().get(address).is_some_and(|tickets| tickets.values().any(|t| t.expires > now))
    }

    /// Who announced `cookie` for `address`, if it is live and presented the right way; the ticket stays
    /// (it is used up by [`Announcements::redeem`] once the switchboard is reached).
    pub fn check(&self, address: &str, cookie: &str, entry: Entry, now: Instant) -> Option<Announcer> {
        let map = self.lock();
        let ticket = map.get(address)?.get(cookie)?;
        (ticket.entry == entry && ticket.expires > now).then_some(ticket.from)
    }

    /// Takes the ticket for `cookie` at `address` if it is live and presented the right way. Single use.
    pub fn redeem(&self, address: &str, cookie: &str, entry: Entry, now: Instant) -> bool {
        let mut map = self.lock();
        let Some(tickets) = map.get_mut(address) else { return false };
        let valid = tickets.get(cookie).is_some_and(|t| t.entry == entry && t.expires > now);
        if valid {
            tickets.remove(cookie);
        }
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_single_use_bound_and_expire() {
        let t0 = Instant::now();
        let a = Announcements::new(Duration::from_secs(60));
        let ns = Announcer { ip: "10.0.0.7".parse().unwrap(), proxy_protocol: false };
        a.announce("10.0.0.7:1864", "c1", Entry::Caller, ns, t0);
        assert!(a.known("10.0.0.7:1864", t0));
        assert!(!a.known("10.0.0.8:1864", t0));
        assert!(!a.redeem("10.0.0.7:1864", "c1", Entry::Callee, t0));
        assert!(!a.redeem("10.0.0.7:1864", "c2", Entry::Caller, t0));
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Caller, t0), Some(ns));
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Callee, t0), None);
        assert!(a.redeem("10.0.0.7:1864", "c1", Entry::Caller, t0));
        assert_eq!(a.check("10.0.0.7:1864", "c1", Entry::Caller, t0), None);
        assert!(!a.redeem("10.0.0.7:1864", "c1", Entry::Caller, t0));
        a.announce("10.0.0.7:1864", "c3", Entry::Callee, ns, t0);
        let later = t0 + Duration::from_secs(61);
        assert!(!a.known("10.0.0.7:1864", later));
        assert!(!a.redeem("10.0.0.7:1864", "c3", Entry::Callee, later));
    }
}
