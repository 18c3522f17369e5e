//! `cargo xtask bench`: the server and the bridge under load, beside a canned-reply server (the ceiling for
//! sign-ins) and websockify, every scenario [`RUNS`] times on fresh processes; then the cluster.
//! Results go to target/bench/results.json, target/bench/results.svg and a Markdown table on stdout.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::bench_report::{Figure, chart, each, ratio, table};
use crate::procs::{Proc, bench, bench_on, machine_cpu, pinned, process_cpu, start};

use crate::sh::{Result, cmd, output, root, run, step};

const WEBSOCKIFY: &str = "websockify==0.13.0";
/// Idle sessions through the bridge: each holds two sockets there, and this sandbox allows 20,000.
const BRIDGE_IDLE: usize = 9_000;
const SERVER_IDLE: usize = 10_000;
/// Runs of every scenario: figures are their median, with their range beside it.
const RUNS: usize = 3;

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port())
}

/// websockify from PyPI in a virtualenv under target/bench (installed once).
fn websockify() -> Result<std::path::PathBuf> {
    let venv = root().join("target/bench/venv");
    let bin = venv.join("bin/websockify");
    if !bin.exists() {
        eprintln!("installing {WEBSOCKIFY} from PyPI into target/bench/venv (seconds)");
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", WEBSOCKIFY]))?;
    }
    Ok(bin)
}

/// The release binaries and the benchmark's accounts, from which fresh processes start.
struct Env {
    release: PathBuf,
    dir: PathBuf,
    db: PathBuf,
    accounts: PathBuf,
}

/// A fresh server: its process, notification server and metrics addresses.
struct Server {
    proc: Proc,
    ns: String,
    metrics: String,
}

impl Env {
    fn prepare() -> Result<Env> {
        step("building release binaries");
        run(&mut cmd(
            "cargo",
            &["build", "--locked", "--release", "-p", "msnp-server", "-p", "bridge", "-p", "msnp-bench"],
        ))?;
        let dir = root().join("target/bench");
        let _ = std::fs::remove_dir_all(dir.join("data"));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let release = root().join("target/release");
        step("accounts");
        let accounts = output(Command::new(release.join("msnp-bench")).args(["accounts", &SERVER_IDLE.to_string()]))
            .ok_or("msnp-bench accounts failed")?;
        let env = Env { db: dir.join("data/msnp.db"), accounts: dir.join("data/accounts.toml"), release, dir };
        std::fs::write(&env.accounts, accounts).map_err(|e| e.to_string())?;
        run(Command::new(env.release.join("msnp-server")).arg("import").arg("--db").arg(&env.db).arg(&env.accounts))?;
        Ok(env)
    }

    fn server(&self) -> Result<Server> {
        let mut server = Command::new(self.release.join("msnp-server"));
        server.args(["serve", "--listen", "127.0.0.1:0", "--sb-listen", "127.0.0.1:0", "--max-connections", "30000"]);
        server.args(["--metrics-listen", "127.0.0.1:0", "--db"]).arg(&self.db).env("RUST_LOG", "warn");
        let (proc, ready) = start(server)?;
        let field = |name: &str| {
            ready
                .split(' ')
                .find_map(|f| f.strip_prefix(name))
                .map(str::to_owned)
                .ok_or(format!("server said {ready:?}"))
        };
        Ok(Server { ns: field("ns=")?, metrics: field("metrics=")?, proc })
    }

    /// A fresh bridge in front of `ns`, on `cpus` if given: the process and its HTTP address.
    fn bridge(&self, ns: &str, cpus: Option<&str>) -> Result<(Proc, String)> {
        let mut bridge = pinned(cpus, &self.release.join("bridge"));
        bridge
            .args(["--listen", "127.0.0.1:0", "--max-connections", "30000", "--max-per-ip", "30000", "--upstream"])
            .arg(format!("bench={ns}"))
            .arg("--data-dir")
            .arg(self.dir.join("data/bridge"))
            .env("RUST_LOG", "warn");
        let (bridge, ready) = start(bridge)?;
        let http = ready.strip_prefix("ready http=").ok_or(format!("bridge said {ready:?}"))?.to_owned();
        Ok((bridge, http))
    }

