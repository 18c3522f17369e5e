//! Test harness: a real server on 127.0.0.1 with a fresh database, and line-level TCP clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use msnp::{Decoder, Frame, Limits};
use msnp_server::{Running, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(5);

/// The accounts of MSNP2.md §13: jd (new), and alice and bob, mutual contacts at version 4.
pub const ACCOUNTS: &str = r#"
[[account]]
email = "jd@hotmail.com"
password = "hunter2"
name = "JD"

[[account]]
email = "alice@hotmail.com"
password = "alicepw"
name = "Alice"
version = 4
FL = [{ email = "bob@hotmail.com", name = "Bob" }]
AL = [{ email = "bob@hotmail.com", name = "Bob" }]
RL = [{ email = "bob@hotmail.com", name = "Bob" }]

[[account]]
email = "bob@hotmail.com"
password = "bobpw"
name = "Bob"
version = 4
FL = [{ email = "alice@hotmail.com", name = "Alice" }]
AL = [{ email = "alice@hotmail.com", name = "Alice" }]
RL = [{ email = "alice@hotmail.com", name = "Alice" }]

[[account]]
email = "erin@hotmail.com"
password = "erinpw"
name = "Erin"
"#;

pub struct TestServer {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub config: ServeConfig,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(ACCOUNTS, |_| {}).await
    }

    pub async fn start_with(accounts: &str, tweak: impl FnOnce(&mut ServeConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("msnp.db");
        let mut store = msnp_server::open_store(&db, None).unwrap();
        msnp_server::accounts::import(&mut store, accounts).unwrap();
        drop(store);
        let mut config = ServeConfig::new(db);
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sb_listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut config);
        let running = msnp_server::start(config.clone()).await.unwrap();
        TestServer { running: Some(running), dir, config }
    }

    /// The SQLite database's file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("msnp.db")
    }

    pub fn ns(&self) -> SocketAddr {
        self.running.as_ref().unwrap().ns_addr
    }

    pub fn sb(&self) -> SocketAddr {
        self.running.as_ref().unwrap().sb_addr
    }

    /// Stops the server and starts it again on the same database and ports.
    pub async fn restart(&mut self) {
        let old = self.running.take().unwrap();
        let (ns, sb) = (old.ns_addr, old.sb_addr);
        old.shutdown().await;
        self.config.listen = ns;
        self.config.sb_listen = sb;
        self.running = Some(msnp_server::start(self.config.clone()).await.unwrap());
    }

    pub fn open_connections(&self) -> usize {
        self.running.as_ref().unwrap().open_connections()
    }

    pub fn metrics(&self) -> &msnp_server::metrics::Metrics {
        &self.running.as_ref().unwrap().metrics
    }

    /// Waits until every connection has closed and no client address is counted any more.
    pub async fn wait_all_counters_zero(&self) {
        self.wait_idle().await;
        for _ in 0..250 {
            if self.running.as_ref().unwrap().tracked_addresses() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} client addresses still counted", self.running.as_ref().unwrap().tracked_addresses());
    }

    /// Waits until the server has no open connection.
    pub async fn wait_idle(&self) {
        self.wait_open(0).await;
    }

    /// Waits until the server has exactly `n` open connections.
    pub async fn wait_open(&self, n: usize) {
        for _ in 0..250 {
            if self.open_connections() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} connections open, expected {n}", self.open_connections());
    }
}

