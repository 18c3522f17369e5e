//! The project's MSNP2 server: notification server (sign-in, lists, presence) and switchboard, with
//! accounts and lists in SQLite.
//!
//! The protocol logic ([`notification`]) is sans-IO: it takes frames and gives frames back, so it is
//! tested without sockets; [`net`] only moves bytes.

pub mod accounts;
mod conn;
pub mod net;
pub mod notification;
pub mod secret;
pub mod store;
pub mod switchboard;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::net::{Kind, NetLimits, Server};
use crate::notification::{Logic, NsConfig};
use crate::secret::{Secret, SecretError};
use crate::store::{SqliteStore, StoreError};
use crate::switchboard::SbConfig;

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
    Ok(SqliteStore::open(db, secret)?)
}

/// A server accepting connections.
#[derive(Debug)]
pub struct Running {
    pub ns_addr: SocketAddr,
    pub sb_addr: SocketAddr,
    server: Arc<Server<SqliteStore>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.server.open_connections()
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
    let store = open_store(&config.db, config.key_file.as_deref())?;
    let ns_listener = bind(config.listen).await?;
    let sb_listener = bind(config.sb_listen).await?;
    let ns_addr = ns_listener.local_addr().map_err(|source| Error::Listen { addr: config.listen, source })?;
    let sb_addr = sb_listener.local_addr().map_err(|source| Error::Listen { addr: config.sb_listen, source })?;
    let sb = SbConfig { public_address: config.sb_public.unwrap_or_else(|| sb_addr.to_string()), ..config.sb };
    let server = Server::new(Logic::new(config.ns, sb, store)?, config.limits);
    let tasks = vec![
        tokio::spawn(Arc::clone(&server).accept(ns_listener, Kind::Notification)),
        tokio::spawn(Arc::clone(&server).accept(sb_listener, Kind::Switchboard)),
        tokio::spawn(Arc::clone(&server).deadlines()),
    ];
    Ok(Running { ns_addr, sb_addr, server, tasks })
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
