//! `msnp-bench`: many MSNP2 clients against a server (TCP) or a bridge (WebSocket), like redis-benchmark.
//! Each command prints its figures as one JSON object on stdout.
//!
//! Accounts are `user<i>@hotmail.com` / `pw<i>` (and `star@hotmail.com` / `star` for fan-out);
//! `msnp-bench accounts N` prints a TOML file for `msnp-server import` that creates them.

mod attacks;
mod canned;
mod conn;
mod foreign;
mod measure;
mod scenarios;
mod spam;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::conn::Target;

#[derive(Debug, Parser)]
#[command(version, about = "Load generator for MSNP2 servers and bridges")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Where {
    /// A notification server, HOST:PORT (plain TCP).
    #[arg(long, conflicts_with = "ws")]
    ns: Option<String>,
    /// A bridge's WebSocket URL, e.g. ws://127.0.0.1:8080/ws.
    #[arg(long)]
    ws: Option<String>,
    /// Send binary WebSocket messages (websockify) instead of text (the project's bridge).
    #[arg(long)]
    binary: bool,
}

impl Where {
    fn target(&self) -> Target {
        match (&self.ns, &self.ws) {
            (_, Some(url)) => Target::Ws { url: url.clone(), binary: self.binary },
            (Some(ns), None) => Target::Tcp(ns.clone()),
            (None, None) => Target::Tcp("127.0.0.1:1863".into()),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print an accounts file (TOML) with N users and star@hotmail.com watched by the first W of them.
    Accounts {
        n: usize,
        #[arg(long, default_value_t = 500)]
        watchers: usize,
    },
    /// Full sign-in/sign-out sessions back to back from many clients.
    Signin {
        #[command(flatten)]
        at: Where,
        #[arg(long, default_value_t = 200)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Sign in many clients and keep them idle; report the memory of process PID per session at each count
    /// of --clients (e.g. 2000,10000).
    Idle {
        #[command(flatten)]
        at: Where,
        #[arg(long, value_delimiter = ',', default_value = "10000")]
        clients: Vec<usize>,
        #[arg(long)]
        pid: u32,
    },
    /// One user with many watchers changes state: time until the last watcher has the NLN.
    Fanout {
        #[command(flatten)]
        at: Where,
        #[arg(long, default_value_t = 500)]
        watchers: usize,
        #[arg(long, default_value_t = 21)]
        rounds: usize,
    },
    /// Pairs of clients chatting through switchboards.
    Chat {
        #[command(flatten)]
        at: Where,
        #[arg(long, default_value_t = 100)]
        pairs: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Connections flooding the server (blank lines, or PNGs never read) while a probe client measures its
    /// VER round trip.
    Flood {
        /// The notification server, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:1863")]
        ns: String,
        #[arg(long, value_enum, default_value_t = attacks::Flood::Blank)]
        kind: attacks::Flood,
        #[arg(long, default_value_t = 4)]
        flooders: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// One client guessing an account's password, a new connection per guess: how many guesses the server
    /// checked (read from its metrics).
    Guess {
        #[arg(long, default_value = "127.0.0.1:1863")]
        ns: String,
        /// The server's metrics address (`msnp-server serve --metrics-listen`).
        #[arg(long)]
        metrics: String,
        #[arg(long, default_value = "user0@hotmail.com")]
        account: String,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Half-sent HTTP requests to a bridge: how many it still holds open after --seconds.
    Slowloris {
        /// The bridge, HOST:PORT.
        #[arg(long)]
        http: String,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        #[arg(long, default_value_t = 11)]
        seconds: u64,
    },
    /// One account rings another as fast as it may (XFR SB, 32 CALs, hang up, again): the victim's RNGs per
    /// second and a bystander's PNG round trips.
    InviteSpam {
        #[command(flatten)]
        at: Where,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// star changes state as fast as the server answers before its watchers: NLNs delivered per second
    /// (counted after --warm-up seconds) and a bystander's PNG round trips.
    PresenceSpam {
        #[command(flatten)]
        at: Where,
        #[arg(long, default_value_t = 500)]
        watchers: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        warm_up: u64,
    },
    /// Keep-alive clients downloading one of the app's files from a bridge (the process --pid) as browsers
    /// do: responses per second and the bridge's CPU per response.
    Static {
        /// The bridge, HOST:PORT.
        #[arg(long)]
        http: String,
        #[arg(long, default_value = "/")]
        path: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        pid: u32,
    },
    /// WebSocket sessions through a bridge (the process --pid), each past VER: descriptors per session.
    Descriptors {
        /// The bridge's WebSocket URL.
        #[arg(long)]
        ws: String,
        #[arg(long, default_value_t = 200)]
        sessions: usize,
        #[arg(long)]
        pid: u32,
    },
    /// A scripted notification server that behaves like the best-known revival server where it differs
    /// from this project's (shared/protocol/INTEROP.md), for tests; every account's password is `password`.
    /// Prints `ready ns=ADDR`.
    ForeignServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
    /// A notification server answering the sign-in sequence with prepared lines (checks nothing, stores
    /// nothing): the ceiling for `signin` on this machine. Prints `ready ns=ADDR`.
    CannedServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
    /// PNG/QNG through a relay (the process --pid) in front of the server --direct: latency of both paths
    /// (interleaved), the relay's throughput, CPU and memory.
    Relay {
        /// The relay's WebSocket URL.
        #[arg(long)]
        ws: String,
        /// Send binary WebSocket messages (websockify) instead of text (the project's bridge).
        #[arg(long)]
        binary: bool,
        /// The server behind the relay, HOST:PORT, for the direct path's round trips.
        #[arg(long)]
        direct: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn accounts(n: usize, watchers: usize) -> String {
    let mut out = String::from("[[account]]\nemail = \"star@hotmail.com\"\npassword = \"star\"\nname = \"Star\"\n");
    let rl: Vec<String> = (0..watchers.min(n)).map(|i| format!("{{ email = \"user{i}@hotmail.com\" }}")).collect();
    out.push_str(&format!("RL = [{}]\n\n", rl.join(", ")));
    for i in 0..n {
        let (email, password) = scenarios::account(i);
        out.push_str(&format!("[[account]]\nemail = \"{email}\"\npassword = \"{password}\"\n"));
        if i < watchers {
            out.push_str("FL = [{ email = \"star@hotmail.com\", name = \"Star\" }]\n");
        }
        out.push('\n');
    }
    out
}

/// The exit code of a server command that returned.
fn served(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msnp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Accounts { n, watchers } => {
            print!("{}", accounts(n, watchers));
            return ExitCode::SUCCESS;
        }
        Command::Signin { at, clients, seconds } => {
            scenarios::sign_in_storm(at.target(), clients, Duration::from_secs(seconds)).await
        }
        Command::Idle { at, clients, pid } => scenarios::idle(at.target(), &clients, pid).await,
        Command::Fanout { at, watchers, rounds } => scenarios::fan_out(at.target(), watchers, rounds).await,
        Command::Chat { at, pairs, seconds } => {
            let sb: Arc<dyn Fn(&str) -> Target + Send + Sync> = match at.target() {
                Target::Tcp(_) => Arc::new(|address: &str| Target::Tcp(address.to_owned())),
                Target::Ws { url, binary } => {
                    Arc::new(move |address: &str| Target::Ws { url: format!("{url}?sb={address}"), binary })
                }
            };
            scenarios::chat(at.target(), sb, pairs, Duration::from_secs(seconds)).await
        }
        Command::Relay { ws, binary, direct, pid, clients, seconds } => {
            let relay = Target::Ws { url: ws, binary };
            scenarios::relay(relay, Target::Tcp(direct), pid, clients, Duration::from_secs(seconds)).await
        }
        Command::Flood { ns, kind, flooders, seconds } => {
            attacks::flood(ns, kind, flooders, Duration::from_secs(seconds)).await
        }
        Command::Guess { ns, metrics, account, seconds } => {
            attacks::guess(ns, metrics, account, Duration::from_secs(seconds)).await
        }
        Command::InviteSpam { at, seconds } => spam::invitations(at.target(), Duration::from_secs(seconds)).await,
        Command::PresenceSpam { at, watchers, seconds, warm_up } => {
            let (duration, warm_up) = (Duration::from_secs(seconds), Duration::from_secs(warm_up));
            spam::presence(at.target(), watchers, duration, warm_up).await
        }
        Command::Static { http, path, clients, seconds, pid } => {
            attacks::static_files(http, path, clients, Duration::from_secs(seconds), pid).await
        }
        Command::Descriptors { ws, sessions, pid } => attacks::descriptors(ws, sessions, pid).await,
        Command::ForeignServer { listen } => return served(foreign::run(listen).await),
        Command::CannedServer { listen } => return served(canned::run(listen).await),
        Command::Slowloris { http, connections, seconds } => {
            attacks::slowloris(http, connections, Duration::from_secs(seconds)).await
        }
    };
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("msnp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
