//! Notification-server commands, both directions (MSNP2.md §5–§7, §8.1, §8.4, §9).
//!
//! Names (friendly and custom) stay in their encoded wire form here: see [`crate::name`] to decode
//! them for display.

use crate::parse::{Args, ParseError, error_frame, parse_error_line};
use crate::{Blp, ErrorCode, Frame, Gtc, List, State, TrId};

/// The dialect this project speaks.
pub const DIALECT: &str = "MSNP2";
/// The fallback dialect MSN Messenger 1.0 offers after MSNP2 (§5.1).
pub const FALLBACK_DIALECT: &str = "CVR0";

/// Stage of a `USR` authentication exchange (§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsrStage {
    /// `I`: initial, carries the handle.
    Initial,
    /// `S`: subsequent, carries the response.
    Subsequent,
}

impl UsrStage {
    fn as_str(self) -> &'static str {
        match self {
            UsrStage::Initial => "I",
            UsrStage::Subsequent => "S",
        }
    }
}

impl std::str::FromStr for UsrStage {
    type Err = ();
    fn from_str(s: &str) -> Result<UsrStage, ()> {
        match s {
            "I" => Ok(UsrStage::Initial),
            "S" => Ok(UsrStage::Subsequent),
            _ => Err(()),
        }
    }
}

/// What a client says about itself in `CVR` (§5.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientVersion {
    /// Locale as a hex LCID, e.g. `0x0409`.
    pub locale: String,
    /// OS family, e.g. `win`.
    pub os_type: String,
    /// OS version, e.g. `4.0`; it varies with the machine.
    pub os_version: String,
    /// CPU, e.g. `i386`.
    pub arch: String,
    /// Requesting library, e.g. `MSMSGS`.
    pub library: String,
    /// Client version, e.g. `1.0.0863`.
    pub version: String,
}

impl ClientVersion {
    /// Exactly what MSN Messenger 1.0 (1.0.0863) sent in the seed log.
    pub fn msn_messenger_1_0() -> ClientVersion {
        ClientVersion {
            locale: "0x0409".into(),
            os_type: "win".into(),
            os_version: "4.0".into(),
            arch: "i386".into(),
            library: "MSMSGS".into(),
            version: "1.0.0863".into(),
        }
    }
}

/// Commands a client sends to the notification server.
///
/// Build one and call [`to_frame`](ClientCommand::to_frame) to get the bytes to send:
///
/// ```
/// use msnp::ns::{ClientCommand, UsrStage};
/// use msnp::{State, TrId};
///
/// let usr = ClientCommand::Usr {
///     trid: TrId(141),
///     package: "MD5".into(),
///     stage: UsrStage::Initial,
///     value: "jd@hotmail.com".into(),
/// };
/// assert_eq!(usr.to_frame().as_bytes(), b"USR 141 MD5 I jd@hotmail.com\r\n");
///
/// let chg = ClientCommand::Chg { trid: TrId(144), state: State::Online };
/// assert_eq!(chg.to_frame().line(), "CHG 144 NLN");
/// assert_eq!(ClientCommand::parse(&chg.to_frame()), Ok(chg));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    /// `VER <trid> <dialect> …`: offer protocol dialects (§5.1).
    Ver {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// Dialects in order of preference; MSN Messenger 1.0 sends `MSNP2 CVR0`.
        dialects: Vec<String>,
    },
    /// `INF <trid>`: ask which security packages the server offers (§5.2).
    Inf {
        /// The transaction id the reply echoes.
        trid: TrId,
    },
    /// `USR <trid> <package> I|S <value>`: one step of the MD5 login (§5.3).
    Usr {
        /// The transaction id the reply echoes; stage `S` uses a new one.
        trid: TrId,
        /// The security package, `MD5`.
        package: String,
        /// `I` (initial) or `S` (subsequent).
        stage: UsrStage,
        /// The handle at stage `I`; the 32-hex-digit response ([`crate::auth::md5_response`]) at stage `S`.
        value: String,
    },
    /// `SYN <trid> <version>`: synchronise lists and settings (§6.3).
    Syn {
        /// The transaction id the reply (and any list dump) echoes.
        trid: TrId,
        /// The list version the client has cached; `0` for none.
        version: u32,
    },
    /// `LST <trid> <list>`: ask for one list (§6.4).
    Lst {
        /// The transaction id the `LST` replies echo.
        trid: TrId,
        /// The list wanted.
        list: List,
    },
    /// `GTC <trid> A|N`: set what happens when someone adds the user (§6.5).
    Gtc {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// The new setting.
        mode: Gtc,
    },
    /// `BLP <trid> AL|BL`: set who may see the user by default (§6.6).
    Blp {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// The new privacy mode.
        mode: Blp,
    },
    /// `ADD <trid> <list> <handle> <custom-name>`: put someone on a list (§6.7).
    Add {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// `FL`, `AL` or `BL` (`RL` is the server's; sending it closes the connection).
        list: List,
        /// Handle (e-mail address) of the person to add.
        handle: String,
        /// Custom name to store with the entry, URL-encoded (§3.5).
        name: String,
    },
    /// `REM <trid> <list> <handle>`: take someone off a list (§6.8).
    Rem {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// `FL`, `AL` or `BL`.
        list: List,
        /// Handle of the person to remove.
        handle: String,
    },
    /// `REA <trid> <handle> <name>`: rename oneself, or change a contact's custom name (§6.9).
    Rea {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// Own handle to change the friendly name; a contact's handle to change its custom name.
        handle: String,
        /// The new name, URL-encoded (§3.5).
        name: String,
    },
    /// `CHG <trid> <state>`: set own presence state (§7.1).
    Chg {
        /// The transaction id the reply (and the first `CHG`'s `ILN`s) echoes.
        trid: TrId,
        /// The new state; `FLN` is refused with `201`.
        state: State,
    },
    /// `CVR <trid> <locale> <os-type> <os-ver> <arch> <library> <client-version>`: version check (§5.6).
    Cvr {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// What the client says about itself.
        client: ClientVersion,
    },
    /// `XFR <trid> SB`: ask for a switchboard (§8.1).
    Xfr {
        /// The transaction id the reply echoes.
        trid: TrId,
    },
    /// `FND <trid> fname=… lname=… city=… state=… country=…`: search the directory (§9.4).
    Fnd {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// The search terms, each `field=value`, as sent.
        query: Vec<String>,
    },
    /// `SND <trid> <e-mail>`: ask the server to send an invitation e-mail (§9.4).
    Snd {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// The address to invite.
        email: String,
    },
    /// `URL <trid> <service>`: ask for a web link, e.g. to the inbox (§9.4).
    Url {
        /// The transaction id the reply echoes.
        trid: TrId,
        /// The service wanted, e.g. `INBOX`.
        service: String,
    },
    /// `PNG`: keep-alive; the server answers `QNG` (§9.2).
    Png,
    /// `OUT`: sign out; the server closes the connection (§9.1).
    Out,
}

