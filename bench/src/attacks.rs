//! Attack scenarios: what one hostile client costs everyone else. Each returns its figures as JSON.

use std::time::{Duration, Instant};

use msnp::ns::{ClientCommand, UsrStage};
use msnp::{TrId, auth};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::conn::{Conn, ConnError, Target};
use crate::measure::{cpu_seconds, open_descriptors, percentile};

/// What the flooders send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flood {
    /// Empty lines, as fast as the socket takes them.
    Blank,
    /// `PNG` after `PNG`, never reading the `QNG`s (the server drops such a client; it comes back).
    Png,
}

/// One flooder: connects, sends `VER`, then floods until the server drops it; then again.
async fn flooder(ns: String, kind: Flood, until: Instant) {
    let chunk = match kind {
        Flood::Blank => b"\r\n".repeat(8 * 1024),
        Flood::Png => b"PNG\r\n".repeat(4 * 1024),
    };
    while Instant::now() < until {
        let Ok(mut stream) = TcpStream::connect(&ns).await else { continue };
        if stream.write_all(b"VER 1 MSNP2\r\n").await.is_err() {
            continue;
        }
        while Instant::now() < until && stream.write_all(&chunk).await.is_ok() {}
    }
}

/// `VER` round trips of a probe client, each on a new connection (the connect itself is not timed),
/// `interval` apart, for `duration`: milliseconds.
fn probe(ns: &str, interval: Duration, duration: Duration) -> Result<Vec<f64>, ConnError> {
    // Its own thread and runtime: the flooders' work in this process must not delay the probe.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let target = Target::Tcp(ns.to_owned());
        let ver = ClientCommand::Ver { trid: TrId(1), dialects: vec![msnp::ns::DIALECT.into()] }.to_frame();
        let mut rtts = Vec::new();
        let until = Instant::now() + duration;
        while Instant::now() < until {
            let mut conn = Conn::open(&target).await?;
            let t0 = Instant::now();
            conn.send(&ver).await?;
            conn.recv_within(Duration::from_secs(30)).await?;
            rtts.push(t0.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(interval).await;
        }
        Ok(rtts)
    })
}

/// `flooders` connections flood the server with `kind` while a probe client measures `VER` round trips.
pub async fn flood(ns: String, kind: Flood, flooders: usize, duration: Duration) -> Result<Value, ConnError> {
    let quiet = {
        let ns = ns.clone();
        tokio::task::spawn_blocking(move || probe(&ns, Duration::from_millis(5), Duration::from_secs(2)))
    };
    let mut quiet = quiet.await.expect("probe")?;
    let until = Instant::now() + duration + Duration::from_secs(1);
    let mut tasks = JoinSet::new();
    for _ in 0..flooders {
        tasks.spawn(flooder(ns.clone(), kind, until));
    }
    // The flood gets going before the probe starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rtts =
        tokio::task::spawn_blocking(move || probe(&ns, Duration::from_millis(5), duration)).await.expect("probe")?;
    tasks.abort_all();
    Ok(json!({
        "flood": format!("{kind:?}").to_lowercase(),
        "flooders": flooders,
        "probes": rtts.len(),
        "quiet_p50_ms": percentile(&mut quiet, 50.0),
        "quiet_p99_ms": percentile(&mut quiet, 99.0),
        "p50_ms": percentile(&mut rtts, 50.0),
        "p99_ms": percentile(&mut rtts, 99.0),
        "max_ms": percentile(&mut rtts, 100.0),
    }))
}

/// A counter from a Prometheus text page (`GET http://<addr>/metrics`).
async fn metric(addr: &str, name: &str) -> Result<f64, ConnError> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| ConnError::Connect(e.to_string()))?;
    stream.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut page = String::new();
    stream.read_to_string(&mut page).await?;
    let value = page.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok());
    value.ok_or_else(|| ConnError::Connect(format!("no {name} at {addr}")))
}

/// One sign-in attempt with `password`, on a new connection: whether it was accepted.
async fn attempt(target: &Target, handle: &str, password: &str) -> Result<bool, ConnError> {
    let mut conn = Conn::open(target).await?;
    let usr = |trid, stage, value: &str| ClientCommand::Usr {
        trid: TrId(trid),
        package: auth::PACKAGE.into(),
        stage,
        value: value.to_owned(),
    };
    conn.send(&ClientCommand::Ver { trid: TrId(1), dialects: vec![msnp::ns::DIALECT.into()] }.to_frame()).await?;
    conn.recv().await?;
    conn.send(&usr(2, UsrStage::Initial, handle).to_frame()).await?;
    let reply = conn.recv().await?;
    let challenge = reply.tokens().nth(4).unwrap_or_default().to_owned();
    conn.send(&usr(3, UsrStage::Subsequent, &auth::md5_response(&challenge, password)).to_frame()).await?;
    Ok(conn.recv().await?.tokens().nth(2) == Some("OK"))
}

