//! Test harness: a real bridge (with its embedded server, or a given upstream) and WebSocket clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bridge::Running;
use bridge::config::Config;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

/// A server of the project with the demo accounts, in `dir`, and its settings changed by `tweak`.
pub async fn server(dir: &std::path::Path, tweak: impl FnOnce(&mut msnp_server::ServeConfig)) -> msnp_server::Running {
    let db = dir.join("msnp.db");
    msnp_server::accounts::import(
        &mut msnp_server::open_store(&db, None).unwrap(),
        msnp_server::accounts::DEMO_ACCOUNTS,
    )
    .unwrap();
    let mut config = msnp_server::ServeConfig::new(db);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sb_listen = "127.0.0.1:0".parse().unwrap();
    tweak(&mut config);
    msnp_server::start(config).await.unwrap()
}

pub struct TestBridge {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
}

impl TestBridge {
    /// A bridge with its embedded server and the demo accounts.
    pub async fn start() -> TestBridge {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestBridge {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tweak).await
    }

    /// Starts on `dir` as data directory (a database already there is used as it is).
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestBridge {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        tweak(&mut config);
        let running = bridge::start(config).await.unwrap();
        TestBridge { running: Some(running), dir }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    pub fn http(&self) -> SocketAddr {
        self.running().http_addr
    }

    pub fn embedded_sb(&self) -> SocketAddr {
        self.running().embedded.as_ref().unwrap().sb_addr
    }

    /// Waits until no WebSocket session and no embedded-server connection is open.
    pub async fn wait_idle(&self) {
        for _ in 0..500 {
            let server = self.running().embedded.as_ref().map_or(0, |s| s.open_connections());
            if self.running().open_sessions() == 0 && server == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let server = self.running().embedded.as_ref().map_or(0, |s| s.open_connections());
        panic!("still open: {} sessions, {} server connections", self.running().open_sessions(), server);
    }
}

/// A WebSocket client speaking MSNP lines.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens `ws://addr/ws<query>` with the bridge's own origin.
pub async fn ws(addr: SocketAddr, query: &str) -> Ws {
    ws_from(addr, query, Some(&format!("http://{addr}"))).await.unwrap()
}

pub async fn ws_from(addr: SocketAddr, query: &str, origin: Option<&str>) -> Result<Ws, Error> {
    let mut request = format!("ws://{addr}/ws{query}").into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    let (stream, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Ws { stream })
}

impl Ws {
    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").into_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let message = match String::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        };
        self.stream.send(message).await.unwrap();
    }

    /// The next data message's bytes, or the close frame.
    pub async fn next(&mut self) -> Result<Vec<u8>, Option<CloseFrame>> {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next()).await.expect("nothing for 10 s");
            match message {
                Some(Ok(Message::Text(t))) => return Ok(t.as_bytes().to_vec()),
                Some(Ok(Message::Binary(b))) => return Ok(b.to_vec()),
                Some(Ok(Message::Close(frame))) => return Err(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Asserts the next message is exactly `line` CRLF.
    pub async fn expect(&mut self, line: &str) {
        match self.next().await {
            Ok(bytes) => assert_eq!(String::from_utf8_lossy(&bytes), format!("{line}\r\n")),
            Err(close) => panic!("closed ({close:?}); expected {line:?}"),
        }
    }

    pub async fn ask(&mut self, line: &str, reply: &str) {
        self.send(line).await;
        self.expect(reply).await;
    }

    /// Asserts the next message starts with `prefix` and returns the rest of its line.
    pub async fn expect_prefix(&mut self, prefix: &str) -> String {
        let bytes = self.next().await.unwrap_or_else(|c| panic!("closed ({c:?}); expected {prefix:?}"));
        let text = String::from_utf8(bytes).unwrap();
        let line = text.strip_suffix("\r\n").unwrap_or_else(|| panic!("{text:?} is not one line"));
        assert!(line.starts_with(prefix), "{line:?} does not start with {prefix:?}");
        line[prefix.len()..].to_owned()
    }

    /// Asserts the bridge closes the session with `code`; returns the reason.
    pub async fn expect_close(&mut self, code: u16) -> String {
        match self.next().await {
            Ok(bytes) => panic!("expected close {code}, got {:?}", String::from_utf8_lossy(&bytes)),
            Err(Some(frame)) => {
                assert_eq!(u16::from(frame.code), code, "reason: {}", frame.reason);
                frame.reason.to_string()
            }
            Err(None) => panic!("closed without a close frame; expected {code}"),
        }
    }

    /// VER … USR OK for a demo account (TrIDs 1–4).
    pub async fn sign_in(addr: SocketAddr, handle: &str, password: &str, name: &str) -> Ws {
        let mut c = ws(addr, "").await;
        c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
        c.ask("INF 2", "INF 2 MD5").await;
        c.send(&format!("USR 3 MD5 I {handle}")).await;
        let challenge = c.expect_prefix("USR 3 MD5 S ").await;
        c.ask(
            &format!("USR 4 MD5 S {}", msnp::auth::md5_response(&challenge, password)),
            &format!("USR 4 OK {handle} {name}"),
        )
        .await;
        c
    }

    /// Signed in, lists in sync at `version`, online (CHG 6 NLN).
    pub async fn online(addr: SocketAddr, handle: &str, password: &str, name: &str, version: u32) -> Ws {
        let mut c = Ws::sign_in(addr, handle, password, name).await;
        c.ask(&format!("SYN 5 {version}"), &format!("SYN 5 {version}")).await;
        c.ask("CHG 6 NLN", "CHG 6 NLN").await;
        c
    }
}
