//! The bridge's HTTP endpoints besides the WebSocket: the servers it offers, guest and demo accounts.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A response's status and its body as text.
async fn fetch(path: &str, method: &str) -> Option<(u16, String)> {
    let window = web_sys::window()?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.ok()?;
    let response: web_sys::Response = response.dyn_into().ok()?;
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string()?;
    Some((response.status(), text))
}

/// The server names the bridge offers (`GET /servers`), first is the default.
pub async fn servers() -> Option<Vec<String>> {
    let (200, text) = fetch("servers", "GET").await? else { return None };
    let json = js_sys::JSON::parse(&text).ok()?;
    Some(js_sys::Array::from(&json).iter().filter_map(|v| v.as_string()).collect())
}

/// The bridge's temporary accounts (`GET /guest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestOffer {
    /// How many hours one lasts.
    pub hours: u32,
    /// Whether a guest may add anyone (else: the robots, other guests, and people who add it first).
    pub everyone: bool,
}

/// What temporary accounts the bridge makes, if any.
pub async fn guest_offer() -> Option<GuestOffer> {
    let (200, text) = fetch("guest", "GET").await? else { return None };
    let json = js_sys::JSON::parse(&text).ok()?;
    let field = |name: &str| js_sys::Reflect::get(&json, &name.into()).ok();
    let hours = field("hours")?.as_f64()? as u32;
    Some(GuestOffer { hours, everyone: field("everyone").and_then(|v| v.as_bool()).unwrap_or(false) })
}

/// A new guest account, e-mail and password (`POST /guest`), or the bridge's reason why not.
pub async fn make_guest() -> Result<(String, String), String> {
    let unreachable = || "The bridge could not be reached; try again.".to_owned();
    let (status, text) = fetch("guest", "POST").await.ok_or_else(unreachable)?;
    if status != 200 {
        return Err(text);
    }
    let json = js_sys::JSON::parse(&text).map_err(|_| unreachable())?;
    let field = |name: &str| js_sys::Reflect::get(&json, &name.into()).ok().and_then(|v| v.as_string());
    field("email").zip(field("password")).ok_or_else(unreachable)
}

/// The demo accounts the bridge's embedded server has (`GET /demo`): e-mail and password.
pub async fn demo_accounts() -> Vec<(String, String)> {
    let Some((200, text)) = fetch("demo", "GET").await else { return Vec::new() };
    let Ok(json) = js_sys::JSON::parse(&text) else { return Vec::new() };
    let field = |v: &wasm_bindgen::JsValue, name: &str| js_sys::Reflect::get(v, &name.into()).ok()?.as_string();
    js_sys::Array::from(&json).iter().filter_map(|v| field(&v, "email").zip(field(&v, "password"))).collect()
}
