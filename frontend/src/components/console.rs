//! The raw console: type any MSNP command for the notification server or an open switchboard.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    /// (value, label): `ns`, or a chat's id.
    pub targets: Vec<(String, String)>,
    pub error: Option<String>,
    pub on_send: Callback<(String, String)>,
}

#[function_component(Console)]
pub fn console(props: &Props) -> Html {
    // The chosen target, held here: a select left to itself would start on whichever option the page
    // inserted first (its last), sending `CHG BSY` to a chat.
    let target = use_state(|| "ns".to_owned());
    let chosen = if props.targets.iter().any(|(value, _)| *value == *target) {
        (*target).clone()
    } else {
        props.targets.first().map(|(value, _)| value.clone()).unwrap_or_default()
    };
    let input = use_node_ref();
    let onchange = {
        let target = target.clone();
        Callback::from(move |e: Event| target.set(e.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let onsubmit = {
        let (to, input, on_send) = (chosen.clone(), input.clone(), props.on_send.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                on_send.emit((to.clone(), field.value()));
                field.set_value("");
            }
        })
    };
    html! {
        <form class="console" {onsubmit} aria-labelledby="console-title">
            <h3 id="console-title">{ "Raw console" }</h3>
            <p class="hint">{ "Type any MSNP2 command; the transaction ID is filled in when you leave it out (CHG BSY)." }</p>
            <label for="console-target">{ "Send to" }</label>
            <select id="console-target" {onchange}>
                { for props.targets.iter().map(|(value, label)| html! {
                    <option value={value.clone()} selected={*value == chosen}>{ label }</option>
                }) }
            </select>
            <label for="console-line">{ "Command" }</label>
            <input id="console-line" type="text" ref={input} autocomplete="off" spellcheck="false" placeholder="CHG BSY" />
            <button type="submit">{ "Send" }</button>
            if let Some(error) = &props.error {
                <p class="notice" role="alert">{ error }</p>
            }
        </form>
    }
}
