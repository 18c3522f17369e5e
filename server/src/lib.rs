//! The project's MSNP2 server: notification server (sign-in, lists, presence) and switchboard, with
//! accounts and lists in SQLite (the default) or PostgreSQL.
//!
//! The protocol logic ([`notification`], [`lists`], [`presence`], [`switchboard`], [`cluster`]) is
//! sans-IO: frames, store results and notes from other nodes in; frames, store jobs and notes out; time
//! passed in; so it is tested without sockets, a database or a bus. [`net`] only moves bytes; [`jobs`]
//! runs the store's work on threads of its own; [`bus`] carries a cluster's notes over NATS.
//!
//! Who owns what: the notification server ([`notification::Logic`]) owns connections, signed-in users and
//! watchers; the switchboard ([`switchboard::Switchboards`]) owns its connections, sessions and cookies and
//! asks the notification server only through [`switchboard::Directory`] (a user's name now; can a callee
//! be rung, and ring them). In a cluster, what crosses nodes is a [`cluster::Note`] (presence as each
//! watcher may see it, list changes, rings, drains) or an entry of the sign-in registry (who is signed in
//! where, in order); the accounts and lists are in the shared PostgreSQL database.

pub mod accounts;
pub mod bus;
pub mod cluster;
mod conn;
pub mod descriptors;
pub mod guests;
pub mod jobs;
mod lists;
pub mod metrics;
pub mod net;
pub mod notification;
mod presence;
pub mod proxy;
pub mod robots;
pub mod scratch;
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

use crate::bus::{BusConfig, BusError};
use crate::cluster::ClusterConfig;
use crate::jobs::Worker;
use crate::metrics::Metrics;
use crate::net::{Kind, NetLimits, Server};
use crate::notification::{Logic, NsConfig};
use crate::secret::{Secret, SecretError};
use crate::store::{Admin, PgStore, SqliteStore, Store, StoreError};
use crate::switchboard::SbConfig;

/// How long a write waits for another process's lock on the database before it fails (`500`).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Store threads that read (sign-ins, contacts' accounts) beside the one that writes, each with its own
/// connection: one for SQLite (in-process, a reader is as fast as the core it runs on), several for
/// PostgreSQL (each read waits a network round trip, and the server serves them in parallel).
const SQLITE_READERS: usize = 1;
const POSTGRES_READERS: usize = 4;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("a PostgreSQL store needs --key-file: the key that encrypts passwords is kept outside the database")]
    NoKeyFile,
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("a cluster's nodes share their accounts: --bus needs a PostgreSQL --store")]
    ClusterOnSqlite,
}

/// Where accounts and lists are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created if missing; the default, for one server process.
    Sqlite(PathBuf),
    /// A PostgreSQL database, `postgres://user@host:port/db`, shared by server nodes; the schema is
    /// created if missing.
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = std::convert::Infallible;
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else is a SQLite file's path.
    fn from_str(s: &str) -> Result<Database, Self::Err> {
        Ok(if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Database::Postgres(s.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(s))
        })
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}

impl Database {
    /// The password key: `key_file`, or for SQLite `<db>.key` beside the database (created if missing).
    pub fn secret(&self, key_file: Option<&std::path::Path>) -> Result<Secret, Error> {
        let path = match (self, key_file) {
            (_, Some(key)) => key.to_owned(),
            (Database::Sqlite(db), None) => key_path(db, None),
            (Database::Postgres(_), None) => return Err(Error::NoKeyFile),
        };
        Ok(Secret::load_or_create(&path)?)
    }

    /// A connection for the server's store threads.
    fn open(&self, secret: Secret, busy: Duration) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Database::Sqlite(db) => Box::new(SqliteStore::open(db, secret, busy)?),
            Database::Postgres(url) => Box::new(PgStore::connect(url, secret)?),
        })
    }

    /// A connection for administration (`import`, `user …`, guest accounts).
    pub fn open_admin(&self, key_file: Option<&std::path::Path>) -> Result<Box<dyn Admin + Send>, Error> {
        let secret = self.secret(key_file)?;
        Ok(match self {
            Database::Sqlite(db) => Box::new(SqliteStore::open(db, secret, DEFAULT_BUSY_TIMEOUT)?),
            Database::Postgres(url) => Box::new(PgStore::connect(url, secret)?),
        })
    }
}

/// Everything `msnp-server serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub db: Database,
    /// The password key file; default for SQLite: the database path with `.key` appended.
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
    /// The cluster this server is a node of, if any.
    pub bus: Option<BusConfig>,
}

