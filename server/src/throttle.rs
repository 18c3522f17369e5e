//! Limits per client address, without I/O (time is passed in): failed sign-ins per (account, address)
//! and per address, and connections per address (open at once, and new ones per second).
//!
//! Addresses are compared as the network they stand for: an IPv4 address, or an IPv6 /64 (one
//! subscriber's allocation, which a client can walk through at will).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

/// A client address as limits count it: IPv4 as is, IPv6 cut to its /64.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// How many failed sign-ins are checked before further attempts are refused unchecked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInLimits {
    /// Failures per (account, client address) in a window.
    pub per_account: usize,
    /// Failures per client address (any account) in a window.
    pub per_address: usize,
    pub window: Duration,
}

impl Default for SignInLimits {
    fn default() -> SignInLimits {
        SignInLimits { per_account: 5, per_address: 30, window: Duration::from_secs(60) }
    }
}

/// The times of recent failures, oldest first, and how many checks are under way (each may fail).
#[derive(Debug, Default)]
struct Failures {
    times: VecDeque<Duration>,
    pending: usize,
}

impl Failures {
    fn forget_before(&mut self, start: Duration) {
        while self.times.front().is_some_and(|t| *t <= start) {
            self.times.pop_front();
        }
    }

    /// Failures in the window, counting checks under way as failures: guesses sent all at once are
    /// limited like guesses sent one after another.
    fn count(&mut self, now: Duration, window: Duration) -> usize {
        if let Some(start) = now.checked_sub(window) {
            self.forget_before(start);
        }
        self.times.len() + self.pending
    }

    fn is_empty(&self) -> bool {
        self.times.is_empty() && self.pending == 0
    }
}

/// Failed sign-ins. An address whose failures reach a limit within the window is refused without its
/// password being checked, until the window has passed; refusals themselves do not count, so the window
/// always ends. The account's owner signing in from another address is not affected.
///
/// A client whose address is unknown (`None`: a trusted proxy that did not say) is limited per account
/// only, so one client behind a shared proxy cannot lock every other user of it out.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    limits: SignInLimits,
    accounts: HashMap<(String, Option<IpAddr>), Failures>,
    addresses: HashMap<IpAddr, Failures>,
}

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> SignInThrottle {
        SignInThrottle { limits, ..SignInThrottle::default() }
    }

    fn account_key(handle: &str, client: Option<IpAddr>) -> (String, Option<IpAddr>) {
        (handle.to_ascii_lowercase(), client.map(network))
    }

    /// Whether a sign-in as `handle` from `client` must be refused without checking.
    pub fn refused(&mut self, handle: &str, client: Option<IpAddr>, now: Duration) -> bool {
        let window = self.limits.window;
        let per_account = self
            .accounts
            .get_mut(&Self::account_key(handle, client))
            .is_some_and(|f| f.count(now, window) >= self.limits.per_account);
        let per_address = client
            .and_then(|ip| self.addresses.get_mut(&network(ip)))
            .is_some_and(|f| f.count(now, window) >= self.limits.per_address);
        per_account || per_address
    }

    /// A sign-in is being checked; exactly one of [`SignInThrottle::failed`], [`SignInThrottle::succeeded`]
    /// or [`SignInThrottle::abandoned`] follows. It counts against the account at once (one person has no
    /// reason to sign in to one account many times at once); against the address only once it has failed,
    /// since many people may share an address (at most as many checks as it has connections are then under
    /// way beyond the limit).
    pub fn started(&mut self, handle: &str, client: Option<IpAddr>) {
        self.accounts.entry(Self::account_key(handle, client)).or_default().pending += 1;
    }

    /// A checked sign-in failed.
    pub fn failed(&mut self, handle: &str, client: Option<IpAddr>, now: Duration) {
        let account = self.accounts.entry(Self::account_key(handle, client)).or_default();
        account.pending = account.pending.saturating_sub(1);
        account.times.push_back(now);
        if let Some(ip) = client {
            self.addresses.entry(network(ip)).or_default().times.push_back(now);
        }
    }

    /// A sign-in succeeded: that address's failures for the account are forgotten.
    pub fn succeeded(&mut self, handle: &str, client: Option<IpAddr>) {
        self.accounts.remove(&Self::account_key(handle, client));
    }

    /// A check ended without an answer (the client left, the store failed).
    pub fn abandoned(&mut self, handle: &str, client: Option<IpAddr>) {
        let key = Self::account_key(handle, client);
        if let Some(account) = self.accounts.get_mut(&key) {
            account.pending = account.pending.saturating_sub(1);
            if account.is_empty() {
                self.accounts.remove(&key);
            }
        }
    }

    /// Forgets failures older than the window (call now and then, so memory follows the traffic).
    pub fn sweep(&mut self, now: Duration) {
        let Some(start) = now.checked_sub(self.limits.window) else { return };
        self.accounts.retain(|_, f| {
            f.forget_before(start);
            !f.is_empty()
        });
        self.addresses.retain(|_, f| {
            f.forget_before(start);
            !f.is_empty()
        });
    }

    /// Entries held (for tests: memory follows the traffic).
    pub fn len(&self) -> usize {
        self.accounts.len() + self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Connections per client address, each a command-line flag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnectionLimits {
    /// Connections open at once from one address (both listeners together).
    pub per_address: usize,
    /// New connections per second from one address (a burst of as many is allowed).
    pub per_second: f64,
    /// Whether loopback addresses are limited too (by default they are not, so local tools, benchmarks
    /// and a bridge without PROXY headers work).
    pub limit_loopback: bool,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits { per_address: 64, per_second: 10.0, limit_loopback: false }
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooMany,
    TooFast,
}

impl Refusal {
    /// The label of the refusal metric.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::TooMany => "per_address",
            Refusal::TooFast => "per_address_rate",
        }
    }
}

