//! The page: sign-in or contact list on one side, the protocol inspector on the other.
//!
//! The shell owns the WebSocket and a [`Session`]; socket events and user actions go into the session,
//! its outbox goes out on the socket, and the page re-renders from the session's state.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use msnp::client::{NsConfig, NsPhase};
use msnp::ns::ClientVersion;
use msnp::{Decoder, Limits};
use yew::prelude::*;

use crate::components::contacts::{ContactList, UserAction};
use crate::components::inspector::Inspector;
use crate::components::signin::{SignIn, SignInRequest};
use crate::session::Session;
use crate::socket::Socket;
use crate::storage;

/// What this client says about itself in `CVR`: honestly, a web client.
pub fn client_version() -> ClientVersion {
    ClientVersion {
        locale: "0x0409".into(),
        os_type: "web".into(),
        os_version: "1.0".into(),
        arch: "wasm32".into(),
        library: "MSNPWEB".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_default()
}

/// `ws(s)://<this page's host>/ws?server=<name>`.
pub fn bridge_url(server: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let secure = location.as_ref().and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    let host = location.and_then(|l| l.host().ok()).unwrap_or_default();
    let scheme = if secure { "wss" } else { "ws" };
    if server.is_empty() {
        format!("{scheme}://{host}/ws")
    } else {
        format!("{scheme}://{host}/ws?server={}", js_sys::encode_uri_component(server))
    }
}

/// The live connection, shared by the socket's callbacks and the page.
#[derive(Default)]
struct Live {
    session: Option<Session>,
    socket: Option<Socket>,
    ticker: Option<Interval>,
    decoder: Decoder,
    cached_version: Option<u32>,
    /// The server name the session is on, for the lists cache.
    server: String,
}

impl Live {
    /// Sends what the session queued; closes the socket once the session is over; caches the lists.
    fn flush(&mut self) {
        let Some(session) = self.session.as_mut() else { return };
        let frames = session.take_outbox();
        if let Some(socket) = &self.socket {
            for frame in &frames {
                socket.send(frame.as_bytes());
            }
        }
        let phase = session.phase();
        if matches!(phase, NsPhase::Syncing | NsPhase::Online) && self.cached_version != Some(session.lists().version) {
            self.cached_version = Some(session.lists().version);
            storage::cache_lists(&self.server, session.handle(), session.lists());
        }
        if phase == NsPhase::Closed {
            if let Some(socket) = self.socket.take() {
                socket.close();
            }
            self.ticker = None;
        }
    }
}

/// Opens the socket and wires its events into the session.
fn connect(live: &Rc<RefCell<Live>>, redraw: &UseForceUpdateHandle, request: SignInRequest) {
    storage::remember_email(request.remember.then_some(request.email.as_str()));
    let config = NsConfig {
        cache: storage::cached_lists(&request.server, &request.email),
        handle: request.email,
        password: request.password,
        initial_state: request.state,
        client: Some(client_version()),
        first_trid: 1,
    };
    let weak = Rc::downgrade(live);
    let with = move |f: &dyn Fn(&mut Live)| {
        if let Some(live) = weak.upgrade() {
            f(&mut live.borrow_mut());
        }
    };
    let (on_open, on_message, on_close, on_tick) = (with.clone(), with.clone(), with.clone(), with);
    let (r1, r2, r3, r4) = (redraw.clone(), redraw.clone(), redraw.clone(), redraw.clone());
    let socket = Socket::open(
        &bridge_url(&request.server),
        move || {
            on_open(&|live| {
                if let Some(s) = live.session.as_mut() {
                    s.opened(now_ms());
                }
                live.flush();
            });
            r1.force_update();
        },
        move |bytes| {
            on_message(&|live| {
                live.decoder.extend(&bytes);
                while let Ok(Some(frame)) = live.decoder.next_frame() {
                    if let Some(s) = live.session.as_mut() {
                        s.received(&frame, now_ms());
                    }
                }
                live.flush();
            });
            r2.force_update();
        },
        move |code, reason| {
            on_close(&|live| {
                live.socket = None;
                if let Some(s) = live.session.as_mut() {
                    s.closed(code, &reason, now_ms());
                }
                live.flush();
            });
            r3.force_update();
        },
    );
    let mut live = live.borrow_mut();
    let mut session = Session::new(config, now_ms());
    match socket {
        Ok(socket) => live.socket = Some(socket),
        Err(e) => session.closed(1011, &e, now_ms()),
    }
    live.session = Some(session);
    live.decoder = Decoder::new(Limits::CLIENT);
    live.cached_version = None;
    live.server = request.server;
    live.ticker = Some(Interval::new(1000, move || {
        on_tick(&|live| {
            if let Some(s) = live.session.as_mut() {
                s.tick(now_ms());
            }
            live.flush();
        });
        r4.force_update();
    }));
}

fn act(live: &mut Live, action: UserAction) {
    let Some(s) = live.session.as_mut() else { return };
    let now = now_ms();
    match action {
        UserAction::SetState(state) => s.set_state(state, now),
        UserAction::Rename(name) => s.rename(&name, now),
        UserAction::Add(handle) => s.add_contact(&handle, now),
        UserAction::Remove(handle) => s.remove_contact(&handle, now),
        UserAction::Block(handle) => s.block(&handle, now),
        UserAction::Unblock(handle) => s.unblock(&handle, now),
        UserAction::Privacy(mode) => s.set_privacy(mode, now),
        UserAction::Answer { handle, allow } => s.answer(&handle, allow, now),
        UserAction::SignOut => s.sign_out(now),
    }
    live.flush();
}

/// The server names the bridge offers (`GET /servers`), first is the default.
async fn fetch_servers() -> Option<Vec<String>> {
    let window = web_sys::window()?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str("servers")).await.ok()?;
    let response: web_sys::Response = wasm_bindgen::JsCast::dyn_into(response).ok()?;
    let json = wasm_bindgen_futures::JsFuture::from(response.json().ok()?).await.ok()?;
    let names = js_sys::Array::from(&json).iter().filter_map(|v| v.as_string()).collect();
    Some(names)
}

