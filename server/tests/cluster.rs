//! A cluster on real engines: server nodes sharing a throwaway PostgreSQL database and talking through a
//! three-server NATS cluster, with clients on different nodes (MSNP2.md §5.4's farms).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ACCOUNTS, Client};
use msnp_server::bus::BusConfig;
use msnp_server::cluster::ClusterConfig;
use msnp_server::{Database, Running, ServeConfig};

const HELLO: &str = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob";

/// PostgreSQL with the §13 accounts, three NATS servers, and server nodes.
struct Cluster {
    pg: engines::Postgres,
    nats: engines::NatsCluster,
    dir: tempfile::TempDir,
    nodes: Vec<Running>,
}

impl Cluster {
    async fn start(nodes: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("msnp.key");
        let (pg, nats) = std::thread::spawn(move || {
            let pg = engines::Postgres::start().unwrap();
            let nats = engines::NatsCluster::start(3).unwrap();
            let mut admin = Database::Postgres(pg.url()).open_admin(Some(&key)).unwrap();
            msnp_server::accounts::import(admin.as_mut(), ACCOUNTS).unwrap();
            (pg, nats)
        })
        .join()
        .unwrap();
        let mut cluster = Cluster { pg, nats, dir, nodes: Vec::new() };
        for i in 0..nodes {
            let node = msnp_server::start(cluster.config(&format!("node{i}"))).await.unwrap();
            cluster.nodes.push(node);
        }
        cluster.settle().await;
        cluster
    }

    fn key(&self) -> std::path::PathBuf {
        self.dir.path().join("msnp.key")
    }

    fn config(&self, node: &str) -> ServeConfig {
        let mut config = ServeConfig::new(Database::Postgres(self.pg.url()));
        config.key_file = Some(self.key());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sb_listen = "127.0.0.1:0".parse().unwrap();
        config.bus = Some(BusConfig { url: self.nats.url(), replicas: 3, cluster: ClusterConfig::new(node) });
        config
    }

    fn ns(&self, i: usize) -> SocketAddr {
        self.nodes[i].ns_addr
    }

    fn sb(&self, i: usize) -> SocketAddr {
        self.nodes[i].sb_addr
    }

