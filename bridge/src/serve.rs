//! Accepting connections: every TCP connection is counted against `--max-connections` and
//! `--max-per-ip` from the moment it is accepted (through its TLS handshake, its HTTP requests and, once
//! upgraded, its WebSocket session), and must finish its TLS handshake and each request's headers within
//! `--handshake-timeout`. A connection over a limit is answered once, with the reason, then closed
//! ([`crate::http`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::add_extension::AddExtension;

use crate::state::{Admission, State};

/// What each request learns about its connection (an axum `Extension`).
#[derive(Clone, Debug)]
pub struct Conn {
    pub peer: SocketAddr,
    /// Counted, or to be refused; shared by the connection's requests and its WebSocket session, so it is
    /// uncounted when the last of them ends.
    pub admission: Arc<Admission>,
}

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, app: Router, state: Arc<State>, tls: Option<TlsAcceptor>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(admission) = state.admit_connection(peer.ip()) else {
            state.metrics.refused("dropped");
            continue;
        };
        let conn = Conn { peer, admission: Arc::new(admission) };
        let (app, state, tls) = (app.clone(), Arc::clone(&state), tls.clone());
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                return serve_http(tcp, app, conn, &state).await;
            };
            match tokio::time::timeout(state.limits.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => serve_http(tls, app, conn, &state).await,
                _ => {
                    tracing::debug!(%peer, "TLS handshake failed or timed out");
                    state.metrics.refused("tls_handshake");
                }
            }
        });
    }
}

/// HTTP/1.1 on one connection, with upgrades to WebSocket.
async fn serve_http<Io>(io: Io, app: Router, conn: Conn, state: &State)
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(AddExtension::new(app, conn));
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.handshake_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        if e.is_timeout() {
            state.metrics.refused("header_timeout");
        }
        tracing::debug!(error = %e, "HTTP connection ended");
    }
}
