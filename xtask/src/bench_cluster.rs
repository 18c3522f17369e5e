//! The cluster's part of `cargo xtask bench`: PostgreSQL, three NATS servers, three nodes and a dispatch
//! node on this machine, measured with the same load generator as the lone server.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::bench_report::{Figure, each, ratio};
use crate::procs::{Proc, bench, machine_cpu, process_cpu, start};
use crate::sh::{Result, run, step};

/// The cluster's runs: each has sign-ins through the dispatch node (with CPU per sign-in by part), the
/// same on one PostgreSQL node without a bus, fan-out to watchers on three nodes, and memory per idle
/// session on one node (a different node each run, so each is measured once).
pub fn measure(release: &Path, accounts: &Path, idle: usize, runs: usize) -> Result<Vec<Value>> {
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

    step("7a. one node on PostgreSQL, no bus: sign-in storms, 200 clients, 15 s");
    let (lone, ready) = start(serve(None))?;
    let lone_ns = ns(&ready)?;
    let lone_storms: Vec<Value> = (0..runs).map(|_| storm(&lone_ns)).collect::<Result<_>>()?;
    drop(lone);

    let mut nodes: Vec<(Proc, String)> = Vec::new();
    for i in 1..=3 {
        let (node, ready) = start(serve(Some(&format!("node{i}"))))?;
        nodes.push((node, ns(&ready)?));
    }
    let mut dispatch = serve(Some("dispatch"));
    dispatch.arg("--dispatch");
    let dispatch = start(dispatch)?;
    // Every node hears the others' heartbeats (one a second) before the load starts.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut measured = Vec::new();
    for (i, lone_storm) in lone_storms.into_iter().enumerate() {
        let mut one = cluster_run(&nodes, &dispatch, &nats, idle, i % nodes.len())?;
        one["lone_postgres_sign_in_storm"] = lone_storm;
        measured.push(one);
    }
    Ok(measured)
}

fn ns(ready: &str) -> Result<String> {
    ready.split(' ').find_map(|f| f.strip_prefix("ns=")).map(str::to_owned).ok_or(format!("a node said {ready:?}"))
}

fn storm(ns: &str) -> Result<Value> {
    bench(&["signin", "--ns", ns, "--clients", "200", "--seconds", "15"])
}

/// One run on the running cluster; the idle sessions go to node `idle_on`.
fn cluster_run(
    nodes: &[(Proc, String)],
    dispatch: &(Proc, String),
    nats: &engines::NatsCluster,
    idle: usize,
    idle_on: usize,
) -> Result<Value> {
    step("7b. sign-in storm through the dispatch node: 200 clients, 15 s");
    let node_pids: Vec<u32> = nodes.iter().map(|(node, _)| node.pid()).collect();
    let parts: [(&str, Vec<u32>); 3] =
        [("nodes", node_pids), ("dispatch", vec![dispatch.0.pid()]), ("nats", nats.pids())];
    let before = cpu_use(&parts);
    let mut storm = storm(&ns(&dispatch.1)?)?;
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
    let all: Vec<&str> = nodes.iter().map(|(_, ns)| ns.as_str()).collect();
    let fanout = bench(&["fanout", "--ns", &all.join(","), "--watchers", "500", "--rounds", "21"])?;
    step("7d. idle sessions on one node of the cluster");
    let (node, node_ns) = &nodes[idle_on];
    let idle = bench(&["idle", "--ns", node_ns, "--clients", &idle.to_string(), "--pid", &node.pid().to_string()])?;
    Ok(json!({ "sign_in_storm": storm, "fan_out": fanout, "idle": idle }))
}

/// The cluster's figures; `lone` is the lone server's sign-ins per second, run by run.
pub fn figures(runs: &[Value], lone: &[f64]) -> Vec<Figure> {
    let at = |pointer: &str| each(runs, pointer);
    let cpu = |part: &str| at(&format!("/sign_in_storm/cpu_ms_per_sign_in/{part}"));
    let fig = Figure::new;
    let sign_ins = at("/sign_in_storm/sign_ins_per_second");
    vec![
        fig("cluster: sign-ins per second through the dispatch node to 3 nodes", "/s", sign_ins.clone()),
        fig("cluster: sign-ins per second ÷ one plain node's", "×", ratio(&sign_ins, lone)).at_least(0.5),
        fig(
            "one node on PostgreSQL (no bus): sign-ins per second",
            "/s",
            at("/lone_postgres_sign_in_storm/sign_ins_per_second"),
        ),
        fig("cluster: CPU per sign-in, the 3 nodes", "ms", cpu("nodes")),
        fig("cluster: CPU per sign-in, the dispatch node", "ms", cpu("dispatch")),
        fig("cluster: CPU per sign-in, the 3 NATS servers", "ms", cpu("nats")),
        fig("cluster: CPU per sign-in, PostgreSQL", "ms", cpu("postgres")),
        fig("cluster: CPU per sign-in, the whole machine (load generator included)", "ms", cpu("machine")),
        fig("cluster: fan-out to 500 watchers on 3 nodes, p50", "ms", at("/fan_out/p50_ms")),
        fig("cluster: fan-out to 500 watchers on 3 nodes, max", "ms", at("/fan_out/max_ms")).at_most(30.0),
        fig("cluster: node memory per idle session (10,000)", "B", at("/idle/scales/0/bytes_per_session")),
    ]
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
