//! The sequence diagram of a session: a lane for each client, one for the bridge, one for each server;
//! an arrow per line, in time order. Laid out here once; drawn by the page
//! ([`crate::components::diagram`]) and written as a standalone SVG file ([`svg`]) from the same layout.

use crate::log::Direction;
use crate::transcript::Connection;

/// The diagram keeps the latest arrows only, so that a long session stays quick to draw.
pub const MAX_ARROWS: usize = 600;

const LANE_WIDTH: f64 = 170.0;
const TIME_WIDTH: f64 = 64.0;
const TOP: f64 = 56.0;
const ROW: f64 = 26.0;
/// Characters a label may have per lane it spans (11 px text: about 6 px a character), and at least.
const CHARS_PER_LANE: f64 = LANE_WIDTH / 6.0;
const MIN_LABEL_CHARS: usize = 24;

/// A vertical lane: who or what, where, and while it was in use.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub name: String,
    pub x: f64,
    /// Where its line starts and ends (a chat's lane starts when it opens).
    pub top: f64,
    pub bottom: f64,
    /// A switchboard whose conversation has ended.
    pub closed: bool,
}

/// One line of the protocol: from the client's lane to the server's, or back, through the bridge.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrow {
    /// Which line: index into the connections, and into that connection's log.
    pub connection: usize,
    pub index: usize,
    pub y: f64,
    pub from: f64,
    pub to: f64,
    /// Where the line passes the bridge's lane: only this page goes through a bridge (a desktop client of
    /// a lesson speaks to its server directly).
    pub bridge: Option<f64>,
    /// The command line, shortened.
    pub label: String,
    /// Seconds since the session began.
    pub time: String,
    pub sent: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub lanes: Vec<Lane>,
    pub arrows: Vec<Arrow>,
    pub width: f64,
    pub height: f64,
    /// Earlier lines left out ([`MAX_ARROWS`]).
    pub skipped: usize,
}

/// The name of the bridge's lane.
pub const BRIDGE: &str = "Bridge";

pub fn layout(connections: &[Connection]) -> Layout {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: &str| match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    };
    // Clients first, then the bridge, then servers, each in order of appearance.
    let clients: Vec<usize> = connections.iter().map(|c| add(&c.client)).collect();
    let through_bridge = connections.iter().any(|c| c.client == crate::transcript::THIS_PAGE);
    let bridge = through_bridge.then(|| add(BRIDGE));
    let servers: Vec<usize> = connections.iter().map(|c| add(&c.server)).collect();
    let x = |lane: usize| TIME_WIDTH + LANE_WIDTH * (lane as f64 + 0.5);

    let mut lines: Vec<(u32, usize, usize)> = connections
        .iter()
        .enumerate()
        .flat_map(|(c, conn)| conn.log.iter().enumerate().map(move |(i, l)| (l.at_ms, c, i)))
        .collect();
    lines.sort();
    let skipped = lines.len().saturating_sub(MAX_ARROWS);
    let arrows: Vec<Arrow> = lines[skipped..]
        .iter()
        .enumerate()
        .map(|(row, &(at_ms, c, i))| {
            let line = &connections[c].log[i];
            let sent = line.direction == Direction::Sent;
            let (client, server) = (x(clients[c]), x(servers[c]));
            Arrow {
                connection: c,
                index: i,
                y: TOP + ROW * (row as f64 + 1.0),
                from: if sent { client } else { server },
                to: if sent { server } else { client },
                bridge: bridge.map(x),
                label: shorten(&line.exported_text(), label_chars(client, server)),
                time: format!("{}.{:03}", at_ms / 1000, at_ms % 1000),
                sent,
            }
        })
        .collect();
    let height = TOP + ROW * (arrows.len() as f64 + 1.5);
    let lanes = names
        .iter()
        .enumerate()
        .map(|(lane, name)| {
            let mine = |a: &&Arrow| a.from == x(lane) || a.to == x(lane);
            let used = connections.iter().enumerate().filter(|(c, _)| servers[*c] == lane);
            let is_server = servers.contains(&lane);
            let (first, last) = (arrows.iter().find(mine), arrows.iter().rev().find(mine));
            Lane {
                name: name.clone(),
                x: x(lane),
                top: if is_server { first.map_or(TOP, |a| a.y - ROW / 2.0) } else { TOP },
                bottom: if is_server { last.map_or(TOP, |a| a.y + ROW / 2.0) } else { height - ROW / 2.0 },
                closed: is_server && used.clone().count() > 0 && used.clone().all(|(_, c)| c.closed),
            }
        })
        .collect();
    Layout { lanes, arrows, width: TIME_WIDTH + LANE_WIDTH * names.len() as f64, height, skipped }
}

/// How many characters fit on an arrow between these two lanes: a long arrow shows more of its line.
fn label_chars(from: f64, to: f64) -> usize {
    (((to - from).abs() / LANE_WIDTH) * CHARS_PER_LANE).max(MIN_LABEL_CHARS as f64) as usize
}

