//! "Make me a temporary account": guest accounts on the embedded server, limited per client address and
//! in total, removed when they expire (`msnp_server::guests`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use msnp::ns::Entry;
use msnp_server::guests::Guest;
use msnp_server::store::{Admin, SqliteStore};
use serde::Serialize;

use crate::config::{GuestPolicy, GuestsReach};

/// How often expired guests are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Guest accounts: where they are made, with which contacts, and who made how many lately.
#[derive(Debug)]
pub struct Guests {
    pub policy: GuestPolicy,
    store: Arc<Mutex<SqliteStore>>,
    contacts: Vec<Entry>,
    made: Mutex<Recent>,
}

/// The accounts made in the last hour: when, per client (IPv6: per /64), and in time order, so that what
/// has expired is dropped from the front without looking at the rest. Only made accounts are recorded.
#[derive(Debug, Default)]
struct Recent {
    per_client: HashMap<IpAddr, VecDeque<Instant>>,
    in_order: VecDeque<(Instant, IpAddr)>,
}

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// Whom a quota is for: an IPv4 address, or an IPv6 address's /64 (one subscriber's usual share).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
    }
}

/// Why no account is made now, and how long until one may be.
#[derive(Debug, PartialEq, Eq)]
enum Wait {
    /// This client has had its share this hour.
    Client(Duration),
    /// Everyone together has had theirs this minute.
    Everyone(Duration),
}

impl Recent {
    /// Forgets accounts made an hour or more before `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, client)) = self.in_order.front().filter(|(at, _)| now.duration_since(*at) >= HOUR) {
            self.in_order.pop_front();
            if let Some(times) = self.per_client.get_mut(&client) {
                times.retain(|t| *t != at);
                if times.is_empty() {
                    self.per_client.remove(&client);
                }
            }
        }
    }

    /// Counts an account for `client` at `now`, if it may have one under `policy`.
    fn reserve(&mut self, client: IpAddr, policy: &GuestPolicy, now: Instant) -> Result<(), Wait> {
        self.check(client, policy, now)?;
        let key = client_key(client);
        self.per_client.entry(key).or_default().push_back(now);
        self.in_order.push_back((now, key));
        Ok(())
    }

    /// Forgets the account counted for `client` at `at`: none was made.
    fn cancel(&mut self, client: IpAddr, at: Instant) {
        let key = client_key(client);
        if let Some(i) = self.in_order.iter().rposition(|entry| *entry == (at, key)) {
            self.in_order.remove(i);
        }
        if let Some(times) = self.per_client.get_mut(&key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                self.per_client.remove(&key);
            }
        }
    }

    /// Whether `client` may have an account now under `policy`.
    fn check(&mut self, client: IpAddr, policy: &GuestPolicy, now: Instant) -> Result<(), Wait> {
        self.expire(now);
        if let Some(times) = self.per_client.get(&client_key(client))
            && times.len() >= policy.per_address_per_hour as usize
        {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(Wait::Client(HOUR.saturating_sub(now.duration_since(oldest))));
        }
        let last_minute: Vec<Instant> =
            self.in_order.iter().rev().map(|(at, _)| *at).take_while(|at| now.duration_since(*at) < MINUTE).collect();
        if last_minute.len() >= policy.per_minute as usize {
            let oldest = last_minute.last().copied().unwrap_or(now);
            return Err(Wait::Everyone(MINUTE.saturating_sub(now.duration_since(oldest))));
        }
        Ok(())
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Guests {
    /// Guests in `store`, with `contacts` (the robots); starts removing expired ones every minute.
    pub fn start(policy: GuestPolicy, store: SqliteStore, contacts: Vec<Entry>) -> Arc<Guests> {
        let guests = Arc::new(Guests { policy, store: Arc::new(Mutex::new(store)), contacts, made: Mutex::default() });
        let store = Arc::downgrade(&guests.store);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                let Some(store) = store.upgrade() else { return };
                let swept = tokio::task::spawn_blocking(move || {
                    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
                    msnp_server::guests::remove_expired(&mut *store, unix_now())
                })
                .await;
                match swept {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(removed = n, "expired guest accounts removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot remove expired guest accounts"),
                    Err(e) => tracing::warn!(error = %e, "guest sweep failed"),
                }
            }
        });
        guests
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What `GET /guest` tells the page.
#[derive(Debug, Serialize)]
pub struct Offer {
    hours: u64,
    /// Whether guests may add and ring anyone, not only the robots, other guests and who allowed them.
    everyone: bool,
}

