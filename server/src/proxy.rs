//! The PROXY protocol (HAProxy's, versions 1 and 2): how a bridge or load balancer in front of the
//! server tells it the address of the client it relays, so that sign-in throttling, per-address limits
//! and logs see the real client.
//!
//! Only peers in `--proxy-protocol-from` may send a header. A trusted peer that sends none is a client of
//! unknown address (limited per account only). Anyone else's header is not MSNP: the connection is closed
//! by the protocol's own rule for a first command that is not `VER` (or `USR`/`ANS` on a switchboard).

use std::net::IpAddr;

use ipnet::IpNet;
use ppp::{HeaderResult, PartialResult};

/// The version 2 signature; version 1 starts `PROXY `.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest header accepted: version 1's maximum (107 bytes) or a version 2 header with a few TLVs.
pub const MAX_HEADER: usize = 536;

/// Who may send PROXY headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trusted(pub Vec<IpNet>);

impl Trusted {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// What the first bytes from a trusted peer say.
#[derive(Debug, PartialEq, Eq)]
pub enum Header {
    /// Not enough bytes to tell yet.
    Incomplete,
    /// No header: the stream starts with MSNP.
    Absent,
    /// A header of this many bytes, naming the client (`None`: `UNKNOWN`/`LOCAL`, e.g. a health check).
    Client { len: usize, address: Option<IpAddr> },
    /// Starts like a header but is not a valid one (or is too long): close.
    Invalid,
}

/// Reads a PROXY header at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Header {
    let maybe = |prefix: &[u8]| prefix.starts_with(&bytes[..bytes.len().min(prefix.len())]);
    if !maybe(V2_SIGNATURE) && !maybe(V1_PREFIX) {
        return Header::Absent;
    }
    let result = HeaderResult::parse(bytes);
    // A version 1 header is one line: once its end has arrived, it is whole or it is wrong.
    let v1_ended = maybe(V1_PREFIX) && bytes.contains(&b'\n');
    if result.is_incomplete() {
        return if bytes.len() >= MAX_HEADER || v1_ended { Header::Invalid } else { Header::Incomplete };
    }
    match result {
        HeaderResult::V1(Ok(h)) => Header::Client {
            len: h.header.len(),
            address: match h.addresses {
                ppp::v1::Addresses::Tcp4(a) => Some(IpAddr::V4(a.source_address)),
                ppp::v1::Addresses::Tcp6(a) => Some(IpAddr::V6(a.source_address)),
                ppp::v1::Addresses::Unknown => None,
            },
        },
        HeaderResult::V2(Ok(h)) => Header::Client {
            len: h.len(),
            address: match (h.command, h.addresses) {
                (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => Some(IpAddr::V4(a.source_address)),
                (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => Some(IpAddr::V6(a.source_address)),
                _ => None,
            },
        },
        _ => Header::Invalid,
    }
}

/// A version 2 header saying the connection comes from `client` (and was made to `server`).
pub fn v2_header(client: std::net::SocketAddr, server: std::net::SocketAddr) -> Vec<u8> {
    let (client, server) = match (client, server) {
        (c @ std::net::SocketAddr::V4(_), s @ std::net::SocketAddr::V4(_))
        | (c @ std::net::SocketAddr::V6(_), s @ std::net::SocketAddr::V6(_)) => (c, s),
        // Mixed families: say both in IPv6.
        (c, s) => (to_v6(c), to_v6(s)),
    };
    let version_command = ppp::v2::Version::Two as u8 | ppp::v2::Command::Proxy as u8;
    ppp::v2::Builder::with_addresses(version_command, ppp::v2::Protocol::Stream, (client, server))
        .build()
        // Writing into a Vec cannot fail.
        .unwrap_or_default()
}

fn to_v6(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    match addr {
        std::net::SocketAddr::V4(v4) => std::net::SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        v6 => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_and_2_headers_and_their_absence() {
        let v1 = b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 1863\r\nVER 1 MSNP2\r\n";
        assert_eq!(parse(v1), Header::Client { len: 44, address: Some("203.0.113.7".parse().unwrap()) });
        assert_eq!(parse(&v1[..20]), Header::Incomplete);
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Header::Client { len: 15, address: None });

        let client = "[2001:db8::7]:40000".parse().unwrap();
        let server = "[2001:db8::1]:1863".parse().unwrap();
        let mut v2 = v2_header(client, server);
        let len = v2.len();
        v2.extend_from_slice(b"VER 1 MSNP2\r\n");
        assert_eq!(parse(&v2), Header::Client { len, address: Some("2001:db8::7".parse().unwrap()) });
        assert_eq!(parse(&v2[..5]), Header::Incomplete);
        assert_eq!(parse(&v2[..14]), Header::Incomplete);

        assert_eq!(parse(b"VER 1 MSNP2\r\n"), Header::Absent);
        assert_eq!(parse(b"V"), Header::Absent);
        assert_eq!(parse(b"PROXY nonsense here\r\n"), Header::Invalid);
        assert_eq!(parse(b"PROXY TCP4 nonsense\r\nVER 1 MSNP2\r\n"), Header::Invalid);
        assert_eq!(parse(&[b"PROXY ".as_slice(), &[b'1'; 600]].concat()), Header::Invalid);
    }

    #[test]
    fn trusted_networks() {
        let trusted = Trusted(vec!["127.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()]);
        assert!(trusted.contains("127.0.0.2".parse().unwrap()));
        assert!(trusted.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(trusted.contains("2001:db8::5".parse().unwrap()));
        assert!(!trusted.contains("10.0.0.1".parse().unwrap()));
        assert!(!Trusted::default().contains("127.0.0.1".parse().unwrap()));
    }
}
