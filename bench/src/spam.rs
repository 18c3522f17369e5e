//! Spam from one signed-in account, against the server's per-user limits: invitations (`XFR SB`, a burst of
//! `CAL`s, hang up, again) and presence (`CHG` after `CHG` before many watchers). Each reports what reached
//! the others and what it cost a bystander's round trips.

use std::time::{Duration, Instant};

use msnp::ns::{ClientCommand, ServerCommand};
use msnp::{State, TrId, sb};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::conn::{Conn, ConnError, Session, Target};
use crate::measure::percentile;
use crate::scenarios::account;

/// `CAL`s the invitation spammer sends in each switchboard session before hanging up (the participant
/// limit's worth).
const CALS_PER_SESSION: u32 = 32;

/// A signed-in bystander's `PNG` round trips, 5 ms apart, for `duration`: milliseconds. Its own thread and
/// runtime, so the attackers' work in this process does not delay it.
fn bystander(target: Target, handle: String, password: String, duration: Duration) -> Result<Vec<f64>, ConnError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut s = Session::sign_in(&target, &handle, &password, State::Online).await?;
        let png = ClientCommand::Png.to_frame();
        let (mut rtts, until) = (Vec::new(), Instant::now() + duration);
        while Instant::now() < until {
            let t0 = Instant::now();
            s.conn.send(&png).await?;
            while s.conn.recv_within(Duration::from_secs(30)).await?.name() != "QNG" {}
            rtts.push(t0.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(rtts)
    })
}

/// Counts the commands from `from` that reach `session` until `until`, by `of` (an `RNG` or an `NLN`, say).
async fn count(
    session: &mut Session,
    of: fn(ServerCommand) -> Option<String>,
    from: &str,
    until: Instant,
) -> Result<u64, ConnError> {
    let mut n = 0;
    while let Ok(frame) = tokio::time::timeout_at(until.into(), session.conn.recv()).await {
        let command = ServerCommand::parse(&frame?).ok();
        n += u64::from(command.and_then(of).is_some_and(|who| who == from));
    }
    Ok(n)
}

/// Who rang, for an `RNG`.
fn caller(command: ServerCommand) -> Option<String> {
    if let ServerCommand::Rng { caller, .. } = command { Some(caller) } else { None }
}

/// Whose state changed, for an `NLN`.
fn online(command: ServerCommand) -> Option<String> {
    if let ServerCommand::Nln { handle, .. } = command { Some(handle) } else { None }
}

/// One switchboard session of the spammer: `USR`, [`CALS_PER_SESSION`] `CAL`s of `victim`, their answers
/// read, then hung up. How many rang and how many were refused.
async fn one_burst(ns: &mut Session, handle: &str, victim: &str, trid: u32) -> Result<(u64, u64), ConnError> {
    ns.conn.send(&ClientCommand::Xfr { trid: TrId(trid) }.to_frame()).await?;
    let (address, cookie) = loop {
        let frame = ns.conn.recv_within(Duration::from_secs(30)).await?;
        match ServerCommand::parse(&frame) {
            Ok(ServerCommand::XfrSb { address, cookie, .. }) => break (address, cookie),
            Ok(ServerCommand::Error { .. }) => return Ok((0, 1)),
            _ => {}
        }
    };
    let mut sb = Conn::open(&Target::Tcp(address)).await?;
    sb.send(&sb::ClientCommand::Usr { trid: TrId(1), handle: handle.into(), cookie }.to_frame()).await?;
    sb.recv_within(Duration::from_secs(30)).await?;
    for i in 0..CALS_PER_SESSION {
        sb.send(&sb::ClientCommand::Cal { trid: TrId(2 + i), handle: victim.into() }.to_frame()).await?;
    }
    let (mut rang, mut refused) = (0, 0);
    for _ in 0..CALS_PER_SESSION {
        match sb.recv_within(Duration::from_secs(30)).await {
            Ok(frame) if matches!(sb::ServerCommand::parse(&frame), Ok(sb::ServerCommand::CalRinging { .. })) => {
                rang += 1
            }
            Ok(_) => refused += 1,
            // Closed (for a duplicate CAL, say): the rest are not answered.
            Err(_) => break,
        }
    }
    Ok((rang, refused))
}

