//! The HTTP side: `/ws` (sessions), `/servers`, `/healthz`, `/metrics`, and the built app at `/`.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::relay::{self, Target};
use crate::state::{Close, State};
use crate::tls::Peer;

pub fn router(state: Arc<State>, static_dir: Option<&Path>) -> Router {
    let router = Router::new()
        .route("/ws", get(websocket))
        .route("/servers", get(servers))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state);
    match static_dir {
        // ServeDir never lists directories and refuses paths that leave its folder.
        Some(dir) => router.fallback_service(ServeDir::new(dir)).layer(CompressionLayer::new()),
        None => router,
    }
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    /// A configured notification server by name (default: the first).
    server: Option<String>,
    /// A switchboard `HOST:PORT`, only if a notification server announced it through this bridge.
    sb: Option<String>,
}

async fn websocket(
    Shared(state): Shared<Arc<State>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.allow_origins) {
        state.metrics.refused("origin");
        tracing::warn!(%peer, origin = ?headers.get(header::ORIGIN), "refused: origin not allowed");
        return (StatusCode::FORBIDDEN, "this page's origin may not use the bridge").into_response();
    }
    let target = match (query.sb, query.server) {
        (Some(address), _) => Ok(Target::Switchboard { address }),
        (None, name) => {
            let upstream = match name {
                None => state.upstreams.first(),
                Some(name) => state.upstreams.iter().find(|u| u.name == name),
            };
            upstream.map(|u| Target::Notification { address: u.address.clone() }).ok_or(Close::UNKNOWN_SERVER)
        }
    };
    let limits = state.limits;
    upgrade
        .max_message_size(limits.max_message)
        .max_frame_size(limits.max_message)
        // Each message is flushed as it is sent (no write buffering), and what waits unsent is bounded; the
        // bound always fits a whole message.
        .write_buffer_size(0)
        // tungstenite reads into a 128 KiB buffer by default: far more than an MSNP command needs, per session.
        .read_buffer_size(4096)
        .max_write_buffer_size(limits.write_buffer.max(2 * limits.max_message))
        .on_upgrade(move |ws| {
            let span = tracing::info_span!("ws", %peer);
            tracing::Instrument::instrument(relay::session(ws, target, state, peer), span)
        })
}

/// A browser always sends `Origin` with a WebSocket handshake; it must be the bridge's own origin (the
/// `Host` it was reached at) or one explicitly allowed. Clients that send no `Origin` are not browsers,
/// and cannot be made to carry a user's cookies to the bridge, so they are let through.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if allowed.iter().any(|a| origin_matches(a, origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let own = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    !host.is_empty() && own.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// `pattern` is an origin, or an origin whose port is `*` (any port of that scheme and host, for
/// development servers on loopback whose port changes).
fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(base) => origin
            .rsplit_once(':')
            .is_some_and(|(o, port)| o.eq_ignore_ascii_case(base) && port.bytes().all(|b| b.is_ascii_digit())),
        None => pattern.eq_ignore_ascii_case(origin),
    }
}

/// The notification servers the page may choose from, first is the default.
async fn servers(Shared(state): Shared<Arc<State>>) -> axum::Json<Vec<String>> {
    axum::Json(state.upstreams.iter().map(|u| u.name.clone()).collect())
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        let none: &[String] = &[];
        assert!(origin_allowed(&headers(None, "127.0.0.1:8080"), none));
        assert!(origin_allowed(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"), none));
        assert!(origin_allowed(&headers(Some("https://chat.example"), "chat.example"), none));
        assert!(!origin_allowed(&headers(Some("http://evil.example"), "127.0.0.1:8080"), none));
        assert!(!origin_allowed(&headers(Some("http://127.0.0.1:8080.evil.example"), "127.0.0.1:8080"), none));
        assert!(!origin_allowed(&headers(Some("null"), "127.0.0.1:8080"), none));
        let allowed = ["http://localhost:3000".to_owned(), "http://127.0.0.1:*".to_owned()];
        assert!(origin_allowed(&headers(Some("http://localhost:3000"), "127.0.0.1:8080"), &allowed));
        assert!(origin_allowed(&headers(Some("http://127.0.0.1:41234"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(Some("http://127.0.0.1.evil.example:80"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(Some("https://127.0.0.1:443"), "127.0.0.1:8080"), &allowed));
    }
}
