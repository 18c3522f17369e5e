//! Files in and out of the page: downloads made here, and files the person opens.

use wasm_bindgen::JsCast;

/// Offers `text` as a file named `name`, of type `mime`.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(a) = document.and_then(|d| d.create_element("a").ok()) {
        let _ = a.set_attribute("href", &url);
        let _ = a.set_attribute("download", name);
        if let Ok(a) = a.dyn_into::<web_sys::HtmlElement>() {
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// The text of a file the person chose, or why it cannot be read.
pub async fn read_text(file: &web_sys::File, max_bytes: usize) -> Result<String, String> {
    if file.size() > max_bytes as f64 {
        return Err(format!("{} is larger than {} MB.", file.name(), max_bytes / 1024 / 1024));
    }
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
    text.ok().and_then(|t| t.as_string()).ok_or_else(|| format!("{} could not be read as text.", file.name()))
}
