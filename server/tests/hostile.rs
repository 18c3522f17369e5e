//! Hostile clients over real TCP: floods, guessing, too many connections, forged client addresses,
//! clients that stop reading, and a database another process has locked. Speeds (flood latency, guesses
//! per minute) are measured by `cargo xtask bench`; these tests check behaviour.

mod common;

use std::time::Duration;

use common::{ACCOUNTS, Client, TestServer};
use msnp_server::proxy::Trusted;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn floods_of_blank_lines_and_pings_cost_only_the_flooders() {
    let server = TestServer::start().await;
    let mut flooders = Vec::new();
    for kind in 0..4 {
        let addr = server.ns();
        flooders.push(tokio::spawn(async move {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.write_all(b"VER 1 MSNP2\r\n").await.unwrap();
            let chunk = if kind % 2 == 0 { b"\r\n".repeat(8192) } else { b"PNG\r\n".repeat(4096) };
            // Until the server drops it (the PNG flooder never reads its QNGs) or the test ends.
            while c.write_all(&chunk).await.is_ok() {}
        }));
    }
    // Meanwhile another client signs in and is answered, command after command.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..20 {
        let mut c = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
        c.ask("PNG", "QNG").await;
    }
    flooders.iter().for_each(|f| f.abort());
}

#[tokio::test]
async fn a_whole_session_one_byte_at_a_time() {
    let server = TestServer::start().await;
    let mut c = Client::connect(server.ns()).await;
    for byte in b"\r\n\n  \r\nVER 1 MSNP2 CVR0\r\nINF  2\nUSR 3 MD5 I alice@hotmail.com\r\n" {
        c.send_raw(&[*byte]).await;
    }
    c.expect_all(&["VER 1 MSNP2", "INF 2 MD5"]).await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    let usr = format!("USR 4 MD5 S {}\r\nSYN 5 4\r\n", msnp::auth::md5_response(&challenge, "alicepw"));
    for byte in usr.as_bytes() {
        c.send_raw(&[*byte]).await;
    }
    c.expect_all(&["USR 4 OK alice@hotmail.com Alice", "SYN 5 4"]).await;
}

#[tokio::test]
async fn guesses_are_checked_five_times_per_account_and_address_then_refused() {
    let server = TestServer::start().await;
    let ns = server.ns();
    for _ in 0..5 {
        assert!(!Client::try_sign_in(ns, "127.0.0.1", "alice@hotmail.com", "guess").await);
    }
    assert_eq!(server.metrics().sign_in_failures(), 5);
    // Now even the right password from that address is refused, without being checked.
    assert!(!Client::try_sign_in(ns, "127.0.0.1", "alice@hotmail.com", "alicepw").await);
    assert!(!Client::try_sign_in(ns, "127.0.0.1", "ALICE@hotmail.com", "guess").await);
    assert_eq!((server.metrics().sign_in_failures(), server.metrics().sign_ins_throttled()), (5, 2));
    // The owner, from another address, signs in; and the guesser may still sign in to another account.
    assert!(Client::try_sign_in(ns, "127.0.0.2", "alice@hotmail.com", "alicepw").await);
    assert!(Client::try_sign_in(ns, "127.0.0.1", "bob@hotmail.com", "bobpw").await);
}

#[tokio::test]
async fn guesses_across_accounts_are_limited_per_address() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.ns.sign_in_limits.per_address = 3).await;
    let ns = server.ns();
    for account in ["alice@hotmail.com", "bob@hotmail.com", "nobody@hotmail.com"] {
        assert!(!Client::try_sign_in(ns, "127.0.0.3", account, "guess").await);
    }
    assert!(!Client::try_sign_in(ns, "127.0.0.3", "erin@hotmail.com", "erinpw").await);
    assert_eq!((server.metrics().sign_in_failures(), server.metrics().sign_ins_throttled()), (3, 1));
    assert!(Client::try_sign_in(ns, "127.0.0.4", "erin@hotmail.com", "erinpw").await);
}

