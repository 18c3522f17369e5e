//! The tokio side: accepts connections and moves bytes between sockets, the server logic and the store.
//!
//! Each connection is one task. It decodes on its own, outside any lock, so a client's bytes (however
//! many, however split) cost that client's task; only whole frames reach the shared [`Logic`], a few at a
//! time, and none while the logic waits for the store on that connection's behalf. What the logic sends a
//! connection waits in its outbox, bounded in bytes, until its task writes it; a socket that takes nothing
//! for `send_timeout` ends the connection (while it is open, and while it is closing), and the connection
//! counts until then. Store jobs run on the store's own threads ([`Worker`]); their results come back
//! through one task, in the order the store finished them.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msnp::frame::MAX_CLIENT_PAYLOAD;
use msnp::{Decoder, Frame, FrameError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

use crate::cluster::BusCall;
use crate::jobs::{Done, Job, Worker};
use crate::metrics::Metrics;
use crate::notification::{ConnId, JobId, Logic, Output};
use crate::proxy::{self, Trusted};
use crate::scratch;
use crate::throttle::{ConnectionCaps, ConnectionLimits};

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// The server closed it, after sending everything queued.
    Closed,
    /// The client left, or broke the framing.
    ByClient,
    /// The hub gave up on it (it queued too much).
    Dropped,
    /// Its socket took nothing for the send timeout.
    Stalled,
}

/// Which server a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Notification,
    Switchboard,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Notification => "ns",
            Kind::Switchboard => "sb",
        }
    }
}

/// Frames handed to the logic per turn of the lock, so one busy client never holds it for long.
const FRAMES_PER_TURN: usize = 64;

/// Connection limits, each a command-line flag.
#[derive(Clone, Debug)]
pub struct NetLimits {
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Longest inbound command line, CRLF included.
    pub max_line: usize,
    /// Bytes queued for one connection before it counts as not reading and is dropped.
    pub send_queue_bytes: usize,
    /// A write that makes no progress for this long closes the connection.
    pub send_timeout: Duration,
    /// Idle time before TCP keepalive probes a silent peer (dead peers are found about 30 s later).
    pub keepalive: Duration,
    /// Connections per client address.
    pub per_address: ConnectionLimits,
    /// Peers that may send a PROXY header naming the client they relay.
    pub proxy_from: Trusted,
    /// Time for a trusted peer's PROXY header to arrive.
    pub proxy_header_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            max_connections: 10_000,
            max_line: msnp::frame::MAX_LINE,
            send_queue_bytes: 1 << 20,
            send_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(60),
            per_address: ConnectionLimits::default(),
            proxy_from: Trusted::default(),
            proxy_header_timeout: Duration::from_secs(10),
        }
    }
}

/// What a connection's task shares with the hub.
#[derive(Debug, Default)]
struct Shared {
    /// The bytes the task is to write next. A byte queue rather than a channel of frames: an idle
    /// connection's queue then holds no memory at all (a tokio channel keeps a block of 32 slots, 2 KB).
    outbox: Mutex<Outbox>,
    /// Wakes the task when the outbox has bytes, closes or is dropped.
    outbox_ready: Notify,
    /// Bytes queued and not yet written.
    pending: AtomicUsize,
    /// Wakes the task when the logic has finished waiting for the store.
    wake: Notify,
}

/// Bytes for a connection's socket; once `closing`, it takes no more; once `dropped`, nothing more is sent.
#[derive(Debug, Default)]
struct Outbox {
    bytes: Vec<u8>,
    closing: bool,
    dropped: bool,
}

/// What the outbox asks of its connection's task.
#[derive(Debug, PartialEq)]
enum Outgoing {
    /// These bytes (none: nothing yet); the connection stays open.
    Send(Vec<u8>),
    /// These last bytes (perhaps none), then shut the socket.
    Close(Vec<u8>),
    /// Nothing more: the hub gave up on the connection.
    Dropped,
}

impl Shared {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `bytes` for the socket; false when the connection is closing (nothing is queued).
    fn push(&self, bytes: &[u8]) -> bool {
        let mut outbox = self.outbox();
        if outbox.closing {
            return false;
        }
        outbox.bytes.extend_from_slice(bytes);
        drop(outbox);
        self.outbox_ready.notify_one();
        true
    }

    /// The task is to send what is queued, then shut the socket.
    fn close(&self) {
        self.outbox().closing = true;
        self.outbox_ready.notify_one();
    }

