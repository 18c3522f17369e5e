//! Real engines on loopback, started and torn down by the project: a PostgreSQL cluster in a temporary
//! directory (initdb as the `postgres` user when running as root, since PostgreSQL refuses root), and NATS
//! servers. Each is stopped, and its directory removed, when dropped.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod nats;
pub mod postgres;

pub use crate::nats::NatsCluster;
pub use crate::postgres::Postgres;

/// A free TCP port on 127.0.0.1 (free when asked: the engine binds it right after).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Waits until `port` on 127.0.0.1 accepts connections, or `within` has passed.
fn wait_for_port(port: u16, within: Duration) -> io::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::new(io::ErrorKind::TimedOut, format!("nothing listens on port {port} after {within:?}")))
}

/// The newest installed PostgreSQL's programs (Debian keeps them in /usr/lib/postgresql/<major>/bin).
fn postgres_bin() -> io::Result<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").exists())
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no PostgreSQL in /usr/lib/postgresql (cargo xtask setup installs it)")
    })
}

/// Runs `program` as `user` when this process is root (PostgreSQL will not run as root), else as is.
/// `setpriv` execs the program itself, so the child's pid is the program's.
fn command_as(user: Option<&Owner>, program: &Path) -> Command {
    match user {
        Some(owner) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", owner.uid))
                .arg(format!("--regid={}", owner.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// The account an engine runs as, when not this process's.
#[derive(Clone, Copy, Debug)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// The `postgres` user, when this process is root; `None` otherwise.
fn postgres_owner() -> io::Result<Option<Owner>> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self")?.uid() != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    let fields = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.first() == Some(&"postgres"));
    let parse = |i: usize| fields.as_ref().and_then(|f| f.get(i)).and_then(|v| v.parse().ok());
    match (parse(2), parse(3)) {
        (Some(uid), Some(gid)) => Ok(Some(Owner { uid, gid })),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "no postgres user (the postgresql package makes it)")),
    }
}

/// Stops a child politely (`signal`), then for good after a moment.
fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
