//! Connecting upstream: to configured notification servers, and to announced switchboards only on hosts
//! the operator allows. What is checked is what is dialled: a host name is resolved once, each address
//! is checked, and only checked addresses are connected to (no second lookup a DNS answer could change).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::close::Close;
use crate::config::{SbAllow, Upstream};

/// How long a configured server's address that did not answer is tried only after the others.
pub const SKIP_UNREACHABLE: Duration = Duration::from_secs(30);

/// Configured servers' addresses that did not answer lately, and since when.
#[derive(Debug, Default)]
pub struct Unreachable(Mutex<HashMap<String, Instant>>);

impl Unreachable {
    /// `addresses` in the order to try them at `now`: as configured, but those that failed within
    /// [`SKIP_UNREACHABLE`] last (still tried, so that a server is never left with nothing to try).
    pub fn order<'a>(&self, addresses: &'a [String], now: Instant) -> Vec<&'a str> {
        let failed = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let recent = |a: &String| failed.get(a).is_some_and(|at| now.duration_since(*at) < SKIP_UNREACHABLE);
        let (mut later, mut first) = (Vec::new(), Vec::new());
        for a in addresses {
            if recent(a) { later.push(a.as_str()) } else { first.push(a.as_str()) }
        }
        first.extend(later);
        first
    }

    fn failed(&self, address: &str, now: Instant) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(address.to_owned(), now);
    }

    fn answered(&self, address: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(address);
    }
}

/// Connects to the first of `upstream`'s addresses that answers (those that did not lately, last); for a
/// server that speaks the PROXY protocol, first says whom the connection is for (`client`).
pub async fn upstream(
    upstream: &Upstream,
    unreachable: &Unreachable,
    timeout: Duration,
    client: SocketAddr,
) -> Result<TcpStream, Close> {
    let proxy_for = upstream.proxy_protocol.then_some(client);
    let mut last = Close::UNREACHABLE;
    for address in unreachable.order(&upstream.addresses, Instant::now()) {
        let attempt = async { connect(&resolve(address, timeout).await?, timeout, proxy_for).await };
        match attempt.await {
            Ok(tcp) => {
                unreachable.answered(address);
                return Ok(tcp);
            }
            Err(close) => {
                tracing::info!(%address, "a configured server did not answer: trying the next");
                unreachable.failed(address, Instant::now());
                last = close;
            }
        }
    }
    Err(last)
}

/// Address ranges a public server has no business pointing a bridge at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Range {
    Loopback,
    Private,
    LinkLocal,
}

fn local(ip: IpAddr) -> Option<Range> {
    // IPv4-mapped IPv6 addresses are the IPv4 addresses they map.
    match ip.to_canonical() {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() => Some(Range::Loopback),
        IpAddr::V4(v4) if v4.is_private() || (v4.octets()[0] == 100 && v4.octets()[1] & 0xC0 == 64) => {
            Some(Range::Private)
        }
        IpAddr::V4(v4) if v4.is_link_local() => Some(Range::LinkLocal),
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => Some(Range::Loopback),
        IpAddr::V6(v6) if v6.segments()[0] & 0xFE00 == 0xFC00 => Some(Range::Private),
        IpAddr::V6(v6) if v6.segments()[0] & 0xFFC0 == 0xFE80 => Some(Range::LinkLocal),
        _ => None,
    }
}

/// Whether a switchboard at `ip` (announced as `host`) may be dialled for the notification server at
/// `ns`: it must be the server's own address or one the operator allowed (`--sb-allow`); and loopback,
/// private and link-local addresses only ever for a server that is itself on such an address.
pub fn sb_allowed(host: &str, ip: IpAddr, ns: IpAddr, allow: &[SbAllow]) -> bool {
    let (ip, ns) = (ip.to_canonical(), ns.to_canonical());
    if let Some(kind) = local(ip)
        && local(ns) != Some(kind)
    {
        return false;
    }
    ip == ns
        || allow.iter().any(|a| match a {
            SbAllow::Host(allowed) => allowed.eq_ignore_ascii_case(host),
            SbAllow::Network(net) => net.contains(&ip),
        })
}

