//! The page's socket and session against a real bridge and server, in a real browser.
//! `cargo xtask test` starts the bridge and passes its address at compile time (MSNP_TEST_BRIDGE), and a
//! second bridge in front of a scripted server that behaves as INTEROP.md says (MSNP_TEST_FOREIGN_BRIDGE).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use msnp::client::{NsConfig, NsPhase};
use msnp::{Decoder, Limits, State};
use msnp_web::session::Session;
use msnp_web::socket::Socket;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn bridge() -> &'static str {
    match option_env!("MSNP_TEST_BRIDGE") {
        Some(url) => url,
        None => panic!("run through `cargo xtask test`, which starts a bridge for this test"),
    }
}

/// A session on a real WebSocket, driven as the page drives it.
struct Live {
    session: Session,
    socket: Option<Socket>,
    decoder: Decoder,
}

fn flush(live: &mut Live) {
    for frame in live.session.take_outbox() {
        if let Some(socket) = &live.socket {
            socket.send(frame.as_bytes());
        }
    }
}

/// The second bridge, whose only upstream is `msnp-bench foreign-server`.
fn foreign_bridge() -> &'static str {
    match option_env!("MSNP_TEST_FOREIGN_BRIDGE") {
        Some(url) => url,
        None => panic!("run through `cargo xtask test`, which starts a foreign server and a bridge to it"),
    }
}

fn start(handle: &str, password: &str) -> Rc<RefCell<Live>> {
    start_at(bridge(), handle, password, None)
}

/// Signs in at the bridge `url`; `previous_challenge` is what the page remembered of the last sign-in.
fn start_at(url: &str, handle: &str, password: &str, previous_challenge: Option<String>) -> Rc<RefCell<Live>> {
    let config = NsConfig {
        handle: handle.into(),
        password: password.into(),
        initial_state: State::Busy,
        client: Some(msnp_web::app::client_version()),
        first_trid: 1,
        cache: None,
    };
    let mut session = Session::new(config, 0.0);
    session.remember_previous_challenge(previous_challenge);
    let live = Rc::new(RefCell::new(Live { session, socket: None, decoder: Decoder::new(Limits::CLIENT) }));
    let (a, b, c) = (Rc::clone(&live), Rc::clone(&live), Rc::clone(&live));
    let socket = Socket::open(
        &format!("{url}/ws"),
        move || {
            let mut live = a.borrow_mut();
            live.session.opened(1.0);
            flush(&mut live);
        },
        move |bytes| {
            let mut live = b.borrow_mut();
            live.decoder.extend(&bytes);
            while let Ok(Some(frame)) = live.decoder.next_frame() {
                live.session.received(&frame, 2.0);
            }
            flush(&mut live);
        },
        move |code, reason| {
            let mut live = c.borrow_mut();
            live.session.closed(code, &reason, 3.0);
        },
    )
    .unwrap();
    live.borrow_mut().socket = Some(socket);
    live
}

