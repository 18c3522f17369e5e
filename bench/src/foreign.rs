//! A scripted MSNP2 notification server that behaves as `shared/protocol/INTEROP.md` says the best-known
//! revival server does, where it differs from this project's: a challenge fixed per account, an
//! unsolicited `MSG Hotmail Hotmail` profile before the `SYN` reply, the e-mail address as friendly name,
//! a push between `CVR` and its reply, lower-case commands accepted, no reply at all to unknown commands,
//! and a silent close on `OUT`. Tests run the page and the client machines against it.
//!
//! Every account exists; its password is `password`.

use std::net::SocketAddr;

use msnp::{Decoder, Frame, Limits, auth};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The password of every account.
pub const PASSWORD: &str = "password";

/// Serves on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

/// Binds `addr`, prints `ready ns=ADDR`, and serves.
pub async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("ready ns={}", listener.local_addr()?);
    serve(listener).await;
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
#[derive(Default)]
struct Conn {
    /// The handle of `USR … I`.
    asked: Option<String>,
    /// The handle signed in.
    signed_in: Option<String>,
}

async fn connection(mut stream: TcpStream) -> std::io::Result<()> {
    let mut decoder = Decoder::new(Limits::CLIENT);
    let mut buf = [0u8; 4096];
    let mut conn = Conn::default();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use msnp::State;
    use msnp::client::SignOutReason;

    use super::*;
    use crate::conn::{ConnError, Session, Target};

    async fn server() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener));
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

    #[test]
    fn the_challenge_is_fixed_per_account() {
        assert_eq!(salt("a@hotmail.com"), salt("A@hotmail.com"));
        assert_ne!(salt("a@hotmail.com"), salt("b@hotmail.com"));
        assert_eq!(salt("a@hotmail.com").len(), 15);
    }
}