/// A client speaking raw lines.
pub struct Client {
    stream: TcpStream,
    decoder: Decoder,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        Client { stream, decoder: Decoder::new(Limits::CLIENT) }
    }

    /// Connects from the loopback address `source` (e.g. `127.0.0.2`: another client address).
    pub async fn connect_from(addr: SocketAddr, source: &str) -> Client {
        Self::connect_with(addr, source, None).await
    }

    /// Connects from `source` with a receive buffer of `recv_buffer` bytes (a client that cannot take much).
    pub async fn connect_with(addr: SocketAddr, source: &str, recv_buffer: Option<u32>) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source.parse().unwrap(), 0)).unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket.connect(addr).await.unwrap();
        Client { stream, decoder: Decoder::new(Limits::CLIENT) }
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next frame, or `None` if the server closed the connection.
    pub async fn recv(&mut self) -> Option<Frame> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return Some(frame);
            }
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("the server said nothing for 5 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.decoder.extend(&buf[..n]);
        }
    }

    /// Sends `line` and asserts the reply.
    pub async fn ask(&mut self, line: &str, reply: &str) {
        self.send(line).await;
        self.expect(reply).await;
    }

    /// Sends `line` and asserts the server closes without a reply.
    pub async fn ask_closed(&mut self, line: &str) {
        self.send(line).await;
        self.expect_closed().await;
    }

    /// Sends a payload command: `head` with the payload's length, then exactly `payload`.
    pub async fn send_msg(&mut self, head: &str, payload: &str) {
        self.send_raw(format!("{head} {}\r\n{payload}", payload.len()).as_bytes()).await;
    }

    /// Asserts a payload message: the line `head` with the length, then exactly `payload`.
    pub async fn expect_msg(&mut self, head: &str, payload: &str) {
        let frame = self.recv().await.expect("closed");
        assert_eq!(frame.line(), format!("{head} {}", payload.len()));
        assert_eq!(frame.payload(), Some(payload.as_bytes()));
    }

    /// Asserts the next line.
    pub async fn expect(&mut self, line: &str) {
        let frame = self.recv().await.unwrap_or_else(|| panic!("closed; expected {line:?}"));
        assert_eq!(frame.line(), line);
    }

    /// Asserts the next lines, in order.
    pub async fn expect_all(&mut self, lines: &[&str]) {
        for line in lines {
            self.expect(line).await;
        }
    }

    /// Asserts the next lines, in any order.
    pub async fn expect_unordered(&mut self, lines: &[&str]) {
        let mut got = Vec::new();
        for _ in lines {
            got.push(self.recv().await.expect("closed").line().to_owned());
        }
        got.sort();
        let mut want: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
    }

    /// Asserts the next line starts with `prefix` and returns the rest.
    pub async fn expect_prefix(&mut self, prefix: &str) -> String {
        let frame = self.recv().await.unwrap_or_else(|| panic!("closed; expected {prefix:?}…"));
        let line = frame.line();
        assert!(line.starts_with(prefix), "{line:?} does not start with {prefix:?}");
        line[prefix.len()..].to_owned()
    }

    /// Asserts the server closes the connection without sending anything more.
    pub async fn expect_closed(&mut self) {
        if let Some(frame) = self.recv().await {
            panic!("expected the connection to close, got {:?}", frame.line());
        }
    }

    /// Asserts nothing arrives for a short while (and the connection stays open).
    pub async fn expect_silence(&mut self) {
        let mut buf = [0u8; 1];
        if let Some(frame) = self.decoder.next_frame().unwrap() {
            panic!("unexpected {:?}", frame.line());
        }
        match tokio::time::timeout(Duration::from_millis(150), self.stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("the connection closed"),
            Ok(_) => {
                self.decoder.extend(&buf);
                let line = self.recv().await.map(|f| f.line().to_owned());
                panic!("unexpected {line:?}");
            }
        }
    }

    /// VER with TrID 1: the connection is ready for INF and USR.
    pub async fn greeted(addr: SocketAddr) -> Client {
        let mut c = Client::connect(addr).await;
        c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
        c
    }

    /// VER, INF, USR I, USR S with TrIDs 1–4; expects `USR 4 OK <handle> <name>`.
    pub async fn sign_in(addr: SocketAddr, handle: &str, password: &str, name: &str) -> Client {
        let mut c = Client::connect(addr).await;
        c.authenticate(handle, password).await;
        c.expect(&format!("USR 4 OK {handle} {name}")).await;
        c
    }

    /// Whether signing in from `source` with `password` succeeds (`USR 4 OK`) or fails (`911 4`, closed).
    pub async fn try_sign_in(addr: SocketAddr, source: &str, handle: &str, password: &str) -> bool {
        let mut c = Client::connect_from(addr, source).await;
        c.authenticate(handle, password).await;
        let reply = c.recv().await.expect("closed without a reply").line().to_owned();
        match reply.as_str() {
            "911 4" => {
                c.expect_closed().await;
                false
            }
            ok if ok.starts_with("USR 4 OK ") => true,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// VER … USR S; the caller reads the USR reply.
    pub async fn authenticate(&mut self, handle: &str, password: &str) {
        self.send("VER 1 MSNP2 CVR0").await;
        self.expect("VER 1 MSNP2").await;
        self.send("INF 2").await;
        self.expect("INF 2 MD5").await;
        self.send(&format!("USR 3 MD5 I {handle}")).await;
        let challenge = self.expect_prefix("USR 3 MD5 S ").await;
        let response = msnp::auth::md5_response(&challenge, password);
        self.send(&format!("USR 4 MD5 S {response}")).await;
    }

    /// Signs in and goes online (SYN with `version`, no dump expected, then CHG NLN with TrID 6).
    pub async fn online(addr: SocketAddr, handle: &str, password: &str, name: &str, version: u32) -> Client {
        let mut c = Client::sign_in(addr, handle, password, name).await;
        c.send(&format!("SYN 5 {version}")).await;
        c.expect(&format!("SYN 5 {version}")).await;
        c.send("CHG 6 NLN").await;
        c.expect("CHG 6 NLN").await;
        c
    }
}
