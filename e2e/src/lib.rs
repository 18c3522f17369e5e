//! Helpers for the end-to-end tests: chromedriver, browser sessions, waiting, screenshots, and a real
//! bridge serving the built app. `cargo xtask test` runs the tests in `tests/` after building the app.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
pub use fantoccini::{Client, Locator};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Which browser a driver drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Chromium,
    Firefox,
}

/// chromedriver or geckodriver on a free port, killed on drop.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    kind: Kind,
}

impl Driver {
    /// chromedriver: any number of Chromium sessions.
    pub async fn start() -> Driver {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        Driver::launch(Kind::Chromium, &binary).await
    }

    /// geckodriver: one Firefox session (start one driver per browser).
    pub async fn firefox() -> Driver {
        let binary = std::env::var("GECKODRIVER").expect("run through `cargo xtask test`, which sets GECKODRIVER");
        Driver::launch(Kind::Firefox, &binary).await
    }

    async fn launch(kind: Kind, binary: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (cargo xtask setup installs it)"));
        // Owned from here on: dropped (killed) on every path.
        let driver = Driver { child, port, kind };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{binary} did not start");
    }

    pub async fn browser(&self) -> Client {
        match self.kind {
            Kind::Chromium => self.browser_with(|_| {}).await,
            Kind::Firefox => self.firefox_browser().await,
        }
    }

    /// A headless Firefox ESR session, the window at the size Chromium's get.
    async fn firefox_browser(&self) -> Client {
        let path = std::env::var("FIREFOX_CAPABILITIES")
            .expect("run through `cargo xtask test`, which sets FIREFOX_CAPABILITIES");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut caps: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        caps.insert("browserName".into(), "firefox".into());
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Firefox session");
        browser.set_window_size(WINDOW.0 as u32, WINDOW.1 as u32).await.unwrap();
        browser
    }

    /// A browser whose downloads go to `dir`.
    pub async fn browser_downloading_to(&self, dir: &Path) -> Client {
        let prefs = serde_json::json!({
            "download.default_directory": dir,
            "download.prompt_for_download": false,
        });
        self.browser_with(|options| {
            options.insert("prefs".into(), prefs);
        })
        .await
    }

    /// A browser session; `tweak` may change its `goog:chromeOptions`.
    async fn browser_with(&self, tweak: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Client {
        // The same headless Chromium the wasm tests use: `cargo xtask test` writes its capabilities.
        let path = std::env::var("WEBDRIVER_CAPABILITIES")
            .expect("run through `cargo xtask test`, which sets WEBDRIVER_CAPABILITIES");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut caps: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        caps.insert("browserName".into(), "chrome".into());
        if let Some(options) = caps.get_mut("goog:chromeOptions").and_then(|o| o.as_object_mut()) {
            if let Some(args) = options.get_mut("args").and_then(|a| a.as_array_mut()) {
                args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1).into());
            }
            tweak(options);
        }
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

/// Saves a screenshot under target/e2e-screenshots/, and requires the state it shows to be accessible
/// ([`assert_accessible`]): every state worth a picture is checked.
pub async fn shot(browser: &Client, name: &str) {
    assert_accessible(browser, name).await;
    // And at a phone's size: the same state must work there too.
    let (width, height) = browser.get_window_size().await.unwrap();
    if (width, height) != PHONE {
        browser.set_window_size(PHONE.0 as u32, PHONE.1 as u32).await.unwrap();
        assert_accessible(browser, &format!("{name} at {}×{}", PHONE.0, PHONE.1)).await;
        browser.set_window_size(width as u32, height as u32).await.unwrap();
    }
    let dir = workspace().join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The browsers' window: a common laptop screen.
pub const WINDOW: (u64, u64) = (1366, 768);

/// A phone-sized window: every photographed state is also checked at this size.
pub const PHONE: (u64, u64) = (390, 844);

/// The axe-core rules the page must pass: WCAG 2.0 and 2.1, A and AA, and axe's best practices.
const AXE_TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']";

/// Injects axe-core (npm, installed into tools/ by `cargo xtask setup`) and fails, listing them, on any
/// violation of [`AXE_TAGS`] in the page as it is now; `state` names it in the failure.
pub async fn assert_accessible(browser: &Client, state: &str) {
    let path = workspace().join("tools/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (cargo xtask setup)", path.display()));
    browser.execute(&format!("if (!window.axe) {{ {axe} }}"), vec![]).await.unwrap();
    let script = format!(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {{ runOnly: {{ type: 'tag', values: {AXE_TAGS} }} }})
            .then(r => done(r.violations.map(v => `${{v.id}} (${{v.impact}}): ${{v.help}} at ${{
                v.nodes.map(n => n.target.join(' ')).join(', ')}}`)))
            .catch(e => done([`axe failed: ${{e}}`]));"
    );
    let result = browser.execute_async(&script, vec![]).await.unwrap();
    let violations: Vec<String> = serde_json::from_value(result).unwrap();
    assert!(violations.is_empty(), "accessibility violations in state {state:?}:\n{}", violations.join("\n"));
}

