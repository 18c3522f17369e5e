//! One WebSocket session = one TCP connection upstream, one MSNP command per WebSocket message.
//!
//! Bytes are relayed unchanged. The msnp decoder cuts the server's stream into commands (so a message
//! never holds half a command or two), checks that each browser message is exactly one command, and lets
//! the bridge read the switchboard addresses and cookies the notification server announces.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use msnp::{Decoder, Frame};
use prometheus_client::metrics::counter::Counter;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::announce::{Announcer, Entry};
use crate::close::Close;
use crate::config::Upstream;
use crate::dial;
use crate::state::State;

/// Where a session goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A configured notification server.
    Notification { upstream: Upstream },
    /// A switchboard, only if announced (checked here).
    Switchboard { address: String },
    /// A notification server a configured one referred this browser to (`XFR … NS`), checked here.
    Referral { address: String },
}

impl Target {
    fn kind(&self) -> &'static str {
        match self {
            Target::Notification { .. } | Target::Referral { .. } => "ns",
            Target::Switchboard { .. } => "sb",
        }
    }
}

/// Runs one session for `client` to its end, then closes the WebSocket with the reason.
pub async fn session(mut ws: WebSocket, target: Result<Target, Close>, state: Arc<State>, client: SocketAddr) {
    let close = match target {
        Err(close) => Some(close),
        Ok(target) => {
            let _counted = state.session();
            let kind = target.kind();
            state.metrics.session_opened(kind);
            tracing::info!(kind, "session opened");
            let close = relay(&mut ws, target, &state, client).await;
            state.metrics.session_closed(kind);
            close
        }
    };
    let Some(close) = close else { return };
    if let Some(metric) = close.metric {
        state.metrics.refused(metric);
    }
    tracing::info!(code = close.code, reason = %close.reason, "session closed");
    let frame = CloseFrame { code: close.code, reason: close.reason.as_ref().into() };
    // The closing handshake: send our close, then wait (briefly) for the browser's, so that it reads the
    // reason before the connection goes away.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if ws.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(message)) = ws.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

/// What a WebSocket error means for the session: a message over the limit (1009), a broken protocol
/// (1002), or a browser that is simply gone (nothing to send).
fn ws_error(error: axum::Error) -> Option<Close> {
    match error.into_inner().downcast::<tungstenite::Error>().map(|e| *e) {
        Ok(tungstenite::Error::Capacity(_)) => Some(Close::TOO_BIG),
        Ok(tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_)) => Some(Close::PROTOCOL_ERROR),
        other => {
            tracing::debug!(error = ?other, "the browser's connection ended");
            None
        }
    }
}

/// The bytes of a WebSocket message, if it carries data.
fn data(message: &Message) -> Option<&[u8]> {
    match message {
        Message::Text(text) => Some(text.as_bytes()),
        Message::Binary(bytes) => Some(bytes),
        _ => None,
    }
}

/// `bytes` as exactly one MSNP command, or `None`.
fn one_command(bytes: &[u8], max: usize) -> Option<Frame> {
    let mut decoder = Decoder::new(msnp::Limits { max_line: max, max_payload: max });
    decoder.extend(bytes);
    let frame = decoder.next_frame().ok()??;
    (decoder.buffered() == 0).then_some(frame)
}

/// A frame as a WebSocket message: text, or binary when its bytes are not UTF-8.
fn message(frame: Frame) -> Message {
    match String::from_utf8(frame.into_bytes()) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Binary(e.into_bytes().into()),
    }
}

/// Connects upstream for `target`: the connection, the switchboard's first command (already checked
/// against its announcement), and for a notification server, who it is (for what it announces).
async fn open(
    ws: &mut WebSocket,
    target: &Target,
    state: &State,
    client: SocketAddr,
) -> Result<(TcpStream, Option<Frame>, Option<Announcer>), Option<Close>> {
    match target {
        Target::Notification { upstream } => {
            let tcp = dial::upstream(upstream, &state.unreachable, state.limits.connect_timeout, client).await?;
            let ip = tcp.peer_addr().map_err(|_| Close::UNREACHABLE)?.ip();
            Ok((tcp, None, Some(Announcer { ip, proxy_protocol: upstream.proxy_protocol })))
        }
        Target::Switchboard { address } => {
            if !state.announcements.known(address, Instant::now()).await {
                return Err(Some(Close::NOT_ANNOUNCED));
            }
            let (frame, cookie, entry) = first_command(ws, state).await?;
            let (tcp, _) = dial_announced(address, &cookie, entry, state, client).await?;
            Ok((tcp, Some(frame), None))
        }
        Target::Referral { address } => {
            // Referrals are for the browser they were sent to: its address stands in for a cookie.
            let key = client.ip().to_string();
            let (tcp, from) = dial_announced(address, &key, Entry::Referral, state, client).await?;
            let ip = tcp.peer_addr().map_err(|_| Close::UNREACHABLE)?.ip();
            Ok((tcp, None, Some(Announcer { ip, proxy_protocol: from.proxy_protocol })))
        }
    }
}

