//! NATS servers on loopback: one, or a cluster of several routed to each other, with JetStream.

use std::io;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, stop, wait_for_port};

/// Debian's nats-server is in /usr/sbin, which not every PATH has.
fn nats_server() -> &'static str {
    const DEBIAN: &str = "/usr/sbin/nats-server";
    if std::path::Path::new(DEBIAN).exists() { DEBIAN } else { "nats-server" }
}

/// Starts of a cluster tried before giving up.
const START_ATTEMPTS: usize = 3;

/// NATS servers, clustered; each stopped when dropped (or on [`NatsCluster::kill`]).
#[derive(Debug)]
pub struct NatsCluster {
    servers: Vec<Option<Child>>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// `n` servers (JetStream on, each with its own store) routed to each other.
    pub fn start(n: usize) -> io::Result<NatsCluster> {
        // Ports are picked free, then handed to nats-server: meanwhile another process (tests start
        // clusters in parallel) may take one, and that server exits. Such a start is tried again on new ports.
        let mut failed = None;
        for _ in 0..START_ATTEMPTS {
            match NatsCluster::start_once(n) {
                Ok(cluster) => return Ok(cluster),
                Err(e) => failed = Some(e),
            }
        }
        Err(failed.unwrap_or_else(|| io::Error::other("no attempt made")))
    }

    fn start_once(n: usize) -> io::Result<NatsCluster> {
        let dir = tempfile::Builder::new().prefix("msnp-nats-").tempdir()?;
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect::<io::Result<_>>()?;
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect::<io::Result<_>>()?;
        let all_routes = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let mut servers = Vec::new();
        for (i, (port, route)) in ports.iter().zip(&routes).enumerate() {
            let store = dir.path().join(format!("js{i}"));
            let mut c = Command::new(nats_server());
            c.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", &format!("n{i}"), "-js", "-sd"])
                .arg(&store)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if n > 1 {
                c.args(["--cluster_name", "msnp", "--cluster", &format!("nats://127.0.0.1:{route}"), "--routes"])
                    .arg(&all_routes);
            }
            servers.push(Some(c.spawn()?));
        }
        let mut cluster = NatsCluster { servers, ports, _dir: dir };
        for port in &cluster.ports {
            wait_for_port(*port, Duration::from_secs(20))?;
        }
        if cluster.servers.iter_mut().flatten().any(|server| !matches!(server.try_wait(), Ok(None))) {
            return Err(io::Error::other("a NATS server exited at start (its port was taken)"));
        }
        Ok(cluster)
    }

    /// Every server's client URL, comma-separated (what clients are given, so they can fail over).
    pub fn url(&self) -> String {
        self.ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// The servers' process ids (of those running).
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().flatten().map(Child::id).collect()
    }

    /// Kills server `i` (SIGKILL), as a crash would.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers.get_mut(i).and_then(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for child in self.servers.iter_mut().filter_map(Option::as_mut) {
            stop(child, "TERM");
        }
    }
}