async fn until(live: &Rc<RefCell<Live>>, done: impl Fn(&Session) -> bool) {
    for _ in 0..200 {
        if done(&live.borrow().session) {
            return;
        }
        gloo_timers::future::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out; log: {:#?}", live.borrow().session.log);
}

#[wasm_bindgen_test]
async fn signs_in_through_the_bridge_and_sees_a_contact() {
    let carol = start("carol@hotmail.com", "carol");
    until(&carol, |s| s.phase() == NsPhase::Online).await;
    assert_eq!(carol.borrow().session.name(), "Carol ☕");
    assert_eq!(carol.borrow().session.state(), Some(State::Busy));
    // The demo account has Alice, Bob and the robots (not running here) as contacts, offline for now.
    let contacts: Vec<String> = carol.borrow().session.contacts().into_iter().map(|c| c.handle).collect();
    let robots = ["echo@hotmail.com", "mood@hotmail.com", "host@hotmail.com", "chatty@hotmail.com"];
    assert_eq!(contacts[..2], ["alice@hotmail.com", "bob@hotmail.com"]);
    assert_eq!(contacts[2..], robots);

    let dave = start("dave@hotmail.com", "dave");
    until(&dave, |s| s.phase() == NsPhase::Online).await;
    {
        let mut d = dave.borrow_mut();
        d.session.add_contact("carol@hotmail.com", 10.0);
        flush(&mut d);
    }
    // Carol is asked (GTC A), and Dave sees her Busy.
    until(&carol, |s| s.prompts.iter().any(|p| p.handle == "dave@hotmail.com")).await;
    until(&dave, |s| s.view().online.iter().any(|r| r.handle == "carol@hotmail.com" && r.state == Some(State::Busy)))
        .await;

    carol.borrow_mut().session.sign_out(20.0);
    flush(&mut carol.borrow_mut());
    until(&dave, |s| s.view().offline.iter().any(|r| r.handle == "carol@hotmail.com")).await;
}

#[wasm_bindgen_test]
async fn a_wrong_password_is_reported() {
    let bob = start("bob@hotmail.com", "not-bob");
    until(&bob, |s| s.phase() == NsPhase::Closed).await;
    assert_eq!(bob.borrow().session.notice.as_deref(), Some("Wrong e-mail address or password."));
}

#[wasm_bindgen_test]
async fn a_server_that_behaves_otherwise_is_understood_and_its_silence_is_reported() {
    let alice = start_at(foreign_bridge(), "alice@hotmail.com", "password", None);
    until(&alice, |s| s.phase() == NsPhase::Online).await;
    // That server's friendly name is the e-mail address; its profile message is logged, not in the way.
    assert_eq!(alice.borrow().session.name(), "alice@hotmail.com");
    assert!(alice.borrow().session.log.iter().any(|l| l.note.contains("profile")), "no profile line explained");
    let hash = alice.borrow().session.challenge_hash().map(str::to_owned);

    // An unknown command gets no reply at all there; the raw console gives up after a while and says so.
    {
        let mut a = alice.borrow_mut();
        a.session.send_raw("ZZZ hello", 10.0).unwrap();
        flush(&mut a);
    }
    gloo_timers::future::sleep(Duration::from_millis(300)).await;
    let timeout = msnp_web::watch::TIMEOUT_MS;
    alice.borrow_mut().session.tick(10.0 + timeout - 1.0);
    assert!(!alice.borrow().session.notice.as_deref().unwrap_or("").contains("No reply"));
    alice.borrow_mut().session.tick(10.0 + timeout);
    let notice = alice.borrow().session.notice.clone().unwrap_or_default();
    assert!(notice.starts_with("No reply to `ZZZ"), "{notice}");

    // Signing in again: the same challenge as last time, and the page says what that means.
    alice.borrow_mut().session.sign_out(20.0);
    flush(&mut alice.borrow_mut());
    let again = start_at(foreign_bridge(), "alice@hotmail.com", "password", hash);
    until(&again, |s| s.phase() == NsPhase::Online).await;
    assert!(again.borrow().session.log.iter().any(|l| l.note.contains("reused its challenge")));
}

/// A conversation on a real WebSocket to a switchboard, driven as the page drives it.
struct LiveChat {
    chat: msnp_web::chat::Chat,
    socket: Option<Socket>,
    decoder: Decoder,
}

fn flush_chat(live: &mut LiveChat) {
    for frame in live.chat.take_outbox() {
        if let Some(socket) = &live.socket {
            socket.send(frame.as_bytes());
        }
    }
}

/// Opens the chat `call` asks for, through the bridge at `url`.
fn open_chat(url: &str, handle: &str, call: msnp_web::session::Call) -> Rc<RefCell<LiveChat>> {
    let msnp_web::session::Call::Start { address, cookie, invitee } = call else { panic!("not a chat we started") };
    let chat = msnp_web::chat::Chat::start(1, handle, handle, cookie, invitee, 0.0);
    let live = Rc::new(RefCell::new(LiveChat { chat, socket: None, decoder: Decoder::new(Limits::CLIENT) }));
    let (a, b) = (Rc::clone(&live), Rc::clone(&live));
    let socket = Socket::open(
        &format!("{url}/ws?sb={}", js_sys::encode_uri_component(&address)),
        move || {
            let mut live = a.borrow_mut();
            live.chat.opened(1.0);
            flush_chat(&mut live);
        },
        move |bytes| {
            let mut live = b.borrow_mut();
            live.decoder.extend(&bytes);
            while let Ok(Some(frame)) = live.decoder.next_frame() {
                live.chat.received(&frame, 2.0);
            }
            flush_chat(&mut live);
        },
        |_, _| {},
    )
    .unwrap();
    live.borrow_mut().socket = Some(socket);
    live
}

async fn until_chat(live: &Rc<RefCell<LiveChat>>, done: impl Fn(&msnp_web::chat::Chat) -> bool) {
    for _ in 0..200 {
        if done(&live.borrow().chat) {
            return;
        }
        gloo_timers::future::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out; lines: {:#?}", live.borrow().chat.lines);
}

fn said(chat: &msnp_web::chat::Chat, text: &str) -> bool {
    chat.lines.iter().any(|l| matches!(l, msnp_web::chat::ChatLine::Message { text: t, .. } if t == text))
}

#[wasm_bindgen_test]
async fn a_message_typed_before_anyone_joined_waits_for_them_on_a_server_that_would_drop_it() {
    let alice = start_at(foreign_bridge(), "alice@hotmail.com", "password", None);
    until(&alice, |s| s.phase() == NsPhase::Online).await;
    {
        let mut a = alice.borrow_mut();
        a.session.request_chat("friend@hotmail.com", 10.0);
        flush(&mut a);
    }
    let mut calls = Vec::new();
    for _ in 0..200 {
        calls = alice.borrow_mut().session.take_calls();
        if !calls.is_empty() {
            break;
        }
        gloo_timers::future::sleep(Duration::from_millis(25)).await;
    }
    let chat = open_chat(foreign_bridge(), "alice@hotmail.com", calls.pop().expect("a switchboard"));
    // Ringing, nobody there yet: that server would drop a MSG now, so the page holds it.
    until_chat(&chat, |c| {
        c.lines
            .iter()
            .any(|l| matches!(l, msnp_web::chat::ChatLine::Event { text, .. } if text.starts_with("Inviting")))
    })
    .await;
    {
        let mut c = chat.borrow_mut();
        c.chat.send_text("typed early", 20.0).unwrap();
        flush_chat(&mut c);
        assert!(!c.chat.log.iter().any(|l| l.text.starts_with("MSG")), "nothing is sent before someone joins");
    }
    // The friend joins, gets it, and answers.
    until_chat(&chat, |c| said(c, "got: typed early")).await;
    let c = chat.borrow();
    assert!(matches!(
        &c.chat.lines.iter().find(|l| matches!(l, msnp_web::chat::ChatLine::Message { mine: true, .. })),
        Some(msnp_web::chat::ChatLine::Message { waiting: false, undelivered: false, .. })
    ));
}
