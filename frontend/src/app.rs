//! The page: sign-in or contact list and conversations on one side, the protocol inspector on the other.
//!
//! The shell owns the WebSockets (one to the notification server, one per conversation), a [`Session`] and
//! a [`Chat`] per conversation; socket events and user actions go into them, their outboxes go out on the
//! sockets, and the page re-renders from their state.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use msnp::client::{NsConfig, NsPhase};
use msnp::ns::ClientVersion;
use msnp::{Decoder, Limits};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::alerts;
use crate::chat::{Chat, ChatLine};
use crate::components::chat::{ChatAction, ChatView, Chats, Tab};
use crate::components::console::Console;
use crate::components::contacts::{ContactList, UserAction};
use crate::components::inspector::Inspector;
use crate::components::replay::{ReplayAction, ReplayChooser, ReplayControls};
use crate::components::signin::{SignIn, SignInRequest};
use crate::components::theme::ThemeSwitch;
use crate::reconnect::{self, Reconnect};
use crate::replay::Replay;
use crate::session::{Call, Session};
use crate::socket::Socket;
use crate::storage;
use crate::transcript::{Connection, THIS_PAGE};

const TITLE: &str = "MSN Messenger 1.0 in the browser";

/// Shown when the browser refuses notifications.
const NOTIFICATIONS_REFUSED: &str = "This browser does not allow this page's notifications (see its site settings).";

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

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

/// Whether the keyboard is on nothing in particular (the page itself).
fn nothing_focused() -> bool {
    let active = document().and_then(|d| d.active_element());
    active.is_none_or(|e| e.tag_name().eq_ignore_ascii_case("body"))
}

/// `ws(s)://<this page's host>/ws<query>`.
fn bridge_url(query: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let secure = location.as_ref().and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    let host = location.and_then(|l| l.host().ok()).unwrap_or_default();
    format!("{}://{host}/ws{query}", if secure { "wss" } else { "ws" })
}

/// The notification server's URL: `/ws?server=<name>`, or `/ws` for the default.
pub fn ns_url(server: &str) -> String {
    if server.is_empty() {
        bridge_url("")
    } else {
        bridge_url(&format!("?server={}", js_sys::encode_uri_component(server)))
    }
}

/// A switchboard's URL: `/ws?sb=<host:port>` (the bridge only lets announced ones through).
fn sb_url(address: &str) -> String {
    bridge_url(&format!("?sb={}", js_sys::encode_uri_component(address)))
}

/// A conversation with its socket.
struct LiveChat {
    chat: Chat,
    socket: Option<Socket>,
    decoder: Decoder,
}

/// Everything live, shared by the sockets' callbacks and the page.
#[derive(Default)]
struct Live {
    session: Option<Session>,
    socket: Option<Socket>,
    ticker: Option<Interval>,
    decoder: Decoder,
    /// The server name the session is on, for the lists cache.
    server: String,
    chats: Vec<LiveChat>,
    next_chat: u32,
    active_chat: Option<u32>,
    /// The chat the person just started: its message box gets the keyboard.
    focus_chat: Option<u32>,
    console_error: Option<String>,
    sound: bool,
    /// Desktop notifications on (and permitted), or refused by the browser when asked.
    notify: bool,
    notify_refused: bool,
    audio: Option<web_sys::AudioContext>,
    /// Wall-clock time of the sign-in's start, for message times.
    clock_base_ms: f64,
    /// Why the last session ended, once it has been wiped.
    ended_notice: Option<String>,
    /// The challenge hash stored for this session (so it is written once).
    remembered_challenge: Option<String>,
    /// This session's sign-in, kept in memory to sign in again after a lost connection.
    credentials: Option<SignInRequest>,
    /// Signing in again after a lost connection: the attempts, the next one's timer, and what to say.
    reconnect: Option<Reconnect>,
    retry_timer: Option<Timeout>,
    /// When the next attempt starts (page milliseconds), and the timer that redraws its countdown.
    retry_at: Option<f64>,
    countdown: Option<Interval>,
    /// A reconnection attempt is to be scheduled (by [`with_live`], which can start timers).
    retry_due: bool,
    /// A referral (`XFR … NS`) to follow now, and how many this sign-in has followed.
    referral: Option<String>,
    referrals: u32,
    /// The referring (dispatch) server's lines, shown beside the notification server's.
    dispatch_log: Option<crate::log::Log>,
    /// The clock of the sign-in a referral continues, so both servers' lines share it.
    follow_clock: Option<f64>,
}

