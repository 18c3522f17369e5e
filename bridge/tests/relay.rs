//! Through the bridge to the real server: whole sessions, chats, and every refusal.

mod common;

use std::time::Duration;

use common::{TestBridge, Ws, ws, ws_from};

#[tokio::test]
async fn a_whole_session_from_ver_to_out() {
    let bridge = TestBridge::start().await;
    let mut alice = Ws::sign_in(bridge.http(), "alice@hotmail.com", "alice", "Alice").await;
    // A dump: every line is its own message.
    alice.send("SYN 5 0").await;
    for line in [
        "SYN 5 5",
        "GTC 5 5 A",
        "BLP 5 5 AL",
        "LST 5 FL 5 1 6 bob@hotmail.com Bob",
        "LST 5 FL 5 2 6 carol@hotmail.com Carol",
        "LST 5 FL 5 3 6 echo@hotmail.com Echo%20%F0%9F%A4%96",
        "LST 5 FL 5 4 6 mood@hotmail.com Mood%20%F0%9F%8C%A6",
        "LST 5 FL 5 5 6 host@hotmail.com Host%20%F0%9F%8E%89",
        "LST 5 FL 5 6 6 chatty@hotmail.com Chatty%20%F0%9F%92%AC",
        "LST 5 AL 5 1 6 bob@hotmail.com Bob",
        "LST 5 AL 5 2 6 carol@hotmail.com Carol",
        "LST 5 AL 5 3 6 echo@hotmail.com Echo%20%F0%9F%A4%96",
        "LST 5 AL 5 4 6 mood@hotmail.com Mood%20%F0%9F%8C%A6",
        "LST 5 AL 5 5 6 host@hotmail.com Host%20%F0%9F%8E%89",
        "LST 5 AL 5 6 6 chatty@hotmail.com Chatty%20%F0%9F%92%AC",
        "LST 5 BL 5 0 0",
        "LST 5 RL 5 1 2 bob@hotmail.com Bob",
        "LST 5 RL 5 2 2 carol@hotmail.com Carol",
    ] {
        alice.expect(line).await;
    }
    alice.ask("CHG 6 NLN", "CHG 6 NLN").await;
    alice
        .ask(
            "CVR 7 0x0409 web 1.0 wasm32 MSNP-WEB 0.1.0",
            "CVR 7 0.1.0 0.1.0 0.1.0 http://messenger.example/setup.exe http://messenger.example/",
        )
        .await;
    alice.send("OUT").await;
    assert_eq!(alice.expect_close(1000).await, "the server closed the connection");
    bridge.wait_idle().await;
}

