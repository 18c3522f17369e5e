//! A line taken apart field by field, for the inspector's field table (as a protocol analyser's detail
//! pane does): each field's name, its bytes, and what it means.
//!
//! The line is first read with `msnp`'s typed commands (a line they refuse gets one row saying so); the
//! names of its fields follow MSNP2.md's syntax for that command, connection and direction.

use msnp::ns;
use msnp::{Blp, ErrorCode, Frame, Gtc, List, State, name, sb};

use crate::explain::{Conn, Direction};

/// One field of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// The field as on the wire.
    pub bytes: String,
    pub meaning: String,
}

/// The fields of `line` (a command line as logged, payload left out).
pub fn fields(conn: Conn, direction: Direction, line: &str) -> Vec<Field> {
    let frame = Frame::command(line);
    let understood = match (conn, direction) {
        (Conn::Notification, Direction::Sent) => ns::ClientCommand::parse(&frame).map(drop),
        (Conn::Notification, Direction::Received) => ns::ServerCommand::parse(&frame).map(drop),
        (Conn::Switchboard, Direction::Sent) => sb::ClientCommand::parse(&frame).map(drop),
        (Conn::Switchboard, Direction::Received) => sb::ServerCommand::parse(&frame).map(drop),
    };
    let tokens: Vec<&str> = frame.tokens().collect();
    let command = tokens[0];
    if let Err(e) = understood {
        return vec![field("Line", line, format!("Not understood: {e}."))];
    }
    let mut names: Vec<&'static str> = vec!["Command"];
    if has_trid(conn, direction, command, tokens.len()) {
        names.push("TrID");
    }
    names.extend(parameters(conn, direction, &tokens));
    tokens
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let name = names.get(i).or(names.last().filter(|n| n.ends_with('…'))).copied().unwrap_or("Parameter");
            field(name, bytes, meaning(name, bytes))
        })
        .collect()
}

fn field(name: &'static str, bytes: &str, meaning: String) -> Field {
    Field { name, bytes: bytes.to_owned(), meaning }
}

/// Whether the command carries a transaction ID (MSNP2.md §3: all but a few pushes and PNG/OUT/QNG).
fn has_trid(conn: Conn, direction: Direction, command: &str, len: usize) -> bool {
    if command.parse::<u16>().is_ok() {
        return len > 1;
    }
    !matches!(
        (conn, direction, command),
        (_, _, "PNG" | "QNG" | "OUT")
            | (Conn::Notification, Direction::Received, "NLN" | "FLN" | "RNG" | "MSG")
            | (Conn::Switchboard, Direction::Received, "JOI" | "BYE" | "MSG")
    )
}

/// The names of the fields after the command and its TrID.
fn parameters(conn: Conn, direction: Direction, tokens: &[&str]) -> Vec<&'static str> {
    let third = tokens.get(2).copied().unwrap_or("");
    let names: &[&str] = match (conn, direction, tokens[0]) {
        (Conn::Notification, Direction::Sent, command) => match command {
            "VER" => &["Dialect…"],
            "USR" if tokens.get(3) == Some(&"S") => &["Security package", "Stage", "MD5 response"],
            "USR" => &["Security package", "Stage", "Handle"],
            "SYN" => &["List version"],
            "LST" | "REM" => &["List", "Handle"],
            "GTC" => &["GTC mode"],
            "BLP" => &["BLP mode"],
            "ADD" => &["List", "Handle", "Friendly name"],
            "REA" => &["Handle", "Friendly name"],
            "CHG" => &["State"],
            "CVR" => &["Locale", "OS type", "OS version", "Architecture", "Client", "Client version"],
            "XFR" => &["Server type"],
            "FND" => &["Query…"],
            "SND" => &["Handle"],
            "URL" => &["Service"],
            _ => &[],
        },
        (Conn::Notification, Direction::Received, command) => match command {
            "VER" => &["Dialect"],
            "INF" => &["Security package…"],
            "USR" if third == "OK" => &["Result", "Handle", "Friendly name"],
            "USR" => &["Security package", "Stage", "Challenge"],
            "SYN" => &["List version"],
            "GTC" => &["List version", "GTC mode"],
            "BLP" => &["List version", "BLP mode"],
            "LST" => &["List", "List version", "Item", "Of", "Handle", "Friendly name"],
            "ADD" => &["List", "List version", "Handle", "Friendly name"],
            "REM" => &["List", "List version", "Handle"],
            "REA" => &["List version", "Handle", "Friendly name"],
            "CHG" => &["State"],
            "ILN" => &["State", "Handle", "Friendly name"],
            "NLN" => &["State", "Handle", "Friendly name"],
            "FLN" => &["Handle"],
            "CVR" => &["Recommended version", "Minimum version", "Minimum version", "Download URL", "Info URL"],
            "XFR" if third == "NS" => &["Server type", "Address"],
            "XFR" => &["Server type", "Address", "Authentication", "Cookie"],
            "RNG" => &["Session", "Address", "Authentication", "Cookie", "Handle", "Friendly name"],
            "MSG" => &["Handle", "Friendly name", "Length"],
            "OUT" => &["Reason"],
            _ => &[],
        },
        (Conn::Switchboard, Direction::Sent, command) => match command {
            "USR" => &["Handle", "Cookie"],
            "ANS" => &["Handle", "Cookie", "Session"],
            "CAL" => &["Handle"],
            "MSG" => &["Acknowledgement", "Length"],
            _ => &[],
        },
        (Conn::Switchboard, Direction::Received, command) => match command {
            "USR" => &["Result", "Handle", "Friendly name"],
            "CAL" => &["Result", "Session"],
            "IRO" => &["Item", "Of", "Handle", "Friendly name"],
            "ANS" => &["Result"],
            "JOI" => &["Handle", "Friendly name"],
            "BYE" => &["Handle"],
            "MSG" => &["Handle", "Friendly name", "Length"],
            _ => &[],
        },
    };
    names.to_vec()
}

