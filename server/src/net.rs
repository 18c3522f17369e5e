//! The tokio side: accepts connections and moves bytes between sockets, the server logic and the store.
//!
//! Each connection has a reader task and a writer task. The reader decodes on its own task, outside any
//! lock, so a client's bytes (however many, however split) cost that client's task; only whole frames
//! reach the shared [`Logic`], a few at a time, and none while the logic waits for the store on that
//! connection's behalf. The writer is fed by a queue bounded in bytes; a writer whose socket takes nothing
//! for `send_timeout` is stopped (while the connection is open, and while it is closing), and the
//! connection counts until then. Store jobs run on the store's own threads ([`Worker`]); their
//! results come back through one task, in the order the store finished them.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msnp::frame::MAX_CLIENT_PAYLOAD;
use msnp::{Decoder, Frame, FrameError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument;

use crate::cluster::BusCall;
use crate::jobs::{Done, Job, Worker};
use crate::metrics::Metrics;
use crate::notification::{ConnId, JobId, Logic, Output};
use crate::proxy::{self, Trusted};
use crate::throttle::{ConnectionCaps, ConnectionLimits};

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

thread_local! {
    /// Where connections on this thread read their bytes before the decoder takes them.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SCRATCH_SIZE]);
}
const SCRATCH_SIZE: usize = 16 * 1024;

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

/// A connection as the hub holds it: what it shares with its tasks, and its writer (aborted when it has
/// made no progress for the send timeout, closing or not).
struct Queue {
    shared: Arc<Shared>,
    writer: tokio::task::AbortHandle,
}

/// What a connection's reader and writer share with the hub.
#[derive(Debug, Default)]
struct Shared {
    /// The bytes the writer is to send next. A byte queue rather than a channel of frames: an idle
    /// connection's queue then holds no memory at all (a tokio channel keeps a block of 32 slots, 2 KB).
    outbox: Mutex<Outbox>,
    /// Wakes the writer when the outbox has bytes or closes.
    outbox_ready: Notify,
    /// Bytes queued and not yet written.
    pending: AtomicUsize,
    /// When the write in progress began (milliseconds since the server started, plus one), or 0.
    writing_since: AtomicU64,
    /// Wakes the reader when the logic has finished waiting for the store.
    wake: Notify,
}

/// Bytes for a connection's writer; once `closing`, it takes no more.
#[derive(Debug, Default)]
struct Outbox {
    bytes: Vec<u8>,
    closing: bool,
}

impl Shared {
    /// Queues `bytes` for the writer; false when the connection is closing (nothing is queued).
    fn push(&self, bytes: &[u8]) -> bool {
        let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if outbox.closing {
            return false;
        }
        outbox.bytes.extend_from_slice(bytes);
        drop(outbox);
        self.outbox_ready.notify_one();
        true
    }

    /// The writer is to send what is queued, then shut the socket.
    fn close(&self) {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
        self.outbox_ready.notify_one();
    }

    /// Everything queued (empty if nothing is), and whether the connection is closing.
    fn take(&self) -> (Vec<u8>, bool) {
        let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut outbox.bytes), outbox.closing)
    }

    /// Whether the writer has been stuck in one write for longer than `timeout`.
    fn stalled(&self, now: Duration, timeout: Duration) -> bool {
        let since = self.writing_since.load(Ordering::Relaxed);
        since != 0 && now.as_millis() as u64 + 1 > since + timeout.as_millis() as u64
    }
}

