//! MSNP2.md §13.1 and §13.2 over real TCP, byte for byte (the challenge is fresh and random, so the
//! MD5 response is computed from the one the server sent).

mod common;

use common::{Client, TestServer};

#[tokio::test]
async fn sign_in_and_sign_out_as_msn_messenger_1_0() {
    let server = TestServer::start().await;
    let mut jd = Client::connect(server.ns()).await;
    jd.send("VER 139 MSNP2 CVR0").await;
    jd.expect("VER 139 MSNP2").await;
    jd.send("INF 140").await;
    jd.expect("INF 140 MD5").await;
    jd.send("USR 141 MD5 I jd@hotmail.com").await;
    let challenge = jd.expect_prefix("USR 141 MD5 S ").await;
    assert!(!challenge.is_empty() && !challenge.contains(' '));
    jd.send(&format!("USR 142 MD5 S {}", msnp::auth::md5_response(&challenge, "hunter2"))).await;
    jd.expect("USR 142 OK jd@hotmail.com JD").await;
    jd.send("SYN 143 0").await;
    jd.expect("SYN 143 0").await;
    jd.send("CHG 144 NLN").await;
    jd.expect("CHG 144 NLN").await;
    jd.send("CVR 145 0x0409 win 4.0 i386 MSMSGS 1.0.0863").await;
    jd.expect("CVR 145 1.0.0863 1.0.0863 1.0.0863 http://messenger.example/setup.exe http://messenger.example/").await;
    jd.send("OUT").await;
    jd.expect_closed().await;
    server.wait_idle().await;
}

#[tokio::test]
async fn challenges_are_fresh_for_every_usr_i() {
    let server = TestServer::start().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let mut c = Client::connect(server.ns()).await;
        c.send("VER 1 MSNP2").await;
        c.expect("VER 1 MSNP2").await;
        c.send("USR 2 MD5 I jd@hotmail.com").await;
        assert!(seen.insert(c.expect_prefix("USR 2 MD5 S ").await));
    }
}

#[tokio::test]
async fn two_users_seeing_each_others_presence() {
    let server = TestServer::start().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    // Bob is offline: no ILN.
    alice.expect_silence().await;

    let mut bob = Client::sign_in(server.ns(), "bob@hotmail.com", "bobpw", "Bob").await;
    bob.send("SYN 5 4").await;
    bob.expect("SYN 5 4").await;
    bob.send("CHG 6 NLN").await;
    bob.expect_all(&["CHG 6 NLN", "ILN 6 NLN alice@hotmail.com Alice"]).await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    bob.send("CHG 7 AWY").await;
    bob.expect("CHG 7 AWY").await;
    alice.expect("NLN AWY bob@hotmail.com Bob").await;

    bob.send("REA 8 bob@hotmail.com Bobby%20B").await;
    bob.expect("REA 8 5 bob@hotmail.com Bobby%20B").await;
    alice.expect("NLN AWY bob@hotmail.com Bobby%20B").await;

    bob.send("CHG 9 HDN").await;
    bob.expect("CHG 9 HDN").await;
    alice.expect("FLN bob@hotmail.com").await;

    bob.send("CHG 10 NLN").await;
    bob.expect("CHG 10 NLN").await;
    alice.expect("NLN NLN bob@hotmail.com Bobby%20B").await;

    bob.send("OUT").await;
    bob.expect_closed().await;
    alice.expect("FLN bob@hotmail.com").await;
    alice.expect_silence().await;
}