#[tokio::test]
async fn connections_per_address_are_capped_and_counted_back_to_zero() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.per_address.per_address = 3;
        c.limits.per_address.per_second = 100.0;
        c.limits.per_address.limit_loopback = true;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = Client::connect_from(server.ns(), "127.0.0.5").await;
        c.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
        open.push(c);
    }
    // The fourth from that address is closed at once, on either port; other addresses are not affected.
    for addr in [server.ns(), server.sb()] {
        Client::connect_from(addr, "127.0.0.5").await.expect_closed().await;
    }
    Client::connect_from(server.ns(), "127.0.0.6").await.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    assert_eq!(server.metrics().refusals("per_address"), 2);
    open.pop();
    server.wait_open(2).await;
    Client::connect_from(server.ns(), "127.0.0.5").await.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    drop(open);
    server.wait_all_counters_zero().await;
}

#[tokio::test]
async fn new_connections_per_second_are_capped() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.per_address.per_second = 2.0;
        c.limits.per_address.limit_loopback = true;
    })
    .await;
    let mut first = Client::connect_from(server.ns(), "127.0.0.7").await;
    let mut second = Client::connect_from(server.ns(), "127.0.0.7").await;
    Client::connect_from(server.ns(), "127.0.0.7").await.expect_closed().await;
    first.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    second.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    assert_eq!(server.metrics().refusals("per_address_rate"), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    Client::connect_from(server.ns(), "127.0.0.7").await.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_connection_caps_by_default() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.limits.per_address.per_address = 2).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut c = Client::connect(server.ns()).await;
        c.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
        clients.push(c);
    }
}

/// A PROXY v1 header for a client at `client`, as a bridge or load balancer would send it.
fn proxy_v1(client: &str) -> String {
    format!("PROXY TCP4 {client} 127.0.0.1 40000 1863\r\n")
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_that_limits_count() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.proxy_from = Trusted(vec!["127.0.0.9/32".parse().unwrap()]);
    })
    .await;
    let ns = server.ns();
    // Five failures by one web user (203.0.113.5), relayed by the bridge at 127.0.0.9 with PROXY v1.
    for _ in 0..5 {
        let mut c = Client::connect_from(ns, "127.0.0.9").await;
        c.send_raw(proxy_v1("203.0.113.5").as_bytes()).await;
        c.authenticate("alice@hotmail.com", "guess").await;
        c.expect("911 4").await;
    }
    // That user is now refused; another web user behind the same bridge (PROXY v2) is not.
    let mut c = Client::connect_from(ns, "127.0.0.9").await;
    c.send_raw(proxy_v1("203.0.113.5").as_bytes()).await;
    c.authenticate("alice@hotmail.com", "alicepw").await;
    c.expect("911 4").await;
    let mut c = Client::connect_from(ns, "127.0.0.9").await;
    let header = msnp_server::proxy::v2_header("198.51.100.7:5555".parse().unwrap(), ns);
    c.send_raw(&header).await;
    c.authenticate("alice@hotmail.com", "alicepw").await;
    c.expect("USR 4 OK alice@hotmail.com Alice").await;
    // The bridge's own address was never blamed: a direct sign-in from it works.
    assert!(Client::try_sign_in(ns, "127.0.0.9", "bob@hotmail.com", "bobpw").await);
}

#[tokio::test]
async fn proxy_headers_from_anyone_else_or_malformed_are_closed() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.proxy_from = Trusted(vec!["127.0.0.9/32".parse().unwrap()]);
    })
    .await;
    for addr in [server.ns(), server.sb()] {
        // Not a trusted proxy: a header is not MSNP, and closes the connection before anything is read.
        let mut c = Client::connect_from(addr, "127.0.0.1").await;
        c.send_raw(proxy_v1("203.0.113.5").as_bytes()).await;
        c.send("VER 1 MSNP2").await;
        c.expect_closed().await;
        let mut c = Client::connect_from(addr, "127.0.0.1").await;
        c.send_raw(&msnp_server::proxy::v2_header("198.51.100.7:5555".parse().unwrap(), addr)).await;
        c.send("VER 1 MSNP2").await;
        c.expect_closed().await;
    }
    // From the trusted proxy, a malformed header closes too.
    let mut c = Client::connect_from(server.ns(), "127.0.0.9").await;
    c.send_raw(b"PROXY TCP4 nonsense\r\nVER 1 MSNP2\r\n").await;
    c.expect_closed().await;
    assert_eq!(server.metrics().refusals("proxy_header"), 1);
    // A trusted proxy that sends no header: served, as a client of unknown address.
    let mut c = Client::connect_from(server.ns(), "127.0.0.9").await;
    c.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
}

