//! The notification-server client session: sign-in, lists, presence (MSNP2.md §5–§7, §14).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::{ActionError, RawLine, TrIds};
use crate::ns::{ClientCommand, ClientVersion, DIALECT, Entry, FALLBACK_DIALECT, ServerCommand, UsrStage};
use crate::{Blp, ErrorCode, Frame, Gtc, List, State, TrId, auth, handle, name};

/// How long sign-in (VER to the first CHG echo) may take before the session gives up.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(30);

/// What the session needs to sign in.
#[derive(Clone)]
pub struct NsConfig {
    /// The account's handle (e-mail address), sent in `USR … I`.
    pub handle: String,
    /// The account's password. It never leaves the machine: only the MD5 response is sent, and the session
    /// forgets the password once it has computed it.
    pub password: String,
    /// The state to go online in (the first `CHG`); `HDN` signs in hidden.
    pub initial_state: State,
    /// What this client says about itself in `CVR`, sent after the first `CHG` as MSN Messenger does;
    /// `None` skips CVR (it is optional).
    pub client: Option<ClientVersion>,
    /// The first TrID to use (MSN Messenger 1.0 was seen starting at 139).
    pub first_trid: u32,
    /// Lists cached from an earlier session: their version goes in `SYN`, and they are kept when the
    /// server says nothing changed.
    pub cache: Option<Lists>,
}

impl std::fmt::Debug for NsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsConfig")
            .field("handle", &self.handle)
            .field("password", &"<hidden>")
            .field("initial_state", &self.initial_state)
            .field("client", &self.client)
            .field("first_trid", &self.first_trid)
            .finish_non_exhaustive()
    }
}

/// The four lists and the settings they are versioned with (§6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lists {
    /// The list version (serial number) these lists are at (§6.2).
    pub version: u32,
    /// What to do when someone adds the user (§6.5).
    pub gtc: Gtc,
    /// Who may see the user by default (§6.6).
    pub blp: Blp,
    /// Forward list (`FL`): the user's contacts.
    pub forward: Vec<Entry>,
    /// Allow list (`AL`): people allowed to see and message the user.
    pub allow: Vec<Entry>,
    /// Block list (`BL`): people who may not.
    pub block: Vec<Entry>,
    /// Reverse list (`RL`): people who have the user on their forward list.
    pub reverse: Vec<Entry>,
}

impl Default for Lists {
    /// A new account's lists: version 0, GTC `A`, BLP `AL`, all empty.
    fn default() -> Lists {
        Lists {
            version: 0,
            gtc: Gtc::Ask,
            blp: Blp::AllowAll,
            forward: Vec::new(),
            allow: Vec::new(),
            block: Vec::new(),
            reverse: Vec::new(),
        }
    }
}

impl Lists {
    /// The entries of one list, in list order.
    pub fn list(&self, list: List) -> &[Entry] {
        match list {
            List::Forward => &self.forward,
            List::Allow => &self.allow,
            List::Block => &self.block,
            List::Reverse => &self.reverse,
        }
    }

    fn list_mut(&mut self, list: List) -> &mut Vec<Entry> {
        match list {
            List::Forward => &mut self.forward,
            List::Allow => &mut self.allow,
            List::Block => &mut self.block,
            List::Reverse => &mut self.reverse,
        }
    }

    /// Whether `who` is on `list`; handles compare case-insensitively.
    pub fn contains(&self, list: List, who: &str) -> bool {
        self.list(list).iter().any(|e| handle::same(&e.handle, who))
    }

    fn insert(&mut self, list: List, entry: Entry) {
        if !self.contains(list, &entry.handle) {
            self.list_mut(list).push(entry);
        }
    }

    fn remove(&mut self, list: List, who: &str) {
        self.list_mut(list).retain(|e| !handle::same(&e.handle, who));
    }
}

/// A contact's presence as last reported (`ILN`/`NLN`); absent means offline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// The contact's state.
    pub state: State,
    /// Friendly name, encoded as on the wire.
    pub name: String,
}

