//! The page against servers that are more than one: a dispatch server refers it (`XFR … NS`) to the
//! notification server it signs in at, through the bridge.

use e2e::*;

/// A server of the project with the demo accounts in `dir`, its settings changed by `tweak`.
async fn server(dir: &std::path::Path, tweak: impl FnOnce(&mut msnp_server::ServeConfig)) -> msnp_server::Running {
    let db = dir.join("msnp.db");
    let mut store = msnp_server::open_store(&db, None).unwrap();
    msnp_server::accounts::import(&mut store, msnp_server::accounts::DEMO_ACCOUNTS).unwrap();
    let mut config = msnp_server::ServeConfig::new(db);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.sb_listen = "127.0.0.1:0".parse().unwrap();
    tweak(&mut config);
    msnp_server::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_follows_a_dispatch_servers_referral() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = server(a.path(), |_| {}).await;
    let to = node.ns_addr.to_string();
    let dispatch = server(b.path(), |c| c.ns.dispatch_to = vec![to.clone()]).await;
    let upstream = format!("dispatch={}", dispatch.ns_addr);
    let (bridge, _data) = start_bridge_with(|c| c.upstreams = vec![upstream.parse().unwrap()]).await;
    let url = format!("http://{}/", bridge.http_addr);
    let driver = Driver::start().await;
    let alice = driver.browser().await;

    alice.goto(&url).await.unwrap();
    wait_text(&alice, "#server option", "dispatch").await;
    type_into(&alice, "#email", "alice@hotmail.com").await;
    type_into(&alice, "#password", "alice\n").await;
    wait_text(&alice, "#me .name", "Alice").await;
    // The dispatch server's lines are kept beside the notification server's.
    wait_text(&alice, "#inspector-connection", "Dispatch server").await;
    wait_text(&alice, ".inspector .log", &format!("XFR 3 NS {to}")).await;
    alice.find(Locator::Css("#inspector-connection")).await.unwrap().select_by_value("1").await.unwrap();
    wait_text(&alice, ".inspector .log", "USR 4 OK alice@hotmail.com Alice").await;
    shot(&alice, "30-referred-by-a-dispatch-server").await;

    alice.close().await.unwrap();
    bridge.shutdown().await;
    dispatch.shutdown().await;
    node.shutdown().await;
}
