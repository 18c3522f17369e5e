//! Client machines beyond the happy transcripts: list downloads, failures, out-of-order replies.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::time::Duration;

use msnp::client::{
    ActionError, Lists, NsClient, NsConfig, NsEvent, NsPhase, SIGN_IN_TIMEOUT, SbClient, SbCloseReason, SbConfig,
    SbEvent, SbJoin, SignOutReason,
};
use msnp::message::Message;
use msnp::ns::Entry;
use msnp::{AckMode, Blp, ErrorCode, Frame, Gtc, List, State, TrId};

fn config(cache: Option<Lists>) -> NsConfig {
    NsConfig {
        handle: "jd@hotmail.com".into(),
        password: "hunter2".into(),
        initial_state: State::Busy,
        client: None,
        first_trid: 1,
        cache,
    }
}

fn feed(client: &mut NsClient, lines: &str) {
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        client.handle_frame(&Frame::command(line), Duration::ZERO);
    }
}

fn sent(client: &mut NsClient) -> Vec<String> {
    std::iter::from_fn(|| client.poll_transmit()).map(|f| f.line().to_owned()).collect()
}

fn events(client: &mut NsClient) -> Vec<NsEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

/// Runs VER … USR OK; returns what the client sent after that (its SYN).
fn authenticate(client: &mut NsClient) -> Vec<String> {
    client.connect(Duration::ZERO);
    feed(client, "VER 1 MSNP2\nINF 2 MD5\nUSR 3 MD5 S 1013928519.693957190\nUSR 4 OK jd@hotmail.com JD");
    let lines = sent(client);
    assert_eq!(
        lines[..4],
        ["VER 1 MSNP2 CVR0", "INF 2", "USR 3 MD5 I jd@hotmail.com", "USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a"]
    );
    lines[4..].to_vec()
}

fn entry(handle: &str, name: &str) -> Entry {
    Entry { handle: handle.into(), name: name.into() }
}

fn online(cache: Option<Lists>) -> NsClient {
    let mut client = NsClient::new(config(cache));
    assert_eq!(authenticate(&mut client), ["SYN 5 0"]);
    feed(&mut client, "SYN 5 0\nCHG 6 BSY");
    assert_eq!(sent(&mut client), ["CHG 6 BSY"]);
    assert_eq!(client.phase(), NsPhase::Online);
    events(&mut client);
    client
}

#[test]
fn a_changed_list_version_downloads_everything_and_replaces_the_cache() {
    let stale = Lists { version: 3, forward: vec![entry("old@hotmail.com", "Old")], ..Lists::default() };
    let mut client = NsClient::new(config(Some(stale)));
    assert_eq!(authenticate(&mut client), ["SYN 5 3"]);
    feed(
        &mut client,
        "SYN 5 6
         GTC 5 6 N
         BLP 5 6 BL
         LST 5 FL 6 1 2 erin@hotmail.com Erin
         LST 5 FL 6 2 2 dave@hotmail.com Dave%20D
         LST 5 AL 6 1 1 erin@hotmail.com Erin
         LST 5 BL 6 0 0",
    );
    // Not complete until the last list has arrived: no CHG yet.
    assert_eq!(sent(&mut client), Vec::<String>::new());
    feed(&mut client, "LST 5 RL 6 1 1 erin@hotmail.com Erin");
    assert_eq!(sent(&mut client), ["CHG 6 BSY"]);
    let lists = client.lists();
    assert_eq!(lists.version, 6);
    assert_eq!((lists.gtc, lists.blp), (Gtc::Never, Blp::BlockAll));
    assert_eq!(lists.forward, [entry("erin@hotmail.com", "Erin"), entry("dave@hotmail.com", "Dave%20D")]);
    assert_eq!(lists.block, []);
    assert_eq!(lists.reverse, [entry("erin@hotmail.com", "Erin")]);
    feed(&mut client, "CHG 6 BSY\nILN 6 AWY erin@hotmail.com Erin%201");
    let contacts = client.contacts();
    assert_eq!(contacts[0].presence.as_ref().map(|p| p.state), Some(State::Away));
    assert_eq!(contacts[1].presence, None);
    assert!(events(&mut client).contains(&NsEvent::SignedIn { state: State::Busy }));
}

