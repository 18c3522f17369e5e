//! The signed-in view: own name and state, contacts grouped Online / Offline, list management.

use msnp::{Blp, State};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::components::field::{OneField, one_field};
pub use crate::session::{AddedBy, Row, View};

/// What the person did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAction {
    SetState(State),
    Rename(String),
    Add(String),
    Remove(String),
    Block(String),
    Unblock(String),
    Privacy(Blp),
    Answer {
        handle: String,
        allow: bool,
    },
    /// Start a conversation.
    Chat(String),
    SignOut,
}

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    pub view: View,
    pub on_action: Callback<UserAction>,
}

/// The state to show after a name: none where the group says it (Online, Offline) or the name already
/// ends with it ("Mood (Idle)").
fn state_suffix(r: &Row) -> Option<String> {
    let state = r.state.filter(|s| *s != State::Online)?;
    let suffix = format!(" ({})", state.label());
    (!r.name.ends_with(&suffix)).then_some(suffix)
}

fn row(r: &Row, confirming: &UseStateHandle<Option<String>>, on_action: &Callback<UserAction>) -> Html {
    let act = |make: fn(String) -> UserAction| {
        let (handle, on_action) = (r.handle.clone(), on_action.clone());
        Callback::from(move |_: MouseEvent| on_action.emit(make(handle.clone())))
    };
    let ask_to_remove = {
        let (handle, confirming) = (r.handle.clone(), confirming.clone());
        Callback::from(move |_: MouseEvent| confirming.set(Some(handle.clone())))
    };
    let remove = {
        let (handle, confirming, on_action) = (r.handle.clone(), confirming.clone(), on_action.clone());
        Callback::from(move |_: MouseEvent| {
            confirming.set(None);
            on_action.emit(UserAction::Remove(handle.clone()));
        })
    };
    let keep = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(None))
    };
    let asking = confirming.as_deref() == Some(r.handle.as_str());
    let (block_label, block) =
        if r.blocked { ("Unblock", act(UserAction::Unblock)) } else { ("Block", act(UserAction::Block)) };
    html! {
        <li class={classes!("contact", r.state.map(|s| s.as_str().to_lowercase()))} data-handle={r.handle.clone()}>
            <span class="dot" aria-hidden="true"></span>
            <span class="name">{ &r.name }</span>
            if let Some(state) = state_suffix(r) { <span class="state">{ state }</span> }
            if r.blocked { <span class="blocked">{ " — blocked" }</span> }
            <span class="handle">{ &r.handle }</span>
            <span class="actions">
                if r.state.is_some() && !r.blocked {
                    <button type="button" aria-label={format!("Chat with {}", r.name)} onclick={act(UserAction::Chat)}>{ "Chat" }</button>
                }
                <button type="button" aria-label={format!("{block_label} {}", r.name)} onclick={block}>{ block_label }</button>
                <button type="button" aria-label={format!("Remove {}", r.name)} aria-expanded={asking.to_string()}
                    onclick={ask_to_remove}>{ "Remove" }</button>
            </span>
            if asking {
                <span class="confirm" role="group" aria-label={format!("Remove {}?", r.name)}>
                    { format!("Remove {} from your contacts? They can still see you unless you block them. ", r.name) }
                    <button type="button" class="confirm-remove" onclick={remove}>{ "Remove" }</button>
                    <button type="button" onclick={keep}>{ "Keep" }</button>
                </span>
            }
        </li>
    }
}

#[function_component(ContactList)]
pub fn contact_list(props: &Props) -> Html {
    let v = &props.view;
    let on_action = props.on_action.clone();
    // The contact whose removal waits for a yes.
    let confirming = use_state(|| None::<String>);
    let on_state = {
        let on_action = on_action.clone();
        Callback::from(move |e: Event| {
            if let Ok(state) = e.target_unchecked_into::<HtmlSelectElement>().value().parse() {
                on_action.emit(UserAction::SetState(state));
            }
        })
    };
    let on_privacy = {
        let on_action = on_action.clone();
        Callback::from(move |e: Event| {
            if let Ok(mode) = e.target_unchecked_into::<HtmlSelectElement>().value().parse() {
                on_action.emit(UserAction::Privacy(mode));
            }
        })
    };
    let sign_out = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(UserAction::SignOut))
    };
    let group = |title: &str, id: &str, rows: &[Row]| {
        html! {
            <section class="group" aria-labelledby={id.to_owned()}>
                <h3 id={id.to_owned()}>{ format!("{title} ({})", rows.len()) }</h3>
                <ul>{ for rows.iter().map(|r| row(r, &confirming, &on_action)) }</ul>
            </section>
        }
    };
    html! {
        <section class="contacts" aria-labelledby="me" data-sign-in-ms={v.sign_in_ms.map(|ms| ms.to_string())}>
            <header class="me">
                <h2 id="me"><span class="name">{ &v.name }</span>{ " " }<span class="handle">{ format!("<{}>", v.handle) }</span></h2>
                <label for="my-state">{ "My status" }</label>
                <select id="my-state" onchange={on_state}>
                    { for State::SETTABLE.iter().map(|s| html! {
                        <option value={s.as_str()} selected={v.state == Some(*s)}>{ s.label() }</option>
                    }) }
                </select>
                { one_field(OneField { id: "my-name".into(), label: "My name", kind: "text", button: "Change", placeholder: &v.name,
                    clear: true, on_submit: on_action.reform(UserAction::Rename), on_input: None }) }
                <button type="button" class="sign-out" onclick={sign_out}>{ "Sign out" }</button>
            </header>
            if let Some(notice) = &v.notice {
                <p class="notice" role="alert">{ notice }</p>
            }
            <p class="live" aria-live="polite">{ &v.announcement }</p>
            { for v.prompts.iter().map(|p| {
                let answer = |allow: bool| {
                    let (handle, on_action) = (p.handle.clone(), on_action.clone());
                    Callback::from(move |_: MouseEvent| on_action.emit(UserAction::Answer { handle: handle.clone(), allow }))
                };
                html! {
                    <div class="prompt" role="group" aria-label={format!("{} added you", p.name)}>
                        <p>{ format!("{} ({}) has added you to their contact list. Allow them to see when you are online and to message you?", p.name, p.handle) }</p>
                        <button type="button" onclick={answer(true)}>{ "Allow" }</button>
                        <button type="button" onclick={answer(false)}>{ "Block" }</button>
                    </div>
                }
            }) }
            { group("Online", "group-online", &v.online) }
            { group("Offline", "group-offline", &v.offline) }
            { one_field(OneField { id: "add-contact".into(), label: "Add a contact (e-mail address)", kind: "email",
                button: "Add", placeholder: "", clear: true, on_submit: on_action.reform(UserAction::Add), on_input: None }) }
            <label for="privacy">{ "Who can see me and message me" }</label>
            <select id="privacy" onchange={on_privacy}>
                <option value="AL" selected={v.blp == Blp::AllowAll}>{ "Everyone except people I block" }</option>
                <option value="BL" selected={v.blp == Blp::BlockAll}>{ "Only people I allow" }</option>
            </select>
        </section>
    }
}
