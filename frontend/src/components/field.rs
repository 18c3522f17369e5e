//! A one-field form: a labelled input and a submit button, submitted with Enter.

use web_sys::HtmlInputElement;
use yew::prelude::*;

/// What the form looks like and does.
#[derive(Debug)]
pub struct OneField<'a> {
    pub id: String,
    pub label: &'a str,
    /// The input's type: `text` or `email`.
    pub kind: &'a str,
    pub button: &'a str,
    /// Shown in the empty field. (The field never gets a `value` from the page: re-rendering, which happens
    /// on every keystroke in a chat, would overwrite what the person is typing.)
    pub placeholder: &'a str,
    /// Empty the field after submitting (a message sent, a contact added), or keep it (a name).
    pub clear: bool,
    pub on_submit: Callback<String>,
    /// Called on every keystroke (typing notifications).
    pub on_input: Option<Callback<()>>,
}

pub fn one_field(f: OneField<'_>) -> Html {
    let input = NodeRef::default();
    let onsubmit = {
        let (input, on_submit, clear) = (input.clone(), f.on_submit, f.clear);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                let text = field.value();
                if !text.trim().is_empty() {
                    on_submit.emit(text);
                    if clear {
                        field.set_value("");
                    }
                }
            }
        })
    };
    let oninput = f.on_input.map(|typed| Callback::from(move |_: InputEvent| typed.emit(())));
    html! {
        <form class="inline" {onsubmit}>
            <label for={f.id.clone()}>{ f.label }</label>
            <input id={f.id} type={f.kind.to_owned()} placeholder={f.placeholder.to_owned()} ref={input} autocomplete="off" {oninput} />
            <button type="submit">{ f.button }</button>
        </form>
    }
}
