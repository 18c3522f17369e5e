//! The benchmarks' processes: children started and waited for on their ready line, `msnp-bench` runs
//! (pinned to CPUs where asked), and CPU time read from /proc.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::sh::{Result, root};

/// A child process, killed on drop.
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Takes `child` to kill on drop.
    pub fn new(child: Child) -> Proc {
        Proc { child }
    }

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

/// `msnp-bench ARGS`; its JSON.
pub fn bench(args: &[&str]) -> Result<Value> {
    bench_on(None, args)
}

/// `msnp-bench ARGS`, on the CPUs `cpus` (as `taskset -c` takes them) if given; its JSON.
pub fn bench_on(cpus: Option<&str>, args: &[&str]) -> Result<Value> {
    eprintln!("$ msnp-bench {}{}", args.join(" "), cpus.map(|c| format!(" (on CPU {c})")).unwrap_or_default());
    let out = pinned(cpus, &root().join("target/release/msnp-bench"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("msnp-bench {} failed", args.join(" ")));
    }
    let value: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    eprintln!("  {value}");
    Ok(value)
}

/// `program`, run on the CPUs `cpus` if given (`taskset` execs it: the process keeps its pid).
pub fn pinned(cpus: Option<&str>, program: &Path) -> Command {
    match cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpus]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Clock ticks per second, as Linux reports CPU times in /proc.
const TICKS: f64 = 100.0;

/// User and system CPU seconds of process `pid` (its threads included).
pub fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces), from the 3rd: utime is the 14th, stime the 15th.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS
}

/// CPU seconds all cores have spent busy (not idle, not waiting for I/O).
pub fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<f64> =
        stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let idle = cpu.get(3).copied().unwrap_or(0.0) + cpu.get(4).copied().unwrap_or(0.0);
    (cpu.iter().sum::<f64>() - idle) / TICKS
}
