//! A configured server that refers the browser on (`XFR … NS`, a dispatch server): the bridge lets that
//! browser, once, reach the server it was referred to, and no one else anywhere else.

mod common;

use common::{TestBridge, server, ws};

#[tokio::test]
async fn a_referral_is_followed_once_by_the_browser_it_was_for() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = server(a.path(), |_| {}).await;
    let node_address = node.ns_addr.to_string();
    let dispatch = server(b.path(), |c| c.ns.dispatch_to = vec![node_address.clone()]).await;
    let bridge =
        TestBridge::start_with(|c| c.upstreams = vec![format!("dispatch={}", dispatch.ns_addr).parse().unwrap()]).await;

    // Not referred yet: refused.
    let mut early = ws(bridge.http(), &format!("?ns={node_address}")).await;
    assert!(early.expect_close(1008).await.contains("no notification server referred this browser there"));

    let mut c = ws(bridge.http(), "").await;
    c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    c.ask("INF 2", "INF 2 MD5").await;
    c.send("USR 3 MD5 I alice@hotmail.com").await;
    assert_eq!(c.expect_prefix("XFR 3 NS ").await, node_address);
    c.expect_close(1000).await;

    // The browser follows the referral and signs in there; a second use is refused.
    let mut c = ws(bridge.http(), &format!("?ns={node_address}")).await;
    c.ask("VER 1 MSNP2 CVR0", "VER 1 MSNP2").await;
    c.ask("INF 2", "INF 2 MD5").await;
    c.send("USR 3 MD5 I alice@hotmail.com").await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    let response = msnp::auth::md5_response(&challenge, "alice");
    c.ask(&format!("USR 4 MD5 S {response}"), "USR 4 OK alice@hotmail.com Alice").await;
    let mut again = ws(bridge.http(), &format!("?ns={node_address}")).await;
    again.expect_close(1008).await;
    drop(c);
    bridge.wait_idle().await;
}
