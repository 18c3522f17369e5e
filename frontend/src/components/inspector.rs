//! The protocol inspector: every line in and out, with time, direction and meaning; filter, copy, download.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::log::{Direction, Log, LogLine};

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    /// One log per connection: the notification server first, then each switchboard.
    pub logs: Vec<(String, Log)>,
}

/// The transcript as text, for Copy and Download: `+0.042s C: VER 1 MSNP2 CVR0`, with the MD5 response
/// hidden (it stays on screen).
pub fn transcript(lines: &[LogLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let who = if l.direction == Direction::Sent { "C" } else { "S" };
            format!("+{}.{:03}s {who}: {}\n", l.at_ms / 1000, l.at_ms % 1000, l.exported_text())
        })
        .collect()
}

fn download(text: &str) {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/plain");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(a) = document.and_then(|d| d.create_element("a").ok()) {
        let _ = a.set_attribute("href", &url);
        let _ = a.set_attribute("download", "msnp-transcript.txt");
        if let Ok(a) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(a) {
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[function_component(Inspector)]
pub fn inspector(props: &Props) -> Html {
    let filter = use_state(String::new);
    let copied = use_state(|| false);
    let chosen = use_state(|| 0usize);
    let index = (*chosen).min(props.logs.len().saturating_sub(1));
    let lines = props.logs.get(index).map(|(_, l)| l.clone()).unwrap_or_default();
    let on_choose = {
        let chosen = chosen.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            chosen.set(value.parse().unwrap_or(0));
        })
    };
    let oninput = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| filter.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let needle = filter.to_lowercase();
    let shown: Vec<&LogLine> = lines
        .iter()
        .filter(|l| {
            needle.is_empty() || l.text.to_lowercase().contains(&needle) || l.note.to_lowercase().contains(&needle)
        })
        .collect();
    let on_copy = {
        let (lines, copied) = (lines.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&transcript(&lines));
                copied.set(true);
            }
        })
    };
    let on_download = {
        let lines = lines.clone();
        Callback::from(move |_: MouseEvent| download(&transcript(&lines)))
    };
    html! {
        <aside class="inspector" aria-labelledby="inspector-title">
            <h2 id="inspector-title">{ "Protocol inspector" }</h2>
            <div class="tools">
                <label for="inspector-connection">{ "Connection" }</label>
                <select id="inspector-connection" onchange={on_choose}>
                    { for props.logs.iter().enumerate().map(|(i, (label, _))| html! {
                        <option value={i.to_string()} selected={i == index}>{ label }</option>
                    }) }
                </select>
                <label for="inspector-filter">{ "Filter" }</label>
                <input id="inspector-filter" type="search" value={(*filter).clone()} {oninput} />
                <button type="button" onclick={on_copy}>{ if *copied { "Copied" } else { "Copy" } }</button>
                <button type="button" onclick={on_download}>{ "Download" }</button>
            </div>
            <ol class="log">
                { for shown.iter().map(|l| {
                    let (class, arrow, who) = match l.direction {
                        Direction::Sent => ("sent", "→", "to the server"),
                        Direction::Received => ("received", "←", "from the server"),
                    };
                    html! {
                        <li class={class}>
                            <span class="time">{ format!("{}.{:03}", l.at_ms / 1000, l.at_ms % 1000) }</span>
                            <span class="dir" aria-label={who}>{ arrow }</span>
                            <code>{ &l.text }</code>
                            <span class="note">{ &l.note }</span>
                        </li>
                    }
                }) }
            </ol>
        </aside>
    }
}