fn shorten(line: &str, chars: usize) -> String {
    if line.chars().count() <= chars {
        return line.to_owned();
    }
    let cut: String = line.chars().take(chars - 1).collect();
    format!("{cut}…")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The diagram as a standalone SVG file; each arrow's tooltip holds its whole line and explanation.
pub fn svg(layout: &Layout, connections: &[Connection]) -> String {
    let (w, h) = (layout.width, layout.height);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"Tahoma, Verdana, sans-serif\" font-size=\"11\">\n\
         <title>MSNP2 sequence diagram</title>\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n\
         <defs><marker id=\"head\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#333333\"/></marker></defs>\n"
    );
    for lane in &layout.lanes {
        let (x, name) = (lane.x, escape(&lane.name));
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"24\" text-anchor=\"middle\" font-weight=\"bold\">{name}</text>\n\
             <line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#888888\" stroke-dasharray=\"4 3\"/>\n",
            lane.top, lane.bottom
        ));
        if lane.closed {
            out.push_str(&format!(
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">closed</text>\n",
                lane.bottom + 12.0
            ));
        }
    }
    for a in &layout.arrows {
        let line = &connections[a.connection].log[a.index];
        let color = if a.sent { "#0a246a" } else { "#2e7d32" };
        out.push_str(&format!(
            "<g><title>{} — {}</title>\
             <text x=\"4\" y=\"{y}\" fill=\"#555555\">{}</text>\
             <line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" marker-end=\"url(#head)\"/>\
             {}\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{color}\">{}</text></g>\n",
            escape(&line.exported_text()),
            escape(&line.exported_note()),
            a.time,
            a.from,
            a.to,
            a.bridge
                .map(|x| format!("<circle cx=\"{x}\" cy=\"{}\" r=\"2.5\" fill=\"{color}\"/>", a.y))
                .unwrap_or_default(),
            (a.from + a.to) / 2.0,
            a.y - 4.0,
            escape(&a.label),
            y = a.y,
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use msnp::Frame;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::transcript::THIS_PAGE;

    fn connections() -> Vec<Connection> {
        let mut ns = Connection::new(THIS_PAGE, "Notification server");
        let mut sb = Connection::new(THIS_PAGE, "Switchboard (chat 1: <Bob & co>)");
        ns.log.record(ns.conn, Direction::Sent, &Frame::command("USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a"), 10);
        ns.log.record(ns.conn, Direction::Received, &Frame::command("USR 4 OK jd@hotmail.com JD"), 20);
        sb.log.record(sb.conn, Direction::Sent, &Frame::command("CAL 2 bob@hotmail.com"), 15);
        sb.log.record(sb.conn, Direction::Sent, &Frame::command("OUT"), 30);
        sb.closed = true;
        vec![ns, sb]
    }

    #[test]
    fn lanes_for_the_page_the_bridge_and_each_server_arrows_in_time_order() {
        let connections = connections();
        let l = layout(&connections);
        let names: Vec<&str> = l.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, [THIS_PAGE, BRIDGE, "Notification server", "Switchboard (chat 1: <Bob & co>)"]);
        let order: Vec<(usize, usize)> = l.arrows.iter().map(|a| (a.connection, a.index)).collect();
        assert_eq!(order, [(0, 0), (1, 0), (0, 1), (1, 1)]);
        // Requests go right, replies left, all through the bridge.
        let (page, bridge, ns) = (l.lanes[0].x, l.lanes[1].x, l.lanes[2].x);
        assert_eq!((l.arrows[0].from, l.arrows[0].to, l.arrows[0].bridge), (page, ns, Some(bridge)));
        assert_eq!((l.arrows[2].from, l.arrows[2].to), (ns, page));
        // The switchboard's lane runs from its first line to its last, and is marked closed.
        let sb = &l.lanes[3];
        assert!(sb.top > l.lanes[2].top && sb.bottom < l.height && sb.closed && !l.lanes[2].closed);
        assert!(l.arrows.windows(2).all(|w| w[0].y < w[1].y));
        // The arrow spans two lanes (past the bridge's): its label has room for the whole line.
        assert_eq!(l.arrows[0].label, "USR 4 MD5 S <md5 response hidden>");
        assert_eq!(
            shorten("CVR 145 0x0409 win 4.0 i386 MSMSGS 1.0.0863", label_chars(0.0, LANE_WIDTH)).chars().count(),
            28
        );
    }

    #[test]
    fn a_desktop_client_of_a_lesson_speaks_to_its_server_without_a_bridge() {
        let mut ns = Connection::new("MSN Messenger 1.0", "Notification server");
        ns.log.record(ns.conn, Direction::Sent, &Frame::command("VER 1 MSNP2 CVR0"), 0);
        let l = layout(&[ns]);
        let names: Vec<&str> = l.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["MSN Messenger 1.0", "Notification server"]);
        assert_eq!(l.arrows[0].bridge, None);
    }

    #[test]
    fn the_svg_file_is_escaped_and_hides_the_md5_response() {
        let connections = connections();
        let file = svg(&layout(&connections), &connections);
        assert!(file.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(file.contains("Switchboard (chat 1: &lt;Bob &amp; co&gt;)"), "{file}");
        assert!(!file.contains("8aca4d") && !file.contains("<Bob"));
        assert_eq!(file.matches("<g>").count(), 4);
        assert!(file.contains(">closed</text>"));
    }

    #[test]
    fn only_the_latest_arrows_are_drawn() {
        let mut ns = Connection::new(THIS_PAGE, "Notification server");
        for i in 0..(MAX_ARROWS as u32 + 5) {
            ns.log.record(ns.conn, Direction::Sent, &Frame::command("PNG"), i);
        }
        let l = layout(&[ns]);
        assert_eq!((l.arrows.len(), l.skipped), (MAX_ARROWS, 5));
        assert_eq!(l.arrows[0].index, 5);
    }
}
