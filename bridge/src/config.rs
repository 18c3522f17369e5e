//! What the bridge is told on its command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// A notification server the page may connect to: `NAME=HOST:PORT`, or `HOST:PORT` (named after it);
/// several addresses separated by commas (`NAME=HOST:PORT,HOST:PORT`: a cluster's dispatch nodes, then its
/// nodes) are tried in turn; optionally followed by `,proxy-protocol`: every connection to it (and to the
/// switchboards it announces) then starts with a PROXY v2 header naming the browser's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    /// `HOST:PORT`s in the order they are tried; one that did not answer is skipped for a while.
    pub addresses: Vec<String>,
    pub proxy_protocol: bool,
}

impl FromStr for Upstream {
    type Err = String;
    fn from_str(s: &str) -> Result<Upstream, String> {
        let (s, proxy_protocol) = match s.strip_suffix(",proxy-protocol") {
            Some(rest) => (rest, true),
            None => (s, false),
        };
        let (name, addresses) = match s.split_once('=') {
            Some((name, addresses)) => (name.to_owned(), addresses),
            // Named after its first address.
            None => (s.split(',').next().unwrap_or(s).to_owned(), s),
        };
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !valid_name {
            return Err(format!("{name:?}: a server name is letters, digits, '-', '_', '.' or ':'"));
        }
        let addresses: Vec<String> = addresses.split(',').map(str::to_owned).collect();
        for address in &addresses {
            let port_ok =
                address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(format!("{address:?}: expected HOST:PORT"));
            }
        }
        Ok(Upstream { name, addresses, proxy_protocol })
    }
}

/// Which header a trusted proxy writes the client's address in. Only that one is read: the proxy passes
/// the other through as the client sent it (a client could name any address there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, as nginx's `$proxy_add_x_forwarded_for` writes it.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<ForwardedHeader, String> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!("{s:?}: expected x-forwarded-for or forwarded")),
        }
    }
}

/// Whom guest accounts may add and ring on the embedded server (`--guests-reach`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GuestsReach {
    /// The robots, other guests, and people who put the guest on their allow list themselves.
    #[default]
    Contacts,
    /// Anyone, as any other account.
    Everyone,
}

impl FromStr for GuestsReach {
    type Err = String;
    fn from_str(s: &str) -> Result<GuestsReach, String> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" => Ok(GuestsReach::Contacts),
            "everyone" => Ok(GuestsReach::Everyone),
            _ => Err(format!("{s:?}: expected contacts or everyone")),
        }
    }
}

/// Where announced switchboards may be, besides the announcing server's own address: a host name, or
/// a network (CIDR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SbAllow {
    Host(String),
    Network(IpNet),
}

impl FromStr for SbAllow {
    type Err = String;
    fn from_str(s: &str) -> Result<SbAllow, String> {
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(SbAllow::Network(net));
        }
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            return Ok(SbAllow::Network(IpNet::from(ip)));
        }
        let valid = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
        if valid {
            Ok(SbAllow::Host(s.to_ascii_lowercase()))
        } else {
            Err(format!("{s:?}: expected a host name or a CIDR"))
        }
    }
}

/// Limits, each a command-line flag.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest WebSocket message, and largest MSNP command relayed either way.
    pub max_message: usize,
    /// WebSocket sessions open at once.
    pub max_connections: usize,
    /// WebSocket sessions open at once from one client address.
    pub max_per_ip: usize,
    /// Time for a TLS handshake, for an HTTP request's headers, and for a switchboard connection's first
    /// command.
    pub handshake_timeout: Duration,
    /// Time to connect to an upstream server.
    pub connect_timeout: Duration,
    /// How often the bridge pings an idle browser.
    pub ping_interval: Duration,
    /// A session with nothing received (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Bytes waiting to be written to a browser before it counts as not reading and is closed.
    pub write_buffer: usize,
    /// How long an announced switchboard address and cookie may be used.
    pub announce_ttl: Duration,
    /// WebSocket pings a browser may send per second (as many at once); past that its session is closed
    /// with `1008`. A browser's pings are not activity: they keep no session from its idle timeout.
    pub client_pings_per_second: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message: 8 * 1024,
            max_connections: 10_000,
            max_per_ip: 64,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_buffer: 256 * 1024,
            announce_ttl: Duration::from_secs(300),
            client_pings_per_second: 2.0,
        }
    }
}

