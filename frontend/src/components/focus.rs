//! Moving the keyboard where the person's next step is (a new chat's message box, the next tab or arrow).

use wasm_bindgen::JsCast;

/// Moves keyboard focus to the element with this id, if it exists.
pub fn focus(id: &str) {
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