/// Invitation spam: one account rings another as fast as the server lets it, a new switchboard session per
/// burst, for `duration`: the victim's `RNG`s per second and a bystander's round trips meanwhile.
pub async fn invitations(target: Target, duration: Duration) -> Result<Value, ConnError> {
    let ((spammer, spammer_pw), (victim, victim_pw), (other, other_pw)) = (account(0), account(1), account(2));
    let victim_session = Session::sign_in(&target, &victim, &victim_pw, State::Online).await?;
    let mut ns = Session::sign_in(&target, &spammer, &spammer_pw, State::Online).await?;
    let (started, until) = (Instant::now(), Instant::now() + duration);
    let rung = {
        let (mut victim_session, spammer) = (victim_session, spammer.clone());
        tokio::spawn(async move { count(&mut victim_session, caller, &spammer, until).await })
    };
    let probe = {
        let target = target.clone();
        tokio::task::spawn_blocking(move || bystander(target, other, other_pw, duration))
    };
    let (mut cals_rung, mut cals_refused, mut trid) = (0, 0, 10);
    while Instant::now() < until {
        let (rang, refused) = one_burst(&mut ns, &spammer, &victim, trid).await?;
        (cals_rung, cals_refused, trid) = (cals_rung + rang, cals_refused + refused, trid + 1);
    }
    let seconds = started.elapsed().as_secs_f64();
    let victim_rngs = rung.await.expect("victim")?;
    let mut rtts = probe.await.expect("bystander")?;
    Ok(json!({
        "seconds": seconds,
        "cals": cals_rung + cals_refused,
        "cals_per_second": (cals_rung + cals_refused) as f64 / seconds,
        "cals_refused": cals_refused,
        "victim_rngs": victim_rngs,
        "victim_rngs_per_second": victim_rngs as f64 / seconds,
        "bystander_p50_ms": percentile(&mut rtts, 50.0),
        "bystander_p99_ms": percentile(&mut rtts, 99.0),
    }))
}

const STAR: &str = "star@hotmail.com";

/// Presence spam: star (watched by `user0` … `user<watchers-1>`) changes state as fast as the server answers,
/// for `warm_up` + `duration`: `NLN`s delivered per second to all watchers together, counted after the
/// warm-up (once the burst the limit allows is spent), and a bystander's round trips meanwhile.
pub async fn presence(
    target: Target,
    watchers: usize,
    duration: Duration,
    warm_up: Duration,
) -> Result<Value, ConnError> {
    let mut sessions = Vec::new();
    let mut tasks = JoinSet::new();
    for i in 0..watchers {
        let ((handle, password), target) = (account(i), target.nth(i));
        tasks.spawn(async move { Session::sign_in(&target, &handle, &password, State::Online).await });
        if tasks.len() == 100 || i + 1 == watchers {
            while let Some(done) = tasks.join_next().await {
                sessions.push(done.expect("watcher")?);
            }
        }
    }
    let mut star = Session::sign_in(&target, STAR, "star", State::Online).await?;
    let started = Instant::now();
    let (counted_from, until) = (started + warm_up, started + warm_up + duration);
    let mut counters = JoinSet::new();
    for mut s in sessions {
        counters.spawn(async move {
            count(&mut s, online, STAR, counted_from).await?;
            let n = count(&mut s, online, STAR, until).await?;
            Ok::<_, ConnError>((n, s))
        });
    }
    let probe = {
        let ((handle, password), target) = (account(watchers), target.clone());
        tokio::task::spawn_blocking(move || bystander(target, handle, password, warm_up + duration))
    };
    let (mut accepted, mut refused, mut trid) = (0u64, 0u64, 10u32);
    while Instant::now() < until {
        let state = if accepted % 2 == 0 { State::Busy } else { State::Online };
        star.conn.send(&ClientCommand::Chg { trid: TrId(trid), state }.to_frame()).await?;
        // The answer to this CHG: itself, or an error (713 past the limit).
        loop {
            match ServerCommand::parse(&star.conn.recv_within(Duration::from_secs(30)).await?) {
                Ok(ServerCommand::Chg { trid: t, .. }) if t == TrId(trid) => break accepted += 1,
                Ok(ServerCommand::Error { trid: Some(t), .. }) if t == TrId(trid) => break refused += 1,
                _ => {}
            }
        }
        trid += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (mut delivered, mut keep) = (0, Vec::new());
    while let Some(done) = counters.join_next().await {
        let (n, s) = done.expect("watcher")?;
        delivered += n;
        keep.push(s);
    }
    let mut rtts = probe.await.expect("bystander")?;
    let per_second = delivered as f64 / duration.as_secs_f64();
    Ok(json!({
        "watchers": watchers,
        "seconds": seconds,
        "chg_per_second": (accepted + refused) as f64 / seconds,
        "chg_accepted": accepted,
        "chg_refused": refused,
        "nln_delivered_per_second": per_second,
        "nln_per_watcher_per_second": per_second / watchers as f64,
        "bystander_p50_ms": percentile(&mut rtts, 50.0),
        "bystander_p99_ms": percentile(&mut rtts, 99.0),
    }))
}
