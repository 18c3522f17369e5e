//! Bridges behind one load balancer: what one announces, every other accepts (still once per cookie),
//! through a real NATS server.

mod common;

use common::{TestBridge, Ws, server, ws};

#[tokio::test]
async fn a_page_s_switchboard_connections_may_land_on_another_bridge() {
    let nats = std::thread::spawn(|| engines::NatsCluster::start(1).unwrap()).join().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let upstream = server(dir.path(), |_| {}).await;
    let shared = |c: &mut bridge::config::Config| {
        c.upstreams = vec![upstream.ns_addr.to_string().parse().unwrap()];
        c.share_announcements = Some((nats.url(), 1));
    };
    let (one, two) = (TestBridge::start_with(shared).await, TestBridge::start_with(shared).await);
    let alone = TestBridge::start_with(|c| c.upstreams = vec![upstream.ns_addr.to_string().parse().unwrap()]).await;

    let mut alice = Ws::online(one.http(), "alice@hotmail.com", "alice", "Alice", 5).await;
    let mut bob = Ws::online(two.http(), "bob@hotmail.com", "bob", "Bob", 5).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;
    let sb = upstream.sb_addr.to_string();
    alice.send("XFR 7 SB").await;
    let cookie = alice.expect_prefix(&format!("XFR 7 SB {sb} CKI ")).await;

    // A bridge that does not share knows nothing of it.
    let mut stranger = ws(alone.http(), &format!("?sb={sb}")).await;
    stranger.expect_close(1008).await;
    // Announced through bridge one, used through bridge two; then used up everywhere.
    let mut a = ws(two.http(), &format!("?sb={sb}")).await;
    a.ask(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice").await;
    for bridge in [&one, &two] {
        let mut again = ws(bridge.http(), &format!("?sb={sb}")).await;
        again.send(&format!("USR 1 alice@hotmail.com {cookie}")).await;
        again.expect_close(1008).await;
    }
    // Bob's invitation is announced through bridge two and answered through bridge one.
    a.send("CAL 2 bob@hotmail.com").await;
    let session = a.expect_prefix("CAL 2 RINGING ").await;
    let rng = bob.expect_prefix(&format!("RNG {session} {sb} CKI ")).await;
    let bob_cookie = rng.split(' ').next().unwrap();
    let mut b = ws(one.http(), &format!("?sb={sb}")).await;
    b.send(&format!("ANS 1 bob@hotmail.com {bob_cookie} {session}")).await;
    b.expect("IRO 1 1 1 alice@hotmail.com Alice").await;
    b.expect("ANS 1 OK").await;
    a.expect("JOI bob@hotmail.com Bob").await;
}
