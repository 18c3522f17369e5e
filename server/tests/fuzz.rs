//! A randomized campaign against the server logic, on stable Rust (no cargo-fuzz): many connections,
//! both servers, sending adversarial byte streams (real commands with odd parameters, garbage, any
//! split), dropping at random, time passing, and the store answering jobs in any order a real store could.
//! After every step: nothing panicked, every frame the server wrote parses with `msnp`, nothing was sent
//! to a closed connection, and the logic holds exactly the connections that are open; at the end, with
//! everyone gone, it holds nothing.
//!
//! `MSNP_FUZZ_SECONDS` sets how long it runs (default 3); `cargo xtask fuzz --seconds N` runs a long one.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use msnp::{Decoder, Frame, Limits};
use msnp_server::jobs::Job;
use msnp_server::metrics::Metrics;
use msnp_server::notification::{ConnId, JobId, Logic, NsConfig, Output};
use msnp_server::secret::Secret;
use msnp_server::store::SqliteStore;
use msnp_server::switchboard::SbConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const ACCOUNTS: &[(&str, &str)] =
    &[("alice@hotmail.com", "alice"), ("bob@hotmail.com", "bob"), ("carol@hotmail.com", "carol")];
const NAMES: &[&str] = &[
    "VER", "INF", "USR", "SYN", "LST", "GTC", "BLP", "CHG", "ADD", "REM", "REA", "XFR", "CVR", "FND", "SND", "URL",
    "PNG", "OUT", "CAL", "ANS", "MSG", "ILN", "chg", "ZZZ", "QNG", "IRO",
];
const WORDS: &[&str] = &[
    "MSNP2",
    "CVR0",
    "MD5",
    "I",
    "S",
    "FL",
    "AL",
    "BL",
    "RL",
    "A",
    "N",
    "U",
    "NLN",
    "HDN",
    "BSY",
    "FLN",
    "SB",
    "NS",
    "0x0409",
    "win",
    "4.0",
    "i386",
    "MSMSGS",
    "1.0.0863",
    "Name%20X",
    "%",
    "-1",
    "0",
    "4294967296",
    "x@y",
];

/// One parameter of a generated command line.
#[derive(Clone, Debug)]
enum Param {
    Word(usize),
    Handle(usize),
    /// MD5 of the connection's last challenge and account `n`'s password.
    Response(usize),
    /// The `n`th cookie announced so far.
    Cookie(usize),
    /// The last session id announced.
    Session,
    Number(u64),
    Junk(String),
}

#[derive(Clone, Debug)]
enum Data {
    Line { name: usize, trid: Option<u64>, params: Vec<Param>, payload: Option<(Vec<u8>, i64)> },
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Action {
    Connect {
        switchboard: bool,
    },
    Send {
        conn: usize,
        data: Data,
        split: usize,
    },
    SignIn {
        conn: usize,
        account: usize,
    },
    /// `XFR SB` on an NS connection, then `USR` on a new switchboard connection and `CAL` someone.
    Chat {
        conn: usize,
        invitee: usize,
    },
    /// Answers the last `RNG` on a new switchboard connection.
    Answer,
    /// A message with an acknowledgement mode on a (switchboard) connection.
    Say {
        conn: usize,
        ack: usize,
    },
    Disconnect(usize),
    Tick(u8),
    CompleteRead(usize),
    CompleteWrite,
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        4 => (0..WORDS.len()).prop_map(Param::Word),
        4 => (0..ACCOUNTS.len() + 1).prop_map(Param::Handle),
        1 => (0..ACCOUNTS.len()).prop_map(Param::Response),
        2 => (0..4usize).prop_map(Param::Cookie),
        1 => Just(Param::Session),
        1 => any::<u64>().prop_map(Param::Number),
        1 => "[ -~]{0,12}".prop_map(Param::Junk),
    ]
}