    /// The task is to end the connection without sending anything more.
    fn drop_now(&self) {
        let mut outbox = self.outbox();
        (outbox.dropped, outbox.closing) = (true, true);
        outbox.bytes = Vec::new();
        drop(outbox);
        self.outbox_ready.notify_one();
    }

    /// Everything queued, and what to do after.
    fn take(&self) -> Outgoing {
        let mut outbox = self.outbox();
        match (outbox.dropped, outbox.closing) {
            (true, _) => Outgoing::Dropped,
            (false, true) => Outgoing::Close(std::mem::take(&mut outbox.bytes)),
            (false, false) => Outgoing::Send(std::mem::take(&mut outbox.bytes)),
        }
    }
}

/// The server logic plus the outbox of every connection, behind one lock. Nothing under it blocks:
/// frames go to outboxes, jobs to the store's threads.
struct Hub {
    logic: Logic,
    outboxes: HashMap<ConnId, Arc<Shared>>,
    send_queue_bytes: usize,
    store: Worker,
    results: mpsc::UnboundedSender<(JobId, Done)>,
    metrics: Arc<Metrics>,
    /// The cluster's bus, if this server is a node of one.
    bus: Option<mpsc::UnboundedSender<BusCall>>,
}

impl Hub {
    /// Carries out everything the logic asked for.
    fn flush(&mut self) {
        while let Some(output) = self.logic.poll_output() {
            match output {
                Output::Send(conn, frame) => self.send(conn, frame),
                // The task sends what is queued, then closes (or gives up after the send timeout).
                Output::Close(conn) => {
                    if let Some(shared) = self.outboxes.get(&conn) {
                        shared.close();
                    }
                }
                Output::Job(id, job) => {
                    let results = self.results.clone();
                    self.store.submit(job, move |done| {
                        let _ = results.send((id, done));
                    });
                }
                Output::Resume(conn) => {
                    if let Some(shared) = self.outboxes.get(&conn) {
                        shared.wake.notify_one();
                    }
                }
                Output::Bus(call) => {
                    if let Some(bus) = &self.bus {
                        let _ = bus.send(call);
                    }
                }
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Frame) {
        let Some(shared) = self.outboxes.get(&conn) else { return };
        if !shared.push(frame.as_bytes()) {
            return;
        }
        let len = frame.as_bytes().len();
        let pending = shared.pending.fetch_add(len, Ordering::Relaxed) + len;
        if pending > self.send_queue_bytes {
            tracing::warn!(conn, pending, "send queue full: dropping a client that does not read");
            self.metrics.refused("send_queue_full");
            self.drop_connection(conn);
        }
    }

    /// Gives up on a connection: its task ends without sending more, the logic forgets it.
    fn drop_connection(&mut self, conn: ConnId) {
        if let Some(shared) = self.outboxes.remove(&conn) {
            shared.drop_now();
        }
        self.logic.disconnect(conn);
    }
}

/// A running server's shared state.
pub struct Server {
    hub: Mutex<Hub>,
    store: Worker,
    epoch: Instant,
    limits: NetLimits,
    next_id: AtomicU64,
    open: AtomicUsize,
    caps: Mutex<ConnectionCaps>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("open", &self.open).finish_non_exhaustive()
    }
}

impl Server {
    /// The server, and the receiver of store results that [`Server::store_results`] must drain.
    pub fn new(
        logic: Logic,
        limits: NetLimits,
        store: Worker,
        metrics: Arc<Metrics>,
    ) -> (Arc<Server>, mpsc::UnboundedReceiver<(JobId, Done)>) {
        let (results, results_rx) = mpsc::unbounded_channel();
        let hub = Hub {
            logic,
            outboxes: HashMap::new(),
            send_queue_bytes: limits.send_queue_bytes,
            store: store.clone(),
            results,
            metrics: Arc::clone(&metrics),
            bus: None,
        };
        let server = Server {
            hub: Mutex::new(hub),
            store,
            epoch: Instant::now(),
            caps: Mutex::new(ConnectionCaps::new(limits.per_address)),
            limits,
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            metrics,
        };
        (Arc::new(server), results_rx)
    }

    pub(crate) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Sends what the logic asks of the cluster's bus to `bus`; the sender of job results, for the bus's
    /// answers.
    pub(crate) fn attach_bus(&self, bus: mpsc::UnboundedSender<BusCall>) -> mpsc::UnboundedSender<(JobId, Done)> {
        self.with_hub(|hub| {
            hub.bus = Some(bus);
            hub.results.clone()
        })
    }

