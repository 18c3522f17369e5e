//! A scripted MSNP2 notification server that behaves as `shared/protocol/INTEROP.md` says the best-known
//! revival server does, where it differs from this project's: a challenge fixed per account, an
//! unsolicited `MSG Hotmail Hotmail` profile before the `SYN` reply, the e-mail address as friendly name,
//! a push between `CVR` and its reply, lower-case commands accepted, no reply at all to unknown commands,
//! and a silent close on `OUT`. Its switchboard drops, without a word, a `MSG` sent before anyone has
//! joined (after `CAL … RINGING`, before `JOI`). Tests run the page and the client machines against it.
//!
//! Every account exists; its password is `password`. Whoever is called on its switchboard joins
//! [`JOIN_AFTER`] later and answers each message with `got: <text>`.

use std::net::SocketAddr;
use std::time::Duration;

use msnp::message::{Content, Message};
use msnp::{Decoder, Frame, Limits, auth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The password of every account.
pub const PASSWORD: &str = "password";

/// How long someone called on the switchboard takes to join.
pub const JOIN_AFTER: Duration = Duration::from_millis(500);

/// Serves the notification server on `ns` and its switchboard on `sb` until the task is dropped.
pub async fn serve(ns: TcpListener, sb: TcpListener) {
    let Ok(sb_addr) = sb.local_addr() else { return };
    tokio::spawn(async move {
        while let Ok((stream, _)) = sb.accept().await {
            tokio::spawn(async move {
                let _ = switchboard(stream).await;
            });
        }
    });
    while let Ok((stream, _)) = ns.accept().await {
        tokio::spawn(async move {
            let _ = connection(stream, sb_addr).await;
        });
    }
}

/// Binds `addr` (and a switchboard port beside it), prints `ready ns=ADDR`, and serves.
pub async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let ns = TcpListener::bind(addr).await?;
    let sb = TcpListener::bind((addr.ip(), 0)).await?;
    println!("ready ns={}", ns.local_addr()?);
    serve(ns, sb).await;
    Ok(())
}

/// The account's fixed challenge: 15 hex digits derived from the handle.
fn salt(handle: &str) -> String {
    auth::md5_response(&handle.to_ascii_lowercase(), "salt")[..15].to_owned()
}