#[test]
fn sign_in_failures_end_the_session_with_a_reason() {
    let mut client = NsClient::new(config(None));
    client.connect(Duration::ZERO);
    feed(&mut client, "VER 1 0");
    assert_eq!(events(&mut client), [NsEvent::SignedOut(SignOutReason::UnsupportedVersion)]);
    assert_eq!(client.phase(), NsPhase::Closed);

    let mut client = NsClient::new(config(None));
    client.connect(Duration::ZERO);
    feed(&mut client, "VER 1 MSNP2\nINF 2 MD5\nUSR 3 MD5 S abc\n911 4");
    assert_eq!(
        events(&mut client),
        [
            NsEvent::ServerError { trid: Some(TrId(4)), code: ErrorCode::AuthenticationFailed, command: Some("USR") },
            NsEvent::SignedOut(SignOutReason::AuthenticationFailed),
        ]
    );

    let mut client = NsClient::new(config(None));
    client.connect(Duration::ZERO);
    feed(&mut client, "VER 1 MSNP2\nINF 2 CTP");
    assert_eq!(events(&mut client), [NsEvent::SignedOut(SignOutReason::UnsupportedSecurity)]);

    let mut client = NsClient::new(config(None));
    client.connect(Duration::from_secs(100));
    assert_eq!(client.poll_timeout(), Some(Duration::from_secs(100) + SIGN_IN_TIMEOUT));
    client.handle_timeout(Duration::from_secs(101));
    assert_eq!(client.phase(), NsPhase::SigningIn);
    client.handle_timeout(Duration::from_secs(100) + SIGN_IN_TIMEOUT);
    assert_eq!(events(&mut client), [NsEvent::SignedOut(SignOutReason::Timeout)]);

    let mut client = NsClient::new(config(None));
    client.connect(Duration::ZERO);
    client.handle_close();
    assert_eq!(events(&mut client), [NsEvent::SignedOut(SignOutReason::ConnectionLost)]);
}

#[test]
fn the_server_can_end_the_session() {
    for (line, reason) in [
        ("OUT OTH", SignOutReason::OtherLocation),
        ("OUT SSD", SignOutReason::ServerShutdown),
        ("OUT", SignOutReason::ServerSignedOut(None)),
    ] {
        let mut client = online(None);
        feed(&mut client, line);
        assert_eq!(events(&mut client), [NsEvent::SignedOut(reason)]);
        assert_eq!(client.set_state(State::Online), Err(ActionError::NotSignedIn));
    }
}

#[test]
fn replies_are_matched_by_trid_not_order() {
    let mut client = online(None);
    let chg = client.set_state(State::Away).unwrap();
    let add = client.add(List::Forward, "erin@hotmail.com", None).unwrap();
    assert_eq!(sent(&mut client), ["CHG 7 AWY", "ADD 8 FL erin@hotmail.com erin@hotmail.com"]);
    feed(
        &mut client,
        &format!("ADD {add} FL 1 erin@hotmail.com erin@hotmail.com\nILN {add} NLN erin@hotmail.com Erin\n201 {chg}"),
    );
    assert_eq!(
        events(&mut client),
        [
            NsEvent::ListsChanged { version: 1 },
            NsEvent::PresenceChanged {
                handle: "erin@hotmail.com".into(),
                presence: Some(msnp::client::Presence { state: State::Online, name: "Erin".into() })
            },
            NsEvent::ServerError { trid: Some(chg), code: ErrorCode::InvalidParameter, command: Some("CHG") },
        ]
    );
    assert_eq!(client.state(), Some(State::Busy));
    assert!(client.lists().contains(List::Forward, "ERIN@hotmail.com"));
    // Removing a contact forgets its presence.
    client.remove(List::Forward, "erin@hotmail.com").unwrap();
    feed(&mut client, "REM 9 FL 2 erin@hotmail.com");
    assert_eq!(client.presence("erin@hotmail.com"), None);
    assert!(client.lists().forward.is_empty());
}

