//! `cargo xtask bench`: the server and the bridge under load, side by side with websockify, in one run.
//! Results go to target/bench/results.json, target/bench/results.svg and a Markdown table on stdout.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::sh::{Result, cmd, output, root, run, step};

const WEBSOCKIFY: &str = "websockify==0.13.0";
/// Idle sessions through the bridge: each holds two sockets there, and this sandbox allows 20,000.
const BRIDGE_IDLE: usize = 9_000;
const SERVER_IDLE: usize = 10_000;

/// A child process, killed on drop.
pub struct Proc {
    child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and returns it with the first line it prints (its ready line).
pub fn start(mut command: Command) -> Result<(Proc, String)> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line).map_err(|e| e.to_string())?;
    Ok((Proc { child }, line.trim().to_owned()))
}

pub fn bench(args: &[&str]) -> Result<Value> {
    let bin = root().join("target/release/msnp-bench");
    eprintln!("$ msnp-bench {}", args.join(" "));
    let out = Command::new(&bin).args(args).stderr(Stdio::inherit()).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("msnp-bench {} failed", args.join(" ")));
    }
    let value: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    eprintln!("  {value}");
    Ok(value)
}

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

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

pub fn bench_all() -> Result {
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
    let accounts_file = dir.join("data/accounts.toml");
    std::fs::write(&accounts_file, accounts).map_err(|e| e.to_string())?;
    let db = dir.join("data/msnp.db");
    run(Command::new(release.join("msnp-server")).arg("import").arg("--db").arg(&db).arg(&accounts_file))?;

    step("starting the server, the bridge and websockify");
    let mut server = Command::new(release.join("msnp-server"));
    server.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--sb-listen",
        "127.0.0.1:0",
        "--max-connections",
        "30000",
        "--metrics-listen",
        "127.0.0.1:0",
        "--db",
    ]);
    server.arg(&db).env("RUST_LOG", "warn");
    let (server, ready) = start(server)?;
    let field = |name: &str| {
        ready.split(' ').find_map(|f| f.strip_prefix(name)).map(str::to_owned).ok_or(format!("server said {ready:?}"))
    };
    let (ns, metrics) = (field("ns=")?, field("metrics=")?);
    let mut bridge = Command::new(release.join("bridge"));
    bridge
        .args(["--listen", "127.0.0.1:0", "--max-connections", "30000", "--max-per-ip", "30000", "--upstream"])
        .arg(format!("bench={ns}"))
        .arg("--data-dir")
        .arg(dir.join("data/bridge"))
        .env("RUST_LOG", "warn");
    let (bridge, ready) = start(bridge)?;
    let http = ready.strip_prefix("ready http=").ok_or(format!("bridge said {ready:?}"))?.to_owned();
    let ws = format!("ws://{http}/ws");
    let ws_port = free_port()?;
    let mut wsfy = Command::new(websockify()?);
    wsfy.arg(format!("127.0.0.1:{ws_port}")).arg(&ns).stdout(Stdio::null());
    let wsfy = Proc { child: wsfy.stderr(Stdio::null()).spawn().map_err(|e| e.to_string())? };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", ws_port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wsfy_url = format!("ws://127.0.0.1:{ws_port}/");

    step("1. sign-in storm: 200 clients, 20 s");
    let storm = bench(&["signin", "--ns", &ns, "--clients", "200", "--seconds", "20"])?;
    step("2. idle sessions: memory per session");
    let idle_server =
        bench(&["idle", "--ns", &ns, "--clients", &SERVER_IDLE.to_string(), "--pid", &server.pid().to_string()])?;
    let idle_bridge =
        bench(&["idle", "--ws", &ws, "--clients", &BRIDGE_IDLE.to_string(), "--pid", &bridge.pid().to_string()])?;
    step("3. presence fan-out: 500 watchers");
    let fanout = bench(&["fanout", "--ns", &ns, "--watchers", "500", "--rounds", "21"])?;
    step("4. chat: 100 pairs, 10 s");
    let chat = bench(&["chat", "--ns", &ns, "--pairs", "100", "--seconds", "10"])?;
    step("5. relays: direct, the bridge, websockify (100 clients, 10 s each)");
    let direct = bench(&["relay", "--ns", &ns, "--clients", "100", "--seconds", "10"])?;
    let ours =
        bench(&["relay", "--ws", &ws, "--pid", &bridge.pid().to_string(), "--clients", "100", "--seconds", "10"])?;
    let theirs = bench(&[
        "relay",
        "--ws",
        &wsfy_url,
        "--binary",
        "--pid",
        &wsfy.pid().to_string(),
        "--clients",
        "100",
        "--seconds",
        "10",
    ])?;
    drop(wsfy);
    step("6. attacks: floods (4 connections, 10 s each), guessing (60 s), half-sent requests (11 s)");
    let flood_blank = bench(&["flood", "--ns", &ns, "--kind", "blank", "--flooders", "4", "--seconds", "10"])?;
    let flood_png = bench(&["flood", "--ns", &ns, "--kind", "png", "--flooders", "4", "--seconds", "10"])?;
    let guess = bench(&["guess", "--ns", &ns, "--metrics", &metrics, "--seconds", "60"])?;
    // The bridge's --handshake-timeout is its default, 10 s: counted 1 s after.
    let slowloris = bench(&["slowloris", "--http", &http, "--connections", "1000", "--seconds", "11"])?;
    drop((bridge, server));
    let cluster = crate::bench_cluster::measure(&release, &accounts_file, SERVER_IDLE)?;
    let in_cluster = |scenario: &str, key: &str| num(&cluster[scenario], key);
    let cpu_ms = |part: &str| num(&cluster["sign_in_storm"]["cpu_ms_per_sign_in"], part);

    let added = |v: &Value, key: &str| num(v, key) - num(&direct, key);
    // (figure, measured, unit, target, whether higher is better)
    let figures: Vec<(&str, f64, &str, f64, bool)> = vec![
        ("sign-ins per second (200 clients)", num(&storm, "sign_ins_per_second"), "/s", 5000.0, true),
        ("sign-in p50", num(&storm, "p50_ms"), "ms", f64::NAN, false),
        ("sign-in p99", num(&storm, "p99_ms"), "ms", f64::NAN, false),
        ("server memory per idle session", num(&idle_server, "bytes_per_session"), "B", 5000.0, false),
        ("bridge memory per WebSocket session", num(&idle_bridge, "bytes_per_session"), "B", 16384.0, false),
        ("fan-out to 500 watchers, p50", num(&fanout, "p50_ms"), "ms", 20.0, false),
        ("fan-out to 500 watchers, max", num(&fanout, "max_ms"), "ms", 20.0, false),
        ("chat messages per second (100 pairs)", num(&chat, "messages_per_second"), "/s", f64::NAN, true),
        ("chat latency p99", num(&chat, "p99_ms"), "ms", f64::NAN, false),
        ("bridge added latency p50", added(&ours, "p50_rtt_ms") * 1000.0, "µs", 100.0, false),
        ("bridge added latency p99", added(&ours, "p99_rtt_ms") * 1000.0, "µs", f64::NAN, false),
        ("websockify added latency p50", added(&theirs, "p50_rtt_ms") * 1000.0, "µs", f64::NAN, false),
        ("websockify added latency p99", added(&theirs, "p99_rtt_ms") * 1000.0, "µs", f64::NAN, false),
        ("bridge messages per second (100 clients)", num(&ours, "messages_per_second"), "/s", f64::NAN, true),
        ("websockify messages per second (100 clients)", num(&theirs, "messages_per_second"), "/s", f64::NAN, true),
        ("bridge CPU seconds per 100k messages", num(&ours, "cpu_seconds_per_100k_messages"), "s", f64::NAN, false),
        (
            "websockify CPU seconds per 100k messages",
            num(&theirs, "cpu_seconds_per_100k_messages"),
            "s",
            f64::NAN,
            false,
        ),
        (
            "bridge throughput ÷ websockify's",
            num(&ours, "messages_per_second") / num(&theirs, "messages_per_second"),
            "×",
            3.0,
            true,
        ),
        // Measured after the idle scenario, so the allocator reuses memory: the idle figure is the one to trust.
        ("bridge memory per connection (relay)", num(&ours, "bytes_per_connection"), "B", f64::NAN, false),
        ("websockify memory per connection", num(&theirs, "bytes_per_connection"), "B", f64::NAN, false),
        ("VER round trip p50, 4 connections flooding blank lines", num(&flood_blank, "p50_ms"), "ms", f64::NAN, false),
        ("VER round trip p99, 4 connections flooding blank lines", num(&flood_blank, "p99_ms"), "ms", 5.0, false),
        ("VER round trip p50, 4 connections sending unread PNGs", num(&flood_png, "p50_ms"), "ms", f64::NAN, false),
        ("VER round trip p99, 4 connections sending unread PNGs", num(&flood_png, "p99_ms"), "ms", 5.0, false),
        (
            "password guesses checked per minute (one account, one address)",
            num(&guess, "checked_per_minute"),
            "/min",
            5.0,
            false,
        ),
        (
            "password guesses made per second (all answered 911)",
            num(&guess, "guesses_per_second"),
            "/s",
            f64::NAN,
            false,
        ),
        (
            "cluster: sign-ins per second through the dispatch node to 3 nodes",
            in_cluster("sign_in_storm", "sign_ins_per_second"),
            "/s",
            f64::NAN,
            true,
        ),
        (
            "cluster: sign-ins per second ÷ one plain node's",
            in_cluster("sign_in_storm", "sign_ins_per_second") / num(&storm, "sign_ins_per_second"),
            "×",
            0.5,
            true,
        ),
        (
            "one node on PostgreSQL (no bus): sign-ins per second",
            in_cluster("lone_postgres_sign_in_storm", "sign_ins_per_second"),
            "/s",
            f64::NAN,
            true,
        ),
        ("cluster: CPU per sign-in, the 3 nodes", cpu_ms("nodes"), "ms", f64::NAN, false),
        ("cluster: CPU per sign-in, the dispatch node", cpu_ms("dispatch"), "ms", f64::NAN, false),
        ("cluster: CPU per sign-in, the 3 NATS servers", cpu_ms("nats"), "ms", f64::NAN, false),
        ("cluster: CPU per sign-in, PostgreSQL", cpu_ms("postgres"), "ms", f64::NAN, false),
        (
            "cluster: CPU per sign-in, the whole machine (load generator included)",
            cpu_ms("machine"),
            "ms",
            f64::NAN,
            false,
        ),
        ("cluster: fan-out to 500 watchers on 3 nodes, p50", in_cluster("fan_out", "p50_ms"), "ms", f64::NAN, false),
        ("cluster: fan-out to 500 watchers on 3 nodes, max", in_cluster("fan_out", "max_ms"), "ms", 30.0, false),
        ("cluster: node memory per idle session", in_cluster("idle", "bytes_per_session"), "B", f64::NAN, false),
        (
            "half-sent HTTP requests open 1 s after the handshake timeout (of 1000)",
            num(&slowloris, "still_open"),
            "",
            0.0,
            false,
        ),
    ];
    let ratios = json!({
        "bridge_over_websockify_throughput": num(&ours, "messages_per_second") / num(&theirs, "messages_per_second"),
        "bridge_over_websockify_added_latency_p50": added(&ours, "p50_rtt_ms") / added(&theirs, "p50_rtt_ms"),
        "bridge_over_websockify_cpu_per_message": num(&ours, "cpu_seconds_per_100k_messages") / num(&theirs, "cpu_seconds_per_100k_messages"),
        "bridge_over_websockify_memory_per_connection": num(&ours, "bytes_per_connection") / num(&theirs, "bytes_per_connection"),
    });
    let machine = json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory": output(Command::new("sh").args(["-c", "grep MemTotal /proc/meminfo"])).unwrap_or_default().trim(),
        "date": output(Command::new("date").arg("-u").arg("+%Y-%m-%d")).unwrap_or_default().trim(),
    });
    let results = json!({
        "command": "cargo xtask bench",
        "machine": machine,
        "scenarios": { "sign_in_storm": storm, "idle_server": idle_server, "idle_bridge": idle_bridge, "fan_out": fanout,
            "chat": chat, "relay_direct": direct, "relay_bridge": ours, "relay_websockify": theirs,
            "flood_blank": flood_blank, "flood_png": flood_png, "guess": guess, "slowloris": slowloris,
            "cluster": cluster },
        "ratios": ratios,
    });
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    chart(&figures, &dir.join("results.svg"))?;

    println!("| figure | measured | target | measured / target |\n|---|---|---|---|");
    for (name, value, unit, target, _) in &figures {
        let target_text = if target.is_nan() { "—".to_owned() } else { format!("{target} {unit}") };
        let ratio = match *target {
            t if t.is_nan() => "—".to_owned(),
            // A target of zero has no ratio: it is met or not.
            0.0 if *value == 0.0 => "met".to_owned(),
            0.0 => "missed".to_owned(),
            t => format!("{:.2}", value / t),
        };
        println!("| {name} | {value:.1} {unit} | {target_text} | {ratio} |");
    }
    println!();
    for (k, v) in results["ratios"].as_object().into_iter().flatten() {
        println!("- {k}: {:.2}", v.as_f64().unwrap_or(f64::NAN));
    }
    eprintln!("\nresults: target/bench/results.json, target/bench/results.svg");
    Ok(())
}

