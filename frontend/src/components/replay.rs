//! Replay without a server: choosing a lesson or a transcript file, and stepping through it.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::files;
use crate::replay::{LESSONS, Replay};
use crate::transcript;

#[derive(Properties, PartialEq, Debug)]
pub struct ChooserProps {
    pub on_open: Callback<Replay>,
}

/// Offered beside the sign-in form: a lesson, or a downloaded transcript.
#[function_component(ReplayChooser)]
pub fn replay_chooser(props: &ChooserProps) -> Html {
    let error = use_state(|| None::<String>);
    let lesson = use_node_ref();
    let onsubmit = {
        let (lesson, on_open) = (lesson.clone(), props.on_open.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let id = lesson.cast::<HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
            if let Some(l) = LESSONS.iter().find(|l| l.id == id) {
                on_open.emit(Replay::lesson(l));
            }
        })
    };
    let onchange = {
        let (error, on_open) = (error.clone(), props.on_open.clone());
        Callback::from(move |e: Event| {
            let input = e.target_unchecked_into::<HtmlInputElement>();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            let (error, on_open) = (error.clone(), on_open.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                let opened = files::read_text(&file, transcript::MAX_BYTES)
                    .await
                    .and_then(|text| Replay::open(&name, &text).map_err(|e| format!("{name}: {e}")));
                match opened {
                    Ok(replay) => {
                        error.set(None);
                        on_open.emit(replay);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    html! {
        <section class="learn" aria-labelledby="learn-title">
            <h2 id="learn-title">{ "Learn MSNP2 without a server" }</h2>
            <p class="hint">{ "Step through a lesson or a downloaded transcript, line by line, with explanations and the sequence diagram." }</p>
            <form class="inline" {onsubmit}>
                <label for="lesson">{ "Lesson" }</label>
                <select id="lesson" ref={lesson}>
                    { for LESSONS.iter().enumerate().map(|(i, l)| html! {
                        <option value={l.id} selected={i == 0}>{ l.title }</option>
                    }) }
                </select>
                <button type="submit">{ "Start" }</button>
            </form>
            <label for="transcript-file">{ "Or open a transcript (the inspector's Download)" }</label>
            <input id="transcript-file" type="file" accept=".txt,text/plain" {onchange} />
            if let Some(e) = &*error {
                <p class="notice" role="alert">{ e }</p>
            }
        </section>
    }
}

/// What the replay controls ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayAction {
    /// Lines forward (negative: back).
    Step(isize),
    /// To the first line (false) or the last (true).
    End(bool),
    Close,
}

#[derive(Properties, PartialEq, Debug)]
pub struct ControlsProps {
    pub title: String,
    /// Lines shown, and in all.
    pub position: (usize, usize),
    /// The line just shown: who to whom, the line, its meaning.
    pub current: Option<(String, String, String)>,
    /// A lesson's story, and the step the line just shown belongs to (number, of, sentence).
    #[prop_or_default]
    pub story: crate::replay::Story,
    #[prop_or_default]
    pub step: Option<(usize, usize, String)>,
    pub on_action: Callback<ReplayAction>,
}

#[function_component(ReplayControls)]
pub fn replay_controls(props: &ControlsProps) -> Html {
    let button = |label: &'static str, action: ReplayAction, disabled: bool| {
        let onclick = props.on_action.reform(move |_: MouseEvent| action);
        html! { <button type="button" {disabled} {onclick}>{ label }</button> }
    };
    let (shown, total) = props.position;
    html! {
        <section class="replay" aria-labelledby="replay-title">
            <h2 id="replay-title">{ format!("Replay: {}", props.title) }</h2>
            if !props.story.intro.is_empty() {
                <p class="intro-lesson">{ &props.story.intro }</p>
            }
            if let Some((n, of, sentence)) = &props.step {
                <p class="step" aria-live="polite"><strong>{ format!("Step {n} of {of}. ") }</strong>{ sentence }</p>
            }
            <p class="position">{ format!("Line {shown} of {total}") }</p>
            if let Some((way, line, note)) = &props.current {
                <div class="current" aria-live="polite">
                    <p class="where">{ format!("{way}:") }</p>
                    <pre><code>{ line }</code></pre>
                    <p class="meaning">{ note }</p>
                </div>
            }
            if shown == total && !props.story.summary.is_empty() {
                <div class="summary" aria-live="polite">
                    <h3>{ "In short" }</h3>
                    <p>{ &props.story.summary }</p>
                </div>
            }
            <div class="controls">
                { button("First", ReplayAction::End(false), shown <= 1) }
                { button("Back", ReplayAction::Step(-1), shown <= 1) }
                { button("Forward", ReplayAction::Step(1), shown >= total) }
                { button("Last", ReplayAction::End(true), shown >= total) }
                { button("Close the replay", ReplayAction::Close, false) }
            </div>
        </section>
    }
}