fn data() -> impl Strategy<Value = Data> {
    let payload = prop::option::weighted(0.1, (prop::collection::vec(any::<u8>(), 0..80), -3i64..3));
    prop_oneof![
        8 => (0..NAMES.len(), prop::option::weighted(0.9, 0..12u64), prop::collection::vec(param(), 0..6), payload)
            .prop_map(|(name, trid, params, payload)| Data::Line { name, trid, params, payload }),
        1 => prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b' ')], 0..64).prop_map(Data::Bytes),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => any::<bool>().prop_map(|switchboard| Action::Connect { switchboard }),
        10 => (0..8usize, data(), 1..8usize).prop_map(|(conn, data, split)| Action::Send { conn, data, split }),
        4 => (0..8usize, 0..ACCOUNTS.len()).prop_map(|(conn, account)| Action::SignIn { conn, account }),
        3 => (0..8usize, 0..ACCOUNTS.len()).prop_map(|(conn, invitee)| Action::Chat { conn, invitee }),
        2 => Just(Action::Answer),
        3 => (0..8usize, 0..4usize).prop_map(|(conn, ack)| Action::Say { conn, ack }),
        1 => (0..8usize).prop_map(Action::Disconnect),
        1 => (0..70u8).prop_map(Action::Tick),
        3 => (0..4usize).prop_map(Action::CompleteRead),
        3 => Just(Action::CompleteWrite),
    ]
}

struct SimConn {
    id: ConnId,
    switchboard: bool,
    /// The last `USR … MD5 S <challenge>` this connection was sent.
    challenge: Option<String>,
    /// Who signed in on it.
    handle: Option<String>,
    /// What its reader task holds: bytes not yet a frame, and frames the logic has not taken yet.
    decoder: Decoder,
    frames: VecDeque<Frame>,
}

/// The logic, a store, and the connections as the network layer would see them.
struct Sim {
    logic: Logic,
    store: SqliteStore,
    now: Duration,
    open: Vec<SimConn>,
    gone: HashSet<ConnId>,
    next_id: ConnId,
    reads: Vec<(JobId, Job)>,
    writes: VecDeque<(JobId, Job)>,
    cookies: Vec<String>,
    session: String,
    /// The last invitation: to whom, with which cookie.
    rung: Option<(String, String)>,
}

impl Sim {
    fn new() -> Sim {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        msnp_server::accounts::import(&mut store, msnp_server::accounts::DEMO_ACCOUNTS).unwrap();
        let config = NsConfig { max_list: 4, ..NsConfig::default() };
        let sb = SbConfig { max_participants: 3, ..SbConfig::default() };
        let logic = Logic::new(config, sb, std::sync::Arc::new(Metrics::default())).unwrap();
        Sim {
            logic,
            store,
            now: Duration::ZERO,
            open: Vec::new(),
            gone: HashSet::new(),
            next_id: 1,
            reads: Vec::new(),
            writes: VecDeque::new(),
            cookies: Vec::new(),
            session: "1".into(),
            rung: None,
        }
    }

    fn render(&self, conn: usize, data: &Data) -> Vec<u8> {
        let Data::Line { name, trid, params, payload } = data else {
            let Data::Bytes(bytes) = data else { unreachable!() };
            return bytes.clone();
        };
        let mut line = NAMES[*name].to_owned();
        if let Some(trid) = trid {
            line += &format!(" {trid}");
        }
        for p in params {
            line.push(' ');
            line += &match p {
                Param::Word(i) => WORDS[*i].to_owned(),
                Param::Handle(i) => ACCOUNTS.get(*i).map_or("nobody@hotmail.com", |a| a.0).to_owned(),
                Param::Response(i) => {
                    let challenge = self.open.get(conn).and_then(|c| c.challenge.clone()).unwrap_or_default();
                    msnp::auth::md5_response(&challenge, ACCOUNTS[*i].1)
                }
                Param::Cookie(i) => self.cookies.iter().rev().nth(*i).cloned().unwrap_or_else(|| "1.2".into()),
                Param::Session => self.session.clone(),
                Param::Number(n) => n.to_string(),
                Param::Junk(j) => j.clone(),
            };
        }
        let mut bytes = Vec::new();
        match payload {
            Some((body, skew)) => {
                let len = (body.len() as i64 + skew).max(0);
                bytes.extend(format!("{line} {len}\r\n").into_bytes());
                bytes.extend(body);
            }
            None => bytes.extend(format!("{line}\r\n").into_bytes()),
        }
        bytes
    }

