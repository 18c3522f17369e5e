//! Prometheus metrics: connections, sign-ins (and refused guesses), refusals by reason. Served at
//! `--metrics-listen` by `msnp-server serve`, and within the bridge's `/metrics` when it embeds the server.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections: Family<Labels, Gauge>,
    sign_ins: Counter,
    sign_in_failures: Counter,
    sign_ins_throttled: Counter,
    referrals: Counter,
    refusals: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("msnp_server");
        let metrics = Metrics {
            connections: Family::default(),
            sign_ins: Counter::default(),
            sign_in_failures: Counter::default(),
            sign_ins_throttled: Counter::default(),
            referrals: Counter::default(),
            refusals: Family::default(),
            registry: Registry::default(),
        };
        registry.register("connections", "Connections open, by kind (ns or sb)", metrics.connections.clone());
        registry.register("sign_ins", "Successful sign-ins", metrics.sign_ins.clone());
        registry.register(
            "sign_in_failures",
            "Sign-ins whose password was checked and found wrong (or whose account does not exist)",
            metrics.sign_in_failures.clone(),
        );
        registry.register(
            "sign_ins_throttled",
            "Sign-ins refused with 911 without checking, after too many failures",
            metrics.sign_ins_throttled.clone(),
        );
        registry.register(
            "referrals",
            "Sign-ins a dispatch server referred to a notification server (XFR NS)",
            metrics.referrals.clone(),
        );
        registry.register("refusals", "Connections closed by a limit, by reason", metrics.refusals.clone());
        Metrics { registry, ..metrics }
    }
}

impl Metrics {
    pub fn connection_opened(&self, kind: &'static str) {
        self.connections.get_or_create(&vec![("kind", kind)]).inc();
    }

    pub fn connection_closed(&self, kind: &'static str) {
        self.connections.get_or_create(&vec![("kind", kind)]).dec();
    }

    pub fn signed_in(&self) {
        self.sign_ins.inc();
    }

    pub fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    pub fn referred(&self) {
        self.referrals.inc();
    }

    pub fn sign_in_throttled(&self) {
        self.sign_ins_throttled.inc();
    }

    /// Sign-ins referred on by a dispatch server so far.
    pub fn referrals(&self) -> u64 {
        self.referrals.get()
    }

    /// Checked failed sign-ins so far.
    pub fn sign_in_failures(&self) -> u64 {
        self.sign_in_failures.get()
    }

    /// Sign-ins refused unchecked so far.
    pub fn sign_ins_throttled(&self) -> u64 {
        self.sign_ins_throttled.get()
    }

    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&vec![("reason", reason)]).inc();
    }

    /// Connections closed for `reason` so far.
    pub fn refusals(&self, reason: &'static str) -> u64 {
        self.refusals.get_or_create(&vec![("reason", reason)]).get()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped. A request's headers must arrive within
/// 10 s.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    use hyper::{Response, StatusCode};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let response = if request.uri().path() == "/metrics" {
                Response::builder()
                    .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                    .body(metrics.render())
            } else {
                Response::builder().status(StatusCode::NOT_FOUND).body(String::new())
            };
            std::future::ready(response)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        tokio::spawn(connection);
    }
}
