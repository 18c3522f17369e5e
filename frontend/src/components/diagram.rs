//! The sequence diagram, drawn as SVG by the page: click an arrow (or step with the buttons) to see its
//! bytes and what they mean; save it as an SVG file.

use yew::prelude::*;

use crate::diagram::{self, Arrow, Layout};
use crate::files;
use crate::log::Direction;
use crate::transcript::Connection;

#[derive(Properties, PartialEq, Debug)]
pub struct Props {
    pub connections: Vec<Connection>,
    /// Show the latest line's details, unless the person picked another since it came (a replay).
    #[prop_or_default]
    pub follow: bool,
    /// The line picked, shared with the inspector's list: (connection, index) and how many arrows there
    /// were when it was picked.
    pub selection: UseStateHandle<Option<((usize, usize), usize)>>,
}

/// The line an arrow stands for, shown in full.
fn details(connections: &[Connection], arrow: &Arrow) -> Html {
    let c = &connections[arrow.connection];
    let line = &c.log[arrow.index];
    let way = match line.direction {
        Direction::Sent => format!("{} to {}", c.client, c.server),
        Direction::Received => format!("{} to {}", c.server, c.client),
    };
    html! {
        <>
            <p class="where">{ format!("{} s, {way}:", arrow.time) }</p>
            <pre><code>{ &line.text }{ for line.payload.as_ref().map(|p| format!("\n{p}")) }</code></pre>
            <p>{ &line.note }</p>
        </>
    }
}

/// An arrow: a button in the keyboard's reach when it is the selected one (or the first, before any is):
/// Enter picks it, the arrow keys move to the previous or next line.
fn arrow_view(a: &Arrow, i: usize, focusable: bool, selected: bool, select: &dyn Fn(usize) -> Callback<()>) -> Html {
    let class = classes!("arrow", if a.sent { "sent" } else { "received" }, selected.then_some("selected"));
    let onclick = select(i).reform(|_: MouseEvent| ());
    let (here, previous, next) = (select(i), i.checked_sub(1).map(select), select(i + 1));
    let onkeydown = Callback::from(move |e: KeyboardEvent| {
        let (to, go) = match e.key().as_str() {
            "Enter" | " " => (i, &here),
            "ArrowUp" | "ArrowLeft" => match &previous {
                Some(p) => (i - 1, p),
                None => return,
            },
            "ArrowDown" | "ArrowRight" => (i + 1, &next),
            _ => return,
        };
        e.prevent_default();
        go.emit(());
        crate::components::focus::focus(&format!("arrow-{to}"));
    });
    html! {
        <g {class} id={format!("arrow-{i}")} role="button" tabindex={if focusable { "0" } else { "-1" }}
            aria-pressed={selected.to_string()} {onclick} {onkeydown}>
            <rect class="hit" x="0" y={(a.y - 13.0).to_string()} width="100%" height="26" />
            <text class="time" x="4" y={a.y.to_string()}>{ &a.time }</text>
            <line x1={a.from.to_string()} y1={a.y.to_string()} x2={a.to.to_string()} y2={a.y.to_string()}
                marker-end="url(#diagram-head)" />
            if let Some(x) = a.bridge { <circle cx={x.to_string()} cy={a.y.to_string()} r="2.5" /> }
            <text class="label" x={((a.from + a.to) / 2.0).to_string()} y={(a.y - 4.0).to_string()}
                text-anchor="middle">{ &a.label }</text>
        </g>
    }
}

fn lanes_view(layout: &Layout) -> Html {
    html! {
        { for layout.lanes.iter().map(|lane| html! {
            <g class="lane">
                <text x={lane.x.to_string()} y="24" text-anchor="middle">{ &lane.name }</text>
                <line x1={lane.x.to_string()} y1={lane.top.to_string()} x2={lane.x.to_string()} y2={lane.bottom.to_string()} />
                if lane.closed {
                    <text class="closed" x={lane.x.to_string()} y={(lane.bottom + 12.0).to_string()} text-anchor="middle">{ "closed" }</text>
                }
            </g>
        }) }
    }
}

#[function_component(Diagram)]
pub fn diagram_view(props: &Props) -> Html {
    let layout = diagram::layout(&props.connections);
    // The selection is the line (connection, index), so it stays put while the diagram grows; with it, how
    // many arrows there were, so that a replay's next step takes over again.
    let selected = props.selection.clone();
    let count = layout.arrows.len();
    let picked = selected.filter(|(_, at)| !props.follow || *at == count);
    let position = match picked {
        Some((line, _)) => layout.arrows.iter().position(|a| (a.connection, a.index) == line),
        None if props.follow => count.checked_sub(1),
        None => None,
    };
    let select = |i: Option<usize>| {
        let (selected, target) =
            (selected.clone(), i.and_then(|i| layout.arrows.get(i)).map(|a| (a.connection, a.index)));
        Callback::from(move |()| {
            if let Some(line) = target {
                selected.set(Some((line, count)));
            }
        })
    };
    let select_arrow = |i: usize| select(Some(i));
    let on_previous =
        select(position.map_or(layout.arrows.len().checked_sub(1), |p| p.checked_sub(1))).reform(|_: MouseEvent| ());
    let on_next = select(position.map_or(Some(0), |p| Some(p + 1))).reform(|_: MouseEvent| ());
    let on_save = {
        let connections = props.connections.clone();
        Callback::from(move |_: MouseEvent| {
            let connections = &connections;
            files::download(
                "msnp-diagram.svg",
                "image/svg+xml",
                &diagram::svg(&diagram::layout(connections), connections),
            );
        })
    };
    let (w, h) = (layout.width, layout.height);
    html! {
        <section class="diagram" aria-label="Sequence diagram">
            <div class="tools">
                <button type="button" onclick={on_previous}>{ "Previous line" }</button>
                <button type="button" onclick={on_next}>{ "Next line" }</button>
                <button type="button" onclick={on_save}>{ "Save as SVG" }</button>
            </div>
            if layout.skipped > 0 {
                <p class="hint">{ format!("The first {} lines are left out; the text view has them.", layout.skipped) }</p>
            }
            <div class="scroll" role="group" aria-label="Diagram: each arrow is a line; press one to see it">
                <svg width={w.to_string()} height={h.to_string()} viewBox={format!("0 0 {w} {h}")}>
                    <defs>
                        <marker id="diagram-head" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8"
                            orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" /></marker>
                    </defs>
                    { lanes_view(&layout) }
                    { for layout.arrows.iter().enumerate().map(|(i, a)| {
                        let focusable = position.map_or(i == 0, |p| p == i);
                        arrow_view(a, i, focusable, Some(i) == position, &select_arrow)
                    }) }
                </svg>
            </div>
            <div class="detail" aria-live="polite">
                { match position.and_then(|p| layout.arrows.get(p)) {
                    Some(a) => details(&props.connections, a),
                    None => html! { <p class="hint">{ "Click an arrow, or use Next line, to see its bytes and what they mean." }</p> },
                } }
            </div>
        </section>
    }
}