    /// A fresh websockify in front of `ns` on `cpus`: the process and its URL.
    fn websockify(&self, ns: &str, cpus: &str) -> Result<(Proc, String)> {
        let port = free_port()?;
        let mut wsfy = pinned(Some(cpus), &websockify()?);
        wsfy.arg(format!("127.0.0.1:{port}")).arg(ns).stdout(Stdio::null());
        let wsfy = Proc::new(wsfy.stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok((wsfy, format!("ws://127.0.0.1:{port}/")))
    }
}

pub fn bench_all(tools: &crate::setup::Tools) -> Result {
    step("building the browser app (its files are served in the static-file scenario)");
    crate::tasks::build(tools)?;
    let env = Env::prepare()?;
    let mut canned = Command::new(env.release.join("msnp-bench"));
    canned.arg("canned-server");
    let (canned, ready) = start(canned)?;
    let canned_ns = ready.strip_prefix("ready ns=").ok_or(format!("the canned server said {ready:?}"))?;
    let mut runs = Vec::new();
    for n in 1..=RUNS {
        step(&format!("run {n} of {RUNS}"));
        runs.push(one_run(&env, (canned_ns, canned.pid()))?);
    }
    let cluster = crate::bench_cluster::measure(&env.release, &env.accounts, SERVER_IDLE, RUNS)?;
    let figures = figures(&runs, &cluster);
    let results = json!({
        "command": "cargo xtask bench",
        "machine": {
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "memory": output(Command::new("sh").args(["-c", "grep MemTotal /proc/meminfo"])).unwrap_or_default().trim(),
            "date": output(Command::new("date").arg("-u").arg("+%Y-%m-%d")).unwrap_or_default().trim(),
        },
        "figures": figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
        "runs": runs,
        "cluster_runs": cluster,
    });
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(env.dir.join("results.json"), json).map_err(|e| e.to_string())?;
    chart(&figures, &env.dir.join("results.svg"))?;
    println!("{}", table(&figures));
    eprintln!("\nresults: target/bench/results.json, target/bench/results.svg");
    Ok(())
}

/// Every scenario once, each on fresh processes where what earlier scenarios left behind (freed memory,
/// throttles) would change its figures.
fn one_run(env: &Env, canned: (&str, u32)) -> Result<Value> {
    let server = env.server()?;
    let (ns, pid) = (server.ns.as_str(), server.proc.pid().to_string());
    step("idle sessions on a fresh server: memory per session at 2,000 and 10,000");
    let idle = format!("2000,{SERVER_IDLE}");
    let idle_server = bench(&["idle", "--ns", ns, "--clients", &idle, "--pid", &pid])?;
    step("sign-in storms, 200 clients, 15 s: the server, then the canned-reply server");
    let storm = storm_with_cpu(ns, server.proc.pid())?;
    let ceiling = storm_with_cpu(canned.0, canned.1)?;
    step("presence fan-out to 500 watchers; chat, 100 pairs, 10 s");
    let fan_out = bench(&["fanout", "--ns", ns, "--watchers", "500", "--rounds", "21"])?;
    let chat = bench(&["chat", "--ns", ns, "--pairs", "100", "--seconds", "10"])?;
    step("attacks: floods (4 connections, 10 s each), guessing (60 s)");
    let flood_blank = bench(&["flood", "--ns", ns, "--kind", "blank", "--flooders", "4", "--seconds", "10"])?;
    let flood_png = bench(&["flood", "--ns", ns, "--kind", "png", "--flooders", "4", "--seconds", "10"])?;
    let guess = bench(&["guess", "--ns", ns, "--metrics", &server.metrics, "--seconds", "60"])?;
    step("spam from one account: invitations (10 s), presence before 500 watchers (3 + 10 s)");
    let invite_spam = bench(&["invite-spam", "--ns", ns, "--seconds", "10"])?;
    let presence_spam =
        bench(&["presence-spam", "--ns", ns, "--watchers", "500", "--seconds", "10", "--warm-up", "3"])?;
    step("a fresh bridge with its embedded server: the app's wasm to 8 clients (10 s), descriptors per session");
    let (static_files, descriptors) = app_and_descriptors(env)?;
    step("a fresh bridge: idle WebSocket sessions, half-sent requests (11 s)");
    let (bridge, http) = env.bridge(ns, None)?;
    let ws = format!("ws://{http}/ws");
    let idle_bridge =
        bench(&["idle", "--ws", &ws, "--clients", &BRIDGE_IDLE.to_string(), "--pid", &bridge.pid().to_string()])?;
    // The bridge's --handshake-timeout is its default, 10 s: counted 1 s after.
    let slowloris = bench(&["slowloris", "--http", &http, "--connections", "1000", "--seconds", "11"])?;
    drop(bridge);
    let (relay_bridge, relay_websockify) = relays(env, &server)?;
    step("presence fan-out again, the server alone on CPU 1 and the load generator on CPU 0");
    pin(server.proc.pid(), "1")?;
    let fan_out_apart = bench_on(Some("0"), &["fanout", "--ns", ns, "--watchers", "500", "--rounds", "21"])?;
    Ok(json!({
        "fan_out_apart": fan_out_apart,
        "idle_server": idle_server, "sign_in_storm": storm, "canned_sign_in_storm": ceiling, "fan_out": fan_out,
        "chat": chat, "flood_blank": flood_blank, "flood_png": flood_png, "guess": guess,
        "invite_spam": invite_spam, "presence_spam": presence_spam, "static_files": static_files,
        "descriptors": descriptors,
        "idle_bridge": idle_bridge, "slowloris": slowloris,
        "relay_bridge": relay_bridge, "relay_websockify": relay_websockify,
    }))
}

/// A fresh bridge serving dist/ with its embedded server (as `cargo xtask demo` runs it): 8 clients
/// downloading the app's wasm, and the descriptors 200 WebSocket sessions hold.
fn app_and_descriptors(env: &Env) -> Result<(Value, Value)> {
    let dist = root().join("dist");
    let wasm = std::fs::read_dir(&dist)
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|name| name.ends_with(".wasm"))
        .ok_or("no .wasm in dist/")?;
    let mut bridge = Command::new(env.release.join("bridge"));
    bridge.args(["--listen", "127.0.0.1:0", "--max-connections", "30000", "--max-per-ip", "30000", "--static"]);
    bridge.arg(&dist);
    bridge.arg("--data-dir").arg(env.dir.join("data/embedded")).env("RUST_LOG", "warn");
    let (bridge, ready) = start(bridge)?;
    let http = ready.strip_prefix("ready http=").ok_or(format!("bridge said {ready:?}"))?.to_owned();
    let pid = bridge.pid().to_string();
    let path = format!("/{wasm}");
    let files =
        bench(&["static", "--http", &http, "--path", &path, "--clients", "8", "--seconds", "10", "--pid", &pid])?;
    let ws = format!("ws://{http}/ws");
    let descriptors = bench(&["descriptors", "--ws", &ws, "--sessions", "200", "--pid", &pid])?;
    Ok((files, descriptors))
}

