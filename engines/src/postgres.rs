//! A throwaway PostgreSQL cluster: `initdb` in a temporary directory, the server on a free loopback port,
//! trust authentication for the `postgres` role. `fsync` is off (a crash of the machine may lose it all; a
//! crash of PostgreSQL loses nothing committed), and so is `synchronous_commit` by default: the project's
//! store asks for it on its own connections, so a change it confirmed survives a `kill -9` even here.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{Owner, command_as, free_port, postgres_bin, postgres_owner, stop};

/// A running cluster; stopped and deleted when dropped.
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    port: u16,
    bin: PathBuf,
    owner: Option<Owner>,
    dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> io::Result<Postgres> {
        let bin = postgres_bin()?;
        let owner = postgres_owner()?;
        let dir = tempfile::Builder::new().prefix("msnp-postgres-").tempdir()?;
        if let Some(o) = owner {
            std::os::unix::fs::chown(dir.path(), Some(o.uid), Some(o.gid))?;
        }
        let initdb = command_as(owner.as_ref(), &bin.join("initdb"))
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .output()?;
        if !initdb.status.success() {
            return Err(io::Error::other(format!("initdb: {}", String::from_utf8_lossy(&initdb.stderr))));
        }
        let port = free_port()?;
        let child = spawn(&bin, owner.as_ref(), dir.path(), port)?;
        let postgres = Postgres { child, port, bin, owner, dir };
        postgres.wait_ready()?;
        Ok(postgres)
    }

    /// `kill -9` of the postmaster, as a crash does: its backends end as soon as they notice.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data and port (after [`Postgres::kill`]: crash recovery), once
    /// the killed one's backends are gone.
    pub fn restart(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.child = spawn(&self.bin, self.owner.as_ref(), self.dir.path(), self.port)?;
            std::thread::sleep(Duration::from_millis(300));
            match self.child.try_wait()? {
                // Exited at once: the old backends still hold the shared memory or the port.
                Some(_) if Instant::now() < deadline => continue,
                Some(status) => return Err(io::Error::other(format!("PostgreSQL did not start again: {status}"))),
                None => return self.wait_ready(),
            }
        }
    }

    /// Until the server takes queries (it listens a little before).
    fn wait_ready(&self) -> io::Result<()> {
        let pg_isready = self.bin.join("pg_isready");
        crate::wait_for_port(self.port, Duration::from_secs(30))?;
        for _ in 0..300 {
            let ready = std::process::Command::new(&pg_isready)
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

/// The postmaster on `dir`'s data at `port`.
fn spawn(bin: &Path, owner: Option<&Owner>, dir: &Path, port: u16) -> io::Result<Child> {
    command_as(owner, &bin.join("postgres"))
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}