/// The profile message that server sends after sign-in (about 1,440 bytes in the original).
fn profile() -> Vec<u8> {
    let mut text = String::from("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n");
    for (name, value) in [("LoginTime", "1795702249"), ("EmailEnabled", "0"), ("MemberIdHigh", "0")] {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str(&format!("MSPAuth: {}\r\n\r\n", "x".repeat(1200)));
    text.into_bytes()
}

/// Where a connection is in signing in.
struct Conn {
    /// The switchboard `XFR SB` refers to.
    sb: SocketAddr,
    /// The handle of `USR … I`.
    asked: Option<String>,
    /// The handle signed in.
    signed_in: Option<String>,
}

async fn connection(mut stream: TcpStream, sb: SocketAddr) -> std::io::Result<()> {
    let mut decoder = Decoder::new(Limits::CLIENT);
    let mut buf = [0u8; 4096];
    let mut conn = Conn { sb, asked: None, signed_in: None };
    loop {
        while let Ok(Some(frame)) = decoder.next_frame() {
            let (replies, close) = conn.answer(&frame);
            for reply in replies {
                stream.write_all(reply.as_bytes()).await?;
            }
            if close {
                return Ok(());
            }
        }
        match stream.read(&mut buf).await? {
            0 => return Ok(()),
            n => decoder.extend(&buf[..n]),
        }
    }
}

impl Conn {
    /// What the server sends for `frame`, and whether it then closes.
    fn answer(&mut self, frame: &Frame) -> (Vec<Frame>, bool) {
        let tokens: Vec<&str> = frame.tokens().collect();
        let name = tokens[0].to_ascii_uppercase();
        let trid = tokens.get(1).copied().unwrap_or("0");
        let lines = |lines: Vec<String>| lines.into_iter().map(Frame::command).collect::<Vec<_>>();
        let signed_in = self.signed_in.is_some();
        match (name.as_str(), &tokens[1..]) {
            ("VER", [_, dialects @ ..]) if dialects.iter().any(|d| d.eq_ignore_ascii_case("MSNP2")) => {
                (lines(vec![format!("VER {trid} MSNP2")]), false)
            }
            ("VER", _) => (lines(vec![format!("VER {trid} 0")]), true),
            ("INF", _) => (lines(vec![format!("INF {trid} MD5")]), false),
            ("USR", [_, "MD5", "I", handle]) if !signed_in => {
                self.asked = Some((*handle).to_owned());
                (lines(vec![format!("USR {trid} MD5 S {}", salt(handle))]), false)
            }
            ("USR", [_, "MD5", "S", response]) if !signed_in => self.sign_in(trid, response),
            ("SYN", [_, _]) if signed_in => {
                let mut dump = vec![format!("SYN {trid} 1"), format!("GTC {trid} 1 A"), format!("BLP {trid} 1 AL")];
                dump.extend(["FL", "AL", "BL", "RL"].map(|list| format!("LST {trid} {list} 1 0 0")));
                (lines(dump), false)
            }
            ("CHG", [_, state]) if signed_in => (lines(vec![format!("CHG {trid} {state}")]), false),
            // Another push comes before the reply.
            ("CVR", [_, ..]) => (
                lines(vec![
                    "NLN NLN friend@hotmail.com friend@hotmail.com".into(),
                    format!("CVR {trid} 1.0 1.0 1.0 https://example.invalid/download https://example.invalid/info"),
                ]),
                false,
            ),
            ("PNG", _) => (lines(vec!["QNG".into()]), false),
            ("XFR", [_, "SB"]) if signed_in => (lines(vec![format!("XFR {trid} SB {} CKI 1.2.3", self.sb)]), false),
            ("OUT", _) => (Vec::new(), true),
            // Unknown commands, and post-login commands before signing in: no reply at all.
            _ => (Vec::new(), false),
        }
    }

    /// `USR … S`: `OK` with the e-mail address as friendly name, then the profile; or `911` and close.
    fn sign_in(&mut self, trid: &str, response: &str) -> (Vec<Frame>, bool) {
        let Some(handle) = self.asked.take() else { return (vec![Frame::command(format!("911 {trid}"))], true) };
        if !auth::verify_md5_response(&salt(&handle), PASSWORD, response) {
            return (vec![Frame::command(format!("911 {trid}"))], true);
        }
        let ok = Frame::command(format!("USR {trid} OK {handle} {handle}"));
        self.signed_in = Some(handle);
        (vec![ok, Frame::with_payload("MSG Hotmail Hotmail", &profile())], false)
    }
}

/// One switchboard session: `USR` is let in, `CAL` rings and the callee joins [`JOIN_AFTER`] later,
/// `MSG` before that is dropped without a word, after it answered by the callee.
async fn switchboard(mut stream: TcpStream) -> std::io::Result<()> {
    let mut decoder = Decoder::new(Limits::SERVER);
    let mut buf = [0u8; 4096];
    // Who was called and when they join, and who has joined.
    let (mut ringing, mut joined) = (None::<(String, tokio::time::Instant)>, None::<String>);
    loop {
        while let Ok(Some(frame)) = decoder.next_frame() {
            let tokens: Vec<String> = frame.tokens().map(str::to_owned).collect();
            let reply = match tokens.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["USR", trid, handle, _cookie] => Some(Frame::command(format!("USR {trid} OK {handle} {handle}"))),
                ["CAL", trid, callee] => {
                    ringing = Some((callee.to_owned(), tokio::time::Instant::now() + JOIN_AFTER));
                    Some(Frame::command(format!("CAL {trid} RINGING 1")))
                }
                ["MSG", ..] => match (&joined, frame.payload().map(Message::parse).map(|m| m.content())) {
                    (Some(friend), Some(Content::Text(text))) => {
                        let got = Message::text(&format!("got: {text}")).to_bytes();
                        Some(Frame::with_payload(&format!("MSG {friend} {friend}"), &got))
                    }
                    _ => None,
                },
                ["OUT"] => return Ok(()),
                _ => None,
            };
            if let Some(reply) = reply {
                stream.write_all(reply.as_bytes()).await?;
            }
        }
        let read = match &ringing {
            Some((_, at)) => tokio::time::timeout_at(*at, stream.read(&mut buf)).await.ok(),
            None => Some(stream.read(&mut buf).await),
        };
        match read {
            None => {
                let friend = ringing.take().map(|(friend, _)| friend).unwrap_or_default();
                stream.write_all(Frame::command(format!("JOI {friend} {friend}")).as_bytes()).await?;
                joined = Some(friend);
            }
            Some(Ok(0)) => return Ok(()),
            Some(Ok(n)) => decoder.extend(&buf[..n]),
            Some(Err(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use msnp::State;
    use msnp::client::SignOutReason;

    use super::*;
    use crate::conn::{ConnError, Session, Target};

    async fn server() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sb = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, sb));
        Target::Tcp(addr.to_string())
    }

    #[tokio::test]
    async fn the_client_machine_signs_in_to_a_server_that_behaves_otherwise() {
        let target = server().await;
        // Its profile message, the e-mail address as name, and a push before the CVR reply are all fine.
        let mut session = Session::sign_in(&target, "a@hotmail.com", PASSWORD, State::Online).await.unwrap();
        assert_eq!(session.ns.name(), "a@hotmail.com");
        assert_eq!(session.ns.lists().version, 1);
        // A command it does not know gets no reply at all; a ping still does.
        session.ns.send_raw("ZZZ hello").unwrap();
        session.flush().await.unwrap();
        session.ns.send_raw("PNG").unwrap();
        session.flush().await.unwrap();
        assert_eq!(session.conn.recv_within(Duration::from_secs(2)).await.unwrap().line(), "QNG");
        // It closes without a word on OUT.
        session.ns.sign_out();
        session.flush().await.unwrap();
        assert!(matches!(session.conn.recv_within(Duration::from_secs(2)).await, Err(ConnError::Closed)));
    }

    #[tokio::test]
    async fn a_wrong_password_is_911_then_a_close() {
        let target = server().await;
        let failed = Session::sign_in(&target, "a@hotmail.com", "wrong", State::Online).await;
        assert!(matches!(failed, Err(ConnError::SignIn(SignOutReason::AuthenticationFailed))), "{failed:?}");
    }

    /// The next frame from `tcp`, within 5 s.
    async fn next(tcp: &mut TcpStream, decoder: &mut Decoder) -> Frame {
        loop {
            if let Some(frame) = decoder.next_frame().unwrap() {
                return frame;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.unwrap().unwrap();
            decoder.extend(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn its_switchboard_drops_a_message_sent_before_anyone_joined() {
        let (ns, sb) =
            (TcpListener::bind("127.0.0.1:0").await.unwrap(), TcpListener::bind("127.0.0.1:0").await.unwrap());
        let sb_addr = sb.local_addr().unwrap();
        tokio::spawn(serve(ns, sb));
        let mut tcp = TcpStream::connect(sb_addr).await.unwrap();
        let early = Message::text("early").to_bytes();
        let mut wire = b"USR 1 a@hotmail.com 1.2.3\r\nCAL 2 b@hotmail.com\r\n".to_vec();
        wire.extend(format!("MSG 3 N {}\r\n", early.len()).as_bytes());
        wire.extend(&early);
        tcp.write_all(&wire).await.unwrap();
        let mut decoder = Decoder::new(Limits::CLIENT);
        assert_eq!(next(&mut tcp, &mut decoder).await.line(), "USR 1 OK a@hotmail.com a@hotmail.com");
        assert_eq!(next(&mut tcp, &mut decoder).await.line(), "CAL 2 RINGING 1");
        // Nothing answers the early message: the next line is the callee joining.
        assert_eq!(next(&mut tcp, &mut decoder).await.line(), "JOI b@hotmail.com b@hotmail.com");
        let late = Message::text("late").to_bytes();
        let mut wire = format!("MSG 4 N {}\r\n", late.len()).into_bytes();
        wire.extend(&late);
        tcp.write_all(&wire).await.unwrap();
        let reply = next(&mut tcp, &mut decoder).await;
        assert_eq!(reply.line().split(' ').take(3).collect::<Vec<_>>(), ["MSG", "b@hotmail.com", "b@hotmail.com"]);
        assert_eq!(Message::parse(reply.payload().unwrap()).content(), Content::Text("got: late".into()));
    }

    #[test]
    fn the_challenge_is_fixed_per_account() {
        assert_eq!(salt("a@hotmail.com"), salt("A@hotmail.com"));
        assert_ne!(salt("a@hotmail.com"), salt("b@hotmail.com"));
        assert_eq!(salt("a@hotmail.com").len(), 15);
    }
}
