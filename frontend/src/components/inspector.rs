//! The protocol inspector: every line in and out, with time, direction and meaning, as text or as a
//! sequence diagram; filter, copy, download.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::diagram::Diagram;
use crate::files;
use crate::log::{Direction, LogLine};
use crate::transcript::{self, Connection};

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    /// The notification server's connection first, then each switchboard's.
    pub connections: Vec<Connection>,
    /// A replay: the diagram shows the latest line.
    #[prop_or_default]
    pub replaying: bool,
}

/// Which view of the lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Lines,
    Diagram,
}

fn line_view(l: &LogLine) -> Html {
    let (class, arrow, who) = match l.direction {
        Direction::Sent => ("sent", "→", "to the server"),
        Direction::Received => ("received", "←", "from the server"),
    };
    html! {
        <li class={class}>
            <span class="time">{ format!("{}.{:03}", l.at_ms / 1000, l.at_ms % 1000) }</span>
            <span class="dir" aria-label={who}>{ arrow }</span>
            <code>{ l.shown_text().into_owned() }</code>
            <span class="note">{ &l.note }</span>
        </li>
    }
}

#[function_component(Inspector)]
pub fn inspector(props: &Props) -> Html {
    let filter = use_state(String::new);
    let copied = use_state(|| false);
    let chosen = use_state(|| 0usize);
    let view = use_state(|| View::Lines);
    let index = (*chosen).min(props.connections.len().saturating_sub(1));
    let lines = props.connections.get(index).map(|c| c.log.clone()).unwrap_or_default();
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
    let shown = lines.iter().filter(|l| {
        needle.is_empty() || l.text.to_lowercase().contains(&needle) || l.note.to_lowercase().contains(&needle)
    });
    let on_copy = {
        let (connections, copied) = (props.connections.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&transcript::export(&connections));
                copied.set(true);
            }
        })
    };
    let on_download = {
        let connections = props.connections.clone();
        Callback::from(move |_: MouseEvent| {
            files::download("msnp-transcript.txt", "text/plain", &transcript::export(&connections))
        })
    };
    let switch = |to: View, id: &'static str, label: &'static str| {
        let view = view.clone();
        html! {
            <label class="check" for={id}>
                <input type="radio" name="inspector-view" {id} checked={*view == to}
                    onchange={Callback::from(move |_: Event| view.set(to))} />
                { label }
            </label>
        }
    };
    html! {
        <aside class="inspector" aria-labelledby="inspector-title">
            <h2 id="inspector-title">{ "Protocol inspector" }</h2>
            <div class="tools">
                <fieldset class="view">
                    <legend>{ "Show" }</legend>
                    { switch(View::Lines, "view-lines", "Lines") }
                    { switch(View::Diagram, "view-diagram", "Sequence diagram") }
                </fieldset>
                <button type="button" onclick={on_copy}>{ if *copied { "Copied" } else { "Copy" } }</button>
                <button type="button" onclick={on_download}>{ "Download" }</button>
            </div>
            if *view == View::Diagram {
                <Diagram connections={props.connections.clone()} follow={props.replaying} />
            } else {
                <div class="tools">
                    <label for="inspector-connection">{ "Connection" }</label>
                    <select id="inspector-connection" onchange={on_choose}>
                        { for props.connections.iter().enumerate().map(|(i, c)| html! {
                            <option value={i.to_string()} selected={i == index}>{ c.label() }</option>
                        }) }
                    </select>
                    <label for="inspector-filter">{ "Filter" }</label>
                    <input id="inspector-filter" type="search" value={(*filter).clone()} {oninput} />
                </div>
                // Focusable, so that the scrollable log can be scrolled from the keyboard.
                <ol class="log" tabindex="0" aria-label="Protocol log">{ for shown.map(line_view) }</ol>
            }
        </aside>
    }
}
