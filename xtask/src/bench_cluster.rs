//! The cluster's part of `cargo xtask bench`: PostgreSQL, three NATS servers, three nodes and a dispatch
//! node on this machine, measured with the same load generator as the lone server.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::bench::{Proc, bench, start};
use crate::sh::{Result, run, step};

/// What the cluster measured: sign-ins through the dispatch node, the same on one PostgreSQL node
/// without a bus, fan-out to watchers on three nodes, and memory per idle session on one node.
pub fn measure(release: &Path, accounts: &Path, idle: usize) -> Result<Value> {
    step("7. cluster: PostgreSQL, 3 NATS servers, 3 nodes and a dispatch node");
    let pg = engines::Postgres::start().map_err(|e| format!("PostgreSQL: {e}"))?;
    let nats = engines::NatsCluster::start(3).map_err(|e| format!("NATS: {e}"))?;
    let data = tempfile::Builder::new().prefix("msnp-bench-cluster-").tempdir().map_err(|e| e.to_string())?;
    let key = data.path().join("msnp.key");
    let server = release.join("msnp-server");
    let store = |c: &mut Command| {
        c.arg("--store").arg(pg.url()).arg("--key-file").arg(&key);
    };
    let mut import = Command::new(&server);
    import.arg("import");
    store(&mut import);
    run(import.arg(accounts).stdout(std::process::Stdio::null()))?;
    let serve = |node: Option<&str>| {
        let mut c = Command::new(&server);
        c.arg("serve");
        store(&mut c);
        c.args(["--listen", "127.0.0.1:0", "--sb-listen", "127.0.0.1:0", "--max-connections", "30000"]);
        if let Some(node) = node {
            c.args(["--bus", &nats.url(), "--node", node, "--bus-replicas", "3"]);
        }
        c.env("RUST_LOG", "warn");
        c
    };
    let ns = |ready: &str| ready.split(' ').find_map(|f| f.strip_prefix("ns=")).map(str::to_owned);

    step("7a. one node on PostgreSQL, no bus: sign-in storm, 200 clients, 20 s");
    let (lone, ready) = start(serve(None))?;
    let lone_ns = ns(&ready).ok_or(format!("the node said {ready:?}"))?;
    let lone_storm = bench(&["signin", "--ns", &lone_ns, "--clients", "200", "--seconds", "20"])?;
    drop(lone);

    let mut nodes: Vec<(Proc, String)> = Vec::new();
    for i in 1..=3 {
        let (node, ready) = start(serve(Some(&format!("node{i}"))))?;
        nodes.push((node, ns(&ready).ok_or(format!("node{i} said {ready:?}"))?));
    }
    let mut dispatch = serve(Some("dispatch"));
    dispatch.arg("--dispatch");
    let (_dispatch, ready) = start(dispatch)?;
    let dispatch_ns = ns(&ready).ok_or(format!("the dispatch node said {ready:?}"))?;
    // Every node hears the others' heartbeats (one a second) before the load starts.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let all: Vec<&str> = nodes.iter().map(|(_, ns)| ns.as_str()).collect();
    let all = all.join(",");

    step("7b. sign-in storm through the dispatch node: 200 clients, 20 s");
    let node_pids: Vec<u32> = nodes.iter().map(|(node, _)| node.pid()).collect();
    let parts: [(&str, Vec<u32>); 3] =
        [("nodes", node_pids), ("dispatch", vec![_dispatch.pid()]), ("nats", nats.pids())];
    let before = cpu_use(&parts);
    let mut storm = bench(&["signin", "--ns", &dispatch_ns, "--clients", "200", "--seconds", "20"])?;
    let after = cpu_use(&parts);
    // CPU milliseconds per sign-in (and its sign-out), by part of the cluster.
    let sign_ins = storm["sign_ins"].as_f64().unwrap_or(f64::NAN);
    let per_sign_in: serde_json::Map<String, Value> = before
        .iter()
        .zip(&after)
        .map(|((name, b), (_, a))| (name.clone(), json!((a - b) * 1000.0 / sign_ins)))
        .collect();
    storm["cpu_ms_per_sign_in"] = Value::Object(per_sign_in);
    step("7c. presence fan-out: 500 watchers on 3 nodes");
    let fanout = bench(&["fanout", "--ns", &all, "--watchers", "500", "--rounds", "21"])?;
    step("7d. idle sessions on one node of the cluster");
    let (node, node_ns) = &nodes[1];
    let idle = bench(&["idle", "--ns", node_ns, "--clients", &idle.to_string(), "--pid", &node.pid().to_string()])?;
    Ok(json!({ "lone_postgres_sign_in_storm": lone_storm, "sign_in_storm": storm, "fan_out": fanout, "idle": idle }))
}

/// CPU seconds used so far by each part (its processes), by PostgreSQL's processes, and by the whole
/// machine (all cores).
fn cpu_use(parts: &[(&str, Vec<u32>)]) -> Vec<(String, f64)> {
    let mut used: Vec<(String, f64)> =
        parts.iter().map(|(name, pids)| (name.to_string(), pids.iter().map(|p| process_cpu(*p)).sum())).collect();
    let postgres: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(process_cpu)
        .sum();
    used.push(("postgres".into(), postgres));
    used.push(("machine".into(), machine_cpu()));
    used
}

/// Clock ticks per second, as Linux reports CPU times in /proc.
const TICKS: f64 = 100.0;

/// User and system CPU seconds of process `pid` (its threads included).
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces), from the 3rd: utime is the 14th, stime the 15th.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS
}

/// CPU seconds all cores have spent busy (not idle, not waiting for I/O).
fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let idle = cpu.get(3).copied().unwrap_or(0.0) + cpu.get(4).copied().unwrap_or(0.0);
    (cpu.iter().sum::<f64>() - idle) / TICKS
}