impl ClientCommand {
    /// Parses a frame received from a client. Extra trailing parameters are ignored (§11 rule 6).
    pub fn parse(frame: &Frame) -> Result<ClientCommand, ParseError> {
        let mut a = Args::new(frame);
        let bad = ErrorCode::InvalidParameter;
        Ok(match a.name() {
            "PNG" => ClientCommand::Png,
            "OUT" => ClientCommand::Out,
            "VER" => {
                let trid = a.trid()?;
                a.require(1)?;
                ClientCommand::Ver { trid, dialects: a.rest() }
            }
            "INF" => ClientCommand::Inf { trid: a.trid()? },
            "USR" => {
                let trid = a.trid()?;
                a.require(3)?;
                let package = a.string()?;
                let stage = a.value(ErrorCode::AuthenticationFailed)?;
                ClientCommand::Usr { trid, package, stage, value: a.string()? }
            }
            "SYN" => {
                let trid = a.trid()?;
                ClientCommand::Syn { trid, version: a.number(bad)? }
            }
            "LST" => {
                let trid = a.trid()?;
                ClientCommand::Lst { trid, list: a.value(bad)? }
            }
            "GTC" => {
                let trid = a.trid()?;
                ClientCommand::Gtc { trid, mode: a.value(bad)? }
            }
            "BLP" => {
                let trid = a.trid()?;
                ClientCommand::Blp { trid, mode: a.value(bad)? }
            }
            "ADD" => {
                let trid = a.trid()?;
                a.require(3)?;
                let list = a.value(bad)?;
                ClientCommand::Add { trid, list, handle: a.string()?, name: a.string()? }
            }
            "REM" => {
                let trid = a.trid()?;
                a.require(2)?;
                let list = a.value(bad)?;
                ClientCommand::Rem { trid, list, handle: a.string()? }
            }
            "REA" => {
                let trid = a.trid()?;
                a.require(2)?;
                ClientCommand::Rea { trid, handle: a.string()?, name: a.string()? }
            }
            "CHG" => {
                let trid = a.trid()?;
                ClientCommand::Chg { trid, state: a.value(bad)? }
            }
            "CVR" => {
                let trid = a.trid()?;
                a.require(6)?;
                let client = ClientVersion {
                    locale: a.string()?,
                    os_type: a.string()?,
                    os_version: a.string()?,
                    arch: a.string()?,
                    library: a.string()?,
                    version: a.string()?,
                };
                ClientCommand::Cvr { trid, client }
            }
            "XFR" => {
                let trid = a.trid()?;
                if a.text()? != "SB" {
                    return Err(a.invalid(bad));
                }
                ClientCommand::Xfr { trid }
            }
            "FND" => {
                let trid = a.trid()?;
                ClientCommand::Fnd { trid, query: a.rest() }
            }
            "SND" => {
                let trid = a.trid()?;
                ClientCommand::Snd { trid, email: a.string()? }
            }
            "URL" => {
                let trid = a.trid()?;
                ClientCommand::Url { trid, service: a.string()? }
            }
            _ => return Err(a.unknown()),
        })
    }

    /// The frame to send.
    pub fn to_frame(&self) -> Frame {
        Frame::command(match self {
            ClientCommand::Ver { trid, dialects } => format!("VER {trid} {}", dialects.join(" ")),
            ClientCommand::Inf { trid } => format!("INF {trid}"),
            ClientCommand::Usr { trid, package, stage, value } => {
                format!("USR {trid} {package} {} {value}", stage.as_str())
            }
            ClientCommand::Syn { trid, version } => format!("SYN {trid} {version}"),
            ClientCommand::Lst { trid, list } => format!("LST {trid} {list}"),
            ClientCommand::Gtc { trid, mode } => format!("GTC {trid} {mode}"),
            ClientCommand::Blp { trid, mode } => format!("BLP {trid} {mode}"),
            ClientCommand::Add { trid, list, handle, name } => format!("ADD {trid} {list} {handle} {name}"),
            ClientCommand::Rem { trid, list, handle } => format!("REM {trid} {list} {handle}"),
            ClientCommand::Rea { trid, handle, name } => format!("REA {trid} {handle} {name}"),
            ClientCommand::Chg { trid, state } => format!("CHG {trid} {state}"),
            ClientCommand::Cvr { trid, client: c } => {
                format!("CVR {trid} {} {} {} {} {} {}", c.locale, c.os_type, c.os_version, c.arch, c.library, c.version)
            }
            ClientCommand::Xfr { trid } => format!("XFR {trid} SB"),
            ClientCommand::Fnd { trid, query } => join(format!("FND {trid}"), query),
            ClientCommand::Snd { trid, email } => format!("SND {trid} {email}"),
            ClientCommand::Url { trid, service } => format!("URL {trid} {service}"),
            ClientCommand::Png => "PNG".into(),
            ClientCommand::Out => "OUT".into(),
        })
    }

