//! The tasks: test, build, demo.

use crate::setup::{self, Tools};
use crate::sh::{Result, cmd, root, run, step};

const WASM: &str = "wasm32-unknown-unknown";
/// Chromium as root starts only headless and without its sandbox; the rest keeps it off the network.
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
];

/// A headless browser that wasm-bindgen-test-runner drives through WebDriver.
#[derive(Debug, Clone, Copy)]
enum Browser {
    Chromium,
    Firefox,
}

impl Browser {
    fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }

    /// WebDriver capabilities for the test runner.
    fn capabilities(self) -> String {
        match self {
            Browser::Chromium => format!(
                r#"{{"goog:chromeOptions": {{"binary": "/usr/bin/chromium", "args": [{}]}}}}"#,
                CHROMIUM_ARGS.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
            ),
            Browser::Firefox => {
                r#"{"moz:firefoxOptions": {"binary": "/usr/bin/firefox-esr", "args": ["-headless"]}}"#.to_owned()
            }
        }
    }
}

pub fn test() -> Result {
    let tools = setup::ensure()?;

    step("formatting");
    run(&mut cmd("cargo", &["fmt", "--all", "--", "--check"]))?;

    step("clippy, native");
    run(&mut cmd(
        "cargo",
        &["clippy", "--locked", "--workspace", "--exclude", "msnp-web", "--all-targets", "--", "-D", "warnings"],
    ))?;
    step("clippy, wasm32");
    run(&mut cmd(
        "cargo",
        &[
            "clippy",
            "--locked",
            "--target",
            WASM,
            "-p",
            "msnp",
            "-p",
            "msnp-web",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;

    step("native tests");
    run(&mut cmd("cargo", &["test", "--locked", "--workspace", "--exclude", "msnp-web"]))?;

    for browser in [Browser::Chromium, Browser::Firefox] {
        step(&format!("wasm tests in headless {}", browser.name()));
        wasm_tests(&tools, browser)?;
    }

    step("release build of the browser app");
    build(&tools)?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// Runs the crates' tests compiled to wasm32 in one headless browser.
fn wasm_tests(tools: &Tools, browser: Browser) -> Result {
    let dir = root().join("target/webdriver");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let caps = dir.join(format!("{}.json", browser.name()));
    std::fs::write(&caps, browser.capabilities()).map_err(|e| e.to_string())?;

    let mut c = cmd("cargo", &["test", "--locked", "--target", WASM, "-p", "msnp", "-p", "msnp-web"]);
    c.env("PATH", &tools.path)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &caps)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
        .env_remove("CHROMEDRIVER")
        .env_remove("GECKODRIVER");
    match browser {
        Browser::Chromium => c.env("CHROMEDRIVER", &tools.chromedriver),
        Browser::Firefox => c.env("GECKODRIVER", &tools.geckodriver),
    };
    run(&mut c)
}

/// `trunk build --release --offline` into dist/: fails at once if a tool is missing instead of
/// reaching for the network.
pub fn build(tools: &Tools) -> Result {
    run(cmd("trunk", &["build", "--release", "--offline"]).env("PATH", &tools.path))
}

pub fn demo(listen: &str) -> Result {
    let tools = setup::ensure()?;
    step("building the browser app");
    build(&tools)?;
    step("starting the bridge with its embedded server (Ctrl-C stops it)");
    eprintln!("MSN Messenger 1.0 on this machine can sign in too: its server is 127.0.0.1:1863");
    // The bridge prints the page's address and the demo accounts.
    run(&mut cmd(
        "cargo",
        &[
            "run",
            "--locked",
            "--release",
            "-p",
            "bridge",
            "--",
            "--listen",
            listen,
            "--static",
            "dist",
            "--data-dir",
            "target/demo",
            "--ns-listen",
            "127.0.0.1:1863",
            "--sb-listen",
            "127.0.0.1:1864",
        ],
    ))
}
