//! Why a session was refused or ended: each WebSocket close code the bridge sends, with its reason and the
//! label it is counted under.

use std::borrow::Cow;

/// Why a session was refused or ended: a WebSocket close code and a readable reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: Cow<'static, str>,
    /// Short label for the refusal metric (`None`: a normal end, not a refusal).
    pub metric: Option<&'static str>,
}

impl Close {
    const fn fixed(code: u16, reason: &'static str, metric: Option<&'static str>) -> Close {
        Close { code, reason: Cow::Borrowed(reason), metric }
    }

    /// A switchboard announced on a host the bridge may not dial.
    pub fn sb_not_allowed(host: &str) -> Close {
        let reason = format!("the announced switchboard host {host} is not one this bridge may connect to");
        Close { code: 1008, reason: reason.into(), metric: Some("sb_not_allowed") }
    }

    pub const UPSTREAM_CLOSED: Close = Close::fixed(1000, "the server closed the connection", None);
    pub const SHUTDOWN: Close = Close::fixed(1001, "the bridge is shutting down", None);
    pub const IDLE: Close = Close::fixed(1001, "idle timeout", Some("idle"));
    pub const NOT_ANNOUNCED: Close =
        Close::fixed(1008, "that switchboard was not announced to this bridge", Some("not_announced"));
    pub const NOT_REFERRED: Close = Close::fixed(
        1008,
        "no notification server referred this browser there through this bridge (or the referral was used)",
        Some("not_referred"),
    );
    pub const BAD_COOKIE: Close = Close::fixed(
        1008,
        "the first command must present a switchboard cookie announced for this address (each works once)",
        Some("bad_cookie"),
    );
    pub const NOT_ONE_COMMAND: Close =
        Close::fixed(1008, "each message must hold exactly one MSNP command", Some("not_one_command"));
    pub const UNKNOWN_SERVER: Close = Close::fixed(1008, "no such server", Some("unknown_server"));
    pub const SLOW_FIRST_COMMAND: Close = Close::fixed(1008, "no command arrived in time", Some("handshake_timeout"));
    pub const TOO_MANY_PINGS: Close = Close::fixed(1008, "too many pings", Some("too_many_pings"));
    pub const TOO_BIG: Close = Close::fixed(1009, "message too big", Some("too_big"));
    pub const BAD_UPSTREAM_DATA: Close =
        Close::fixed(1011, "the server sent data that is not MSNP", Some("bad_upstream_data"));
    pub const SLOW_READER: Close = Close::fixed(1011, "the page is not reading its messages", Some("slow_reader"));
    pub const TOO_MANY: Close =
        Close::fixed(1013, "too many connections; try again later", Some("too_many_connections"));
    pub const TOO_MANY_FROM_YOU: Close =
        Close::fixed(1013, "too many connections from your address; try again later", Some("too_many_per_ip"));
    pub const PROTOCOL_ERROR: Close = Close::fixed(1002, "not a valid WebSocket message", Some("protocol_error"));
    // 1011 rather than 1014 (bad gateway), which some WebSocket clients still reject as a protocol error.
    pub const UNREACHABLE: Close = Close::fixed(1011, "the server is unreachable", Some("unreachable"));
}
