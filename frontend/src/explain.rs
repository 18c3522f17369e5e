//! Plain-words explanations of MSNP2 lines, field by field, for people learning the protocol.
//!
//! Every line is read with `msnp`'s typed commands (there is no second parser here), for its connection
//! (notification server or switchboard) and its direction: the same `USR` means different things on the
//! way out and on the way back, and on a switchboard it carries a cookie instead of an MD5 answer.

use msnp::message::{Content, Message};
use msnp::ns::{self, UsrStage};
use msnp::{Blp, ErrorCode, Frame, Gtc, List, ParseError, State, TrId, name, sb};

/// Which way a line went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Page to server.
    Sent,
    /// Server to page.
    Received,
}

/// Which server a connection is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    Notification,
    Switchboard,
}

/// What the log knows around a line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The line the client sent with the same TrID, when this one answers it.
    pub request: Option<&'a str>,
    /// The challenge of the sign-in under way (for the MD5 step).
    pub challenge: Option<&'a str>,
}

/// Explains one line, field by field.
pub fn explain(conn: Conn, direction: Direction, frame: &Frame, ctx: Context<'_>) -> String {
    if frame.name().is_empty() {
        return "An empty line: servers ignore it.".into();
    }
    let explained = match (conn, direction) {
        (Conn::Notification, Direction::Sent) => ns::ClientCommand::parse(frame).map(|c| ns_request(&c, ctx)),
        (Conn::Notification, Direction::Received) => ns::ServerCommand::parse(frame).map(|c| ns_reply(&c, ctx)),
        (Conn::Switchboard, Direction::Sent) => sb::ClientCommand::parse(frame).map(|c| sb_request(&c)),
        (Conn::Switchboard, Direction::Received) => sb::ServerCommand::parse(frame).map(|c| sb_reply(&c, ctx)),
    };
    explained.unwrap_or_else(|e| not_understood(frame, &e))
}

fn not_understood(frame: &Frame, error: &ParseError) -> String {
    let name = frame.name();
    match error {
        ParseError::Unknown { .. } if name != name.to_ascii_uppercase() => {
            format!("Not understood: command names are case-sensitive ({name}); a server answers 200 (syntax error).")
        }
        ParseError::Unknown { .. } => {
            format!("Not understood: {name} is not an MSNP2 command here; a server answers 200.")
        }
        other => format!("Not understood: {other}."),
    }
}

/// `'Carol ☕'`, and how it travels when the wire form differs.
fn friendly(encoded: &str) -> String {
    let decoded = name::decode(encoded);
    if decoded == encoded { format!("'{decoded}'") } else { format!("'{decoded}' ({encoded} URL-encoded on the wire)") }
}

fn list(list: List) -> &'static str {
    match list {
        List::Forward => "forward list FL (people you watch)",
        List::Allow => "allow list AL (people who may see you and message you)",
        List::Block => "block list BL (people who may not)",
        List::Reverse => "reverse list RL (people who have you on their forward list)",
    }
}

fn state(state: State) -> String {
    format!("{} ({})", state.label(), state.as_str())
}

fn gtc(mode: Gtc) -> &'static str {
    match mode {
        Gtc::Ask => "A: ask you when someone adds you",
        Gtc::Never => "N: allow them without asking",
    }
}

fn blp(mode: Blp) -> &'static str {
    match mode {
        Blp::AllowAll => "AL: everyone but your block list may see and message you",
        Blp::BlockAll => "BL: only your allow list may",
    }
}