    /// Feeds `bytes` to connection `conn`, split into pieces, as its reader task would.
    fn feed(&mut self, conn: usize, bytes: &[u8], split: usize) -> Result<(), TestCaseError> {
        for piece in bytes.chunks(bytes.len().div_ceil(split).max(1)) {
            let Some(c) = self.open.get_mut(conn) else { return Ok(()) };
            c.decoder.extend(piece);
            loop {
                match c.decoder.next_frame() {
                    Ok(Some(frame)) => c.frames.push_back(frame),
                    Ok(None) => break,
                    // The stream broke: the reader hands over what came before, then hangs up.
                    Err(_) => {
                        self.deliver()?;
                        return self.disconnect(conn);
                    }
                }
            }
            self.deliver()?;
        }
        Ok(())
    }

    /// Hands queued frames to the logic, one at a time, to connections that are not waiting for a job.
    fn deliver(&mut self) -> Result<(), TestCaseError> {
        loop {
            let next = self.open.iter_mut().find(|c| !c.frames.is_empty() && !self.logic.waiting(c.id));
            let Some(c) = next else { return Ok(()) };
            let frame = c.frames.pop_front().expect("not empty");
            match c.switchboard {
                true => self.logic.sb_receive(c.id, &frame, self.now),
                false => self.logic.receive(c.id, &frame, self.now),
            }
            self.drain()?;
        }
    }

    fn disconnect(&mut self, conn: usize) -> Result<(), TestCaseError> {
        if conn < self.open.len() {
            let c = self.open.remove(conn);
            self.gone.insert(c.id);
            self.logic.disconnect(c.id);
            self.drain()?;
        }
        Ok(())
    }