    /// Runs `f` on the logic, then carries out what it asked for.
    pub(crate) fn with_logic<R>(&self, f: impl FnOnce(&mut Logic) -> R) -> R {
        self.with_hub(|hub| f(&mut hub.logic))
    }

    fn with_hub<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> R {
        let mut hub = self.hub.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let r = f(&mut hub);
        hub.flush();
        r
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Client addresses whose connections are being counted (for tests: back to zero when all close).
    pub fn tracked_addresses(&self) -> usize {
        self.caps.lock().unwrap_or_else(|e| e.into_inner()).tracked()
    }

    /// Accepts connections until the task is dropped.
    pub async fn accept(self: Arc<Self>, listener: TcpListener, kind: Kind) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
                        tracing::warn!(%peer, "connection limit reached: refusing");
                        self.metrics.refused("connection_limit");
                        drop(stream);
                        continue;
                    }
                    set_keepalive(&stream, self.limits.keepalive);
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let span = match kind {
                        Kind::Notification => tracing::info_span!("ns", conn = id, %peer),
                        Kind::Switchboard => tracing::info_span!("sb", conn = id, %peer),
                    };
                    tokio::spawn(Arc::clone(&self).connection(kind, id, stream, peer).instrument(span));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Closes connections that do not sign in in time, expires cookies; runs until the task is dropped.
    pub async fn deadlines(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = self.now();
            self.with_logic(|logic| logic.handle_timeout(now));
            self.caps.lock().unwrap_or_else(|e| e.into_inner()).sweep(now);
        }
    }

    /// Hands store results to the logic, in the order they come; runs until the server is dropped.
    pub async fn store_results(self: Arc<Self>, mut results: mpsc::UnboundedReceiver<(JobId, Done)>) {
        while let Some((id, done)) = results.recv().await {
            let now = self.now();
            self.with_hub(|hub| {
                hub.logic.job_done(id, done, now);
                while let Ok((id, done)) = results.try_recv() {
                    hub.logic.job_done(id, done, now);
                }
            });
        }
    }