/// A forward-list entry with its presence, for showing the contact list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The contact's handle (e-mail address).
    pub handle: String,
    /// The stored custom name (encoded).
    pub custom_name: String,
    /// The contact's presence; `None` when offline.
    pub presence: Option<Presence>,
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsPhase {
    /// Created; `connect` not called yet.
    Idle,
    /// VER, INF, USR.
    SigningIn,
    /// Authenticated; SYN and the first CHG under way.
    Syncing,
    /// The first CHG was echoed.
    Online,
    /// Signed out or failed; the connection should be closed.
    Closed,
}

/// Why the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignOutReason {
    /// The user signed out (`OUT` sent).
    Requested,
    /// `OUT OTH`: the account signed in somewhere else.
    OtherLocation,
    /// `OUT SSD`: the server is shutting down.
    ServerShutdown,
    /// `OUT` with another reason, or none.
    ServerSignedOut(Option<String>),
    /// `911`: wrong handle or password.
    AuthenticationFailed,
    /// `VER … 0`: the server does not speak MSNP2.
    UnsupportedVersion,
    /// The server does not offer MD5 authentication.
    UnsupportedSecurity,
    /// `XFR … NS`: the server sends the client to another notification server.
    Redirected(String),
    /// Sign-in did not complete in time.
    Timeout,
    /// The connection ended without a sign-out.
    ConnectionLost,
}

/// What changed, for the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NsEvent {
    /// `USR … OK`: the password was accepted; lists and presence follow.
    Authenticated {
        /// Own handle, as the server spells it.
        handle: String,
        /// Own friendly name, URL-encoded.
        name: String,
    },
    /// The first `CHG` was echoed: the user is online in `state`.
    SignedIn {
        /// The state the server echoed.
        state: State,
    },
    /// Lists, settings or list version changed (the whole [`Lists`] is in [`NsClient::lists`]).
    ListsChanged {
        /// The list version now held.
        version: u32,
    },
    /// A contact came online, changed state or name (`Some`), or went offline (`None`): from `ILN`, `NLN`
    /// and `FLN` (§7.2), and from removing a contact from the forward list. Repeats of the same presence are
    /// not reported.
    PresenceChanged {
        /// The contact's handle, as the server sent it.
        handle: String,
        /// The contact's presence now; `None` when offline or out of sight.
        presence: Option<Presence>,
    },
    /// A `CHG` was echoed: own state is now this one.
    OwnStateChanged(State),
    /// Own friendly name (encoded).
    OwnNameChanged(String),
    /// `ADD 0 RL`: someone added the user. `ask` is true when GTC is `A` and they are on neither AL
    /// nor BL: the user should be asked to allow or block them. (With GTC `N` the session sends
    /// `ADD … AL` for them itself.)
    AddedBy {
        /// Who added the user.
        handle: String,
        /// Their friendly name, URL-encoded.
        name: String,
        /// Whether the user should be asked to allow or block them.
        ask: bool,
    },
    /// `REM 0 RL`: someone removed the user from their list.
    RemovedBy {
        /// Who removed the user.
        handle: String,
    },
    /// `RNG`: an invitation to a switchboard session; join it with an [`SbClient`](super::SbClient) and
    /// [`SbJoin::Callee`](super::SbJoin::Callee).
    Invited {
        /// The session's id, to give in `ANS`.
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
    /// `XFR … SB`: the switchboard asked for with [`NsClient::request_switchboard`] is ready; join it with
    /// an [`SbClient`](super::SbClient) and [`SbJoin::Caller`](super::SbJoin::Caller).
    SwitchboardReady {
        /// The TrID of the `XFR` ([`NsClient::request_switchboard`] returns it).
        trid: TrId,
        /// `host:port` of the switchboard.
        address: String,
        /// The cookie to give in `USR` there.
        cookie: String,
    },
    /// An error reply, usually to one of our requests; `command` names it when known.
    ServerError {
        /// The TrID the error line carries, if any.
        trid: Option<TrId>,
        /// The error code; [`ErrorCode::meaning`] explains it.
        code: ErrorCode,
        /// The name of our request with that TrID (e.g. `"ADD"`), when it was one of ours.
        command: Option<&'static str>,
    },
    /// A line this client could not understand; the session carries on.
    Unrecognized {
        /// The line, without its terminator.
        line: String,
        /// Why it could not be parsed.
        error: String,
    },
    /// The session ended, for this reason; close the connection.
    SignedOut(SignOutReason),
}