    /// Every node has heard every other's heartbeat.
    async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

/// Alice on node `a`, Bob on node `b`, both online and seeing each other (mutual contacts).
async fn alice_and_bob(cluster: &Cluster, a: usize, b: usize) -> (Client, Client) {
    let mut alice = Client::online(cluster.ns(a), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(cluster.ns(b), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    (alice, bob)
}

/// `XFR` on `ns` and `USR` at the switchboard it names: joined.
async fn start_chat(ns: &mut Client, sb: SocketAddr, trid: u32, handle: &str, name: &str) -> Client {
    ns.send(&format!("XFR {trid} SB")).await;
    let cookie = ns.expect_prefix(&format!("XFR {trid} SB {sb} CKI ")).await;
    let mut c = Client::connect(sb).await;
    c.ask(&format!("USR 1 {handle} {cookie}"), &format!("USR 1 OK {handle} {name}")).await;
    c
}

/// Reads an `RNG` on `ns` for a session at `sb` and answers it there; returns the connection after `ANS OK`.
async fn answer(ns: &mut Client, sb: SocketAddr, handle: &str, caller: &str, iro: &[&str]) -> Client {
    let rng = ns.recv().await.unwrap().line().to_owned();
    let tokens: Vec<&str> = rng.split(' ').collect();
    assert_eq!((tokens[0], tokens[2], tokens[3], tokens[5]), ("RNG", sb.to_string().as_str(), "CKI", caller), "{rng}");
    let mut c = Client::connect(sb).await;
    c.send(&format!("ANS 1 {handle} {} {}", tokens[4], tokens[1])).await;
    c.expect_all(iro).await;
    c.expect("ANS 1 OK").await;
    c
}

/// The next line within `within` (longer than the clients' usual wait).
async fn next_line_within(c: &mut Client, within: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(4), c.recv()).await {
            Ok(frame) => return frame.map(|f| f.line().to_owned()),
            Err(_) if start.elapsed() < within => {}
            Err(_) => panic!("nothing within {within:?}"),
        }
    }
}

#[tokio::test]
async fn the_section_13_transcripts_with_alice_and_bob_on_two_nodes() {
    // §13.2, Alice on one node and Bob on another.
    let cluster = Cluster::start(2).await;
    let (mut alice, mut bob) = alice_and_bob(&cluster, 0, 1).await;
    bob.ask("CHG 7 AWY", "CHG 7 AWY").await;
    alice.expect("NLN AWY bob@hotmail.com Bob").await;
    bob.ask("REA 8 bob@hotmail.com Bobby%20B", "REA 8 5 bob@hotmail.com Bobby%20B").await;
    alice.expect("NLN AWY bob@hotmail.com Bobby%20B").await;
    bob.ask("CHG 9 HDN", "CHG 9 HDN").await;
    alice.expect("FLN bob@hotmail.com").await;
    bob.ask("CHG 10 NLN", "CHG 10 NLN").await;
    alice.expect("NLN NLN bob@hotmail.com Bobby%20B").await;

    // §13.3: the chat is on Alice's node's switchboard; Bob is rung through his.
    let sb = cluster.sb(0);
    let mut alice_sb = start_chat(&mut alice, sb, 7, "alice@hotmail.com", "Alice").await;
    alice_sb.send("CAL 2 bob@hotmail.com").await;
    alice_sb.expect_prefix("CAL 2 RINGING ").await;
    let iro = ["IRO 1 1 1 alice@hotmail.com Alice"];
    let mut bob_sb = answer(&mut bob, sb, "bob@hotmail.com", "alice@hotmail.com", &iro).await;
    alice_sb.expect("JOI bob@hotmail.com Bobby%20B").await;
    alice_sb.send_msg("MSG 3 N", HELLO).await;
    bob_sb.expect_msg("MSG alice@hotmail.com Alice", HELLO).await;
    let lunch = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice, lunch?";
    bob_sb.send_msg("MSG 2 A", lunch).await;
    alice_sb.expect_msg("MSG bob@hotmail.com Bobby%20B", lunch).await;
    bob_sb.expect("ACK 2").await;
    bob_sb.send("OUT").await;
    bob_sb.expect_closed().await;
    alice_sb.expect("BYE bob@hotmail.com").await;
    alice_sb.send("OUT").await;
    alice_sb.expect_closed().await;
    alice.ask("PNG", "QNG").await;
    bob.send("OUT").await;
    bob.expect_closed().await;
    alice.expect("FLN bob@hotmail.com").await;
}

#[tokio::test]
async fn presence_privacy_and_lists_across_nodes() {
    let cluster = Cluster::start(2).await;
    let (mut alice, mut bob) = alice_and_bob(&cluster, 0, 1).await;
    bob.ask("CHG 7 BSY", "CHG 7 BSY").await;
    alice.expect("NLN BSY bob@hotmail.com Bob").await;
    alice.ask("REA 7 alice@hotmail.com Alice%20A.", "REA 7 5 alice@hotmail.com Alice%20A.").await;
    bob.expect("NLN NLN alice@hotmail.com Alice%20A.").await;

    // Privacy is the watched user's, applied on its own node: Bob blocks Alice, and is gone for her.
    bob.ask("REM 8 AL alice@hotmail.com", "REM 8 AL 5 alice@hotmail.com").await;
    bob.ask("ADD 9 BL alice@hotmail.com Alice", "ADD 9 BL 6 alice@hotmail.com Alice").await;
    alice.expect("FLN bob@hotmail.com").await;
    bob.ask("CHG 10 NLN", "CHG 10 NLN").await;
    alice.expect_silence().await;

    // Lists: Erin (node 1) adds JD (node 0), who hears of it; each sees the other once JD adds her back.
    let mut jd = Client::online(cluster.ns(0), "jd@hotmail.com", "hunter2", "JD", 0).await;
    let mut erin = Client::online(cluster.ns(1), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    erin.ask("ADD 7 FL jd@hotmail.com JD", "ADD 7 FL 1 jd@hotmail.com JD").await;
    erin.expect("ILN 7 NLN jd@hotmail.com JD").await;
    jd.expect("ADD 0 RL 1 erin@hotmail.com Erin").await;
    jd.ask("ADD 8 FL erin@hotmail.com Erin", "ADD 8 FL 2 erin@hotmail.com Erin").await;
    jd.expect("ILN 8 NLN erin@hotmail.com Erin").await;
    erin.expect("ADD 0 RL 2 jd@hotmail.com JD").await;
    jd.ask("CHG 9 AWY", "CHG 9 AWY").await;
    erin.expect("NLN AWY jd@hotmail.com JD").await;
    erin.ask("REM 8 FL jd@hotmail.com", "REM 8 FL 3 jd@hotmail.com").await;
    jd.expect("REM 0 RL 3 erin@hotmail.com").await;
    jd.send("OUT").await;
    jd.expect_closed().await;
    erin.expect_silence().await;
    // Bob blocking Alice hides Bob from her, not her from him.
    alice.send("OUT").await;
    alice.expect_closed().await;
    bob.expect("FLN alice@hotmail.com").await;
}

#[tokio::test]
async fn a_three_way_chat_whose_members_signed_in_on_three_nodes() {
    let cluster = Cluster::start(3).await;
    let (mut alice, mut bob) = alice_and_bob(&cluster, 0, 1).await;
    let mut erin = Client::online(cluster.ns(2), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    // Alice's switchboard is her node's; the callees are rung through theirs.
    let sb = cluster.sb(0);
    let mut alice_sb = start_chat(&mut alice, sb, 7, "alice@hotmail.com", "Alice").await;
    alice_sb.send("CAL 2 bob@hotmail.com").await;
    let session = alice_sb.expect_prefix("CAL 2 RINGING ").await;
    let mut bob_sb =
        answer(&mut bob, sb, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    alice_sb.expect("JOI bob@hotmail.com Bob").await;
    // Erin has nobody on her lists (all allowed): Bob may call her.
    bob_sb.ask("CAL 2 erin@hotmail.com", &format!("CAL 2 RINGING {session}")).await;
    let iro = ["IRO 1 1 2 alice@hotmail.com Alice", "IRO 1 2 2 bob@hotmail.com Bob"];
    let mut erin_sb = answer(&mut erin, sb, "erin@hotmail.com", "bob@hotmail.com", &iro).await;
    alice_sb.expect("JOI erin@hotmail.com Erin").await;
    bob_sb.expect("JOI erin@hotmail.com Erin").await;
    alice_sb.send_msg("MSG 3 N", HELLO).await;
    bob_sb.expect_msg("MSG alice@hotmail.com Alice", HELLO).await;
    erin_sb.expect_msg("MSG alice@hotmail.com Alice", HELLO).await;
    erin_sb.send("OUT").await;
    erin_sb.expect_closed().await;
    alice_sb.expect("BYE erin@hotmail.com").await;
    bob_sb.expect("BYE erin@hotmail.com").await;

    // Someone offline, or hidden, on any node cannot be rung.
    alice_sb.ask("CAL 4 jd@hotmail.com", "217 4").await;
    erin.ask("CHG 7 HDN", "CHG 7 HDN").await;
    alice_sb.ask("CAL 5 erin@hotmail.com", "217 5").await;
}

#[tokio::test]
async fn one_handle_signed_in_on_two_nodes_keeps_one_session() {
    let cluster = Cluster::start(2).await;
    // One after the other: the first session ends.
    let mut first = Client::online(cluster.ns(0), "jd@hotmail.com", "hunter2", "JD", 0).await;
    let mut second = Client::online(cluster.ns(1), "jd@hotmail.com", "hunter2", "JD", 0).await;
    first.expect("OUT OTH").await;
    first.expect_closed().await;
    second.ask("PNG", "QNG").await;
    second.send("OUT").await;
    second.expect_closed().await;

    // At the same moment, many times over: exactly one survives each time.
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            Client::sign_in(cluster.ns(0), "erin@hotmail.com", "erinpw", "Erin"),
            Client::sign_in(cluster.ns(1), "erin@hotmail.com", "erinpw", "Erin"),
        );
        // Each node hears of the other's sign-in through the registry, a moment later.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut survivors = 0;
        for mut c in [a, b] {
            c.send("PNG").await;
            match c.recv().await.map(|f| f.line().to_owned()).as_deref() {
                Some("QNG") => survivors += 1,
                Some("OUT OTH") => c.expect_closed().await,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(survivors, 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node run as its own process, so that it can be killed.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_process(cluster: &Cluster, node: &str) -> (Process, SocketAddr) {
    serve_process_with(cluster, node, &[])
}

/// `msnp-server serve` as node `node` of `cluster`, with `extra` arguments: once it says it is ready. The
/// wait blocks only this test's thread (a multi-threaded runtime's), so the nodes in this process go on
/// beating meanwhile (a dispatch node waits to hear one).
fn serve_process_with(cluster: &Cluster, node: &str, extra: &[&str]) -> (Process, SocketAddr) {
    tokio::task::block_in_place(|| start_process(cluster, node, extra))
}

fn start_process(cluster: &Cluster, node: &str, extra: &[&str]) -> (Process, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_msnp-server"))
        .args(["serve", "--store", &cluster.pg.url(), "--key-file", cluster.key().to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--sb-listen", "127.0.0.1:0", "--bus", &cluster.nats.url()])
        .args(["--node", node, "--bus-replicas", "3"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let rest = line.trim_end().strip_prefix("ready ns=").unwrap_or_else(|| panic!("bad ready line {line:?}"));
    let (ns, _) = rest.split_once(" sb=").unwrap();
    (Process(child), ns.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_node_s_users_go_offline_and_leave_chats() {
    let cluster = Cluster::start(1).await;
    let (mut doomed, ns) = serve_process(&cluster, "doomed");
    cluster.settle().await;
    let mut alice = Client::online(cluster.ns(0), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(ns, "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    let sb = cluster.sb(0);
    let mut alice_sb = start_chat(&mut alice, sb, 7, "alice@hotmail.com", "Alice").await;
    alice_sb.send("CAL 2 bob@hotmail.com").await;
    alice_sb.expect_prefix("CAL 2 RINGING ").await;
    let _bob_sb =
        answer(&mut bob, sb, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    alice_sb.expect("JOI bob@hotmail.com Bob").await;

    let killed = Instant::now();
    doomed.0.kill().unwrap();
    doomed.0.wait().unwrap();
    assert_eq!(next_line_within(&mut alice, Duration::from_secs(10)).await.as_deref(), Some("FLN bob@hotmail.com"));
    assert_eq!(next_line_within(&mut alice_sb, Duration::from_secs(10)).await.as_deref(), Some("BYE bob@hotmail.com"));
    assert!(killed.elapsed() < Duration::from_secs(10), "{:?}", killed.elapsed());
    alice_sb.ask("CAL 3 bob@hotmail.com", "217 3").await;
}

#[tokio::test]
async fn the_cluster_keeps_working_when_one_nats_server_dies() {
    let mut cluster = Cluster::start(2).await;
    let (mut alice, mut bob) = alice_and_bob(&cluster, 0, 1).await;
    cluster.nats.kill(0);
    // Nodes connected to the dead server reconnect to another; notes sent meanwhile may be lost (core NATS
    // delivers at most once). Within seconds, changes cross nodes again.
    let states = ["BSY", "AWY"];
    let mut crossed = false;
    for (trid, state) in (7..27).zip(states.iter().cycle()) {
        bob.ask(&format!("CHG {trid} {state}"), &format!("CHG {trid} {state}")).await;
        match tokio::time::timeout(Duration::from_secs(1), alice.recv()).await {
            Ok(Some(frame)) if frame.line() == format!("NLN {state} bob@hotmail.com Bob") => {
                crossed = true;
                break;
            }
            Ok(Some(frame)) => assert!(frame.line().starts_with("NLN "), "{}", frame.line()),
            Ok(None) => panic!("closed"),
            Err(_) => {}
        }
    }
    assert!(crossed, "no change crossed nodes within 20 s of a NATS server's death");
    // The sign-in registry's servers elect a new leader if theirs died: until then sign-ins answer 500.
    let mut erin = loop {
        let mut c = Client::connect(cluster.ns(1)).await;
        c.authenticate("erin@hotmail.com", "erinpw").await;
        match next_line_within(&mut c, Duration::from_secs(15)).await.as_deref() {
            Some("USR 4 OK erin@hotmail.com Erin") => break c,
            Some("500 4") => tokio::time::sleep(Duration::from_secs(1)).await,
            other => panic!("unexpected {other:?}"),
        }
    };
    erin.ask("SYN 5 0", "SYN 5 0").await;
    erin.ask("CHG 6 NLN", "CHG 6 NLN").await;
    erin.ask("ADD 7 FL alice@hotmail.com Alice", "ADD 7 FL 1 alice@hotmail.com Alice").await;
    erin.expect("ILN 7 NLN alice@hotmail.com Alice").await;
    alice.expect("ADD 0 RL 5 erin@hotmail.com Erin").await;
    // And a sign-in on another node still ends the first session.
    let _again = Client::sign_in(cluster.ns(0), "erin@hotmail.com", "erinpw", "Erin").await;
    assert_eq!(next_line_within(&mut erin, Duration::from_secs(20)).await.as_deref(), Some("OUT OTH"));
}

/// `VER`, `INF`, `USR … I` on `addr`: the `XFR 3 NS` it answers with (and the connection closes).
async fn referred(addr: SocketAddr, handle: &str) -> SocketAddr {
    let mut c = Client::connect(addr).await;
    c.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    c.ask("INF 2", "INF 2 MD5").await;
    c.send(&format!("USR 3 MD5 I {handle}")).await;
    let to = c.expect_prefix("XFR 3 NS ").await;
    c.expect_closed().await;
    to.parse().unwrap()
}

#[tokio::test]
async fn a_dispatch_node_refers_to_the_least_loaded_node_and_a_drained_node_moves_its_clients() {
    let mut cluster = Cluster::start(2).await;
    let mut config = cluster.config("dispatch");
    config.bus.as_mut().unwrap().cluster.dispatch = true;
    cluster.nodes.push(msnp_server::start(config).await.unwrap());
    cluster.settle().await;
    let dispatch = cluster.ns(2);
    let nodes = [cluster.ns(0), cluster.ns(1)];

    // Two sign-ins in a row go to the two nodes: the second counts the first.
    let first = referred(dispatch, "alice@hotmail.com").await;
    let second = referred(dispatch, "bob@hotmail.com").await;
    assert!(nodes.contains(&first) && nodes.contains(&second) && first != second, "{first} {second}");
    let (mut alice, mut bob) = (
        Client::online(first, "alice@hotmail.com", "alicepw", "Alice", 4).await,
        Client::online(second, "bob@hotmail.com", "bobpw", "Bob", 4).await,
    );
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    // Draining Alice's node sends her to the other, where she signs in again.
    let drained = if first == nodes[0] { "node0" } else { "node1" };
    msnp_server::bus::drain(&cluster.nats.url(), drained, None).await.unwrap();
    alice.expect(&format!("XFR 0 NS {second}")).await;
    assert_eq!(referred(first, "erin@hotmail.com").await, second);
    drop(alice);
    bob.expect("FLN alice@hotmail.com").await;
    let _alice = Client::online(second, "alice@hotmail.com", "alicepw", "Alice", 4).await;
    bob.expect("NLN NLN alice@hotmail.com Alice").await;
    // The dispatch node now refers everyone to the only node taking sign-ins.
    cluster.settle().await;
    assert_eq!(referred(dispatch, "jd@hotmail.com").await, second);
}

/// `GTC` to `mode` with `trid`: the version it gives, or `None` for `500`.
async fn gtc(c: &mut Client, trid: u32, mode: &str) -> Option<u32> {
    c.send(&format!("GTC {trid} {mode}")).await;
    let line = c.recv().await.expect("closed").line().to_owned();
    if line == format!("500 {trid}") {
        return None;
    }
    let version = line.strip_prefix(&format!("GTC {trid} ")).and_then(|rest| rest.strip_suffix(&format!(" {mode}")));
    Some(version.unwrap_or_else(|| panic!("unexpected {line:?}")).parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_works_again_once_postgresql_is_back_and_lost_nothing_it_confirmed() {
    let mut cluster = Cluster::start(1).await;
    let mut alice = Client::online(cluster.ns(0), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    // Changes confirmed right up to the crash.
    let mut confirmed = 4;
    for (trid, mode) in (10..40).zip(["N", "A"].iter().cycle()) {
        confirmed = gtc(&mut alice, trid, mode).await.expect("the database is up");
    }
    cluster.pg.kill();
    assert_eq!(gtc(&mut alice, 40, "N").await, None, "a change with the database down is refused");

    tokio::task::block_in_place(|| cluster.pg.restart()).unwrap();
    let back = Instant::now();
    let mut trid = 41;
    let version = loop {
        if let Some(version) = gtc(&mut alice, trid, "N").await {
            break version;
        }
        assert!(back.elapsed() < Duration::from_secs(5), "still 500 {:?} after PostgreSQL came back", back.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
        trid += 1;
    };
    assert_eq!(version, confirmed + 1, "every change confirmed before the crash is still there");
    // Sign-ins work again too, and see the same version.
    let mut again = Client::sign_in(cluster.ns(0), "alice@hotmail.com", "alicepw", "Alice").await;
    again.ask("SYN 5 0", &format!("SYN 5 {version}")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dispatch_node_says_it_is_ready_once_it_can_refer_sign_ins() {
    let cluster = Cluster::start(1).await;
    let (_dispatch, ns) = serve_process_with(&cluster, "dispatch", &["--dispatch"]);
    // At once: referred, not 601.
    assert_eq!(referred(ns, "alice@hotmail.com").await, cluster.ns(0));
}

/// Sends `signal` (`STOP`, `CONT`) to `process`.
fn signal(process: &Process, signal: &str) {
    let pid = process.0.id().to_string();
    assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_stood_still_past_the_node_timeout_signs_its_clients_in_again() {
    let cluster = Cluster::start(1).await;
    let (sleepy, ns) = serve_process(&cluster, "sleepy");
    cluster.settle().await;
    let mut alice = Client::online(cluster.ns(0), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(ns, "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    signal(&sleepy, "STOP");
    // The others declare it gone after their node timeout (5 s).
    assert_eq!(next_line_within(&mut alice, Duration::from_secs(10)).await.as_deref(), Some("FLN bob@hotmail.com"));
    signal(&sleepy, "CONT");
    // Back, it knows it missed what the others said: Bob is told to sign in again, and once he has, Alice and
    // he see each other again.
    assert_eq!(next_line_within(&mut bob, Duration::from_secs(5)).await.as_deref(), Some("OUT SSD"));
    bob.expect_closed().await;
    let mut bob = Client::online(ns, "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
}