/// Referrals one sign-in follows before the page gives up (a loop between servers, say).
const MAX_REFERRALS: u32 = 3;

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
        if let Some(hash) = session.challenge_hash()
            && self.remembered_challenge.as_deref() != Some(hash)
        {
            storage::remember_challenge(&self.server, session.handle(), hash);
            self.remembered_challenge = Some(hash.to_owned());
        }
        if session.take_lists_changed() {
            storage::cache_lists(&self.server, session.handle(), session.lists());
        }
        if phase == NsPhase::Online && self.reconnect.is_some() {
            session.notice = Some(reconnect::RECONNECTED.into());
            self.stop_retrying();
        }
        if phase == NsPhase::Online {
            self.referrals = 0;
        }
        if phase == NsPhase::Closed {
            if let Some(socket) = self.socket.take() {
                socket.close();
            }
            self.ticker = None;
            self.after_close();
        }
    }

    /// The notification server's connection ended: a lost connection is retried (with the state the
    /// person was in) if they had signed in, or if this was a retry already; anything else forgets the
    /// password.
    fn after_close(&mut self) {
        let Some(session) = self.session.as_ref() else { return };
        if let Some(to) = session.referral()
            && self.credentials.is_some()
            && self.referrals < MAX_REFERRALS
        {
            self.referrals += 1;
            self.referral = Some(to.to_owned());
            if session.signed_in() {
                // Moved while signed in (XFR 0 NS): a new session, nothing of the old one kept.
                self.end_session();
            } else {
                self.dispatch_log = Some(session.log.clone());
                self.follow_clock = Some(session.started_ms());
            }
            return;
        }
        let why = session.retry_reason();
        let retry = self.credentials.is_some() && (session.signed_in() || self.reconnect.is_some());
        let (state, signed_in) = (session.state(), session.signed_in());
        match why.filter(|_| retry) {
            Some(why) => {
                if self.reconnect.is_none()
                    && let Some(mut request) = self.credentials.clone()
                {
                    request.state = state.unwrap_or(request.state);
                    self.reconnect = Some(Reconnect::new(request, why));
                }
                self.retry_due = true;
            }
            None => {
                self.credentials = None;
                self.stop_retrying();
            }
        }
        if signed_in {
            self.end_session();
        }
    }

    /// A signed-in session ended (signed out, signed in elsewhere, server shutdown, connection lost):
    /// every switchboard socket closes and nothing of the person stays on the page (chats, logs, lists,
    /// prompts, e-mail address) but the reason it ended.
    fn end_session(&mut self) {
        self.ended_notice = self.session.take().and_then(|s| s.notice);
        self.dispatch_log = None;
        // Dropping a socket closes it.
        self.chats.clear();
        self.active_chat = None;
        self.console_error = None;
        self.update_title();
    }

    /// No more attempts to sign in again: the person signed in themselves, or it cannot work.
    fn stop_retrying(&mut self) {
        self.reconnect = None;
        self.retry_timer = None;
        self.retry_at = None;
        self.countdown = None;
    }

    fn chat(&mut self, id: u32) -> Option<&mut LiveChat> {
        self.chats.iter_mut().find(|c| c.chat.id == id)
    }

    /// Unread messages in the title while the page is hidden; the open chat counts as read when visible.
    fn update_title(&mut self) {
        let hidden = document().is_some_and(|d| d.hidden());
        if !hidden
            && let Some(id) = self.active_chat
            && let Some(c) = self.chat(id)
        {
            c.chat.unread = 0;
        }
        let unread: u32 = self.chats.iter().map(|c| c.chat.unread).sum();
        if let Some(d) = document() {
            d.set_title(&if hidden && unread > 0 { format!("({unread}) {TITLE}") } else { TITLE.to_owned() });
        }
    }
}

type Shared = Rc<RefCell<Live>>;

/// Runs `f` on the live state from a callback (if the page still exists), then opens any switchboard
/// connections the session asked for, schedules a reconnection if one is due, and redraws.
fn with_live(weak: &Weak<RefCell<Live>>, redraw: &UseForceUpdateHandle, f: impl FnOnce(&mut Live)) {
    let Some(live) = weak.upgrade() else { return };
    let (calls, follow) = {
        let mut l = live.borrow_mut();
        f(&mut l);
        l.flush();
        if std::mem::take(&mut l.retry_due) {
            schedule_retry(&mut l, weak, redraw);
        }
        let follow = l.referral.is_some().then(|| l.credentials.clone()).flatten();
        (l.session.as_mut().map(Session::take_calls).unwrap_or_default(), follow)
    };
    if let Some(request) = follow {
        connect(&live, redraw, request);
    }
    for call in calls {
        if let Call::Answer { caller_name, .. } = &call
            && live.borrow().notify
            && document().is_some_and(|d| d.hidden())
        {
            alerts::notify(&format!("{caller_name} started a conversation with you"), "", "msnp-invitation");
        }
        open_chat(&live, redraw, call);
    }
    redraw.force_update();
}