#[test]
fn being_added_follows_gtc() {
    let mut client = online(None);
    feed(&mut client, "ADD 0 RL 1 dave@hotmail.com Dave");
    assert_eq!(
        events(&mut client),
        [
            NsEvent::ListsChanged { version: 1 },
            NsEvent::AddedBy { handle: "dave@hotmail.com".into(), name: "Dave".into(), ask: true }
        ]
    );
    assert_eq!(sent(&mut client), Vec::<String>::new());

    // GTC N: the client allows them by itself.
    let mut client = online(Some(Lists { gtc: Gtc::Never, ..Lists::default() }));
    feed(&mut client, "ADD 0 RL 1 dave@hotmail.com Dave");
    assert_eq!(sent(&mut client), ["ADD 7 AL dave@hotmail.com Dave"]);
    // Someone already allowed: nothing to ask.
    let mut client = online(Some(Lists { allow: vec![entry("dave@hotmail.com", "Dave")], ..Lists::default() }));
    feed(&mut client, "ADD 0 RL 1 dave@hotmail.com Dave");
    assert!(events(&mut client).contains(&NsEvent::AddedBy {
        handle: "dave@hotmail.com".into(),
        name: "Dave".into(),
        ask: false
    }));
    feed(&mut client, "REM 0 RL 2 dave@hotmail.com");
    assert_eq!(events(&mut client).last(), Some(&NsEvent::RemovedBy { handle: "dave@hotmail.com".into() }));
    assert!(client.lists().reverse.is_empty());
}

#[test]
fn actions_check_their_input_before_sending() {
    let mut client = NsClient::new(config(None));
    assert_eq!(client.request_switchboard(), Err(ActionError::NotSignedIn));
    let mut client = online(None);
    assert_eq!(
        client.add(List::Forward, "not an address", None),
        Err(ActionError::InvalidHandle("not an address".into()))
    );
    assert!(matches!(client.rename(&"é".repeat(100)), Err(ActionError::InvalidName(_))));
    assert!(matches!(client.rename(""), Err(ActionError::InvalidName(_))));
    assert_eq!(sent(&mut client), Vec::<String>::new());
    // A custom name is encoded before it goes out.
    client.add(List::Forward, "erin@hotmail.com", Some("Erin W")).unwrap();
    assert_eq!(sent(&mut client), ["ADD 7 FL erin@hotmail.com Erin%20W"]);
}

#[test]
fn unknown_lines_do_not_stop_the_session() {
    let mut client = online(None);
    feed(&mut client, "XYZ 1 2 3\nNLN\nMSG Hotmail Hotmail 0\nQNG");
    let events = events(&mut client);
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| matches!(e, NsEvent::Unrecognized { .. })));
    assert_eq!(client.phase(), NsPhase::Online);
}

fn sb(join: SbJoin) -> SbClient {
    let mut client = SbClient::new(SbConfig { handle: "jd@hotmail.com".into(), join, first_trid: 1 });
    client.connect();
    client.poll_transmit().unwrap();
    client
}

fn sb_events(client: &mut SbClient) -> Vec<SbEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