    /// Reads what administrators changed in the database (after event `last`) once a second, and applies
    /// it to the sessions held here; runs until the task is dropped.
    pub async fn admin_events(self: Arc<Self>, mut last: i64) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let (tx, rx) = oneshot::channel();
            self.store.submit(Job::AdminEvents { after: last }, move |done| {
                let _ = tx.send(done);
            });
            match rx.await {
                Ok(Done::AdminEvents(Ok((newest, events)))) => {
                    last = newest;
                    if !events.is_empty() {
                        self.with_hub(|hub| hub.logic.admin_events(events));
                    }
                }
                Ok(Done::AdminEvents(Err(e))) => tracing::warn!(error = %e, "cannot read administrators' changes"),
                _ => return,
            }
        }
    }

    async fn connection(self: Arc<Self>, kind: Kind, conn: ConnId, stream: TcpStream, peer: SocketAddr) {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.metrics.connection_opened(kind.label());
        match self.client(&stream, peer).await {
            Some((client, leftover)) => {
                let admitted = match client {
                    Some(ip) => self.caps.lock().unwrap_or_else(|e| e.into_inner()).open(ip, self.now()),
                    None => Ok(()),
                };
                match admitted {
                    Ok(()) => {
                        Arc::clone(&self).serve(kind, conn, stream, client, leftover).await;
                        if let Some(ip) = client {
                            self.caps.lock().unwrap_or_else(|e| e.into_inner()).closed(ip);
                        }
                    }
                    Err(refusal) => {
                        tracing::warn!(client = ?client, "too many connections from this address: refusing");
                        self.metrics.refused(refusal.label());
                    }
                }
            }
            None => self.metrics.refused("proxy_header"),
        }
        self.metrics.connection_closed(kind.label());
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// The client's address, and bytes read past a PROXY header: `None` when a trusted proxy's header is
    /// bad or late (the connection is closed).
    async fn client(&self, stream: &TcpStream, peer: SocketAddr) -> Option<(Option<IpAddr>, Vec<u8>)> {
        if !self.limits.proxy_from.contains(peer.ip()) {
            return Some((Some(peer.ip()), Vec::new()));
        }
        let mut bytes = Vec::new();
        let read = tokio::time::timeout(self.limits.proxy_header_timeout, async {
            loop {
                match proxy::parse(&bytes) {
                    proxy::Header::Incomplete => {}
                    proxy::Header::Absent => return Some((None, bytes)),
                    proxy::Header::Client { len, address } => return Some((address, bytes.split_off(len))),
                    proxy::Header::Invalid => return None,
                }
                stream.readable().await.ok()?;
                let mut buf = [0u8; proxy::MAX_HEADER];
                match stream.try_read(&mut buf) {
                    Ok(0) => return None,
                    Ok(n) => bytes.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return None,
                }
            }
        });
        let client = read.await.ok().flatten();
        if client.is_none() {
            tracing::warn!(%peer, "closing: no valid PROXY header from a trusted proxy in time");
        }
        client
    }

    /// Serves one connection until either side ends it: decodes what it sends, hands the frames to the
    /// logic a turn at a time, waits (reading nothing) while the logic waits for the store, and writes what
    /// the logic queued for it. One task does all of it: an idle connection holds one task, no buffers.
    async fn serve(
        self: Arc<Self>,
        kind: Kind,
        conn: ConnId,
        stream: TcpStream,
        client: Option<IpAddr>,
        leftover: Vec<u8>,
    ) {
        let shared = self.register(kind, conn, client);
        let mut decoder =
            Decoder::new(msnp::Limits { max_line: self.limits.max_line, max_payload: MAX_CLIENT_PAYLOAD });
        decoder.extend(&leftover);
        let mut frames = VecDeque::new();
        let mut bad_framing = decode(&mut decoder, &mut frames).err();
        let ended = loop {
            let waiting = self.deliver(kind, conn, &mut frames);
            match self.write_out(&stream, &shared).await {
                Ok(true) => {}
                Ok(false) => break Ended::Closed,
                Err(ended) => break ended,
            }
            if !waiting && !frames.is_empty() {
                // More than a turn's worth: let every other connection have its turn first.
                tokio::task::yield_now().await;
                continue;
            }
            if waiting {
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = shared.outbox_ready.notified() => {}
                }
                continue;
            }
            if let Some(e) = bad_framing {
                tracing::info!(error = %e, "closing: bad framing");
                break Ended::ByClient;
            }
            if frames.capacity() > 0 {
                // Everything is delivered: an idle connection keeps no queue.
                frames = VecDeque::new();
            }
            tokio::select! {
                ready = stream.readable() => if ready.is_err() { break Ended::ByClient },
                _ = shared.outbox_ready.notified() => continue,
            }
            let Some(n) = scratch::read_into(&mut decoder, |buf| stream.try_read(buf)) else { break Ended::ByClient };
            bad_framing = decode(&mut decoder, &mut frames).err();
            if n == scratch::SIZE {
                // A client sending as fast as it can: let every other connection have its turn first.
                tokio::task::yield_now().await;
            }
        };
        self.with_hub(|hub| {
            hub.logic.disconnect(conn);
            hub.outboxes.remove(&conn);
        });
        if ended == Ended::ByClient {
            // What was queued before the client left (answers to its last commands) still goes out.
            shared.close();
            let _ = self.write_out(&stream, &shared).await;
        }
        tracing::debug!(?ended, "disconnected");
    }

    /// Writes everything the outbox holds: whether the connection stays open (false once it was closed and
    /// everything was sent, the socket shut), or why it ended. A socket that takes nothing for the send
    /// timeout ends it; so does the hub giving up on it, even while a write waits.
    async fn write_out(&self, stream: &TcpStream, shared: &Shared) -> Result<bool, Ended> {
        loop {
            let (bytes, open) = match shared.take() {
                Outgoing::Dropped => return Err(Ended::Dropped),
                Outgoing::Send(bytes) if bytes.is_empty() => return Ok(true),
                Outgoing::Send(bytes) => (bytes, true),
                Outgoing::Close(bytes) => (bytes, false),
            };
            let mut written = 0;
            while written < bytes.len() {
                match stream.try_write(&bytes[written..]) {
                    Ok(0) => return Err(Ended::ByClient),
                    Ok(n) => written += n,
                    // Boxed: only a connection whose socket is full holds the wait's timer and wake-ups.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        Box::pin(self.await_writable(stream, shared)).await?
                    }
                    Err(_) => return Err(Ended::ByClient),
                }
            }
            shared.pending.fetch_sub(bytes.len(), Ordering::Relaxed);
            if !open {
                let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
                return Ok(false);
            }
        }
    }

    /// Waits until the socket takes more: `Err` when it takes nothing for the send timeout, or the hub
    /// gives up on the connection meanwhile.
    async fn await_writable(&self, stream: &TcpStream, shared: &Shared) -> Result<(), Ended> {
        let deadline = tokio::time::Instant::now() + self.limits.send_timeout;
        loop {
            tokio::select! {
                ready = tokio::time::timeout_at(deadline, stream.writable()) => return match ready {
                    Err(_) => Err(self.stalled()),
                    Ok(Err(_)) => Err(Ended::ByClient),
                    Ok(Ok(())) => Ok(()),
                },
                _ = shared.outbox_ready.notified() => if shared.outbox().dropped {
                    return Err(Ended::Dropped);
                },
            }
        }
    }

    fn stalled(&self) -> Ended {
        tracing::info!(timeout = ?self.limits.send_timeout, "closing: the client has taken nothing for the send timeout");
        self.metrics.refused("send_timeout");
        Ended::Stalled
    }

    /// Tells the hub and the logic of a new connection: what its task shares with the hub.
    fn register(&self, kind: Kind, conn: ConnId, client: Option<IpAddr>) -> Arc<Shared> {
        let shared = Arc::new(Shared::default());
        let now = self.now();
        self.with_hub(|hub| {
            hub.outboxes.insert(conn, Arc::clone(&shared));
            match kind {
                Kind::Notification => hub.logic.connect(conn, client, now),
                Kind::Switchboard => hub.logic.sb_connect(conn, now),
            }
        });
        tracing::debug!(client = ?client, "connected");
        shared
    }

    /// Hands up to a turn's worth of decoded frames to the logic, under one hold of the lock; returns
    /// whether the logic now waits for the store on this connection's behalf.
    fn deliver(&self, kind: Kind, conn: ConnId, frames: &mut VecDeque<Frame>) -> bool {
        if frames.is_empty() {
            return false;
        }
        let now = self.now();
        self.with_hub(|hub| {
            for _ in 0..FRAMES_PER_TURN {
                if hub.logic.waiting(conn) {
                    return true;
                }
                let Some(frame) = frames.pop_front() else { return false };
                match kind {
                    Kind::Notification => hub.logic.receive(conn, &frame, now),
                    Kind::Switchboard => hub.logic.sb_receive(conn, &frame, now),
                }
            }
            hub.logic.waiting(conn)
        })
    }

    /// Sends `OUT SSD` to everyone and closes every connection (graceful shutdown).
    pub fn shutdown(&self) {
        self.with_hub(|hub| hub.logic.shutdown());
    }
}

