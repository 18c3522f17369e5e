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
    let storm = bench(&["signin", "--ns", &dispatch_ns, "--clients", "200", "--seconds", "20"])?;
    step("7c. presence fan-out: 500 watchers on 3 nodes");
    let fanout = bench(&["fanout", "--ns", &all, "--watchers", "500", "--rounds", "21"])?;
    step("7d. idle sessions on one node of the cluster");
    let (node, node_ns) = &nodes[1];
    let idle = bench(&["idle", "--ns", node_ns, "--clients", &idle.to_string(), "--pid", &node.pid().to_string()])?;
    Ok(json!({ "lone_postgres_sign_in_storm": lone_storm, "sign_in_storm": storm, "fan_out": fanout, "idle": idle }))
}
