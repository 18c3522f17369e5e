//! The HTTP side: `/ws` (sessions), `/servers`, `/guest`, `/demo`, `/healthz`, `/metrics`, and the built app at `/`.

use std::path::Path;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, Request, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use crate::close::Close;
use crate::guests::Refused;
use crate::relay::{self, Target};
use crate::serve::Conn;
use crate::state::{Admission, State};

pub fn router(state: Arc<State>, static_dir: Option<&Path>) -> Router {
    let router = Router::new()
        .route("/ws", get(websocket))
        .route("/servers", get(servers))
        .route("/guest", get(guest_offer).post(guest_create))
        .route("/demo", get(demo))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state);
    let router = match static_dir {
        // ServeDir never lists directories and refuses paths that leave its folder. A file compressed at build
        // (`name.br` and `name.gz` beside it, as `cargo xtask build` makes) is sent as it is, brotli where the
        // browser takes it; others are compressed per response.
        Some(dir) => {
            let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
            router.fallback_service(files).layer(CompressionLayer::new())
        }
        None => router,
    };
    router.layer(axum::middleware::from_fn(refuse_over_limits))
}

/// A connection over a limit gets one answer, then is closed: a WebSocket handshake is completed so the
/// page can read why (a close code with the reason, see [`websocket`]); anything else gets `503`.
async fn refuse_over_limits(Extension(conn): Extension<Conn>, request: Request, next: Next) -> Response {
    match &*conn.admission {
        Admission::Refused(refusal) if request.uri().path() != "/ws" => {
            let headers = [(header::CONNECTION, "close")];
            (StatusCode::SERVICE_UNAVAILABLE, headers, refusal.close.reason.to_string()).into_response()
        }
        _ => next.run(request).await,
    }
}

/// `GET /guest`: whether guest accounts are offered, and for how long they last.
async fn guest_offer(Shared(state): Shared<Arc<State>>) -> Response {
    match &state.guests {
        Some(guests) => axum::Json(guests.offer()).into_response(),
        None => (StatusCode::NOT_FOUND, "no guest accounts here").into_response(),
    }
}

/// `POST /guest` from an allowed origin: a new guest account (e-mail and password, shown to its person once),
/// or why not.
async fn guest_create(
    Shared(state): Shared<Arc<State>>,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
) -> Response {
    #[derive(serde::Serialize)]
    struct Made {
        email: String,
        password: String,
    }
    let Some(guests) = state.guests.clone() else {
        return (StatusCode::NOT_FOUND, "no guest accounts here").into_response();
    };
    let client = crate::client::address(conn.peer, &headers, &state.trusted_proxies, state.forwarded_header);
    if !origin_allowed(&headers, &state.origins) {
        state.metrics.refused("origin");
        return (StatusCode::FORBIDDEN, "this page's origin may not make accounts here").into_response();
    }
    match guests.make(client.ip()).await {
        Ok(guest) => {
            tracing::info!(%client, email = guest.email, "guest account created");
            axum::Json(Made { email: guest.email, password: guest.password }).into_response()
        }
        Err(Refused::Later { why, wait }) => {
            let retry = [(header::RETRY_AFTER, wait.as_secs().max(1))];
            (StatusCode::TOO_MANY_REQUESTS, retry, why).into_response()
        }
        Err(Refused::AllTaken) => {
            (StatusCode::SERVICE_UNAVAILABLE, "All temporary accounts are taken; try again later.").into_response()
        }
        Err(Refused::Failed) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "The server could not make an account.").into_response()
        }
    }
}

/// `GET /demo`: the embedded server's demo accounts (public by design: the page names them), or 404.
async fn demo(Shared(state): Shared<Arc<State>>) -> Response {
    #[derive(serde::Serialize)]
    struct Login<'a> {
        email: &'a str,
        password: &'a str,
    }
    if state.demo_accounts.is_empty() {
        return (StatusCode::NOT_FOUND, "no demo accounts here").into_response();
    }
    let logins: Vec<Login> = state.demo_accounts.iter().map(|(email, password)| Login { email, password }).collect();
    axum::Json(logins).into_response()
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    /// A configured notification server by name (default: the first).
    server: Option<String>,
    /// A switchboard `HOST:PORT`, only if a notification server announced it through this bridge.
    sb: Option<String>,
    /// A notification server `HOST:PORT` a configured one referred this browser to (`XFR … NS`).
    ns: Option<String>,
}

