//! The benchmark scenarios. Each returns its figures as JSON.
//!
//! Accounts are `user<i>@hotmail.com` with password `pw<i>`; the fan-out scenario also uses
//! `star@hotmail.com` (password `star`), whom `user0` … `user<watchers-1>` have on their lists.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use msnp::message::Message;
use msnp::ns::{ClientCommand, ServerCommand};
use msnp::sb;
use msnp::{AckMode, State, TrId};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::conn::{Conn, ConnError, Session, Target};
use crate::measure::{cpu_seconds, percentile, pss_bytes};

pub fn account(i: usize) -> (String, String) {
    (format!("user{i}@hotmail.com"), format!("pw{i}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Scenario 1: Full VER … CHG … OUT sessions, back to back from `clients` clients, for `duration`.
pub async fn sign_in_storm(target: Target, clients: usize, duration: Duration) -> Result<Value, ConnError> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        let target = target.nth(i);
        tasks.spawn(async move {
            let (handle, password) = account(i);
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let session = Session::sign_in(&target, &handle, &password, State::Online).await?;
                times.push(ms(t0.elapsed()));
                session.sign_out().await?;
            }
            Ok::<_, ConnError>(times)
        });
    }
    let mut times = Vec::new();
    while let Some(done) = tasks.join_next().await {
        times.extend(done.expect("task")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "clients": clients,
        "seconds": elapsed,
        "sign_ins": times.len(),
        "sign_ins_per_second": times.len() as f64 / elapsed,
        "p50_ms": percentile(&mut times, 50.0),
        "p99_ms": percentile(&mut times, 99.0),
    }))
}

/// Scenario 2: clients signed in and idle, up to each count of `counts` in turn (ascending): the memory of
/// process `pid` (and its children) per session at each.
pub async fn idle(target: Target, counts: &[usize], pid: u32) -> Result<Value, ConnError> {
    let before = pss_bytes(pid);
    let mut sessions = Vec::new();
    let mut scales = Vec::new();
    for &n in counts {
        sign_in_idle(&target, n, &mut sessions).await?;
        // Let queues drain and allocators settle before reading memory.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = pss_bytes(pid);
        scales.push(json!({
            "sessions": sessions.len(),
            "pss_after_bytes": after,
            "bytes_per_session": (after as f64 - before as f64) / sessions.len() as f64,
        }));
    }
    for s in sessions {
        let _ = s.sign_out().await;
    }
    Ok(json!({ "pss_before_bytes": before, "scales": scales }))
}

/// Signs in accounts `sessions.len()` … `n - 1`, 100 at a time, adding them to `sessions`.
async fn sign_in_idle(target: &Target, n: usize, sessions: &mut Vec<Session>) -> Result<(), ConnError> {
    let mut tasks = JoinSet::new();
    let mut next = sessions.len();
    while next < n || !tasks.is_empty() {
        while next < n && tasks.len() < 100 {
            let target = target.nth(next);
            let (handle, password) = account(next);
            tasks.spawn(async move { Session::sign_in(&target, &handle, &password, State::Online).await });
            next += 1;
        }
        if let Some(done) = tasks.join_next().await {
            sessions.push(done.expect("task")?);
        }
    }
    Ok(())
}

/// Scenario 3: `watchers` online watchers of star; star changes state `rounds` times: time until the last watcher
/// has the NLN.
pub async fn fan_out(target: Target, watchers: usize, rounds: usize) -> Result<Value, ConnError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let mut tasks = JoinSet::new();
    let ready = Arc::new(tokio::sync::Barrier::new(watchers + 1));
    for i in 0..watchers {
        let (target, tx, ready) = (target.nth(i), tx.clone(), Arc::clone(&ready));
        tasks.spawn(async move {
            let (handle, password) = account(i);
            let mut s = Session::sign_in(&target, &handle, &password, State::Online).await?;
            ready.wait().await;
            let mut round = 0;
            while round < rounds {
                let frame = s.pump().await?;
                if let Ok(ServerCommand::Nln { handle, .. }) = ServerCommand::parse(&frame)
                    && handle == "star@hotmail.com"
                {
                    let _ = tx.send((round, Instant::now()));
                    round += 1;
                }
            }
            // Handed back open: a watcher that hung up on its last NLN would load the server while the
            // others still wait for theirs (it made the last round the slowest).
            Ok::<_, ConnError>(s)
        });
    }
    drop(tx);
    ready.wait().await;
    let mut star = Session::sign_in(&target.nth(0), "star@hotmail.com", "star", State::Online).await?;
    // The first CHG made star visible: each watcher counted that as round 0's NLN. Wait for all of them.
    let mut latencies = Vec::new();
    let mut t0 = Instant::now();
    for round in 0..rounds {
        let mut last = t0;
        for _ in 0..watchers {
            let (r, at) = rx.recv().await.ok_or(ConnError::Closed)?;
            debug_assert_eq!(r, round);
            last = last.max(at);
        }
        if round > 0 {
            latencies.push(ms(last - t0));
        }
        if round + 1 < rounds {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let state = if round % 2 == 0 { State::Busy } else { State::Online };
            star.ns.set_state(state).map_err(|_| ConnError::Closed)?;
            t0 = Instant::now();
            star.flush().await?;
        }
    }
    let mut sessions = Vec::new();
    while let Some(done) = tasks.join_next().await {
        sessions.push(done.expect("task")?);
    }
    drop(sessions);
    Ok(json!({
        "watchers": watchers,
        "rounds": latencies.len(),
        "round_ms": latencies.clone(),
        "p50_ms": percentile(&mut latencies, 50.0),
        "max_ms": percentile(&mut latencies, 100.0),
    }))
}