fn ns_request(cmd: &ns::ClientCommand, ctx: Context<'_>) -> String {
    use ns::ClientCommand as C;
    match cmd {
        C::Ver { trid, dialects } => {
            format!("Version, request {trid}: the client speaks {}; the server picks one.", dialects.join(" or "))
        }
        C::Inf { trid } => format!("Request {trid}: which security packages (ways to sign in) does the server offer?"),
        C::Usr { trid, package, stage: UsrStage::Initial, value } => {
            format!("Sign-in, step 1 of 2 (request {trid}): {value} asks to sign in with {package}.")
        }
        C::Usr { trid, stage: UsrStage::Subsequent, value, .. } => {
            let challenge = ctx.challenge.map(|c| format!(" of challenge '{c}'")).unwrap_or_default();
            format!(
                "Sign-in, step 2 of 2 (request {trid}): {value} is MD5{challenge} followed by the password, in \
                 hex. The password itself never leaves the client."
            )
        }
        C::Syn { trid, version } => format!(
            "Synchronise (request {trid}): the lists the client has cached are version {version}; the server \
             sends everything only if its version differs."
        ),
        C::Lst { trid, list: l } => format!("Request {trid}: send me my {}.", list(*l)),
        C::Gtc { trid, mode } => format!("Request {trid}: when someone adds me, {}.", gtc(*mode)),
        C::Blp { trid, mode } => format!("Request {trid}: privacy {}.", blp(*mode)),
        C::Add { trid, list: l, handle, name } => {
            format!("Request {trid}: add {handle} to my {}, shown as {}.", list(*l), friendly(name))
        }
        C::Rem { trid, list: l, handle } => format!("Request {trid}: remove {handle} from my {}.", list(*l)),
        C::Rea { trid, handle, name } => {
            format!("Rename (request {trid}): call {handle} {} from now on.", friendly(name))
        }
        C::Chg { trid, state: s } => format!("Request {trid}: change my state to {}.", state(*s)),
        C::Cvr { trid, client } => format!(
            "Client version (request {trid}): locale {}, system {} {} on {}, program {} version {}.",
            client.locale, client.os_type, client.os_version, client.arch, client.library, client.version
        ),
        C::Xfr { trid } => format!("Transfer (request {trid}): I want a switchboard (SB) to chat on."),
        C::Fnd { trid, query } => format!("Find (request {trid}): search the directory for {}.", query.join(", ")),
        C::Snd { trid, email } => format!("Send (request {trid}): e-mail {email} an invitation to Messenger."),
        C::Url { trid, service } => format!("URL (request {trid}): the web address of {service}."),
        C::Png => "Ping: is the connection alive? The server answers QNG.".into(),
        C::Out => "Sign out: the server closes the connection.".into(),
    }
}

