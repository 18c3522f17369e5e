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
    pub on_action: Callback<ChatAction>,
}

fn time(base: f64, at_ms: u32) -> String {
    let date = js_sys::Date::new(&(base + f64::from(at_ms)).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

fn line(l: &ChatLine, base: f64) -> Html {
    match l {
        ChatLine::Message { at_ms, who, mine, text, font, undelivered, .. } => {
            let style = font.as_ref().map(|f| f.css()).unwrap_or_default();
            html! {
                <li class={classes!("message", mine.then_some("mine"), undelivered.then_some("undelivered"))}>
                    <span class="time">{ time(base, *at_ms) }</span>
                    <span class="who">{ format!("{who} says:") }</span>
                    <span class="text" {style}>{ text }</span>
                    if *undelivered { <span class="nak">{ " — not delivered: nobody else is in the conversation" }</span> }
                </li>
            }
        }
        ChatLine::Event { at_ms, text } => html! {
            <li class="event"><span class="time">{ time(base, *at_ms) }</span>{ text }</li>
        },
    }
}

#[function_component(Chats)]
pub fn chats(props: &Props) -> Html {
    if props.tabs.is_empty() {
        return html! {};
    }
    let on_action = &props.on_action;
    let tabs = props.tabs.iter().map(|t| {
        let selected = props.active.as_ref().is_some_and(|a| a.id == t.id);
        let onclick = on_action.reform({
            let id = t.id;
            move |_: MouseEvent| ChatAction::Select(id)
        });
        let label = if t.unread > 0 { format!("{} ({})", t.title, t.unread) } else { t.title.clone() };
        html! {
            <button type="button" role="tab" id={format!("chat-tab-{}", t.id)} aria-selected={selected.to_string()}
                class={classes!(t.closed.then_some("closed"))} {onclick}>{ label }</button>
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
                <ol class="messages" aria-live="polite" tabindex="0" aria-label="Messages">{ for c.lines.iter().map(|l| line(l, props.clock_base_ms)) }</ol>
                <p class="typing" aria-live="polite">
                    { match c.typing.len() {
                        0 => String::new(),
                        1 => format!("{} is typing…", c.typing[0]),
                        _ => format!("{} are typing…", c.typing.join(", ")),
                    } }
                </p>
                if c.joined {
                    { one_field(OneField { id: format!("chat-input-{id}"), label: "Message", kind: "text", button: "Send",
                        placeholder: "", clear: true, on_submit: on_action.reform(move |text| ChatAction::Send { id, text }),
                        on_input: Some(on_action.reform(move |()| ChatAction::Typed(id))) }) }
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