/// A SYN dump in progress: the lists not yet complete.
#[derive(Debug)]
struct Dump {
    trid: TrId,
    pending: Vec<List>,
}

/// A notification-server session, from `VER` to `OUT`.
///
/// Call [`connect`](NsClient::connect) once the connection is open, give it every frame received with
/// [`handle_frame`](NsClient::handle_frame), and after each call send what
/// [`poll_transmit`](NsClient::poll_transmit) returns and show what [`poll_event`](NsClient::poll_event)
/// returns. The sign-in of MSNP2.md §13.1, as MSN Messenger 1.0 does it:
///
/// ```
/// use std::time::Duration;
///
/// use msnp::client::{NsClient, NsConfig, NsEvent, NsPhase, SignOutReason};
/// use msnp::ns::ClientVersion;
/// use msnp::{Frame, State};
///
/// let mut session = NsClient::new(NsConfig {
///     handle: "jd@hotmail.com".into(),
///     password: "hunter2".into(),
///     initial_state: State::Busy,
///     client: Some(ClientVersion::msn_messenger_1_0()),
///     first_trid: 139,
///     cache: None,
/// });
/// let now = Duration::ZERO;
/// session.connect(now);
///
/// // Each line the client sends, and the server's answer to it.
/// let exchange = [
///     ("VER 139 MSNP2 CVR0", "VER 139 MSNP2"),
///     ("INF 140", "INF 140 MD5"),
///     ("USR 141 MD5 I jd@hotmail.com", "USR 141 MD5 S 1013928519.693957190"),
///     ("USR 142 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a", "USR 142 OK jd@hotmail.com JD"),
///     ("SYN 143 0", "SYN 143 0"),
///     ("CHG 144 BSY", "CHG 144 BSY"),
///     (
///         "CVR 145 0x0409 win 4.0 i386 MSMSGS 1.0.0863",
///         "CVR 145 1.0.0863 1.0.0863 1.0.0863 http://messenger.example/setup.exe http://messenger.example/",
///     ),
/// ];
/// for (client_line, server_line) in exchange {
///     assert_eq!(session.poll_transmit().unwrap().line(), client_line);
///     session.handle_frame(&Frame::command(server_line), now);
/// }
/// assert_eq!(session.phase(), NsPhase::Online);
/// assert_eq!(
///     std::iter::from_fn(|| session.poll_event()).collect::<Vec<_>>(),
///     [
///         NsEvent::Authenticated { handle: "jd@hotmail.com".into(), name: "JD".into() },
///         NsEvent::ListsChanged { version: 0 },
///         NsEvent::OwnStateChanged(State::Busy),
///         NsEvent::SignedIn { state: State::Busy },
///     ]
/// );
///
/// // Signing out queues `OUT`; send it, then close the connection.
/// session.sign_out();
/// assert_eq!(session.poll_transmit().unwrap().line(), "OUT");
/// assert_eq!(session.poll_event(), Some(NsEvent::SignedOut(SignOutReason::Requested)));
/// ```
#[derive(Debug)]
pub struct NsClient {
    config: NsConfig,
    phase: NsPhase,
    trids: TrIds,
    /// The command name of each request awaiting its reply.
    pending: BTreeMap<TrId, &'static str>,
    transmit: VecDeque<Frame>,
    events: VecDeque<NsEvent>,
    handle: String,
    name: String,
    state: Option<State>,
    lists: Lists,
    dump: Option<Dump>,
    presence: BTreeMap<String, Presence>,
    deadline: Option<Duration>,
}

