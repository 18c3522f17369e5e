//! Two real browser sessions (headless Chromium through chromedriver) use the built app, served by a real
//! bridge with its embedded server. Screenshots of each step go to target/e2e-screenshots/.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1100,760",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (cargo xtask setup installs it)");
        // Owned from here on: dropped (killed) on every path.
        let driver = Driver { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": CHROMIUM_ARGS }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves a screenshot under target/e2e-screenshots/.
async fn shot(browser: &Client, name: &str) {
    let dir = workspace().join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits up to 10 s for an element matching `css` whose text contains `text`.
async fn wait_text(browser: &Client, css: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(elements) = browser.find_all(Locator::Css(css)).await {
            for e in elements {
                last = e.text().await.unwrap_or_default();
                if last.contains(text) {
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {css:?} containing {text:?} (last seen: {last:?})");
}

/// Waits until nothing matches `css`.
async fn wait_gone(browser: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if browser.find_all(Locator::Css(css)).await.map(|v| v.is_empty()).unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css:?} is still there");
}

async fn type_into(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Fills the sign-in form and submits it with Enter, as a person would.
async fn sign_in(browser: &Client, url: &str, email: &str, password: &str) {
    browser.goto(url).await.unwrap();
    wait_text(browser, "#sign-in-title", "Sign in").await;
    wait_text(browser, "#server option", "local").await;
    type_into(browser, "#email", email).await;
    type_into(browser, "#password", &format!("{password}\n")).await;
}

fn online(handle: &str) -> String {
    format!("section[aria-labelledby=group-online] li[data-handle='{handle}']")
}

fn offline(handle: &str) -> String {
    format!("section[aria-labelledby=group-offline] li[data-handle='{handle}']")
}

async fn start_bridge() -> (bridge::Running, tempfile::TempDir) {
    let dist = workspace().join("dist");
    assert!(dist.join("index.html").exists(), "build the app first: cargo xtask build");
    let data = tempfile::tempdir().unwrap();
    let mut config = bridge::config::Config::new("127.0.0.1:0".parse().unwrap(), data.path().to_path_buf());
    config.static_dir = Some(dist);
    (bridge::start(config).await.unwrap(), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_sign_in_see_each_other_and_sign_out() {
    let (bridge, _data) = start_bridge().await;
    let addr: SocketAddr = bridge.http_addr;
    let url = format!("http://{addr}/");
    let driver = Driver::start().await;
    let alice = driver.browser().await;
    let bob = driver.browser().await;

    // Alice signs in; the page measures how long it took.
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    wait_text(&alice, "#me .name", "Alice").await;
    let ms = alice.find(Locator::Css("section.contacts")).await.unwrap().attr("data-sign-in-ms").await.unwrap();
    println!("sign-in to online over loopback: {} ms", ms.unwrap_or_default());
    wait_text(&alice, &offline("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, ".inspector .log", "USR 4 MD5 S").await;
    shot(&alice, "01-alice-signed-in").await;

    // Bob signs in: each sees the other online.
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, ".live", "Bob is now Online").await;
    shot(&alice, "02-alice-sees-bob-online").await;

    // Bob changes state and name.
    bob.find(Locator::Css("#my-state")).await.unwrap().select_by_value("AWY").await.unwrap();
    wait_text(&alice, &online("bob@hotmail.com"), "(Away)").await;
    type_into(&bob, "#my-name", "Bobby B\n").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bobby B").await;
    wait_text(&bob, "#me .name", "Bobby B").await;
    shot(&bob, "03-bob-away-and-renamed").await;

    // Alice blocks Bob: she disappears for him; unblocks: she is back.
    alice.find(Locator::Css("button[aria-label='Block Bobby B']")).await.unwrap().click().await.unwrap();
    wait_text(&bob, &offline("alice@hotmail.com"), "Alice").await;
    wait_text(&alice, &online("bob@hotmail.com"), "blocked").await;
    shot(&alice, "04-alice-blocked-bob").await;
    shot(&bob, "05-bob-sees-alice-offline").await;
    alice.find(Locator::Css("button[aria-label='Unblock Bobby B']")).await.unwrap().click().await.unwrap();
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;

    // Both sign out.
    bob.find(Locator::Css("button.sign-out")).await.unwrap().click().await.unwrap();
    wait_text(&bob, "#sign-in-title", "Sign in").await;
    wait_text(&alice, &offline("bob@hotmail.com"), "Bob").await;
    alice.find(Locator::Css("button.sign-out")).await.unwrap().click().await.unwrap();
    wait_text(&alice, "#sign-in-title", "Sign in").await;
    wait_gone(&alice, "section.contacts").await;
    shot(&alice, "06-signed-out").await;

    // A wrong password says so.
    sign_in(&alice, &url, "alice@hotmail.com", "wrong").await;
    wait_text(&alice, ".sign-in .notice[role=alert]", "Wrong e-mail address or password.").await;
    shot(&alice, "07-wrong-password").await;

    // The same page on a phone-sized screen.
    bob.set_window_size(390, 844).await.unwrap();
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&bob, "#me .name", "Bobby B").await;
    shot(&bob, "08-phone").await;

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    bridge.shutdown().await;
}
