//! The app's root component.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::explain;

/// The page: for now a protocol explainer (paste a line, read what it means); sign-in, contacts and
/// chat come on top of the `msnp` client machines.
#[function_component(App)]
pub fn app() -> Html {
    html! {
        <main>
            <h1>{ "MSN Messenger 1.0, in the browser" }</h1>
            <p>{ "This page speaks MSNP2, the protocol of MSN Messenger 1.0 (1999)." }</p>
            <LineExplainer />
        </main>
    }
}

/// A form that explains one MSNP2 line in plain words.
#[function_component(LineExplainer)]
pub fn line_explainer() -> Html {
    let input = use_node_ref();
    let explanation = use_state(String::new);
    let onsubmit = {
        let input = input.clone();
        let explanation = explanation.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                explanation.set(explain::line(&field.value()));
            }
        })
    };
    html! {
        <section aria-labelledby="explain-title">
            <h2 id="explain-title">{ "What does this line mean?" }</h2>
            <form {onsubmit}>
                <label for="explain-line">{ "MSNP2 line" }</label>
                <input id="explain-line" name="line" type="text" ref={input}
                    placeholder="USR 141 MD5 I jd@hotmail.com" autocomplete="off" spellcheck="false" />
                <button type="submit">{ "Explain" }</button>
            </form>
            <output for="explain-line" aria-live="polite">{ (*explanation).clone() }</output>
        </section>
    }
}
