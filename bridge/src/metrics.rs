//! Prometheus metrics at `/metrics`: sessions, bytes relayed, refusals by reason.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sessions: Family<Labels, Gauge>,
    bytes: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("msnp_bridge");
        let sessions = Family::<Labels, Gauge>::default();
        let bytes = Family::<Labels, Counter>::default();
        let refusals = Family::<Labels, Counter>::default();
        registry.register("sessions", "WebSocket sessions open, by kind (ns or sb)", sessions.clone());
        registry.register("bytes", "Bytes relayed, by direction (up: browser to server)", bytes.clone());
        registry.register("refusals", "Connections or messages refused, by reason", refusals.clone());
        Metrics { registry, sessions, bytes, refusals }
    }
}

impl Metrics {
    pub fn session_opened(&self, kind: &'static str) {
        self.sessions.get_or_create(&vec![("kind", kind)]).inc();
    }

    pub fn session_closed(&self, kind: &'static str) {
        self.sessions.get_or_create(&vec![("kind", kind)]).dec();
    }

    /// The byte counters (up, down), for a session to keep rather than look up per message.
    pub fn byte_counters(&self) -> (Counter, Counter) {
        let get = |direction| self.bytes.get_or_create(&vec![("direction", direction)]).clone();
        (get("up"), get("down"))
    }

    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&vec![("reason", reason)]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