/// The host part of `HOST:PORT` (`[v6]:PORT` too).
fn host(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The addresses the switchboard `address` (announced by the server at `ns`) may be reached at; the name is
/// looked up within `timeout`.
pub async fn sb_addresses(
    address: &str,
    ns: IpAddr,
    allow: &[SbAllow],
    timeout: Duration,
) -> Result<Vec<SocketAddr>, Close> {
    let host = host(address);
    let resolved = resolve(address, timeout).await?;
    let allowed: Vec<SocketAddr> = resolved.into_iter().filter(|a| sb_allowed(host, a.ip(), ns, allow)).collect();
    if allowed.is_empty() {
        tracing::warn!(%address, "refused: announced switchboard host not allowed");
        return Err(Close::sb_not_allowed(host));
    }
    Ok(allowed)
}

/// Connects to the first of `addresses` that answers within `timeout`; for a server that speaks the
/// PROXY protocol, first says whom the connection is for (`client`).
pub async fn connect(
    addresses: &[SocketAddr],
    timeout: Duration,
    proxy_for: Option<SocketAddr>,
) -> Result<TcpStream, Close> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addresses))
        .await
        .map_err(|_| Close::UNREACHABLE)?
        .map_err(|_| Close::UNREACHABLE)?;
    let _ = tcp.set_nodelay(true);
    if let Some(client) = proxy_for {
        let server = tcp.peer_addr().map_err(|_| Close::UNREACHABLE)?;
        let mut tcp = tcp;
        tcp.write_all(&msnp_server::proxy::v2_header(client, server)).await.map_err(|_| Close::UNREACHABLE)?;
        return Ok(tcp);
    }
    Ok(tcp)
}

/// Resolves a configured server's `HOST:PORT` (any address it has is fine: the operator named it).
pub async fn resolve(address: &str, timeout: Duration) -> Result<Vec<SocketAddr>, Close> {
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host(address))
        .await
        .map_err(|_| Close::UNREACHABLE)?
        .map_err(|_| Close::UNREACHABLE)?;
    Ok(resolved.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_that_did_not_answer_are_tried_last_for_a_while() {
        let addresses: Vec<String> = ["a:1", "b:1", "c:1"].map(String::from).into();
        let unreachable = Unreachable::default();
        let t0 = Instant::now();
        assert_eq!(unreachable.order(&addresses, t0), ["a:1", "b:1", "c:1"]);
        unreachable.failed("a:1", t0);
        unreachable.failed("b:1", t0 + Duration::from_secs(10));
        assert_eq!(unreachable.order(&addresses, t0 + Duration::from_secs(20)), ["c:1", "a:1", "b:1"]);
        assert_eq!(unreachable.order(&addresses, t0 + SKIP_UNREACHABLE), ["a:1", "c:1", "b:1"]);
        unreachable.answered("b:1");
        assert_eq!(unreachable.order(&addresses, t0 + Duration::from_secs(20)), ["b:1", "c:1", "a:1"]);
    }

    #[test]
    fn the_servers_own_address_or_what_the_operator_allows() {
        let none: &[SbAllow] = &[];
        assert!(sb_allowed("203.0.113.7", ip("203.0.113.7"), ip("203.0.113.7"), none));
        assert!(!sb_allowed("203.0.113.8", ip("203.0.113.8"), ip("203.0.113.7"), none));
        let allow = ["203.0.113.0/24".parse().unwrap(), "sb.example.net".parse().unwrap()];
        assert!(sb_allowed("203.0.113.8", ip("203.0.113.8"), ip("198.51.100.1"), &allow));
        assert!(sb_allowed("SB.example.net", ip("192.0.2.9"), ip("198.51.100.1"), &allow));
        assert!(!sb_allowed("other.example.net", ip("192.0.2.9"), ip("198.51.100.1"), &allow));
    }

    #[test]
    fn local_addresses_only_for_a_server_that_is_local_too() {
        let allow_all = ["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()];
        for local in ["127.0.0.1", "10.0.0.7", "192.168.1.1", "172.16.0.1", "169.254.1.1", "::1", "fd00::1", "fe80::1"]
        {
            assert!(!sb_allowed(local, ip(local), ip("203.0.113.7"), &allow_all), "{local}");
        }
        assert!(sb_allowed("127.0.0.1", ip("127.0.0.1"), ip("127.0.0.1"), &[]));
        assert!(sb_allowed("::ffff:127.0.0.1", ip("::ffff:127.0.0.1"), ip("127.0.0.1"), &[]));
        // Another loopback address is another host: allowed only if the operator says so.
        assert!(!sb_allowed("127.0.0.2", ip("127.0.0.2"), ip("127.0.0.1"), &[]));
        assert!(sb_allowed("127.0.0.2", ip("127.0.0.2"), ip("127.0.0.1"), &["127.0.0.2".parse().unwrap()]));
        // A private server may announce a private switchboard the operator allows, not a loopback one.
        let private = ["10.0.0.0/8".parse().unwrap(), "127.0.0.0/8".parse().unwrap()];
        assert!(sb_allowed("10.0.0.8", ip("10.0.0.8"), ip("10.0.0.7"), &private));
        assert!(!sb_allowed("127.0.0.1", ip("127.0.0.1"), ip("10.0.0.7"), &private));
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host("sb.example.net:1864"), "sb.example.net");
        assert_eq!(host("[2001:db8::1]:1864"), "2001:db8::1");
        assert_eq!(host("127.0.0.1:1864"), "127.0.0.1");
    }
}
