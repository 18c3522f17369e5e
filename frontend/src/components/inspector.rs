//! The protocol inspector: every line in and out, with time, direction and meaning, as text or as a
//! sequence diagram; filter, copy, download.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::diagram::Diagram;
use crate::explain::Conn;
use crate::files;
use crate::log::{Direction, LogLine};
use crate::transcript::{self, Connection, THIS_PAGE};

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

/// A short name for each connection, for the column of the All connections view: `NS`, `SB 1` …, with
/// whose connection it is when that is not this page.
pub fn short_names(connections: &[Connection]) -> Vec<String> {
    let mut switchboards = 0;
    connections
        .iter()
        .map(|c| {
            let name = match (c.conn, c.server.as_str()) {
                (Conn::Switchboard, _) => {
                    switchboards += 1;
                    format!("SB {switchboards}")
                }
                (_, "Dispatch server") => "DS".to_owned(),
                _ => "NS".to_owned(),
            };
            if c.client == THIS_PAGE { name } else { format!("{}: {name}", c.client) }
        })
        .collect()
}

/// Every connection's lines in time order (the order they happened in, for lines at the same
/// millisecond), each with its connection's index and its own.
pub fn all_lines(connections: &[Connection]) -> Vec<(usize, usize, &LogLine)> {
    let mut lines: Vec<(usize, usize, &LogLine)> = connections
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.log.iter().enumerate().map(move |(n, l)| (i, n, l)))
        .collect();
    lines.sort_by_key(|(_, _, l)| l.at_ms);
    lines
}

/// The selected line taken apart: each field's name, bytes and meaning.
fn field_table(c: &Connection, line: &LogLine) -> Html {
    let rows = crate::fields::fields(c.conn, line.direction, &line.text);
    html! {
        <table class="fields">
            <caption>{ format!("Fields of {}: {}", c.label(), line.text) }</caption>
            <thead><tr><th scope="col">{ "Field" }</th><th scope="col">{ "Bytes" }</th><th scope="col">{ "Meaning" }</th></tr></thead>
            <tbody>
                { for rows.into_iter().map(|f| html! {
                    <tr><th scope="row">{ f.name }</th><td><code>{ f.bytes }</code></td><td>{ f.meaning }</td></tr>
                }) }
            </tbody>
        </table>
    }
}

/// A line of the log: pressing its bytes selects it for the field table.
fn line_view(l: &LogLine, conn: Option<&str>, selected: bool, onclick: Callback<MouseEvent>) -> Html {
    let (class, arrow, who) = match l.direction {
        Direction::Sent => ("sent", "→", "to the server"),
        Direction::Received => ("received", "←", "from the server"),
    };
    html! {
        <li class={classes!(class, selected.then_some("selected"))}>
            <span class="time">{ format!("{}.{:03}", l.at_ms / 1000, l.at_ms % 1000) }</span>
            if let Some(conn) = conn { <span class="conn">{ conn }</span> }
            <span class="dir" aria-label={who}>{ arrow }</span>
            <button type="button" class="line" aria-pressed={selected.to_string()} {onclick}>
                <code>{ l.shown_text().into_owned() }</code>
            </button>
            <span class="note">{ &l.note }</span>
        </li>
    }
}

#[function_component(Inspector)]
pub fn inspector(props: &Props) -> Html {
    let copied = use_state(|| false);
    let view = use_state(|| View::Lines);
    // Kept here, so that they survive a look at the diagram: the filter, the connection (None: all).
    let filter = use_state(String::new);
    let chosen = use_state(|| None::<usize>);
    // The line picked in either view, (connection, index), with the number of diagram arrows then.
    let selection = use_state(|| None::<((usize, usize), usize)>);
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
    let connections = props.connections.clone();
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
                <Diagram {connections} follow={props.replaying} {selection} />
            } else {
                <Lines {connections} {filter} {chosen} {selection} />
            }
        </aside>
    }
}

#[derive(Properties, PartialEq, Debug)]
struct LinesProps {
    connections: Vec<Connection>,
    filter: UseStateHandle<String>,
    chosen: UseStateHandle<Option<usize>>,
    selection: UseStateHandle<Option<((usize, usize), usize)>>,
}

