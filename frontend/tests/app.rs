//! The app rendered in a real browser.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use msnp_web::app::App;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlFormElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

#[wasm_bindgen_test]
async fn explains_a_submitted_line() {
    let root = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<App>::with_root(root.clone()).render();
    gloo_timers::future::sleep(Duration::from_millis(50)).await;

    let input: HtmlInputElement = root.query_selector("input#explain-line").unwrap().unwrap().dyn_into().unwrap();
    assert_eq!(input.type_(), "text");
    let label = root.query_selector("label[for=explain-line]").unwrap().unwrap();
    assert_eq!(label.text_content().unwrap(), "MSNP2 line");

    input.set_value("911 142");
    let form: HtmlFormElement = root.query_selector("form").unwrap().unwrap().dyn_into().unwrap();
    form.request_submit().unwrap();
    gloo_timers::future::sleep(Duration::from_millis(50)).await;

    let output = root.query_selector("output").unwrap().unwrap();
    assert_eq!(output.text_content().unwrap(), "Error 911: Wrong e-mail address or password.");
}
