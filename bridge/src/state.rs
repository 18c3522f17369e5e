//! State shared by every session: configuration, announcements, counts, metrics, the shutdown signal.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use ipnet::IpNet;

use crate::announce::Announcements;
use crate::close::Close;
use crate::config::{Config, ForwardedHeader, Limits, SbAllow, Upstream};
use crate::metrics::Metrics;

/// Everything sessions share.
#[derive(Debug)]
pub struct State {
    pub limits: Limits,
    pub upstreams: Vec<Upstream>,
    /// Their addresses that did not answer lately.
    pub unreachable: crate::dial::Unreachable,
    /// Origins whose pages may open WebSockets: the bridge's own and those allowed.
    pub origins: Vec<String>,
    /// Proxies whose forwarding header names the client, and which header that is.
    pub trusted_proxies: Vec<IpNet>,
    pub forwarded_header: ForwardedHeader,
    /// Where announced switchboards may be, besides the announcing server's own address.
    pub sb_allow: Vec<SbAllow>,
    pub announcements: Announcements,
    pub metrics: Metrics,
    /// The embedded server's metrics, served at `/metrics` too.
    pub server_metrics: Option<Arc<msnp_server::metrics::Metrics>>,
    /// Guest accounts, when offered.
    pub guests: Option<Arc<crate::guests::Guests>>,
    /// The embedded server's demo logins (e-mail, password), which the page names.
    pub demo_accounts: Vec<(String, String)>,
    /// TCP connections open (served, upgraded or being refused), and per client address.
    connections: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connections being answered with a refusal.
    refusing: AtomicUsize,
    /// WebSocket sessions open.
    sessions: AtomicUsize,
    shutdown: watch::Sender<bool>,
}

impl State {
    pub fn new(limits: Limits, upstreams: Vec<Upstream>, origins: Vec<String>, config: &Config) -> State {
        State {
            announcements: Announcements::new(limits.announce_ttl),
            limits,
            upstreams,
            unreachable: Default::default(),
            origins,
            trusted_proxies: config.trust_proxy.clone(),
            forwarded_header: config.forwarded_header,
            sb_allow: config.sb_allow.clone(),
            metrics: Metrics::default(),
            server_metrics: None,
            guests: None,
            demo_accounts: Vec::new(),
            connections: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            refusing: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            shutdown: watch::channel(false).0,
        }
    }

    /// WebSocket sessions open right now.
    pub fn open_sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    /// TCP connections open right now, whatever their stage.
    pub fn open_connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The bridge's metrics, and the embedded server's.
    pub fn metrics_text(&self) -> String {
        let mut text = self.metrics.render();
        if let Some(server) = &self.server_metrics {
            text.push_str(&server.render());
        }
        text
    }

    /// Whether `ip` is a proxy whose forwarding headers are believed.
    pub fn trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Counts a new TCP connection from `peer`, from accept until it closes (a WebSocket session keeps
    /// its connection's count). Over a limit it is answered once with the refusal; `None` when even
    /// refusals are too many (it is dropped unanswered).
    pub fn admit_connection(self: &Arc<Self>, peer: IpAddr) -> Option<Admission> {
        // Behind a trusted proxy the client is known from its headers only: it is counted then.
        let ip = (!self.trusted(peer)).then_some(peer);
        match self.count(true, ip) {
            Ok(counted) => Some(Admission::Counted(counted)),
            Err(close) => self.refusal(close).map(Admission::Refused),
        }
    }

    /// Counts a client named by a trusted proxy against `--max-per-ip`.
    pub fn admit_client(self: &Arc<Self>, ip: IpAddr) -> Result<Counted, Close> {
        self.count(false, Some(ip))
    }

    fn count(self: &Arc<Self>, total: bool, ip: Option<IpAddr>) -> Result<Counted, Close> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if total && self.connections.load(Ordering::SeqCst) >= self.limits.max_connections {
            return Err(Close::TOO_MANY);
        }
        if let Some(ip) = ip {
            let from_ip = per_ip.entry(ip).or_default();
            if *from_ip >= self.limits.max_per_ip {
                return Err(Close::TOO_MANY_FROM_YOU);
            }
            *from_ip += 1;
        }
        if total {
            self.connections.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Counted { state: Arc::clone(self), total, ip })
    }

    /// A refusal to answer, if fewer than `--max-connections` are being answered: each costs a socket
    /// until it is answered, or for at most the handshake timeout.
    fn refusal(self: &Arc<Self>, close: Close) -> Option<Refusal> {
        if self.refusing.fetch_add(1, Ordering::SeqCst) >= self.limits.max_connections {
            self.refusing.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Refusal { state: Arc::clone(self), close })
    }

    /// Counts a WebSocket session while the returned guard lives.
    pub fn session(self: &Arc<Self>) -> Session {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        Session(Arc::clone(self))
    }

    /// Resolves when shutdown starts.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// A TCP connection's standing: counted and served, or answered once with a refusal.
#[derive(Debug)]
pub enum Admission {
    Counted(Counted),
    Refused(Refusal),
}

/// A counted connection (or client); dropping it uncounts it.
#[derive(Debug)]
pub struct Counted {
    state: Arc<State>,
    total: bool,
    ip: Option<IpAddr>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut per_ip = self.state.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        if self.total {
            self.state.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A connection being refused, and why.
#[derive(Debug)]
pub struct Refusal {
    state: Arc<State>,
    pub close: Close,
}

impl Drop for Refusal {
    fn drop(&mut self) {
        self.state.refusing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A WebSocket session, counted while it lives.
#[derive(Debug)]
pub struct Session(Arc<State>);

impl Drop for Session {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}
