//! Conversations: a tab per chat, messages with sender and time, typing, participants, invite, leave.

use yew::prelude::*;

use crate::chat::ChatLine;
use crate::components::field::{OneField, one_field};

/// A chat's tab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tab {
    pub id: u32,
    pub title: String,
    pub unread: u32,
    pub closed: bool,
}

/// The open chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatView {
    pub id: u32,
    pub title: String,
    pub lines: Vec<ChatLine>,
    /// Who is here, in a sentence ([`crate::chat::Chat::presence`]).
    pub presence: String,
    pub typing: Vec<String>,
    pub joined: bool,
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatAction {
    Select(u32),
    Send { id: u32, text: String },
    Typed(u32),
    Invite { id: u32, handle: String },
    Leave(u32),
    Dismiss(u32),
}

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    pub tabs: Vec<Tab>,
    pub active: Option<ChatView>,
    /// Wall-clock milliseconds at the sign-in's start, to show message times.
    pub clock_base_ms: f64,
    /// The chat whose message box gets keyboard focus: one the person just started.
    #[prop_or_default]
    pub focus: Option<u32>,
    pub on_action: Callback<ChatAction>,
}

fn time(base: f64, at_ms: u32) -> String {
    let date = js_sys::Date::new(&(base + f64::from(at_ms)).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

fn line(l: &ChatLine, base: f64) -> Html {
    match l {
        ChatLine::Message { at_ms, who, mine, text, font, undelivered, waiting, .. } => {
            let style = font.as_ref().map(|f| f.css()).unwrap_or_default();
            let classes = classes!(
                "message",
                mine.then_some("mine"),
                undelivered.then_some("undelivered"),
                waiting.then_some("waiting")
            );
            html! {
                <li class={classes}>
                    <span class="time">{ time(base, *at_ms) }</span>
                    <span class="who">{ format!("{who} says:") }</span>
                    <span class="text" {style}>{ text }</span>
                    if *undelivered { <span class="nak">{ " — not delivered: nobody else is in the conversation" }</span> }
                    if *waiting { <span class="held">{ " — waiting: sent once someone joins" }</span> }
                </li>
            }
        }
        ChatLine::Event { at_ms, text } => html! {
            <li class="event"><span class="time">{ time(base, *at_ms) }</span>{ text }</li>
        },
    }
}

/// The tab the ARIA tabs pattern moves to from tab `index` on `key`: arrows wrap around, Home and End go
/// to the first and last.
pub fn tab_to(key: &str, index: usize, ids: &[u32]) -> Option<u32> {
    let last = ids.len().checked_sub(1)?;
    let to = match key {
        "ArrowRight" | "ArrowDown" => {
            if index >= last {
                0
            } else {
                index + 1
            }
        }
        "ArrowLeft" | "ArrowUp" => {
            if index == 0 {
                last
            } else {
                index - 1
            }
        }
        "Home" => 0,
        "End" => last,
        _ => return None,
    };
    ids.get(to).copied()
}

/// Puts the keyboard in chat `id`'s message box.
pub fn focus_message_box(id: u32) {
    focus(&format!("chat-input-{id}"));
}

#[derive(Properties, PartialEq, Debug)]
struct MessagesProps {
    id: u32,
    lines: Vec<ChatLine>,
    clock_base_ms: f64,
}

/// How near the end (in pixels) still counts as reading the newest messages.
const AT_END_PX: i32 = 24;

/// A conversation's messages: the list stays at the newest while they arrive, unless the person scrolled
/// up to read; then a button says there are new ones and takes them down.
#[function_component(Messages)]
fn messages(props: &MessagesProps) -> Html {
    let list = use_node_ref();
    // Whether the person is at the end of the list (kept across renders, no redraw needed).
    let following = use_mut_ref(|| true);
    let unseen = use_state(|| false);
    {
        let (list, following, unseen) = (list.clone(), following.clone(), unseen.clone());
        use_effect_with((props.id, props.lines.len()), move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                if *following.borrow() {
                    el.set_scroll_top(el.scroll_height());
                } else if !*unseen {
                    unseen.set(true);
                }
            }
        });
    }
    {
        // Another conversation shown: start at its end.
        let following = following.clone();
        use_effect_with(props.id, move |_| *following.borrow_mut() = true);
    }
    let onscroll = {
        let (list, following, unseen) = (list.clone(), following.clone(), unseen.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                let at_end = el.scroll_top() + el.client_height() >= el.scroll_height() - AT_END_PX;
                *following.borrow_mut() = at_end;
                if at_end && *unseen {
                    unseen.set(false);
                }
            }
        })
    };
    let to_end = {
        let (list, following, unseen) = (list.clone(), following, unseen.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
            *following.borrow_mut() = true;
            unseen.set(false);
        })
    };
    html! {
        <div class="message-list">
            <ol class="messages" ref={list} {onscroll} aria-live="polite" tabindex="0" aria-label="Messages">
                { for props.lines.iter().map(|l| line(l, props.clock_base_ms)) }
            </ol>
            if *unseen {
                <button type="button" class="new-messages" onclick={to_end}>{ "New messages ↓" }</button>
            }
        </div>
    }
}

