//! Telling the person about messages and invitations while the page is hidden: a short beep and desktop
//! notifications, both off until they turn them on (permission is asked for on that click, never on load).

use wasm_bindgen::JsValue;

/// A short beep through Web Audio; one audio context for the page's life (browsers allow only a few).
pub fn beep(audio: &mut Option<web_sys::AudioContext>) {
    if audio.is_none() {
        *audio = web_sys::AudioContext::new().ok();
    }
    let Some(ctx) = audio.as_ref() else { return };
    let (Ok(osc), Ok(gain)) = (ctx.create_oscillator(), ctx.create_gain()) else { return };
    osc.frequency().set_value(880.0);
    gain.gain().set_value(0.1);
    let _ = osc.connect_with_audio_node(&gain).and_then(|_| gain.connect_with_audio_node(&ctx.destination()));
    let _ = osc.start().and_then(|()| osc.stop_with_when(ctx.current_time() + 0.15));
}

/// Whether this browser has notifications here (not on plain http to another machine, for one).
pub fn notifications_supported() -> bool {
    web_sys::window().is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("Notification")).unwrap_or(false))
}

/// Asks for permission to notify (call it from a click only); whether it was granted.
pub async fn ask_to_notify() -> bool {
    if !notifications_supported() {
        return false;
    }
    let Ok(promise) = web_sys::Notification::request_permission() else { return false };
    let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
    answer.ok().and_then(|a| a.as_string()).is_some_and(|a| a == "granted")
}

/// A desktop notification; a later one with the same `tag` replaces it (one per chat).
pub fn notify(title: &str, body: &str, tag: &str) {
    if !notifications_supported() || web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    let _ = web_sys::Notification::new_with_options(title, &options);
}