fn ns_reply(cmd: &ns::ServerCommand, ctx: Context<'_>) -> String {
    use ns::ServerCommand as S;
    match cmd {
        S::Ver { trid, dialect } if dialect == "0" => {
            format!("Answer to {trid}: 0, no common dialect; the server closes the connection.")
        }
        S::Ver { trid, dialect } => format!("Answer to {trid}: the server speaks {dialect}."),
        S::Inf { trid, packages } => format!("Answer to {trid}: sign in with {}.", packages.join(" or ")),
        S::UsrChallenge { trid, package, challenge } => format!(
            "Answer to {trid}: the server's {package} challenge '{challenge}'. The client now computes \
             MD5(challenge + password) without sending the password."
        ),
        S::UsrOk { trid, handle, name } => {
            format!("Answer to {trid}: signed in as {handle}. Friendly name {}.", friendly(name))
        }
        S::Syn { trid, version } => format!("Answer to {trid}: the server's lists are version {version}."),
        S::Gtc { trid, version, mode } => format!("Answer to {trid} (list version {version}): {}.", gtc(*mode)),
        S::Blp { trid, version, mode } => format!("Answer to {trid} (list version {version}): privacy {}.", blp(*mode)),
        S::Lst { trid, list: l, version, item, total, entry } => {
            lst(*trid, *l, *version, *item, *total, entry.as_ref())
        }
        S::Add { trid, list: l, version, handle, name } => {
            list_change(*trid, "added", handle, Some(name), *l, *version)
        }
        S::Rem { trid, list: l, version, handle } => list_change(*trid, "removed", handle, None, *l, *version),
        S::Rea { trid, version, handle, name } => {
            format!("Answer to {trid} (list version {version}): {handle} is now called {}.", friendly(name))
        }
        S::Chg { trid, state: s } => format!("Answer to {trid}: your state is now {}.", state(*s)),
        S::Iln { trid, state: s, handle, name } => {
            format!("Initial presence (after request {trid}): {handle}, {}, is {}.", friendly(name), state(*s))
        }
        S::Nln { state: s, handle, name } => {
            format!("Presence: {handle}, {}, is now {}.", friendly(name), state(*s))
        }
        S::Fln { handle } => format!("Presence: {handle} is now offline (or hidden, or blocking you)."),
        S::Cvr { trid, recommended, minimum, download_url, info_url, .. } => format!(
            "Answer to {trid}: recommended version {recommended}, minimum {minimum}; download {download_url}, \
             information {info_url}."
        ),
        S::XfrNs { trid, address } => format!(
            "Answer to {trid}: go to the notification server at {address} and sign in again there (this \
             connection ends)."
        ),
        S::XfrSb { trid, address, cookie } => format!(
            "Answer to {trid}: a switchboard at {address}; the CKI cookie {cookie} lets you in once (USR there)."
        ),
        S::Rng { session_id, address, cookie, caller, caller_name } => format!(
            "Ring: {caller}, {}, invites you to chat session {session_id} on the switchboard at {address}; the \
             CKI cookie {cookie} lets you in once (ANS there).",
            friendly(caller_name)
        ),
        S::Msg { sender, sender_name, payload } => {
            format!("A message from {sender}, {}: {}", friendly(sender_name), payload_words(payload))
        }
        S::Out { reason: Some(r) } if r == "OTH" => "Signed out: you signed in somewhere else (OTH).".into(),
        S::Out { reason: Some(r) } if r == "SSD" => "Signed out: the server is shutting down (SSD).".into(),
        S::Out { reason } => {
            format!("Signed out by the server{}.", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())
        }
        S::Qng => "Answer to a ping: the connection is alive.".into(),
        S::Fnd { trid, results } => format!("Answer to {trid}: directory results {}.", results.join(" ")),
        S::Snd { trid, result } => format!("Answer to {trid}: invitation {result}."),
        S::Url { trid, url, login_url } => format!("Answer to {trid}: address {url}, through {login_url}."),
        S::Error { code, trid } => error(*code, *trid, ctx.request),
    }
}

fn lst(trid: TrId, l: List, version: u32, item: u32, total: u32, entry: Option<&ns::Entry>) -> String {
    match entry {
        None => {
            format!("Your {} is empty: entry {item} of {total} (list version {version}; answer to {trid}).", list(l))
        }
        Some(e) => format!(
            "{}, list version {version}, entry {item} of {total}: {}, shown as {} (answer to {trid}).",
            capitalize(list(l)),
            e.handle,
            friendly(&e.name)
        ),
    }
}

fn list_change(trid: TrId, what: &str, handle: &str, name: Option<&str>, l: List, version: u32) -> String {
    let shown = name.map(|n| format!(", shown as {}", friendly(n))).unwrap_or_default();
    if trid == TrId::UNSOLICITED && l == List::Reverse {
        let who =
            if what == "added" { "added you to their contact list" } else { "removed you from their contact list" };
        return format!("{handle}{shown} {who}: your {}, now version {version}.", list(l));
    }
    format!("Answer to {trid}: {handle}{shown} {what} on your {}, now version {version}.", list(l))
}

fn error(code: ErrorCode, trid: Option<TrId>, request: Option<&str>) -> String {
    let to = match (request, trid) {
        (Some(request), Some(trid)) => {
            let name = request.split_whitespace().next().unwrap_or("");
            format!(" to your {name} {trid}")
        }
        (None, Some(trid)) => format!(" to request {trid}"),
        _ => String::new(),
    };
    format!("Error {}{to}: {}", code.code(), code.meaning())
}

