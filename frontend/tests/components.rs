//! Components rendered into a real DOM.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use msnp::{Blp, State};
use msnp_web::components::contacts::{ContactList, Props as ContactProps, Row, UserAction, View};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

fn mount() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(30)).await;
}

fn find(root: &Element, css: &str) -> Element {
    root.query_selector(css).unwrap().unwrap_or_else(|| panic!("no {css}"))
}

#[wasm_bindgen_test]
async fn the_sign_in_form_is_plain_labelled_html() {
    let root = mount();
    yew::Renderer::<msnp_web::app::App>::with_root(root.clone()).render();
    settle().await;
    let email: HtmlInputElement = find(&root, "input#email").dyn_into().unwrap();
    assert_eq!(email.type_(), "email");
    assert_eq!(email.get_attribute("autocomplete").as_deref(), Some("username"));
    let password: HtmlInputElement = find(&root, "input#password").dyn_into().unwrap();
    assert_eq!(password.type_(), "password");
    for id in ["email", "password", "server", "initial-state"] {
        find(&root, &format!("label[for={id}]"));
    }
    assert_eq!(find(&root, "form.sign-in button").get_attribute("type").as_deref(), Some("submit"));
    // Online is the default state to sign in with; all eight can be chosen.
    let state: web_sys::HtmlSelectElement = find(&root, "select#initial-state").dyn_into().unwrap();
    assert_eq!(state.value(), "NLN");
    assert_eq!(state.length(), 8);
    find(&root, "aside.inspector input#inspector-filter");
}

fn row(handle: &str, name: &str, state: Option<State>, blocked: bool) -> Row {
    Row { handle: handle.into(), name: name.into(), state, blocked }
}

#[wasm_bindgen_test]
async fn the_contact_list_groups_and_acts() {
    let root = mount();
    let actions = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = std::rc::Rc::clone(&actions);
    let props = ContactProps {
        view: View {
            handle: "jd@hotmail.com".into(),
            name: "J D".into(),
            state: Some(State::Away),
            online: vec![row("bob@hotmail.com", "Bob", Some(State::Busy), false)],
            offline: vec![row("eve@hotmail.com", "Eve", None, true)],
            blp: Blp::AllowAll,
            prompts: vec![msnp_web::session::AddedBy { handle: "dave@hotmail.com".into(), name: "Dave".into() }],
            announcement: "Bob is now Busy".into(),
            notice: None,
            sign_in_ms: Some(12),
        },
        on_action: Callback::from(move |a: UserAction| sink.borrow_mut().push(a)),
    };
    yew::Renderer::<ContactList>::with_root_and_props(root.clone(), props).render();
    settle().await;
    assert_eq!(find(&root, "#group-online").text_content().unwrap(), "Online (1)");
    assert!(find(&root, "[aria-labelledby=group-online] li").text_content().unwrap().contains("Bob (Busy)"));
    assert!(!find(&root, "[aria-labelledby=group-offline] li").text_content().unwrap().contains("(Offline)"));
    assert!(find(&root, "[aria-labelledby=group-offline] li").text_content().unwrap().contains("blocked"));
    assert_eq!(find(&root, ".live").get_attribute("aria-live").as_deref(), Some("polite"));
    assert_eq!(find(&root, ".live").text_content().unwrap(), "Bob is now Busy");
    let my_state: web_sys::HtmlSelectElement = find(&root, "select#my-state").dyn_into().unwrap();
    assert_eq!(my_state.value(), "AWY");

    let click = |css: &str| find(&root, css).dyn_into::<HtmlElement>().unwrap().click();
    click("button[aria-label='Block Bob']");
    click("button[aria-label='Unblock Eve']");
    click("button[aria-label='Remove Eve']");
    settle().await;
    // A removal asks first.
    assert!(actions.borrow().iter().all(|a| !matches!(a, UserAction::Remove(_))));
    assert!(find(&root, ".confirm").text_content().unwrap().contains("Remove Eve from your contacts?"));
    click(".confirm button.confirm-remove");
    settle().await;
    click(".prompt button");
    click("button.sign-out");
    let add: HtmlInputElement = find(&root, "input#add-contact").dyn_into().unwrap();
    assert_eq!(add.type_(), "email");
    add.set_value("erin@hotmail.com");
    find(&root, "input#add-contact")
        .closest("form")
        .unwrap()
        .unwrap()
        .dyn_into::<web_sys::HtmlFormElement>()
        .unwrap()
        .request_submit()
        .unwrap();
    settle().await;
    assert_eq!(
        *actions.borrow(),
        [
            UserAction::Block("bob@hotmail.com".into()),
            UserAction::Unblock("eve@hotmail.com".into()),
            UserAction::Remove("eve@hotmail.com".into()),
            UserAction::Answer { handle: "dave@hotmail.com".into(), allow: true },
            UserAction::SignOut,
            UserAction::Add("erin@hotmail.com".into()),
        ]
    );
}

/// The sign-in form as the page uses it: every attempt fails.
#[function_component(FailingSignIn)]
fn failing_sign_in() -> Html {
    let notice = use_state(|| None::<String>);
    let on_sign_in = {
        let notice = notice.clone();
        Callback::from(move |_| notice.set(Some("Wrong e-mail address or password.".to_owned())))
    };
    html! {
        <msnp_web::components::signin::SignIn servers={Vec::new()} email="" remember=false
            notice={(*notice).clone()} busy=false {on_sign_in} />
    }
}

