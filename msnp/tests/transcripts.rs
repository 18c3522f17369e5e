//! The end-to-end transcripts of MSNP2.md §13 replayed through the client machines: every line the
//! client sends must match the transcript byte for byte, and its state must follow what the server says.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::time::Duration;

use msnp::client::{
    Lists, NsClient, NsConfig, NsEvent, NsPhase, Participant, Presence, SbClient, SbConfig, SbEvent, SbJoin,
    SignOutReason,
};
use msnp::message::{Content, Message};
use msnp::ns::{ClientVersion, Entry};
use msnp::{AckMode, Decoder, Frame, Limits, State, TrId};

const NOW: Duration = Duration::ZERO;

/// Cuts server bytes into frames with the real decoder, as a connection would.
fn frames(wire: &[u8]) -> Vec<Frame> {
    let mut decoder = Decoder::new(Limits::CLIENT);
    decoder.extend(wire);
    let mut out = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("valid server bytes") {
        out.push(frame);
    }
    assert_eq!(decoder.buffered(), 0);
    out
}

fn server_line(line: &str) -> Frame {
    let mut f = frames(format!("{line}\r\n").as_bytes());
    assert_eq!(f.len(), 1);
    f.remove(0)
}

/// Replays a notification-server script: `C:` lines must be what the client sends next, `S:` lines
/// are fed to it.
fn replay_ns(client: &mut NsClient, script: &str) {
    for step in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (dir, line) = step.split_at(3);
        match dir {
            "C: " => {
                let sent = client.poll_transmit().unwrap_or_else(|| panic!("client sent nothing, expected {line:?}"));
                assert_eq!(sent.as_bytes(), format!("{line}\r\n").as_bytes());
            }
            "S: " => client.handle_frame(&server_line(line), NOW),
            _ => panic!("bad script line {step:?}"),
        }
    }
    assert_eq!(client.poll_transmit(), None, "client sent more than the transcript shows");
}

fn events(client: &mut NsClient) -> Vec<NsEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn entry(handle: &str, name: &str) -> Entry {
    Entry { handle: handle.into(), name: name.into() }
}

/// Alice's or Bob's account of §13.2: the other on FL, AL and RL, at list version 4.
fn mutual(other: &str, name: &str) -> Lists {
    Lists {
        version: 4,
        forward: vec![entry(other, name)],
        allow: vec![entry(other, name)],
        reverse: vec![entry(other, name)],
        ..Lists::default()
    }
}

fn config(handle: &str, password: &str, first_trid: u32, cache: Option<Lists>) -> NsConfig {
    NsConfig {
        handle: handle.into(),
        password: password.into(),
        initial_state: State::Online,
        client: None,
        first_trid,
        cache,
    }
}

#[test]
fn sign_in_and_sign_out_as_msn_messenger_1_0() {
    // §13.1, with the seed's TrIDs and CVR.
    let mut jd = NsClient::new(NsConfig {
        client: Some(ClientVersion::msn_messenger_1_0()),
        ..config("jd@hotmail.com", "hunter2", 139, None)
    });
    jd.connect(NOW);
    replay_ns(
        &mut jd,
        "C: VER 139 MSNP2 CVR0
         S: VER 139 MSNP2
         C: INF 140
         S: INF 140 MD5
         C: USR 141 MD5 I jd@hotmail.com
         S: USR 141 MD5 S 1013928519.693957190
         C: USR 142 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a
         S: USR 142 OK jd@hotmail.com JD
         C: SYN 143 0
         S: SYN 143 0
         C: CHG 144 NLN
         S: CHG 144 NLN
         C: CVR 145 0x0409 win 4.0 i386 MSMSGS 1.0.0863
         S: CVR 145 1.0.0863 1.0.0863 1.0.0863 http://messenger.example/setup.exe http://messenger.example/",
    );
    jd.sign_out();
    replay_ns(&mut jd, "C: OUT");
    assert_eq!(
        events(&mut jd),
        [
            NsEvent::Authenticated { handle: "jd@hotmail.com".into(), name: "JD".into() },
            NsEvent::ListsChanged { version: 0 },
            NsEvent::OwnStateChanged(State::Online),
            NsEvent::SignedIn { state: State::Online },
            NsEvent::SignedOut(SignOutReason::Requested),
        ]
    );
    assert_eq!(jd.phase(), NsPhase::Closed);
    // Nothing more goes out after OUT, whatever arrives.
    jd.handle_frame(&server_line("CHG 0 NLN"), NOW);
    assert_eq!(jd.poll_transmit(), None);
}

