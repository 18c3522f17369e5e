//! `msnp-server`: serve MSNP2, and administer its accounts.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use msnp_server::bus::BusConfig;
use msnp_server::cluster::ClusterConfig;
use msnp_server::net::NetLimits;
use msnp_server::notification::NsConfig;
use msnp_server::proxy::Trusted;
use msnp_server::robots::Manners;
use msnp_server::store::{Account, Admin};
use msnp_server::switchboard::SbConfig;
use msnp_server::throttle::{ConnectionLimits, SignInLimits};
use msnp_server::{Database, ServeConfig, accounts};

/// How long a dispatch node waits to hear of a node taking sign-ins before it says it is ready anyway.
const DISPATCH_READY_WITHIN: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(version, about = "MSNP2 (MSN Messenger 1.0) notification server and switchboard")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Db {
    /// Where accounts and lists are: a SQLite file (created if missing), or `postgres://user@host:port/db`
    /// for server nodes sharing them (the schema is created if missing).
    #[arg(long, alias = "db", value_name = "PATH|postgres://…")]
    store: Database,
    /// The key that encrypts stored passwords (created, mode 0600, if missing). Default for SQLite:
    /// <db>.key; required with PostgreSQL (every node needs the same key).
    #[arg(long)]
    key_file: Option<PathBuf>,
}

