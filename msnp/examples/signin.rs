//! Signs in to an MSNP2 notification server over a blocking TCP connection and prints what happens:
//! `cargo run -p msnp --example signin -- HOST:PORT EMAIL PASSWORD [--seconds N]`.
//!
//! It goes online, prints presence (`ILN`/`NLN`/`FLN`) and other events, and runs until the server
//! closes the connection, or for N seconds and then signs out.

use std::io::{Error, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use msnp::client::{NsClient, NsConfig, NsEvent, NsPhase};
use msnp::name::decode;
use msnp::{Decoder, Limits, State};

const USAGE: &str = "usage: signin HOST:PORT EMAIL PASSWORD [--seconds N]";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = None;
    if let Some(i) = args.iter().position(|a| a == "--seconds") {
        match args.get(i + 1).and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => seconds = Some(Duration::from_secs(n)),
            None => return usage(),
        }
        args.drain(i..i + 2);
    }
    let [address, handle, password] = args.as_slice() else { return usage() };
    let config = NsConfig {
        handle: handle.clone(),
        password: password.clone(),
        initial_state: State::Online,
        client: None,
        first_trid: 1,
        cache: None,
    };
    match run(address, NsClient::new(config), seconds) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("{address}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

/// Runs the session until it ends; true if it got online.
fn run(address: &str, mut session: NsClient, seconds: Option<Duration>) -> Result<bool, Error> {
    let mut stream = TcpStream::connect(address)?;
    let mut decoder = Decoder::new(Limits::CLIENT);
    let mut buf = [0u8; 4096];
    let mut online = false;
    let start = Instant::now();
    session.connect(start.elapsed());
    loop {
        while let Some(frame) = session.poll_transmit() {
            stream.write_all(frame.as_bytes())?;
        }
        while let Some(event) = session.poll_event() {
            online |= matches!(event, NsEvent::SignedIn { .. });
            show(&event, &session);
        }
        if session.phase() == NsPhase::Closed {
            return Ok(online);
        }
        let now = start.elapsed();
        if seconds.is_some_and(|end| now >= end) {
            session.sign_out(); // queues OUT; the next turn sends it and ends
            continue;
        }
        // Wait for bytes, but no longer than the session's timer or the end of --seconds.
        let wake = [session.poll_timeout(), seconds].into_iter().flatten().min();
        stream.set_read_timeout(wake.map(|at| at.saturating_sub(now).max(Duration::from_millis(1))))?;
        match stream.read(&mut buf) {
            Ok(0) => session.handle_close(),
            Ok(n) => {
                decoder.extend(&buf[..n]);
                // A framing error means the stream cannot be trusted any more: give up on it.
                while let Some(frame) = decoder.next_frame().map_err(|e| Error::new(ErrorKind::InvalidData, e))? {
                    session.handle_frame(&frame, start.elapsed());
                }
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(err) => return Err(err),
        }
        session.handle_timeout(start.elapsed());
    }
}

/// Prints an event in words. Names arrive URL-encoded: `decode` them for display.
fn show(event: &NsEvent, session: &NsClient) {
    match event {
        NsEvent::Authenticated { handle, name } => println!("signed in as {handle} ({})", decode(name)),
        NsEvent::SignedIn { state } => println!("online: {}", state.label()),
        NsEvent::ListsChanged { version } => {
            println!("lists at version {version}: {} contacts", session.lists().forward.len())
        }
        NsEvent::PresenceChanged { handle, presence: Some(p) } => {
            println!("{handle} ({}) is {}", decode(&p.name), p.state.label())
        }
        NsEvent::PresenceChanged { handle, presence: None } => println!("{handle} is offline"),
        NsEvent::OwnStateChanged(state) => println!("own state: {}", state.label()),
        NsEvent::OwnNameChanged(name) => println!("own name: {}", decode(name)),
        NsEvent::AddedBy { handle, name, .. } => println!("{handle} ({}) added you", decode(name)),
        NsEvent::RemovedBy { handle } => println!("{handle} removed you"),
        NsEvent::Invited { caller, caller_name, .. } => {
            println!("{caller} ({}) invites you to a chat (not answered)", decode(caller_name))
        }
        NsEvent::ServerError { code, command, .. } => {
            println!("error {code} on {}: {}", command.unwrap_or("a command"), code.meaning())
        }
        NsEvent::SignedOut(reason) => println!("signed out: {reason:?}"),
        other => println!("{other:?}"),
    }
}