impl ServeConfig {
    /// Serving `db` on 127.0.0.1 (ports 1863 and 1864), with every setting at its default.
    pub fn new(db: impl Into<Database>) -> ServeConfig {
        ServeConfig {
            db: db.into(),
            key_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 1863)),
            sb_listen: SocketAddr::from(([127, 0, 0, 1], 1864)),
            sb_public: None,
            ns: NsConfig::default(),
            sb: SbConfig::default(),
            limits: NetLimits::default(),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            metrics_listen: None,
            bus: None,
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
    /// The cluster's bus, stopped last: the other nodes hear of this one's users going offline.
    bus_tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.server.open_connections()
    }

    /// Users signed in here right now.
    pub fn online(&self) -> usize {
        self.server.with_logic(|logic| logic.online())
    }

    /// Waits until sign-ins can be served (a dispatch node: until it has heard of a node to refer them to),
    /// at most `within`: whether they can.
    pub async fn serving_sign_ins(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.server.with_logic(|logic| logic.can_serve_sign_ins()) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
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
        // Give the connections a moment to deliver OUT SSD.
        for _ in 0..50 {
            if self.server.open_connections() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        if !self.bus_tasks.is_empty() {
            // What the sign-offs asked of the bus goes out before it stops.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        for task in &self.bus_tasks {
            task.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Listen { addr, source })
}

/// Creates the schema if needed and starts the store threads; the id of the last administrators' event
/// (only later ones are applied).
fn open_stores(db: &Database, key_file: Option<PathBuf>, busy: Duration) -> Result<(i64, Worker), Error> {
    let secret = db.secret(key_file.as_deref())?;
    let last_event = db.open_admin(key_file.as_deref())?.last_admin_event()?;
    let readers = match db {
        Database::Sqlite(_) => SQLITE_READERS,
        Database::Postgres(_) => POSTGRES_READERS,
    };
    let store = Worker::start(readers, || db.open(secret.clone(), busy))?;
    Ok((last_event, store))
}

/// Runs `f` on a thread of its own, outside any async runtime: PostgreSQL's client runs one of its own.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
}

/// Opens the database, binds both listeners and starts serving.
pub async fn start(mut config: ServeConfig) -> Result<Running, Error> {
    let wanted = config.limits.max_connections;
    config.limits.max_connections = descriptors::fit_connections(wanted, 1, "--max-connections");
    if config.bus.is_some() && matches!(config.db, Database::Sqlite(_)) {
        return Err(Error::ClusterOnSqlite);
    }
    let (db, key_file, busy) = (config.db.clone(), config.key_file.clone(), config.busy_timeout);
    let (last_event, store) = tokio::task::spawn_blocking(move || off_runtime(|| open_stores(&db, key_file, busy)))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let ns_listener = bind(config.listen).await?;
    let sb_listener = bind(config.sb_listen).await?;
    let ns_addr = ns_listener.local_addr().map_err(|source| Error::Listen { addr: config.listen, source })?;
    let sb_addr = sb_listener.local_addr().map_err(|source| Error::Listen { addr: config.sb_listen, source })?;
    let metrics = Arc::new(Metrics::default());
    let sb = SbConfig { public_address: config.sb_public.unwrap_or_else(|| sb_addr.to_string()), ..config.sb };
    let cluster = config.bus.as_ref().map(|bus| ClusterConfig {
        public_ns: Some(bus.cluster.public_ns.clone()).filter(|a| !a.is_empty()).unwrap_or_else(|| ns_addr.to_string()),
        ..bus.cluster.clone()
    });
    let logic = Logic::new(config.ns, sb, Arc::clone(&metrics))?.with_cluster(cluster);
    let (server, results) = Server::new(logic, config.limits, store, Arc::clone(&metrics));
    let bus_tasks = match &config.bus {
        Some(bus) => bus::start(Arc::clone(&server), bus).await?,
        None => Vec::new(),
    };
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
    Ok(Running { ns_addr, sb_addr, metrics_addr, metrics, server, tasks, bus_tasks })
}

/// Resolves on Ctrl-C or SIGTERM: what the binaries (this server's and the bridge's) stop on. SIGTERM is
/// caught from this call on (not from the first poll), so a binary that calls it before saying it is
/// ready cannot be killed outright by a SIGTERM sent right after.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let Ok(mut term) = term else { return std::future::pending().await };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }
}
