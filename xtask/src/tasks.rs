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

    /// Writes the capabilities to target/webdriver/<browser>.json, for wasm-bindgen-test-runner and e2e.
    fn capabilities_file(self) -> Result<std::path::PathBuf> {
        let dir = root().join("target/webdriver");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{}.json", self.name()));
        std::fs::write(&path, self.capabilities()).map_err(|e| e.to_string())?;
        Ok(path)
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

    step("docs of the msnp crate (no warnings: it is a library for others too)");
    run(cmd("cargo", &["doc", "--locked", "--no-deps", "-p", "msnp"]).env("RUSTDOCFLAGS", "-D warnings"))?;

    step("native tests");
    run(&mut cmd("cargo", &["test", "--locked", "--workspace", "--exclude", "msnp-web", "--exclude", "e2e"]))?;

    run(&mut cmd("cargo", &["build", "--locked", "-p", "bridge", "-p", "msnp-bench"]))?;
    for browser in [Browser::Chromium, Browser::Firefox] {
        step(&format!("wasm tests in headless {}", browser.name()));
        let bridge = TestBridge::embedded(browser)?;
        let foreign = ForeignServer::start()?;
        let foreign_bridge =
            TestBridge::start(browser, "foreign", &["--upstream", &format!("foreign={}", foreign.addr)])?;
        let result = wasm_tests(&tools, browser, &bridge.url, &foreign_bridge.url);
        drop((bridge, foreign_bridge, foreign));
        result?;
    }

    step("release build of the browser app");
    build(&tools)?;
    size_budget()?;

    step(
        "end-to-end tests in headless Chromium, and their sign-in and chat in Firefox (screenshots in target/e2e-screenshots/)",
    );
    run(cmd("cargo", &["test", "--locked", "-p", "e2e", "--", "--nocapture"])
        .env("CHROMEDRIVER", &tools.chromedriver)
        .env("WEBDRIVER_CAPABILITIES", Browser::Chromium.capabilities_file()?)
        .env("GECKODRIVER", &tools.geckodriver)
        .env("FIREFOX_CAPABILITIES", Browser::Firefox.capabilities_file()?))?;
    eprintln!("\nall checks passed");
    Ok(())
}

/// The fuzz campaigns (`msnp/tests/fuzz.rs`, `server/tests/fuzz.rs`), optimized, for `seconds` each.
pub fn fuzz(seconds: u64) -> Result {
    step(&format!("fuzzing the decoder, the client machines and the server logic, {seconds} s each"));
    run(cmd(
        "cargo",
        &["test", "--locked", "--release", "-p", "msnp", "-p", "msnp-server", "--test", "fuzz", "--", "--nocapture"],
    )
    .env("MSNP_FUZZ_SECONDS", seconds.to_string()))
}

/// The release app (wasm + JS), gzipped, must stay under this many bytes.
const SIZE_BUDGET: usize = 350 * 1000;