/// The bridge's whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Notification servers; empty: start the project's server in-process.
    pub upstreams: Vec<Upstream>,
    /// The built frontend (Trunk's dist/), served at `/`.
    pub static_dir: Option<PathBuf>,
    /// Where the embedded server keeps its database.
    pub data_dir: PathBuf,
    /// The origins the bridge is reached at (`https://chat.example`); none: its listen address and
    /// `localhost`, with the port it listens on.
    pub public_origins: Vec<String>,
    /// Other origins allowed to open WebSockets (a development server, say).
    pub allow_origins: Vec<String>,
    /// Proxies (load balancers, nginx) whose forwarding header names the client.
    pub trust_proxy: Vec<IpNet>,
    /// Which forwarding header they write.
    pub forwarded_header: ForwardedHeader,
    /// Where announced switchboards may be, besides the announcing server's own address.
    pub sb_allow: Vec<SbAllow>,
    /// The embedded server's ports.
    pub ns_listen: SocketAddr,
    pub sb_listen: SocketAddr,
    pub limits: Limits,
    /// PEM certificate chain and private key: serve https and wss.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Sign the demo's robot accounts in to the embedded server (see `msnp_server::robots`).
    pub robots: bool,
    /// Keep the demo's shared accounts (alice, bob, carol, dave) on the embedded server; a public demo turns
    /// this off (anyone could push anyone out of them), leaving the robots and guests.
    pub demo_accounts: bool,
    /// Offer temporary accounts on the sign-in page (embedded server only).
    pub guests: Option<GuestPolicy>,
    /// Share announcements with the other bridges behind the same load balancer through these NATS
    /// servers (`nats://…`, several separated by commas), kept on this many of them.
    pub share_announcements: Option<(String, usize)>,
}

/// Temporary guest accounts: how long they last and how many there may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestPolicy {
    /// After this, the account is removed from the server and from every list.
    pub ttl: Duration,
    /// Accounts one client address (IPv6: one /64) may make per hour.
    pub per_address_per_hour: u32,
    /// Accounts all clients together may make per minute, so that a pool of addresses cannot take them all
    /// in seconds.
    pub per_minute: u32,
    /// Guest accounts at once.
    pub max: usize,
    /// Whom they may add and ring.
    pub reach: GuestsReach,
}

impl Default for GuestPolicy {
    fn default() -> GuestPolicy {
        GuestPolicy {
            ttl: Duration::from_secs(24 * 3600),
            per_address_per_hour: 3,
            per_minute: 30,
            max: 1000,
            reach: GuestsReach::Contacts,
        }
    }
}

impl Config {
    /// A configuration for `listen` with everything else at its default (embedded server on loopback).
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            upstreams: Vec::new(),
            static_dir: None,
            data_dir,
            public_origins: Vec::new(),
            allow_origins: Vec::new(),
            trust_proxy: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            sb_allow: Vec::new(),
            ns_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            sb_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: Limits::default(),
            tls: None,
            robots: false,
            demo_accounts: true,
            guests: None,
            share_announcements: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_forms() {
        assert_eq!(
            "escargot=m1.escargot.chat:1863".parse(),
            Ok(Upstream {
                name: "escargot".into(),
                addresses: vec!["m1.escargot.chat:1863".into()],
                proxy_protocol: false
            })
        );
        assert_eq!(
            "127.0.0.1:1863".parse(),
            Ok(Upstream {
                name: "127.0.0.1:1863".into(),
                addresses: vec!["127.0.0.1:1863".into()],
                proxy_protocol: false
            })
        );
        assert_eq!(
            "local=127.0.0.1:1863,proxy-protocol".parse(),
            Ok(Upstream { name: "local".into(), addresses: vec!["127.0.0.1:1863".into()], proxy_protocol: true })
        );
        assert_eq!(
            "farm=dispatch.example:1863,ns1.example:1863,ns2.example:1863,proxy-protocol".parse(),
            Ok(Upstream {
                name: "farm".into(),
                addresses: vec!["dispatch.example:1863".into(), "ns1.example:1863".into(), "ns2.example:1863".into()],
                proxy_protocol: true
            })
        );
        assert!("farm=h:1,".parse::<Upstream>().is_err());
        assert!("x=host".parse::<Upstream>().is_err());
        assert!("x=:1863".parse::<Upstream>().is_err());
        assert!("bad name=h:1".parse::<Upstream>().is_err());
        assert!("x=h:99999".parse::<Upstream>().is_err());
        assert!("x=h:1,proxy".parse::<Upstream>().is_err());
    }

    #[test]
    fn sb_allow_forms() {
        assert_eq!("sb.example.net".parse(), Ok(SbAllow::Host("sb.example.net".into())));
        assert_eq!("203.0.113.0/24".parse(), Ok(SbAllow::Network("203.0.113.0/24".parse().unwrap())));
        assert_eq!("203.0.113.9".parse(), Ok(SbAllow::Network("203.0.113.9/32".parse().unwrap())));
        assert!("bad host/x".parse::<SbAllow>().is_err());
    }
}
