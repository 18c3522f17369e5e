//! Robot contacts, so a person alone on a server sees everything the protocol does: presence changing,
//! a chat answered (typing notice first), a group chat forming and someone leaving it.
//!
//! Robots are ordinary MSNP2 clients: `msnp`'s client machines over TCP to the notification server they
//! are given, with nothing shared with the server. The server's rules apply to them like to anyone
//! (blocking a robot makes it stop seeing you), and a robot answers at most a few messages per second in
//! a chat, whatever it is sent.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use msnp::client::{NsClient, NsConfig, NsEvent, SbClient, SbConfig, SbEvent, SbJoin, SbPhase};
use msnp::message::{Content, Message};
use msnp::ns::ClientVersion;
use msnp::{AckMode, Decoder, Frame, Limits, State};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::throttle::TokenBucket;

/// What a robot does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Answers every message, quoting it in the sender's font, after a typing notice.
    Echo,
    /// Changes its state and friendly name every few seconds.
    Mood,
    /// When messaged, invites a chatty robot into the chat: a group conversation.
    Host,
    /// Joins when invited, says a few things, and leaves.
    Chatty,
}

/// A robot's account.
#[derive(Clone)]
pub struct Robot {
    pub handle: String,
    pub password: String,
    pub kind: Kind,
}

/// Without the password: debug output must not show it.
impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot").field("handle", &self.handle).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// Errors giving the robots passwords of their own.
#[derive(Debug, Error)]
pub enum SecureError {
    #[error(transparent)]
    Key(#[from] crate::secret::SecretError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The robots with passwords no one can read from the repository: each derived from a key kept in
/// `key_file` beside the server's data (random, made at the first start, mode 0600), never printed. When
/// the key is new, the accounts' passwords in `store` are changed to the derived ones (so an accounts file's
/// published passwords stop working).
pub fn secure(
    store: &mut dyn crate::store::Admin,
    key_file: &std::path::Path,
    robots: Vec<Robot>,
) -> Result<Vec<Robot>, SecureError> {
    let (key, made) = crate::secret::load_or_create_key(key_file)?;
    let key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut secured = Vec::with_capacity(robots.len());
    for robot in robots {
        let password = msnp::auth::md5_response(&robot.handle.to_ascii_lowercase(), &key);
        if made && store.exists(&robot.handle)? {
            store.set_password(&robot.handle, &password)?;
        }
        secured.push(Robot { password, ..robot });
    }
    Ok(secured)
}

/// How robots behave toward people, each a command-line flag.
#[derive(Clone, Copy, Debug)]
pub struct Manners {
    /// Messages a robot answers per second in one chat; more are not answered.
    pub replies_per_second: f64,
    /// How often the mood robot changes.
    pub mood_every: Duration,
}

impl Default for Manners {
    fn default() -> Manners {
        Manners { replies_per_second: 2.0, mood_every: Duration::from_secs(5) }
    }
}

#[derive(Debug, Error)]
enum RobotError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("bad framing from the server: {0}")]
    Frame(#[from] msnp::FrameError),
    #[error("the connection ended")]
    Closed,
    #[error("signed out: {0:?}")]
    SignedOut(msnp::client::SignOutReason),
}

/// One TCP connection carrying whole MSNP commands.
struct Wire {
    stream: TcpStream,
    decoder: Decoder,
}

impl Wire {
    async fn connect(address: &str) -> Result<Wire, RobotError> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Wire { stream, decoder: Decoder::new(Limits::CLIENT) })
    }

    async fn recv(&mut self) -> Result<Frame, RobotError> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(frame);
            }
            match self.stream.read(&mut buf).await? {
                0 => return Err(RobotError::Closed),
                n => self.decoder.extend(&buf[..n]),
            }
        }
    }

    async fn send(&mut self, frames: impl Iterator<Item = Frame>) -> Result<(), RobotError> {
        for frame in frames {
            self.stream.write_all(frame.as_bytes()).await?;
        }
        Ok(())
    }
}

/// What every robot knows: where the server is, who the robots are, how to behave.
#[derive(Debug)]
struct World {
    ns: String,
    robots: Vec<Robot>,
    manners: Manners,
}

impl World {
    fn is_robot(&self, handle: &str) -> bool {
        self.robots.iter().any(|r| msnp::handle::same(&r.handle, handle))
    }

    fn first(&self, kind: Kind) -> Option<&Robot> {
        self.robots.iter().find(|r| r.kind == kind)
    }
}