#[test]
fn switchboard_failures() {
    let mut client = sb(SbJoin::Caller { cookie: "c".into() });
    client.handle_frame(&Frame::command("911 1"));
    assert_eq!(
        sb_events(&mut client),
        [
            SbEvent::ServerError { trid: Some(TrId(1)), code: ErrorCode::AuthenticationFailed, command: Some("USR") },
            SbEvent::Closed(SbCloseReason::AuthenticationFailed),
        ]
    );

    let mut client = sb(SbJoin::Callee { cookie: "c".into(), session_id: "42".into() });
    assert_eq!(client.send(&Message::text("early"), AckMode::Acknowledged), Err(ActionError::NotJoined));
    client.handle_frame(&Frame::command("ANS 1 OK"));
    assert_eq!(client.session_id(), Some("42"));
    let cal = client.invite("erin@hotmail.com").unwrap();
    client.handle_frame(&Frame::command(format!("217 {cal}")));
    let msg = client.send(&Message::text("anyone?"), AckMode::NegativeOnly).unwrap();
    client.handle_frame(&Frame::command(format!("NAK {msg}")));
    let too_long = Message::text(&"x".repeat(1700));
    assert!(matches!(client.send(&too_long, AckMode::Unacknowledged), Err(ActionError::MessageTooLong { .. })));
    client.handle_close();
    assert_eq!(
        sb_events(&mut client),
        [
            SbEvent::Joined { participants: vec![] },
            SbEvent::ServerError { trid: Some(cal), code: ErrorCode::NotOnline, command: Some("CAL") },
            SbEvent::NotDelivered { trid: msg },
            SbEvent::Closed(SbCloseReason::ConnectionLost),
        ]
    );
}

#[test]
fn typed_commands_get_trids_and_their_replies_are_followed() {
    let mut client = NsClient::new(config(None));
    assert_eq!(client.send_raw("CHG 9 BSY"), Err(ActionError::NotSignedIn));
    let mut client = online(None);
    // The TrID is filled in when left out; a given one is kept.
    assert_eq!(client.send_raw("  CHG   AWY "), Ok(TrId(7)));
    assert_eq!(client.send_raw("CHG 99 BRB"), Ok(TrId(99)));
    assert_eq!(client.send_raw("PNG"), Ok(TrId(0)));
    assert_eq!(client.send_raw("FOO bar"), Ok(TrId(8)));
    assert_eq!(sent(&mut client), ["CHG 7 AWY", "CHG 99 BRB", "PNG", "FOO 8 bar"]);
    // The state follows the replies.
    feed(&mut client, "CHG 7 AWY\n200 8");
    assert_eq!(client.state(), Some(State::Away));
    assert_eq!(
        events(&mut client).last(),
        Some(&NsEvent::ServerError { trid: Some(TrId(8)), code: ErrorCode::SyntaxError, command: Some("command") })
    );
    // Nothing typed can break the framing or the page.
    for bad in ["", "   ", "CHG 1 NLN\r\nOUT", "MSG 1 N 5", &"X".repeat(3000)] {
        assert!(matches!(client.send_raw(bad), Err(ActionError::InvalidLine(_))), "{bad:?}");
    }
    assert_eq!(sent(&mut client), Vec::<String>::new());
    assert_eq!(client.send_raw("OUT"), Ok(TrId(0)));
    assert_eq!(sent(&mut client), ["OUT"]);
    assert_eq!(client.phase(), NsPhase::Closed);
}

#[test]
fn typed_switchboard_commands() {
    let mut client = sb(SbJoin::Caller { cookie: "c".into() });
    assert_eq!(client.send_raw("CAL bob@hotmail.com"), Err(ActionError::NotJoined));
    client.handle_frame(&Frame::command("USR 1 OK jd@hotmail.com JD"));
    assert_eq!(client.send_raw("CAL bob@hotmail.com"), Ok(TrId(2)));
    assert_eq!(client.send_raw("MSG A hello  world"), Ok(TrId(3)));
    assert!(matches!(client.send_raw("MSG X hi"), Err(ActionError::InvalidLine(_))));
    let frames: Vec<Frame> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert_eq!(frames[0].line(), "CAL 2 bob@hotmail.com");
    assert_eq!(frames[1].line(), "MSG 3 A 73");
    assert_eq!(frames[1].payload(), Some(&Message::text("hello world").to_bytes()[..]));
    client.handle_frame(&Frame::command("CAL 2 RINGING 42"));
    client.handle_frame(&Frame::command("NAK 3"));
    let events = sb_events(&mut client);
    assert!(events.contains(&SbEvent::Ringing {
        trid: TrId(2),
        handle: "bob@hotmail.com".into(),
        session_id: "42".into()
    }));
    assert!(events.contains(&SbEvent::NotDelivered { trid: TrId(3) }));
}
