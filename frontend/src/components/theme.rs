//! The colour switch: the system's choice (`prefers-color-scheme`), light or dark, remembered on this
//! browser. The stylesheet does the rest from `data-theme` on `<html>`.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::storage;

/// The choices, as stored and as `data-theme` (the system's choice sets none).
const THEMES: [(&str, &str); 3] = [("system", "As the system"), ("light", "Light"), ("dark", "Dark")];

/// Sets `data-theme` on the document's root element.
pub fn apply(theme: &str) {
    let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) else {
        return;
    };
    let _ = match theme {
        "light" | "dark" => root.set_attribute("data-theme", theme),
        _ => root.remove_attribute("data-theme"),
    };
}

#[function_component(ThemeSwitch)]
pub fn theme_switch() -> Html {
    let theme = use_state(|| storage::theme().unwrap_or_else(|| "system".into()));
    use_effect_with((*theme).clone(), |theme| apply(theme));
    let onchange = {
        let theme = theme.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<HtmlSelectElement>().value();
            storage::remember_theme(&value);
            theme.set(value);
        })
    };
    html! {
        <p class="theme">
            <label for="theme">{ "Colours" }</label>
            <select id="theme" {onchange}>
                { for THEMES.iter().map(|(value, label)| html! {
                    <option value={*value} selected={*theme == *value}>{ *label }</option>
                }) }
            </select>
        </p>
    }
}