/// Runs every robot until the task is dropped; each signs in again if its session ends: after a second
/// when it had signed in (someone pushing it out must not keep it out longer each time), after twice the
/// last pause, up to 30 s, when it could not.
pub async fn run(ns: String, robots: Vec<Robot>, manners: Manners) {
    let world = Arc::new(World { ns, robots, manners });
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..world.robots.len() {
        let world = Arc::clone(&world);
        tasks.spawn(async move {
            let robot = &world.robots[index];
            let first = Duration::from_secs(1);
            let mut pause = first;
            loop {
                let mut signed_in = false;
                if let Err(e) = live(&world, robot, &mut signed_in).await {
                    tracing::warn!(robot = %robot.handle, error = %e, "robot signed out");
                }
                pause = if signed_in { first } else { (pause * 2).min(Duration::from_secs(30)) };
                tokio::time::sleep(pause).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn robot_version() -> ClientVersion {
    ClientVersion {
        locale: "0x0409".into(),
        os_type: "robot".into(),
        os_version: "1.0".into(),
        arch: "any".into(),
        library: "MSNPROBOT".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// One robot's notification-server session: sign in (saying so in `signed_in`), go online, answer
/// invitations, and (the mood robot) change now and then.
async fn live(world: &Arc<World>, robot: &Robot, signed_in: &mut bool) -> Result<(), RobotError> {
    let mut wire = Wire::connect(&world.ns).await?;
    let config = NsConfig {
        handle: robot.handle.clone(),
        password: robot.password.clone(),
        initial_state: State::Online,
        client: Some(robot_version()),
        first_trid: 1,
        cache: None,
    };
    let epoch = Instant::now();
    let mut ns = NsClient::new(config);
    ns.connect(Duration::ZERO);
    let mut tick = tokio::time::interval(world.manners.mood_every);
    let seats = Seats::default();
    let mut moods = State::SETTABLE.iter().filter(|s| **s != State::Hidden).cycle();
    loop {
        wire.send(std::iter::from_fn(|| ns.poll_transmit())).await?;
        while let Some(event) = ns.poll_event() {
            match event {
                NsEvent::Invited { address, cookie, session_id, .. } => {
                    // Once per session: being rung again for a session it is in is not joining it twice.
                    if let Some(seat) = seats.take(&session_id) {
                        let join = SbJoin::Callee { cookie, session_id };
                        tokio::spawn(chat(Arc::clone(world), robot.clone(), address, join, seat));
                    }
                }
                NsEvent::SwitchboardReady { .. } => {}
                NsEvent::SignedIn { .. } => *signed_in = true,
                NsEvent::SignedOut(reason) => return Err(RobotError::SignedOut(reason)),
                _ => {}
            }
        }
        tokio::select! {
            frame = wire.recv() => ns.handle_frame(&frame?, epoch.elapsed()),
            _ = tick.tick() => {
                ns.handle_timeout(epoch.elapsed());
                if robot.kind == Kind::Mood && ns.state().is_some() {
                    let state = *moods.next().unwrap_or(&State::Online);
                    let _ = ns.set_state(state);
                    let _ = ns.rename(&format!("Mood ({})", state.label()));
                }
            }
        }
    }
}

/// Something a robot will say in a chat, at a time.
struct Line {
    at: Instant,
    what: Say,
}

enum Say {
    Typing,
    Text(Message),
    Invite(String),
    Leave,
}

/// The switchboard sessions a robot is in.
#[derive(Clone, Debug, Default)]
struct Seats(Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

/// A robot's place in one session, given up when its chat ends.
struct Seat {
    seats: Seats,
    session: String,
}

impl Seats {
    /// A seat in `session`, unless the robot has one there already.
    fn take(&self, session: &str) -> Option<Seat> {
        let mut taken = self.0.lock().unwrap_or_else(|e| e.into_inner());
        taken.insert(session.to_owned()).then(|| Seat { seats: self.clone(), session: session.to_owned() })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.seats.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.session);
    }
}

/// One robot in one switchboard session.
async fn chat(world: Arc<World>, robot: Robot, address: String, join: SbJoin, _seat: Seat) {
    if let Err(e) = converse(&world, &robot, &address, join).await {
        tracing::debug!(robot = %robot.handle, error = %e, "robot's chat ended");
    }
}

async fn converse(world: &World, robot: &Robot, address: &str, join: SbJoin) -> Result<(), RobotError> {
    let mut wire = Wire::connect(address).await?;
    let mut sb = SbClient::new(SbConfig { handle: robot.handle.clone(), join, first_trid: 1 });
    sb.connect();
    let mut plan: VecDeque<Line> = VecDeque::new();
    // Replies allowed in this chat.
    let epoch = Instant::now();
    let mut allowance = TokenBucket::new(world.manners.replies_per_second, Duration::ZERO);
    let mut introduced = false;
    loop {
        wire.send(std::iter::from_fn(|| sb.poll_transmit())).await?;
        while let Some(event) = sb.poll_event() {
            match event {
                SbEvent::Closed(_) => return Ok(()),
                SbEvent::Joined { participants } if robot.kind == Kind::Chatty => {
                    let host = participants.iter().any(|p| world.is_robot(&p.handle));
                    chatty_script(&mut plan, host);
                }
                // People's text messages, as many as the allowance lets through; never robots' (two robots
                // would answer each other for ever).
                SbEvent::Message { sender, message, .. }
                    if !world.is_robot(&sender)
                        && matches!(message.content(), Content::Text(_))
                        && allowance.take(epoch.elapsed()) =>
                {
                    respond(world, robot, &message, &mut introduced, &mut plan);
                }
                SbEvent::ParticipantLeft { handle } if robot.kind == Kind::Host && world.is_robot(&handle) => {
                    plan.push_back(Line {
                        at: Instant::now(),
                        what: Say::Text(Message::text("They left. Just us again.")),
                    });
                }
                _ => {}
            }
        }
        // Robots talk to people: with none left in the chat, a robot leaves it (and is free for others).
        if sb.phase() == SbPhase::Joined && !sb.participants().iter().any(|p| !world.is_robot(&p.handle)) {
            sb.leave();
            continue;
        }
        let next = plan.front().map(|l| l.at);
        tokio::select! {
            frame = wire.recv() => sb.handle_frame(&frame?),
            _ = sleep_until(next) => {
                if let Some(line) = plan.pop_front() {
                    say(&mut sb, robot, line.what);
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn say(sb: &mut SbClient, robot: &Robot, what: Say) {
    let _ = match what {
        Say::Typing => sb.send(&Message::typing(&robot.handle), AckMode::Unacknowledged),
        Say::Text(message) => sb.send(&message, AckMode::NegativeOnly),
        Say::Invite(who) => sb.invite(&who),
        Say::Leave => {
            sb.leave();
            Ok(msnp::TrId(0))
        }
    };
}

/// A text message in the font of `like` (its `X-MMS-IM-Format` header), if it had one.
fn reply(text: &str, like: &Message) -> Message {
    let mut message = Message::text(text);
    if let Some(format) = like.header("X-MMS-IM-Format") {
        message.headers.push(("X-MMS-IM-Format".into(), format.to_owned()));
    }
    message
}

/// What a robot plans when a person writes `message`.
fn respond(world: &World, robot: &Robot, message: &Message, introduced: &mut bool, plan: &mut VecDeque<Line>) {
    let Content::Text(text) = message.content() else { return };
    let soon = |ms: u64| Instant::now() + Duration::from_millis(ms);
    let first = !std::mem::replace(introduced, true);
    match robot.kind {
        Kind::Echo => {
            plan.push_back(Line { at: soon(100), what: Say::Typing });
            if first {
                let hello = "I'm Echo, a robot: I say back what you write, in your font.";
                plan.push_back(Line { at: soon(700), what: Say::Text(reply(hello, message)) });
            }
            plan.push_back(Line { at: soon(900), what: Say::Text(reply(&format!("You said: {text}"), message)) });
        }
        Kind::Mood if first => {
            let hello = "I'm Mood, a robot: I change my state and name every few seconds. Watch your contact list.";
            plan.push_back(Line { at: soon(500), what: Say::Text(reply(hello, message)) });
        }
        Kind::Host if first => {
            let hello = "I'm Host, a robot. Let me bring a friend into this chat: watch who joins.";
            plan.push_back(Line { at: soon(500), what: Say::Text(reply(hello, message)) });
            if let Some(chatty) = world.first(Kind::Chatty) {
                plan.push_back(Line { at: soon(1000), what: Say::Invite(chatty.handle.clone()) });
            }
        }
        _ => {}
    }
}

/// What the chatty robot says when it joins: hello, a word to its host (if a robot invited it), goodbye.
fn chatty_script(plan: &mut VecDeque<Line>, host: bool) {
    let soon = |ms: u64| Instant::now() + Duration::from_millis(ms);
    let lines = [
        "Hi everyone! I'm Chatty, a robot. A switchboard session can hold several people: I was invited with CAL.",
        if host { "Thanks for the invitation, Host!" } else { "Nice to meet you." },
        "I have to go now: when I leave, everyone here gets BYE. Bye!",
    ];
    for (i, line) in lines.into_iter().enumerate() {
        let at = 800 + 1500 * i as u64;
        plan.push_back(Line { at: soon(at - 300), what: Say::Typing });
        plan.push_back(Line { at: soon(at), what: Say::Text(Message::text(line)) });
    }
    plan.push_back(Line { at: soon(800 + 1500 * 3), what: Say::Leave });
}