    /// Carries out the logic's outputs, checking each.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(output) = self.logic.poll_output() {
            match output {
                Output::Send(id, frame) => self.check_sent(id, &frame)?,
                Output::Close(id) => {
                    if let Some(i) = self.open.iter().position(|c| c.id == id) {
                        self.open.remove(i);
                        self.gone.insert(id);
                        self.logic.disconnect(id);
                    }
                }
                // Writes, and reads in line with them, run in order on the store's writer thread.
                Output::Job(id, job @ (Job::Write { .. } | Job::SignIn { ordered: true, .. })) => {
                    self.writes.push_back((id, job))
                }
                Output::Job(id, job) => self.reads.push((id, job)),
                Output::Resume(_) | Output::Bus(_) => {}
            }
        }
        let census = self.logic.census();
        prop_assert_eq!(census.connections, self.open.len(), "connections counted: {:?}", census);
        let ns_open = self.open.iter().filter(|c| !c.switchboard).count();
        prop_assert!(census.users <= ns_open, "{:?} with {} NS connections", census, ns_open);
        prop_assert_eq!(census.jobs, self.reads.len() + self.writes.len());
        Ok(())
    }

    fn check_sent(&mut self, id: ConnId, frame: &Frame) -> Result<(), TestCaseError> {
        prop_assert!(!self.gone.contains(&id), "sent {:?} to a closed connection", frame.line());
        let conn = self.open.iter_mut().find(|c| c.id == id);
        let Some(conn) = conn else { return Err(TestCaseError::fail(format!("sent to unknown {id}"))) };
        let mut decoder = Decoder::new(Limits::CLIENT);
        decoder.extend(frame.as_bytes());
        let again = decoder.next_frame().ok().flatten();
        prop_assert_eq!(again.as_ref(), Some(frame));
        prop_assert_eq!(decoder.buffered(), 0);
        if conn.switchboard {
            let parsed = msnp::sb::ServerCommand::parse(frame);
            prop_assert!(parsed.is_ok(), "unparseable {:?}: {:?}", frame.line(), parsed);
        } else {
            let parsed = msnp::ns::ServerCommand::parse(frame);
            prop_assert!(parsed.is_ok(), "unparseable {:?}: {:?}", frame.line(), parsed);
            match parsed {
                Ok(msnp::ns::ServerCommand::UsrChallenge { challenge, .. }) => conn.challenge = Some(challenge),
                Ok(msnp::ns::ServerCommand::UsrOk { handle, .. }) => conn.handle = Some(handle),
                Ok(msnp::ns::ServerCommand::XfrSb { cookie, .. }) => self.cookies.push(cookie),
                Ok(msnp::ns::ServerCommand::Rng { cookie, session_id, .. }) => {
                    self.cookies.push(cookie.clone());
                    self.session = session_id;
                    self.rung = conn.handle.clone().map(|h| (h, cookie));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn step(&mut self, action: &Action) -> Result<(), TestCaseError> {
        match action {
            Action::Connect { switchboard } => {
                let id = self.next_id;
                self.next_id += 1;
                let (decoder, frames) = (Decoder::new(Limits::SERVER), VecDeque::new());
                let c = SimConn { id, switchboard: *switchboard, challenge: None, handle: None, decoder, frames };
                self.open.push(c);
                match switchboard {
                    true => self.logic.sb_connect(id, self.now),
                    false => self.logic.connect(id, Some("10.0.0.1".parse().unwrap()), self.now),
                }
                self.drain()?;
            }
            Action::Send { conn, data, split } => {
                let bytes = self.render(*conn, data);
                self.feed(*conn, &bytes, *split)?;
            }
            Action::SignIn { conn, account } => {
                let (handle, _) = ACCOUNTS[*account];
                self.feed(*conn, format!("VER 1 MSNP2\r\nUSR 2 MD5 I {handle}\r\n").as_bytes(), 1)?;
                // The MD5 answer is computed from the challenge, so it is sent after it arrives.
                let response = Data::Line {
                    name: 2,
                    trid: Some(3),
                    params: vec![Param::Word(2), Param::Word(4), Param::Response(*account)],
                    payload: None,
                };
                let bytes = self.render(*conn, &response);
                self.feed(*conn, &bytes, 1)?;
                self.feed(*conn, b"SYN 4 0\r\nCHG 5 NLN\r\n", 1)?;
            }
            Action::Chat { conn, invitee } => {
                let Some(handle) = self.open.get(*conn).and_then(|c| c.handle.clone()) else { return Ok(()) };
                self.feed(*conn, b"XFR 90 SB\r\n", 1)?;
                let cookie = self.cookies.last().cloned().unwrap_or_default();
                self.step(&Action::Connect { switchboard: true })?;
                let line = format!("USR 1 {handle} {cookie}\r\nCAL 2 {}\r\n", ACCOUNTS[*invitee].0);
                self.feed(self.open.len() - 1, line.as_bytes(), 2)?;
            }
            Action::Answer => {
                let Some((handle, cookie)) = self.rung.take() else { return Ok(()) };
                self.step(&Action::Connect { switchboard: true })?;
                let line = format!("ANS 1 {handle} {cookie} {}\r\n", self.session);
                self.feed(self.open.len() - 1, line.as_bytes(), 1)?;
            }
            Action::Say { conn, ack } => {
                let body = "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi";
                let line = format!("MSG 5 {} {}\r\n{body}", ["U", "N", "A", "X"][*ack], body.len());
                self.feed(*conn, line.as_bytes(), 3)?;
            }
            Action::Disconnect(conn) => self.disconnect(*conn)?,
            Action::Tick(seconds) => {
                self.now += Duration::from_secs((*seconds).into());
                self.logic.handle_timeout(self.now);
                self.drain()?;
            }
            Action::CompleteRead(i) => {
                if !self.reads.is_empty() {
                    let (id, job) = self.reads.remove(i % self.reads.len());
                    let done = job.run(&mut self.store);
                    self.logic.job_done(id, done, self.now);
                    self.drain()?;
                    self.deliver()?;
                }
            }
            Action::CompleteWrite => {
                if let Some((id, job)) = self.writes.pop_front() {
                    let done = job.run(&mut self.store);
                    self.logic.job_done(id, done, self.now);
                    self.drain()?;
                    self.deliver()?;
                }
            }
        }
        Ok(())
    }

    /// Everyone leaves, the store finishes, cookies expire: nothing may be left.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        while !self.open.is_empty() {
            self.disconnect(0)?;
        }
        while !self.reads.is_empty() || !self.writes.is_empty() {
            self.step(&Action::CompleteRead(0))?;
            self.step(&Action::CompleteWrite)?;
        }
        self.step(&Action::Tick(200))?;
        prop_assert_eq!(self.logic.census(), Default::default());
        Ok(())
    }
}

#[test]
fn the_server_logic_survives_anything_and_leaves_nothing_behind() {
    let seconds = std::env::var("MSNP_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let strategy = prop::collection::vec(action(), 1..120);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
        let result = runner.run(&strategy, |actions| {
            let mut sim = Sim::new();
            for action in &actions {
                sim.step(action)?;
            }
            sim.finish()
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        runs += 64;
    }
    eprintln!("server logic: {runs} random sessions in {seconds} s, no failure");
}