/// TCP keepalive: after `idle` without traffic the kernel probes the peer every 10 s, and gives up on it
/// after 3 unanswered probes, so a client that vanished without a word is noticed.
fn set_keepalive(stream: &TcpStream, idle: Duration) {
    let probes = socket2::TcpKeepalive::new().with_time(idle).with_interval(Duration::from_secs(10)).with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&probes) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

/// Moves every whole frame from the decoder to `frames`; the error, if the stream broke (the frames
/// before it are kept, and answered before the connection closes).
fn decode(decoder: &mut Decoder, frames: &mut VecDeque<Frame>) -> Result<(), FrameError> {
    while let Some(frame) = decoder.next_frame()? {
        frames.push_back(frame);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_sends_then_closes_or_drops_everything() {
        let shared = Shared::default();
        assert_eq!(shared.take(), Outgoing::Send(Vec::new()));
        assert!(shared.push(b"VER 1 MSNP2\r\n"));
        assert_eq!(shared.take(), Outgoing::Send(b"VER 1 MSNP2\r\n".to_vec()));
        assert!(shared.push(b"OUT\r\n"));
        shared.close();
        assert!(!shared.push(b"ILN\r\n"), "a closing outbox takes nothing more");
        assert_eq!(shared.take(), Outgoing::Close(b"OUT\r\n".to_vec()));
        shared.drop_now();
        assert_eq!(shared.take(), Outgoing::Dropped);
    }

    #[tokio::test]
    async fn accepted_sockets_get_keepalive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        set_keepalive(&accepted, Duration::from_secs(42));
        let socket = socket2::SockRef::from(&accepted);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(42));
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), 3);
    }
}
