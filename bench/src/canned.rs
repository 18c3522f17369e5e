//! A canned-reply notification server: the ceiling `cargo xtask bench` holds the real server's sign-ins
//! against. It answers the sign-in sequence (VER, INF, USR I/S, SYN, CHG, CVR, OUT) with prepared lines
//! (the request's TrID filled in), checks nothing and stores nothing, so a sign-in costs it only the
//! sockets, the runtime and the bytes: what this machine can do before any server logic.
//!
//! Every sign-in succeeds; `SYN` is answered with empty lists in the shape of a full dump (GTC, BLP and
//! four LSTs), as the real server answers the benchmark's accounts.

use std::net::SocketAddr;

use msnp::{Decoder, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Binds `addr`, prints `ready ns=ADDR`, and serves until killed.
pub async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("ready ns={}", listener.local_addr()?);
    serve(listener).await;
    Ok(())
}

/// Serves on `listener` until the task is dropped.
async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream));
    }
}

/// Answers each command the client sends (framed by msnp's decoder) until it sends `OUT` or closes.
async fn connection(mut stream: TcpStream) {
    let mut decoder = Decoder::new(Limits::SERVER);
    let mut output = Vec::new();
    let mut handle = String::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf).await else { return };
        if n == 0 {
            return;
        }
        decoder.extend(&buf[..n]);
        let mut open = true;
        while let Ok(Some(frame)) = decoder.next_frame() {
            open &= answer(frame.line(), &mut handle, &mut output);
        }
        if stream.write_all(&output).await.is_err() || !open {
            return;
        }
        output.clear();
    }
}

/// Appends the prepared reply to `line`; false once the client has signed out.
fn answer(line: &str, handle: &mut String, out: &mut Vec<u8>) -> bool {
    let words: Vec<&str> = line.split(' ').collect();
    let trid = words.get(1).copied().unwrap_or("0");
    let reply = match (words[0], words.get(3)) {
        ("VER", _) => format!("VER {trid} MSNP2\r\n"),
        ("INF", _) => format!("INF {trid} MD5\r\n"),
        ("USR", Some(&"I")) => {
            *handle = words.get(4).copied().unwrap_or_default().to_owned();
            format!("USR {trid} MD5 S 1013928519.693957190\r\n")
        }
        ("USR", _) => format!("USR {trid} OK {handle} {handle}\r\n"),
        ("SYN", _) => {
            let mut dump = format!("SYN {trid} 1\r\nGTC {trid} 1 A\r\nBLP {trid} 1 AL\r\n");
            for list in ["FL", "AL", "BL", "RL"] {
                dump.push_str(&format!("LST {trid} {list} 1 0 0\r\n"));
            }
            dump
        }
        ("CHG", _) => format!("CHG {trid} {}\r\n", words.get(2).copied().unwrap_or("NLN")),
        ("CVR", _) => format!("CVR {trid} 1.0.0863 1.0.0863 1.0.0863 http://localhost/ http://localhost/\r\n"),
        ("PNG", _) => "QNG\r\n".to_owned(),
        ("OUT", _) => return false,
        _ => String::new(),
    };
    out.extend_from_slice(reply.as_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Session, Target};

    #[tokio::test]
    async fn the_real_client_signs_in_and_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = Target::Tcp(listener.local_addr().unwrap().to_string());
        tokio::spawn(serve(listener));
        for _ in 0..3 {
            let session = Session::sign_in(&target, "jd@hotmail.com", "pw", msnp::State::Busy).await.unwrap();
            assert_eq!(session.ns.phase(), msnp::client::NsPhase::Online);
            session.sign_out().await.unwrap();
        }
    }
}
