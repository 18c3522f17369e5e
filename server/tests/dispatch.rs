//! A dispatch server (MSNP2.md §5.4): `USR … I` is answered with `XFR … NS` to a notification server,
//! the same one for every sign-in of a handle, and the connection closed; the client signs in there.

mod common;

use common::{ACCOUNTS, Client, TestServer};

/// Asks `dispatch` where `handle` should sign in.
async fn referred(dispatch: std::net::SocketAddr, handle: &str) -> String {
    let mut c = Client::connect(dispatch).await;
    c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    c.ask("INF 2", "INF 2 MD5").await;
    c.send(&format!("USR 3 MD5 I {handle}")).await;
    let address = c.expect_prefix("XFR 3 NS ").await;
    c.expect_closed().await;
    address
}

#[tokio::test]
async fn the_dispatch_server_refers_each_handle_to_its_node_and_closes() {
    let one = TestServer::start().await;
    let two = TestServer::start().await;
    let nodes = [one.ns().to_string(), two.ns().to_string()];
    let dispatch = TestServer::start_with(ACCOUNTS, |c| c.ns.dispatch_to = nodes.to_vec()).await;

    // The same handle (in any case) always goes to the same node; handles spread over both.
    let mut seen = std::collections::HashSet::new();
    for i in 0..12 {
        let handle = format!("user{i}@hotmail.com");
        let node = referred(dispatch.ns(), &handle).await;
        assert!(nodes.contains(&node), "{node}");
        assert_eq!(referred(dispatch.ns(), &handle.to_uppercase()).await, node);
        seen.insert(node);
    }
    assert_eq!(seen.len(), 2, "both nodes get handles");

    // The client signs in where it was sent.
    let node = referred(dispatch.ns(), "jd@hotmail.com").await;
    let mut jd = Client::online(node.parse().unwrap(), "jd@hotmail.com", "hunter2", "JD", 0).await;
    jd.ask("PNG", "QNG").await;
    assert_eq!(dispatch.metrics().referrals(), 25);
    dispatch.wait_idle().await;
}
