//! `cargo xtask cluster`: the whole farm on one machine — PostgreSQL, three NATS servers, a dispatch node,
//! three notification/switchboard nodes and two bridges sharing their announcements, with the page and
//! the demo accounts — until Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::sh::{Result, cmd, root, run, step};
use crate::{setup, tasks};

/// Notification/switchboard nodes.
const NODES: usize = 3;
/// Bridges, as behind a load balancer.
const BRIDGES: usize = 2;

/// A process of the cluster, stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `c` and reads its `ready …` line (the first on its standard output).
fn start(c: &mut Command) -> Result<(Process, String)> {
    let mut child = c.stdout(Stdio::piped()).spawn().map_err(|e| format!("cannot start {c:?}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no standard output")?;
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let process = Process(child);
    match line.trim_end().strip_prefix("ready ") {
        Some(ready) => Ok((process, ready.to_owned())),
        None => Err(format!("{c:?} did not say it was ready (it printed {line:?})")),
    }
}

/// The value of `key=` in a ready line.
fn field<'a>(ready: &'a str, key: &str) -> Result<&'a str> {
    ready
        .split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        .ok_or_else(|| format!("no {key}= in {ready:?}"))
}

pub fn cluster() -> Result {
    let tools = setup::ensure()?;
    step("building the browser app");
    tasks::build(&tools)?;
    step("building the server and the bridge (release)");
    run(&mut cmd("cargo", &["build", "--locked", "--release", "-p", "msnp-server", "-p", "bridge"]))?;
    let bin = root().join("target/release");
    let (server, bridge) = (bin.join("msnp-server"), bin.join("bridge"));

    step("starting PostgreSQL and three NATS servers");
    let pg = engines::Postgres::start().map_err(|e| format!("PostgreSQL: {e}"))?;
    let nats = engines::NatsCluster::start(3).map_err(|e| format!("NATS: {e}"))?;
    let data = tempfile::Builder::new().prefix("msnp-cluster-").tempdir().map_err(|e| e.to_string())?;
    let key = data.path().join("msnp.key");
    let store = [pg.url(), "--key-file".into(), path(&key)?];
    let accounts = path(&root().join("server/demo-accounts.toml"))?;
    // Standard output is for the ready line alone.
    run(Command::new(&server).args(["import", "--store"]).args(&store).arg(&accounts).stdout(std::io::stderr()))?;

    step("starting a dispatch node, three notification/switchboard nodes and two bridges");
    let mut processes = Vec::new();
    let serve = |node: &str| {
        let mut c = Command::new(&server);
        c.args(["serve", "--store"]).args(&store);
        c.args(["--listen", "127.0.0.1:0", "--sb-listen", "127.0.0.1:0", "--bus", &nats.url(), "--node", node]);
        c.args(["--bus-replicas", "3"]);
        c
    };
    let (mut ns, mut sb) = (Vec::new(), Vec::new());
    for i in 1..=NODES {
        let (process, ready) = start(&mut serve(&format!("node{i}")))?;
        ns.push(field(&ready, "ns")?.to_owned());
        sb.push(field(&ready, "sb")?.to_owned());
        processes.push(process);
    }
    let (process, ready) = start(serve("dispatch").arg("--dispatch"))?;
    let dispatch = field(&ready, "ns")?.to_owned();
    processes.push(process);
    let mut robots = Command::new(&server);
    robots.args(["robots", "--ns", &ns[0], "--accounts", &accounts]).stdout(Stdio::null());
    processes.push(Process(robots.spawn().map_err(|e| format!("robots: {e}"))?));
    let mut http = Vec::new();
    for _ in 0..BRIDGES {
        let mut c = Command::new(&bridge);
        c.args(["--listen", "127.0.0.1:0", "--static", &path(&root().join("dist"))?]);
        // The dispatch node first, then the nodes themselves should it be down.
        c.args(["--upstream", &format!("cluster={dispatch},{}", ns.join(",")), "--share-announcements", &nats.url()]);
        c.args(["--share-replicas", "3"]);
        let (process, ready) = start(&mut c)?;
        http.push(field(&ready, "http")?.to_owned());
        processes.push(process);
    }
    // Scripts wait for this line.
    println!("ready dispatch={dispatch} ns={} sb={} http={}", ns.join(","), sb.join(","), http.join(","));
    for address in &http {
        eprintln!("open http://{address}/ (the same cluster through either bridge)");
    }
    eprintln!("PostgreSQL: {}  NATS: {}", pg.url(), nats.url());
    eprintln!("Ctrl-C stops everything");
    wait_for_signal()?;
    step("stopping");
    drop(processes);
    Ok(())
}

fn path(p: &Path) -> Result<String> {
    p.to_str().map(str::to_owned).ok_or_else(|| format!("{} is not UTF-8", p.display()))
}

/// Blocks until Ctrl-C or SIGTERM.
fn wait_for_signal() -> Result {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime
        .block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! { r = tokio::signal::ctrl_c() => r, _ = term.recv() => Ok(()) }
        })
        .map_err(|e| e.to_string())
}
