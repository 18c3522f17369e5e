//! A randomized campaign against the decoder and the client machines, on stable Rust (no cargo-fuzz):
//! servers that send any mix of real commands (with any parameters) and garbage, split anywhere, while
//! the person acts and time passes. After every step: nothing panicked, and every frame the machine
//! sends is one well-formed command that parses with `msnp`.
//!
//! `MSNP_FUZZ_SECONDS` sets how long it runs (default 3); `cargo xtask fuzz --seconds N` runs a long one.
#![cfg(not(target_arch = "wasm32"))]

mod strategies;

use std::time::{Duration, Instant};

use msnp::client::{NsClient, NsConfig, SbClient, SbConfig, SbJoin};
use msnp::message::Message;
use msnp::{AckMode, Decoder, Frame, Limits, List, ParseError, State, ns, sb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use strategies::*;

/// What the server sends, or the person does, next.
#[derive(Clone, Debug)]
enum Step<S> {
    Server(S),
    Garbage(Vec<u8>),
    Act(u8, String),
    Tick(u16),
    Close,
}

fn steps<S: std::fmt::Debug + Clone>(server: impl Strategy<Value = S>) -> impl Strategy<Value = Vec<Step<S>>> {
    let step = prop_oneof![
        8 => server.prop_map(Step::Server),
        1 => prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b' ')], 0..40).prop_map(Step::Garbage),
        3 => (any::<u8>(), "[ -~]{0,20}").prop_map(|(what, text)| Step::Act(what, text)),
        1 => any::<u16>().prop_map(Step::Tick),
        1 => Just(Step::Close),
    ];
    prop::collection::vec(step, 1..60)
}

/// Every frame a client machine sends must be one whole command that its server answers without hanging
/// up: a command it reads, or (typed in the raw console) one it answers with an error code.
fn check_sent(frame: &Frame, parse: impl Fn(&Frame) -> Result<(), ParseError>) -> Result<(), TestCaseError> {
    let mut decoder = Decoder::new(Limits::SERVER);
    decoder.extend(frame.as_bytes());
    let again = decoder.next_frame();
    prop_assert_eq!(again.as_ref().ok().and_then(Option::as_ref), Some(frame), "not one frame: {:?}", frame);
    prop_assert_eq!(decoder.buffered(), 0);
    if let Err(e) = parse(frame) {
        prop_assert!(e.reply().is_some(), "the server would hang up on {:?}: {}", frame.line(), e);
    }
    Ok(())
}

/// Feeds `bytes` to the machine in pieces of `split` bytes through a decoder.
fn feed(decoder: &mut Decoder, bytes: &[u8], split: usize, mut take: impl FnMut(&Frame)) -> bool {
    for piece in bytes.chunks(split.max(1)) {
        decoder.extend(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => take(&frame),
                Ok(None) => break,
                Err(_) => return false,
            }
        }
    }
    true
}

fn notification_client(steps: &[Step<ns::ServerCommand>], split: usize) -> Result<(), TestCaseError> {
    let config = NsConfig {
        handle: "jd@hotmail.com".into(),
        password: "hunter2".into(),
        initial_state: State::Online,
        client: None,
        first_trid: 1,
        cache: None,
    };
    let mut client = NsClient::new(config);
    let mut decoder = Decoder::new(Limits::CLIENT);
    let mut now = Duration::ZERO;
    client.connect(now);
    for step in steps {
        match step {
            Step::Server(cmd) => {
                let bytes = cmd.to_frame().into_bytes();
                if !feed(&mut decoder, &bytes, split, |f| client.handle_frame(f, now)) {
                    client.handle_close();
                }
            }
            Step::Garbage(bytes) => {
                if !feed(&mut decoder, bytes, split, |f| client.handle_frame(f, now)) {
                    client.handle_close();
                }
            }
            Step::Act(what, text) => {
                let _ = match what % 9 {
                    0 => client.set_state(State::ALL[usize::from(*what) % State::ALL.len()]),
                    1 => client.rename(text),
                    2 => client.add(List::ALL[usize::from(*what) % 4], text, Some(text)),
                    3 => client.remove(List::ALL[usize::from(*what) % 4], text),
                    4 => client.request_switchboard(),
                    5 => client.send_raw(text),
                    6 => client.add(List::Forward, "bob@hotmail.com", None),
                    7 => client.set_blp(msnp::Blp::ALL[usize::from(*what) % 2]),
                    _ => {
                        client.sign_out();
                        Ok(msnp::TrId(0))
                    }
                };
            }
            Step::Tick(ms) => {
                now += Duration::from_millis(u64::from(*ms) * 10);
                client.handle_timeout(now);
            }
            Step::Close => client.handle_close(),
        }
        while let Some(frame) = client.poll_transmit() {
            check_sent(&frame, |f| ns::ClientCommand::parse(f).map(drop))?;
        }
        while client.poll_event().is_some() {}
    }
    Ok(())
}