/// A token bucket: `rate` takes per second, at most `burst` at once (by default `rate`, at least one).
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    /// When it was last filled (time is passed in, since any start).
    filled: Duration,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, now: Duration) -> TokenBucket {
        TokenBucket::with_burst(rate, rate, now)
    }

    /// A full bucket at `now` that holds `burst` (at least one).
    pub fn with_burst(rate: f64, burst: f64, now: Duration) -> TokenBucket {
        let burst = burst.max(1.0);
        TokenBucket { rate, burst, tokens: burst, filled: now }
    }

    fn fill(&mut self, now: Duration) {
        // `now` may be a little older than a time another thread stored: never less than nothing.
        let elapsed = now.saturating_sub(self.filled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.filled = self.filled.max(now);
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Duration) -> bool {
        self.fill(now);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// Whether it would be full at `now` (nothing to remember).
    fn full(&self, now: Duration) -> bool {
        let mut at_now = *self;
        at_now.fill(now);
        at_now.tokens >= self.burst
    }
}

#[derive(Debug)]
struct Address {
    open: usize,
    /// New connections that may be made now.
    bucket: TokenBucket,
}

/// Open connections and connection rate per address.
#[derive(Debug, Default)]
pub struct ConnectionCaps {
    limits: ConnectionLimits,
    addresses: HashMap<IpAddr, Address>,
}

impl ConnectionCaps {
    pub fn new(limits: ConnectionLimits) -> ConnectionCaps {
        ConnectionCaps { limits, addresses: HashMap::new() }
    }

    fn exempt(&self, ip: IpAddr) -> bool {
        !self.limits.limit_loopback && network(ip).is_loopback()
    }

    /// Counts a new connection from `client`, or refuses it. Every admitted connection must be
    /// [`ConnectionCaps::closed`] once.
    pub fn open(&mut self, client: IpAddr, now: Duration) -> Result<(), Refusal> {
        if self.exempt(client) {
            return Ok(());
        }
        let rate = self.limits.per_second;
        let a =
            self.addresses.entry(network(client)).or_insert(Address { open: 0, bucket: TokenBucket::new(rate, now) });
        if a.open >= self.limits.per_address {
            return Err(Refusal::TooMany);
        }
        if !a.bucket.take(now) {
            return Err(Refusal::TooFast);
        }
        a.open += 1;
        Ok(())
    }

    /// An admitted connection from `client` ended.
    pub fn closed(&mut self, client: IpAddr) {
        if self.exempt(client) {
            return;
        }
        if let Some(a) = self.addresses.get_mut(&network(client)) {
            a.open = a.open.saturating_sub(1);
        }
    }

    /// Forgets addresses with nothing open whose bucket is full again.
    pub fn sweep(&mut self, now: Duration) {
        self.addresses.retain(|_, a| a.open > 0 || !a.bucket.full(now));
    }

    /// Addresses tracked (for tests: every counter goes back to zero).
    pub fn tracked(&self) -> usize {
        self.addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn five_failures_per_account_and_address_then_refused_until_the_window_passes() {
        let mut t = SignInThrottle::new(SignInLimits::default());
        for i in 0..5 {
            assert!(!t.refused("alice@hotmail.com", ip("10.0.0.1"), S * i));
            t.started("alice@hotmail.com", ip("10.0.0.1"));
            t.failed("alice@hotmail.com", ip("10.0.0.1"), S * i);
        }
        assert!(t.refused("ALICE@hotmail.com", ip("10.0.0.1"), S * 10));
        // The owner elsewhere, and the attacker on another account, are not refused.
        assert!(!t.refused("alice@hotmail.com", ip("10.0.0.2"), S * 10));
        assert!(!t.refused("bob@hotmail.com", ip("10.0.0.1"), S * 10));
        // Refusals do not extend the window: the first failure (at 0 s) leaves it at 60 s.
        assert!(t.refused("alice@hotmail.com", ip("10.0.0.1"), S * 59));
        assert!(!t.refused("alice@hotmail.com", ip("10.0.0.1"), S * 60));
        t.sweep(S * 200);
        assert!(t.is_empty());
    }

    #[test]
    fn checks_under_way_count_as_failures_until_they_end() {
        let mut t = SignInThrottle::new(SignInLimits::default());
        let alice = "alice@hotmail.com";
        for _ in 0..5 {
            assert!(!t.refused(alice, ip("10.0.0.1"), S));
            t.started(alice, ip("10.0.0.1"));
        }
        // Five guesses sent at once: the sixth is refused before any has been answered.
        assert!(t.refused(alice, ip("10.0.0.1"), S));
        // Many people behind one address signing in at once, each to their own account, are not.
        for i in 0..100 {
            t.started(&format!("user{i}@hotmail.com"), ip("10.0.0.1"));
        }
        assert!(!t.refused("user100@hotmail.com", ip("10.0.0.1"), S));
        for i in 0..100 {
            t.succeeded(&format!("user{i}@hotmail.com"), ip("10.0.0.1"));
        }
        t.abandoned(alice, ip("10.0.0.1"));
        t.succeeded(alice, ip("10.0.0.1"));
        for _ in 0..3 {
            t.failed(alice, ip("10.0.0.1"), S);
        }
        assert!(!t.refused(alice, ip("10.0.0.1"), S));
        t.sweep(S * 200);
        assert!(t.is_empty());
    }

    #[test]
    fn thirty_failures_per_address_across_accounts() {
        let mut t = SignInThrottle::new(SignInLimits::default());
        for i in 0..30 {
            t.failed(&format!("user{i}@hotmail.com"), ip("2001:db8::1"), S);
        }
        assert!(t.refused("someone@hotmail.com", ip("2001:db8::1"), S * 2));
        // The same /64 is the same client; another /64 is not.
        assert!(t.refused("someone@hotmail.com", ip("2001:db8::ffff:1"), S * 2));
        assert!(!t.refused("someone@hotmail.com", ip("2001:db8:0:1::1"), S * 2));
    }

    #[test]
    fn unknown_addresses_are_limited_per_account_only() {
        let mut t = SignInThrottle::new(SignInLimits::default());
        for i in 0..40 {
            t.failed(&format!("user{i}@hotmail.com"), None, S);
        }
        assert!(!t.refused("alice@hotmail.com", None, S * 2));
        for _ in 0..5 {
            t.failed("alice@hotmail.com", None, S);
        }
        assert!(t.refused("alice@hotmail.com", None, S * 2));
        assert!(!t.refused("alice@hotmail.com", ip("10.0.0.9"), S * 2));
    }

    #[test]
    fn success_forgets_that_addresses_failures() {
        let mut t = SignInThrottle::new(SignInLimits::default());
        for _ in 0..4 {
            t.failed("alice@hotmail.com", ip("10.0.0.1"), S);
        }
        t.succeeded("alice@hotmail.com", ip("10.0.0.1"));
        t.failed("alice@hotmail.com", ip("10.0.0.1"), S);
        assert!(!t.refused("alice@hotmail.com", ip("10.0.0.1"), S));
    }

    #[test]
    fn connections_per_address_open_and_per_second() {
        let limits = ConnectionLimits { per_address: 3, per_second: 2.0, limit_loopback: true };
        let mut caps = ConnectionCaps::new(limits);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(caps.open(a, S), Ok(()));
        assert_eq!(caps.open(a, S), Ok(()));
        assert_eq!(caps.open(a, S), Err(Refusal::TooFast));
        assert_eq!(caps.open(a, S * 2), Ok(()));
        assert_eq!(caps.open(a, S * 3), Err(Refusal::TooMany));
        caps.closed(a);
        assert_eq!(caps.open(a, S * 3), Ok(()));
        for _ in 0..3 {
            caps.closed(a);
        }
        caps.sweep(S * 10);
        assert_eq!(caps.tracked(), 0);
        // Loopback is exempt unless asked.
        let mut caps = ConnectionCaps::new(ConnectionLimits { limit_loopback: false, ..limits });
        for _ in 0..10 {
            assert_eq!(caps.open(a, S), Ok(()));
        }
        assert_eq!(caps.tracked(), 0);
    }
}
