//! Every limit of the notification server, tested.

mod common;

use std::time::Duration;

use common::{ACCOUNTS, Client, TestServer};

#[tokio::test]
async fn connections_that_do_not_sign_in_in_time_are_closed() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.ns.login_timeout = Duration::from_secs(1)).await;
    let mut idle = Client::connect(server.ns()).await;
    let mut greeted = Client::greeted(server.ns()).await;
    let mut signed_in = Client::sign_in(server.ns(), "jd@hotmail.com", "hunter2", "JD").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    idle.expect_closed().await;
    greeted.expect_closed().await;
    signed_in.ask("PNG", "QNG").await;
}

#[tokio::test]
async fn connections_over_the_limit_are_refused() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.limits.max_connections = 2).await;
    let mut a = Client::greeted(server.ns()).await;
    let mut b = Client::greeted(server.ns()).await;
    let mut c = Client::connect(server.ns()).await;
    c.send("VER 1 MSNP2").await;
    c.expect_closed().await;
    drop(a);
    server.wait_open(1).await;
    let mut d = Client::greeted(server.ns()).await;
    d.ask("PNG", "QNG").await;
    b.ask("PNG", "QNG").await;
    a = d;
    a.ask("INF 2", "INF 2 MD5").await;
}

#[tokio::test]
async fn the_line_limit_is_configurable() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.limits.max_line = 64).await;
    let mut c = Client::greeted(server.ns()).await;
    c.send(&format!("FOO 5 {}", "x".repeat(64 - 8))).await;
    c.expect("200 5").await;
    c.send(&format!("FOO 6 {}", "x".repeat(64 - 7))).await;
    c.expect_closed().await;
}

/// An account with long lists: each SYN dump is about 20 KB.
fn big_account() -> String {
    let mut accounts = String::from("[[account]]\nemail = \"big@hotmail.com\"\npassword = \"pw\"\nversion = 1\n");
    for list in ["FL", "AL", "RL"] {
        let entries: Vec<String> =
            (0..150).map(|i| format!("{{ email = \"contact{i}@hotmail.com\", name = \"Contact%20{i}\" }}")).collect();
        accounts.push_str(&format!("{list} = [{}]\n", entries.join(", ")));
    }
    accounts
}

#[tokio::test]
async fn a_closed_connection_whose_writes_are_stuck_counts_until_its_writer_gives_up() {
    let server = TestServer::start_with(&big_account(), |c| {
        c.limits.send_timeout = Duration::from_secs(1);
        c.limits.send_queue_bytes = 64 << 20;
    })
    .await;
    let mut big = Client::connect_with(server.ns(), "127.0.0.1", Some(2048)).await;
    big.authenticate("big@hotmail.com", "pw").await;
    big.expect("USR 4 OK big@hotmail.com big@hotmail.com").await;
    // Megabytes of dumps it will not read, then a line that is not UTF-8: the server hangs up.
    let requests: String = (10..210).map(|t| format!("SYN {t} 0\r\n")).collect();
    big.send_raw(requests.as_bytes()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    big.send_raw(b"\xff\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Its socket cannot take what is queued: it is still counted, until the send timeout stops its writer.
    assert_eq!(server.open_connections(), 1);
    server.wait_idle().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let server = TestServer::start_with(&big_account(), |c| c.limits.send_queue_bytes = 64 * 1024).await;
    let mut big = Client::sign_in(server.ns(), "big@hotmail.com", "pw", "big@hotmail.com").await;
    // Ask for 50 MB of list dumps and never read them.
    let requests: String = (10..2510).map(|t| format!("SYN {t} 0\r\n")).collect();
    big.send_raw(requests.as_bytes()).await;
    server.wait_idle().await;
    let mut other = Client::greeted(server.ns()).await;
    other.ask("PNG", "QNG").await;
}

#[tokio::test]
async fn renames_are_limited_per_user() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.ns.renames_per_minute = 6).await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    // Ten at once (each a durable write, told to every watcher), then about one every ten seconds.
    for n in 1..=10u32 {
        let trid = 10 + n;
        alice
            .ask(&format!("REA {trid} alice@hotmail.com A{n}"), &format!("REA {trid} {} alice@hotmail.com A{n}", 4 + n))
            .await;
    }
    alice.ask("REA 21 alice@hotmail.com Again", "713 21").await;
    // The limit is the renamer's own: Bob renames as usual.
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com A10").await;
    bob.ask("REA 7 bob@hotmail.com Bobby", "REA 7 5 bob@hotmail.com Bobby").await;
}

#[tokio::test]
async fn state_changes_are_limited_per_user_and_a_refused_one_changes_nothing() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.ns.state_changes_per_minute = 30).await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    // Twenty at once (the sign-in's CHG was one), each seen by Bob; then 713, and Bob sees nothing more.
    let states = ["AWY", "BSY"];
    for n in 0..19u32 {
        let state = states[n as usize % 2];
        alice.ask(&format!("CHG {} {state}", 10 + n), &format!("CHG {} {state}", 10 + n)).await;
        bob.expect(&format!("NLN {state} alice@hotmail.com Alice")).await;
    }
    alice.ask("CHG 40 PHN", "713 40").await;
    bob.expect_silence().await;
    // Two seconds on (30 a minute), one more is allowed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    alice.ask("CHG 41 NLN", "CHG 41 NLN").await;
    bob.expect("NLN NLN alice@hotmail.com Alice").await;
}
