//! State shared by every session: configuration, announcements, counts, metrics, the shutdown signal.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use crate::announce::Announcements;
use crate::config::{Limits, Upstream};
use crate::metrics::Metrics;

/// Why a session was refused or ended: a WebSocket close code and a readable reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
    /// Short label for the refusal metric (`None`: a normal end, not a refusal).
    pub metric: Option<&'static str>,
}

impl Close {
    pub const UPSTREAM_CLOSED: Close = Close { code: 1000, reason: "the server closed the connection", metric: None };
    pub const SHUTDOWN: Close = Close { code: 1001, reason: "the bridge is shutting down", metric: None };
    pub const IDLE: Close = Close { code: 1001, reason: "idle timeout", metric: Some("idle") };
    pub const NOT_ANNOUNCED: Close = Close {
        code: 1008,
        reason: "that switchboard was not announced to this bridge",
        metric: Some("not_announced"),
    };
    pub const BAD_COOKIE: Close = Close {
        code: 1008,
        reason: "the first command must present a switchboard cookie announced for this address (each works once)",
        metric: Some("bad_cookie"),
    };
    pub const NOT_ONE_COMMAND: Close = Close {
        code: 1008,
        reason: "each message must hold exactly one MSNP command",
        metric: Some("not_one_command"),
    };
    pub const UNKNOWN_SERVER: Close = Close { code: 1008, reason: "no such server", metric: Some("unknown_server") };
    pub const SLOW_FIRST_COMMAND: Close =
        Close { code: 1008, reason: "no command arrived in time", metric: Some("handshake_timeout") };
    pub const TOO_BIG: Close = Close { code: 1009, reason: "message too big", metric: Some("too_big") };
    pub const BAD_UPSTREAM_DATA: Close =
        Close { code: 1011, reason: "the server sent data that is not MSNP", metric: Some("bad_upstream_data") };
    pub const SLOW_READER: Close =
        Close { code: 1011, reason: "the page is not reading its messages", metric: Some("slow_reader") };
    pub const TOO_MANY: Close =
        Close { code: 1013, reason: "too many connections; try again later", metric: Some("too_many_connections") };
    pub const TOO_MANY_FROM_YOU: Close = Close {
        code: 1013,
        reason: "too many connections from your address; try again later",
        metric: Some("too_many_per_ip"),
    };
    // 1011 rather than 1014 (bad gateway), which some WebSocket clients still reject as a protocol error.
    pub const UNREACHABLE: Close =
        Close { code: 1011, reason: "the server is unreachable", metric: Some("unreachable") };
}

/// Everything sessions share.
#[derive(Debug)]
pub struct State {
    pub limits: Limits,
    pub upstreams: Vec<Upstream>,
    pub allow_origins: Vec<String>,
    pub announcements: Announcements,
    pub metrics: Metrics,
    open: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    shutdown: watch::Sender<bool>,
}

impl State {
    pub fn new(limits: Limits, upstreams: Vec<Upstream>, allow_origins: Vec<String>) -> State {
        State {
            announcements: Announcements::new(limits.announce_ttl),
            limits,
            upstreams,
            allow_origins,
            metrics: Metrics::default(),
            open: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            shutdown: watch::channel(false).0,
        }
    }

    /// Sessions open right now.
    pub fn open_sessions(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Counts a new session from `ip`, or refuses it over the limits.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Close> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if self.open.load(Ordering::SeqCst) >= self.limits.max_connections {
            return Err(Close::TOO_MANY);
        }
        let from_ip = per_ip.entry(ip).or_default();
        if *from_ip >= self.limits.max_per_ip {
            return Err(Close::TOO_MANY_FROM_YOU);
        }
        *from_ip += 1;
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Admitted { state: Arc::clone(self), ip })
    }

    /// Resolves when shutdown starts.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// A counted session; dropping it uncounts it.
#[derive(Debug)]
pub struct Admitted {
    state: Arc<State>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_ip = self.state.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.state.open.fetch_sub(1, Ordering::SeqCst);
    }
}
