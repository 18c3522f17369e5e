//! The sign-in form: plain labelled inputs, so password managers, screen readers and WebDriver work.

use msnp::State;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// What the person asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    /// Server name from the bridge's list (empty: the bridge's default).
    pub server: String,
    pub state: State,
    pub remember: bool,
}

/// Without the password: debug output must not show it.
impl std::fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRequest")
            .field("email", &self.email)
            .field("server", &self.server)
            .field("state", &self.state)
            .field("remember", &self.remember)
            .finish_non_exhaustive()
    }
}

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    pub servers: Vec<String>,
    pub email: String,
    /// Whether the person chose to have their address remembered (it is, now).
    pub remember: bool,
    pub notice: Option<String>,
    pub busy: bool,
    pub on_sign_in: Callback<SignInRequest>,
}

#[function_component(SignIn)]
pub fn sign_in(props: &Props) -> Html {
    let email = use_node_ref();
    let password = use_node_ref();
    let server = use_node_ref();
    let state = use_node_ref();
    let remember = use_node_ref();
    // Hours a guest account lasts, when the bridge makes them; and what the last request for one gave.
    let guest_offer = use_state(|| None::<crate::api::GuestOffer>);
    let guest_refused = use_state(|| None::<String>);
    // The embedded server's demo accounts, named on the form.
    let demo = use_state(Vec::<(String, String)>::new);
    {
        let (guest_offer, demo) = (guest_offer.clone(), demo.clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                guest_offer.set(crate::api::guest_offer().await);
                demo.set(crate::api::demo_accounts().await);
            });
        });
    }
    let on_guest = {
        let (guest_refused, server, on_sign_in) = (guest_refused.clone(), server.clone(), props.on_sign_in.clone());
        Callback::from(move |_: MouseEvent| {
            let (guest_refused, on_sign_in) = (guest_refused.clone(), on_sign_in.clone());
            let server = server.cast::<HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
            // "Try it now": a temporary account, signed in at once.
            wasm_bindgen_futures::spawn_local(async move {
                match crate::api::make_guest().await {
                    Ok((email, password)) => {
                        guest_refused.set(None);
                        on_sign_in.emit(SignInRequest {
                            email,
                            password,
                            server,
                            state: State::Online,
                            remember: false,
                        });
                    }
                    Err(why) => guest_refused.set(Some(why)),
                }
            });
        })
    };
    {
        // Fill in the remembered address once, without making the field controlled: a re-render must not
        // overwrite what the person types.
        let email = email.clone();
        use_effect_with(props.email.clone(), move |remembered| {
            if let Some(field) = email.cast::<HtmlInputElement>()
                && field.value().is_empty()
            {
                field.set_value(remembered);
            }
        });
    }
    {
        // A failed sign-in empties the password field (the address stays, for the retry).
        let password = password.clone();
        use_effect_with(props.notice.clone(), move |notice| {
            if let (Some(_), Some(field)) = (notice, password.cast::<HtmlInputElement>()) {
                field.set_value("");
            }
        });
    }
    let onsubmit = {
        let (email, password, server, state, remember) =
            (email.clone(), password.clone(), server.clone(), state.clone(), remember.clone());
        let on_sign_in = props.on_sign_in.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = |r: &NodeRef| r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            let select = |r: &NodeRef| r.cast::<HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
            let request = SignInRequest {
                email: value(&email).trim().to_owned(),
                password: value(&password),
                server: select(&server),
                state: select(&state).parse().unwrap_or(State::Online),
                remember: remember.cast::<HtmlInputElement>().is_some_and(|c| c.checked()),
            };
            on_sign_in.emit(request);
        })
    };
    html! {
        <form class="sign-in" {onsubmit} aria-labelledby="sign-in-title">
            <h2 id="sign-in-title">{ "Sign in" }</h2>
            if let Some(offer) = *guest_offer {
                <p class="guest">
                    <button type="button" class="primary" onclick={on_guest}>{ "Try it now" }</button>
                    { format!(" with a temporary account, signed in at once, the robots as contacts; it is removed after {} hours.", offer.hours) }
                    if !offer.everyone {
                        { " It can add other guests, and people who add it first." }
                    }
                </p>
            }
            if let Some(notice) = &props.notice {
                <p class="notice" role="alert">{ notice }</p>
            }
            <label for="email">{ "E-mail address" }</label>
            <input id="email" name="email" type="email" autocomplete="username" required=true
                ref={email} placeholder="someone@hotmail.com" />
            <label for="password">{ "Password" }</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required=true
                ref={password} />
            <label for="server">{ "Server" }</label>
            <select id="server" name="server" ref={server}>
                { for props.servers.iter().enumerate().map(|(i, s)| html! {
                    <option value={s.clone()} selected={i == 0}>{ s }</option>
                }) }
            </select>
            <label for="initial-state">{ "Sign in as" }</label>
            <select id="initial-state" name="state" ref={state}>
                { for State::SETTABLE.iter().map(|s| html! {
                    <option value={s.as_str()} selected={*s == State::Online}>{ s.label() }</option>
                }) }
            </select>
            <label class="check">
                <input id="remember" type="checkbox" ref={remember} checked={props.remember} />
                { "Remember my e-mail address (never the password)" }
            </label>
            <button type="submit" disabled={props.busy}>
                { if props.busy { "Signing in…" } else { "Sign in" } }
            </button>
            if !demo.is_empty() {
                <p class="demo">
                    { "Or sign in with a demo account: " }
                    { for demo.iter().enumerate().map(|(i, (email, password))| html! {
                        <>{ if i > 0 { ", " } else { "" } }<strong>{ email }</strong>{ format!(" / {password}") }</>
                    }) }
                    { "." }
                </p>
            }
            if let Some(why) = &*guest_refused {
                <p class="notice" role="alert">
                    { why }
                    if !demo.is_empty() { { " Meanwhile, a demo account above works." } }
                </p>
            }
        </form>
    }
}
