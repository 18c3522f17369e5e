//! Running commands: echo what runs, fail with a readable message.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the folder above xtask/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// A command run from the workspace root.
pub fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(root());
    c
}

/// Runs `c` with inherited output; fails unless it exits with 0.
pub fn run(c: &mut Command) -> Result {
    eprintln!("$ {}", describe(c));
    let status = c.status().map_err(|e| format!("cannot start {}: {e}", describe(c)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed ({status})", describe(c))) }
}

/// Runs `c` quietly and returns its stdout, or `None` if it cannot run or fails.
pub fn output(c: &mut Command) -> Option<String> {
    let out = c.stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for arg in c.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Prints a step heading so long runs show where they are.
pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}
