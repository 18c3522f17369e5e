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
use tokio::net::tcp::OwnedWriteHalf;

use crate::announce::{Announcer, Entry};
use crate::config::Upstream;
use crate::dial;
use crate::state::{Close, State};

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
/// against its announcement), and for a notification server, who it is (for what it announces). A
/// switchboard ticket is used up only once its switchboard has been reached.
async fn open(
    ws: &mut WebSocket,
    target: &Target,
    state: &State,
    client: SocketAddr,
) -> Result<(TcpStream, Option<Frame>, Option<Announcer>), Option<Close>> {
    let limits = state.limits;
    match target {
        Target::Notification { upstream } => {
            let tcp = dial::upstream(upstream, &state.unreachable, limits.connect_timeout, client).await?;
            let ip = tcp.peer_addr().map_err(|_| Close::UNREACHABLE)?.ip();
            Ok((tcp, None, Some(Announcer { ip, proxy_protocol: upstream.proxy_protocol })))
        }
        Target::Switchboard { address } => {
            if !state.announcements.known(address, Instant::now()).await {
                return Err(Some(Close::NOT_ANNOUNCED));
            }
            let first = match tokio::time::timeout(limits.handshake_timeout, ws.recv()).await {
                Err(_) => return Err(Some(Close::SLOW_FIRST_COMMAND)),
                Ok(None) => return Err(None),
                Ok(Some(Err(e))) => return Err(ws_error(e)),
                Ok(Some(Ok(message))) => message,
            };
            let Some(bytes) = data(&first) else { return Err(Some(Close::BAD_COOKIE)) };
            let Some(frame) = one_command(bytes, limits.max_message) else {
                return Err(Some(Close::NOT_ONE_COMMAND));
            };
            let (cookie, entry) = match msnp::sb::ClientCommand::parse(&frame) {
                Ok(msnp::sb::ClientCommand::Usr { cookie, .. }) => (cookie, Entry::Caller),
                Ok(msnp::sb::ClientCommand::Ans { cookie, .. }) => (cookie, Entry::Callee),
                _ => return Err(Some(Close::BAD_COOKIE)),
            };
            let announcements = &state.announcements;
            let Some(from) = announcements.check(address, &cookie, entry, Instant::now()).await else {
                return Err(Some(Close::BAD_COOKIE));
            };
            let addresses = dial::sb_addresses(address, from.ip, &state.sb_allow, limits.connect_timeout).await?;
            let proxy_for = from.proxy_protocol.then_some(client);
            let tcp = dial::connect(&addresses, limits.connect_timeout, proxy_for).await?;
            // Another session may have used the cookie meanwhile: each works once.
            if !announcements.redeem(address, &cookie, entry, Instant::now()).await {
                return Err(Some(Close::BAD_COOKIE));
            }
            Ok((tcp, Some(frame), None))
        }
        Target::Referral { address } => {
            // Referrals are for the browser they were sent to: its address stands in for a cookie.
            let key = client.ip().to_string();
            let announcements = &state.announcements;
            let Some(from) = announcements.check(address, &key, Entry::Referral, Instant::now()).await else {
                return Err(Some(Close::NOT_REFERRED));
            };
            let addresses = dial::sb_addresses(address, from.ip, &state.sb_allow, limits.connect_timeout).await?;
            let proxy_for = from.proxy_protocol.then_some(client);
            let tcp = dial::connect(&addresses, limits.connect_timeout, proxy_for).await?;
            if !announcements.redeem(address, &key, Entry::Referral, Instant::now()).await {
                return Err(Some(Close::NOT_REFERRED));
            }
            let ip = tcp.peer_addr().map_err(|_| Close::UNREACHABLE)?.ip();
            Ok((tcp, None, Some(Announcer { ip, proxy_protocol: from.proxy_protocol })))
        }
    }
}

/// Relays until either side ends; returns the close to send the browser (`None`: it is gone already).
async fn relay(ws: &mut WebSocket, target: Target, state: &State, client: SocketAddr) -> Option<Close> {
    let limits = state.limits;
    let (tcp, first, announcer) = match open(ws, &target, state, client).await {
        Ok(opened) => opened,
        Err(close) => return close,
    };
    let (upstream_rx, mut upstream_tx) = tcp.into_split();
    if let Some(frame) = first
        && let Err(close) = up(&mut upstream_tx, frame.as_bytes(), &state.metrics.byte_counters().0).await
    {
        return Some(close);
    }

    let mut decoder = Decoder::new(msnp::Limits { max_line: limits.max_message, max_payload: limits.max_message });
    let (up_bytes, down_bytes) = state.metrics.byte_counters();
    let mut ping = tokio::time::interval(limits.ping_interval);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let started = Instant::now();
    let mut pings = msnp_server::throttle::TokenBucket::new(limits.client_pings_per_second, Duration::ZERO);
    let mut shutdown = state.shutdown_signal();
    if *shutdown.borrow_and_update() {
        return Some(Close::SHUTDOWN);
    }
    loop {
        tokio::select! {
            message = ws.recv() => {
                let message = match message {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Err(e)) => return ws_error(e),
                    Some(Ok(message)) => message,
                };
                // A browser's own pings are answered (by the WebSocket layer) but are not activity, and
                // only so many are answered.
                if matches!(message, Message::Ping(_)) {
                    if !pings.take(started.elapsed()) {
                        return Some(Close::TOO_MANY_PINGS);
                    }
                    continue;
                }
                last_heard = Instant::now();
                let Some(bytes) = data(&message) else { continue };
                if one_command(bytes, limits.max_message).is_none() {
                    return Some(Close::NOT_ONE_COMMAND);
                }
                if let Err(close) = up(&mut upstream_tx, bytes, &up_bytes).await {
                    return Some(close);
                }
            }
            ready = upstream_rx.readable() => {
                if ready.is_err() {
                    return Some(Close::UPSTREAM_CLOSED);
                }
                // One read buffer per thread, not per session: an idle session holds none.
                let read = SCRATCH.with(|scratch| {
                    let mut scratch = scratch.borrow_mut();
                    match upstream_rx.try_read(&mut scratch[..]) {
                        Ok(0) => Err(()),
                        Ok(n) => {
                            decoder.extend(&scratch[..n]);
                            Ok(())
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
                        Err(_) => Err(()),
                    }
                });
                if read.is_err() {
                    return Some(Close::UPSTREAM_CLOSED);
                }
                loop {
                    let frame = match decoder.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(_) => return Some(Close::BAD_UPSTREAM_DATA),
                    };
                    if let Some(announcer) = announcer {
                        note_announcement(&frame, state, announcer, client).await;
                    }
                    down_bytes.inc_by(frame.as_bytes().len() as u64);
                    match tokio::time::timeout(limits.handshake_timeout, ws.send(message(frame))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return None,
                        Err(_) => return Some(Close::SLOW_READER),
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= limits.idle_timeout {
                    return Some(Close::IDLE);
                }
                match tokio::time::timeout(limits.handshake_timeout, ws.send(Message::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return None,
                    Err(_) => return Some(Close::SLOW_READER),
                }
            }
            _ = shutdown.changed() => return Some(Close::SHUTDOWN),
        }
    }
}

thread_local! {
    /// Where sessions on this thread read the server's bytes before the decoder takes them.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 16 * 1024]);
}

/// Writes a browser command upstream.
async fn up(upstream: &mut OwnedWriteHalf, bytes: &[u8], counter: &Counter) -> Result<(), Close> {
    counter.inc_by(bytes.len() as u64);
    upstream.write_all(bytes).await.map_err(|_| Close::UPSTREAM_CLOSED)
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