impl Db {
    fn open(&self) -> std::result::Result<Box<dyn Admin + Send>, msnp_server::Error> {
        self.store.open_admin(self.key_file.as_deref())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the notification server and the switchboard. Prints `ready ns=HOST:PORT sb=HOST:PORT`.
    Serve(Box<Serve>),
    /// Account administration.
    #[command(subcommand)]
    User(User),
    /// Create or replace the accounts an accounts file (TOML) describes.
    Import {
        #[command(flatten)]
        db: Db,
        file: PathBuf,
    },
    /// Sign in the robot accounts of an accounts file (those with `robot = ...`) to a notification server,
    /// as ordinary clients, and keep them there: echo, mood, host and chatty robots.
    Robots {
        /// The notification server, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:1863")]
        ns: String,
        /// The accounts file (TOML) naming the robots and their passwords.
        #[arg(long)]
        accounts: PathBuf,
        /// Messages a robot answers per second in one chat; more are not answered.
        #[arg(long, default_value_t = Manners::default().replies_per_second)]
        replies_per_second: f64,
        /// Seconds between the mood robot's changes of state and name.
        #[arg(long, default_value_t = Manners::default().mood_every.as_secs())]
        mood_every: u64,
    },
    /// Move a cluster node's clients to another node (`XFR 0 NS`) and stop its sign-ins, e.g. before
    /// maintenance; returns once the node says it is drained.
    Drain {
        /// The cluster's NATS servers (nats://HOST:PORT, several separated by commas).
        #[arg(long, value_name = "nats://…")]
        bus: String,
        /// The node to drain.
        #[arg(long, value_parser = node_name)]
        node: String,
        /// Where its clients go (HOST:PORT); default: the live node with the fewest users.
        #[arg(long, value_name = "HOST:PORT")]
        to: Option<String>,
    },
}

#[derive(Debug, Args)]
struct Serve {
    #[command(flatten)]
    db: Db,
    /// Notification server address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1863")]
    listen: SocketAddr,
    /// Switchboard address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1864")]
    sb_listen: SocketAddr,
    /// Switchboard address announced to clients in XFR and RNG (HOST:PORT); default: the listen address.
    #[arg(long)]
    sb_public: Option<String>,
    /// Seconds a switchboard cookie stays valid.
    #[arg(long, default_value_t = SbConfig::default().cookie_lifetime.as_secs())]
    sb_cookie_lifetime: u64,
    /// People in one switchboard session.
    #[arg(long, default_value_t = SbConfig::default().max_participants)]
    sb_max_participants: usize,
    /// Switchboard sessions one user may be in at once.
    #[arg(long, default_value_t = SbConfig::default().max_sessions_per_user)]
    sb_max_sessions_per_user: usize,
    /// Invitations a session may have waiting for an answer.
    #[arg(long, default_value_t = SbConfig::default().max_pending_invitations)]
    sb_max_pending_invitations: usize,
    /// Invitations one user may send per minute (more get 713, and nobody is rung).
    #[arg(long, default_value_t = SbConfig::default().max_invitations_per_minute)]
    sb_max_invitations_per_minute: usize,
    /// Invitations one user may have waiting for their answer, from everyone (more get 713).
    #[arg(long, default_value_t = SbConfig::default().max_unanswered_per_callee)]
    sb_max_unanswered_per_callee: usize,
    /// Only accounts of these e-mail domains may sign in (comma-separated); default: any.
    #[arg(long, value_delimiter = ',')]
    allowed_domains: Vec<String>,
    /// Connections open at once.
    #[arg(long, default_value_t = NetLimits::default().max_connections)]
    max_connections: usize,
    /// Longest command line accepted, CRLF included; longer closes the connection.
    #[arg(long, default_value_t = NetLimits::default().max_line)]
    max_line: usize,
    /// Bytes queued for a client before it counts as not reading and is dropped.
    #[arg(long, default_value_t = NetLimits::default().send_queue_bytes)]
    send_queue_bytes: usize,
    /// Entries per list (FL, AL, BL); more answer 210.
    #[arg(long, default_value_t = NsConfig::default().max_list)]
    max_list: usize,
    /// REAs one user may send per minute (10 at once); more answer 713.
    #[arg(long, default_value_t = NsConfig::default().renames_per_minute)]
    renames_per_minute: u32,
    /// CHGs one user may send per minute (20 at once); more answer 713 and change nothing.
    #[arg(long, default_value_t = NsConfig::default().state_changes_per_minute)]
    state_changes_per_minute: u32,
    /// Seconds a connection may take to sign in.
    #[arg(long, default_value_t = NsConfig::default().login_timeout.as_secs())]
    login_timeout: u64,
    /// Download URL sent in the CVR reply.
    #[arg(long, default_value_t = NsConfig::default().cvr_download_url)]
    cvr_download_url: String,
    /// Information URL sent in the CVR reply.
    #[arg(long, default_value_t = NsConfig::default().cvr_info_url)]
    cvr_info_url: String,
    /// Failed sign-ins per minute for one account from one client address; further attempts from that
    /// address answer 911 unchecked until the minute has passed.
    #[arg(long, default_value_t = SignInLimits::default().per_account)]
    login_failures_per_account: usize,
    /// Failed sign-ins per minute from one client address, whatever the account.
    #[arg(long, default_value_t = SignInLimits::default().per_address)]
    login_failures_per_address: usize,
    /// Connections open at once from one client address (IPv6: one /64).
    #[arg(long, default_value_t = ConnectionLimits::default().per_address)]
    max_connections_per_address: usize,
    /// New connections per second from one client address (a burst of as many is allowed).
    #[arg(long, default_value_t = ConnectionLimits::default().per_second)]
    new_connections_per_second: f64,
    /// Apply the two per-address connection limits to loopback clients too (exempt by default, so local
    /// tools and benchmarks are not limited; a bridge's clients come with their own addresses).
    #[arg(long)]
    limit_loopback: bool,
    /// Seconds a write may make no progress before the client is dropped.
    #[arg(long, default_value_t = NetLimits::default().send_timeout.as_secs())]
    send_timeout: u64,
    /// Seconds of silence before TCP keepalive probes a client.
    #[arg(long, default_value_t = NetLimits::default().keepalive.as_secs())]
    keepalive: u64,
    /// Peers (CIDR, repeatable) that may start a connection with a PROXY protocol header (v1 or v2)
    /// naming the client they relay, e.g. the bridge. Default: none.
    #[arg(long)]
    proxy_protocol_from: Vec<IpNet>,
    /// Seconds a write waits for another process's lock on the database before it answers 500.
    #[arg(long, default_value_t = msnp_server::DEFAULT_BUSY_TIMEOUT.as_secs())]
    db_busy_timeout: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Be a dispatch server: answer `USR … I` with `XFR … NS` to one of these notification servers
    /// (HOST:PORT, repeatable), chosen by a stable hash of the handle, and close (MSNP2.md §5.4).
    #[arg(long, value_name = "HOST:PORT")]
    dispatch_to: Vec<String>,
    /// Be a node of a cluster whose nodes talk through these NATS servers (nats://HOST:PORT, several
    /// separated by commas); needs --node and a PostgreSQL --store shared by every node.
    #[arg(long, value_name = "nats://…", requires = "node")]
    bus: Option<String>,
    /// This node's name in the cluster: unique, letters, digits, - and _.
    #[arg(long, value_parser = node_name, requires = "bus")]
    node: Option<String>,
    /// NATS servers keeping the cluster's sign-in registry (at most as many as there are).
    #[arg(long, default_value_t = 1)]
    bus_replicas: usize,
    /// The notification server's address as clients reach it, given to dispatch and draining nodes
    /// (HOST:PORT); default: the listen address.
    #[arg(long, value_name = "HOST:PORT", requires = "bus")]
    public_ns: Option<String>,
    /// Be the cluster's dispatch node: refer every sign-in (`XFR … NS`) to the live node with the
    /// fewest users.
    #[arg(long, requires = "bus")]
    dispatch: bool,
    /// Seconds without a heartbeat before a node counts as gone (its users go offline everywhere).
    #[arg(long, default_value_t = ClusterConfig::new("").node_timeout.as_secs())]
    node_timeout: u64,
}

/// A node's name as NATS subjects take it.
fn node_name(s: &str) -> std::result::Result<String, String> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| s.to_owned()).ok_or_else(|| "letters, digits, - and _ only".to_owned())
}