fn switchboard_client(steps: &[Step<sb::ServerCommand>], split: usize) -> Result<(), TestCaseError> {
    let join = SbJoin::Callee { cookie: "1.2".into(), session_id: "7".into() };
    let mut client = SbClient::new(SbConfig { handle: "jd@hotmail.com".into(), join, first_trid: 1 });
    let mut decoder = Decoder::new(Limits::CLIENT);
    client.connect();
    for step in steps {
        match step {
            Step::Server(cmd) => {
                if !feed(&mut decoder, &cmd.to_frame().into_bytes(), split, |f| client.handle_frame(f)) {
                    client.handle_close();
                }
            }
            Step::Garbage(bytes) => {
                if !feed(&mut decoder, bytes, split, |f| client.handle_frame(f)) {
                    client.handle_close();
                }
            }
            Step::Act(what, text) => {
                let _ = match what % 4 {
                    0 => client.invite(text),
                    1 => client.send(&Message::text(text), AckMode::ALL[usize::from(*what) % 3]),
                    2 => client.send_raw(text),
                    _ => {
                        client.leave();
                        Ok(msnp::TrId(0))
                    }
                };
            }
            Step::Tick(_) => {}
            Step::Close => client.handle_close(),
        }
        while let Some(frame) = client.poll_transmit() {
            check_sent(&frame, |f| sb::ClientCommand::parse(f).map(drop))?;
        }
        while client.poll_event().is_some() {}
    }
    Ok(())
}

/// Cases per proptest run: the deadline is checked between runs.
const CHUNK: u32 = 64;

/// Runs `test` on cases from `strategy` until `seconds` have passed; panics with the smallest failing
/// case proptest can find.
fn campaign<S: Strategy>(what: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let seconds = std::env::var("MSNP_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config { cases: CHUNK, failure_persistence: None, ..Config::default() });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{what}: {e}");
        }
        cases += u64::from(CHUNK);
    }
    eprintln!("{what}: {cases} random sessions in {seconds} s, no failure");
}

#[test]
fn the_notification_client_survives_any_server() {
    campaign("notification client", (steps(ns_server()), 1..64usize), |(steps, split)| {
        notification_client(&steps, split)
    });
}

#[test]
fn the_switchboard_client_survives_any_server() {
    campaign("switchboard client", (steps(sb_server()), 1..64usize), |(steps, split)| {
        switchboard_client(&steps, split)
    });
}

#[test]
fn the_decoder_survives_any_bytes_however_split() {
    let bytes = prop::collection::vec(
        prop_oneof![4 => any::<u8>(), 2 => Just(b'\n'), 1 => Just(b'\r'), 2 => Just(b' '), 1 => Just(b'M')],
        0..4096,
    );
    campaign("decoder", (bytes, 1..512usize), |(bytes, split)| {
        let mut whole = Decoder::new(Limits::SERVER);
        let mut frames = Vec::new();
        let ok = feed(&mut whole, &bytes, bytes.len(), |f| frames.push(f.clone()));
        let mut pieces = Decoder::new(Limits::SERVER);
        let mut again = Vec::new();
        let ok_again = feed(&mut pieces, &bytes, split, |f| again.push(f.clone()));
        prop_assert_eq!(frames, again);
        prop_assert_eq!(ok, ok_again);
        Ok(())
    });
}
