//! The project's MSNP2 server: notification server (sign-in, lists, presence) and switchboard, with
//! accounts and lists in SQLite.
//!
//! The protocol logic ([`notification`], [`lists`], [`presence`], [`switchboard`]) is sans-IO: frames
//! and store results in, frames and store jobs out, time passed in; so it is tested without sockets or
//! a database. [`net`] only moves bytes; [`jobs`] runs the store's work on threads of its own.

pub mod accounts;
mod conn;
pub mod guests;
pub mod jobs;
mod lists;
pub mod metrics;
pub mod net;
pub mod notification;
mod presence;
pub mod proxy;
pub mod robots;
pub mod secret;
pub mod store;
pub mod switchboard;
pub mod throttle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::jobs::Worker;
use crate::metrics::Metrics;
use crate::net::{Kind, NetLimits, Server};
use crate::notification::{Logic, NsConfig};
use crate::secret::{Secret, SecretError};
use crate::store::{SqliteStore, StoreError};
use crate::switchboard::SbConfig;

/// How long a write waits for another process's lock on the database before it fails (`500`).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Store threads that read (sign-ins, contacts' accounts) beside the one that writes; each holds its own
/// database cache.
const STORE_READERS: usize = 1;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Everything `msnp-server serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub db: PathBuf,
    /// The password key file; default: the database path with `.key` appended.
    pub key_file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub sb_listen: SocketAddr,
    /// The switchboard address announced to clients; default: the address it listens on.
    pub sb_public: Option<String>,
    pub ns: NsConfig,
    pub sb: SbConfig,
    pub limits: NetLimits,
    /// How long a write waits for another process's lock on the database.
    pub busy_timeout: Duration,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl ServeConfig {
    /// Serving `db` on 127.0.0.1 (ports 1863 and 1864), with every setting at its default.
    pub fn new(db: PathBuf) -> ServeConfig {
        ServeConfig {
            db,
            key_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 1863)),
            sb_listen: SocketAddr::from(([127, 0, 0, 1], 1864)),
            sb_public: None,
            ns: NsConfig::default(),
            sb: SbConfig::default(),
            limits: NetLimits::default(),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            metrics_listen: None,
        }
    }
}

/// The key file for `db`: the given one, or `<db>.key`.
pub fn key_path(db: &std::path::Path, key_file: Option<&std::path::Path>) -> PathBuf {
    key_file.map(PathBuf::from).unwrap_or_else(|| {
        let mut path = db.as_os_str().to_owned();
        path.push(".key");
        PathBuf::from(path)
    })
}

/// Opens the database with its key (creating both if needed).
pub fn open_store(db: &std::path::Path, key_file: Option<&std::path::Path>) -> Result<SqliteStore, Error> {
    let secret = Secret::load_or_create(&key_path(db, key_file))?;
    Ok(SqliteStore::open(db, secret, DEFAULT_BUSY_TIMEOUT)?)
}

/// A server accepting connections.
#[derive(Debug)]
pub struct Running {
    pub ns_addr: SocketAddr,
    pub sb_addr: SocketAddr,
    /// Where metrics are served, if asked for.
    pub metrics_addr: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    server: Arc<Server>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.server.open_connections()
    }

    /// Client addresses with connections being counted (0 once every connection has closed).
    pub fn tracked_addresses(&self) -> usize {
        self.server.tracked_addresses()
    }

    /// `OUT SSD` to everyone, close every connection, stop accepting.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.server.shutdown();
        // Give the writers a moment to deliver OUT SSD.
        for _ in 0..50 {
            if self.server.open_connections() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Listen { addr, source })
}

/// Opens the database, binds both listeners and starts serving.
pub async fn start(config: ServeConfig) -> Result<Running, Error> {
    let secret = Secret::load_or_create(&key_path(&config.db, config.key_file.as_deref()))?;
    let (db, busy) = (config.db.clone(), config.busy_timeout);
    // Creates the schema if needed; only administrators' changes made from now on are applied.
    let last_event = SqliteStore::open(&db, secret.clone(), busy)?.last_admin_event()?;
    let store = Worker::start(STORE_READERS, || SqliteStore::open(&db, secret.clone(), busy))?;
    let ns_listener = bind(config.listen).await?;
    let sb_listener = bind(config.sb_listen).await?;
    let ns_addr = ns_listener.local_addr().map_err(|source| Error::Listen { addr: config.listen, source })?;
    let sb_addr = sb_listener.local_addr().map_err(|source| Error::Listen { addr: config.sb_listen, source })?;
    let metrics = Arc::new(Metrics::default());
    let sb = SbConfig { public_address: config.sb_public.unwrap_or_else(|| sb_addr.to_string()), ..config.sb };
    let logic = Logic::new(config.ns, sb, Arc::clone(&metrics))?;
    let (server, results) = Server::new(logic, config.limits, store, Arc::clone(&metrics));
    let mut tasks = vec![
        tokio::spawn(Arc::clone(&server).accept(ns_listener, Kind::Notification)),
        tokio::spawn(Arc::clone(&server).accept(sb_listener, Kind::Switchboard)),
        tokio::spawn(Arc::clone(&server).deadlines()),
        tokio::spawn(Arc::clone(&server).store_results(results)),
        tokio::spawn(Arc::clone(&server).admin_events(last_event)),
    ];
    let metrics_addr = match config.metrics_listen {
        Some(addr) => {
            let listener = bind(addr).await?;
            let local = listener.local_addr().map_err(|source| Error::Listen { addr, source })?;
            tasks.push(tokio::spawn(metrics::serve(listener, Arc::clone(&metrics))));
            Some(local)
        }
        None => None,
    };
    Ok(Running { ns_addr, sb_addr, metrics_addr, metrics, server, tasks })
}

/// Resolves on Ctrl-C or SIGTERM: what the binaries (this server's and the bridge's) stop on.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