/// The lines view: every connection's lines (or one's), filtered, each pressable for its field table.
#[function_component(Lines)]
fn lines_view(props: &LinesProps) -> Html {
    let LinesProps { connections, filter, chosen, selection } = props;
    let index = (**chosen).filter(|i| *i < connections.len());
    let names = short_names(connections);
    let on_choose = {
        let chosen = chosen.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            chosen.set(value.parse().ok());
        })
    };
    let oninput = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| filter.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let needle = filter.to_lowercase();
    let lines: Vec<(usize, usize, &LogLine)> = match index {
        Some(i) => connections[i].log.iter().enumerate().map(|(n, l)| (i, n, l)).collect(),
        None => all_lines(connections),
    };
    let picked = selection.map(|(line, _)| line);
    let shown = lines.into_iter().filter(|(_, _, l)| {
        needle.is_empty() || l.text.to_lowercase().contains(&needle) || l.note.to_lowercase().contains(&needle)
    });
    let shown: Vec<Html> = shown
        .map(|(i, n, l)| {
            let selection = selection.clone();
            let onclick = Callback::from(move |_: MouseEvent| selection.set(Some(((i, n), 0))));
            line_view(l, index.is_none().then(|| names[i].as_str()), picked == Some((i, n)), onclick)
        })
        .collect();
    let table = picked.and_then(|(i, n)| {
        let c = connections.get(i)?;
        Some(field_table(c, c.log.get(n)?))
    });
    html! {
        <>
            <div class="tools">
                <label for="inspector-connection">{ "Connection" }</label>
                <select id="inspector-connection" onchange={on_choose}>
                    <option value="all" selected={index.is_none()}>{ "All connections" }</option>
                    { for connections.iter().enumerate().map(|(i, c)| html! {
                        <option value={i.to_string()} selected={index == Some(i)}>{ c.label() }</option>
                    }) }
                </select>
                <label for="inspector-filter">{ "Filter" }</label>
                <input id="inspector-filter" type="search" value={(**filter).clone()} {oninput} />
            </div>
            <Follow lines={shown} all={index.is_none()} />
            if let Some(table) = table { { table } } else {
                <p class="hint fields-hint">{ "Press a line to see its fields: each one's name, bytes and meaning." }</p>
            }
        </>
    }
}

#[derive(Properties, PartialEq, Debug)]
struct FollowProps {
    lines: Vec<Html>,
    /// The All connections view (a column naming each line's connection).
    all: bool,
}

/// The log, scrolled to its newest line as lines arrive while "Follow new lines" is on (the default);
/// scrolling up to read turns it off, as a packet list does.
#[function_component(Follow)]
fn follow(props: &FollowProps) -> Html {
    let list = use_node_ref();
    let following = use_state(|| true);
    {
        let (list, following) = (list.clone(), *following);
        use_effect(move || {
            if let Some(el) = list.cast::<web_sys::Element>().filter(|_| following) {
                crate::components::scroll::to_end(&el);
            }
        });
    }
    let onscroll = {
        let (list, following) = (list.clone(), following.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                let at_end = crate::components::scroll::at_end(&el);
                if at_end != *following {
                    following.set(at_end);
                }
            }
        })
    };
    let onchange = {
        let following = following.clone();
        Callback::from(move |e: Event| following.set(e.target_unchecked_into::<HtmlInputElement>().checked()))
    };
    html! {
        <>
            <label class="check follow" for="inspector-follow">
                <input type="checkbox" id="inspector-follow" checked={*following} {onchange} />
                { "Follow new lines" }
            </label>
            if props.lines.is_empty() {
                <p class="hint empty">{ "Every line this page and the servers exchange appears here as it happens, explained." }</p>
            }
            // Focusable, so that the scrollable log can be scrolled from the keyboard.
            <ol class={classes!("log", props.all.then_some("all"))} ref={list} {onscroll} tabindex="0"
                aria-label="Protocol log">
                { for props.lines.iter().cloned() }
            </ol>
        </>
    }
}
