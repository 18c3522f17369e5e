//! The switchboard over real TCP (MSNP2.md §8, §13.3).

mod common;

use std::time::Duration;

use common::{ACCOUNTS, Client, TestServer};

const HELLO: &str = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob";

/// `XFR` on `ns` (TrID `trid`) and `USR` on a new switchboard connection: returns it, joined.
async fn start_chat(server: &TestServer, ns: &mut Client, trid: u32, handle: &str, name: &str) -> Client {
    ns.send(&format!("XFR {trid} SB")).await;
    let rest = ns.expect_prefix(&format!("XFR {trid} SB {} CKI ", server.sb())).await;
    let mut sb = Client::connect(server.sb()).await;
    sb.ask(&format!("USR 1 {handle} {rest}"), &format!("USR 1 OK {handle} {name}")).await;
    sb
}

/// Reads an `RNG` on `ns` and answers it on a new switchboard connection; returns it after `ANS OK`.
async fn answer(server: &TestServer, ns: &mut Client, handle: &str, caller: &str, iro: &[&str]) -> Client {
    let rng = ns.recv().await.unwrap().line().to_owned();
    let tokens: Vec<&str> = rng.split(' ').collect();
    assert_eq!(tokens[0], "RNG", "{rng}");
    assert_eq!(tokens[2], server.sb().to_string());
    assert_eq!(tokens[3], "CKI");
    assert_eq!(tokens[5], caller);
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("ANS 1 {handle} {} {}", tokens[4], tokens[1])).await;
    sb.expect_all(iro).await;
    sb.expect("ANS 1 OK").await;
    sb
}

async fn alice_and_bob(server: &TestServer) -> (Client, Client) {
    let alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    let mut alice = alice;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    (alice, bob)
}

#[tokio::test]
async fn a_chat_through_a_switchboard() {
    // §13.3.
    let server = TestServer::start().await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut alice_sb = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    alice_sb.send("CAL 2 bob@hotmail.com").await;
    let session = alice_sb.expect_prefix("CAL 2 RINGING ").await;
    assert!(session.bytes().all(|b| b.is_ascii_digit()), "{session}");
    let mut bob_sb =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    alice_sb.expect("JOI bob@hotmail.com Bob").await;

    alice_sb.send_msg("MSG 3 N", HELLO).await;
    bob_sb.expect_msg("MSG alice@hotmail.com Alice", HELLO).await;
    let lunch = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice, lunch?";
    assert_eq!(lunch.len(), 78);
    bob_sb.send_msg("MSG 2 A", lunch).await;
    alice_sb.expect_msg("MSG bob@hotmail.com Bob", lunch).await;
    bob_sb.expect("ACK 2").await;
    let sure = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nSure!";
    assert_eq!(sure.len(), 67);
    alice_sb.send_msg("MSG 4 N", sure).await;
    bob_sb.expect_msg("MSG alice@hotmail.com Alice", sure).await;
    bob_sb.send("OUT").await;
    bob_sb.expect_closed().await;
    alice_sb.expect("BYE bob@hotmail.com").await;
    alice_sb.send("OUT").await;
    alice_sb.expect_closed().await;
    // Both NS connections stay up.
    alice.ask("PNG", "QNG").await;
    bob.ask("PNG", "QNG").await;
    server.wait_open(2).await;
}