fn sb_request(cmd: &sb::ClientCommand) -> String {
    use sb::ClientCommand as C;
    match cmd {
        C::Usr { trid, handle, cookie } => format!(
            "Into the switchboard (request {trid}): {handle} shows the cookie {cookie} from XFR; it starts a new \
             chat session and works once."
        ),
        C::Ans { trid, handle, cookie, session_id } => format!(
            "Answer an invitation (request {trid}): {handle} joins session {session_id} with the cookie {cookie} \
             from RNG; it works once."
        ),
        C::Cal { trid, handle } => format!("Call (request {trid}): invite {handle} into this chat."),
        C::Msg { trid, ack, payload } => {
            let ack = match ack {
                msnp::AckMode::Unacknowledged => "U: no acknowledgement",
                msnp::AckMode::NegativeOnly => "N: NAK only if nobody got it",
                msnp::AckMode::Acknowledged => "A: ACK or NAK",
            };
            format!("Message (request {trid}, {ack}): {}", payload_words(payload))
        }
        C::Out => "Leave the chat: the others get BYE.".into(),
    }
}

fn sb_reply(cmd: &sb::ServerCommand, ctx: Context<'_>) -> String {
    use sb::ServerCommand as S;
    match cmd {
        S::UsrOk { trid, handle, name } => {
            format!(
                "Answer to {trid}: in the switchboard as {handle}, {}; a new session with only you.",
                friendly(name)
            )
        }
        S::CalRinging { trid, session_id } => {
            format!("Answer to {trid}: ringing; the invitation went out for session {session_id}.")
        }
        S::Iro { trid, index, total, handle, name } => {
            format!("Already in the chat (answer to {trid}), {index} of {total}: {handle}, {}.", friendly(name))
        }
        S::AnsOk { trid } => format!("Answer to {trid}: you are in the chat."),
        S::Joi { handle, name } => format!("{handle}, {}, joined the chat.", friendly(name)),
        S::Bye { handle } => format!("{handle} left the chat."),
        S::Msg { sender, sender_name, payload } => {
            format!("A message from {sender}, {}: {}", friendly(sender_name), payload_words(payload))
        }
        S::Ack { trid } => format!("Acknowledgement: message {trid} reached the others."),
        S::Nak { trid } => format!("Not delivered: message {trid} reached nobody (nobody else is here)."),
        S::Error { code, trid } => error(*code, *trid, ctx.request),
    }
}

/// What a `MSG` payload is: its headers, and its content in words.
fn payload_words(payload: &[u8]) -> String {
    let message = Message::parse(payload);
    let headers: Vec<String> = message.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    let what = match message.content() {
        Content::Text(text) => {
            let font = message.header("X-MMS-IM-Format").map(font).map(|f| format!(" In {f}.")).unwrap_or_default();
            format!("the text '{text}'.{font}")
        }
        Content::Typing(user) => format!("a typing notice: {user} is typing."),
        Content::Other(kind) if kind.starts_with("text/x-msmsgsprofile") => {
            "the server's profile message (account information; MSN Messenger 1.0 ignores it).".into()
        }
        Content::Other(kind) => format!("content of type {kind}, which chat clients ignore."),
    };
    format!("{what} ({} bytes; headers: {}.)", payload.len(), headers.join("; "))
}

/// The `X-MMS-IM-Format` header in words: `FN=Arial; EF=BI; CO=ff0000; ...`.
fn font(format: &str) -> String {
    let mut words = Vec::new();
    for part in format.split(';') {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key {
            "FN" => words.push(format!("font {}", name::decode(value))),
            "EF" if !value.is_empty() => {
                let effects: Vec<&str> = value
                    .chars()
                    .filter_map(|c| match c {
                        'B' => Some("bold"),
                        'I' => Some("italic"),
                        'U' => Some("underlined"),
                        'S' => Some("struck through"),
                        _ => None,
                    })
                    .collect();
                words.push(effects.join(" "));
            }
            // The colour travels blue-green-red, in hex: ff0000 is blue.
            "CO" if (1..=6).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let bgr = format!("{value:0>6}");
                let rgb = format!("#{}{}{}", &bgr[4..6], &bgr[2..4], &bgr[0..2]);
                words.push(format!("colour {rgb} (sent as {value}, blue-green-red)"));
            }
            _ => {}
        }
    }
    words.retain(|w| !w.is_empty());
    words.join(", ")
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