/// The server logic plus the write queue of every connection, behind one lock. Nothing under it blocks:
/// frames go to queues, jobs to the store's threads.
struct Hub {
    logic: Logic,
    writers: HashMap<ConnId, Queue>,
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
                // The writer sends what is queued, then closes; the queue stays until the connection's task
                // ends, so a writer stuck on a socket that takes nothing is still swept.
                Output::Close(conn) => {
                    if let Some(queue) = self.writers.get(&conn) {
                        queue.shared.close();
                    }
                }
                Output::Job(id, job) => {
                    let results = self.results.clone();
                    self.store.submit(job, move |done| {
                        let _ = results.send((id, done));
                    });
                }
                Output::Resume(conn) => {
                    if let Some(queue) = self.writers.get(&conn) {
                        queue.shared.wake.notify_one();
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
        let Some(queue) = self.writers.get(&conn) else { return };
        if !queue.shared.push(frame.as_bytes()) {
            return;
        }
        let len = frame.as_bytes().len();
        let pending = queue.shared.pending.fetch_add(len, Ordering::Relaxed) + len;
        if pending > self.send_queue_bytes {
            tracing::warn!(conn, pending, "send queue full: dropping a client that does not read");
            self.metrics.refused("send_queue_full");
            self.drop_connection(conn);
        }
    }

    /// Gives up on a connection: its writer stops, its reader sees that and ends, the logic forgets it.
    fn drop_connection(&mut self, conn: ConnId) {
        if let Some(queue) = self.writers.remove(&conn) {
            queue.writer.abort();
        }
        self.logic.disconnect(conn);
    }

    /// Drops the clients whose socket has taken nothing for `timeout`.
    fn drop_stalled(&mut self, now: Duration, timeout: Duration) {
        let stalled: Vec<ConnId> =
            self.writers.iter().filter(|(_, q)| q.shared.stalled(now, timeout)).map(|(c, _)| *c).collect();
        for conn in stalled {
            tracing::info!(conn, ?timeout, "closing: the client has taken nothing for the send timeout");
            self.metrics.refused("send_timeout");
            self.drop_connection(conn);
        }
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
            writers: HashMap::new(),
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

    /// Closes connections that do not sign in in time or whose writes make no progress, expires cookies;
    /// runs until the task is dropped.
    pub async fn deadlines(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = self.now();
            self.with_hub(|hub| {
                hub.logic.handle_timeout(now);
                hub.drop_stalled(now, self.limits.send_timeout);
            });
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
    /// logic a turn at a time, and waits (reading nothing) while the logic waits for the store.
    async fn serve(
        self: Arc<Self>,
        kind: Kind,
        conn: ConnId,
        stream: TcpStream,
        client: Option<IpAddr>,
        leftover: Vec<u8>,
    ) {
        let (reader, writer) = stream.into_split();
        let (shared, mut done) = self.register(kind, conn, client, writer);
        let mut decoder =
            Decoder::new(msnp::Limits { max_line: self.limits.max_line, max_payload: MAX_CLIENT_PAYLOAD });
        decoder.extend(&leftover);
        let mut frames = VecDeque::new();
        let mut bad_framing = decode(&mut decoder, &mut frames).err();
        // Whether the writer has finished (the socket is shut).
        let mut written = false;
        loop {
            let waiting = self.deliver(kind, conn, &mut frames);
            if !waiting && !frames.is_empty() {
                // More than a turn's worth: let every other connection have its turn first.
                tokio::task::yield_now().await;
                continue;
            }
            if waiting {
                tokio::select! {
                    _ = shared.wake.notified() => continue,
                    _ = &mut done => {
                        written = true;
                        break;
                    }
                }
            }
            if let Some(e) = bad_framing {
                tracing::info!(error = %e, "closing: bad framing");
                break;
            }
            if frames.capacity() > 0 {
                // Everything is delivered: an idle connection keeps no queue.
                frames = VecDeque::new();
            }
            tokio::select! {
                ready = reader.readable() => if ready.is_err() { break },
                // The writer finished: the server closed this connection.
                _ = &mut done => {
                    written = true;
                    break;
                }
            }
            let Ok(n) = read_into(&reader, &mut decoder) else { break };
            bad_framing = decode(&mut decoder, &mut frames).err();
            if n == SCRATCH_SIZE {
                // A client sending as fast as it can: let every other connection have its turn first.
                tokio::task::yield_now().await;
            }
        }
        let writer = self.with_hub(|hub| {
            hub.logic.disconnect(conn);
            hub.writers.remove(&conn).map(|queue| {
                queue.shared.close();
                queue.writer
            })
        });
        // The writer sends what is queued, then shuts the socket; one that cannot within the send timeout
        // is stopped, so the connection is counted until its socket is really gone.
        if !written
            && tokio::time::timeout(self.limits.send_timeout, done).await.is_err()
            && let Some(writer) = writer
        {
            writer.abort();
        }
        tracing::debug!("disconnected");
    }

    /// Starts the connection's writer and tells the logic of it: what the connection's tasks share, and a
    /// signal that the writer has finished (the connection is closed).
    fn register(
        &self,
        kind: Kind,
        conn: ConnId,
        client: Option<IpAddr>,
        writer: tokio::net::tcp::OwnedWriteHalf,
    ) -> (Arc<Shared>, oneshot::Receiver<()>) {
        let shared = Arc::new(Shared::default());
        let (done_tx, done) = oneshot::channel();
        let writing = write_frames(writer, Arc::clone(&shared), self.epoch, done_tx);
        let writer = tokio::spawn(writing.in_current_span()).abort_handle();
        let now = self.now();
        self.with_hub(|hub| {
            hub.writers.insert(conn, Queue { shared: Arc::clone(&shared), writer });
            match kind {
                Kind::Notification => hub.logic.connect(conn, client, now),
                Kind::Switchboard => hub.logic.sb_connect(conn, now),
            }
        });
        tracing::debug!(client = ?client, "connected");
        (shared, done)
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

/// Reads what the socket has into the decoder, through one buffer per thread rather than one per
/// connection (an idle session then holds no read buffer at all): how many bytes, 0 if none were ready,
/// `Err` when the connection has ended.
fn read_into(reader: &tokio::net::tcp::OwnedReadHalf, decoder: &mut Decoder) -> Result<usize, ()> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        match reader.try_read(&mut scratch[..]) {
            Ok(0) => Err(()),
            Ok(n) => {
                decoder.extend(&scratch[..n]);
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
            Err(_) => Err(()),
        }
    })
}

/// Moves every whole frame from the decoder to `frames`; the error, if the stream broke (the frames
/// before it are kept, and answered before the connection closes).
fn decode(decoder: &mut Decoder, frames: &mut VecDeque<Frame>) -> Result<(), FrameError> {
    while let Some(frame) = decoder.next_frame()? {
        frames.push_back(frame);
    }
    Ok(())
}

/// Writes what is queued until the outbox closes, then shuts the socket down: everything queued goes out
/// in one write. Each write's start is noted in `shared`, so the hub can give up on a client whose socket
/// takes nothing (it aborts this task); an idle connection's writer holds no timer and no buffer.
async fn write_frames(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
    epoch: Instant,
    done: oneshot::Sender<()>,
) {
    loop {
        let (batch, closing) = shared.take();
        if batch.is_empty() {
            if closing {
                break;
            }
            shared.outbox_ready.notified().await;
            continue;
        }
        let mut written = 0;
        while written < batch.len() {
            shared.writing_since.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            match writer.write(&batch[written..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => written += n,
            }
        }
        shared.writing_since.store(0, Ordering::Relaxed);
        shared.pending.fetch_sub(batch.len(), Ordering::Relaxed);
    }
    let _ = writer.shutdown().await;
    let _ = done.send(());
}

#[cfg(test)]
mod tests {
    use super::*;

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
