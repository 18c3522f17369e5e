//! A throwaway PostgreSQL cluster: `initdb` in a temporary directory, the server on a free loopback port,
//! trust authentication for the `postgres` role, durability off (it is thrown away).

use std::io;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::{command_as, free_port, postgres_bin, postgres_owner, stop};

/// A running cluster; stopped and deleted when dropped.
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> io::Result<Postgres> {
        let bin = postgres_bin()?;
        let owner = postgres_owner()?;
        let dir = tempfile::Builder::new().prefix("msnp-postgres-").tempdir()?;
        if let Some(o) = owner {
            std::os::unix::fs::chown(dir.path(), Some(o.uid), Some(o.gid))?;
        }
        let data = dir.path().join("data");
        let initdb = command_as(owner.as_ref(), &bin.join("initdb"))
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .output()?;
        if !initdb.status.success() {
            return Err(io::Error::other(format!("initdb: {}", String::from_utf8_lossy(&initdb.stderr))));
        }
        let port = free_port()?;
        let child = command_as(owner.as_ref(), &bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let postgres = Postgres { child, port, _dir: dir };
        postgres.wait_ready(&bin.join("pg_isready"))?;
        Ok(postgres)
    }

    /// Until the server takes queries (it listens a little before).
    fn wait_ready(&self, pg_isready: &std::path::Path) -> io::Result<()> {
        crate::wait_for_port(self.port, Duration::from_secs(30))?;
        for _ in 0..300 {
            let ready = std::process::Command::new(pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
                .status()?;
            if ready.success() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, "PostgreSQL did not become ready"))
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; nothing here needs to survive.
        stop(&mut self.child, "QUIT");
    }
}
