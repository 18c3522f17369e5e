//! A conversation's list of messages, following the newest.

use yew::prelude::*;

use crate::chat::ChatLine;

fn time(base: f64, at_ms: u32) -> String {
    let date = js_sys::Date::new(&(base + f64::from(at_ms)).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

fn line(l: &ChatLine, base: f64) -> Html {
    match l {
        ChatLine::Message { at_ms, who, mine, text, font, undelivered, waiting, .. } => {
            let style = font.as_ref().map(|f| f.css()).unwrap_or_default();
            let classes = classes!(
                "message",
                mine.then_some("mine"),
                undelivered.then_some("undelivered"),
                waiting.then_some("waiting")
            );
            html! {
                <li class={classes}>
                    <span class="time">{ time(base, *at_ms) }</span>
                    <span class="who">{ format!("{who} says:") }</span>
                    <span class="text" {style}>{ text }</span>
                    if *undelivered { <span class="nak">{ " — not delivered: nobody else is in the conversation" }</span> }
                    if *waiting { <span class="held">{ " — waiting: sent once someone joins" }</span> }
                </li>
            }
        }
        ChatLine::Event { at_ms, text } => html! {
            <li class="event"><span class="time">{ time(base, *at_ms) }</span>{ text }</li>
        },
    }
}

#[derive(Properties, PartialEq, Debug)]
pub struct MessagesProps {
    pub id: u32,
    pub lines: Vec<ChatLine>,
    pub clock_base_ms: f64,
}

/// A conversation's messages: the list stays at the newest while they arrive, unless the person scrolled
/// up to read; then a button says there are new ones and takes them down.
#[function_component(Messages)]
pub fn messages(props: &MessagesProps) -> Html {
    let list = use_node_ref();
    // Whether the person is at the end of the list (kept across renders, no redraw needed).
    let following = use_mut_ref(|| true);
    let unseen = use_state(|| false);
    {
        let (list, following, unseen) = (list.clone(), following.clone(), unseen.clone());
        use_effect_with((props.id, props.lines.len()), move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                if *following.borrow() {
                    crate::components::scroll::to_end(&el);
                } else if !*unseen {
                    unseen.set(true);
                }
            }
        });
    }
    {
        // Another conversation shown: start at its end.
        let following = following.clone();
        use_effect_with(props.id, move |_| *following.borrow_mut() = true);
    }
    let onscroll = {
        let (list, following, unseen) = (list.clone(), following.clone(), unseen.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                let at_end = crate::components::scroll::at_end(&el);
                *following.borrow_mut() = at_end;
                if at_end && *unseen {
                    unseen.set(false);
                }
            }
        })
    };
    let to_end = {
        let (list, following, unseen) = (list.clone(), following, unseen.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                crate::components::scroll::to_end(&el);
            }
            *following.borrow_mut() = true;
            unseen.set(false);
        })
    };
    html! {
        <div class="message-list">
            <ol class="messages" ref={list} {onscroll} aria-live="polite" tabindex="0" aria-label="Messages">
                { for props.lines.iter().map(|l| line(l, props.clock_base_ms)) }
            </ol>
            if *unseen {
                <button type="button" class="new-messages" onclick={to_end}>{ "New messages ↓" }</button>
            }
        </div>
    }
}