#[wasm_bindgen_test]
async fn a_failed_sign_in_empties_the_password_but_keeps_the_address() {
    let root = mount();
    yew::Renderer::<FailingSignIn>::with_root(root.clone()).render();
    settle().await;
    let email: HtmlInputElement = find(&root, "input#email").dyn_into().unwrap();
    let password: HtmlInputElement = find(&root, "input#password").dyn_into().unwrap();
    email.set_value("jd@hotmail.com");
    password.set_value("hunter3");
    find(&root, "form.sign-in").dyn_into::<web_sys::HtmlFormElement>().unwrap().request_submit().unwrap();
    settle().await;
    assert_eq!(find(&root, ".notice[role=alert]").text_content().unwrap(), "Wrong e-mail address or password.");
    assert_eq!(password.value(), "");
    assert_eq!(email.value(), "jd@hotmail.com");
}

/// Waits up to 5 s for `css` under `root`.
async fn wait_for(root: &Element, css: &str) -> Element {
    for _ in 0..100 {
        if let Some(e) = root.query_selector(css).unwrap() {
            return e;
        }
        settle().await;
    }
    panic!("no {css} within 5 s");
}

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// Submits the page's sign-in form with this address, remembered or not, and waits for it to fail (the
/// test runner has no bridge).
async fn fail_to_sign_in(root: &Element, email: &str, remember: bool) {
    let field = |css: &str| find(root, css).dyn_into::<HtmlInputElement>().unwrap();
    field("input#email").set_value(email);
    field("input#password").set_value("hunter2");
    field("input#remember").set_checked(remember);
    find(root, "form.sign-in").dyn_into::<web_sys::HtmlFormElement>().unwrap().request_submit().unwrap();
    wait_for(root, ".sign-in .notice[role=alert]").await;
    wait_for(root, ".sign-in button[type=submit]:not([disabled])").await;
}

#[wasm_bindgen_test]
async fn remember_my_address_is_ticked_only_by_the_person() {
    local_storage().remove_item("msnp.email").unwrap();
    let root = mount();
    yew::Renderer::<msnp_web::app::App>::with_root(root.clone()).render();
    settle().await;
    let remember = || find(&root, "input#remember").dyn_into::<HtmlInputElement>().unwrap().checked();
    assert!(!remember(), "it starts unticked");
    fail_to_sign_in(&root, "jd@hotmail.com", false).await;
    assert!(!remember(), "a failed sign-in does not tick it");
    assert_eq!(local_storage().get_item("msnp.email").unwrap(), None, "nor store the address");
    fail_to_sign_in(&root, "jd@hotmail.com", true).await;
    assert!(remember());
    assert_eq!(local_storage().get_item("msnp.email").unwrap().as_deref(), Some("jd@hotmail.com"));
    fail_to_sign_in(&root, "jd@hotmail.com", false).await;
    assert!(!remember(), "unticking forgets");
    assert_eq!(local_storage().get_item("msnp.email").unwrap(), None);
}

#[wasm_bindgen_test]
async fn drop_down_lists_start_on_their_first_option() {
    let root = mount();
    yew::Renderer::<msnp_web::app::App>::with_root(root.clone()).render();
    settle().await;
    let lesson: web_sys::HtmlSelectElement = find(&root, "select#lesson").dyn_into().unwrap();
    assert_eq!(lesson.value(), msnp_web::replay::LESSONS[0].id);
    let root = mount();
    let props = msnp_web::components::console::Props {
        targets: vec![("ns".into(), "Notification server".into()), ("1".into(), "Chat 1: Bob".into())],
        error: None,
        on_send: Callback::noop(),
    };
    yew::Renderer::<msnp_web::components::console::Console>::with_root_and_props(root.clone(), props).render();
    settle().await;
    let target: web_sys::HtmlSelectElement = find(&root, "select#console-target").dyn_into().unwrap();
    assert_eq!(target.value(), "ns");
}

#[wasm_bindgen_test]
async fn chat_tabs_follow_the_aria_tabs_pattern() {
    use msnp_web::components::chat::{ChatAction, Chats, Props, Tab};
    let root = mount();
    let actions = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = std::rc::Rc::clone(&actions);
    let tab = |id: u32| Tab { id, title: format!("Chat {id}"), unread: 0, closed: false };
    let props = Props {
        tabs: vec![tab(1), tab(2), tab(3)],
        active: None,
        clock_base_ms: 0.0,
        focus: None,
        on_action: Callback::from(move |a: ChatAction| sink.borrow_mut().push(a)),
    };
    yew::Renderer::<Chats>::with_root_and_props(root.clone(), props).render();
    settle().await;
    let press = |id: u32, key: &str| {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key(key);
        init.set_bubbles(true);
        let event = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        find(&root, &format!("#chat-tab-{id}")).dispatch_event(&event).unwrap();
    };
    let focused = || web_sys::window().unwrap().document().unwrap().active_element().map(|e| e.id());
    press(1, "ArrowRight");
    assert_eq!(focused().as_deref(), Some("chat-tab-2"));
    press(1, "ArrowLeft");
    assert_eq!(focused().as_deref(), Some("chat-tab-3"));
    press(2, "Home");
    press(2, "End");
    press(2, "a");
    assert_eq!(*actions.borrow(), [2, 3, 1, 3].map(ChatAction::Select));
    assert_eq!(find(&root, "#chat-tab-1").get_attribute("aria-controls").as_deref(), Some("chat-1"));
}