#[derive(Debug, Subcommand)]
enum User {
    /// Create an account.
    Add {
        #[command(flatten)]
        db: Db,
        email: String,
        #[arg(long)]
        password: String,
        /// Friendly name as on the wire (URL-encoded); default: the e-mail address.
        #[arg(long)]
        name: Option<String>,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        db: Db,
    },
    /// Delete an account (it also leaves everyone's lists).
    Remove {
        #[command(flatten)]
        db: Db,
        email: String,
    },
    /// Change an account's password.
    Passwd {
        #[command(flatten)]
        db: Db,
        email: String,
        #[arg(long)]
        password: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("msnp-server: {err}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(cli: Cli) -> Result {
    match cli.command {
        Command::Serve(serve) => tokio::runtime::Runtime::new()?.block_on(serve_until_signal(*serve)),
        Command::Import { db, file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let n = accounts::import(db.open()?.as_mut(), &text)?;
            println!("imported {n} accounts");
            Ok(())
        }
        Command::User(user) => admin(user),
        Command::Robots { ns, accounts, replies_per_second, mood_every } => {
            let text = std::fs::read_to_string(&accounts).map_err(|e| format!("{}: {e}", accounts.display()))?;
            let robots = msnp_server::accounts::robots(&text)?;
            if robots.is_empty() {
                return Err(format!("{}: no account has `robot = ...`", accounts.display()).into());
            }
            let manners = Manners { replies_per_second, mood_every: Duration::from_secs(mood_every) };
            eprintln!("{} robots signing in to {ns}", robots.len());
            tokio::runtime::Runtime::new()?.block_on(msnp_server::robots::run(ns, robots, manners));
            Ok(())
        }
        Command::Drain { bus, node, to } => {
            tokio::runtime::Runtime::new()?.block_on(msnp_server::bus::drain(&bus, &node, to))?;
            println!("drained {node}");
            Ok(())
        }
    }
}

fn admin(user: User) -> Result {
    match user {
        User::Add { db, email, password, name } => {
            if !msnp::handle::is_valid(&email) {
                return Err(format!("{email:?} is not a valid e-mail address").into());
            }
            let name = name.unwrap_or_else(|| email.clone());
            msnp::name::validate_encoded(&name).map_err(|e| format!("name: {e}"))?;
            let mut store = db.open()?;
            if store.exists(&email)? {
                return Err(format!("{email} already exists").into());
            }
            store.put_account(&Account::new(&email, &name), &password)?;
            println!("added {email}");
        }
        User::List { db } => {
            for (handle, name) in db.open()?.list_accounts()? {
                println!("{handle}\t{}", msnp::name::decode(&name));
            }
        }
        User::Remove { db, email } => {
            db.open()?.remove_account(&email)?;
            println!("removed {email}");
        }
        User::Passwd { db, email, password } => {
            db.open()?.set_password(&email, &password)?;
            println!("password changed for {email}");
        }
    }
    Ok(())
}

async fn serve_until_signal(serve: Serve) -> Result {
    let config = ServeConfig {
        db: serve.db.store,
        key_file: serve.db.key_file,
        listen: serve.listen,
        sb_listen: serve.sb_listen,
        sb_public: serve.sb_public,
        sb: SbConfig {
            public_address: String::new(),
            cookie_lifetime: Duration::from_secs(serve.sb_cookie_lifetime),
            auth_timeout: SbConfig::default().auth_timeout,
            max_participants: serve.sb_max_participants,
            max_sessions_per_user: serve.sb_max_sessions_per_user,
            max_pending_invitations: serve.sb_max_pending_invitations,
            max_invitations_per_minute: serve.sb_max_invitations_per_minute,
            max_unanswered_per_callee: serve.sb_max_unanswered_per_callee,
            ..SbConfig::default()
        },
        ns: NsConfig {
            allowed_domains: serve.allowed_domains,
            max_list: serve.max_list,
            login_timeout: Duration::from_secs(serve.login_timeout),
            cvr_download_url: serve.cvr_download_url,
            cvr_info_url: serve.cvr_info_url,
            sign_in_limits: SignInLimits {
                per_account: serve.login_failures_per_account,
                per_address: serve.login_failures_per_address,
                ..SignInLimits::default()
            },
            dispatch_to: serve.dispatch_to,
            renames_per_minute: serve.renames_per_minute,
            state_changes_per_minute: serve.state_changes_per_minute,
            // Guests are made by the bridge's embedded server, which sets their reach.
            guests_reach: Default::default(),
        },
        limits: NetLimits {
            max_connections: serve.max_connections,
            max_line: serve.max_line,
            send_queue_bytes: serve.send_queue_bytes,
            send_timeout: Duration::from_secs(serve.send_timeout),
            keepalive: Duration::from_secs(serve.keepalive),
            per_address: ConnectionLimits {
                per_address: serve.max_connections_per_address,
                per_second: serve.new_connections_per_second,
                limit_loopback: serve.limit_loopback,
            },
            proxy_from: Trusted(serve.proxy_protocol_from),
            proxy_header_timeout: Duration::from_secs(serve.login_timeout),
        },
        busy_timeout: Duration::from_secs(serve.db_busy_timeout),
        metrics_listen: serve.metrics_listen,
        bus: serve.bus.zip(serve.node).map(|(url, node)| BusConfig {
            url,
            replicas: serve.bus_replicas,
            cluster: ClusterConfig {
                node_timeout: Duration::from_secs(serve.node_timeout),
                public_ns: serve.public_ns.unwrap_or_default(),
                dispatch: serve.dispatch,
                ..ClusterConfig::new(node)
            },
        }),
    };
    let running = msnp_server::start(config).await?;
    let stop = msnp_server::shutdown_signal();
    // A dispatch node is ready once it can refer sign-ins: it has heard a node's heartbeat.
    if !running.serving_sign_ins(DISPATCH_READY_WITHIN).await {
        tracing::warn!("no node takes sign-ins yet: they are answered 601 until one does");
    }
    // Tools and tests wait for this one line rather than guessing ports.
    match running.metrics_addr {
        Some(metrics) => println!("ready ns={} sb={} metrics={metrics}", running.ns_addr, running.sb_addr),
        None => println!("ready ns={} sb={}", running.ns_addr, running.sb_addr),
    }
    std::io::stdout().flush()?;
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