#[tokio::test]
async fn behind_a_proxy_without_headers_guessing_locks_only_that_account() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.proxy_from = Trusted(vec!["127.0.0.9/32".parse().unwrap()]);
        c.ns.sign_in_limits.per_address = 2;
    })
    .await;
    let ns = server.ns();
    for _ in 0..5 {
        assert!(!Client::try_sign_in(ns, "127.0.0.9", "alice@hotmail.com", "guess").await);
    }
    assert!(!Client::try_sign_in(ns, "127.0.0.9", "alice@hotmail.com", "alicepw").await);
    // The per-address limit (2) does not apply to the unknown address: everyone else still signs in.
    assert!(Client::try_sign_in(ns, "127.0.0.9", "bob@hotmail.com", "bobpw").await);
    assert_eq!(server.metrics().sign_in_failures(), 5);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.send_timeout = Duration::from_secs(1);
        c.limits.send_queue_bytes = 64 << 20;
        // Bob's changes are what fills Alice's socket: no limit on them here.
        c.ns.state_changes_per_minute = u32::MAX;
    })
    .await;
    // Alice cannot take more than a little, and stops reading; Bob keeps changing state.
    let mut alice = Client::connect_with(server.ns(), "127.0.0.1", Some(2048)).await;
    alice.authenticate("alice@hotmail.com", "alicepw").await;
    alice.expect("USR 4 OK alice@hotmail.com Alice").await;
    alice.ask("CHG 5 NLN", "CHG 5 NLN").await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    let mut trid = 7;
    let gone = loop {
        let state = if trid % 2 == 0 { "BSY" } else { "NLN" };
        bob.send(&format!("CHG {trid} {state}")).await;
        let reply = bob.recv().await.unwrap().line().to_owned();
        if reply == "FLN alice@hotmail.com" {
            break trid;
        }
        assert_eq!(reply, format!("CHG {trid} {state}"));
        trid += 1;
        assert!(trid < 1_000_000, "alice was never dropped");
    };
    assert!(gone > 7);
    assert_eq!(server.metrics().refusals("send_timeout"), 1);
    drop((alice, bob));
    server.wait_all_counters_zero().await;
}

#[tokio::test]
async fn a_locked_database_holds_up_only_the_changes_which_complete_in_order() {
    let server = TestServer::start().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    // Another process takes the database's write lock.
    let lock = rusqlite::Connection::open(server.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    alice.send("ADD 7 FL erin@hotmail.com Erin").await;
    alice.send("ADD 8 AL erin@hotmail.com Erin").await;
    alice.send("PNG").await;
    // Meanwhile, others sign in, go online, see each other and chat.
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    bob.ask("PNG", "QNG").await;
    bob.send("XFR 7 SB").await;
    let cookie = bob.expect_prefix(&format!("XFR 7 SB {} CKI ", server.sb())).await;
    let mut sb = Client::connect(server.sb()).await;
    sb.ask(&format!("USR 1 bob@hotmail.com {cookie}"), "USR 1 OK bob@hotmail.com Bob").await;
    sb.send("CAL 2 alice@hotmail.com").await;
    let session = sb.expect_prefix("CAL 2 RINGING ").await;
    // Alice's own commands wait, but what others send her arrives.
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    alice.expect_prefix(&format!("RNG {session} ")).await;
    // Alice's changes wait for the lock (and her later commands behind them, in order).
    alice.expect_silence().await;
    lock.execute_batch("COMMIT").unwrap();
    alice.expect_all(&["ADD 7 FL 5 erin@hotmail.com Erin", "ADD 8 AL 6 erin@hotmail.com Erin", "QNG"]).await;
}

#[tokio::test]
async fn a_change_that_waits_past_the_busy_timeout_answers_500() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.busy_timeout = Duration::from_millis(300)).await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let lock = rusqlite::Connection::open(server.db_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    alice.ask("REA 7 alice@hotmail.com Al", "500 7").await;
    lock.execute_batch("COMMIT").unwrap();
    // Nothing changed, and the next change goes through.
    alice.ask("REA 8 alice@hotmail.com Al", "REA 8 5 alice@hotmail.com Al").await;
}
