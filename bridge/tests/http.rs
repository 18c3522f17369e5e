//! The bridge's HTTP side and process: static files, /servers, /healthz, /metrics, ready line, SIGTERM,
//! and many sessions at once.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{TestBridge, Ws, ws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request over raw TCP; returns the status line, headers (lowercased names) and body.
async fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_owned();
    let headers =
        lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned())).collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn serves_the_app_safely() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html><title>app</title>".repeat(50)).unwrap();
    std::fs::write(site.path().join("app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(site.path().join("app_bg.wasm.gz"), b"compressed once, at build").unwrap();
    std::fs::write(site.path().join("app_bg.wasm.br"), b"brotli, once, at build").unwrap();
    std::fs::create_dir(site.path().join("sub")).unwrap();
    std::fs::write(site.path().join("sub/a.js"), "export {}").unwrap();
    let secret = site.path().parent().unwrap().join("secret.txt");
    std::fs::write(&secret, "not for the web").unwrap();
    let dir = site.path().to_path_buf();
    let bridge = TestBridge::start_with(move |c| c.static_dir = Some(dir)).await;
    let addr = bridge.http();

    let (status, headers, body) = get(addr, "/", "").await;
    assert!(status.contains("200"), "{status}");
    assert!(header(&headers, "content-type").unwrap().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&body).contains("<title>app</title>"));
    let (status, headers, _) = get(addr, "/app_bg.wasm", "").await;
    assert!(status.contains("200"));
    assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
    // Compressed when the browser asks for it.
    let (_, headers, _) = get(addr, "/", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    // A file compressed at build is sent as it is (the bytes of `app_bg.wasm.br`, or `.gz` for a browser
    // without brotli), not compressed again.
    let (status, headers, body) = get(addr, "/app_bg.wasm", "Accept-Encoding: gzip, deflate, br\r\n").await;
    assert!(status.contains("200"));
    assert_eq!(header(&headers, "content-encoding"), Some("br"));
    assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
    assert_eq!(body, b"brotli, once, at build");
    let (_, headers, body) = get(addr, "/app_bg.wasm", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(body, b"compressed once, at build");
    // No directory listing, no way out of the folder.
    let (status, _, body) = get(addr, "/sub/", "").await;
    assert!(status.contains("404"), "{status}");
    assert!(!String::from_utf8_lossy(&body).contains("a.js"));
    for path in ["/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"] {
        let (status, _, body) = get(addr, path, "").await;
        assert!(!status.contains("200"), "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("not for the web"), "{path}");
    }
}

#[tokio::test]
async fn servers_health_and_metrics() {
    let bridge = TestBridge::start().await;
    let addr = bridge.http();
    let (_, headers, body) = get(addr, "/servers", "").await;
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(body, br#"["local"]"#);
    let (status, _, body) = get(addr, "/healthz", "").await;
    assert!(status.contains("200"));
    assert_eq!(body, b"ok");

    let mut alice = Ws::sign_in(addr, "alice@hotmail.com", "alice", "Alice").await;
    let mut refused = ws(addr, "?sb=127.0.0.1:1").await;
    refused.expect_close(1008).await;
    let (_, _, body) = get(addr, "/metrics", "").await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("msnp_bridge_sessions{kind=\"ns\"} 1"), "{text}");
    assert!(text.contains("msnp_bridge_refusals_total{reason=\"not_announced\"} 1"), "{text}");
    assert!(text.contains("msnp_bridge_bytes_total{direction=\"up\"}"), "{text}");
    alice.send("OUT").await;
    alice.expect_close(1000).await;
}

#[tokio::test]
async fn a_thousand_sessions_signed_in_at_once() {
    const N: usize = 1000;
    // The embedded server's database, prepared with N accounts before the bridge starts.
    let dir = tempfile::tempdir().unwrap();
    let mut accounts = String::new();
    for i in 0..N {
        accounts.push_str(&format!("[[account]]\nemail = \"user{i}@hotmail.com\"\npassword = \"pw{i}\"\n\n"));
    }
    let mut store = msnp_server::open_store(&dir.path().join("msnp.db"), None).unwrap();
    msnp_server::accounts::import(&mut store, &accounts).unwrap();
    drop(store);
    let bridge = TestBridge::start_in(dir, |c| c.limits.max_per_ip = N + 10).await;
    let addr = bridge.http();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        tasks.spawn(async move {
            let handle = format!("user{i}@hotmail.com");
            Ws::online(addr, &handle, &format!("pw{i}"), &handle, 0).await
        });
    }
    let mut sessions = Vec::with_capacity(N);
    while let Some(session) = tasks.join_next().await {
        sessions.push(session.expect("every session signs in"));
    }
    assert_eq!(bridge.running().open_sessions(), N);
    assert_eq!(bridge.running().embedded.as_ref().unwrap().open_connections(), N);
    for mut s in sessions.drain(..) {
        s.send("OUT").await;
    }
    bridge.wait_idle().await;
}

#[test]
fn the_binary_prints_ready_and_exits_on_sigterm_with_1001() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bridge"))
        .args(["--listen", "127.0.0.1:0", "--data-dir", data.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line.trim().strip_prefix("ready http=").expect("ready line").parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut bob = Ws::online(addr, "bob@hotmail.com", "bob", "Bob", 5).await;
        #[cfg(unix)]
        {
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
            // The robots (signed in by default) may still be coming online: their ILNs come first.
            let close = loop {
                match bob.next().await {
                    Ok(_) => continue,
                    Err(close) => break close.expect("a close frame"),
                }
            };
            assert_eq!((u16::from(close.code), close.reason.as_str()), (1001, "the bridge is shutting down"));
        }
        #[cfg(not(unix))]
        let _ = &mut bob;
    });
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // It told people how to sign in, and logged no password or login response.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("bob@hotmail.com / bob"), "{stderr}");
    assert!(stderr.contains(&format!("open http://{addr}/")));
    assert!(!stderr.contains("MD5 S"), "{stderr}");
}