impl NsClient {
    /// A session that will sign in with `config`. Nothing is sent until [`NsClient::connect`].
    pub fn new(mut config: NsConfig) -> NsClient {
        let lists = config.cache.take().unwrap_or_default();
        NsClient {
            trids: TrIds(config.first_trid),
            handle: config.handle.clone(),
            name: String::new(),
            config,
            phase: NsPhase::Idle,
            pending: BTreeMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            state: None,
            lists,
            dump: None,
            presence: BTreeMap::new(),
            deadline: None,
        }
    }

    /// The connection is open: start signing in.
    pub fn connect(&mut self, now: Duration) {
        if self.phase != NsPhase::Idle {
            return;
        }
        self.phase = NsPhase::SigningIn;
        self.deadline = Some(now + SIGN_IN_TIMEOUT);
        self.send(|trid| ClientCommand::Ver { trid, dialects: vec![DIALECT.into(), FALLBACK_DIALECT.into()] });
    }

    /// A frame arrived from the server.
    pub fn handle_frame(&mut self, frame: &Frame, _now: Duration) {
        if self.phase == NsPhase::Closed {
            return;
        }
        match ServerCommand::parse(frame) {
            Ok(cmd) => self.on_command(cmd),
            Err(err) => {
                self.events.push_back(NsEvent::Unrecognized { line: frame.line().to_owned(), error: err.to_string() })
            }
        }
    }

    /// The connection closed (or broke).
    pub fn handle_close(&mut self) {
        if self.phase != NsPhase::Closed {
            self.close(SignOutReason::ConnectionLost);
        }
    }