async fn websocket(
    Shared(state): Shared<Arc<State>>,
    Extension(conn): Extension<Conn>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client = crate::client::address(conn.peer, &headers, &state.trusted_proxies, state.forwarded_header);
    if !origin_allowed(&headers, &state.origins) {
        state.metrics.refused("origin");
        tracing::warn!(%client, origin = ?headers.get(header::ORIGIN), "refused: origin not allowed");
        return (StatusCode::FORBIDDEN, "this page's origin may not use the bridge").into_response();
    }
    let target = match (query.sb, query.ns, query.server) {
        (Some(address), _, _) => Ok(Target::Switchboard { address }),
        (None, Some(address), _) => Ok(Target::Referral { address }),
        (None, None, name) => {
            let upstream = match name {
                None => state.upstreams.first(),
                Some(name) => state.upstreams.iter().find(|u| u.name == name),
            };
            upstream.map(|u| Target::Notification { upstream: u.clone() }).ok_or(Close::UNKNOWN_SERVER)
        }
    };
    // A client behind a trusted proxy is counted per address now that its address is known.
    let client_count = state.trusted(conn.peer.ip()).then(|| state.admit_client(client.ip()));
    let refusal = match (&*conn.admission, &client_count) {
        (Admission::Refused(refusal), _) => Some(refusal.close.clone()),
        (_, Some(Err(close))) => Some(close.clone()),
        _ => None,
    };
    let target = match refusal {
        Some(close) => Err(close),
        None => target,
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
        .on_upgrade(move |ws| async move {
            // The counts live as long as the session.
            let _counted = (conn, client_count);
            let span = tracing::info_span!("ws", %client);
            tracing::Instrument::instrument(relay::session(ws, target, state, client), span).await
        })
}

/// A browser always sends `Origin` with a WebSocket handshake; it must be one of the bridge's own
/// origins (`--public-origin`, or the address it listens on) or one explicitly allowed. The `Host` header
/// proves nothing (a DNS-rebinding page sends a matching one). Clients that send no `Origin` are not
/// browsers, and cannot be made to carry a user's cookies to the bridge, so they are let through.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    allowed.iter().any(|a| origin_matches(a, origin))
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

/// The bridge's own origins when none are configured: its listen address and `localhost` (all loopback
/// forms when it listens on every address), with its port, over http or (with TLS) https.
pub fn own_origins(listen: std::net::SocketAddr, tls: bool) -> Vec<String> {
    let scheme = if tls { "https" } else { "http" };
    let ip = listen.ip();
    let hosts = if ip.is_unspecified() {
        vec!["127.0.0.1".to_owned(), "[::1]".to_owned()]
    } else if ip.is_ipv6() {
        vec![format!("[{ip}]")]
    } else {
        vec![ip.to_string()]
    };
    let default_port = if tls { 443 } else { 80 };
    hosts
        .into_iter()
        .chain(["localhost".to_owned()])
        .flat_map(|host| {
            let with_port = format!("{scheme}://{host}:{}", listen.port());
            let bare = (listen.port() == default_port).then(|| format!("{scheme}://{host}"));
            std::iter::once(with_port).chain(bare)
        })
        .collect()
}

/// The notification servers the page may choose from, first is the default.
async fn servers(Shared(state): Shared<Arc<State>>) -> axum::Json<Vec<String>> {
    axum::Json(state.upstreams.iter().map(|u| u.name.clone()).collect())
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics_text())
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
        let own = own_origins("127.0.0.1:8080".parse().unwrap(), false);
        assert_eq!(own, ["http://127.0.0.1:8080", "http://localhost:8080"]);
        assert!(origin_allowed(&headers(None, "127.0.0.1:8080"), &own));
        assert!(origin_allowed(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"), &own));
        assert!(origin_allowed(&headers(Some("http://localhost:8080"), "localhost:8080"), &own));
        // A page on another name whose Host matches its own Origin (DNS rebinding) is not the bridge's.
        assert!(!origin_allowed(&headers(Some("http://rebind.example:8080"), "rebind.example:8080"), &own));
        assert!(!origin_allowed(&headers(Some("http://evil.example"), "127.0.0.1:8080"), &own));
        assert!(!origin_allowed(&headers(Some("http://127.0.0.1:8080.evil.example"), "127.0.0.1:8080"), &own));
        assert!(!origin_allowed(&headers(Some("null"), "127.0.0.1:8080"), &own));
        // The scheme counts.
        assert!(!origin_allowed(&headers(Some("https://127.0.0.1:8080"), "127.0.0.1:8080"), &own));
        let allowed = ["http://localhost:3000".to_owned(), "http://127.0.0.1:*".to_owned()];
        assert!(origin_allowed(&headers(Some("http://localhost:3000"), "127.0.0.1:8080"), &allowed));
        assert!(origin_allowed(&headers(Some("http://127.0.0.1:41234"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(Some("http://127.0.0.1.evil.example:80"), "127.0.0.1:8080"), &allowed));
        assert!(!origin_allowed(&headers(Some("https://127.0.0.1:443"), "127.0.0.1:8080"), &allowed));
    }

    #[test]
    fn own_origins_by_listen_address_and_scheme() {
        assert_eq!(
            own_origins("0.0.0.0:443".parse().unwrap(), true),
            [
                "https://127.0.0.1:443",
                "https://127.0.0.1",
                "https://[::1]:443",
                "https://[::1]",
                "https://localhost:443",
                "https://localhost"
            ]
        );
        assert_eq!(own_origins("[::1]:8080".parse().unwrap(), false), ["http://[::1]:8080", "http://localhost:8080"]);
    }
}
