//! The tokio side: accepts connections and moves bytes between sockets and the server logic.
//!
//! Each connection has a reader (bytes → msnp decoder → [`Logic::receive`]) and a writer
//! fed by a bounded queue. A client that stops reading fills its queue and is dropped, so it cannot make
//! the server's memory grow.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msnp::frame::MAX_CLIENT_PAYLOAD;
use msnp::{Decoder, Frame};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::notification::{ConnId, Logic, Output};
use crate::store::Store;

/// Which server a listener serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Notification,
    Switchboard,
}

thread_local! {
    /// Where connections on this thread read their bytes before the decoder takes them.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 16 * 1024]);
}

/// Connection limits, each a command-line flag.
#[derive(Clone, Copy, Debug)]
pub struct NetLimits {
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Longest inbound command line, CRLF included.
    pub max_line: usize,
    /// Bytes queued for one connection before it counts as not reading and is dropped.
    pub send_queue_bytes: usize,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits { max_connections: 10_000, max_line: msnp::frame::MAX_LINE, send_queue_bytes: 1 << 20 }
    }
}

/// A connection's outgoing queue: frames for its writer task, and how many bytes wait in it.
struct Queue {
    tx: mpsc::UnboundedSender<Frame>,
    pending: Arc<AtomicUsize>,
}

/// The server logic plus the write queue of every connection, behind one lock.
struct Hub<S> {
    logic: Logic<S>,
    writers: HashMap<ConnId, Queue>,
    send_queue_bytes: usize,
}

impl<S: Store> Hub<S> {
    /// Carries out everything the logic asked for.
    fn flush(&mut self) {
        while let Some(output) = self.logic.poll_output() {
            match output {
                Output::Send(conn, frame) => {
                    let Some(queue) = self.writers.get(&conn) else { continue };
                    let len = frame.as_bytes().len();
                    let pending = queue.pending.fetch_add(len, Ordering::Relaxed) + len;
                    if pending > self.send_queue_bytes || queue.tx.send(frame).is_err() {
                        tracing::warn!(conn, pending, "send queue full: dropping a client that does not read");
                        self.writers.remove(&conn);
                        self.logic.disconnect(conn);
                    }
                }
                // Dropping the sender lets the writer send what is queued, then close.
                Output::Close(conn) => {
                    self.writers.remove(&conn);
                }
            }
        }
    }
}

/// A running server's shared state.
pub struct Server<S> {
    hub: Mutex<Hub<S>>,
    epoch: Instant,
    limits: NetLimits,
    next_id: AtomicU64,
    open: AtomicUsize,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("open", &self.open).finish_non_exhaustive()
    }
}

impl<S: Store + 'static> Server<S> {
    pub fn new(ns: Logic<S>, limits: NetLimits) -> Arc<Server<S>> {
        Arc::new(Server {
            hub: Mutex::new(Hub { logic: ns, writers: HashMap::new(), send_queue_bytes: limits.send_queue_bytes }),
            epoch: Instant::now(),
            limits,
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn with_hub<R>(&self, f: impl FnOnce(&mut Hub<S>) -> R) -> R {
        let mut hub = self.hub.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let r = f(&mut hub);
        hub.flush();
        r
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Accepts connections until the task is dropped.
    pub async fn accept(self: Arc<Self>, listener: TcpListener, kind: Kind) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
                        tracing::warn!(%peer, "connection limit reached: refusing");
                        drop(stream);
                        continue;
                    }
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
            self.with_hub(|hub| hub.logic.handle_timeout(now));
        }
    }

    async fn connection(self: Arc<Self>, kind: Kind, conn: ConnId, stream: TcpStream, peer: SocketAddr) {
        self.open.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let (done_tx, mut done_rx) = oneshot::channel();
        tokio::spawn(write_frames(writer, rx, Arc::clone(&pending), done_tx).in_current_span());
        let now = self.now();
        self.with_hub(|hub| {
            hub.writers.insert(conn, Queue { tx, pending });
            match kind {
                Kind::Notification => hub.logic.connect(conn, now),
                Kind::Switchboard => hub.logic.sb_connect(conn, now),
            }
        });
        tracing::debug!("connected");

        let mut decoder =
            Decoder::new(msnp::Limits { max_line: self.limits.max_line, max_payload: MAX_CLIENT_PAYLOAD });
        loop {
            tokio::select! {
                ready = reader.readable() => if ready.is_err() { break },
                // The writer finished: the server closed this connection.
                _ = &mut done_rx => break,
            }
            // Read through one buffer per thread rather than one per connection: an idle session then
            // holds no read buffer at all (the decoder keeps only what is not yet a whole command).
            let read = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                match reader.try_read(&mut scratch[..]) {
                    Ok(0) => Err(()),
                    Ok(n) => {
                        decoder.extend(&scratch[..n]);
                        Ok(true)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
                    Err(_) => Err(()),
                }
            });
            match read {
                Err(()) => break,
                Ok(false) => continue,
                Ok(true) => {}
            }
            let now = self.now();
            let result = self.with_hub(|hub| {
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) if kind == Kind::Notification => hub.logic.receive(conn, &frame, now),
                        Ok(Some(frame)) => hub.logic.sb_receive(conn, &frame, now),
                        Ok(None) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
            });
            if let Err(e) = result {
                tracing::info!(error = %e, peer = %peer, "closing: bad framing");
                break;
            }
        }
        self.with_hub(|hub| {
            hub.writers.remove(&conn);
            hub.logic.disconnect(conn);
        });
        self.open.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!("disconnected");
    }

    /// Sends `OUT SSD` to everyone and closes every connection (graceful shutdown).
    pub fn shutdown(&self) {
        self.with_hub(|hub| hub.logic.shutdown());
    }
}

/// Writes queued frames until the queue closes, then shuts the socket down. Frames waiting together
/// go out in one write.
async fn write_frames(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Frame>,
    pending: Arc<AtomicUsize>,
    done: oneshot::Sender<()>,
) {
    let mut batch = Vec::new();
    while let Some(frame) = rx.recv().await {
        batch.extend_from_slice(frame.as_bytes());
        while batch.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(frame) => batch.extend_from_slice(frame.as_bytes()),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() {
            break;
        }
        pending.fetch_sub(batch.len(), Ordering::Relaxed);
        // Keep a small buffer for the next burst; give a big one (a long list dump) back.
        if batch.capacity() > 4096 {
            batch = Vec::new();
        } else {
            batch.clear();
        }
    }
    let _ = writer.shutdown().await;
    let _ = done.send(());
}