/// Moves keyboard focus to the element with this id, if it exists.
pub fn focus(id: &str) {
    use wasm_bindgen::JsCast;
    let Some(element) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) else {
        return;
    };
    // HTML elements and SVG ones (the diagram's arrows) each have their own focus().
    match element.dyn_into::<web_sys::HtmlElement>() {
        Ok(html) => drop(html.focus()),
        Err(other) => {
            if let Ok(svg) = other.dyn_into::<web_sys::SvgElement>() {
                let _ = svg.focus();
            }
        }
    }
}

#[function_component(Chats)]
pub fn chats(props: &Props) -> Html {
    use_effect_with(props.focus, |focus| {
        if let Some(id) = focus {
            focus_message_box(*id);
        }
    });
    if props.tabs.is_empty() {
        return html! {
            <section class="chats" aria-labelledby="chats-title">
                <h2 id="chats-title">{ "Conversations" }</h2>
                <p class="hint">{ "Conversations open here: press Chat beside a contact who is online." }</p>
            </section>
        };
    }
    let on_action = &props.on_action;
    let ids: Vec<u32> = props.tabs.iter().map(|t| t.id).collect();
    let tabs = props.tabs.iter().enumerate().map(|(index, t)| {
        let selected = props.active.as_ref().is_some_and(|a| a.id == t.id);
        let onclick = on_action.reform({
            let id = t.id;
            move |_: MouseEvent| ChatAction::Select(id)
        });
        let onkeydown = {
            let (ids, on_action) = (ids.clone(), on_action.clone());
            Callback::from(move |e: KeyboardEvent| {
                if let Some(id) = tab_to(&e.key(), index, &ids) {
                    e.prevent_default();
                    focus(&format!("chat-tab-{id}"));
                    on_action.emit(ChatAction::Select(id));
                }
            })
        };
        let label = if t.unread > 0 { format!("{} ({})", t.title, t.unread) } else { t.title.clone() };
        html! {
            <button type="button" role="tab" id={format!("chat-tab-{}", t.id)} aria-selected={selected.to_string()}
                aria-controls={format!("chat-{}", t.id)} tabindex={if selected || (props.active.is_none() && index == 0) { "0" } else { "-1" }}
                class={classes!(t.closed.then_some("closed"))} {onclick} {onkeydown}>{ label }</button>
        }
    });
    let panel = props.active.as_ref().map(|c| {
        let id = c.id;
        let leave_or_dismiss = if c.closed {
            html! { <button type="button" onclick={on_action.reform(move |_: MouseEvent| ChatAction::Dismiss(id))}>{ "Close" }</button> }
        } else {
            html! { <button type="button" class="leave" onclick={on_action.reform(move |_: MouseEvent| ChatAction::Leave(id))}>{ "Leave" }</button> }
        };
        html! {
            <div role="tabpanel" class="chat" id={format!("chat-{id}")} aria-labelledby={format!("chat-tab-{id}")}>
                <p class="participants">
                    { &c.presence }
                </p>
                <Messages id={id} lines={c.lines.clone()} clock_base_ms={props.clock_base_ms} />
                <p class="typing" aria-live="polite">
                    { match c.typing.len() {
                        0 => String::new(),
                        1 => format!("{} is typing…", c.typing[0]),
                        _ => format!("{} are typing…", c.typing.join(", ")),
                    } }
                </p>
                if !c.closed {
                    { one_field(OneField { id: format!("chat-input-{id}"), label: "Message", kind: "text", button: "Send",
                        placeholder: "", clear: true, on_submit: on_action.reform(move |text| ChatAction::Send { id, text }),
                        on_input: Some(on_action.reform(move |()| ChatAction::Typed(id))) }) }
                }
                if c.joined {
                    { one_field(OneField { id: format!("chat-invite-{id}"), label: "Invite someone (e-mail address)",
                        kind: "email", button: "Invite", placeholder: "", clear: true,
                        on_submit: on_action.reform(move |handle| ChatAction::Invite { id, handle }), on_input: None }) }
                }
                { leave_or_dismiss }
            </div>
        }
    });
    html! {
        <section class="chats" aria-labelledby="chats-title">
            <h2 id="chats-title">{ "Conversations" }</h2>
            <div role="tablist" aria-labelledby="chats-title">{ for tabs }</div>
            { for panel }
        </section>
    }
}