#[function_component(App)]
pub fn app() -> Html {
    let live = use_mut_ref(Live::default);
    let redraw = use_force_update();
    let servers = use_state(Vec::<String>::new);
    {
        let servers = servers.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(names) = fetch_servers().await {
                    servers.set(names);
                }
            });
        });
    }
    let on_sign_in = {
        let (live, redraw) = (Rc::clone(&live), redraw.clone());
        Callback::from(move |request: SignInRequest| {
            connect(&live, &redraw, request);
            redraw.force_update();
        })
    };
    let on_action = {
        let (live, redraw) = (Rc::clone(&live), redraw.clone());
        Callback::from(move |action: UserAction| {
            act(&mut live.borrow_mut(), action);
            redraw.force_update();
        })
    };

    let state = live.borrow();
    let session = state.session.as_ref();
    let phase = session.map(Session::phase);
    let lines = Rc::new(session.map(|s| s.log.clone()).unwrap_or_default());
    let main = match (phase, session) {
        (Some(NsPhase::Online | NsPhase::Syncing), Some(s)) => {
            html! { <ContactList view={s.view()} {on_action} /> }
        }
        _ => {
            let busy = phase == Some(NsPhase::SigningIn) || (phase == Some(NsPhase::Idle) && state.socket.is_some());
            let notice = session.and_then(|s| s.notice.clone());
            let email = session.map(|s| s.handle().to_owned()).or_else(storage::remembered_email).unwrap_or_default();
            html! { <SignIn servers={(*servers).clone()} {email} {notice} {busy} {on_sign_in} /> }
        }
    };
    html! {
        <div class="page">
            <main class="messenger">
                <h1>{ "MSN Messenger 1.0, in the browser" }</h1>
                { main }
            </main>
            <Inspector {lines} />
        </div>
    }
}