/// Signs `client` in through §13.2's exchange (both accounts at version 4, nothing to download).
fn sign_in_13_2(client: &mut NsClient, challenge: &str, response: &str, name: &str) {
    let handle = client.handle().to_owned();
    client.connect(NOW);
    replay_ns(
        client,
        &format!(
            "C: VER 1 MSNP2 CVR0
             S: VER 1 MSNP2
             C: INF 2
             S: INF 2 MD5
             C: USR 3 MD5 I {handle}
             S: USR 3 MD5 S {challenge}
             C: USR 4 MD5 S {response}
             S: USR 4 OK {handle} {name}
             C: SYN 5 4
             S: SYN 5 4
             C: CHG 6 NLN
             S: CHG 6 NLN"
        ),
    );
}

fn presence(state: State, name: &str) -> Option<Presence> {
    Some(Presence { state, name: name.into() })
}

#[test]
fn two_users_seeing_each_others_presence() {
    // §13.2.
    let mut alice = NsClient::new(config("alice@hotmail.com", "alicepw", 1, Some(mutual("bob@hotmail.com", "Bob"))));
    let mut bob = NsClient::new(config("bob@hotmail.com", "bobpw", 1, Some(mutual("alice@hotmail.com", "Alice"))));
    sign_in_13_2(&mut alice, "1013928519.693957190", "424977e28cde25117c5afda7500dce09", "Alice");
    // Bob is offline: no ILN.
    assert_eq!(alice.presence("bob@hotmail.com"), None);

    sign_in_13_2(&mut bob, "1013928521.412758334", "c1b0bdeccbed0d9fdbe46a32976f2fd8", "Bob");
    // A cached list at the server's version is kept, not downloaded again.
    assert_eq!(bob.lists(), &mutual("alice@hotmail.com", "Alice"));
    replay_ns(&mut bob, "S: ILN 6 NLN alice@hotmail.com Alice");
    assert_eq!(bob.presence("alice@hotmail.com").cloned(), presence(State::Online, "Alice"));
    replay_ns(&mut alice, "S: NLN NLN bob@hotmail.com Bob");
    assert_eq!(alice.presence("bob@hotmail.com").cloned(), presence(State::Online, "Bob"));

    bob.set_state(State::Away).unwrap();
    replay_ns(&mut bob, "C: CHG 7 AWY\nS: CHG 7 AWY");
    assert_eq!(bob.state(), Some(State::Away));
    replay_ns(&mut alice, "S: NLN AWY bob@hotmail.com Bob");
    assert_eq!(alice.presence("bob@hotmail.com").cloned(), presence(State::Away, "Bob"));

    bob.rename("Bobby B").unwrap();
    replay_ns(&mut bob, "C: REA 8 bob@hotmail.com Bobby%20B\nS: REA 8 5 bob@hotmail.com Bobby%20B");
    assert_eq!(bob.name(), "Bobby%20B");
    assert_eq!(bob.lists().version, 5);
    replay_ns(&mut alice, "S: NLN AWY bob@hotmail.com Bobby%20B");
    assert_eq!(alice.contacts()[0].presence, presence(State::Away, "Bobby%20B"));

    bob.set_state(State::Hidden).unwrap();
    replay_ns(&mut bob, "C: CHG 9 HDN\nS: CHG 9 HDN");
    replay_ns(&mut alice, "S: FLN bob@hotmail.com");
    assert_eq!(alice.presence("bob@hotmail.com"), None);

    bob.set_state(State::Online).unwrap();
    replay_ns(&mut bob, "C: CHG 10 NLN\nS: CHG 10 NLN");
    replay_ns(&mut alice, "S: NLN NLN bob@hotmail.com Bobby%20B");

    bob.sign_out();
    replay_ns(&mut bob, "C: OUT");
    bob.handle_close();
    replay_ns(&mut alice, "S: FLN bob@hotmail.com");
    assert_eq!(alice.presence("bob@hotmail.com"), None);

    let alice_saw: Vec<NsEvent> =
        events(&mut alice).into_iter().filter(|e| matches!(e, NsEvent::PresenceChanged { .. })).collect();
    let bob_presence = |p| NsEvent::PresenceChanged { handle: "bob@hotmail.com".into(), presence: p };
    assert_eq!(
        alice_saw,
        [
            bob_presence(presence(State::Online, "Bob")),
            bob_presence(presence(State::Away, "Bob")),
            bob_presence(presence(State::Away, "Bobby%20B")),
            bob_presence(None),
            bob_presence(presence(State::Online, "Bobby%20B")),
            bob_presence(None),
        ]
    );
    // Closing after OUT is a sign-out, not a lost connection.
    assert_eq!(events(&mut bob).last(), Some(&NsEvent::SignedOut(SignOutReason::Requested)));
}