/// A switchboard session's first command, which must present a cookie (`USR` for a caller, `ANS` for a
/// callee): the command, the cookie, and which it is.
async fn first_command(ws: &mut WebSocket, state: &State) -> Result<(Frame, String, Entry), Option<Close>> {
    let first = match tokio::time::timeout(state.limits.handshake_timeout, ws.recv()).await {
        Err(_) => return Err(Some(Close::SLOW_FIRST_COMMAND)),
        Ok(None) => return Err(None),
        Ok(Some(Err(e))) => return Err(ws_error(e)),
        Ok(Some(Ok(message))) => message,
    };
    let Some(bytes) = data(&first) else { return Err(Some(Close::BAD_COOKIE)) };
    let Some(frame) = one_command(bytes, state.limits.max_message) else {
        return Err(Some(Close::NOT_ONE_COMMAND));
    };
    match msnp::sb::ClientCommand::parse(&frame) {
        Ok(msnp::sb::ClientCommand::Usr { cookie, .. }) => Ok((frame, cookie, Entry::Caller)),
        Ok(msnp::sb::ClientCommand::Ans { cookie, .. }) => Ok((frame, cookie, Entry::Callee)),
        _ => Err(Some(Close::BAD_COOKIE)),
    }
}

/// Dials `address`, which a configured server announced through this bridge, for the ticket `key` of
/// `entry`: only on the hosts the announcing server may point at, and using the ticket up only once the
/// address has answered (a retry after "unreachable" works; a second use does not). Who announced it.
async fn dial_announced(
    address: &str,
    key: &str,
    entry: Entry,
    state: &State,
    client: SocketAddr,
) -> Result<(TcpStream, Announcer), Close> {
    let refused = if entry == Entry::Referral { Close::NOT_REFERRED } else { Close::BAD_COOKIE };
    let announcements = &state.announcements;
    let from = announcements.check(address, key, entry, Instant::now()).await.ok_or(refused.clone())?;
    let timeout = state.limits.connect_timeout;
    let addresses = dial::sb_addresses(address, from.ip, &state.sb_allow, timeout).await?;
    let tcp = dial::connect(&addresses, timeout, from.proxy_protocol.then_some(client)).await?;
    // Another session may have used the ticket meanwhile: each works once.
    if !announcements.redeem(address, key, entry, Instant::now()).await {
        return Err(refused);
    }
    Ok((tcp, from))
}

/// A relayed session past its opening: the upstream connection and what the two directions keep.
struct Pipe<'a> {
    state: &'a State,
    client: SocketAddr,
    /// Who the upstream server is, when it is a notification server (whose announcements are noted).
    announcer: Option<Announcer>,
    upstream_rx: OwnedReadHalf,
    upstream_tx: OwnedWriteHalf,
    /// Cuts the server's bytes into commands, one per WebSocket message.
    decoder: Decoder,
    /// The browser's own pings, answered only so fast.
    pings: msnp_server::throttle::TokenBucket,
    started: Instant,
    /// When the browser last sent something that counts as activity.
    last_heard: Instant,
    /// Bytes relayed, each way (the metrics' counters, looked up once).
    up_bytes: Counter,
    down_bytes: Counter,
}

/// Relays until either side ends; returns the close to send the browser (`None`: it is gone already).
async fn relay(ws: &mut WebSocket, target: Target, state: &State, client: SocketAddr) -> Option<Close> {
    let limits = state.limits;
    let (tcp, first, announcer) = match open(ws, &target, state, client).await {
        Ok(opened) => opened,
        Err(close) => return close,
    };
    let (upstream_rx, upstream_tx) = tcp.into_split();
    let now = Instant::now();
    let (up_bytes, down_bytes) = state.metrics.byte_counters();
    let mut pipe = Pipe {
        state,
        client,
        announcer,
        upstream_rx,
        upstream_tx,
        decoder: Decoder::new(msnp::Limits { max_line: limits.max_message, max_payload: limits.max_message }),
        pings: msnp_server::throttle::TokenBucket::new(limits.client_pings_per_second, Duration::ZERO),
        started: now,
        last_heard: now,
        up_bytes,
        down_bytes,
    };
    if let Some(frame) = first
        && let Err(close) = pipe.up(frame.as_bytes()).await
    {
        return Some(close);
    }
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut shutdown = state.shutdown_signal();
    if *shutdown.borrow_and_update() {
        return Some(Close::SHUTDOWN);
    }
    loop {
        let ended = tokio::select! {
            message = ws.recv() => pipe.browser_said(message).await,
            ready = pipe.upstream_rx.readable() => match ready {
                Ok(()) => pipe.server_said(ws).await,
                Err(_) => Err(Some(Close::UPSTREAM_CLOSED)),
            },
            _ = ping.tick() => pipe.keep_alive(ws).await,
            _ = shutdown.changed() => Err(Some(Close::SHUTDOWN)),
        };
        if let Err(close) = ended {
            return close;
        }
    }
}