#[tokio::test]
async fn presence_and_a_chat_between_two_websocket_clients() {
    let bridge = TestBridge::start().await;
    let addr = bridge.http();
    let mut alice = Ws::online(addr, "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut bob = Ws::online(addr, "bob@hotmail.com", "bob", "Bob", 5).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    alice.send("XFR 7 SB").await;
    let sb = bridge.embedded_sb().to_string();
    let cookie = alice.expect_prefix(&format!("XFR 7 SB {sb} CKI ")).await;
    let mut a = ws(addr, &format!("?sb={sb}")).await;
    a.ask(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice").await;
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let rng = bob.expect_prefix(&format!("RNG {session} {sb} CKI ")).await;
    let bob_cookie = rng.split(' ').next().unwrap();
    let mut b = ws(addr, &format!("?sb={sb}")).await;
    b.send(&format!("ANS 1 bob@hotmail.com {bob_cookie} {session}")).await;
    b.expect("IRO 1 1 1 alice@hotmail.com Alice").await;
    b.expect("ANS 1 OK").await;
    a.expect("JOI bob@hotmail.com Bob").await;

    // A payload message travels as one WebSocket message, bytes unchanged (UTF-8 counted in bytes).
    let payload = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nCafé ☕";
    a.send_raw(format!("MSG 3 A {}\r\n{payload}", payload.len()).into_bytes()).await;
    assert_eq!(b.next().await.unwrap(), format!("MSG alice@hotmail.com Alice 71\r\n{payload}").into_bytes());
    a.expect("ACK 3").await;
    // Bytes that are not UTF-8 travel as a binary message.
    a.send_raw(b"MSG 4 U 2\r\n\xff\xfe".to_vec()).await;
    assert_eq!(b.next().await.unwrap(), b"MSG alice@hotmail.com Alice 2\r\n\xff\xfe".to_vec());

    b.send("OUT").await;
    b.expect_close(1000).await;
    a.expect("BYE bob@hotmail.com").await;
    drop((a, alice, bob));
    bridge.wait_idle().await;
}

#[tokio::test]
async fn switchboards_need_an_announced_address_and_its_cookie() {
    let bridge = TestBridge::start().await;
    let addr = bridge.http();
    let sb = bridge.embedded_sb().to_string();
    // Never announced: refused, whatever the first command.
    for target in [sb.as_str(), "127.0.0.1:22", "example.com:80"] {
        let mut c = ws(addr, &format!("?sb={target}")).await;
        let reason = c.expect_close(1008).await;
        assert!(reason.contains("not announced"), "{reason}");
    }

    let mut alice = Ws::online(addr, "alice@hotmail.com", "alice", "Alice", 5).await;
    alice.send("XFR 7 SB").await;
    let cookie = alice.expect_prefix(&format!("XFR 7 SB {sb} CKI ")).await;
    // Announced, but a wrong cookie, a wrong first command, or the right cookie presented as ANS.
    for first in [
        "USR 1 alice@hotmail.com 123.456".to_owned(),
        "CAL 1 bob@hotmail.com".to_owned(),
        format!("ANS 1 alice@hotmail.com {cookie} 1"),
    ] {
        let mut c = ws(addr, &format!("?sb={sb}")).await;
        c.send(&first).await;
        let reason = c.expect_close(1008).await;
        assert!(reason.contains("cookie"), "{reason}");
    }
    // The right cookie works once; reused, it is refused by the bridge.
    let mut a = ws(addr, &format!("?sb={sb}")).await;
    a.ask(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice").await;
    let mut again = ws(addr, &format!("?sb={sb}")).await;
    again.send(&format!("USR 1 alice@hotmail.com {cookie}")).await;
    again.expect_close(1008).await;
    drop((a, alice));
    bridge.wait_idle().await;
}

#[tokio::test]
async fn each_message_is_exactly_one_command() {
    let bridge = TestBridge::start().await;
    for bad in [b"VER 1 MSNP2".to_vec(), b"PNG\r\nPNG\r\n".to_vec(), b"MSG 1 N 9\r\nshort".to_vec(), b"\r\n".to_vec()] {
        let mut c = ws(bridge.http(), "").await;
        c.send_raw(bad).await;
        let reason = c.expect_close(1008).await;
        assert!(reason.contains("exactly one MSNP command"), "{reason}");
    }
    bridge.wait_idle().await;
}

#[tokio::test]
async fn origins_other_than_the_bridges_own_are_refused() {
    let bridge = TestBridge::start_with(|c| c.allow_origins = vec!["http://localhost:3000".into()]).await;
    let addr = bridge.http();
    let err = ws_from(addr, "", Some("http://evil.example")).await.err().expect("refused");
    assert!(err.to_string().contains("403"), "{err}");
    let mut ok = ws_from(addr, "", Some("http://localhost:3000")).await.unwrap();
    ok.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    let mut no_origin = ws_from(addr, "", None).await.unwrap();
    no_origin.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    drop((ok, no_origin));
    bridge.wait_idle().await;
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let bridge = TestBridge::start_with(|c| c.limits.max_message = 256).await;
    let mut c = ws(bridge.http(), "").await;
    c.send(&format!("FOO 1 {}", "x".repeat(300))).await;
    c.expect_close(1009).await;
    bridge.wait_idle().await;
}

#[tokio::test]
async fn connection_limits() {
    let bridge = TestBridge::start_with(|c| c.limits.max_connections = 2).await;
    let mut a = ws(bridge.http(), "").await;
    let _b = ws(bridge.http(), "").await;
    let mut c = ws(bridge.http(), "").await;
    assert!(c.expect_close(1013).await.contains("too many connections"));
    a.ask("VER 1 MSNP2", "VER 1 MSNP2").await;

    let bridge = TestBridge::start_with(|c| c.limits.max_per_ip = 1).await;
    let _a = ws(bridge.http(), "").await;
    let mut b = ws(bridge.http(), "").await;
    assert!(b.expect_close(1013).await.contains("from your address"));
}

#[tokio::test]
async fn silent_browsers_time_out() {
    let bridge = TestBridge::start_with(|c| {
        c.limits.ping_interval = Duration::from_millis(300);
        c.limits.idle_timeout = Duration::from_millis(900);
    })
    .await;
    // A client that never reads never answers pings.
    let mut c = ws(bridge.http(), "").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(c.expect_close(1001).await, "idle timeout");
    bridge.wait_idle().await;
}

#[tokio::test]
async fn unreachable_and_unknown_servers() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let bridge = TestBridge::start_with(|c| {
        c.upstreams = vec![format!("down={closed}").parse().unwrap(), "other=127.0.0.1:1".parse().unwrap()];
    })
    .await;
    let mut c = ws(bridge.http(), "").await;
    assert_eq!(c.expect_close(1011).await, "the server is unreachable");
    let mut c = ws(bridge.http(), "?server=nope").await;
    assert_eq!(c.expect_close(1008).await, "no such server");
    bridge.wait_idle().await;
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1001() {
    let mut bridge = TestBridge::start().await;
    let mut alice = Ws::online(bridge.http(), "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut idle = ws(bridge.http(), "").await;
    bridge.running.take().unwrap().shutdown().await;
    assert_eq!(idle.expect_close(1001).await, "the bridge is shutting down");
    assert_eq!(alice.expect_close(1001).await, "the bridge is shutting down");
}

#[tokio::test]
async fn a_browser_that_stops_reading_is_closed() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let bridge = TestBridge::start_with(|c| {
        c.limits.write_buffer = 16 * 1024;
        c.limits.handshake_timeout = Duration::from_millis(500);
    })
    .await;
    let alice = Ws::sign_in(bridge.http(), "alice@hotmail.com", "alice", "Alice").await;
    let (mut sink, _unread) = alice.stream.split();
    // Ask for megabytes of list dumps and never read them.
    let flood = tokio::spawn(async move {
        for t in 10..20_010 {
            if sink.send(Message::text(format!("SYN {t} 0\r\n"))).await.is_err() {
                break;
            }
        }
    });
    bridge.wait_idle().await;
    flood.abort();
}

#[tokio::test]
async fn an_upstream_of_several_addresses_is_served_by_the_first_that_answers() {
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let live = common::server(dir.path(), |_| {}).await;
    let addresses = vec![dead.clone(), live.ns_addr.to_string()];
    let bridge = TestBridge::start_with(|c| {
        c.upstreams = vec![bridge::config::Upstream { name: "farm".into(), addresses, proxy_protocol: false }]
    })
    .await;
    // The first address refuses: each session is served by the next, the second without trying the dead
    // one first.
    for _ in 0..2 {
        let mut c = ws(bridge.http(), "").await;
        c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    }
    let only_dead = TestBridge::start_with(|c| {
        c.upstreams =
            vec![bridge::config::Upstream { name: "gone".into(), addresses: vec![dead], proxy_protocol: false }]
    })
    .await;
    let mut c = ws(only_dead.http(), "").await;
    assert!(c.expect_close(1011).await.contains("unreachable"));
}
