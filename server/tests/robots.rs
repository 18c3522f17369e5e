//! The robot contacts against a real server over TCP, as a person alone would meet them.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use msnp::Frame;
use msnp::message::{Content, Message};
use msnp_server::robots::Manners;

/// The demo server with its robots signed in.
async fn demo() -> TestServer {
    let server = TestServer::start_with(msnp_server::accounts::DEMO_ACCOUNTS, |_| {}).await;
    let robots = msnp_server::accounts::robots(msnp_server::accounts::DEMO_ACCOUNTS).unwrap();
    let manners = Manners { replies_per_second: 2.0, mood_every: Duration::from_millis(300) };
    tokio::spawn(msnp_server::robots::run(server.ns().to_string(), robots, manners));
    server
}

/// Reads until a frame matches `want` (at most 200 frames).
async fn until(c: &mut Client, want: impl Fn(&Frame) -> bool) -> Frame {
    for _ in 0..200 {
        let frame = c.recv().await.expect("closed");
        if want(&frame) {
            return frame;
        }
    }
    panic!("not seen in 200 frames");
}

fn text(frame: &Frame) -> Option<String> {
    match Message::parse(frame.payload()?).content() {
        Content::Text(text) => Some(text),
        _ => None,
    }
}

/// Alice online, with a switchboard session and `robot` invited and joined.
async fn chat_with(server: &TestServer, alice: &mut Client, robot: &str) -> Client {
    alice.send("XFR 20 SB").await;
    let cookie =
        until(alice, |f| f.line().starts_with("XFR 20 SB ")).await.line().rsplit(' ').next().unwrap().to_owned();
    let mut sb = Client::connect(server.sb()).await;
    sb.ask(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice").await;
    // The robot may still be signing in: ask until it can be called.
    for attempt in 2..40 {
        sb.send(&format!("CAL {attempt} {robot}")).await;
        if sb.recv().await.unwrap().line().starts_with(&format!("CAL {attempt} RINGING")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until(&mut sb, |f| f.line().starts_with(&format!("JOI {robot}"))).await;
    sb
}

async fn say(sb: &mut Client, trid: u32, text: &str) {
    let mut message = Message::text(text);
    message.headers.push(("X-MMS-IM-Format".into(), "FN=Comic%20Sans%20MS; EF=B; CO=ff0000; CS=0; PF=22".into()));
    let payload = message.to_bytes();
    let mut bytes = format!("MSG {trid} N {}\r\n", payload.len()).into_bytes();
    bytes.extend(payload);
    sb.send_raw(&bytes).await;
}

#[tokio::test]
async fn the_echo_robot_types_then_answers_in_your_font_and_not_too_often() {
    let server = demo().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut sb = chat_with(&server, &mut alice, "echo@hotmail.com").await;
    say(&mut sb, 3, "hello robot").await;
    let typing = until(&mut sb, |f| f.line().starts_with("MSG echo@hotmail.com")).await;
    let typing = Message::parse(typing.payload().unwrap());
    assert_eq!(typing.content(), Content::Typing("echo@hotmail.com".into()));
    let intro = until(&mut sb, |f| text(f).is_some()).await;
    assert!(text(&intro).unwrap().starts_with("I'm Echo, a robot"));
    let answer = until(&mut sb, |f| text(f).is_some()).await;
    assert_eq!(text(&answer).as_deref(), Some("You said: hello robot"));
    let font = Message::parse(answer.payload().unwrap()).header("X-MMS-IM-Format").map(str::to_owned);
    assert_eq!(font.as_deref(), Some("FN=Comic%20Sans%20MS; EF=B; CO=ff0000; CS=0; PF=22"));

    // Twenty messages at once: the robot answers a few, not all.
    for trid in 10..30 {
        say(&mut sb, trid, &format!("spam {trid}")).await;
    }
    let mut answers = 0;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(2), sb.recv()).await {
        answers += usize::from(text(&frame).is_some_and(|t| t.starts_with("You said: spam")));
    }
    assert!((1..=6).contains(&answers), "{answers} answers to 20 messages");
}

#[tokio::test]
async fn the_mood_robot_changes_state_and_name() {
    let server = demo().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = until(&mut alice, |f| f.line().contains(" mood@hotmail.com ")).await;
        seen.push(frame.line().to_owned());
    }
    assert!(seen.iter().any(|l| l.contains("Mood%20(")), "{seen:?}");
    seen.dedup();
    assert!(seen.len() >= 2, "{seen:?}");
}

#[tokio::test]
async fn the_host_robot_brings_a_friend_who_talks_and_leaves() {
    let server = demo().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut sb = chat_with(&server, &mut alice, "host@hotmail.com").await;
    say(&mut sb, 3, "hi host").await;
    until(&mut sb, |f| text(f).is_some_and(|t| t.starts_with("I'm Host"))).await;
    until(&mut sb, |f| f.line().starts_with("JOI chatty@hotmail.com")).await;
    until(&mut sb, |f| f.line().starts_with("MSG chatty@hotmail.com") && text(f).is_some()).await;
    until(&mut sb, |f| f.line() == "BYE chatty@hotmail.com").await;
    until(&mut sb, |f| text(f).is_some_and(|t| t.starts_with("They left"))).await;
}

#[tokio::test]
async fn a_robot_pushed_out_signs_in_again_promptly_every_time() {
    let server = demo().await;
    // Someone signs in as Echo five times; each time the robot is back (and pushes them out) within the
    // client's 5 s wait: its pause after a good session does not double (1, 2, 4, 8, 16 s before).
    for round in 1..=5 {
        let mut intruder = Client::sign_in(server.ns(), "echo@hotmail.com", "echo-robot", "Echo%20%F0%9F%A4%96").await;
        let pushed_out = intruder.recv().await.map(|f| f.line().to_owned());
        assert_eq!(pushed_out.as_deref(), Some("OUT OTH"), "round {round}");
    }
}

/// Every frame `c` receives until it has been quiet for `quiet`.
async fn all_until_quiet(c: &mut Client, quiet: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout(quiet, c.recv()).await {
        lines.push(frame.line().to_owned());
    }
    lines
}

#[tokio::test]
async fn a_robot_called_again_and_again_joins_once_and_leaves_when_no_person_is_left() {
    let server = demo().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alice", "Alice", 5).await;
    // Echo is online and answers: a first chat shows it.
    drop(chat_with(&server, &mut alice, "echo@hotmail.com").await);
    // A new chat, and ten calls to Echo at once, before it can answer the first: each rings it again
    // (MSNP2.md 8.3), but it joins once.
    alice.send("XFR 30 SB").await;
    let xfr = until(&mut alice, |f| f.line().starts_with("XFR 30 SB ")).await;
    let cookie = xfr.line().rsplit(' ').next().unwrap().to_owned();
    let mut sb = Client::connect(server.sb()).await;
    sb.ask(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice").await;
    for trid in 2..12 {
        sb.send(&format!("CAL {trid} echo@hotmail.com")).await;
    }
    let lines = all_until_quiet(&mut sb, Duration::from_secs(2)).await;
    let joins = lines.iter().filter(|l| l.starts_with("JOI echo@hotmail.com")).count();
    assert_eq!(joins, 1, "{lines:?}");

    // Alice leaves: Echo, alone with no person, leaves too (its connection closes).
    let with_chat = server.open_connections();
    sb.send("OUT").await;
    for _ in 0..100 {
        if server.open_connections() <= with_chat - 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("Echo stayed alone in the chat: {} connections open, {with_chat} before", server.open_connections());
}
