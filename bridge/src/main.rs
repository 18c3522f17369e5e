//! `bridge`: serve the browser app and relay MSNP2 between WebSockets and TCP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bridge::config::{Config, ForwardedHeader, GuestPolicy, GuestsReach, Limits, SbAllow, Upstream};
use clap::Parser;
use ipnet::IpNet;

#[derive(Debug, Parser)]
#[command(version, about = "Serves the browser app and relays MSNP2 between WebSockets and TCP servers")]
struct Args {
    /// Address to serve HTTP (the app, /ws, /metrics) on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A notification server, `HOST:PORT` or `NAME=HOST:PORT` (repeatable; the first is the default);
    /// `NAME=HOST:PORT,HOST:PORT,…` tries each in turn (a cluster's dispatch node, then its nodes), one that
    /// did not answer last for a while. Append `,proxy-protocol` for a server that accepts PROXY v2 headers from this bridge (the
    /// project's server with `--proxy-protocol-from`), so it sees each browser's address. Without any,
    /// the project's server runs in-process with the demo accounts (and is told each browser's address).
    #[arg(long)]
    upstream: Vec<Upstream>,
    /// The built frontend (Trunk's dist/), served at /.
    #[arg(long = "static")]
    static_dir: Option<PathBuf>,
    /// Where the embedded server keeps its database.
    #[arg(long, default_value = "bridge-data")]
    data_dir: PathBuf,
    /// The origin the page is served at, e.g. `https://chat.example` (repeatable). Without it the
    /// bridge's own origins are its listen address and `localhost` with its port; behind a reverse proxy
    /// or on a public name, set it.
    #[arg(long)]
    public_origin: Vec<String>,
    /// Another origin allowed to open WebSockets (repeatable; `http://127.0.0.1:*` allows any port).
    #[arg(long)]
    allow_origin: Vec<String>,
    /// A reverse proxy (CIDR, repeatable) whose forwarding header names the client; that address is then
    /// used for --max-per-ip, logs and PROXY headers. Other peers' headers are ignored.
    #[arg(long)]
    trust_proxy: Vec<IpNet>,
    /// The header the trusted proxies write the client's address in: x-forwarded-for (nginx's
    /// $proxy_add_x_forwarded_for) or forwarded (RFC 7239). Only that one is read.
    #[arg(long, default_value = "x-forwarded-for")]
    forwarded_header: ForwardedHeader,
    /// A host name or CIDR where announced switchboards may be (repeatable), besides the announcing
    /// server's own address. Loopback, private and link-local addresses are allowed only for a server on
    /// such an address itself.
    #[arg(long)]
    sb_allow: Vec<SbAllow>,
    /// The embedded server's notification-server address (desktop MSN Messenger 1.0 can use it).
    #[arg(long, default_value = "127.0.0.1:0")]
    ns_listen: SocketAddr,
    /// The embedded server's switchboard address.
    #[arg(long, default_value = "127.0.0.1:0")]
    sb_listen: SocketAddr,
    /// Do not sign the demo's robot contacts in to the embedded server.
    #[arg(long)]
    no_robots: bool,
    /// No shared demo accounts on the embedded server (removed if a database has them): for a public demo,
    /// where the robots and temporary accounts are enough.
    #[arg(long)]
    no_demo_accounts: bool,
    /// Offer "Make me a temporary account" on the sign-in page: guest-<random>@hotmail.com with a random
    /// password and the robots as contacts (embedded server only).
    #[arg(long)]
    guests: bool,
    /// Hours a guest account lasts before it is removed from the server and from every list.
    #[arg(long, default_value_t = GuestPolicy::default().ttl.as_secs() / 3600)]
    guest_ttl: u64,
    /// Guest accounts one client address (IPv6: one /64) may make per hour.
    #[arg(long, default_value_t = GuestPolicy::default().per_address_per_hour)]
    guests_per_address_per_hour: u32,
    /// Guest accounts all clients together may make per minute.
    #[arg(long, default_value_t = GuestPolicy::default().per_minute)]
    guests_per_minute: u32,
    /// Guest accounts at once.
    #[arg(long, default_value_t = GuestPolicy::default().max)]
    max_guests: usize,
    /// Whom guests may add to their contacts and invite to a chat: contacts (the robots, other guests, and
    /// people who allowed the guest themselves) or everyone.
    #[arg(long, default_value = "contacts")]
    guests_reach: GuestsReach,
    /// PEM certificate chain: serve https and wss (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest WebSocket message (bytes).
    #[arg(long, default_value_t = Limits::default().max_message)]
    max_message: usize,
    /// WebSocket sessions open at once.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// WebSocket sessions open at once from one client address.
    #[arg(long, default_value_t = Limits::default().max_per_ip)]
    max_per_ip: usize,
    /// Seconds for a TLS handshake, for each HTTP request's headers, and for a switchboard session's first
    /// command.
    #[arg(long, default_value_t = Limits::default().handshake_timeout.as_secs())]
    handshake_timeout: u64,
    /// Seconds to connect to a server.
    #[arg(long, default_value_t = Limits::default().connect_timeout.as_secs())]
    connect_timeout: u64,
    /// Seconds between pings to the browser.
    #[arg(long, default_value_t = Limits::default().ping_interval.as_secs())]
    ping_interval: u64,
    /// Seconds without hearing from the browser before its session is closed.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// WebSocket pings a browser may send per second (as many at once); more close its session (1008).
    #[arg(long, default_value_t = Limits::default().client_pings_per_second)]
    client_pings_per_second: f64,
    /// Bytes waiting for a browser before it counts as not reading.
    #[arg(long, default_value_t = Limits::default().write_buffer)]
    write_buffer: usize,
    /// Share the switchboards and referrals announced through this bridge with every other bridge given
    /// the same NATS servers (nats://HOST:PORT, several separated by commas): bridges behind one load
    /// balancer, where a page's connections may land on different instances.
    #[arg(long, value_name = "nats://…")]
    share_announcements: Option<String>,
    /// NATS servers keeping the shared announcements (at most as many as there are).
    #[arg(long, default_value_t = 1, requires = "share_announcements")]
    share_replicas: usize,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), bridge::Error> {
    let limits = Limits {
        max_message: args.max_message,
        max_connections: args.max_connections,
        max_per_ip: args.max_per_ip,
        handshake_timeout: Duration::from_secs(args.handshake_timeout),
        connect_timeout: Duration::from_secs(args.connect_timeout),
        ping_interval: Duration::from_secs(args.ping_interval),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        write_buffer: args.write_buffer,
        client_pings_per_second: args.client_pings_per_second,
        ..Limits::default()
    };
    let config = Config {
        listen: args.listen,
        upstreams: args.upstream,
        static_dir: args.static_dir,
        data_dir: args.data_dir,
        public_origins: args.public_origin,
        allow_origins: args.allow_origin,
        trust_proxy: args.trust_proxy,
        forwarded_header: args.forwarded_header,
        sb_allow: args.sb_allow,
        ns_listen: args.ns_listen,
        sb_listen: args.sb_listen,
        limits,
        tls: args.tls_cert.zip(args.tls_key),
        robots: !args.no_robots,
        demo_accounts: !args.no_demo_accounts,
        guests: args.guests.then(|| GuestPolicy {
            ttl: Duration::from_secs(args.guest_ttl.saturating_mul(3600)),
            per_address_per_hour: args.guests_per_address_per_hour,
            per_minute: args.guests_per_minute,
            max: args.max_guests,
            reach: args.guests_reach,
        }),
        share_announcements: args.share_announcements.map(|url| (url, args.share_replicas)),
    };
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let running = bridge::start(config).await?;
    let stop = msnp_server::shutdown_signal();
    if let Some(server) = &running.embedded {
        eprintln!("embedded MSNP2 server: ns={} sb={}", server.ns_addr, server.sb_addr);
        eprintln!("demo accounts (e-mail / password):");
        for (email, password) in msnp_server::accounts::demo_logins() {
            eprintln!("  {email} / {password}");
        }
    }
    eprintln!("open {scheme}://{}/", running.http_addr);
    // Tools and tests wait for this one line rather than guessing the port.
    println!("ready http={}", running.http_addr);
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