/// Starts the timer for the next attempt to sign in again, and one that redraws its countdown.
fn schedule_retry(live: &mut Live, weak: &Weak<RefCell<Live>>, redraw: &UseForceUpdateHandle) {
    let Some(reconnect) = live.reconnect.as_mut() else { return };
    let ms = reconnect.next(js_sys::Math::random());
    live.retry_at = Some(now_ms() + ms);
    let (weak, redraw) = (weak.clone(), redraw.clone());
    let tick = redraw.clone();
    live.countdown = Some(Interval::new(1000, move || tick.force_update()));
    live.retry_timer = Some(Timeout::new(ms as u32, move || {
        if let Some(live) = weak.upgrade() {
            retry_now(&live, &redraw);
        }
    }));
}

/// The next attempt to sign in again, now (its time came, or the person pressed "Try now").
fn retry_now(live: &Shared, redraw: &UseForceUpdateHandle) {
    let request = {
        let mut l = live.borrow_mut();
        l.retry_at = None;
        l.countdown = None;
        l.reconnect.as_ref().map(|r| r.request.clone())
    };
    if let Some(request) = request {
        connect(live, redraw, request);
    }
    redraw.force_update();
}

/// The person signs in from the form: any reconnection under way stops.
fn sign_in(live: &Shared, redraw: &UseForceUpdateHandle, request: SignInRequest) {
    {
        let mut l = live.borrow_mut();
        l.stop_retrying();
        l.referrals = 0;
        l.dispatch_log = None;
    }
    connect(live, redraw, request);
}

/// Opens the notification-server socket and wires its events into a new session.
fn connect(live: &Shared, redraw: &UseForceUpdateHandle, request: SignInRequest) {
    storage::remember_email(request.remember.then_some(request.email.as_str()));
    let config = NsConfig {
        cache: storage::cached_lists(&request.server, &request.email),
        handle: request.email.clone(),
        password: request.password.clone(),
        initial_state: request.state,
        client: Some(client_version()),
        first_trid: 1,
    };
    let weak = Rc::downgrade(live);
    let (w1, w2, w3, w4) = (weak.clone(), weak.clone(), weak.clone(), weak);
    let (r1, r2, r3, r4) = (redraw.clone(), redraw.clone(), redraw.clone(), redraw.clone());
    let (referral, clock) = {
        let mut l = live.borrow_mut();
        (l.referral.take(), l.follow_clock.take())
    };
    let url = match &referral {
        Some(address) => bridge_url(&format!("?ns={}", js_sys::encode_uri_component(address))),
        None => ns_url(&request.server),
    };
    let socket = Socket::open(
        &url,
        move || {
            with_live(&w1, &r1, |live| {
                if let Some(s) = live.session.as_mut() {
                    s.opened(now_ms());
                }
            })
        },
        move |bytes| with_live(&w2, &r2, |live| ns_received(live, &bytes)),
        move |code, reason| {
            with_live(&w3, &r3, |live| {
                live.socket = None;
                if let Some(s) = live.session.as_mut() {
                    s.closed(code, &reason, now_ms());
                }
            })
        },
    );
    let mut live = live.borrow_mut();
    live.ended_notice = None;
    live.retry_timer = None;
    live.remembered_challenge = None;
    live.chats.clear();
    if referral.is_none() {
        live.dispatch_log = None;
    }
    let mut session = Session::new(config, clock.unwrap_or_else(now_ms));
    session.remember_previous_challenge(storage::last_challenge(&request.server, session.handle()));
    match socket {
        Ok(socket) => live.socket = Some(socket),
        Err(e) => session.closed(1011, &e, now_ms()),
    }
    live.session = Some(session);
    live.decoder = Decoder::new(Limits::CLIENT);
    live.server = request.server.clone();
    live.credentials = Some(request);
    live.clock_base_ms = js_sys::Date::now();
    live.ticker = Some(Interval::new(1000, move || {
        with_live(&w4, &r4, |live| {
            let now = now_ms();
            if let Some(s) = live.session.as_mut() {
                s.tick(now);
            }
            for c in &mut live.chats {
                c.chat.tick(now);
            }
        })
    }));
}

