//! The page's WebSocket to the bridge (web-sys), delivering whole messages as bytes.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// An open (or opening) WebSocket; dropping it closes it without calling back.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("url", &self.ws.url()).finish()
    }
}

impl Socket {
    /// Opens `url`; the callbacks get the open event, each message's bytes, and the close code and reason.
    pub fn open(
        url: &str,
        on_open: impl FnMut() + 'static,
        mut on_message: impl FnMut(Vec<u8>) + 'static,
        mut on_close: impl FnMut(u16, String) + 'static,
    ) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("cannot open {url}: {e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = Closure::<dyn FnMut()>::new(on_open);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let bytes = match data.as_string() {
                Some(text) => text.into_bytes(),
                None => match data.dyn_into::<js_sys::ArrayBuffer>() {
                    Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
                    Err(_) => return,
                },
            };
            on_message(bytes);
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_close(event.code(), event.reason());
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    /// Sends one command: a text message, or binary when its bytes are not UTF-8.
    pub fn send(&self, bytes: &[u8]) {
        let _ = match std::str::from_utf8(bytes) {
            Ok(text) => self.ws.send_with_str(text),
            Err(_) => self.ws.send_with_u8_array(bytes),
        };
    }

    pub fn close(&self) {
        let _ = self.ws.close();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