/// Fails when the built app's wasm and JS, gzipped, exceed the budget; prints the size either way.
fn size_budget() -> Result {
    let (mut total, mut brotli) = (0, 0);
    let dist = root().join("dist");
    for entry in std::fs::read_dir(&dist).map_err(|e| format!("{}: {e}", dist.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let size = || std::fs::metadata(&path).map(|m| m.len() as usize).map_err(|e| e.to_string());
        // The files the bridge sends: what `build` compressed.
        match path.to_str() {
            Some(p) if p.ends_with(".wasm.gz") || p.ends_with(".js.gz") => total += size()?,
            Some(p) if p.ends_with(".wasm.br") || p.ends_with(".js.br") => brotli += size()?,
            _ => {}
        }
    }
    let kb = |bytes: usize| bytes as f64 / 1000.0;
    eprintln!(
        "app size: {:.1} KB gzipped, {:.1} KB brotli (wasm + JS; budget {} KB gzipped)",
        kb(total),
        kb(brotli),
        SIZE_BUDGET / 1000
    );
    if total > SIZE_BUDGET {
        return Err(format!("the app is {total} bytes gzipped, over the budget of {SIZE_BUDGET}"));
    }
    Ok(())
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and reads the address from its first line of output, `ready KEY=ADDR`.
fn start_ready(mut command: std::process::Command, key: &str) -> Result<(Child, String)> {
    use std::io::BufRead;
    let what = format!("{command:?}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let child = Child(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let prefix = format!("ready {key}=");
    let addr = line.trim().strip_prefix(&prefix).ok_or_else(|| format!("{what} said {line:?}"))?.to_owned();
    Ok((child, addr))
}

/// A bridge for the wasm tests that talk to a real server. The test page is served by
/// wasm-bindgen-test-runner on a loopback port, hence the origin rule.
struct TestBridge {
    _child: Child,
    url: String,
}

impl TestBridge {
    /// With its embedded server and fresh demo accounts.
    fn embedded(browser: Browser) -> Result<TestBridge> {
        TestBridge::start(browser, "embedded", &[])
    }

    fn start(browser: Browser, name: &str, args: &[&str]) -> Result<TestBridge> {
        let data = root().join(format!("target/test-bridge-{}-{name}", browser.name()));
        let _ = std::fs::remove_dir_all(&data);
        let mut command = std::process::Command::new(root().join("target/debug/bridge"));
        command
            .args(["--listen", "127.0.0.1:0", "--allow-origin", "http://127.0.0.1:*", "--no-robots", "--data-dir"])
            .arg(&data)
            .args(args);
        let (child, addr) = start_ready(command, "http")?;
        Ok(TestBridge { _child: child, url: format!("ws://{addr}") })
    }
}

/// `msnp-bench foreign-server`: a scripted server that behaves as shared/protocol/INTEROP.md says.
struct ForeignServer {
    _child: Child,
    addr: String,
}

impl ForeignServer {
    fn start() -> Result<ForeignServer> {
        let mut command = std::process::Command::new(root().join("target/debug/msnp-bench"));
        command.arg("foreign-server");
        let (child, addr) = start_ready(command, "ns")?;
        Ok(ForeignServer { _child: child, addr })
    }
}

/// Runs the crates' tests compiled to wasm32 in one headless browser, given the two bridges' ws:// URLs.
fn wasm_tests(tools: &Tools, browser: Browser, bridge: &str, foreign_bridge: &str) -> Result {
    let caps = browser.capabilities_file()?;

    let mut c = cmd("cargo", &["test", "--locked", "--target", WASM, "-p", "msnp", "-p", "msnp-web"]);
    c.env("PATH", &tools.path)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &caps)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
        .env("MSNP_TEST_BRIDGE", bridge)
        .env("MSNP_TEST_FOREIGN_BRIDGE", foreign_bridge)
        .env_remove("CHROMEDRIVER")
        .env_remove("GECKODRIVER");
    match browser {
        Browser::Chromium => c.env("CHROMEDRIVER", &tools.chromedriver),
        Browser::Firefox => c.env("GECKODRIVER", &tools.geckodriver),
    };
    run(&mut c)
}

/// `trunk build --release --offline` into dist/: fails at once if a tool is missing instead of
/// reaching for the network. Trunk's report goes to standard error: tasks keep standard output for
/// the lines scripts read (`cargo xtask cluster`'s `ready …`).
pub fn build(tools: &Tools) -> Result {
    run(cmd("trunk", &["build", "--release", "--offline"]).env("PATH", &tools.path).stdout(std::io::stderr()))?;
    precompress(&root().join("dist"))
}

/// Writes `name.br` and `name.gz` (each at its best compression) beside each of the app's files, once, so
/// that the bridge sends those bytes as they are instead of compressing every response again.
fn precompress(dist: &std::path::Path) -> Result {
    use std::io::Write;
    for entry in std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "js" | "css" | "html" | "svg")) {
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&bytes).map_err(|e| e.to_string())?;
            let gz = gz.finish().map_err(|e| e.to_string())?;
            let mut br = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut bytes.as_slice(), &mut br, &params).map_err(|e| e.to_string())?;
            for (ending, compressed) in [(".gz", gz), (".br", br)] {
                let mut name = path.clone().into_os_string();
                name.push(ending);
                std::fs::write(&name, compressed).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
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
            "--guests",
        ],
    ))
}