/// Moves the running process `pid` (all its threads) to the CPUs `cpus`.
fn pin(pid: u32, cpus: &str) -> Result {
    run(Command::new("taskset").args(["-a", "-p", "-c", cpus, &pid.to_string()]).stdout(Stdio::null()))
}

/// A sign-in storm (200 clients, 15 s) against `ns`, with the CPU milliseconds per sign-in (and its sign-out)
/// of the server's process `pid` and of the whole machine (the load generator included).
fn storm_with_cpu(ns: &str, pid: u32) -> Result<Value> {
    let before = (process_cpu(pid), machine_cpu());
    let mut storm = bench(&["signin", "--ns", ns, "--clients", "200", "--seconds", "15"])?;
    let sign_ins = storm["sign_ins"].as_f64().unwrap_or(f64::NAN);
    let per_sign_in = |after: f64, before: f64| (after - before) * 1000.0 / sign_ins;
    storm["cpu_ms_per_sign_in"] = json!({
        "server": per_sign_in(process_cpu(pid), before.0),
        "machine": per_sign_in(machine_cpu(), before.1),
    });
    Ok(storm)
}

/// The bridge and websockify, each fresh and alone on CPU 1, with the server and the load generator on
/// CPU 0: 100 clients, 10 s each.
fn relays(env: &Env, server: &Server) -> Result<(Value, Value)> {
    step("relays: each alone on CPU 1; the server and the load generator on CPU 0");
    pin(server.proc.pid(), "0")?;
    let relay = |url: &str, pid: u32, extra: &[&str]| {
        let pid = pid.to_string();
        let mut args = vec!["relay", "--ws", url, "--direct", &server.ns, "--pid", &pid];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--clients", "100", "--seconds", "10"]);
        bench_on(Some("0"), &args)
    };
    let (bridge, http) = env.bridge(&server.ns, Some("1"))?;
    let ours = relay(&format!("ws://{http}/ws"), bridge.pid(), &[])?;
    drop(bridge);
    let (wsfy, url) = env.websockify(&server.ns, "1")?;
    let theirs = relay(&url, wsfy.pid(), &["--binary"])?;
    Ok((ours, theirs))
}