/// Erin online, with Alice and Bob (mutual contacts) online too; Erin has nobody on her lists.
async fn three(server: &TestServer) -> (Client, Client, Client) {
    let (alice, bob) = alice_and_bob(server).await;
    let erin = Client::online(server.ns(), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    (alice, bob, erin)
}

#[tokio::test]
async fn a_three_person_chat_where_anyone_may_invite() {
    let server = TestServer::start().await;
    let (mut alice, mut bob, mut erin) = three(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let mut b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    // Bob, not the creator, invites Erin: the same session id.
    b.ask("CAL 2 erin@hotmail.com", &format!("CAL 2 RINGING {session}")).await;
    let mut e = answer(
        &server,
        &mut erin,
        "erin@hotmail.com",
        "bob@hotmail.com",
        &["IRO 1 1 2 alice@hotmail.com Alice", "IRO 1 2 2 bob@hotmail.com Bob"],
    )
    .await;
    a.expect("JOI erin@hotmail.com Erin").await;
    b.expect("JOI erin@hotmail.com Erin").await;

    // Every message reaches every other participant exactly once, in order.
    for i in 0..20 {
        a.send_msg(&format!("MSG {} U", 10 + i), &format!("a{i}")).await;
        e.send_msg(&format!("MSG {} U", 10 + i), &format!("e{i}")).await;
    }
    let mut at_b = (Vec::new(), Vec::new());
    for _ in 0..40 {
        let frame = b.recv().await.unwrap();
        let body = String::from_utf8(frame.payload().unwrap().to_vec()).unwrap();
        if frame.line().starts_with("MSG alice@hotmail.com Alice ") { at_b.0.push(body) } else { at_b.1.push(body) }
    }
    assert_eq!(at_b.0, (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>());
    assert_eq!(at_b.1, (0..20).map(|i| format!("e{i}")).collect::<Vec<_>>());
    for i in 0..20 {
        e.expect_msg("MSG alice@hotmail.com Alice", &format!("a{i}")).await;
        a.expect_msg("MSG erin@hotmail.com Erin", &format!("e{i}")).await;
    }
    // The sender's current friendly name is used.
    alice.ask("REA 8 alice@hotmail.com Ally", "REA 8 5 alice@hotmail.com Ally").await;
    a.send_msg("MSG 50 U", "renamed").await;
    b.expect_msg("MSG alice@hotmail.com Ally", "renamed").await;
    e.expect_msg("MSG alice@hotmail.com Ally", "renamed").await;
    a.expect_silence().await;
    b.expect_silence().await;
    e.expect_silence().await;
}

#[tokio::test]
async fn cal_errors() {
    let server = TestServer::start().await;
    let (mut alice, mut bob, mut erin) = three(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    a.ask("CAL 2 not-an-address", "208 2").await;
    a.ask("CAL 3 ALICE@hotmail.com", "215 3").await;
    a.ask("CAL 4 nobody@hotmail.com", "217 4").await;
    a.ask("CAL 5 jd@hotmail.com", "217 5").await; // offline
    a.ask("CAL 6", "200 6").await;
    a.ask("FOO 7", "200 7").await;
    // Hidden callee.
    erin.ask("CHG 7 HDN", "CHG 7 HDN").await;
    a.ask("CAL 8 erin@hotmail.com", "217 8").await;
    erin.ask("CHG 8 NLN", "CHG 8 NLN").await;
    // Callee's privacy with respect to the caller: Erin blocks Alice, then allows only her AL.
    erin.ask("ADD 9 BL alice@hotmail.com Alice", "ADD 9 BL 1 alice@hotmail.com Alice").await;
    a.ask("CAL 9 erin@hotmail.com", "217 9").await;
    erin.ask("REM 10 BL alice@hotmail.com", "REM 10 BL 2 alice@hotmail.com").await;
    erin.ask("BLP 11 BL", "BLP 11 3 BL").await;
    a.ask("CAL 10 erin@hotmail.com", "217 10").await;
    erin.ask("ADD 12 AL alice@hotmail.com Alice", "ADD 12 AL 4 alice@hotmail.com Alice").await;
    a.send("CAL 11 erin@hotmail.com").await;
    a.expect_prefix("CAL 11 RINGING ").await;
    assert!(erin.expect_prefix("RNG ").await.ends_with(" alice@hotmail.com Alice"));
    // A callee who is signed in but has not sent CHG yet is not reachable.
    let mut jd = Client::sign_in(server.ns(), "jd@hotmail.com", "hunter2", "JD").await;
    a.ask("CAL 12 jd@hotmail.com", "217 12").await;
    jd.expect_silence().await;
    // Calling someone already in the session.
    a.send("CAL 13 bob@hotmail.com").await;
    a.expect_prefix("CAL 13 RINGING ").await;
    let _b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    a.ask("CAL 14 bob@hotmail.com", "215 14").await;
}

/// `XFR` on `ns`; returns the cookie.
async fn cookie(server: &TestServer, ns: &mut Client, trid: u32) -> String {
    ns.send(&format!("XFR {trid} SB")).await;
    ns.expect_prefix(&format!("XFR {trid} SB {} CKI ", server.sb())).await
}

#[tokio::test]
async fn switchboard_authentication() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.sb.cookie_lifetime = Duration::from_secs(1)).await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let good = cookie(&server, &mut alice, 7).await;

    // Wrong cookie, or the right cookie for another user: 911 and close; the good cookie survives.
    let mut sb = Client::connect(server.sb()).await;
    sb.send("USR 1 alice@hotmail.com 123.456").await;
    sb.expect("911 1").await;
    sb.expect_closed().await;
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("USR 1 bob@hotmail.com {good}")).await;
    sb.expect("911 1").await;
    sb.expect_closed().await;
    // Missing cookie.
    let mut sb = Client::connect(server.sb()).await;
    sb.send("USR 1 alice@hotmail.com").await;
    sb.expect("911 1").await;
    sb.expect_closed().await;
    // Anything else before USR/ANS: close without a reply.
    for line in ["CAL 1 bob@hotmail.com", "VER 1 MSNP2", "INF 1", "OUT", "XYZ 1"] {
        let mut sb = Client::connect(server.sb()).await;
        sb.ask_closed(line).await;
    }
    // The good cookie works once (case of the handle does not matter), then never again.
    let mut a = Client::connect(server.sb()).await;
    a.ask(&format!("USR 1 ALICE@hotmail.com {good}"), "USR 1 OK alice@hotmail.com Alice").await;
    a.ask("USR 2 alice@hotmail.com x", "207 2").await;
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("USR 1 alice@hotmail.com {good}")).await;
    sb.expect("911 1").await;

    // ANS: bad cookie, other user's cookie, wrong session id.
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let rng = bob.expect_prefix(&format!("RNG {session} {} CKI ", server.sb())).await;
    let bob_cookie = rng.split(' ').next().unwrap().to_owned();
    for line in [
        format!("ANS 1 bob@hotmail.com 1.2 {session}"),
        format!("ANS 1 alice@hotmail.com {bob_cookie} {session}"),
        format!("ANS 1 bob@hotmail.com {bob_cookie} 99"),
        format!("ANS 1 bob@hotmail.com {bob_cookie}"),
    ] {
        let mut sb = Client::connect(server.sb()).await;
        sb.send(&line).await;
        sb.expect("911 1").await;
        sb.expect_closed().await;
    }
    // Cookies expire.
    let late = cookie(&server, &mut alice, 8).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("USR 1 alice@hotmail.com {late}")).await;
    sb.expect("911 1").await;
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("ANS 1 bob@hotmail.com {bob_cookie} {session}")).await;
    sb.expect("911 1").await;
}

