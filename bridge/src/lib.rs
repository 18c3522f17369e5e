//! The bridge: serves the browser app and relays MSNP2 between WebSockets and TCP servers.
//!
//! Safe to expose: it only connects to the notification servers its operator configured, and to
//! switchboards those servers announced through it with the cookie announced ([`announce`]); it checks
//! `Origin`; and every size, count and time is bounded ([`config::Limits`]).

pub mod announce;
pub mod config;
pub mod http;
pub mod metrics;
pub mod relay;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::task::JoinHandle;

use crate::config::{Config, Upstream};
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

/// Starts the embedded server in `data_dir` (importing the demo accounts into a new database).
async fn embedded_server(config: &Config) -> Result<msnp_server::Running, Error> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|source| Error::DataDir { dir: dir.display().to_string(), source })?;
    let db = dir.join("msnp.db");
    if !db.exists() {
        let mut store = msnp_server::open_store(&db, None)?;
        msnp_server::accounts::import(&mut store, msnp_server::accounts::DEMO_ACCOUNTS)?;
    }
    let mut serve = msnp_server::ServeConfig::new(db);
    serve.listen = config.ns_listen;
    serve.sb_listen = config.sb_listen;
    Ok(msnp_server::start(serve).await?)
}

/// Binds, starts the embedded server if needed, and serves.
pub async fn start(config: Config) -> Result<Running, Error> {
    let (embedded, upstreams) = if config.upstreams.is_empty() {
        let server = embedded_server(&config).await?;
        let local = Upstream { name: "local".into(), address: server.ns_addr.to_string() };
        (Some(server), vec![local])
    } else {
        (None, config.upstreams.clone())
    };
    let state = Arc::new(State::new(config.limits, upstreams, config.allow_origins.clone()));
    let app = http::router(Arc::clone(&state), config.static_dir.as_deref());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen { addr: config.listen, source })?;
    let http_addr = listener.local_addr().map_err(|source| Error::Listen { addr: config.listen, source })?;
    let service = app.into_make_service_with_connect_info::<tls::Peer>();
    let server = match &config.tls {
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        }),
        Some((cert, key)) => {
            let acceptor = tls::acceptor(cert, key).map_err(Error::Tls)?;
            let listener = tls::TlsListener::new(listener, acceptor, config.limits.handshake_timeout)
                .map_err(|source| Error::Listen { addr: config.listen, source })?;
            tokio::spawn(async move {
                let _ = axum::serve(listener, service).await;
            })
        }
    };
    Ok(Running { http_addr, embedded, state, server })
}