/// One client guesses `handle`'s password as fast as it can, a new connection per guess, for `duration`:
/// how many guesses it made, and how many the server actually checked (its `sign_in_failures` metric).
pub async fn guess(ns: String, metrics: String, handle: String, duration: Duration) -> Result<Value, ConnError> {
    const CHECKED: &str = "msnp_server_sign_in_failures_total";
    let target = Target::Tcp(ns);
    let before = metric(&metrics, CHECKED).await?;
    let started = Instant::now();
    let (mut guesses, mut accepted) = (0u64, 0u64);
    while started.elapsed() < duration {
        accepted += u64::from(attempt(&target, &handle, &format!("guess{guesses}")).await?);
        guesses += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let checked = metric(&metrics, CHECKED).await? - before;
    Ok(json!({
        "seconds": seconds,
        "guesses": guesses,
        "guesses_per_second": guesses as f64 / seconds,
        "checked": checked,
        "checked_per_minute": checked / seconds * 60.0,
        "accepted": accepted,
    }))
}

/// `connections` half-sent HTTP requests (request line and one header, then silence) to `http`; after
/// `wait`: how many the server still holds open.
pub async fn slowloris(http: String, connections: usize, wait: Duration) -> Result<Value, ConnError> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut s = TcpStream::connect(&http).await.map_err(|e| ConnError::Connect(e.to_string()))?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n").await?;
        streams.push(s);
    }
    tokio::time::sleep(wait).await;
    let mut open = 0;
    for mut s in streams {
        let mut buf = [0u8; 256];
        // Closed: end of stream (or reset) at once; open: nothing to read yet.
        match tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await {
            Err(_) => open += 1,
            Ok(Ok(0) | Err(_)) => {}
            Ok(Ok(_)) => {
                // An answer (a refusal) is not a close; the server must still hang up.
                if !matches!(
                    tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await,
                    Ok(Ok(0) | Err(_))
                ) {
                    open += 1;
                }
            }
        }
    }
    Ok(json!({ "connections": connections, "wait_seconds": wait.as_secs_f64(), "still_open": open }))
}

/// Reads one HTTP/1.1 response with a `Content-Length` from `stream` (`buf` keeps what follows it): the
/// status, the `Content-Encoding` and the body's length.
async fn response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(u16, String, usize), ConnError> {
    let bad = |what: &str| ConnError::Connect(format!("bad HTTP response: {what}"));
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 16384];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status"))?;
    let header = |name: &str| head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()));
    let length: usize = header("content-length:").and_then(|v| v.parse().ok()).ok_or_else(|| bad("no length"))?;
    let encoding = header("content-encoding:").unwrap_or_default();
    while buf.len() < end + length {
        let mut chunk = [0u8; 65536];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..end + length);
    Ok((status, encoding, length))
}

/// `clients` keep-alive connections download `path` from the bridge at `http` (the process `pid`) as a
/// browser does (`Accept-Encoding: gzip, br`), back to back, for `duration`: responses per second and the
/// bridge's CPU per response.
pub async fn static_files(
    http: String,
    path: String,
    clients: usize,
    duration: Duration,
    pid: u32,
) -> Result<Value, ConnError> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n");
    let (until, cpu0, started) = (Instant::now() + duration, cpu_seconds(pid), Instant::now());
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (http, request) = (http.clone(), request.clone());
        tasks.spawn(async move {
            let mut stream = TcpStream::connect(&http).await.map_err(|e| ConnError::Connect(e.to_string()))?;
            let (mut buf, mut n, mut bytes, mut encoding) = (Vec::new(), 0u64, 0u64, String::new());
            while Instant::now() < until {
                stream.write_all(request.as_bytes()).await?;
                let (status, enc, length) = response(&mut stream, &mut buf).await?;
                if status != 200 {
                    return Err(ConnError::Connect(format!("GET answered {status}")));
                }
                (n, bytes, encoding) = (n + 1, bytes + length as u64, enc);
            }
            Ok::<_, ConnError>((n, bytes, encoding))
        });
    }
    let (mut responses, mut bytes, mut encoding) = (0, 0, String::new());
    while let Some(done) = tasks.join_next().await {
        let (n, b, enc) = done.expect("client")?;
        (responses, bytes, encoding) = (responses + n, bytes + b, enc);
    }
    let (seconds, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds(pid) - cpu0);
    Ok(json!({
        "path": path,
        "clients": clients,
        "content_encoding": encoding,
        "responses": responses,
        "responses_per_second": responses as f64 / seconds,
        "bytes_per_response": bytes as f64 / responses.max(1) as f64,
        "cpu_ms_per_response": cpu * 1000.0 / responses.max(1) as f64,
    }))
}

/// `sessions` WebSocket sessions through the bridge (the process `pid`), each past `VER` (so its upstream
/// connection is open): the descriptors the bridge holds per session.
pub async fn descriptors(ws: String, sessions: usize, pid: u32) -> Result<Value, ConnError> {
    let target = Target::Ws { url: ws, binary: false };
    let before = open_descriptors(pid);
    let ver = ClientCommand::Ver { trid: TrId(1), dialects: vec![msnp::ns::DIALECT.into()] }.to_frame();
    let mut open = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut conn = Conn::open(&target).await?;
        conn.send(&ver).await?;
        conn.recv_within(Duration::from_secs(30)).await?;
        open.push(conn);
    }
    let during = open_descriptors(pid);
    drop(open);
    Ok(json!({
        "sessions": sessions,
        "descriptors_before": before,
        "descriptors_with_sessions": during,
        "descriptors_per_session": (during as f64 - before as f64) / sessions as f64,
    }))
}