    /// The command name, e.g. `"CHG"`.
    pub fn name(&self) -> &'static str {
        match self {
            ClientCommand::Ver { .. } => "VER",
            ClientCommand::Inf { .. } => "INF",
            ClientCommand::Usr { .. } => "USR",
            ClientCommand::Syn { .. } => "SYN",
            ClientCommand::Lst { .. } => "LST",
            ClientCommand::Gtc { .. } => "GTC",
            ClientCommand::Blp { .. } => "BLP",
            ClientCommand::Add { .. } => "ADD",
            ClientCommand::Rem { .. } => "REM",
            ClientCommand::Rea { .. } => "REA",
            ClientCommand::Chg { .. } => "CHG",
            ClientCommand::Cvr { .. } => "CVR",
            ClientCommand::Xfr { .. } => "XFR",
            ClientCommand::Fnd { .. } => "FND",
            ClientCommand::Snd { .. } => "SND",
            ClientCommand::Url { .. } => "URL",
            ClientCommand::Png => "PNG",
            ClientCommand::Out => "OUT",
        }
    }

    /// The TrID, for commands that carry one.
    pub fn trid(&self) -> Option<TrId> {
        match self {
            ClientCommand::Ver { trid, .. }
            | ClientCommand::Inf { trid }
            | ClientCommand::Usr { trid, .. }
            | ClientCommand::Syn { trid, .. }
            | ClientCommand::Lst { trid, .. }
            | ClientCommand::Gtc { trid, .. }
            | ClientCommand::Blp { trid, .. }
            | ClientCommand::Add { trid, .. }
            | ClientCommand::Rem { trid, .. }
            | ClientCommand::Rea { trid, .. }
            | ClientCommand::Chg { trid, .. }
            | ClientCommand::Cvr { trid, .. }
            | ClientCommand::Xfr { trid }
            | ClientCommand::Fnd { trid, .. }
            | ClientCommand::Snd { trid, .. }
            | ClientCommand::Url { trid, .. } => Some(*trid),
            ClientCommand::Png | ClientCommand::Out => None,
        }
    }
}

/// One entry of a list: a handle and the (encoded) custom name stored with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Handle (e-mail address) of the person on the list.
    pub handle: String,
    /// Custom name stored with the entry, URL-encoded (§3.5).
    pub name: String,
}