/// Reads switchboard frames until one parses as wanted.
async fn expect_sb<T>(conn: &mut Conn, want: impl Fn(sb::ServerCommand) -> Option<T>) -> Result<T, ConnError> {
    loop {
        let frame = conn.recv_within(Duration::from_secs(30)).await?;
        if let Some(t) = sb::ServerCommand::parse(&frame).ok().and_then(&want) {
            return Ok(t);
        }
    }
}

/// Sets up one chat: A asks for a switchboard, invites B, B answers. Returns both switchboard connections.
async fn chat_pair(ns: &Target, sb_target: impl Fn(&str) -> Target, i: usize) -> Result<(Conn, Conn), ConnError> {
    let (a_handle, a_pw) = account(2 * i);
    let (b_handle, b_pw) = account(2 * i + 1);
    let mut a = Session::sign_in(ns, &a_handle, &a_pw, State::Online).await?;
    let mut b = Session::sign_in(ns, &b_handle, &b_pw, State::Online).await?;
    a.conn.send(&ClientCommand::Xfr { trid: TrId(100) }.to_frame()).await?;
    let (address, cookie) = loop {
        if let Ok(ServerCommand::XfrSb { address, cookie, .. }) = ServerCommand::parse(&a.conn.recv().await?) {
            break (address, cookie);
        }
    };
    let mut a_sb = Conn::open(&sb_target(&address)).await?;
    a_sb.send(&sb::ClientCommand::Usr { trid: TrId(1), handle: a_handle, cookie }.to_frame()).await?;
    expect_sb(&mut a_sb, |c| matches!(c, sb::ServerCommand::UsrOk { .. }).then_some(())).await?;
    a_sb.send(&sb::ClientCommand::Cal { trid: TrId(2), handle: b_handle.clone() }.to_frame()).await?;
    let (session, b_cookie) = loop {
        if let Ok(ServerCommand::Rng { session_id, cookie, .. }) = ServerCommand::parse(&b.conn.recv().await?) {
            break (session_id, cookie);
        }
    };
    let mut b_sb = Conn::open(&sb_target(&address)).await?;
    b_sb.send(
        &sb::ClientCommand::Ans { trid: TrId(1), handle: b_handle, cookie: b_cookie, session_id: session }.to_frame(),
    )
    .await?;
    expect_sb(&mut b_sb, |c| matches!(c, sb::ServerCommand::AnsOk { .. }).then_some(())).await?;
    expect_sb(&mut a_sb, |c| matches!(c, sb::ServerCommand::Joi { .. }).then_some(())).await?;
    // Keep the NS sessions alive for the length of the chat by leaking them into a task.
    tokio::spawn(async move {
        let _keep = (a, b);
        std::future::pending::<()>().await
    });
    Ok((a_sb, b_sb))
}

/// Scenario 4: `pairs` chats; in each, messages go back and forth as fast as they are answered.
pub async fn chat(
    ns: Target,
    sb_target: Arc<dyn Fn(&str) -> Target + Send + Sync>,
    pairs: usize,
    duration: Duration,
) -> Result<Value, ConnError> {
    let epoch = Instant::now();
    let mut conns = Vec::new();
    for i in 0..pairs {
        let sbt = Arc::clone(&sb_target);
        conns.push(chat_pair(&ns, move |a| sbt(a), i).await?);
    }
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (a, b) in conns {
        for (mut me, first) in [(a, true), (b, false)] {
            let count = Arc::clone(&count);
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                let mut trid = 10u32;
                // The payload is the send time, so the receiver measures one-way latency on one clock.
                let stamped = |trid: u32| {
                    let payload = Message::text(&epoch.elapsed().as_nanos().to_string()).to_bytes();
                    sb::ClientCommand::Msg { trid: TrId(trid), ack: AckMode::Unacknowledged, payload }.to_frame()
                };
                if first {
                    me.send(&stamped(trid)).await?;
                }
                while Instant::now() < deadline {
                    let Ok(frame) = me.recv_within(Duration::from_secs(5)).await else { break };
                    if let Ok(sb::ServerCommand::Msg { payload, .. }) = sb::ServerCommand::parse(&frame) {
                        let sent: u128 = String::from_utf8_lossy(&Message::parse(&payload).body).parse().unwrap_or(0);
                        latencies.push((epoch.elapsed().as_nanos().saturating_sub(sent)) as f64 / 1e6);
                        count.fetch_add(1, Ordering::Relaxed);
                        trid += 1;
                        me.send(&stamped(trid)).await?;
                    }
                }
                Ok::<_, ConnError>(latencies)
            });
        }
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.expect("task")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "pairs": pairs,
        "messages": count.load(Ordering::Relaxed),
        "messages_per_second": count.load(Ordering::Relaxed) as f64 / elapsed,
        "p50_ms": percentile(&mut latencies, 50.0),
        "p99_ms": percentile(&mut latencies, 99.0),
    }))
}