/// Replays a switchboard script.
fn replay_sb(client: &mut SbClient, script: &[(&str, &[u8])]) {
    for (dir, bytes) in script {
        match *dir {
            "C" => {
                let sent = client.poll_transmit().expect("client sent nothing");
                assert_eq!(String::from_utf8_lossy(sent.as_bytes()), String::from_utf8_lossy(bytes));
            }
            "S" => {
                for frame in frames(bytes) {
                    client.handle_frame(&frame);
                }
            }
            _ => panic!("bad direction"),
        }
    }
    assert_eq!(client.poll_transmit(), None);
}

fn sb_events(client: &mut SbClient) -> Vec<SbEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

const HELLO: &[u8] = b"MSG 3 N 71\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello Bob";
const LUNCH: &[u8] = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Alice, lunch?";
const SURE: &[u8] = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nSure!";

fn with_head(head: &str, payload: &[u8]) -> Vec<u8> {
    [head.as_bytes(), b"\r\n", payload].concat()
}

#[test]
fn a_chat_through_a_switchboard() {
    // §13.3, continuing §13.2 with both signed in and online.
    let mut alice = NsClient::new(config("alice@hotmail.com", "alicepw", 1, Some(mutual("bob@hotmail.com", "Bob"))));
    let mut bob = NsClient::new(config("bob@hotmail.com", "bobpw", 1, Some(mutual("alice@hotmail.com", "Alice"))));
    sign_in_13_2(&mut alice, "1013928519.693957190", "424977e28cde25117c5afda7500dce09", "Alice");
    sign_in_13_2(&mut bob, "1013928521.412758334", "c1b0bdeccbed0d9fdbe46a32976f2fd8", "Bob");
    events(&mut alice);
    events(&mut bob);

    assert_eq!(alice.request_switchboard(), Ok(TrId(7)));
    replay_ns(&mut alice, "C: XFR 7 SB\nS: XFR 7 SB 10.0.0.7:1863 CKI 1056411141.26158.2718");
    let Some(NsEvent::SwitchboardReady { trid: TrId(7), address, cookie }) = alice.poll_event() else {
        panic!("no switchboard")
    };
    assert_eq!(address, "10.0.0.7:1863");

    let mut alice_sb =
        SbClient::new(SbConfig { handle: "alice@hotmail.com".into(), join: SbJoin::Caller { cookie }, first_trid: 1 });
    alice_sb.connect();
    replay_sb(
        &mut alice_sb,
        &[("C", b"USR 1 alice@hotmail.com 1056411141.26158.2718\r\n"), ("S", b"USR 1 OK alice@hotmail.com Alice\r\n")],
    );
    alice_sb.invite("bob@hotmail.com").unwrap();
    replay_sb(&mut alice_sb, &[("C", b"CAL 2 bob@hotmail.com\r\n"), ("S", b"CAL 2 RINGING 17342299\r\n")]);
    assert_eq!(alice_sb.session_id(), Some("17342299"));

    replay_ns(&mut bob, "S: RNG 17342299 10.0.0.7:1863 CKI 1056411142.99120.3141 alice@hotmail.com Alice");
    let Some(NsEvent::Invited { session_id, cookie, caller, .. }) = bob.poll_event() else { panic!("no RNG") };
    assert_eq!(caller, "alice@hotmail.com");
    let mut bob_sb = SbClient::new(SbConfig {
        handle: "bob@hotmail.com".into(),
        join: SbJoin::Callee { cookie, session_id },
        first_trid: 1,
    });
    bob_sb.connect();
    replay_sb(
        &mut bob_sb,
        &[
            ("C", b"ANS 1 bob@hotmail.com 1056411142.99120.3141 17342299\r\n"),
            ("S", b"IRO 1 1 1 alice@hotmail.com Alice\r\nANS 1 OK\r\n"),
        ],
    );
    replay_sb(&mut alice_sb, &[("S", b"JOI bob@hotmail.com Bob\r\n")]);

    alice_sb.send(&Message::text("Hello Bob"), AckMode::NegativeOnly).unwrap();
    replay_sb(&mut alice_sb, &[("C", HELLO)]);
    replay_sb(&mut bob_sb, &[("S", &with_head("MSG alice@hotmail.com Alice 71", &HELLO[12..]))]);

    bob_sb.send(&Message::text("Hi Alice, lunch?"), AckMode::Acknowledged).unwrap();
    replay_sb(&mut bob_sb, &[("C", &with_head("MSG 2 A 78", LUNCH))]);
    replay_sb(&mut alice_sb, &[("S", &with_head("MSG bob@hotmail.com Bob 78", LUNCH))]);
    replay_sb(&mut bob_sb, &[("S", b"ACK 2\r\n")]);

    alice_sb.send(&Message::text("Sure!"), AckMode::NegativeOnly).unwrap();
    replay_sb(&mut alice_sb, &[("C", &with_head("MSG 4 N 67", SURE))]);
    replay_sb(&mut bob_sb, &[("S", &with_head("MSG alice@hotmail.com Alice 67", SURE))]);

    bob_sb.leave();
    replay_sb(&mut bob_sb, &[("C", b"OUT\r\n")]);
    replay_sb(&mut alice_sb, &[("S", b"BYE bob@hotmail.com\r\n")]);
    alice_sb.leave();
    replay_sb(&mut alice_sb, &[("C", b"OUT\r\n")]);

    let alice_p = Participant { handle: "alice@hotmail.com".into(), name: "Alice".into() };
    let bob_p = Participant { handle: "bob@hotmail.com".into(), name: "Bob".into() };
    let text = |sender: &str, name: &str, body: &str| SbEvent::Message {
        sender: sender.into(),
        sender_name: name.into(),
        message: Message::text(body),
    };
    assert_eq!(
        sb_events(&mut alice_sb),
        [
            SbEvent::Joined { participants: vec![] },
            SbEvent::Ringing { trid: TrId(2), handle: "bob@hotmail.com".into(), session_id: "17342299".into() },
            SbEvent::ParticipantJoined(bob_p),
            text("bob@hotmail.com", "Bob", "Hi Alice, lunch?"),
            SbEvent::ParticipantLeft { handle: "bob@hotmail.com".into() },
            SbEvent::Closed(msnp::client::SbCloseReason::Left),
        ]
    );
    let bob_events = sb_events(&mut bob_sb);
    assert_eq!(bob_events[0], SbEvent::Joined { participants: vec![alice_p] });
    assert_eq!(bob_events[1], text("alice@hotmail.com", "Alice", "Hello Bob"));
    assert_eq!(bob_events[2], SbEvent::Delivered { trid: TrId(2) });
    let SbEvent::Message { message, .. } = &bob_events[3] else { panic!() };
    assert_eq!(message.content(), Content::Text("Sure!".into()));
    // Both NS connections stay up.
    assert_eq!((alice.phase(), bob.phase()), (NsPhase::Online, NsPhase::Online));
}