/// A bar per figure that has a target: measured / target, with the target line at 1.
fn chart(figures: &[(&str, f64, &str, f64, bool)], path: &std::path::Path) -> Result {
    use plotters::prelude::*;
    let bars: Vec<(&str, f64, bool)> = figures
        .iter()
        .filter(|f| !f.3.is_nan() && f.3 != 0.0 && f.1.is_finite())
        .map(|f| (f.0, f.1 / f.3, f.4))
        .collect();
    let height = 60 + 40 * bars.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        root.fill(&WHITE)?;
        let max = bars.iter().map(|b| b.1).fold(2.0_f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "measured / target (higher-is-better figures: over 1 is met; lower-is-better: under 1 is met)",
                ("sans-serif", 14),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(300)
            .build_cartesian_2d(0.0..max, (0..bars.len()).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.to_owned()).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, ratio, higher))| {
            let met = if *higher { *ratio >= 1.0 } else { *ratio <= 1.0 };
            let color = if met { RGBColor(46, 155, 46) } else { RGBColor(192, 57, 43) };
            Rectangle::new([(0.0, SegmentValue::Exact(i)), (*ratio, SegmentValue::Exact(i + 1))], color.filled())
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
            BLACK.stroke_width(2),
        )))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("chart: {e}"))
}
