//! The bridge facing strangers: slow HTTP clients, upstreams announcing switchboards elsewhere, forged
//! client addresses, other sites' pages, broken connections. Over real sockets.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{TestBridge, Ws, ws, ws_from};
use msnp::{Decoder, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Reads until the peer closes; false if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn half_sent_requests_are_closed_at_the_handshake_timeout_and_count_meanwhile() {
    let bridge = TestBridge::start_with(|c| {
        c.limits.handshake_timeout = Duration::from_secs(1);
        c.limits.max_connections = 20;
    })
    .await;
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(bridge.http()).await.unwrap();
        // Half of them send a request line and one header; the others nothing at all.
        if i % 2 == 0 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        }
        slow.push(s);
    }
    // They hold every slot: a page now is told the bridge is full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(bridge.running().open_connections(), 20);
    let mut page = ws(bridge.http(), "").await;
    assert!(page.expect_close(1013).await.contains("too many connections"));
    for s in &mut slow {
        assert!(closed_within(s, Duration::from_secs(3)).await, "a slow client was not closed");
    }
    assert_eq!(bridge.running().open_connections(), 0);
    let mut page = ws(bridge.http(), "").await;
    page.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
}

#[tokio::test]
async fn connections_before_upgrade_count_per_address() {
    let bridge = TestBridge::start_with(|c| c.limits.max_per_ip = 2).await;
    let _idle = TcpStream::connect(bridge.http()).await.unwrap();
    let _page = ws(bridge.http(), "").await;
    let mut third = ws(bridge.http(), "").await;
    assert!(third.expect_close(1013).await.contains("from your address"));
    // Other requests over the limit get 503.
    let mut s = TcpStream::connect(bridge.http()).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
}