/// Every figure, from the runs of the lone server and bridge and from the cluster's runs.
fn figures(runs: &[Value], cluster: &[Value]) -> Vec<Figure> {
    let at = |pointer: &str| each(runs, pointer);
    let fig = Figure::new;
    let sign_ins = at("/sign_in_storm/sign_ins_per_second");
    let ceiling = at("/canned_sign_in_storm/sign_ins_per_second");
    let (ours, theirs) = (at("/relay_bridge/messages_per_second"), at("/relay_websockify/messages_per_second"));
    let mut figures = vec![
        fig("sign-ins per second (200 clients)", "/s", sign_ins.clone()).at_least(5000.0),
        fig("canned-reply server: sign-ins per second (the ceiling)", "/s", ceiling.clone()),
        fig("sign-ins per second ÷ the canned-reply server's", "×", ratio(&sign_ins, &ceiling)).at_least(0.6),
        fig("CPU per sign-in: the server", "ms", at("/sign_in_storm/cpu_ms_per_sign_in/server")),
        fig("CPU per sign-in: the canned-reply server", "ms", at("/canned_sign_in_storm/cpu_ms_per_sign_in/server")),
        fig(
            "CPU per sign-in, whole machine: the server's storm",
            "ms",
            at("/sign_in_storm/cpu_ms_per_sign_in/machine"),
        ),
        fig(
            "CPU per sign-in, whole machine: the canned-reply server's storm",
            "ms",
            at("/canned_sign_in_storm/cpu_ms_per_sign_in/machine"),
        ),
        fig("sign-in p50", "ms", at("/sign_in_storm/p50_ms")),
        fig("sign-in p99", "ms", at("/sign_in_storm/p99_ms")),
        fig("server memory per idle session, 2,000 sessions", "B", at("/idle_server/scales/0/bytes_per_session")),
        fig("server memory per idle session, 10,000 sessions", "B", at("/idle_server/scales/1/bytes_per_session"))
            .at_most(3000.0),
        fig("bridge memory per WebSocket session (9,000)", "B", at("/idle_bridge/scales/0/bytes_per_session"))
            .at_most(16384.0),
        fig("fan-out to 500 watchers, p50", "ms", at("/fan_out/p50_ms")).at_most(20.0),
        fig("fan-out to 500 watchers, max", "ms", at("/fan_out/max_ms")).at_most(20.0),
        fig("fan-out p50, the server and the load generator on a core each", "ms", at("/fan_out_apart/p50_ms")),
        fig("fan-out max, the server and the load generator on a core each", "ms", at("/fan_out_apart/max_ms")),
        fig("chat messages per second (100 pairs)", "/s", at("/chat/messages_per_second")),
        fig("chat latency p99", "ms", at("/chat/p99_ms")),
        fig("round trip p50, straight to the server", "ms", at("/relay_bridge/direct_p50_ms")),
        fig("round trip p99, straight to the server", "ms", at("/relay_bridge/direct_p99_ms")),
        fig("round trip p50 through the bridge", "ms", at("/relay_bridge/relayed_p50_ms")),
        fig("round trip p99 through the bridge", "ms", at("/relay_bridge/relayed_p99_ms")),
        fig("round trip p50 through websockify", "ms", at("/relay_websockify/relayed_p50_ms")),
        fig("round trip p99 through websockify", "ms", at("/relay_websockify/relayed_p99_ms")),
        fig("bridge added latency p50 (interleaved probes)", "µs", at("/relay_bridge/added_p50_us")).at_most(100.0),
        fig("websockify added latency p50 (interleaved probes)", "µs", at("/relay_websockify/added_p50_us")),
        fig("bridge messages per second, on one core (100 clients)", "/s", ours.clone()),
        fig("websockify messages per second, on one core (100 clients)", "/s", theirs.clone()),
        fig("bridge throughput ÷ websockify's", "×", ratio(&ours, &theirs)).at_least(3.0),
        fig("bridge CPU seconds per 100k messages", "s", at("/relay_bridge/cpu_seconds_per_100k_messages")),
        fig("websockify CPU seconds per 100k messages", "s", at("/relay_websockify/cpu_seconds_per_100k_messages")),
        fig("bridge memory per relayed connection (fresh process)", "B", at("/relay_bridge/bytes_per_connection")),
        fig("websockify memory per connection (fresh process)", "B", at("/relay_websockify/bytes_per_connection")),
        fig("VER round trip p50, 4 connections flooding blank lines", "ms", at("/flood_blank/p50_ms")),
        fig("VER round trip p99, 4 connections flooding blank lines", "ms", at("/flood_blank/p99_ms")).at_most(5.0),
        fig("VER round trip p50, 4 connections sending unread PNGs", "ms", at("/flood_png/p50_ms")),
        fig("VER round trip p99, 4 connections sending unread PNGs", "ms", at("/flood_png/p99_ms")).at_most(5.0),
        fig("password guesses checked per minute (one account, one address)", "/min", at("/guess/checked_per_minute"))
            .at_most(5.0),
        fig("password guesses made per second (all answered 911)", "/s", at("/guess/guesses_per_second")),
        fig("invitation spam: CALs tried per second by one account", "/s", at("/invite_spam/cals_per_second")),
        fig("invitation spam: RNGs reaching the victim per second", "/s", at("/invite_spam/victim_rngs_per_second"))
            .at_most(1.0),
        fig("invitation spam: a bystander's PNG p99", "ms", at("/invite_spam/bystander_p99_ms")).at_most(5.0),
        fig("presence spam: CHGs sent per second by one account", "/s", at("/presence_spam/chg_per_second")),
        fig(
            "presence spam: NLNs delivered per second to 500 watchers",
            "/s",
            at("/presence_spam/nln_delivered_per_second"),
        )
        .at_most(5500.0),
        fig("presence spam: a bystander's PNG p99", "ms", at("/presence_spam/bystander_p99_ms")).at_most(5.0),
        fig("the app's wasm to 8 clients: responses per second", "/s", at("/static_files/responses_per_second")),
        fig("the app's wasm: bridge CPU per response", "ms", at("/static_files/cpu_ms_per_response")).at_most(1.0),
        fig(
            "descriptors per WebSocket session (bridge with its embedded server)",
            "",
            at("/descriptors/descriptors_per_session"),
        )
        .at_most(3.0),
        fig("half-sent HTTP requests open 1 s after the handshake timeout (of 1000)", "", at("/slowloris/still_open"))
            .at_most(0.0),
    ];
    figures.extend(crate::bench_cluster::figures(cluster, &sign_ins));
    figures
}