    /// When [`NsClient::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.deadline
    }

    /// Time has passed: sign-in gives up ([`SignOutReason::Timeout`]) once [`SIGN_IN_TIMEOUT`] has passed
    /// since [`NsClient::connect`] without the first `CHG` echo.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            if matches!(self.phase, NsPhase::SigningIn | NsPhase::Syncing) {
                self.close(SignOutReason::Timeout);
            }
        }
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NsEvent> {
        self.events.pop_front()
    }

    /// Where the session is.
    pub fn phase(&self) -> NsPhase {
        self.phase
    }

    /// Own handle (the server's canonical spelling once authenticated).
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// Own friendly name, encoded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Own state, once the server has echoed a CHG.
    pub fn state(&self) -> Option<State> {
        self.state
    }

    /// The lists and settings, as last synchronised and changed.
    pub fn lists(&self) -> &Lists {
        &self.lists
    }

    /// A contact's presence; `None` when offline (or not watched).
    pub fn presence(&self, who: &str) -> Option<&Presence> {
        self.presence.get(&who.to_ascii_lowercase())
    }

    /// The forward list with presence, in list order.
    pub fn contacts(&self) -> Vec<Contact> {
        self.lists
            .forward
            .iter()
            .map(|e| Contact {
                handle: e.handle.clone(),
                custom_name: e.name.clone(),
                presence: self.presence(&e.handle).cloned(),
            })
            .collect()
    }

    /// `CHG`: change own state.
    pub fn set_state(&mut self, state: State) -> Result<TrId, ActionError> {
        self.require_online()?;
        Ok(self.send(|trid| ClientCommand::Chg { trid, state }))
    }

    /// `REA` of oneself: change own friendly name (`name` as typed; it is encoded here).
    pub fn rename(&mut self, new_name: &str) -> Result<TrId, ActionError> {
        self.require_online()?;
        let name = name::encode_checked(new_name)?;
        let handle = self.handle.clone();
        Ok(self.send(|trid| ClientCommand::Rea { trid, handle, name }))
    }

    /// `ADD`: put `who` on a list, with `custom_name` as typed (the handle itself when `None`, as
    /// the official client does).
    pub fn add(&mut self, list: List, who: &str, custom_name: Option<&str>) -> Result<TrId, ActionError> {
        self.require_online()?;
        if !handle::is_valid(who) {
            return Err(ActionError::InvalidHandle(who.to_owned()));
        }
        let name = name::encode_checked(custom_name.unwrap_or(who))?;
        let handle = who.to_owned();
        Ok(self.send(|trid| ClientCommand::Add { trid, list, handle, name }))
    }

    /// `REM`: take `who` off a list.
    pub fn remove(&mut self, list: List, who: &str) -> Result<TrId, ActionError> {
        self.require_online()?;
        let handle = who.to_owned();
        Ok(self.send(|trid| ClientCommand::Rem { trid, list, handle }))
    }

    /// `GTC`: whether to be asked when someone adds the user.
    pub fn set_gtc(&mut self, mode: Gtc) -> Result<TrId, ActionError> {
        self.require_online()?;
        Ok(self.send(|trid| ClientCommand::Gtc { trid, mode }))
    }

    /// `BLP`: who may see the user by default.
    pub fn set_blp(&mut self, mode: Blp) -> Result<TrId, ActionError> {
        self.require_online()?;
        Ok(self.send(|trid| ClientCommand::Blp { trid, mode }))
    }

    /// `XFR SB`: ask for a switchboard; [`NsEvent::SwitchboardReady`] carries the same TrID.
    pub fn request_switchboard(&mut self) -> Result<TrId, ActionError> {
        self.require_online()?;
        Ok(self.send(|trid| ClientCommand::Xfr { trid }))
    }

    /// Sends a command line a person typed (a raw console): the TrID is filled in when left out, the reply
    /// is matched and followed like any other (`CHG 9 BSY` changes the state). `OUT` signs out.
    pub fn send_raw(&mut self, input: &str) -> Result<TrId, ActionError> {
        if matches!(self.phase, NsPhase::Idle | NsPhase::Closed) {
            return Err(ActionError::NotSignedIn);
        }
        let raw = RawLine::parse(input, &mut self.trids)?;
        match raw.name.as_str() {
            "OUT" => {
                self.sign_out();
                return Ok(TrId::UNSOLICITED);
            }
            "MSG" => return Err(ActionError::InvalidLine("MSG carries a payload: send messages from a chat")),
            _ => {}
        }
        let trid = raw.trid.unwrap_or(TrId::UNSOLICITED);
        let frame = Frame::command(raw.line());
        if raw.trid.is_some() {
            let name = ClientCommand::parse(&frame).map_or("command", |c| c.name());
            self.pending.insert(trid, name);
        }
        self.transmit.push_back(frame);
        Ok(trid)
    }

    /// `OUT`: sign out. The caller sends the queued `OUT`, then closes the connection.
    pub fn sign_out(&mut self) {
        if !matches!(self.phase, NsPhase::Idle | NsPhase::Closed) {
            self.transmit.push_back(ClientCommand::Out.to_frame());
        }
        self.close(SignOutReason::Requested);
    }

    fn require_online(&self) -> Result<(), ActionError> {
        match self.phase {
            NsPhase::Online | NsPhase::Syncing => Ok(()),
            _ => Err(ActionError::NotSignedIn),
        }
    }

    fn send(&mut self, build: impl FnOnce(TrId) -> ClientCommand) -> TrId {
        let trid = self.trids.next();
        let command = build(trid);
        self.pending.insert(trid, command.name());
        self.transmit.push_back(command.to_frame());
        trid
    }

    fn close(&mut self, reason: SignOutReason) {
        self.phase = NsPhase::Closed;
        self.deadline = None;
        self.config.password.clear();
        self.presence.clear();
        self.events.push_back(NsEvent::SignedOut(reason));
    }

    /// Takes the pending request `trid` answers, if it was one of ours.
    fn answered(&mut self, trid: TrId) -> Option<&'static str> {
        self.pending.remove(&trid)
    }

    fn on_command(&mut self, cmd: ServerCommand) {
        match cmd {
            ServerCommand::Ver { trid, dialect } => {
                self.answered(trid);
                if dialect.eq_ignore_ascii_case(DIALECT) {
                    self.send(|trid| ClientCommand::Inf { trid });
                } else {
                    self.close(SignOutReason::UnsupportedVersion);
                }
            }
            ServerCommand::Inf { trid, packages } => {
                self.answered(trid);
                if packages.iter().any(|p| p == auth::PACKAGE) {
                    let value = self.config.handle.clone();
                    self.send(|trid| ClientCommand::Usr {
                        trid,
                        package: auth::PACKAGE.into(),
                        stage: UsrStage::Initial,
                        value,
                    });
                } else {
                    self.close(SignOutReason::UnsupportedSecurity);
                }
            }
            ServerCommand::UsrChallenge { trid, challenge, .. } => {
                self.answered(trid);
                let value = auth::md5_response(&challenge, &self.config.password);
                self.config.password.clear();
                self.send(|trid| ClientCommand::Usr {
                    trid,
                    package: auth::PACKAGE.into(),
                    stage: UsrStage::Subsequent,
                    value,
                });
            }
            ServerCommand::UsrOk { trid, handle, name } => {
                self.answered(trid);
                self.phase = NsPhase::Syncing;
                self.handle = handle.clone();
                self.name = name.clone();
                self.events.push_back(NsEvent::Authenticated { handle, name });
                let version = self.lists.version;
                self.send(|trid| ClientCommand::Syn { trid, version });
            }
            ServerCommand::XfrNs { trid, address } => {
                self.answered(trid);
                self.close(SignOutReason::Redirected(address));
            }
            ServerCommand::Syn { trid, version } => {
                if version == self.lists.version {
                    self.answered(trid);
                    self.synced();
                } else {
                    // Everything follows: start from empty lists.
                    self.lists = Lists { version, ..Lists::default() };
                    let pending = vec![List::Forward, List::Allow, List::Block, List::Reverse];
                    self.dump = Some(Dump { trid, pending });
                }
            }
            ServerCommand::Lst { trid, list, version, item, total, entry } => {
                if let Some(entry) = entry {
                    self.lists.insert(list, entry);
                }
                self.lists.version = version;
                if item >= total {
                    self.list_complete(trid, list);
                }
            }
            ServerCommand::Gtc { trid, version, mode } => {
                self.answered(trid);
                self.lists.gtc = mode;
                self.list_version(version);
            }
            ServerCommand::Blp { trid, version, mode } => {
                self.answered(trid);
                self.lists.blp = mode;
                self.list_version(version);
            }
            ServerCommand::Chg { trid, state } => {
                self.answered(trid);
                let first = self.phase == NsPhase::Syncing;
                self.state = Some(state);
                self.events.push_back(NsEvent::OwnStateChanged(state));
                if first {
                    self.phase = NsPhase::Online;
                    self.deadline = None;
                    self.events.push_back(NsEvent::SignedIn { state });
                    if let Some(client) = self.config.client.clone() {
                        self.send(|trid| ClientCommand::Cvr { trid, client });
                    }
                }
            }
            ServerCommand::Cvr { trid, .. } => {
                self.answered(trid);
            }
            ServerCommand::Iln { state, handle, name, .. } | ServerCommand::Nln { state, handle, name } => {
                self.set_presence(handle, Some(Presence { state, name }));
            }
            ServerCommand::Fln { handle } => self.set_presence(handle, None),
            ServerCommand::Add { trid, list, version, handle, name } => {
                self.answered(trid);
                let added_by = trid == TrId::UNSOLICITED && list == List::Reverse;
                self.lists.insert(list, Entry { handle: handle.clone(), name: name.clone() });
                self.list_version(version);
                if added_by {
                    self.added_by(handle, name);
                }
            }
            ServerCommand::Rem { trid, list, version, handle } => {
                self.answered(trid);
                self.lists.remove(list, &handle);
                self.list_version(version);
                if list == List::Forward {
                    self.set_presence(handle, None);
                } else if list == List::Reverse && trid == TrId::UNSOLICITED {
                    self.events.push_back(NsEvent::RemovedBy { handle });
                }
            }
            ServerCommand::Rea { trid, version, handle, name } => {
                self.answered(trid);
                if handle::same(&handle, &self.handle) {
                    self.name = name.clone();
                    self.events.push_back(NsEvent::OwnNameChanged(name));
                } else {
                    for list in List::ALL {
                        for entry in self.lists.list_mut(*list) {
                            if handle::same(&entry.handle, &handle) {
                                entry.name = name.clone();
                            }
                        }
                    }
                }
                self.list_version(version);
            }
            ServerCommand::XfrSb { trid, address, cookie } => {
                self.answered(trid);
                self.events.push_back(NsEvent::SwitchboardReady { trid, address, cookie });
            }
            ServerCommand::Rng { session_id, address, cookie, caller, caller_name } => {
                self.events.push_back(NsEvent::Invited { session_id, address, cookie, caller, caller_name });
            }
            ServerCommand::Out { reason } => {
                let reason = match reason.as_deref() {
                    Some("OTH") => SignOutReason::OtherLocation,
                    Some("SSD") => SignOutReason::ServerShutdown,
                    _ => SignOutReason::ServerSignedOut(reason),
                };
                self.close(reason);
            }
            ServerCommand::Error { code, trid } => {
                let request = trid.and_then(|t| self.answered(t));
                if self.dump.as_ref().is_some_and(|d| Some(d.trid) == trid) {
                    // A download cut short: its version must not vouch for the part that arrived.
                    self.dump = None;
                    self.lists.version = 0;
                }
                self.events.push_back(NsEvent::ServerError { trid, code, command: request });
                match (self.phase, request) {
                    (_, Some("USR")) if code == ErrorCode::AuthenticationFailed => {
                        self.close(SignOutReason::AuthenticationFailed)
                    }
                    // A failed SYN or first CHG would leave sign-in stuck: carry on as the server allows.
                    (NsPhase::Syncing, Some("SYN")) => self.synced(),
                    _ => {}
                }
            }
            // The NS MSG (profile, e-mail notices) and the replies to QNG/FND/SND/URL need no state.
            ServerCommand::Msg { .. } | ServerCommand::Qng => {}
            ServerCommand::Fnd { trid, .. } | ServerCommand::Snd { trid, .. } | ServerCommand::Url { trid, .. } => {
                self.answered(trid);
            }
        }
    }

    fn list_version(&mut self, version: u32) {
        self.lists.version = version;
        if self.dump.is_none() {
            self.events.push_back(NsEvent::ListsChanged { version });
        }
    }

    fn list_complete(&mut self, trid: TrId, list: List) {
        let Some(dump) = self.dump.as_mut().filter(|d| d.trid == trid) else {
            return;
        };
        dump.pending.retain(|l| *l != list);
        if dump.pending.is_empty() {
            self.dump = None;
            self.answered(trid);
            self.synced();
        }
    }

    /// Lists are up to date: report them, and go online if this was sign-in's SYN.
    fn synced(&mut self) {
        self.events.push_back(NsEvent::ListsChanged { version: self.lists.version });
        if self.phase == NsPhase::Syncing && self.state.is_none() {
            let state = self.config.initial_state;
            self.send(|trid| ClientCommand::Chg { trid, state });
        }
    }

    fn added_by(&mut self, handle: String, name: String) {
        let undecided = !self.lists.contains(List::Allow, &handle) && !self.lists.contains(List::Block, &handle);
        let ask = undecided && self.lists.gtc == Gtc::Ask;
        if undecided && self.lists.gtc == Gtc::Never {
            // GTC N: allow them silently (§14).
            let (h, n) = (handle.clone(), name.clone());
            self.send(|trid| ClientCommand::Add { trid, list: List::Allow, handle: h, name: n });
        }
        self.events.push_back(NsEvent::AddedBy { handle, name, ask });
    }

    fn set_presence(&mut self, handle: String, presence: Option<Presence>) {
        let key = handle.to_ascii_lowercase();
        let changed = match &presence {
            Some(p) => self.presence.insert(key, p.clone()).as_ref() != Some(p),
            None => self.presence.remove(&key).is_some(),
        };
        if changed {
            self.events.push_back(NsEvent::PresenceChanged { handle, presence });
        }
    }
}