#[tokio::test]
async fn a_silent_tls_client_is_closed_at_the_handshake_timeout() {
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let bridge = TestBridge::start_with(|c| {
        c.tls = Some((cert_path, key_path));
        c.limits.handshake_timeout = Duration::from_secs(1);
    })
    .await;
    let mut silent = TcpStream::connect(bridge.http()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(bridge.running().open_connections(), 1);
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    assert_eq!(bridge.running().open_connections(), 0);
}

/// A scripted notification server on 127.0.0.1: answers `VER` and announces `XFR … SB <sb> CKI <cookie>`
/// for every `XFR`.
async fn scripted_upstream(sb: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sb = sb.clone();
            tokio::spawn(async move {
                let mut decoder = Decoder::new(Limits::SERVER);
                let mut buf = [0u8; 1024];
                loop {
                    while let Ok(Some(frame)) = decoder.next_frame() {
                        let trid = frame.tokens().nth(1).unwrap_or("0").to_owned();
                        let reply = match frame.name() {
                            "VER" => format!("VER {trid} MSNP2\r\n"),
                            "XFR" => format!("XFR {trid} SB {sb} CKI 1234.5678\r\n"),
                            _ => format!("200 {trid}\r\n"),
                        };
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => decoder.extend(&buf[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// Asks the scripted upstream for a switchboard through the bridge, then opens it: the close, if any.
async fn open_announced(bridge: &TestBridge, sb: &str) -> Result<Ws, (u16, String)> {
    let mut ns = ws(bridge.http(), "").await;
    ns.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    ns.ask("XFR 2 SB", &format!("XFR 2 SB {sb} CKI 1234.5678")).await;
    let mut c = ws(bridge.http(), &format!("?sb={sb}")).await;
    c.send("USR 1 alice@hotmail.com 1234.5678").await;
    match c.next().await {
        Ok(_) => Ok(c),
        Err(Some(frame)) => Err((u16::from(frame.code), frame.reason.to_string())),
        Err(None) => Err((0, String::new())),
    }
}

/// A switchboard stand-in: accepts one connection and answers its first line with `USR 1 OK`.
async fn fake_switchboard(listener: TcpListener) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"USR 1 alice@hotmail.com 1234.5678\r\n");
    stream.write_all(b"USR 1 OK alice@hotmail.com Alice\r\n").await.unwrap();
    let _ = stream.read(&mut buf).await;
}

#[tokio::test]
async fn announced_switchboards_only_on_the_servers_own_host_or_allowed_ones() {
    // Another port on the upstream's own host: allowed.
    let sb = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sb_addr = sb.local_addr().unwrap().to_string();
    tokio::spawn(fake_switchboard(sb));
    let upstream = scripted_upstream(sb_addr.clone()).await;
    let bridge = TestBridge::start_with(|c| c.upstreams = vec![format!("x={upstream}").parse().unwrap()]).await;
    assert!(open_announced(&bridge, &sb_addr).await.is_ok());

    // Another host, and a private address (the upstream is on loopback): refused, naming the host.
    for (sb, host) in [("127.0.0.2:1864", "127.0.0.2"), ("10.0.0.7:1864", "10.0.0.7")] {
        let upstream = scripted_upstream(sb.to_owned()).await;
        let bridge = TestBridge::start_with(|c| c.upstreams = vec![format!("x={upstream}").parse().unwrap()]).await;
        let (code, reason) = open_announced(&bridge, sb).await.err().expect("refused");
        assert_eq!(code, 1008);
        assert!(reason.contains(host), "{reason}");
        let metrics = bridge.running().metrics_text();
        assert!(metrics.contains(r#"msnp_bridge_refusals_total{reason="sb_not_allowed"} 1"#), "{metrics}");
    }

    // The operator may allow another host.
    let sb = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let sb_addr = sb.local_addr().unwrap().to_string();
    tokio::spawn(fake_switchboard(sb));
    let upstream = scripted_upstream(sb_addr.clone()).await;
    let bridge = TestBridge::start_with(|c| {
        c.upstreams = vec![format!("x={upstream}").parse().unwrap()];
        c.sb_allow = vec!["127.0.0.2".parse().unwrap()];
    })
    .await;
    assert!(open_announced(&bridge, &sb_addr).await.is_ok());
}

#[tokio::test]
async fn a_ticket_survives_an_unreachable_switchboard() {
    // Announced on a port where nothing listens yet.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let sb_addr = format!("127.0.0.1:{port}");
    let upstream = scripted_upstream(sb_addr.clone()).await;
    let bridge = TestBridge::start_with(|c| c.upstreams = vec![format!("x={upstream}").parse().unwrap()]).await;
    let (code, reason) = open_announced(&bridge, &sb_addr).await.err().expect("unreachable");
    assert_eq!((code, reason.as_str()), (1011, "the server is unreachable"));
    // Now it listens: the same cookie works (once).
    let sb = TcpListener::bind(&sb_addr).await.unwrap();
    tokio::spawn(fake_switchboard(sb));
    let mut c = ws(bridge.http(), &format!("?sb={sb_addr}")).await;
    c.ask("USR 1 alice@hotmail.com 1234.5678", "USR 1 OK alice@hotmail.com Alice").await;
    let mut again = ws(bridge.http(), &format!("?sb={sb_addr}")).await;
    again.send("USR 1 alice@hotmail.com 1234.5678").await;
    again.expect_close(1008).await;
}

/// A WebSocket to the bridge as if relayed by a reverse proxy that says the client is `client`.
async fn ws_forwarded(addr: SocketAddr, client: &str) -> Ws {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert("X-Forwarded-For", HeaderValue::from_str(&format!("1.2.3.4, {client}")).unwrap());
    let (stream, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    Ws { stream }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_browser_is_counted_and_throttled_by_its_own_address() {
    let bridge = TestBridge::start_with(|c| {
        c.trust_proxy = vec!["127.0.0.1/32".parse().unwrap()];
        c.limits.max_per_ip = 1;
    })
    .await;
    let addr = bridge.http();
    let mut a = ws_forwarded(addr, "203.0.113.5").await;
    let mut b = ws_forwarded(addr, "203.0.113.6").await;
    let mut again = ws_forwarded(addr, "203.0.113.5").await;
    assert!(again.expect_close(1013).await.contains("from your address"));
    a.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    b.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    drop((a, b));
    bridge.wait_idle().await;

    // The embedded server hears of each browser (PROXY v2): one guesser is locked out, not the bridge.
    for _ in 0..5 {
        let mut c = ws_forwarded(addr, "203.0.113.5").await;
        sign_in_as(&mut c, "alice@hotmail.com", "guess").await;
        c.expect("911 4").await;
        bridge.wait_idle().await;
    }
    let mut c = ws_forwarded(addr, "203.0.113.5").await;
    sign_in_as(&mut c, "alice@hotmail.com", "alice").await;
    c.expect("911 4").await;
    bridge.wait_idle().await;
    let mut c = ws_forwarded(addr, "203.0.113.6").await;
    sign_in_as(&mut c, "alice@hotmail.com", "alice").await;
    c.expect("USR 4 OK alice@hotmail.com Alice").await;
}

async fn sign_in_as(c: &mut Ws, handle: &str, password: &str) {
    c.ask("VER 1 MSNP2", "VER 1 MSNP2").await;
    c.send(&format!("USR 3 MD5 I {handle}")).await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    c.send(&format!("USR 4 MD5 S {}", msnp::auth::md5_response(&challenge, password))).await;
}

#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    let bridge = TestBridge::start_with(|c| c.limits.max_per_ip = 1).await;
    let _a = ws_forwarded(bridge.http(), "203.0.113.5").await;
    let mut b = ws_forwarded(bridge.http(), "203.0.113.6").await;
    assert!(b.expect_close(1013).await.contains("from your address"));
}

#[tokio::test]
async fn only_the_bridges_own_origins() {
    let bridge = TestBridge::start().await;
    let addr = bridge.http();
    // DNS rebinding: a page on another name that resolves here sends a Host matching its Origin.
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    let rebound = format!("rebind.example:{}", addr.port());
    request.headers_mut().insert("Host", HeaderValue::from_str(&rebound).unwrap());
    request.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{rebound}")).unwrap());
    let err = tokio_tungstenite::connect_async(request).await.expect_err("refused");
    assert!(err.to_string().contains("403"), "{err}");
    assert!(ws_from(addr, "", Some(&format!("https://{addr}"))).await.is_err());
    assert!(ws_from(addr, "", Some(&format!("http://localhost:{}", addr.port()))).await.is_ok());

    let bridge = TestBridge::start_with(|c| c.public_origins = vec!["https://chat.example/".into()]).await;
    let addr = bridge.http();
    assert!(ws_from(addr, "", Some("https://chat.example")).await.is_ok());
    assert!(ws_from(addr, "", Some("http://chat.example")).await.is_err());
    assert!(ws_from(addr, "", Some(&format!("http://{addr}"))).await.is_err());
}

#[tokio::test]
async fn a_connection_reset_is_not_a_message_too_big() {
    let bridge = TestBridge::start().await;
    let c = ws(bridge.http(), "").await;
    let tcp = match c.stream.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp,
        _ => unreachable!("plain ws"),
    };
    // Reset, not a clean close: RST on drop.
    tcp.set_zero_linger().unwrap();
    drop(c);
    bridge.wait_idle().await;
    let metrics = bridge.running().metrics_text();
    assert!(!metrics.contains(r#"reason="too_big""#), "{metrics}");
    // A real oversized message still is one.
    let bridge = TestBridge::start_with(|c| c.limits.max_message = 64).await;
    let mut c = ws(bridge.http(), "").await;
    c.send(&"x".repeat(100)).await;
    c.expect_close(1009).await;
}

#[tokio::test]
async fn a_browser_pinging_past_its_rate_is_closed_with_1008() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let bridge = TestBridge::start_with(|c| c.limits.client_pings_per_second = 2.0).await;
    // A ping now and then is answered, and the session goes on.
    let mut calm = Ws::sign_in(bridge.http(), "alice@hotmail.com", "alice", "Alice").await;
    calm.stream.send(Message::Ping(Vec::new().into())).await.unwrap();
    calm.ask("PNG", "QNG").await;
    // A flood of pings is not answered for ever: past the rate, the session closes.
    let mut flood = Ws::sign_in(bridge.http(), "bob@hotmail.com", "bob", "Bob").await;
    for _ in 0..50 {
        if flood.stream.send(Message::Ping(Vec::new().into())).await.is_err() {
            break;
        }
    }
    assert_eq!(flood.expect_close(1008).await, "too many pings");
    calm.ask("PNG", "QNG").await;
}

#[tokio::test]
async fn under_a_low_open_files_limit_newcomers_are_refused_with_1013_not_left_hanging() {
    use std::io::BufRead;
    // The real binary, its open-files limit 200 (soft and hard): 45 sessions fit beside the reserve.
    let data = tempfile::tempdir().unwrap();
    let bridge = env!("CARGO_BIN_EXE_bridge");
    let mut child = std::process::Command::new("bash")
        .args(["-c", "ulimit -n 200 && exec \"$0\" \"$@\"", bridge])
        .args(["--listen", "127.0.0.1:0", "--no-robots", "--max-per-ip", "1000", "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr: SocketAddr = line.trim().strip_prefix("ready http=").unwrap().parse().unwrap();
    let (mut open, mut refused) = (Vec::new(), 0);
    for _ in 0..60 {
        let mut c = tokio::time::timeout(Duration::from_secs(5), ws(addr, "")).await.expect("a prompt answer");
        c.send("VER 1 MSNP2 CVR0").await;
        match c.next().await {
            Ok(reply) => {
                assert_eq!(reply, b"VER 1 MSNP2\r\n");
                open.push(c);
            }
            Err(Some(close)) => {
                assert_eq!(
                    (u16::from(close.code), close.reason.as_str()),
                    (1013, "too many connections; try again later")
                );
                refused += 1;
            }
            Err(None) => panic!("closed without a reason after {} sessions", open.len()),
        }
    }
    assert_eq!((open.len(), refused), (45, 15));
    let _ = child.kill();
    let _ = child.wait();
}
