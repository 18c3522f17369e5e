//! The page against servers that are more than one: a dispatch server refers it (`XFR … NS`) to the
//! notification server it signs in at, through the bridge; and a whole cluster (PostgreSQL, NATS, nodes)
//! behind two bridges and a load balancer.

use std::net::SocketAddr;

use e2e::*;
use tokio::net::{TcpListener, TcpStream};

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

/// A load balancer in front of `bridges`: WebSocket connections go to each in turn, the rest to the first.
async fn balance(listener: TcpListener, bridges: [SocketAddr; 2]) {
    let mut websockets = 0;
    while let Ok((mut inbound, _)) = listener.accept().await {
        let mut head = [0u8; 8];
        let n = inbound.peek(&mut head).await.unwrap_or(0);
        let to = if head[..n].starts_with(b"GET /ws") {
            websockets += 1;
            bridges[(websockets - 1) % 2]
        } else {
            bridges[0]
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(to).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_on_a_cluster_behind_two_bridges() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("msnp.key");
    let engine_key = key.clone();
    let (pg, nats) = std::thread::spawn(move || {
        let (pg, nats) = (engines::Postgres::start().unwrap(), engines::NatsCluster::start(1).unwrap());
        let mut admin = msnp_server::Database::Postgres(pg.url()).open_admin(Some(&engine_key)).unwrap();
        msnp_server::accounts::import(admin.as_mut(), msnp_server::accounts::DEMO_ACCOUNTS).unwrap();
        (pg, nats)
    })
    .join()
    .unwrap();
    let node = |name: &str, dispatch: bool| {
        let mut config = msnp_server::ServeConfig::new(msnp_server::Database::Postgres(pg.url()));
        config.key_file = Some(key.clone());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.sb_listen = "127.0.0.1:0".parse().unwrap();
        let mut cluster = msnp_server::cluster::ClusterConfig::new(name);
        cluster.dispatch = dispatch;
        config.bus = Some(msnp_server::bus::BusConfig { url: nats.url(), replicas: 1, cluster });
        msnp_server::start(config)
    };
    let (one, two, dispatch) =
        (node("one", false).await.unwrap(), node("two", false).await.unwrap(), node("dispatch", true).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let balancer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", balancer.local_addr().unwrap());
    let behind = |c: &mut bridge::config::Config| {
        c.upstreams = vec![format!("cluster={}", dispatch.ns_addr).parse().unwrap()];
        c.share_announcements = Some((nats.url(), 1));
        c.public_origins = vec![url.trim_end_matches('/').to_owned()];
    };
    let ((first, _a), (second, _b)) = (start_bridge_with(behind).await, start_bridge_with(behind).await);
    tokio::spawn(balance(balancer, [first.http_addr, second.http_addr]));
    let driver = Driver::start().await;
    let (alice, bob) = (driver.browser().await, driver.browser().await);

    // Each is referred by the dispatch node to its own node (the least loaded), through either bridge.
    for (browser, email, password, name) in
        [(&alice, "alice@hotmail.com", "alice", "Alice"), (&bob, "bob@hotmail.com", "bob", "Bob")]
    {
        browser.goto(&url).await.unwrap();
        wait_text(browser, "#server option", "cluster").await;
        type_into(browser, "#email", email).await;
        type_into(browser, "#password", &format!("{password}\n")).await;
        wait_text(browser, "#me .name", name).await;
    }
    assert_eq!((one.online(), two.online()), (1, 1));
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;

    // Alice's switchboard connection lands on the other bridge than her notification server's.
    click(&alice, "button[aria-label='Chat with Bob']").await;
    wait_text(&alice, ".chat .messages", "Bob joined the conversation.").await;
    type_into(&alice, "#chat-input-1", "Hello from node one\n").await;
    wait_text(&bob, ".chat .messages", "Alice says:Hello from node one").await;
    // WebSockets alternate: dispatch, node, dispatch, node for the two sign-ins, then Alice's switchboard
    // (announced through the second bridge) on the first, and Bob's on the second.
    assert_eq!((first.open_sessions(), second.open_sessions()), (1, 3));
    shot(&bob, "31-a-chat-across-nodes-and-bridges").await;

    alice.close().await.unwrap();
    wait_gone(&bob, &online("alice@hotmail.com")).await;
    bob.close().await.unwrap();
    for bridge in [first, second] {
        bridge.shutdown().await;
    }
    for node in [dispatch, one, two] {
        node.shutdown().await;
    }
}