/// Bytes from the notification server: whole commands go to the session; a stream that is not MSNP
/// ends it.
fn ns_received(live: &mut Live, bytes: &[u8]) {
    live.decoder.extend(bytes);
    let Some(session) = live.session.as_mut() else { return };
    loop {
        match live.decoder.next_frame() {
            Ok(Some(frame)) => session.received(&frame, now_ms()),
            Ok(None) => return,
            Err(e) => return session.broken(&e, now_ms()),
        }
    }
}

/// Runs `f` on chat `id` from a callback, sends what it queued, and redraws.
fn with_chat(weak: &Weak<RefCell<Live>>, redraw: &UseForceUpdateHandle, id: u32, f: impl FnOnce(&mut LiveChat)) {
    with_live(weak, redraw, |live| {
        let (sound, notify) = (live.sound, live.notify);
        let mut audio = live.audio.take();
        let Some(c) = live.chat(id) else { return };
        let unread = c.chat.unread;
        f(c);
        for frame in c.chat.take_outbox() {
            if let Some(socket) = &c.socket {
                socket.send(frame.as_bytes());
            }
        }
        if c.chat.is_closed()
            && let Some(socket) = c.socket.take()
        {
            socket.close();
        }
        if c.chat.unread > unread && document().is_some_and(|d| d.hidden()) {
            if sound {
                alerts::beep(&mut audio);
            }
            if notify && let Some(ChatLine::Message { who, text, .. }) = c.chat.lines.last() {
                alerts::notify(&format!("{who} says:"), text, &format!("msnp-chat-{id}"));
            }
        }
        live.audio = audio;
        live.update_title();
    });
}

/// Opens a switchboard socket for a chat we start or were invited to.
fn open_chat(live: &Shared, redraw: &UseForceUpdateHandle, call: Call) {
    let mut l = live.borrow_mut();
    let Some(session) = l.session.as_ref() else { return };
    let (handle, name, base) = (session.handle().to_owned(), session.name(), session.started_ms());
    l.next_chat += 1;
    let id = l.next_chat;
    let (chat, address, ours) = match call {
        Call::Start { address, cookie, invitee } => {
            (Chat::start(id, &handle, &name, cookie, invitee, base), address, true)
        }
        Call::Answer { address, cookie, session_id, .. } => {
            (Chat::answer(id, &handle, &name, cookie, session_id, base), address, false)
        }
    };
    let weak = Rc::downgrade(live);
    let (w1, w2, w3) = (weak.clone(), weak.clone(), weak);
    let (r1, r2, r3) = (redraw.clone(), redraw.clone(), redraw.clone());
    let socket = Socket::open(
        &sb_url(&address),
        move || with_chat(&w1, &r1, id, |c| c.chat.opened(now_ms())),
        move |bytes| {
            with_chat(&w2, &r2, id, |c| {
                c.decoder.extend(&bytes);
                loop {
                    match c.decoder.next_frame() {
                        Ok(Some(frame)) => c.chat.received(&frame, now_ms()),
                        Ok(None) => break,
                        Err(e) => {
                            let reason = format!("the switchboard sent something that is not MSNP ({e})");
                            break c.chat.closed(&reason, now_ms());
                        }
                    }
                }
            })
        },
        move |code, reason| {
            with_chat(&w3, &r3, id, |c| {
                c.socket = None;
                c.chat.closed(if code == 1000 { "" } else { &reason }, now_ms());
            })
        },
    );
    let mut chat = LiveChat { chat, socket: None, decoder: Decoder::new(Limits::CLIENT) };
    match socket {
        Ok(socket) => chat.socket = Some(socket),
        Err(e) => chat.chat.closed(&e, now_ms()),
    }
    l.chats.push(chat);
    if ours || l.active_chat.is_none() {
        l.active_chat = Some(id);
    }
    // A chat the person started gets the keyboard; so does an invitation when nothing else has it.
    if ours || (l.active_chat == Some(id) && nothing_focused()) {
        l.focus_chat = Some(id);
    }
}

fn act(live: &mut Live, action: UserAction) {
    let now = now_ms();
    if let UserAction::SignOut = action {
        for c in &mut live.chats {
            c.chat.leave(now);
            for frame in c.chat.take_outbox() {
                if let Some(socket) = &c.socket {
                    socket.send(frame.as_bytes());
                }
            }
        }
    }
    let Some(s) = live.session.as_mut() else { return };
    match action {
        UserAction::SetState(state) => s.set_state(state, now),
        UserAction::Rename(name) => s.rename(&name, now),
        UserAction::Add(handle) => s.add_contact(&handle, now),
        UserAction::Remove(handle) => s.remove_contact(&handle, now),
        UserAction::Block(handle) => s.block(&handle, now),
        UserAction::Unblock(handle) => s.unblock(&handle, now),
        UserAction::Privacy(mode) => s.set_privacy(mode, now),
        UserAction::Answer { handle, allow } => s.answer(&handle, allow, now),
        UserAction::Chat(handle) => s.request_chat(&handle, now),
        UserAction::SignOut => s.sign_out(now),
    }
}