/// Why no account was made.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client's share, or everyone's, is used up for now: what to tell the person, and how long to wait.
    Later { why: String, wait: Duration },
    /// As many guests as allowed exist.
    AllTaken,
    /// The database failed (logged).
    Failed,
}

impl Guests {
    /// What the page is told of guest accounts.
    pub fn offer(&self) -> Offer {
        let everyone = self.policy.reach == GuestsReach::Everyone;
        Offer { hours: self.policy.ttl.as_secs().div_ceil(3600), everyone }
    }

    /// A new guest account for `client`, if its share and everyone's allow.
    pub async fn make(self: &Arc<Self>, client: IpAddr) -> Result<Guest, Refused> {
        // Counted now (requests at the same moment cannot all pass), forgotten again if none is made.
        let now = Instant::now();
        self.made().reserve(client, &self.policy, now).map_err(|wait| later(&self.policy, &wait))?;
        let maker = Arc::clone(self);
        let made = tokio::task::spawn_blocking(move || {
            let mut store = maker.store.lock().unwrap_or_else(|e| e.into_inner());
            if store.guest_count()? >= maker.policy.max {
                return Ok(None);
            }
            msnp_server::guests::create(&mut *store, &maker.contacts, maker.policy.ttl, unix_now()).map(Some)
        })
        .await;
        if !matches!(made, Ok(Ok(Some(_)))) {
            self.made().cancel(client, now);
        }
        match made {
            Ok(Ok(Some(guest))) => Ok(guest),
            Ok(Ok(None)) => Err(Refused::AllTaken),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot create a guest account");
                Err(Refused::Failed)
            }
            Err(e) => {
                tracing::warn!(error = %e, "guest account task failed");
                Err(Refused::Failed)
            }
        }
    }
}

/// What to tell a person who must wait: this client's share is used up for the hour, or everyone's for the
/// minute.
fn later(policy: &GuestPolicy, wait: &Wait) -> Refused {
    match *wait {
        Wait::Client(wait) => {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            let per_hour = policy.per_address_per_hour;
            let plural = if minutes == 1 { "" } else { "s" };
            let why = format!(
                "Only {per_hour} temporary accounts per hour from one address; try again in {minutes} minute{plural}."
            );
            Refused::Later { why, wait }
        }
        Wait::Everyone(wait) => {
            let seconds = wait.as_secs().max(1);
            let why = format!("Many temporary accounts are being made right now; try again in {seconds} seconds.");
            Refused::Later { why, wait }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_share_per_hour_a_v6_one_per_64_and_everyone_theirs_per_minute() {
        let policy = GuestPolicy { per_address_per_hour: 2, per_minute: 4, ..GuestPolicy::default() };
        let mut made = Recent::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t = Instant::now();
        for _ in 0..2 {
            assert!(made.reserve(a, &policy, t).is_ok());
        }
        let hour_less_a_second = t + HOUR - Duration::from_secs(1);
        assert_eq!(made.check(a, &policy, hour_less_a_second), Err(Wait::Client(Duration::from_secs(1))));
        // Two addresses of one /64 are one client.
        let (v6, same_64): (IpAddr, IpAddr) = ("2001:db8::1".parse().unwrap(), "2001:db8::ffff:1".parse().unwrap());
        made.reserve(v6, &policy, t).unwrap();
        made.reserve(v6, &policy, t).unwrap();
        assert!(matches!(made.check(same_64, &policy, t + MINUTE), Err(Wait::Client(_))));
        assert!(made.check("2001:db8:0:1::1".parse().unwrap(), &policy, t + MINUTE).is_ok());
        // Four made within the minute: everyone waits for the minute to pass.
        assert_eq!(made.check(b, &policy, t + Duration::from_secs(20)), Err(Wait::Everyone(Duration::from_secs(40))));
        // A reservation for an account that was not made is forgotten at once.
        made.reserve("10.0.0.3".parse().unwrap(), &policy, t + HOUR).unwrap();
        made.cancel("10.0.0.3".parse().unwrap(), t + HOUR);
        // An hour on, everything made then is forgotten.
        assert!(made.check(a, &policy, t + HOUR).is_ok());
        assert!(made.per_client.is_empty() && made.in_order.is_empty());
    }
}