#[tokio::test]
async fn unauthenticated_switchboard_connections_time_out() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.sb.auth_timeout = Duration::from_secs(1)).await;
    let mut sb = Client::connect(server.sb()).await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    sb.expect_closed().await;
}

#[tokio::test]
async fn acknowledgement_modes() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    // Alone: N and A get NAK, U gets nothing.
    a.send_msg("MSG 2 U", "x").await;
    a.send_msg("MSG 3 N", "x").await;
    a.expect("NAK 3").await;
    a.send_msg("MSG 4 A", "x").await;
    a.expect("NAK 4").await;
    a.expect_silence().await;

    a.send("CAL 5 bob@hotmail.com").await;
    a.expect_prefix("CAL 5 RINGING ").await;
    let mut b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    // With someone there: A gets ACK after the relay, N and U nothing. Empty payloads are fine.
    a.send_msg("MSG 6 U", "").await;
    a.send_msg("MSG 7 N", "n").await;
    a.send_msg("MSG 8 A", "a").await;
    a.expect("ACK 8").await;
    a.expect_silence().await;
    b.expect_msg("MSG alice@hotmail.com Alice", "").await;
    b.expect_msg("MSG alice@hotmail.com Alice", "n").await;
    b.expect_msg("MSG alice@hotmail.com Alice", "a").await;
    // A bad ack letter closes without relaying; the others get BYE.
    a.send_msg("MSG 9 a", "lowercase").await;
    a.expect_closed().await;
    b.expect("BYE alice@hotmail.com").await;
    b.expect_silence().await;
    // Bob is alone now: NAK.
    b.send_msg("MSG 3 N", "anyone?").await;
    b.expect("NAK 3").await;
}