/// Commands the notification server sends to a client.
///
/// [`parse`](ServerCommand::parse) turns a received [`Frame`] into one:
///
/// ```
/// use msnp::ns::ServerCommand;
/// use msnp::{ErrorCode, Frame, State, TrId};
///
/// let nln = ServerCommand::parse(&Frame::command("NLN AWY bob@hotmail.com Bob")).unwrap();
/// assert_eq!(nln, ServerCommand::Nln { state: State::Away, handle: "bob@hotmail.com".into(), name: "Bob".into() });
///
/// let error = ServerCommand::parse(&Frame::command("911 142")).unwrap();
/// assert_eq!(error, ServerCommand::Error { code: ErrorCode::AuthenticationFailed, trid: Some(TrId(142)) });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    /// `VER <trid> MSNP2`, or `VER <trid> 0` when there is no common dialect (§5.1).
    Ver {
        /// The TrID of the client's `VER`.
        trid: TrId,
        /// The chosen dialect, or `0` when none of the offered ones is spoken.
        dialect: String,
    },
    /// `INF <trid> <package> …`: the security packages on offer (§5.2).
    Inf {
        /// The TrID of the client's `INF`.
        trid: TrId,
        /// Package names, e.g. `MD5`.
        packages: Vec<String>,
    },
    /// `USR <trid> MD5 S <challenge>` (§5.3).
    UsrChallenge {
        /// The TrID of the client's `USR … I`.
        trid: TrId,
        /// The security package, `MD5`.
        package: String,
        /// The challenge to hash with the password ([`crate::auth::md5_response`]), exactly as received.
        challenge: String,
    },
    /// `USR <trid> OK <handle> <friendly-name>`: signed in (§5.3).
    UsrOk {
        /// The TrID of the client's `USR … S`.
        trid: TrId,
        /// The account's canonical handle (e-mail address).
        handle: String,
        /// The user's friendly name, URL-encoded (§3.5).
        name: String,
    },
    /// `SYN <trid> <version>`: the server's list version. When it differs from the client's, `GTC`, `BLP`
    /// and an `LST` per list follow with the same TrID (§6.3).
    Syn {
        /// The TrID of the client's `SYN`.
        trid: TrId,
        /// The server's list version.
        version: u32,
    },
    /// `GTC <trid> <version> A|N`: the reply to `GTC`, or part of a `SYN` dump (§6.5).
    Gtc {
        /// The TrID of the client's `GTC` or `SYN`.
        trid: TrId,
        /// The list version (after the change, for a reply to `GTC`).
        version: u32,
        /// The setting.
        mode: Gtc,
    },
    /// `BLP <trid> <version> AL|BL`: the reply to `BLP`, or part of a `SYN` dump (§6.6).
    Blp {
        /// The TrID of the client's `BLP` or `SYN`.
        trid: TrId,
        /// The list version (after the change, for a reply to `BLP`).
        version: u32,
        /// The privacy mode.
        mode: Blp,
    },
    /// One line of a list: `item` of `total` (1-based), or `0 0` and no entry for an empty list (§6.4).
    Lst {
        /// The TrID of the client's `LST` or `SYN`.
        trid: TrId,
        /// Which list this line belongs to.
        list: List,
        /// The list version.
        version: u32,
        /// Position of this entry, from 1; `0` for an empty list.
        item: u32,
        /// Number of entries in the list; `0` when empty.
        total: u32,
        /// The entry; `None` for an empty list.
        entry: Option<Entry>,
    },
    /// `ADD <trid> <list> <version> <handle> <custom-name>`: an entry was added (§6.7). Also `ADD 0 RL …`
    /// when someone adds the user.
    Add {
        /// The TrID of the client's `ADD`; `0` when someone else added the user.
        trid: TrId,
        /// The list the entry went on.
        list: List,
        /// The new list version.
        version: u32,
        /// Handle of the person added (on `RL`: who added the user).
        handle: String,
        /// The custom name stored, URL-encoded; on `RL`, the adder's friendly name.
        name: String,
    },
    /// `REM <trid> <list> <version> <handle>`: an entry was removed (§6.8). Also `REM 0 RL …` when someone
    /// removes the user.
    Rem {
        /// The TrID of the client's `REM`; `0` when someone else removed the user.
        trid: TrId,
        /// The list the entry left.
        list: List,
        /// The new list version.
        version: u32,
        /// Handle of the person removed.
        handle: String,
    },
    /// `REA <trid> <version> <handle> <name>`: a rename took effect (§6.9).
    Rea {
        /// The TrID of the client's `REA`.
        trid: TrId,
        /// The new list version.
        version: u32,
        /// Own handle (friendly name changed) or a contact's (custom name changed).
        handle: String,
        /// The new name, URL-encoded.
        name: String,
    },
    /// `CHG <trid> <state>`: own state is now `state` (§7.1).
    Chg {
        /// The TrID of the client's `CHG`; `0` for a change the server made.
        trid: TrId,
        /// The user's state.
        state: State,
    },
    /// `ILN <trid> <state> <handle> <friendly-name>`: a contact's initial presence, after the first `CHG`
    /// or an `ADD` to the forward list (§7.2).
    Iln {
        /// The TrID of the `CHG` or `ADD` that caused it.
        trid: TrId,
        /// The contact's state.
        state: State,
        /// The contact's handle.
        handle: String,
        /// The contact's friendly name, URL-encoded.
        name: String,
    },
    /// `NLN <state> <handle> <friendly-name>`: a contact came online, changed state or renamed (§7.2).
    Nln {
        /// The contact's new state.
        state: State,
        /// The contact's handle.
        handle: String,
        /// The contact's friendly name, URL-encoded.
        name: String,
    },
    /// `FLN <handle>`: a contact is no longer visible (offline or hidden) (§7.2).
    Fln {
        /// The contact's handle.
        handle: String,
    },
    /// `CVR <trid> <recommended> <recommended-2> <minimum> <download-url> <info-url>` (§5.6).
    Cvr {
        /// The TrID of the client's `CVR`.
        trid: TrId,
        /// The recommended client version.
        recommended: String,
        /// The second version field, in practice the recommended version again.
        recommended2: String,
        /// The oldest client version allowed.
        minimum: String,
        /// Where to download the client.
        download_url: String,
        /// Where to read about it.
        info_url: String,
    },
    /// `XFR <trid> NS <host:port>`: go to another notification server (§5.4).
    XfrNs {
        /// The TrID of the request it answers; `0` for an unsolicited move.
        trid: TrId,
        /// `host[:port]` of the notification server to reconnect to.
        address: String,
    },
    /// `XFR <trid> SB <host:port> CKI <cookie>`: a switchboard is ready (§8.1).
    XfrSb {
        /// The TrID of the client's `XFR … SB`.
        trid: TrId,
        /// `host:port` of the switchboard.
        address: String,
        /// The cookie to give in `USR` on the switchboard.
        cookie: String,
    },
    /// `RNG <session-id> <host:port> CKI <cookie> <caller> <caller-name>`: an invitation to chat (§8.4).
    Rng {
        /// The switchboard session's id, to give in `ANS`.
        session_id: String,
        /// `host:port` of the switchboard.
        address: String,
        /// The cookie to give in `ANS`.
        cookie: String,
        /// Handle of the person inviting.
        caller: String,
        /// Their friendly name, URL-encoded.
        caller_name: String,
    },
    /// `MSG <sender> <sender-name> <length>` and payload (from `Hotmail` on the NS, §9.3).
    Msg {
        /// The sender's handle; `Hotmail` for the service's own messages.
        sender: String,
        /// The sender's friendly name, URL-encoded.
        sender_name: String,
        /// The payload bytes: MIME-style headers and body (see [`crate::message`]).
        payload: Vec<u8>,
    },
    /// `OUT`, `OUT OTH`, `OUT SSD`: the server signs the user out and closes (§9.1).
    Out {
        /// `OTH` (signed in elsewhere), `SSD` (server shutting down), another token, or `None` for a bare `OUT`.
        reason: Option<String>,
    },
    /// `QNG`: the answer to `PNG` (§9.2).
    Qng,
    /// `FND <trid> …`: directory search results (§9.4).
    Fnd {
        /// The TrID of the client's `FND`.
        trid: TrId,
        /// The parameters after the TrID, as sent (`0 0` when nothing was found).
        results: Vec<String>,
    },
    /// `SND <trid> <result>`: the answer to an invitation e-mail request (§9.4).
    Snd {
        /// The TrID of the client's `SND`.
        trid: TrId,
        /// The result, e.g. `OK`.
        result: String,
    },
    /// `URL <trid> <url> <login-url>`: a web link (§9.4).
    Url {
        /// The TrID of the client's `URL`.
        trid: TrId,
        /// The service's URL, relative.
        url: String,
        /// The login URL.
        login_url: String,
    },
    /// `<code> <trid>`: an error reply (§3.6, §10).
    Error {
        /// The error code.
        code: ErrorCode,
        /// The TrID of the failed request; `None` when the line has none.
        trid: Option<TrId>,
    },
}