/// PNG/QNG round trips on one connection (after VER), `n` times: round-trip times in ms.
async fn ping_pong(conn: &mut Conn, n: usize) -> Result<Vec<f64>, ConnError> {
    let png = ClientCommand::Png.to_frame();
    let mut rtts = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        conn.send(&png).await?;
        loop {
            if conn.recv().await?.name() == "QNG" {
                break;
            }
        }
        rtts.push(ms(t0.elapsed()));
    }
    Ok(rtts)
}

async fn greeted(target: &Target) -> Result<Conn, ConnError> {
    let mut conn = Conn::open(target).await?;
    conn.send(&ClientCommand::Ver { trid: TrId(1), dialects: vec![msnp::ns::DIALECT.into()] }.to_frame()).await?;
    conn.recv().await?;
    Ok(conn)
}

/// Round trips straight to the server and through the relay, one after the other, `n` of each: both paths
/// see the same moments of the machine, so their difference is the relay's and not a change in load.
async fn interleaved(relayed: &Target, direct: &Target, n: usize) -> Result<(Vec<f64>, Vec<f64>), ConnError> {
    let (mut through, mut straight) = (greeted(relayed).await?, greeted(direct).await?);
    ping_pong(&mut through, 200).await?;
    ping_pong(&mut straight, 200).await?;
    let (mut relayed_rtts, mut direct_rtts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        direct_rtts.extend(ping_pong(&mut straight, 1).await?);
        relayed_rtts.extend(ping_pong(&mut through, 1).await?);
    }
    Ok((relayed_rtts, direct_rtts))
}

/// Scenario 5: a relay (the process `pid`) in front of the server at `direct`: one client's round trips
/// through it and straight to the server, interleaved; then `clients` clients ping-ponging through it for
/// `duration`: messages per second, the relay's CPU seconds per 100,000 messages, and its memory per
/// connection (meaningful in a fresh relay process: memory a run has freed is reused by the next).
pub async fn relay(
    target: Target,
    direct: Target,
    pid: u32,
    clients: usize,
    duration: Duration,
) -> Result<Value, ConnError> {
    let (mut relayed, mut straight) = interleaved(&target, &direct, 2000).await?;
    let (relayed_p50, direct_p50) = (percentile(&mut relayed, 50.0), percentile(&mut straight, 50.0));

    let before_pss = pss_bytes(pid);
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(greeted(&target).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_conns = pss_bytes(pid);
    let cpu0 = cpu_seconds(pid);
    let (round_trips, elapsed) = ping_pong_all(conns, duration).await?;
    let cpu = cpu_seconds(pid) - cpu0;
    // Each round trip is two messages through the relay: PNG up, QNG down.
    let messages = round_trips * 2;
    Ok(json!({
        "relayed_p50_ms": relayed_p50,
        "relayed_p99_ms": percentile(&mut relayed, 99.0),
        "direct_p50_ms": direct_p50,
        "direct_p99_ms": percentile(&mut straight, 99.0),
        "added_p50_us": (relayed_p50 - direct_p50) * 1000.0,
        "clients": clients,
        "messages_per_second": messages as f64 / elapsed,
        "cpu_seconds_per_100k_messages": cpu / messages as f64 * 100_000.0,
        "pss_before_bytes": before_pss,
        "pss_with_connections_bytes": with_conns,
        "bytes_per_connection": (with_conns as f64 - before_pss as f64) / clients as f64,
    }))
}

/// Every connection ping-pongs as fast as it is answered until `duration` is over: round trips, seconds.
async fn ping_pong_all(conns: Vec<Conn>, duration: Duration) -> Result<(u64, f64), ConnError> {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for mut conn in conns {
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += ping_pong(&mut conn, 50).await?.len() as u64;
            }
            Ok::<_, ConnError>((n, conn))
        });
    }
    let mut round_trips = 0;
    let mut keep = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (n, conn) = done.expect("task")?;
        round_trips += n;
        // Closed only once all have finished, so no connection's close disturbs the others' last rounds.
        keep.push(conn);
    }
    Ok((round_trips, started.elapsed().as_secs_f64()))
}
