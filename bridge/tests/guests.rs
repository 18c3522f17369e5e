//! Guest accounts: offered only when configured, made over HTTP from the page's origin, limited per
//! address and in total, and usable at once to sign in with the robots as contacts.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bridge::config::GuestPolicy;
use common::{TestBridge, Ws, ws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request over raw TCP, from `origin`: the status code and the body.
async fn request(addr: SocketAddr, method: &str, path: &str, origin: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn policy(per_address_per_hour: u32, max: usize) -> GuestPolicy {
    GuestPolicy { ttl: Duration::from_secs(3600), per_address_per_hour, max, ..GuestPolicy::default() }
}

#[tokio::test]
async fn a_guest_account_is_made_from_the_page_and_signs_in_with_the_robots() {
    let bridge = TestBridge::start_with(|c| c.guests = Some(policy(2, 10))).await;
    let addr = bridge.http();
    let own = format!("http://{addr}");
    assert_eq!(request(addr, "GET", "/guest", &own).await, (200, r#"{"hours":1,"everyone":false}"#.to_owned()));
    assert_eq!(request(addr, "POST", "/guest", "http://evil.example").await.0, 403);

    let (status, body) = request(addr, "POST", "/guest", &own).await;
    assert_eq!(status, 200, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (email, password) = (made["email"].as_str().unwrap(), made["password"].as_str().unwrap());
    assert!(email.starts_with("guest-") && password.len() >= 16, "{body}");

    let name = format!("Guest%20{}", &email[6..10]);
    let mut c = Ws::sign_in(addr, email, password, &name).await;
    c.send("SYN 5 0").await;
    let syn = c.expect_prefix("SYN 5 ").await;
    assert_ne!(syn, "0");
    let mut forward = Vec::new();
    while forward.len() < 4 {
        let line = String::from_utf8(c.next().await.unwrap()).unwrap();
        if line.starts_with("LST 5 FL") {
            forward.push(line.split(' ').nth(6).unwrap().to_owned());
        }
    }
    assert_eq!(forward, ["echo@hotmail.com", "mood@hotmail.com", "host@hotmail.com", "chatty@hotmail.com"]);

    // Two per address per hour: the third is refused, saying why.
    assert_eq!(request(addr, "POST", "/guest", &own).await.0, 200);
    let (status, body) = request(addr, "POST", "/guest", &own).await;
    assert_eq!(status, 429);
    assert!(body.contains("per hour") && body.contains("try again in 60 minutes"), "{body}");
}

#[tokio::test]
async fn guests_are_limited_in_total_and_not_offered_unless_configured() {
    let bridge = TestBridge::start_with(|c| c.guests = Some(policy(10, 1))).await;
    let own = format!("http://{}", bridge.http());
    assert_eq!(request(bridge.http(), "POST", "/guest", &own).await.0, 200);
    let (status, body) = request(bridge.http(), "POST", "/guest", &own).await;
    assert_eq!(status, 503);
    assert!(body.contains("taken"), "{body}");

    let plain = TestBridge::start().await;
    let own = format!("http://{}", plain.http());
    assert_eq!(request(plain.http(), "GET", "/guest", &own).await.0, 404);
    assert_eq!(request(plain.http(), "POST", "/guest", &own).await.0, 404);
}

#[tokio::test]
async fn the_demo_accounts_are_named_only_where_the_embedded_server_has_them() {
    let bridge = TestBridge::start().await;
    let own = format!("http://{}", bridge.http());
    let (status, body) = request(bridge.http(), "GET", "/demo", &own).await;
    assert_eq!(status, 200);
    assert!(body.contains(r#"{"email":"alice@hotmail.com","password":"alice"}"#), "{body}");
    assert!(!body.contains("echo@hotmail.com"), "robots are not for people to sign in as: {body}");

    // A bridge in front of another server knows no accounts of it.
    let relay = TestBridge::start_with(|c| {
        c.upstreams = vec![bridge::config::Upstream {
            name: "other".into(),
            addresses: vec![bridge.embedded_sb().to_string()],
            proxy_protocol: false,
        }]
    })
    .await;
    let own = format!("http://{}", relay.http());
    assert_eq!(request(relay.http(), "GET", "/demo", &own).await.0, 404);
}

#[tokio::test]
async fn a_pool_of_addresses_cannot_take_every_guest_account_in_seconds() {
    let bridge = TestBridge::start_with(|c| {
        c.guests = Some(GuestPolicy { per_address_per_hour: 100, per_minute: 2, ..GuestPolicy::default() })
    })
    .await;
    let own = format!("http://{}", bridge.http());
    assert_eq!(request(bridge.http(), "POST", "/guest", &own).await.0, 200);
    assert_eq!(request(bridge.http(), "POST", "/guest", &own).await.0, 200);
    let (status, body) = request(bridge.http(), "POST", "/guest", &own).await;
    assert_eq!(status, 429);
    assert!(body.contains("being made right now; try again in"), "{body}");
}

#[tokio::test]
async fn a_public_demo_keeps_no_shared_accounts_only_robots_and_guests() {
    // A database made with the demo accounts, then served as a public demo: they are gone.
    let first = TestBridge::start().await;
    let TestBridge { running, dir } = first;
    running.unwrap().shutdown().await;
    let bridge = TestBridge::start_in(dir, |c| {
        c.demo_accounts = false;
        c.guests = Some(policy(2, 10));
    })
    .await;
    let addr = bridge.http();
    let own = format!("http://{addr}");
    assert_eq!(request(addr, "GET", "/demo", &own).await.0, 404, "no demo accounts to name");
    let mut alice = ws(addr, "").await;
    alice.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    alice.ask("INF 2", "INF 2 MD5").await;
    alice.send("USR 3 MD5 I alice@hotmail.com").await;
    let challenge = alice.expect_prefix("USR 3 MD5 S ").await;
    alice.ask(&format!("USR 4 MD5 S {}", msnp::auth::md5_response(&challenge, "alice")), "911 4").await;
    // A guest still gets in, with the robots.
    let (status, body) = request(addr, "POST", "/guest", &own).await;
    assert_eq!(status, 200, "{body}");
}

/// Makes a guest on `addr` and signs it in, lists in sync and online: its connection and e-mail address.
async fn guest_online(addr: SocketAddr) -> (Ws, String) {
    let own = format!("http://{addr}");
    let (status, body) = request(addr, "POST", "/guest", &own).await;
    assert_eq!(status, 200, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (email, password) = (made["email"].as_str().unwrap(), made["password"].as_str().unwrap());
    let name = format!("Guest%20{}", &email[6..10]);
    (Ws::online(addr, email, password, &name, 8).await, email.to_owned())
}

/// Nothing reached `c` meanwhile: the next thing it hears is the answer to a `PNG`.
async fn told_nothing(c: &mut Ws) {
    c.ask("PNG", "QNG").await;
}

#[tokio::test]
async fn a_guest_reaches_robots_guests_and_people_who_allowed_it_only() {
    let bridge = TestBridge::start_with(|c| c.guests = Some(policy(10, 10))).await;
    let addr = bridge.http();
    let mut alice = Ws::online(addr, "alice@hotmail.com", "alice", "Alice", 5).await;
    let (mut guest, email) = guest_online(addr).await;
    let (mut other, other_email) = guest_online(addr).await;

    // Alice did not choose the guest: to it she does not exist, and she hears nothing of it.
    guest.ask("ADD 7 FL alice@hotmail.com Alice", "205 7").await;
    let sb = bridge.embedded_sb().to_string();
    guest.send("XFR 8 SB").await;
    let cookie = guest.expect_prefix(&format!("XFR 8 SB {sb} CKI ")).await;
    let mut chat = ws(addr, &format!("?sb={sb}")).await;
    chat.send(&format!("USR 1 {email} {cookie}")).await;
    chat.expect_prefix(&format!("USR 1 OK {email} ")).await;
    chat.ask("CAL 2 alice@hotmail.com", "217 2").await;
    told_nothing(&mut alice).await;

    // Another guest and the robots are within reach.
    guest.send(&format!("ADD 9 FL {other_email} Other")).await;
    guest.expect_prefix(&format!("ADD 9 FL 9 {other_email} Other")).await;
    guest.expect_prefix(&format!("ILN 9 NLN {other_email} ")).await;
    other.expect_prefix(&format!("ADD 0 RL 9 {email} ")).await;
    guest.ask("ADD 10 FL echo@hotmail.com Echo", "215 10").await;

    // Once Alice allows the guest herself, it may add her and she is told, as for anyone.
    alice.send(&format!("ADD 7 AL {email} Guest")).await;
    alice.expect_prefix(&format!("ADD 7 AL 6 {email} Guest")).await;
    guest.send("ADD 11 FL alice@hotmail.com Alice").await;
    guest.expect_prefix("ADD 11 FL 10 alice@hotmail.com Alice").await;
    alice.expect_prefix(&format!("ADD 0 RL 7 {email} ")).await;
}

#[tokio::test]
async fn guests_may_reach_everyone_where_the_operator_says_so() {
    let bridge = TestBridge::start_with(|c| {
        c.guests = Some(GuestPolicy { reach: bridge::config::GuestsReach::Everyone, ..policy(10, 10) })
    })
    .await;
    let addr = bridge.http();
    let own = format!("http://{addr}");
    assert_eq!(request(addr, "GET", "/guest", &own).await.1, r#"{"hours":1,"everyone":true}"#);
    let mut alice = Ws::online(addr, "alice@hotmail.com", "alice", "Alice", 5).await;
    let (mut guest, email) = guest_online(addr).await;
    guest.send("ADD 7 FL alice@hotmail.com Alice").await;
    guest.expect_prefix("ADD 7 FL 9 alice@hotmail.com Alice").await;
    alice.expect_prefix(&format!("ADD 0 RL 6 {email} ")).await;
}