impl ServerCommand {
    /// Parses a frame received from a notification server. Extra trailing parameters are ignored:
    /// other servers append fields of later dialects.
    pub fn parse(frame: &Frame) -> Result<ServerCommand, ParseError> {
        if let Some((code, trid)) = parse_error_line(frame) {
            return Ok(ServerCommand::Error { code, trid });
        }
        let mut a = Args::new(frame);
        let bad = ErrorCode::InvalidParameter;
        Ok(match a.name() {
            "QNG" => ServerCommand::Qng,
            "OUT" => ServerCommand::Out { reason: a.text().ok().map(str::to_owned) },
            "NLN" => {
                a.require(3)?;
                ServerCommand::Nln { state: a.value(bad)?, handle: a.string()?, name: a.string()? }
            }
            "FLN" => ServerCommand::Fln { handle: a.string()? },
            "RNG" => {
                a.require(6)?;
                let session_id = a.string()?;
                let address = a.string()?;
                if a.text()? != "CKI" {
                    return Err(a.violation("RNG without CKI"));
                }
                ServerCommand::Rng {
                    session_id,
                    address,
                    cookie: a.string()?,
                    caller: a.string()?,
                    caller_name: a.string()?,
                }
            }
            "MSG" => {
                a.require(3)?;
                let (sender, sender_name) = (a.string()?, a.string()?);
                ServerCommand::Msg { sender, sender_name, payload: frame.payload().unwrap_or_default().to_vec() }
            }
            "VER" => {
                let trid = a.trid()?;
                ServerCommand::Ver { trid, dialect: a.string()? }
            }
            "INF" => {
                let trid = a.trid()?;
                a.require(1)?;
                ServerCommand::Inf { trid, packages: a.rest() }
            }
            "USR" => {
                let trid = a.trid()?;
                a.require(3)?;
                match a.text()? {
                    "OK" => ServerCommand::UsrOk { trid, handle: a.string()?, name: a.string()? },
                    package => {
                        let package = package.to_owned();
                        if a.text()? != "S" {
                            return Err(a.invalid(bad));
                        }
                        ServerCommand::UsrChallenge { trid, package, challenge: a.string()? }
                    }
                }
            }
            "SYN" => {
                let trid = a.trid()?;
                ServerCommand::Syn { trid, version: a.number(bad)? }
            }
            "GTC" => {
                let trid = a.trid()?;
                a.require(2)?;
                ServerCommand::Gtc { trid, version: a.number(bad)?, mode: a.value(bad)? }
            }
            "BLP" => {
                let trid = a.trid()?;
                a.require(2)?;
                ServerCommand::Blp { trid, version: a.number(bad)?, mode: a.value(bad)? }
            }
            "LST" => {
                let trid = a.trid()?;
                a.require(4)?;
                let list = a.value(bad)?;
                let version = a.number(bad)?;
                let item = a.number(bad)?;
                let total = a.number(bad)?;
                let entry = if total == 0 {
                    None
                } else {
                    a.require(2)?;
                    Some(Entry { handle: a.string()?, name: a.string()? })
                };
                ServerCommand::Lst { trid, list, version, item, total, entry }
            }
            "ADD" => {
                let trid = a.trid()?;
                a.require(4)?;
                let list = a.value(bad)?;
                let version = a.number(bad)?;
                ServerCommand::Add { trid, list, version, handle: a.string()?, name: a.string()? }
            }
            "REM" => {
                let trid = a.trid()?;
                a.require(3)?;
                let list = a.value(bad)?;
                let version = a.number(bad)?;
                ServerCommand::Rem { trid, list, version, handle: a.string()? }
            }
            "REA" => {
                let trid = a.trid()?;
                a.require(3)?;
                let version = a.number(bad)?;
                ServerCommand::Rea { trid, version, handle: a.string()?, name: a.string()? }
            }
            "CHG" => {
                let trid = a.trid()?;
                ServerCommand::Chg { trid, state: a.value(bad)? }
            }
            "ILN" => {
                let trid = a.trid()?;
                a.require(3)?;
                ServerCommand::Iln { trid, state: a.value(bad)?, handle: a.string()?, name: a.string()? }
            }
            "CVR" => {
                let trid = a.trid()?;
                a.require(5)?;
                ServerCommand::Cvr {
                    trid,
                    recommended: a.string()?,
                    recommended2: a.string()?,
                    minimum: a.string()?,
                    download_url: a.string()?,
                    info_url: a.string()?,
                }
            }
            "XFR" => {
                let trid = a.trid()?;
                a.require(2)?;
                match a.text()? {
                    "NS" => ServerCommand::XfrNs { trid, address: a.string()? },
                    "SB" => {
                        a.require(3)?;
                        let address = a.string()?;
                        if a.text()? != "CKI" {
                            return Err(a.invalid(bad));
                        }
                        ServerCommand::XfrSb { trid, address, cookie: a.string()? }
                    }
                    _ => return Err(a.invalid(bad)),
                }
            }
            "FND" => {
                let trid = a.trid()?;
                ServerCommand::Fnd { trid, results: a.rest() }
            }
            "SND" => {
                let trid = a.trid()?;
                ServerCommand::Snd { trid, result: a.string()? }
            }
            "URL" => {
                let trid = a.trid()?;
                a.require(2)?;
                ServerCommand::Url { trid, url: a.string()?, login_url: a.string()? }
            }
            _ => return Err(a.unknown()),
        })
    }