#[tokio::test]
async fn oversized_payloads_close_without_relaying() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    a.send("CAL 2 bob@hotmail.com").await;
    a.expect_prefix("CAL 2 RINGING ").await;
    let mut b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    let max = "m".repeat(1664);
    a.send_msg("MSG 3 U", &max).await;
    b.expect_msg("MSG alice@hotmail.com Alice", &max).await;
    a.send_msg("MSG 4 U", &"m".repeat(1665)).await;
    a.expect_closed().await;
    b.expect("BYE alice@hotmail.com").await;
    b.expect_silence().await;
}

#[tokio::test]
async fn a_participant_dropping_mid_chat() {
    let server = TestServer::start().await;
    let (mut alice, mut bob, mut erin) = three(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    a.ask("CAL 3 erin@hotmail.com", &format!("CAL 3 RINGING {session}")).await;
    let mut e = answer(
        &server,
        &mut erin,
        "erin@hotmail.com",
        "alice@hotmail.com",
        &["IRO 1 1 2 alice@hotmail.com Alice", "IRO 1 2 2 bob@hotmail.com Bob"],
    )
    .await;
    a.expect("JOI erin@hotmail.com Erin").await;
    // Bob's connection just breaks.
    drop(b);
    a.expect("BYE bob@hotmail.com").await;
    e.expect("BYE bob@hotmail.com").await;
    a.send_msg("MSG 4 A", "still here").await;
    e.expect_msg("MSG alice@hotmail.com Alice", "still here").await;
    a.expect("ACK 4").await;
    // The session lives on; Bob can be invited back, and his NS connection never noticed.
    a.ask("CAL 5 bob@hotmail.com", &format!("CAL 5 RINGING {session}")).await;
    let _b = answer(
        &server,
        &mut bob,
        "bob@hotmail.com",
        "alice@hotmail.com",
        &["IRO 1 1 2 alice@hotmail.com Alice", "IRO 1 2 2 erin@hotmail.com Erin"],
    )
    .await;
    a.expect("JOI bob@hotmail.com Bob").await;
    e.expect("JOI bob@hotmail.com Bob").await;
    // Everyone leaving ends the session; nothing is left open.
    drop((a, e, _b));
    drop((alice, bob, erin));
    server.wait_idle().await;
}

#[tokio::test]
async fn a_participant_that_stops_reading_is_dropped_after_the_send_timeout() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.limits.send_timeout = Duration::from_secs(1);
        c.limits.send_queue_bytes = 64 << 20;
    })
    .await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let rng = bob.expect_prefix(&format!("RNG {session} {} CKI ", server.sb())).await;
    let cookie = rng.split(' ').next().unwrap();
    // Bob joins with a socket that takes little, and never reads again.
    let mut b = Client::connect_with(server.sb(), "127.0.0.1", Some(2048)).await;
    b.send(&format!("ANS 1 bob@hotmail.com {cookie} {session}")).await;
    b.expect_all(&["IRO 1 1 1 alice@hotmail.com Alice", "ANS 1 OK"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    let text = format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{}", "x".repeat(1500));
    let mut trid = 3;
    loop {
        a.send_msg(&format!("MSG {trid} A"), &text).await;
        match a.recv().await.unwrap().line() {
            "BYE bob@hotmail.com" => break,
            ack => assert_eq!(ack, format!("ACK {trid}")),
        }
        trid += 1;
        assert!(trid < 100_000, "bob was never dropped");
    }
    assert_eq!(server.metrics().refusals("send_timeout"), 1);
    // The BYE came before the reply to the last message, which therefore reached nobody; Alice's chat
    // and both NS sessions carry on.
    a.expect(&format!("NAK {trid}")).await;
    bob.ask("PNG", "QNG").await;
    drop((a, b, alice, bob));
    server.wait_all_counters_zero().await;
}

#[tokio::test]
async fn switchboard_limits() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.sb.max_participants = 2;
        c.sb.max_sessions_per_user = 2;
        c.sb.max_pending_invitations = 1;
    })
    .await;
    let (mut alice, mut bob, mut erin) = three(&server).await;
    let mut a = start_chat(&server, &mut alice, 7, "alice@hotmail.com", "Alice").await;
    // One invitation waiting at a time.
    a.send("CAL 2 bob@hotmail.com").await;
    a.expect_prefix("CAL 2 RINGING ").await;
    a.ask("CAL 3 erin@hotmail.com", "713 3").await;
    let _b =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    a.expect("JOI bob@hotmail.com Bob").await;
    // Two people at most.
    a.ask("CAL 4 erin@hotmail.com", "712 4").await;
    erin.expect_silence().await;
    // Two sessions per user: the second XFR works, a third is refused.
    let _second = cookie(&server, &mut alice, 8).await;
    alice.ask("XFR 9 SB", "714 9").await;
}