/// What the field `name` holding `bytes` means.
fn meaning(name: &str, bytes: &str) -> String {
    match name {
        "Command" => command_meaning(bytes),
        "TrID" if bytes == "0" => "0: the server says this by itself, answering no request.".into(),
        "TrID" => format!("Transaction {bytes}: the answer carries the same number."),
        "List" => list(bytes),
        "State" => bytes.parse::<State>().map(|s| format!("{} ({bytes})", s.label())).unwrap_or_default(),
        "Friendly name" => {
            let decoded = name::decode(bytes);
            if decoded == bytes { format!("'{decoded}'") } else { format!("'{decoded}', URL-encoded on the wire") }
        }
        "Handle" => "An account: its e-mail address.".into(),
        "List version" => "The lists' serial number: it goes up with every change.".into(),
        "GTC mode" => match bytes.parse::<Gtc>() {
            Ok(Gtc::Ask) => "A: ask when someone adds you.".into(),
            Ok(Gtc::Never) => "N: allow them without asking.".into(),
            Err(_) => String::new(),
        },
        "BLP mode" => match bytes.parse::<Blp>() {
            Ok(Blp::AllowAll) => "AL: everyone not blocked may see and message you.".into(),
            Ok(Blp::BlockAll) => "BL: only people you allow may.".into(),
            Err(_) => String::new(),
        },
        "Stage" => match bytes {
            "I" => "I: initial, naming the account.".into(),
            "S" => "S: subsequent, the challenge or its answer.".into(),
            _ => String::new(),
        },
        "Challenge" => "Random text from the server; the client answers MD5(challenge + password).".into(),
        "MD5 response" => "MD5(challenge + password) in hex: the password itself is never sent.".into(),
        "Cookie" => "A one-time key that lets this person into the switchboard.".into(),
        "Authentication" => "CKI: the cookie that follows is the way in.".into(),
        "Address" => "Where to connect: host and port.".into(),
        "Session" => "The chat session's number on the switchboard.".into(),
        "Length" => format!("{bytes} bytes of message follow this line (headers, blank line, body)."),
        "Acknowledgement" => match bytes {
            "U" => "U: no acknowledgement (typing notices).".into(),
            "N" => "N: a NAK only if nobody got it.".into(),
            "A" => "A: ACK or NAK either way.".into(),
            _ => String::new(),
        },
        "Reason" => match bytes {
            "OTH" => "OTH: signed in somewhere else.".into(),
            "SSD" => "SSD: the server is shutting down.".into(),
            _ => String::new(),
        },
        "Item" => "This entry's number.".into(),
        "Of" => "How many entries there are.".into(),
        "Server type" => match bytes {
            "SB" => "SB: a switchboard, for a chat.".into(),
            "NS" => "NS: another notification server.".into(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn list(bytes: &str) -> String {
    match bytes.parse::<List>() {
        Ok(List::Forward) => "FL, the forward list: people you watch.".into(),
        Ok(List::Allow) => "AL, the allow list: people who may see and message you.".into(),
        Ok(List::Block) => "BL, the block list: people who may not.".into(),
        Ok(List::Reverse) => "RL, the reverse list: people who have you on theirs.".into(),
        Err(_) => String::new(),
    }
}

fn command_meaning(command: &str) -> String {
    if let Ok(code) = command.parse::<u16>() {
        return format!("Error {code}: {}", ErrorCode::from_code(code).meaning());
    }
    let what = match command {
        "VER" => "Version: which dialect to speak.",
        "INF" => "Information: which ways to sign in.",
        "USR" => "User: signing in.",
        "SYN" => "Synchronise the lists.",
        "LST" => "A list entry.",
        "GTC" => "What to do when someone adds you.",
        "BLP" => "Who may see you by default.",
        "ADD" => "Add to a list.",
        "REM" => "Remove from a list.",
        "REA" => "Rename.",
        "CHG" => "Change state.",
        "ILN" => "Initial presence of a contact.",
        "NLN" => "A contact's new presence.",
        "FLN" => "A contact went offline.",
        "CVR" => "Client version.",
        "XFR" => "Transfer to another server.",
        "RNG" => "Ring: an invitation to chat.",
        "MSG" => "A message.",
        "OUT" => "Sign out, or leave.",
        "PNG" => "Ping.",
        "QNG" => "Answer to a ping.",
        "FND" | "SND" | "URL" => "A directory or web service request.",
        "CAL" => "Call someone into the chat.",
        "ANS" => "Answer an invitation.",
        "IRO" => "Already in the chat.",
        "JOI" => "Someone joined.",
        "BYE" => "Someone left.",
        "ACK" => "The message was delivered.",
        "NAK" => "The message reached nobody.",
        _ => "",
    };
    what.into()
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn rows(conn: Conn, direction: Direction, line: &str) -> Vec<(&'static str, String)> {
        fields(conn, direction, line).into_iter().map(|f| (f.name, f.bytes)).collect()
    }

    #[test]
    fn every_field_is_named_by_command_connection_and_direction() {
        let s = |v: &str| v.to_owned();
        assert_eq!(
            rows(Conn::Notification, Direction::Received, "LST 5 FL 7 1 2 bob@hotmail.com Bob%20B"),
            [
                ("Command", s("LST")),
                ("TrID", s("5")),
                ("List", s("FL")),
                ("List version", s("7")),
                ("Item", s("1")),
                ("Of", s("2")),
                ("Handle", s("bob@hotmail.com")),
                ("Friendly name", s("Bob%20B"))
            ]
        );
        let nln = fields(Conn::Notification, Direction::Received, "NLN AWY bob@hotmail.com Bob%20B");
        assert_eq!(nln[1].name, "State");
        assert_eq!(nln[1].meaning, "Away (AWY)");
        assert_eq!(nln[3].meaning, "'Bob B', URL-encoded on the wire");
        let usr = rows(Conn::Notification, Direction::Sent, "USR 4 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a");
        assert_eq!(usr[4].0, "MD5 response");
        assert_eq!(rows(Conn::Switchboard, Direction::Sent, "MSG 3 N 72")[2].0, "Acknowledgement");
        assert_eq!(rows(Conn::Notification, Direction::Sent, "VER 1 MSNP2 CVR0")[3], ("Dialect…", s("CVR0")));
        let error = fields(Conn::Notification, Direction::Received, "205 7");
        assert_eq!((error[0].name, error[1].name), ("Command", "TrID"));
        assert!(error[0].meaning.starts_with("Error 205"));
        let zero = fields(Conn::Notification, Direction::Received, "ADD 0 RL 3 x@hotmail.com X");
        assert!(zero[1].meaning.starts_with("0: the server says this by itself"));
    }

    #[test]
    fn a_line_msnp_does_not_understand_is_one_row_saying_so() {
        let rows = fields(Conn::Notification, Direction::Received, "ZZZ 1 what");
        assert_eq!(rows.len(), 1);
        assert!(rows[0].meaning.starts_with("Not understood"), "{rows:?}");
    }
}