/// Waits up to 10 s for an element matching `css` whose text contains `text`.
pub async fn wait_text(browser: &Client, css: &str, text: &str) {
    wait_text_for(browser, css, text, Duration::from_secs(10)).await;
}

/// Waits up to `within` for an element matching `css` whose text contains `text`.
pub async fn wait_text_for(browser: &Client, css: &str, text: &str, within: Duration) {
    let deadline = Instant::now() + within;
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
pub async fn wait_gone(browser: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if browser.find_all(Locator::Css(css)).await.map(|v| v.is_empty()).unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css:?} is still there");
}

/// Types `text` into the field matching `css`; a newline is the Enter key (WebDriver's U+E007: Firefox
/// types "\n" as a character).
pub async fn type_into(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&enter(text)).await.unwrap();
}

/// `text` with each newline as WebDriver's Enter key.
pub fn enter(text: &str) -> String {
    text.replace('\n', "\u{E007}")
}

/// Fills the sign-in form and submits it with Enter, as a person would.
pub async fn sign_in(browser: &Client, url: &str, email: &str, password: &str) {
    browser.goto(url).await.unwrap();
    wait_text(browser, "#sign-in-title", "Sign in").await;
    wait_text(browser, "#server option", "local").await;
    type_into(browser, "#email", email).await;
    type_into(browser, "#password", &format!("{password}\n")).await;
}

pub fn online(handle: &str) -> String {
    format!("section[aria-labelledby=group-online] li[data-handle='{handle}']")
}

pub fn offline(handle: &str) -> String {
    format!("section[aria-labelledby=group-offline] li[data-handle='{handle}']")
}

pub async fn start_bridge() -> (bridge::Running, tempfile::TempDir) {
    start_bridge_with(|_| {}).await
}

/// A bridge serving the built app with its embedded server; `tweak` may change its configuration.
pub async fn start_bridge_with(
    tweak: impl FnOnce(&mut bridge::config::Config),
) -> (bridge::Running, tempfile::TempDir) {
    let dist = workspace().join("dist");
    assert!(dist.join("index.html").exists(), "build the app first: cargo xtask build");
    let data = tempfile::tempdir().unwrap();
    let mut config = bridge::config::Config::new("127.0.0.1:0".parse().unwrap(), data.path().to_path_buf());
    config.static_dir = Some(dist);
    tweak(&mut config);
    (bridge::start(config).await.unwrap(), data)
}

/// The current value of the input matching `css`.
pub async fn field_value(browser: &Client, css: &str) -> String {
    let field = browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.prop("value").await.unwrap().unwrap_or_default()
}

/// Clicks the element matching `css`.
pub async fn click(browser: &Client, css: &str) {
    browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}
