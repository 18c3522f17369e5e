//! The embedded server's robots: their passwords are not the ones published in the repository.

mod common;

use common::{TestBridge, Ws, ws};

/// Whether `handle` can sign in through the bridge with `password` (`USR 4 OK`) or not (`911 4`).
async fn signs_in(bridge: &TestBridge, handle: &str, password: &str) -> bool {
    let mut c = ws(bridge.http(), "").await;
    c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    c.ask("INF 2", "INF 2 MD5").await;
    c.send(&format!("USR 3 MD5 I {handle}")).await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    c.send(&format!("USR 4 MD5 S {}", msnp::auth::md5_response(&challenge, password))).await;
    let reply = c.expect_prefix("").await;
    reply.starts_with("USR 4 OK")
}

/// Waits until Alice's session says `robot` is online.
async fn online(alice: &mut Ws, robot: &str) {
    for _ in 0..200 {
        let line = alice.expect_prefix("").await;
        if (line.starts_with("ILN ") || line.starts_with("NLN ")) && line.contains(robot) {
            return;
        }
    }
    panic!("{robot} never came online");
}

#[tokio::test]
async fn robots_sign_in_with_passwords_no_one_can_read_from_the_repository() {
    let bridge = TestBridge::start_with(|c| c.robots = true).await;
    for (robot, published) in [("echo@hotmail.com", "echo-robot"), ("mood@hotmail.com", "mood-robot")] {
        assert!(!signs_in(&bridge, robot, published).await, "{robot}'s published password still works");
    }
    // The robots themselves sign in all the same.
    let mut alice = Ws::online(bridge.http(), "alice@hotmail.com", "alice", "Alice", 5).await;
    online(&mut alice, "echo@hotmail.com").await;
    let key = std::fs::metadata(bridge.dir.path().join("robots.key")).expect("the key beside the data");
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);
    drop(alice);

    // Started again on the same data, the robots still get in, and the published passwords still do not.
    let TestBridge { running, dir } = bridge;
    running.unwrap().shutdown().await;
    let again = TestBridge::start_in(dir, |c| c.robots = true).await;
    assert!(!signs_in(&again, "echo@hotmail.com", "echo-robot").await);
    let mut alice = Ws::online(again.http(), "alice@hotmail.com", "alice", "Alice", 5).await;
    online(&mut alice, "echo@hotmail.com").await;
}
