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
    crate::components::focus::focus(&format!("chat-input-{id}"));
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
                    crate::components::focus::focus(&format!("chat-tab-{id}"));
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
                <crate::components::messages::Messages id={id} lines={c.lines.clone()} clock_base_ms={props.clock_base_ms} />
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
