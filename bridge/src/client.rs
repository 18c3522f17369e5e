//! Who the client is. Behind a trusted proxy (`--trust-proxy`), the header that proxy writes says
//! (`X-Forwarded-For`, or `Forwarded` of RFC 7239: `--forwarded-header`; the other one is the client's own
//! and is never read); the rightmost address in it that is not itself a trusted proxy is the client
//! (addresses further left were written by the client and prove nothing). Anyone else's headers are
//! ignored.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ForwardedHeader;

/// The client behind a connection from `peer`.
pub fn address(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet], header: ForwardedHeader) -> SocketAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer.ip()) {
        return peer;
    }
    let hops = match header {
        ForwardedHeader::Forwarded => forwarded(headers),
        ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
    };
    let hops = hops.unwrap_or_default();
    // Rightmost first: the nearest hop our own proxy vouches for.
    for hop in hops.iter().rev() {
        match hop {
            Some(addr) if is_trusted(&addr.ip()) => continue,
            Some(addr) => return *addr,
            // An obfuscated or unknown hop: who is behind it cannot be told.
            None => break,
        }
    }
    peer
}

/// The `for=` of each element of every `Forwarded` header, in order; `None` for a value that is not an
/// address. `None` overall when there is no such header.
fn forwarded(headers: &HeaderMap) -> Option<Vec<Option<SocketAddr>>> {
    hops(headers, "forwarded", |element| {
        let node = element.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            name.eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
        });
        node.and_then(node_address)
    })
}

/// The addresses of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<Option<SocketAddr>>> {
    hops(headers, "x-forwarded-for", |hop| node_address(hop.trim()))
}

/// The comma-separated elements of every `name` header, in order, each read by `read`; `None` when there
/// is no such header.
fn hops(headers: &HeaderMap, name: &str, read: impl Fn(&str) -> Option<SocketAddr>) -> Option<Vec<Option<SocketAddr>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut hops = Vec::new();
    for value in values {
        let Ok(value) = value.to_str() else { return Some(vec![None]) };
        hops.extend(value.split(',').map(&read));
    }
    Some(hops)
}

/// A node as RFC 7239 writes it: `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::17]`, `[2001:db8::17]:4711`
/// (port 0 when none is given); `unknown` and obfuscated names are not addresses.
fn node_address(node: &str) -> Option<SocketAddr> {
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = node.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(node);
    ip.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FORWARDED: ForwardedHeader = ForwardedHeader::Forwarded;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let peer: SocketAddr = "198.51.100.1:5000".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(address(peer, &h, &nets(&["10.0.0.0/8"]), XFF), peer);
    }

    #[test]
    fn the_rightmost_untrusted_hop() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        // The client claims 1.2.3.4; our proxies (10.x) saw 203.0.113.9.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.3")]);
        assert_eq!(address(peer, &h, &trusted, XFF), "203.0.113.9:0".parse().unwrap());
        let h = headers(&[("forwarded", r#"for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https"#)]);
        assert_eq!(address(peer, &h, &trusted, FORWARDED), "[2001:db8:cafe::17]:4711".parse().unwrap());
        // Only the header the proxy writes is read (the other is the client's); several read as one list.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.50"),
            ("forwarded", "for=1.2.3.4"),
            ("forwarded", "for=192.0.2.60;by=10.0.0.2"),
        ]);
        assert_eq!(address(peer, &h, &trusted, FORWARDED), "192.0.2.60:0".parse().unwrap());
        assert_eq!(address(peer, &h, &trusted, XFF), "198.51.100.50:0".parse().unwrap());
        // A trusted proxy reached over IPv6 with an IPv4-mapped address is the same proxy.
        let mapped: SocketAddr = "[::ffff:10.0.0.2]:5000".parse().unwrap();
        assert_eq!(address(mapped, &h, &trusted, XFF), "198.51.100.50:0".parse().unwrap());
    }

    #[test]
    fn no_usable_header_means_the_proxy_itself() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(address(peer, &HeaderMap::new(), &trusted, XFF), peer);
        let hidden = headers(&[("forwarded", "for=_hidden, for=10.0.0.3")]);
        assert_eq!(address(peer, &hidden, &trusted, FORWARDED), peer);
        assert_eq!(address(peer, &headers(&[("forwarded", "for=unknown")]), &trusted, FORWARDED), peer);
        // The client's own Forwarded header, passed through by a proxy that writes X-Forwarded-For.
        assert_eq!(address(peer, &headers(&[("forwarded", "for=1.2.3.4")]), &trusted, XFF), peer);
    }
}