    /// The frame to send.
    pub fn to_frame(&self) -> Frame {
        Frame::command(match self {
            ServerCommand::Msg { sender, sender_name, payload } => {
                return Frame::with_payload(&format!("MSG {sender} {sender_name}"), payload);
            }
            ServerCommand::Error { code, trid } => return error_frame(*code, *trid),
            ServerCommand::Ver { trid, dialect } => format!("VER {trid} {dialect}"),
            ServerCommand::Inf { trid, packages } => join(format!("INF {trid}"), packages),
            ServerCommand::UsrChallenge { trid, package, challenge } => format!("USR {trid} {package} S {challenge}"),
            ServerCommand::UsrOk { trid, handle, name } => format!("USR {trid} OK {handle} {name}"),
            ServerCommand::Syn { trid, version } => format!("SYN {trid} {version}"),
            ServerCommand::Gtc { trid, version, mode } => format!("GTC {trid} {version} {mode}"),
            ServerCommand::Blp { trid, version, mode } => format!("BLP {trid} {version} {mode}"),
            ServerCommand::Lst { trid, list, version, item, total, entry } => match entry {
                Some(e) => format!("LST {trid} {list} {version} {item} {total} {} {}", e.handle, e.name),
                None => format!("LST {trid} {list} {version} {item} {total}"),
            },
            ServerCommand::Add { trid, list, version, handle, name } => {
                format!("ADD {trid} {list} {version} {handle} {name}")
            }
            ServerCommand::Rem { trid, list, version, handle } => format!("REM {trid} {list} {version} {handle}"),
            ServerCommand::Rea { trid, version, handle, name } => format!("REA {trid} {version} {handle} {name}"),
            ServerCommand::Chg { trid, state } => format!("CHG {trid} {state}"),
            ServerCommand::Iln { trid, state, handle, name } => format!("ILN {trid} {state} {handle} {name}"),
            ServerCommand::Nln { state, handle, name } => format!("NLN {state} {handle} {name}"),
            ServerCommand::Fln { handle } => format!("FLN {handle}"),
            ServerCommand::Cvr { trid, recommended, recommended2, minimum, download_url, info_url } => {
                format!("CVR {trid} {recommended} {recommended2} {minimum} {download_url} {info_url}")
            }
            ServerCommand::XfrNs { trid, address } => format!("XFR {trid} NS {address}"),
            ServerCommand::XfrSb { trid, address, cookie } => format!("XFR {trid} SB {address} CKI {cookie}"),
            ServerCommand::Rng { session_id, address, cookie, caller, caller_name } => {
                format!("RNG {session_id} {address} CKI {cookie} {caller} {caller_name}")
            }
            ServerCommand::Out { reason: Some(reason) } => format!("OUT {reason}"),
            ServerCommand::Out { reason: None } => "OUT".into(),
            ServerCommand::Qng => "QNG".into(),
            ServerCommand::Fnd { trid, results } => join(format!("FND {trid}"), results),
            ServerCommand::Snd { trid, result } => format!("SND {trid} {result}"),
            ServerCommand::Url { trid, url, login_url } => format!("URL {trid} {url} {login_url}"),
        })
    }

    /// The TrID this line answers, if any (`0` means unsolicited).
    pub fn trid(&self) -> Option<TrId> {
        match self {
            ServerCommand::Ver { trid, .. }
            | ServerCommand::Inf { trid, .. }
            | ServerCommand::UsrChallenge { trid, .. }
            | ServerCommand::UsrOk { trid, .. }
            | ServerCommand::Syn { trid, .. }
            | ServerCommand::Gtc { trid, .. }
            | ServerCommand::Blp { trid, .. }
            | ServerCommand::Lst { trid, .. }
            | ServerCommand::Add { trid, .. }
            | ServerCommand::Rem { trid, .. }
            | ServerCommand::Rea { trid, .. }
            | ServerCommand::Chg { trid, .. }
            | ServerCommand::Iln { trid, .. }
            | ServerCommand::Cvr { trid, .. }
            | ServerCommand::XfrNs { trid, .. }
            | ServerCommand::XfrSb { trid, .. }
            | ServerCommand::Fnd { trid, .. }
            | ServerCommand::Snd { trid, .. }
            | ServerCommand::Url { trid, .. } => Some(*trid),
            ServerCommand::Error { trid, .. } => *trid,
            ServerCommand::Nln { .. }
            | ServerCommand::Fln { .. }
            | ServerCommand::Rng { .. }
            | ServerCommand::Msg { .. }
            | ServerCommand::Out { .. }
            | ServerCommand::Qng => None,
        }
    }
}

