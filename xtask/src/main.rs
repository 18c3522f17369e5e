//! Project tasks, run as `cargo xtask <task>`: set the machine up, test everything, build, demo.

mod bench;
mod bench_cluster;
mod bench_report;
mod cluster;
mod procs;
mod setup;
mod sh;
mod tasks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "MSN Messenger 1.0 in the browser: project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what is missing: the wasm32 target, trunk, wasm-bindgen-cli, wasm-opt, browsers and drivers.
    Setup,
    /// Everything CI checks: formatting, clippy, native tests, wasm tests in headless Chromium and Firefox,
    /// and the release build of the browser app.
    Test,
    /// Build the browser app (release) into dist/.
    Build,
    /// Benchmarks: the server and the bridge under load, beside websockify (JSON, SVG and a table).
    Bench,
    /// A randomized campaign (stable Rust, no cargo-fuzz) against the decoder, the client machines and the
    /// server logic: adversarial byte streams split anywhere, random drops, jobs finishing in any order.
    Fuzz {
        /// How long each of the four campaigns runs (CI runs 3 s each as part of the tests).
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// A cluster on this machine: PostgreSQL, 3 NATS servers, a dispatch node, 3 notification/switchboard
    /// nodes and 2 bridges, with the page and the demo accounts, until Ctrl-C. Prints
    /// `ready dispatch=… ns=…,…,… sb=…,…,… http=…,…` once everything accepts connections.
    Cluster,
    /// Build the browser app and serve it, with the demo server and accounts.
    Demo {
        /// Where the page is served.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Setup => setup::ensure().map(drop),
        Task::Test => tasks::test(),
        Task::Build => setup::ensure().and_then(|tools| tasks::build(&tools)),
        Task::Demo { listen } => tasks::demo(&listen),
        Task::Bench => setup::ensure().and_then(|tools| bench::bench_all(&tools)),
        Task::Cluster => cluster::cluster(),
        Task::Fuzz { seconds } => tasks::fuzz(seconds),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}