fn chat_act(live: &mut Live, action: ChatAction) {
    let now = now_ms();
    let result = match action {
        ChatAction::Select(id) => {
            live.active_chat = Some(id);
            Ok(())
        }
        ChatAction::Dismiss(id) => {
            live.chats.retain(|c| c.chat.id != id);
            live.active_chat = live.chats.last().map(|c| c.chat.id);
            Ok(())
        }
        ChatAction::Send { id, text } => live.chat(id).map_or(Ok(()), |c| c.chat.send_text(&text, now)),
        ChatAction::Typed(id) => {
            if let Some(c) = live.chat(id) {
                c.chat.typed(now);
            }
            Ok(())
        }
        ChatAction::Invite { id, handle } => live.chat(id).map_or(Ok(()), |c| c.chat.invite(&handle, now)),
        ChatAction::Leave(id) => {
            if let Some(c) = live.chat(id) {
                c.chat.leave(now);
            }
            Ok(())
        }
    };
    live.console_error = result.err().map(|e| e.to_string());
    for c in &mut live.chats {
        for frame in c.chat.take_outbox() {
            if let Some(socket) = &c.socket {
                socket.send(frame.as_bytes());
            }
        }
    }
    live.update_title();
}

fn console_send(live: &mut Live, target: &str, line: &str) {
    let now = now_ms();
    let result = match target.parse::<u32>() {
        Ok(id) => live.chat(id).map_or(Ok(()), |c| c.chat.send_raw(line, now)),
        Err(_) => live.session.as_mut().map_or(Ok(()), |s| s.send_raw(line, now)),
    };
    live.console_error = result.err().map(|e| e.to_string());
    for c in &mut live.chats {
        for frame in c.chat.take_outbox() {
            if let Some(socket) = &c.socket {
                socket.send(frame.as_bytes());
            }
        }
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let live = use_mut_ref(Live::default);
    let redraw = use_force_update();
    let replay = use_state(|| None::<Replay>);
    let servers = use_state(Vec::<String>::new);
    {
        let servers = servers.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(names) = crate::api::servers().await {
                    servers.set(names);
                }
            });
        });
    }
    {
        // Coming back to the page marks the open chat read and clears the title's count.
        let (weak, redraw) = (Rc::downgrade(&live), redraw.clone());
        use_effect_with((), move |_| {
            let listener = Closure::<dyn FnMut()>::new(move || with_live(&weak, &redraw, Live::update_title));
            if let Some(d) = document() {
                let _ = d.add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
            }
            move || {
                if let Some(d) = document() {
                    let _ =
                        d.remove_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
                }
            }
        });
    }
    let on_sign_in = {
        let (live, redraw) = (Rc::clone(&live), redraw.clone());
        Callback::from(move |request: SignInRequest| {
            sign_in(&live, &redraw, request);
            redraw.force_update();
        })
    };
    let weak = Rc::downgrade(&live);
    let on_action = {
        let (weak, redraw) = (weak.clone(), redraw.clone());
        Callback::from(move |action: UserAction| with_live(&weak, &redraw, |l| act(l, action.clone())))
    };
    let on_chat = {
        let (weak, redraw) = (weak.clone(), redraw.clone());
        Callback::from(move |action: ChatAction| with_live(&weak, &redraw, |l| chat_act(l, action.clone())))
    };
    let on_console = {
        let (weak, redraw) = (weak.clone(), redraw.clone());
        Callback::from(move |(target, line): (String, String)| {
            with_live(&weak, &redraw, |l| console_send(l, &target, &line))
        })
    };
    let on_sound = {
        let (weak, redraw) = (weak.clone(), redraw.clone());
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
            with_live(&weak, &redraw, |l| l.sound = on);
        })
    };
    let on_notify = {
        let (weak, redraw) = (weak, redraw.clone());
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
            let (weak, redraw) = (weak.clone(), redraw.clone());
            // Permission is asked for here, on the person's click, and only when turning them on.
            wasm_bindgen_futures::spawn_local(async move {
                let allowed = on && alerts::ask_to_notify().await;
                with_live(&weak, &redraw, |l| {
                    l.notify = allowed;
                    l.notify_refused = on && !allowed;
                });
            });
        })
    };

    let on_retry = {
        let (live, redraw) = (Rc::clone(&live), redraw.clone());
        Callback::from(move |_: MouseEvent| retry_now(&live, &redraw))
    };
    let on_replay = {
        let replay = replay.clone();
        Callback::from(move |r: Replay| replay.set(Some(r)))
    };
    let on_replay_action = {
        let replay = replay.clone();
        Callback::from(move |action: ReplayAction| {
            let mut next = (*replay).clone();
            match (action, next.as_mut()) {
                (ReplayAction::Close, _) => next = None,
                (ReplayAction::Step(by), Some(r)) => r.step(by),
                (ReplayAction::End(last), Some(r)) => r.go_to_end(last),
                _ => {}
            }
            replay.set(next);
        })
    };

    let state = live.borrow();
    let session = state.session.as_ref();
    let phase = session.map(Session::phase);
    let mut connections = Vec::new();
    if let Some(log) = &state.dispatch_log {
        connections.push(Connection::new(THIS_PAGE, "Dispatch server"));
        connections[0].log = log.clone();
    }
    let mut ns = Connection::new(THIS_PAGE, "Notification server");
    ns.log = session.map(|s| s.log.clone()).unwrap_or_default();
    connections.push(ns);
    connections.extend(state.chats.iter().map(|c| {
        let mut sb = Connection::new(THIS_PAGE, &format!("Switchboard (chat {}: {})", c.chat.id, c.chat.title()));
        sb.log = c.chat.log.clone();
        sb.closed = c.chat.is_closed();
        sb
    }));
    let signed_in = matches!(phase, Some(NsPhase::Online | NsPhase::Syncing));
    let replaying = replay.as_ref().filter(|_| !signed_in);
    let main = if let Some(r) = replaying {
        connections = r.connections();
        html! {
            <ReplayControls title={r.title.clone()} position={r.position()} current={r.current(&connections)}
                story={r.story.clone()} step={r.story_step().map(|(n, of, s)| (n, of, s.to_owned()))}
                on_action={on_replay_action} />
        }
    } else {
        let callbacks =
            Callbacks { on_sign_in, on_replay, on_action, on_chat, on_console, on_sound, on_notify, on_retry };
        live_view(&state, &servers, signed_in, callbacks)
    };
    html! {
        <div class={classes!("page", signed_in.then_some("signed-in"))}>
            <main class="messenger">
                <h1>{ "MSN Messenger 1.0, in the browser" }</h1>
                <p class="intro">
                    { "Sign in to a 1999 MSN Messenger server from this page, chat, and watch every line of its protocol (MSNP2) explained beside you." }
                </p>
                <ThemeSwitch />
                { main }
            </main>
            <Inspector {connections} replaying={replaying.is_some()} />
        </div>
    }
}

