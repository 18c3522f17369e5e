//! The bridge: serves the browser app and relays MSNP2 between WebSockets and TCP servers.
//!
//! Safe to expose: it only connects to the notification servers its operator configured, and to
//! switchboards those servers announced through it with the cookie announced ([`announce`]); it checks
//! `Origin`; and every size, count and time is bounded ([`config::Limits`]).

pub mod announce;
pub mod client;
pub mod close;
pub mod config;
pub mod dial;
pub mod guests;
pub mod http;
pub mod metrics;
pub mod relay;
pub mod serve;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;

use msnp_server::robots::Robot;

use crate::config::{Config, GuestsReach, Upstream};
use crate::state::State;

#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("data directory {dir}: {source}")]
    DataDir { dir: String, source: std::io::Error },
    #[error("embedded server: {0}")]
    Server(#[from] msnp_server::Error),
    #[error("{0}")]
    Tls(String),
    #[error("embedded server's demo accounts: {0}")]
    Import(#[from] msnp_server::accounts::ImportError),
    #[error("embedded server's robots: {0}")]
    Robots(#[from] msnp_server::robots::SecureError),
    #[error("sharing announcements: {0}")]
    Share(#[from] msnp_server::bus::BusError),
}

/// A bridge serving HTTP.
#[derive(Debug)]
pub struct Running {
    pub http_addr: SocketAddr,
    /// The embedded server, when no upstream was given.
    pub embedded: Option<msnp_server::Running>,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl Running {
    /// WebSocket sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.state.open_sessions()
    }

    /// What `/metrics` serves.
    pub fn metrics_text(&self) -> String {
        self.state.metrics_text()
    }

    /// TCP connections open now (HTTP, being refused, or carrying a WebSocket session).
    pub fn open_connections(&self) -> usize {
        self.state.open_connections()
    }

    /// Closes every session with 1001, stops serving, stops the embedded server.
    pub async fn shutdown(self) {
        self.state.begin_shutdown();
        for _ in 0..100 {
            if self.state.open_sessions() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.server.abort();
        if let Some(server) = self.embedded {
            server.shutdown().await;
        }
    }
}

/// Starts the embedded server in `data_dir` (importing the demo accounts into a new database), with the
/// robots it has: their passwords come from a key in `data_dir`, not from the published accounts file.
async fn embedded_server(config: &Config) -> Result<(msnp_server::Running, Vec<Robot>), Error> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| Error::DataDir { dir: dir.display().to_string(), source })?;
    let db = dir.join("msnp.db");
    let new = !db.exists();
    let mut store = msnp_server::open_store(&db, None)?;
    if new {
        msnp_server::accounts::import(&mut store, msnp_server::accounts::DEMO_ACCOUNTS)?;
    }
    if !config.demo_accounts {
        use msnp_server::store::Admin;
        for (email, _) in msnp_server::accounts::demo_logins() {
            if store.exists(&email).map_err(msnp_server::Error::from)? {
                store.remove_account(&email).map_err(msnp_server::Error::from)?;
            }
        }
    }
    let robots = msnp_server::accounts::robots(msnp_server::accounts::DEMO_ACCOUNTS)?;
    let robots = msnp_server::robots::secure(&mut store, &dir.join("robots.key"), robots)?;
    drop(store);
    let mut serve = msnp_server::ServeConfig::new(db);
    if config.guests.is_some_and(|g| g.reach == GuestsReach::Contacts) {
        let open = robots.iter().map(|r| r.handle.clone()).collect();
        serve.ns.guests_reach = msnp_server::guests::GuestsReach::Contacts { open };
    }
    serve.listen = config.ns_listen;
    serve.sb_listen = config.sb_listen;
    // The bridge says which browser each connection is for (PROXY v2), so the server throttles and
    // limits per browser, not per bridge.
    serve.limits.proxy_from = msnp_server::proxy::Trusted(vec![
        "127.0.0.1/32".parse().expect("a network"),
        "::1/128".parse().expect("a network"),
    ]);
    Ok((msnp_server::start(serve).await?, robots))
}

/// Binds, starts the embedded server if needed, and serves.
pub async fn start(mut config: Config) -> Result<Running, Error> {
    // A session holds the browser's socket and the upstream one, and with the embedded server, that
    // server's end of it too.
    let per_session = if config.upstreams.is_empty() { 3 } else { 2 };
    let wanted = config.limits.max_connections;
    config.limits.max_connections = msnp_server::descriptors::fit_connections(wanted, per_session, "--max-connections");
    let (embedded, upstreams) = if config.upstreams.is_empty() {
        let (server, robots) = embedded_server(&config).await?;
        let address = server.ns_addr.to_string();
        if config.robots {
            tokio::spawn(msnp_server::robots::run(address.clone(), robots, Default::default()));
        }
        (Some(server), vec![Upstream { name: "local".into(), addresses: vec![address], proxy_protocol: true }])
    } else {
        (None, config.upstreams.clone())
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen { addr: config.listen, source })?;
    let http_addr = listener.local_addr().map_err(|source| Error::Listen { addr: config.listen, source })?;
    let tls = match &config.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(Error::Tls)?),
        None => None,
    };
    let own = if config.public_origins.is_empty() {
        http::own_origins(http_addr, tls.is_some())
    } else {
        config.public_origins.iter().map(|o| o.trim_end_matches('/').to_owned()).collect()
    };
    let origins = own.into_iter().chain(config.allow_origins.iter().cloned()).collect();
    let mut state = State::new(config.limits, upstreams, origins, &config);
    if let Some((url, replicas)) = &config.share_announcements {
        state.announcements = announce::Announcements::shared(config.limits.announce_ttl, url, *replicas).await?;
    }
    state.server_metrics = embedded.as_ref().map(|server| Arc::clone(&server.metrics));
    if embedded.is_some() && config.demo_accounts {
        state.demo_accounts = msnp_server::accounts::demo_logins();
    }
    if let (Some(policy), Some(_)) = (config.guests, &embedded) {
        // Guests are made in the embedded server's database; with an upstream server they are not offered.
        let store = msnp_server::open_store(&config.data_dir.join("msnp.db"), None)?;
        let robots = msnp_server::accounts::robot_contacts(msnp_server::accounts::DEMO_ACCOUNTS)?;
        state.guests = Some(guests::Guests::start(policy, store, robots));
    }
    let state = Arc::new(state);
    let app = http::router(Arc::clone(&state), config.static_dir.as_deref());
    let server = tokio::spawn(serve::serve(listener, app, Arc::clone(&state), tls));
    Ok(Running { http_addr, embedded, state, server })
}