/// Reads an `RNG` on `ns`, answers it on a new switchboard connection, and expects `code` and a close.
async fn answer_refused(server: &TestServer, ns: &mut Client, handle: &str, code: u16) {
    let rng = ns.expect_prefix("RNG ").await;
    let tokens: Vec<&str> = rng.split(' ').collect();
    let mut sb = Client::connect(server.sb()).await;
    sb.send(&format!("ANS 1 {handle} {} {}", tokens[3], tokens[0])).await;
    sb.expect(&format!("{code} 1")).await;
    sb.expect_closed().await;
}

#[tokio::test]
async fn a_handle_joins_a_session_once_and_the_participant_limit_holds_at_joining() {
    let server = TestServer::start_with(ACCOUNTS, |c| c.sb.max_participants = 2).await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut erin = Client::online(server.ns(), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    let mut sb = start_chat(&server, &mut alice, 10, "alice@hotmail.com", "Alice").await;
    // Bob is rung twice before he answers (a second CAL rings again, MSNP2.md 8.3), Erin once.
    for (trid, callee) in [(2, "bob"), (3, "bob"), (4, "erin")] {
        sb.send(&format!("CAL {trid} {callee}@hotmail.com")).await;
        sb.expect_prefix(&format!("CAL {trid} RINGING ")).await;
    }
    // Bob answers the first ring and is in; answering the second too gets 215 (he is there already).
    let _bob_sb =
        answer(&server, &mut bob, "bob@hotmail.com", "alice@hotmail.com", &["IRO 1 1 1 alice@hotmail.com Alice"]).await;
    sb.expect("JOI bob@hotmail.com Bob").await;
    answer_refused(&server, &mut bob, "bob@hotmail.com", 215).await;
    // Erin answers a full session (two of two): 712.
    answer_refused(&server, &mut erin, "erin@hotmail.com", 712).await;
    sb.expect_silence().await;
}

#[tokio::test]
async fn invitations_are_limited_per_caller_per_minute_and_per_callee_unanswered() {
    let server = TestServer::start_with(ACCOUNTS, |c| {
        c.sb.max_invitations_per_minute = 5;
        c.sb.max_unanswered_per_callee = 3;
    })
    .await;
    let (mut alice, mut bob) = alice_and_bob(&server).await;
    let mut erin = Client::online(server.ns(), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    let mut sb = start_chat(&server, &mut alice, 10, "alice@hotmail.com", "Alice").await;
    for trid in 2..=4 {
        sb.send(&format!("CAL {trid} bob@hotmail.com")).await;
        sb.expect_prefix(&format!("CAL {trid} RINGING ")).await;
    }
    // A fourth invitation Bob has not answered: the caller is told (713), Bob hears nothing more.
    sb.ask("CAL 5 bob@hotmail.com", "713 5").await;
    for _ in 0..3 {
        bob.expect_prefix("RNG ").await;
    }
    bob.expect_silence().await;
    // Alice may ring five times a minute, in any session: two more (to Erin, elsewhere), then 713.
    let mut other = start_chat(&server, &mut alice, 11, "alice@hotmail.com", "Alice").await;
    for trid in 2..=3 {
        other.send(&format!("CAL {trid} erin@hotmail.com")).await;
        other.expect_prefix(&format!("CAL {trid} RINGING ")).await;
    }
    other.ask("CAL 4 erin@hotmail.com", "713 4").await;
    for _ in 0..2 {
        erin.expect_prefix("RNG ").await;
    }
    erin.expect_silence().await;
}
