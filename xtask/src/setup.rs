//! Installs what the build, the tests and the benchmarks need, idempotently: each tool is checked first
//! and installed only when missing or at the wrong version. Everything comes from crates.io, npm or Debian's
//! packages (see shared/TOOLCHAIN.md); nothing is downloaded from GitHub.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::sh::{Result, cmd, output, root, run, step};

/// Trunk's version: 0.22 needs a newer rustc than these machines have.
const TRUNK_VERSION: &str = "0.21.14";
const GECKODRIVER_VERSION: &str = "0.37.1";
/// npm's binaryen (wasm-opt); Trunk.toml pins the same version.
const WASM_OPT_VERSION: &str = "version 132";
/// npm's axe-core, which the e2e tests inject; tools/package.json pins the same version.
const AXE_VERSION: &str = "\"version\": \"4.14.1\"";
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("/usr/bin/chromium", "chromium"),
    ("/usr/bin/chromedriver", "chromium-driver"),
    ("/usr/bin/firefox-esr", "firefox-esr"),
    // The cluster's engines: tests start their own throwaway PostgreSQL cluster and NATS servers.
    ("/usr/lib/postgresql/15/bin/initdb", "postgresql"),
    ("/usr/sbin/nats-server", "nats-server"),
    // `cargo xtask bench`: websockify goes into a virtualenv; relays are pinned to a core with taskset.
    ("/usr/share/doc/python3-venv", "python3-venv"),
    ("/usr/bin/taskset", "util-linux"),
];

/// Where the installed tools are.
#[derive(Debug)]
pub struct Tools {
    /// PATH with the project's tools first, for trunk and the wasm test runner.
    pub path: OsString,
    pub chromedriver: PathBuf,
    pub geckodriver: PathBuf,
}

pub fn ensure() -> Result<Tools> {
    step("setup: checking tools (installs only what is missing)");
    let cargo_bin = cargo_home().join("bin");
    let npm_bin = root().join("tools/node_modules/.bin");
    let path = std::env::join_paths(
        [npm_bin.clone(), cargo_bin.clone()]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .map_err(|e| e.to_string())?;
    let with_path = |program: &str, args: &[&str]| {
        let mut c = cmd(program, args);
        c.env("PATH", &path);
        c
    };

    let targets = output(&mut cmd("rustup", &["target", "list", "--installed"])).unwrap_or_default();
    if !targets.lines().any(|t| t.trim() == "wasm32-unknown-unknown") {
        eprintln!("installing the wasm32-unknown-unknown target (a few seconds)");
        run(&mut cmd("rustup", &["target", "add", "wasm32-unknown-unknown"]))?;
    }

    // Trunk builds offline, so every crate must be in the local registry cache first.
    run(&mut cmd("cargo", &["fetch", "--locked", "--quiet"]))?;

    if !version_output(&mut with_path("trunk", &["--version"])).contains(TRUNK_VERSION) {
        eprintln!(
            "installing trunk {TRUNK_VERSION} from crates.io: compiling it takes about 6 minutes on 2 cores (first run only)"
        );
        run(cmd("cargo", &["install", "trunk", "--version", TRUNK_VERSION, "--locked"])
            .env("CARGO_PROFILE_RELEASE_LTO", "off")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"))?;
    }

    let bindgen = locked_version("wasm-bindgen")?;
    let have = version_output(&mut with_path("wasm-bindgen", &["--version"]));
    let runner = output(&mut with_path("wasm-bindgen-test-runner", &["--version"])).is_some();
    if have.split_whitespace().nth(1) != Some(bindgen.as_str()) || !runner {
        eprintln!("installing wasm-bindgen-cli {bindgen} (must equal the wasm-bindgen in Cargo.lock): about 3 minutes");
        // Not --locked: its lockfile pins a webpki-roots release the registry no longer has.
        run(&mut cmd("cargo", &["install", "wasm-bindgen-cli", "--version", &bindgen, "--force"]))?;
    }

    let axe = std::fs::read_to_string(root().join("tools/node_modules/axe-core/package.json")).unwrap_or_default();
    if !version_output(&mut with_path("wasm-opt", &["--version"])).contains(WASM_OPT_VERSION)
        || !axe.contains(AXE_VERSION)
    {
        eprintln!("installing wasm-opt ({WASM_OPT_VERSION}, npm's binaryen) and axe-core into tools/ (seconds)");
        run(&mut cmd("npm", &["ci", "--prefix", "tools", "--no-audit", "--no-fund"]))?;
    }

    let missing: Vec<&str> =
        DEBIAN_PACKAGES.iter().filter(|(file, _)| !Path::new(file).exists()).map(|(_, package)| *package).collect();
    if !missing.is_empty() {
        eprintln!(
            "installing {} from Debian (about a minute): browsers for the wasm and e2e tests, PostgreSQL and NATS \
             for the cluster tests",
            missing.join(", ")
        );
        run(&mut cmd("apt-get", &["update", "-qq"]))?;
        let mut install = cmd("apt-get", &["install", "-y", "-qq"]);
        install.args(&missing).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut install)?;
    }

    if output(&mut with_path("geckodriver", &["--version"])).is_none() {
        eprintln!(
            "installing geckodriver {GECKODRIVER_VERSION} from crates.io (about 2.5 minutes): it drives headless Firefox"
        );
        run(&mut cmd("cargo", &["install", "geckodriver", "--version", GECKODRIVER_VERSION, "--locked"]))?;
    }

    eprintln!("setup: all tools present");
    Ok(Tools { path, chromedriver: PathBuf::from("/usr/bin/chromedriver"), geckodriver: cargo_bin.join("geckodriver") })
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cargo"))
}

/// A tool's `--version` output, or empty when it is missing.
fn version_output(c: &mut std::process::Command) -> String {
    output(c).unwrap_or_default()
}

/// The version of `package` that Cargo.lock pins.
fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"")
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}
