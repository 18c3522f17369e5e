//! Every example line of MSNP2.md and INTEROP.md (tests/examples.txt) gets an explanation that names
//! each of its fields, for its connection and direction; lines that are not MSNP2 say so.
#![cfg(target_arch = "wasm32")]

use msnp::{Frame, name};
use msnp_web::explain::{Conn, Context, Direction, explain};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const EXAMPLES: &str = include_str!("examples.txt");

/// Words that stand for a keyword token in an explanation.
fn keyword(token: &str) -> &'static [&'static str] {
    match token {
        "I" => &["step 1"],
        "S" => &["step 2", "challenge"],
        "OK" => &["signed in", "in the switchboard", "you are in", "invitation OK"],
        "CKI" => &["cookie"],
        "SB" => &["switchboard"],
        "RINGING" => &["ringing"],
        _ => &[],
    }
}

/// A frame for an example line: an `MSG` line gets a made-up payload of the length it gives.
fn frame(line: &str) -> Frame {
    let Some(head) = line.strip_prefix("MSG ") else { return Frame::command(line) };
    let (head, len) = head.rsplit_once(' ').expect("MSG has a length");
    let len: usize = len.parse().expect("a length");
    let headers = if head.starts_with("Hotmail") {
        "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1\r\n\r\n"
    } else {
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
    };
    let payload = format!("{headers}{}", "x".repeat(len - headers.len()));
    Frame::with_payload(&format!("MSG {head}"), payload.as_bytes())
}

fn names(token: &str, explanation: &str) -> bool {
    explanation.contains(token)
        || explanation.contains(&name::decode(token))
        || keyword(token).iter().any(|w| explanation.contains(w))
}

#[wasm_bindgen_test]
fn every_example_line_is_explained_field_by_field() {
    let (mut checked, mut missing) = (0, Vec::new());
    for example in EXAMPLES.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut parts = example.splitn(3, ' ');
        let (conn, direction, line) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let conn = if conn == "sb" { Conn::Switchboard } else { Conn::Notification };
        let direction = if direction == "C" { Direction::Sent } else { Direction::Received };
        let frame = frame(line);
        let explanation = explain(conn, direction, &frame, Context::default());
        if ["ZZZ", "inf"].contains(&frame.name()) {
            assert!(explanation.starts_with("Not understood"), "{line}: {explanation}");
            continue;
        }
        assert!(!explanation.contains("Not understood"), "{line}: {explanation}");
        for token in frame.tokens().skip(1).filter(|t| !names(t, &explanation)) {
            missing.push(format!("{line}: {token:?} is not named in {explanation:?}"));
        }
        checked += 1;
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(checked > 90, "{checked} lines");
}

#[wasm_bindgen_test]
fn the_issues_examples_read_as_promised() {
    let ns = |direction, line: &str, ctx| explain(Conn::Notification, direction, &Frame::command(line), ctx);
    let none = Context::default();
    assert_eq!(
        ns(Direction::Sent, "USR 3 MD5 I carol@hotmail.com", none),
        "Sign-in, step 1 of 2 (request 3): carol@hotmail.com asks to sign in with MD5."
    );
    let challenge = ns(Direction::Received, "USR 3 MD5 S 3108896390.398085921", none);
    assert!(
        challenge.contains("challenge '3108896390.398085921'") && challenge.contains("without sending the password")
    );
    let ok = ns(Direction::Received, "USR 4 OK carol@hotmail.com Carol%20%E2%98%95", none);
    assert!(ok.contains("signed in as carol@hotmail.com") && ok.contains("'Carol ☕' (Carol%20%E2%98%95 URL-encoded"));
    assert_eq!(
        ns(Direction::Received, "LST 5 FL 3 1 2 alice@hotmail.com Alice", none),
        "Forward list FL (people you watch), list version 3, entry 1 of 2: alice@hotmail.com, shown as 'Alice' \
         (answer to 5)."
    );
    let rng = ns(Direction::Received, "RNG 11752013 10.0.0.7:1864 CKI 849102291.520491932 bob@hotmail.com Bob", none);
    for part in ["bob@hotmail.com", "session 11752013", "10.0.0.7:1864", "849102291.520491932", "once"] {
        assert!(rng.contains(part), "{rng}");
    }
    let answered = Context { request: Some("USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a"), challenge: None };
    assert_eq!(
        ns(Direction::Received, "911 4", answered),
        "Error 911 to your USR 4: Wrong e-mail address or password."
    );
    // On a switchboard, USR carries a cookie, not an MD5 answer.
    let sb = explain(Conn::Switchboard, Direction::Sent, &Frame::command("USR 1 alice@hotmail.com 1.2"), none);
    assert!(sb.contains("cookie 1.2") && !sb.contains("MD5"), "{sb}");
}

#[wasm_bindgen_test]
fn message_payloads_are_read_aloud() {
    let typing = msnp::message::Message::typing("bob@hotmail.com").to_bytes();
    let frame = Frame::with_payload("MSG bob@hotmail.com Bob", &typing);
    let text = explain(Conn::Switchboard, Direction::Received, &frame, Context::default());
    assert!(text.contains("typing notice: bob@hotmail.com is typing"), "{text}");
    let mut message = msnp::message::Message::text("Hi");
    message.headers.push(("X-MMS-IM-Format".into(), "FN=Comic%20Sans%20MS; EF=BI; CO=ff0000; CS=0; PF=22".into()));
    let frame = Frame::with_payload("MSG 3 N", &message.to_bytes());
    let text = explain(Conn::Switchboard, Direction::Sent, &frame, Context::default());
    for part in ["'Hi'", "font Comic Sans MS", "bold italic", "colour #0000ff (sent as ff0000", "X-MMS-IM-Format"] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}