impl Pipe<'_> {
    /// A message from the browser: one command, sent upstream as it is.
    async fn browser_said(&mut self, message: Option<Result<Message, axum::Error>>) -> Result<(), Option<Close>> {
        let message = match message {
            None | Some(Ok(Message::Close(_))) => return Err(None),
            Some(Err(e)) => return Err(ws_error(e)),
            Some(Ok(message)) => message,
        };
        // A browser's own pings are answered (by the WebSocket layer) but are not activity, and only so
        // many are answered.
        if matches!(message, Message::Ping(_)) {
            return if self.pings.take(self.started.elapsed()) { Ok(()) } else { Err(Some(Close::TOO_MANY_PINGS)) };
        }
        self.last_heard = Instant::now();
        let Some(bytes) = data(&message) else { return Ok(()) };
        if one_command(bytes, self.state.limits.max_message).is_none() {
            return Err(Some(Close::NOT_ONE_COMMAND));
        }
        self.up(bytes).await.map_err(Some)
    }

    /// What the server has sent: each whole command to the browser as a message of its own (a
    /// notification server's announcements noted on the way).
    async fn server_said(&mut self, ws: &mut WebSocket) -> Result<(), Option<Close>> {
        if msnp_server::scratch::read_into(&mut self.decoder, |buf| self.upstream_rx.try_read(buf)).is_none() {
            return Err(Some(Close::UPSTREAM_CLOSED));
        }
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(_) => return Err(Some(Close::BAD_UPSTREAM_DATA)),
            };
            if let Some(announcer) = self.announcer {
                note_announcement(&frame, self.state, announcer, self.client).await;
            }
            self.down_bytes.inc_by(frame.as_bytes().len() as u64);
            self.to_browser(ws, message(frame)).await?;
        }
    }

    /// The bridge's ping, unless the browser has been idle too long.
    async fn keep_alive(&mut self, ws: &mut WebSocket) -> Result<(), Option<Close>> {
        if self.last_heard.elapsed() >= self.state.limits.idle_timeout {
            return Err(Some(Close::IDLE));
        }
        self.to_browser(ws, Message::Ping(Vec::new().into())).await
    }

    /// Sends `message` to a browser that must take it within the handshake timeout.
    async fn to_browser(&self, ws: &mut WebSocket, message: Message) -> Result<(), Option<Close>> {
        match tokio::time::timeout(self.state.limits.handshake_timeout, ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(None),
            Err(_) => Err(Some(Close::SLOW_READER)),
        }
    }

    /// Writes a browser command upstream.
    async fn up(&mut self, bytes: &[u8]) -> Result<(), Close> {
        self.up_bytes.inc_by(bytes.len() as u64);
        self.upstream_tx.write_all(bytes).await.map_err(|_| Close::UPSTREAM_CLOSED)
    }
}

/// Remembers switchboard addresses and cookies the notification server hands out (never logs cookies),
/// and the notification servers it refers `client` to.
async fn note_announcement(frame: &Frame, state: &State, from: Announcer, client: SocketAddr) {
    if !matches!(frame.name(), "XFR" | "RNG") {
        return;
    }
    let now = Instant::now();
    match msnp::ns::ServerCommand::parse(frame) {
        Ok(msnp::ns::ServerCommand::XfrSb { address, cookie, .. }) => {
            tracing::debug!(%address, "switchboard announced (XFR)");
            state.announcements.announce(&address, &cookie, Entry::Caller, from, now).await;
        }
        Ok(msnp::ns::ServerCommand::Rng { address, cookie, .. }) => {
            tracing::debug!(%address, "switchboard announced (RNG)");
            state.announcements.announce(&address, &cookie, Entry::Callee, from, now).await;
        }
        Ok(msnp::ns::ServerCommand::XfrNs { address, .. }) => {
            tracing::debug!(%address, "referred to another notification server (XFR NS)");
            state.announcements.announce(&address, &client.ip().to_string(), Entry::Referral, from, now).await;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_command_per_message() {
        assert!(one_command(b"VER 1 MSNP2\r\n", 2048).is_some());
        assert!(one_command(b"MSG 1 N 2\r\nhi", 2048).is_some());
        assert!(one_command(b"VER 1 MSNP2", 2048).is_none());
        assert!(one_command(b"PNG\r\nPNG\r\n", 2048).is_none());
        assert!(one_command(b"MSG 1 N 3\r\nhi", 2048).is_none());
        assert!(one_command(b"\r\n", 2048).is_none());
        assert!(one_command(b"", 2048).is_none());
    }

    #[test]
    fn frames_become_text_or_binary_messages() {
        assert_eq!(message(Frame::command("PNG")), Message::Text("PNG\r\n".into()));
        let binary = message(Frame::with_payload("MSG a@b.cc A", b"\xff"));
        assert!(matches!(binary, Message::Binary(b) if b.as_ref() == b"MSG a@b.cc A 1\r\n\xff"));
    }
}
