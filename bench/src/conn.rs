//! One client connection: plain TCP to a server, or a WebSocket through a bridge (ours: one command per
//! text message; websockify: binary messages cut anywhere, so the client reassembles commands itself).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use msnp::client::{NsClient, NsConfig, NsEvent, NsPhase};
use msnp::{Decoder, Frame, Limits, State};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Debug, Error)]
pub enum ConnError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("connection closed")]
    Closed,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad framing: {0}")]
    Frame(#[from] msnp::FrameError),
    #[error("sign-in failed: {0:?}")]
    SignIn(msnp::client::SignOutReason),
    #[error("timed out")]
    Timeout,
}

/// Where clients connect.
#[derive(Clone, Debug)]
pub enum Target {
    /// `host:port` of a notification server (several, separated by commas: client `i` uses the `i`-th,
    /// round robin, e.g. the nodes of a cluster).
    Tcp(String),
    /// `ws://host:port/path` of a bridge; `binary` sends binary messages (websockify).
    Ws { url: String, binary: bool },
}

enum Link {
    Tcp(TcpStream),
    Ws { stream: Box<WebSocketStream<MaybeTlsStream<TcpStream>>>, binary: bool },
}

/// A connection that sends and receives whole MSNP commands.
pub struct Conn {
    link: Link,
    decoder: Decoder,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl Conn {
    pub async fn open(target: &Target) -> Result<Conn, ConnError> {
        let link = match target {
            Target::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await.map_err(|e| ConnError::Connect(e.to_string()))?;
                stream.set_nodelay(true)?;
                Link::Tcp(stream)
            }
            Target::Ws { url, binary } => {
                let (stream, _) =
                    tokio_tungstenite::connect_async(url).await.map_err(|e| ConnError::Connect(e.to_string()))?;
                Link::Ws { stream: Box::new(stream), binary: *binary }
            }
        };
        Ok(Conn { link, decoder: Decoder::new(Limits::CLIENT), buf: vec![0; 8192] })
    }

    pub async fn send(&mut self, frame: &Frame) -> Result<(), ConnError> {
        match &mut self.link {
            Link::Tcp(stream) => stream.write_all(frame.as_bytes()).await?,
            Link::Ws { stream, binary } => {
                let message = if *binary {
                    Message::binary(frame.as_bytes().to_vec())
                } else {
                    Message::text(String::from_utf8_lossy(frame.as_bytes()).into_owned())
                };
                stream.send(message).await.map_err(|_| ConnError::Closed)?;
            }
        }
        Ok(())
    }

    pub async fn recv(&mut self) -> Result<Frame, ConnError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(frame);
            }
            match &mut self.link {
                Link::Tcp(stream) => {
                    let n = stream.read(&mut self.buf).await?;
                    if n == 0 {
                        return Err(ConnError::Closed);
                    }
                    self.decoder.extend(&self.buf[..n]);
                }
                Link::Ws { stream, .. } => match stream.next().await {
                    Some(Ok(Message::Text(t))) => self.decoder.extend(t.as_bytes()),
                    Some(Ok(Message::Binary(b))) => self.decoder.extend(&b),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(ConnError::Closed),
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    /// The next frame, or `Timeout`.
    pub async fn recv_within(&mut self, limit: Duration) -> Result<Frame, ConnError> {
        tokio::time::timeout(limit, self.recv()).await.map_err(|_| ConnError::Timeout)?
    }
}

impl Target {
    /// What client `i` connects to.
    pub fn nth(&self, i: usize) -> Target {
        match self {
            Target::Tcp(list) => {
                let all: Vec<&str> = list.split(',').collect();
                Target::Tcp(all[i % all.len()].to_owned())
            }
            ws => ws.clone(),
        }
    }
}

/// Referrals (`XFR … NS`) a sign-in follows, as a dispatch node gives them.
const MAX_REFERRALS: usize = 3;

/// A signed-in client: its connection and session machine.
#[derive(Debug)]
pub struct Session {
    pub conn: Conn,
    pub ns: NsClient,
    epoch: Instant,
}

impl Session {
    /// Connects and signs in (VER … CHG), as MSN Messenger 1.0 does.
    pub async fn sign_in(target: &Target, handle: &str, password: &str, state: State) -> Result<Session, ConnError> {
        let mut target = target.clone();
        for _ in 0..MAX_REFERRALS {
            match Session::sign_in_at(&target, handle, password, state).await {
                Err(ConnError::SignIn(msnp::client::SignOutReason::Redirected(to))) => target = Target::Tcp(to),
                other => return other,
            }
        }
        Err(ConnError::Connect("too many referrals".into()))
    }

    async fn sign_in_at(target: &Target, handle: &str, password: &str, state: State) -> Result<Session, ConnError> {
        let conn = Conn::open(target).await?;
        let config = NsConfig {
            handle: handle.into(),
            password: password.into(),
            initial_state: state,
            client: None,
            first_trid: 1,
            cache: None,
        };
        let mut session = Session { conn, ns: NsClient::new(config), epoch: Instant::now() };
        session.ns.connect(Duration::ZERO);
        loop {
            session.flush().await?;
            if session.ns.phase() == NsPhase::Online {
                return Ok(session);
            }
            while let Some(event) = session.ns.poll_event() {
                if let NsEvent::SignedOut(reason) = event {
                    return Err(ConnError::SignIn(reason));
                }
            }
            let frame = session.conn.recv_within(Duration::from_secs(30)).await?;
            session.ns.handle_frame(&frame, session.epoch.elapsed());
        }
    }

    /// Sends what the machine queued.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        while let Some(frame) = self.ns.poll_transmit() {
            self.conn.send(&frame).await?;
        }
        Ok(())
    }

    /// Reads one frame into the machine.
    pub async fn pump(&mut self) -> Result<Frame, ConnError> {
        let frame = self.conn.recv().await?;
        self.ns.handle_frame(&frame, self.epoch.elapsed());
        Ok(frame)
    }

    /// Signs out (OUT) and drops the connection.
    pub async fn sign_out(mut self) -> Result<(), ConnError> {
        self.ns.sign_out();
        self.flush().await
    }
}