/// `head` followed by each of `params`, space-separated.
fn join(mut head: String, params: &[String]) -> String {
    for p in params {
        head.push(' ');
        head.push_str(p);
    }
    head
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn t(n: u32) -> TrId {
        TrId(n)
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    /// Parses `line` as sent by a client, checks the command, and that it serializes back exactly.
    fn client(line: &str, expected: ClientCommand) {
        let frame = Frame::command(line);
        assert_eq!(ClientCommand::parse(&frame), Ok(expected.clone()), "{line}");
        assert_eq!(expected.to_frame(), frame, "{line}");
    }

    fn server(line: &str, expected: ServerCommand) {
        let frame = Frame::command(line);
        assert_eq!(ServerCommand::parse(&frame), Ok(expected.clone()), "{line}");
        assert_eq!(expected.to_frame(), frame, "{line}");
    }

    fn client_err(line: &str) -> ParseError {
        ClientCommand::parse(&Frame::command(line)).unwrap_err()
    }

    #[test]
    fn names_are_the_first_token() {
        for line in ["VER 1 MSNP2", "CHG 2 NLN", "XFR 3 SB", "PNG", "OUT", "FND 4", "URL 5 INBOX"] {
            let frame = Frame::command(line);
            assert_eq!(ClientCommand::parse(&frame).unwrap().name(), frame.name());
        }
    }

    #[test]
    fn every_client_command() {
        client("VER 139 MSNP2 CVR0", ClientCommand::Ver { trid: t(139), dialects: vec![s("MSNP2"), s("CVR0")] });
        client("INF 140", ClientCommand::Inf { trid: t(140) });
        client(
            "USR 141 MD5 I jd@hotmail.com",
            ClientCommand::Usr {
                trid: t(141),
                package: s("MD5"),
                stage: UsrStage::Initial,
                value: s("jd@hotmail.com"),
            },
        );
        client(
            "USR 142 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a",
            ClientCommand::Usr {
                trid: t(142),
                package: s("MD5"),
                stage: UsrStage::Subsequent,
                value: s("8aca4d4721b726ba9cd5e3a5f601671a"),
            },
        );
        client("SYN 143 0", ClientCommand::Syn { trid: t(143), version: 0 });
        client("LST 9 RL", ClientCommand::Lst { trid: t(9), list: List::Reverse });
        client("GTC 9 N", ClientCommand::Gtc { trid: t(9), mode: Gtc::Never });
        client("BLP 9 BL", ClientCommand::Blp { trid: t(9), mode: Blp::BlockAll });
        client(
            "ADD 9 FL erin@hotmail.com Erin",
            ClientCommand::Add { trid: t(9), list: List::Forward, handle: s("erin@hotmail.com"), name: s("Erin") },
        );
        client(
            "REM 9 AL erin@hotmail.com",
            ClientCommand::Rem { trid: t(9), list: List::Allow, handle: s("erin@hotmail.com") },
        );
        client(
            "REA 8 bob@hotmail.com Bobby%20B",
            ClientCommand::Rea { trid: t(8), handle: s("bob@hotmail.com"), name: s("Bobby%20B") },
        );
        client("CHG 144 NLN", ClientCommand::Chg { trid: t(144), state: State::Online });
        client(
            "CVR 145 0x0409 win 4.0 i386 MSMSGS 1.0.0863",
            ClientCommand::Cvr { trid: t(145), client: ClientVersion::msn_messenger_1_0() },
        );
        client("XFR 7 SB", ClientCommand::Xfr { trid: t(7) });
        client(
            "FND 3 fname=a lname=b city=* state=* country=*",
            ClientCommand::Fnd {
                trid: t(3),
                query: ["fname=a", "lname=b", "city=*", "state=*", "country=*"].map(s).to_vec(),
            },
        );
        client("SND 4 friend@example.com", ClientCommand::Snd { trid: t(4), email: s("friend@example.com") });
        client("URL 5 INBOX", ClientCommand::Url { trid: t(5), service: s("INBOX") });
        client("PNG", ClientCommand::Png);
        client("OUT", ClientCommand::Out);
    }

    #[test]
    fn every_server_command() {
        server("VER 139 MSNP2", ServerCommand::Ver { trid: t(139), dialect: s("MSNP2") });
        server("VER 1 0", ServerCommand::Ver { trid: t(1), dialect: s("0") });
        server("INF 140 MD5", ServerCommand::Inf { trid: t(140), packages: vec![s("MD5")] });
        server(
            "USR 141 MD5 S 1013928519.693957190",
            ServerCommand::UsrChallenge { trid: t(141), package: s("MD5"), challenge: s("1013928519.693957190") },
        );
        server(
            "USR 142 OK jd@hotmail.com JD",
            ServerCommand::UsrOk { trid: t(142), handle: s("jd@hotmail.com"), name: s("JD") },
        );
        server("SYN 5 6", ServerCommand::Syn { trid: t(5), version: 6 });
        server("GTC 5 6 A", ServerCommand::Gtc { trid: t(5), version: 6, mode: Gtc::Ask });
        server("BLP 5 6 AL", ServerCommand::Blp { trid: t(5), version: 6, mode: Blp::AllowAll });
        server(
            "LST 5 FL 6 1 1 erin@hotmail.com Erin",
            ServerCommand::Lst {
                trid: t(5),
                list: List::Forward,
                version: 6,
                item: 1,
                total: 1,
                entry: Some(Entry { handle: s("erin@hotmail.com"), name: s("Erin") }),
            },
        );
        server(
            "LST 5 BL 6 0 0",
            ServerCommand::Lst { trid: t(5), list: List::Block, version: 6, item: 0, total: 0, entry: None },
        );
        server(
            "ADD 0 RL 7 dave@hotmail.com Dave",
            ServerCommand::Add {
                trid: t(0),
                list: List::Reverse,
                version: 7,
                handle: s("dave@hotmail.com"),
                name: s("Dave"),
            },
        );
        server(
            "REM 0 RL 8 dave@hotmail.com",
            ServerCommand::Rem { trid: t(0), list: List::Reverse, version: 8, handle: s("dave@hotmail.com") },
        );
        server(
            "REA 8 5 bob@hotmail.com Bobby%20B",
            ServerCommand::Rea { trid: t(8), version: 5, handle: s("bob@hotmail.com"), name: s("Bobby%20B") },
        );
        server("CHG 9 HDN", ServerCommand::Chg { trid: t(9), state: State::Hidden });
        server(
            "ILN 6 NLN alice@hotmail.com Alice",
            ServerCommand::Iln { trid: t(6), state: State::Online, handle: s("alice@hotmail.com"), name: s("Alice") },
        );
        server(
            "NLN AWY bob@hotmail.com Bob",
            ServerCommand::Nln { state: State::Away, handle: s("bob@hotmail.com"), name: s("Bob") },
        );
        server("FLN bob@hotmail.com", ServerCommand::Fln { handle: s("bob@hotmail.com") });
        server(
            "CVR 145 1.0.0863 1.0.0863 1.0.0863 http://messenger.example/setup.exe http://messenger.example/",
            ServerCommand::Cvr {
                trid: t(145),
                recommended: s("1.0.0863"),
                recommended2: s("1.0.0863"),
                minimum: s("1.0.0863"),
                download_url: s("http://messenger.example/setup.exe"),
                info_url: s("http://messenger.example/"),
            },
        );
        server("XFR 3 NS 10.0.0.5:1863", ServerCommand::XfrNs { trid: t(3), address: s("10.0.0.5:1863") });
        server(
            "XFR 7 SB 10.0.0.7:1863 CKI 1056411141.26158.2718",
            ServerCommand::XfrSb { trid: t(7), address: s("10.0.0.7:1863"), cookie: s("1056411141.26158.2718") },
        );
        server(
            "RNG 17342299 10.0.0.7:1863 CKI 1056411142.99120.3141 alice@hotmail.com Alice",
            ServerCommand::Rng {
                session_id: s("17342299"),
                address: s("10.0.0.7:1863"),
                cookie: s("1056411142.99120.3141"),
                caller: s("alice@hotmail.com"),
                caller_name: s("Alice"),
            },
        );
        server("OUT OTH", ServerCommand::Out { reason: Some(s("OTH")) });
        server("OUT SSD", ServerCommand::Out { reason: Some(s("SSD")) });
        server("OUT", ServerCommand::Out { reason: None });
        server("QNG", ServerCommand::Qng);
        server("FND 3 0 0", ServerCommand::Fnd { trid: t(3), results: vec![s("0"), s("0")] });
        server("SND 4 OK", ServerCommand::Snd { trid: t(4), result: s("OK") });
        server(
            "URL 5 /cgi-bin/inbox https://login.example/",
            ServerCommand::Url { trid: t(5), url: s("/cgi-bin/inbox"), login_url: s("https://login.example/") },
        );
        server("911 142", ServerCommand::Error { code: ErrorCode::AuthenticationFailed, trid: Some(t(142)) });
        server("200", ServerCommand::Error { code: ErrorCode::SyntaxError, trid: None });
    }

    #[test]
    fn server_msg_carries_its_payload() {
        let payload = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n\r\n";
        let cmd = ServerCommand::Msg { sender: s("Hotmail"), sender_name: s("Hotmail"), payload: payload.to_vec() };
        let frame = cmd.to_frame();
        assert_eq!(frame.line(), format!("MSG Hotmail Hotmail {}", payload.len()));
        assert_eq!(ServerCommand::parse(&frame), Ok(cmd));
    }

    #[test]
    fn server_lines_from_later_dialects_are_tolerated() {
        // MSNP6+ appends a verified flag; a client of this crate still understands the line.
        let frame = Frame::command("USR 4 OK jd@hotmail.com JD 1");
        assert!(matches!(ServerCommand::parse(&frame), Ok(ServerCommand::UsrOk { .. })));
    }

    #[test]
    fn malformed_client_lines_get_the_reference_replies() {
        let reply = |line: &str| client_err(line).reply().map(|f| f.line().to_owned());
        // §11 rule 4: unknown (including wrong case and server-only commands): 200 with the TrID if any.
        assert_eq!(reply("chg 5 NLN"), Some(s("200 5")));
        assert_eq!(reply("ILN 5 NLN a@b.c A"), Some(s("200 5")));
        assert_eq!(reply("FOO bar"), Some(s("200")));
        assert_eq!(reply("MSG 5 N 0"), Some(s("200 5")));
        // Rule 5: known command with a bad TrID: close.
        assert_eq!(reply("CHG NLN"), None);
        assert_eq!(reply("SYN 4294967296 0"), None);
        assert_eq!(reply("INF"), None);
        // Rule 6: too few parameters: 200 <trid>.
        for line in [
            "VER 5",
            "USR 5 MD5 I",
            "SYN 5",
            "LST 5",
            "GTC 5",
            "BLP 5",
            "ADD 5 FL a@b.c",
            "REM 5 FL",
            "REA 5 a@b.c",
            "CHG 5",
            "CVR 5 0x0409 win 4.0 i386 MSMSGS",
            "XFR 5",
            "SND 5",
            "URL 5",
        ] {
            assert_eq!(reply(line), Some(s("200 5")), "{line}");
        }
        // ADD checks the count before the list name (§6.7 rows 1 and 3).
        assert_eq!(reply("ADD 5 XX a@b.c"), Some(s("200 5")));
        // Rule 7: bad values get the command's code.
        for line in [
            "SYN 5 x",
            "SYN 5 -1",
            "LST 5 XL",
            "GTC 5 B",
            "BLP 5 FL",
            "ADD 5 XL a@b.c A",
            "REM 5 xx a@b.c",
            "CHG 5 nln",
            "CHG 5 ABC",
            "XFR 5 NS",
        ] {
            assert_eq!(reply(line), Some(s("201 5")), "{line}");
        }
        assert_eq!(reply("USR 3 MD5 X a@b.c"), Some(s("911 3")));
    }

    #[test]
    fn values_the_server_judges_still_parse() {
        // These are well-formed; the server's rules reject them with their own codes or a close.
        let parse = |line: &str| ClientCommand::parse(&Frame::command(line)).unwrap();
        assert_eq!(parse("CHG 5 FLN"), ClientCommand::Chg { trid: t(5), state: State::Offline });
        assert!(matches!(parse("ADD 5 RL a@b.c A"), ClientCommand::Add { list: List::Reverse, .. }));
        assert!(matches!(parse("USR 5 CTP I a@b.c"), ClientCommand::Usr { .. }));
        // Extra trailing parameters are ignored (§11 rule 6).
        assert_eq!(parse("CHG 5 NLN 0"), ClientCommand::Chg { trid: t(5), state: State::Online });
        assert_eq!(parse("OUT now"), ClientCommand::Out);
    }
}