/// The page's callbacks into the live session.
struct Callbacks {
    on_sign_in: Callback<SignInRequest>,
    on_replay: Callback<Replay>,
    on_action: Callback<UserAction>,
    on_chat: Callback<ChatAction>,
    on_console: Callback<(String, String)>,
    on_sound: Callback<Event>,
    on_notify: Callback<Event>,
    on_retry: Callback<MouseEvent>,
}

/// Signing in again by itself: why the session was lost, a countdown to the next attempt (not read aloud
/// each second), and a button to try at once.
fn reconnecting(r: &Reconnect, retry_at: Option<f64>, on_retry: Callback<MouseEvent>) -> Html {
    let next = match retry_at {
        Some(at) => r.countdown(at - now_ms()),
        None => format!("Signing in again now (attempt {})…", r.attempt()),
    };
    html! {
        <section class="notice reconnecting" role="status" aria-label="Signing in again">
            <p>{ r.why.sentence() }{ " The page signs you in again by itself while this tab is open." }</p>
            <p class="countdown" aria-live="off">{ next }</p>
            <button type="button" class="try-now" disabled={retry_at.is_none()} onclick={on_retry}>{ "Try now" }</button>
        </section>
    }
}

/// The sign-in form (with the replay chooser), or the signed-in messenger.
fn live_view(state: &Live, servers: &[String], signed_in: bool, callbacks: Callbacks) -> Html {
    let Callbacks { on_sign_in, on_replay, on_action, on_chat, on_console, on_sound, on_notify, on_retry } = callbacks;
    let session = state.session.as_ref();
    let phase = session.map(Session::phase);
    let now = now_ms();
    match (signed_in, session) {
        (true, Some(s)) => {
            let tabs: Vec<Tab> = state
                .chats
                .iter()
                .map(|c| Tab {
                    id: c.chat.id,
                    title: c.chat.title(),
                    unread: c.chat.unread,
                    closed: c.chat.is_closed(),
                })
                .collect();
            let active =
                state.active_chat.and_then(|id| state.chats.iter().find(|c| c.chat.id == id)).map(|c| ChatView {
                    id: c.chat.id,
                    title: c.chat.title(),
                    lines: c.chat.lines.clone(),
                    presence: c.chat.presence(),
                    typing: c.chat.typing(now),
                    joined: c.chat.joined(),
                    closed: c.chat.is_closed(),
                });
            let mut targets = vec![("ns".to_owned(), "Notification server".to_owned())];
            targets.extend(
                state
                    .chats
                    .iter()
                    .filter(|c| !c.chat.is_closed())
                    .map(|c| (c.chat.id.to_string(), format!("Chat {}: {}", c.chat.id, c.chat.title()))),
            );
            html! {
                <>
                <nav class="panes" aria-label="Parts of the page">
                    <a href="#conversation">{ "Conversation" }</a>
                    <a href="#me">{ "Contacts" }</a>
                    <a href="#inspector-title">{ "Protocol" }</a>
                </nav>
                <div class="columns">
                    <div class="conversation" id="conversation">
                        <Chats {tabs} {active} clock_base_ms={state.clock_base_ms} focus={state.focus_chat}
                            on_action={on_chat} />
                    </div>
                    <div class="people">
                    <ContactList view={s.view()} {on_action} />
                    <label class="check sound">
                        <input type="checkbox" checked={state.sound} onchange={on_sound} />
                        { "Play a sound for new messages while this page is hidden" }
                    </label>
                    if alerts::notifications_supported() {
                        <label class="check sound">
                            <input id="notify" type="checkbox" checked={state.notify} onchange={on_notify} />
                            { "Show desktop notifications for messages and invitations while this page is hidden" }
                        </label>
                        if state.notify_refused { <p class="notice sound" role="status">{ NOTIFICATIONS_REFUSED }</p> }
                    }
                    <Console {targets} error={state.console_error.clone()} on_send={on_console} />
                    </div>
                </div>
                </>
            }
        }
        _ => {
            let busy = phase == Some(NsPhase::SigningIn) || (phase == Some(NsPhase::Idle) && state.socket.is_some());
            // While signing in again by itself, the page says that instead of why the last attempt failed.
            let notice = session
                .and_then(|s| s.notice.clone())
                .or_else(|| state.ended_notice.clone())
                .filter(|_| state.reconnect.is_none());
            // A failed attempt keeps its address for the retry; an ended session leaves only a remembered one.
            let email = session.map(|s| s.handle().to_owned()).or_else(storage::remembered_email).unwrap_or_default();
            html! {
                <>
                    if let Some(r) = &state.reconnect { { reconnecting(r, state.retry_at, on_retry) } }
                    <SignIn servers={servers.to_vec()} {email} remember={storage::remembered_email().is_some()}
                        {notice} {busy} {on_sign_in} />
                    <ReplayChooser on_open={on_replay} />
                </>
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use msnp::{Frame, State};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::session::tests::config;

    /// A page signed in as jd, in a chat (without sockets: the page's state only).
    fn signed_in() -> Live {
        let mut session = Session::new(config("hunter2"), 0.0);
        session.opened(0.0);
        for line in
            ["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S 1.2", "USR 4 OK jd@hotmail.com JD", "SYN 5 0", "CHG 6 NLN"]
        {
            session.received(&Frame::command(line), 1.0);
        }
        let chat = Chat::answer(1, "jd@hotmail.com", "JD", "1.2".into(), "7".into(), 0.0);
        let chat = LiveChat { chat, socket: None, decoder: Decoder::default() };
        let mut live = Live { session: Some(session), chats: vec![chat], active_chat: Some(1), ..Live::default() };
        live.flush();
        assert!(live.session.is_some());
        live
    }

    /// A way a session ends.
    type End = &'static dyn Fn(&mut Session);

    #[test]
    fn the_end_of_a_session_leaves_nothing_of_it_but_why() {
        let ends: [(End, Option<&str>); 4] = [
            (&|s| s.sign_out(2.0), None),
            (&|s| s.received(&Frame::command("OUT OTH"), 2.0), Some("You signed in somewhere else")),
            (&|s| s.received(&Frame::command("OUT SSD"), 2.0), Some("The server is shutting down")),
            (&|s| s.closed(1006, "", 2.0), Some("The connection to the server was lost")),
        ];
        for (end, notice) in ends {
            let mut live = signed_in();
            end(live.session.as_mut().unwrap());
            live.flush();
            assert!(live.session.is_none() && live.chats.is_empty() && live.active_chat.is_none());
            let ended = live.ended_notice.as_deref();
            assert_eq!(ended.map(|n| &n[..notice.map_or(0, str::len).min(n.len())]), notice, "{ended:?}");
        }
    }

    /// jd's sign-in, as the form sends it.
    fn jd_request() -> SignInRequest {
        SignInRequest {
            email: "jd@hotmail.com".into(),
            password: "hunter2".into(),
            server: String::new(),
            state: State::Online,
            remember: false,
        }
    }

    #[test]
    fn a_lost_connection_is_retried_in_the_same_state_other_endings_forget_the_password() {
        let request = jd_request();
        use crate::reconnect::Why;
        let ends: [(End, Option<Why>); 4] = [
            (&|s| s.closed(1006, "", 2.0), Some(Why::Lost)),
            (&|s| s.received(&Frame::command("OUT SSD"), 2.0), Some(Why::Shutdown)),
            (&|s| s.received(&Frame::command("OUT OTH"), 2.0), None),
            (&|s| s.sign_out(2.0), None),
        ];
        for (end, why) in ends {
            let retried = why.is_some();
            let mut live = signed_in();
            live.credentials = Some(request.clone());
            live.session.as_mut().unwrap().set_state(State::Busy, 1.5);
            live.session.as_mut().unwrap().received(&Frame::command("CHG 7 BSY"), 1.6);
            end(live.session.as_mut().unwrap());
            live.flush();
            assert!(live.session.is_none());
            assert_eq!(live.retry_due, retried);
            assert_eq!(live.credentials.is_some(), retried);
            assert_eq!(live.reconnect.as_ref().map(|r| r.request.state), retried.then_some(State::Busy));
            assert_eq!(live.reconnect.as_ref().map(|r| r.why), why);
        }
    }

    #[test]
    fn a_referral_is_followed_with_the_dispatch_servers_lines_kept_a_loop_is_not() {
        let request = jd_request();
        let mut live = Live { credentials: Some(request), ..Live::default() };
        for hop in 1..=MAX_REFERRALS + 1 {
            let mut session = Session::new(config("hunter2"), 0.0);
            session.opened(0.0);
            for line in ["VER 1 MSNP2", "INF 2 MD5", "XFR 3 NS 10.0.0.5:1863"] {
                session.received(&Frame::command(line), 1.0);
            }
            live.session = Some(session);
            live.flush();
            if hop <= MAX_REFERRALS {
                assert_eq!(live.referral.take().as_deref(), Some("10.0.0.5:1863"), "hop {hop}");
                assert!(live.dispatch_log.as_ref().is_some_and(|l| l.iter().any(|l| l.text.starts_with("XFR 3 NS"))));
            } else {
                assert_eq!(live.referral, None, "a loop of referrals is not followed for ever");
                assert!(live.credentials.is_none());
            }
        }
    }

    #[test]
    fn a_first_sign_in_that_cannot_connect_is_not_retried() {
        let mut live = Live { session: Some(Session::new(config("hunter2"), 0.0)), ..Live::default() };
        live.credentials = Some(jd_request());
        live.session.as_mut().unwrap().closed(1006, "", 1.0);
        live.flush();
        assert!(!live.retry_due && live.reconnect.is_none() && live.credentials.is_none());
        assert!(live.session.as_ref().unwrap().notice.as_deref().unwrap().contains("lost"));
    }

    #[test]
    fn a_failed_sign_in_keeps_its_log_and_address_for_the_retry() {
        let mut live = Live { session: Some(Session::new(config("wrong"), 0.0)), ..Live::default() };
        let session = live.session.as_mut().unwrap();
        session.opened(0.0);
        for line in ["VER 1 MSNP2", "INF 2 MD5", "USR 3 MD5 S 1.2", "911 4"] {
            session.received(&Frame::command(line), 1.0);
        }
        live.flush();
        let session = live.session.as_ref().expect("kept");
        assert_eq!(session.notice.as_deref(), Some("Wrong e-mail address or password."));
        assert_eq!(session.handle(), "jd@hotmail.com");
        assert!(session.log.len() >= 7);
    }

    #[test]
    fn a_broken_stream_ends_the_session() {
        let mut live = signed_in();
        ns_received(&mut live, b"LST 7 FL 1 1 1 \xff\xfe\r\n");
        live.flush();
        assert!(live.session.is_none() && live.chats.is_empty());
        assert!(live.ended_notice.as_deref().is_some_and(|n| n.contains("not MSNP")), "{:?}", live.ended_notice);
    }
}
