//! Plain-words explanations of MSNP2 lines, for people learning the protocol.

use msnp::{ErrorCode, Frame, error::is_error_token};

/// What a command name means, in a sentence (MSNP2.md §5–§9).
pub fn command(name: &str) -> Option<&'static str> {
    Some(match name {
        "VER" => {
            "Version: the client lists the protocol dialects it speaks; the server picks one (MSNP2) or answers 0."
        }
        "INF" => "Security packages: the server says how to log in (MD5).",
        "USR" => "User authentication: the handle, then the MD5 of the server's challenge followed by the password.",
        "SYN" => "Synchronise: the client sends its cached list version; the server sends the lists if they changed.",
        "LST" => "One entry of a contact list (FL forward, AL allow, BL block, RL reverse).",
        "GTC" => "Whether to ask the user when someone adds them (A) or allow them silently (N).",
        "BLP" => "Privacy mode: everyone may see me except the block list (AL), or only my allow list (BL).",
        "ADD" => "Add someone to a list; ADD 0 RL from the server means someone added you.",
        "REM" => "Remove someone from a list; REM 0 RL from the server means someone removed you.",
        "REA" => "Rename: change your friendly name, or the name stored for a contact.",
        "CHG" => "Change state: Online, Busy, Idle, Be right back, Away, On the phone, Out to lunch, or Hidden.",
        "ILN" => "Initial presence of a contact, sent after your first state change.",
        "NLN" => "A contact came online, changed state or changed name.",
        "FLN" => "A contact went offline (or appears offline).",
        "CVR" => "Client version: the client describes itself; the server answers with recommended versions.",
        "XFR" => "Transfer: a switchboard (chat server) address and a cookie to get in with.",
        "RNG" => "Ring: someone invites you to a chat on a switchboard.",
        "CAL" => "Call: invite someone into this chat.",
        "ANS" => "Answer: join a chat you were invited to.",
        "IRO" => "One of the people already in the chat you joined.",
        "JOI" => "Someone joined the chat.",
        "BYE" => "Someone left the chat.",
        "MSG" => "A message, carried as a payload whose byte length ends the line.",
        "ACK" => "The message was delivered.",
        "NAK" => "The message was not delivered: nobody else is in the chat.",
        "PNG" => "Ping: is the connection alive?",
        "QNG" => "Reply to a ping.",
        "OUT" => "Sign out (OTH: signed in elsewhere; SSD: server shutting down).",
        "FND" => "Find people in the directory.",
        "SND" => "Send an invitation e-mail.",
        "URL" => "Ask for a web address (e.g. the inbox).",
        _ => return None,
    })
}

/// Explains one line as a person would read it: the command's meaning, or an error code's.
pub fn line(text: &str) -> String {
    let frame = Frame::command(text.trim_end_matches(['\r', '\n']));
    let name = frame.name();
    if name.is_empty() {
        return "An empty line: servers ignore it.".into();
    }
    if is_error_token(name) {
        let code = ErrorCode::from_code(name.parse().unwrap_or_default());
        return format!("Error {}: {}", code.code(), code.meaning());
    }
    match command(name) {
        Some(meaning) => format!("{name}: {meaning}"),
        None if command(&name.to_ascii_uppercase()).is_some() => {
            format!("{name}: command names are case-sensitive; a server answers 200 (syntax error).")
        }
        None => format!("{name}: not an MSNP2 command; a server answers 200 (syntax error)."),
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn explains_commands_and_errors() {
        assert!(line("USR 142 OK jd@hotmail.com JD").starts_with("USR: User authentication"));
        assert_eq!(line("911 142"), "Error 911: Wrong e-mail address or password.");
        assert!(line("chg 5 NLN").contains("case-sensitive"));
        assert!(line("FOO").contains("not an MSNP2 command"));
        assert!(line("\r\n").contains("empty"));
    }
}
