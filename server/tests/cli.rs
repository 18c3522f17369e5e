//! The `msnp-server` binary: the ready line, account administration, durability across restarts and
//! `kill -9`, and that the database file alone reveals no password.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::Client;

const BIN: &str = env!("CARGO_BIN_EXE_msnp-server");

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `msnp-server serve`, killed when dropped (a failing test leaves no server behind).
struct Served(Child);

impl std::ops::Deref for Served {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `msnp-server serve` on free ports and reads its ready line.
fn serve(db: &Path, extra: &[&str]) -> (Served, SocketAddr, SocketAddr) {
    serve_logging(db, extra, Stdio::null())
}

/// Starts `msnp-server serve` with its log going to `log`.
fn serve_logging(db: &Path, extra: &[&str], log: impl Into<Stdio>) -> (Served, SocketAddr, SocketAddr) {
    serve_from(&["--db", db.to_str().unwrap()], extra, log)
}

/// Starts `msnp-server serve` on the store `store` (its flags) and reads its ready line.
fn serve_from(store: &[&str], extra: &[&str], log: impl Into<Stdio>) -> (Served, SocketAddr, SocketAddr) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(store)
        .args(["--listen", "127.0.0.1:0", "--sb-listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let rest = line.trim_end().strip_prefix("ready ns=").unwrap_or_else(|| panic!("bad ready line {line:?}"));
    let (ns, sb) = rest.split_once(" sb=").unwrap();
    (Served(child), ns.parse().unwrap(), sb.parse().unwrap())
}

#[test]
fn user_administration() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let db = db.to_str().unwrap();
    assert!(cli(&["user", "add", "--db", db, "jd@hotmail.com", "--password", "hunter2", "--name", "J%20D"]).0);
    let (ok, _, err) = cli(&["user", "add", "--db", db, "JD@hotmail.com", "--password", "x"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(&["user", "add", "--db", db, "not-an-address", "--password", "x"]);
    assert!(!ok && err.contains("not a valid e-mail address"), "{err}");
    assert!(cli(&["user", "add", "--db", db, "erin@hotmail.com", "--password", "erinpw"]).0);
    let (ok, out, _) = cli(&["user", "list", "--db", db]);
    assert!(ok);
    assert_eq!(out, "jd@hotmail.com\tJ D\nerin@hotmail.com\terin@hotmail.com\n");
    assert!(cli(&["user", "passwd", "--db", db, "erin@hotmail.com", "--password", "new"]).0);
    assert!(cli(&["user", "remove", "--db", db, "erin@hotmail.com"]).0);
    let (ok, _, err) = cli(&["user", "remove", "--db", db, "erin@hotmail.com"]);
    assert!(!ok && err.contains("no account"), "{err}");
    assert_eq!(cli(&["user", "list", "--db", db]).1, "jd@hotmail.com\tJ D\n");

    // The key lives beside the database, private; the database holds no password in clear.
    let key = format!("{db}.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let bytes = std::fs::read(db).unwrap();
    assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
}

#[test]
fn import_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, common::ACCOUNTS).unwrap();
    let (ok, out, err) = cli(&["import", "--db", db.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out, "imported 4 accounts\n");
    std::fs::write(&file, "[[account]]\nemail = \"bad\"\npassword = \"x\"\n").unwrap();
    let (ok, _, err) = cli(&["import", "--db", db.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(!ok && err.contains("account bad: not a valid e-mail address"), "{err}");
}

#[tokio::test]
async fn nothing_is_lost_on_kill_9_or_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, common::ACCOUNTS).unwrap();
    assert!(cli(&["import", "--db", db.to_str().unwrap(), file.to_str().unwrap()]).0);

    let (mut child, ns, _) = serve(&db, &[]);
    let mut jd = Client::online(ns, "jd@hotmail.com", "hunter2", "JD", 0).await;
    jd.ask("ADD 7 FL erin@hotmail.com Erin", "ADD 7 FL 1 erin@hotmail.com Erin").await;
    jd.ask("REA 8 jd@hotmail.com Jay", "REA 8 2 jd@hotmail.com Jay").await;
    jd.ask("BLP 9 BL", "BLP 9 3 BL").await;
    // Killed right after the reply: no chance to flush anything.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, ns, _) = serve(&db, &[]);
    let mut jd = Client::sign_in(ns, "jd@hotmail.com", "hunter2", "Jay").await;
    jd.send("SYN 5 0").await;
    jd.expect_all(&[
        "SYN 5 3",
        "GTC 5 3 A",
        "BLP 5 3 BL",
        "LST 5 FL 3 1 1 erin@hotmail.com Erin",
        "LST 5 AL 3 0 0",
        "LST 5 BL 3 0 0",
        "LST 5 RL 3 0 0",
    ])
    .await;
    let mut erin = Client::sign_in(ns, "erin@hotmail.com", "erinpw", "Erin").await;
    erin.send("SYN 5 0").await;
    erin.expect_all(&[
        "SYN 5 1",
        "GTC 5 1 A",
        "BLP 5 1 AL",
        "LST 5 FL 1 0 0",
        "LST 5 AL 1 0 0",
        "LST 5 BL 1 0 0",
        "LST 5 RL 1 1 1 jd@hotmail.com JD",
    ])
    .await;

    // SIGTERM: a graceful OUT SSD.
    #[cfg(unix)]
    {
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        jd.expect("OUT SSD").await;
        jd.expect_closed().await;
        assert!(child.wait().unwrap().success());
    }
    #[cfg(not(unix))]
    child.kill().unwrap();
}

#[tokio::test]
async fn in_process_restart_keeps_lists_and_names() {
    let mut server = common::TestServer::start().await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.ask("REA 7 bob@hotmail.com Bobby%20B", "REA 7 5 bob@hotmail.com Bobby%20B").await;
    bob.ask("ADD 8 FL jd@hotmail.com JD", "ADD 8 FL 6 jd@hotmail.com JD").await;
    server.restart().await;
    bob.expect("OUT SSD").await;
    let mut bob = Client::sign_in(server.ns(), "bob@hotmail.com", "bobpw", "Bobby%20B").await;
    bob.ask("SYN 5 6", "SYN 5 6").await;
    bob.send("LST 6 FL").await;
    bob.expect_all(&["LST 6 FL 6 1 2 alice@hotmail.com Alice", "LST 6 FL 6 2 2 jd@hotmail.com JD"]).await;
}

#[tokio::test]
async fn administrators_changes_reach_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let dbs = db.to_str().unwrap();
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, common::ACCOUNTS).unwrap();
    assert!(cli(&["import", "--db", dbs, file.to_str().unwrap()]).0);
    let (mut child, ns, _) = serve(&db, &[]);

    // jd has erin on his FL, so erin has jd on her RL only.
    let mut erin = Client::online(ns, "erin@hotmail.com", "erinpw", "Erin", 0).await;
    let mut jd = Client::online(ns, "jd@hotmail.com", "hunter2", "JD", 0).await;
    jd.send("ADD 7 FL erin@hotmail.com Erin").await;
    jd.expect_all(&["ADD 7 FL 1 erin@hotmail.com Erin", "ILN 7 NLN erin@hotmail.com Erin"]).await;
    erin.expect("ADD 0 RL 1 jd@hotmail.com JD").await;
    let mut alice = Client::online(ns, "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(ns, "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    // Removing jd ends his session; erin's RL loses him, with its version moved on.
    assert!(cli(&["user", "remove", "--db", dbs, "jd@hotmail.com"]).0);
    jd.expect_closed().await;
    erin.expect("REM 0 RL 2 jd@hotmail.com").await;
    erin.ask("SYN 8 2", "SYN 8 2").await;

    // A new password ends alice's session; only the new one works.
    assert!(cli(&["user", "passwd", "--db", dbs, "alice@hotmail.com", "--password", "new"]).0);
    alice.expect_closed().await;
    bob.expect("FLN alice@hotmail.com").await;
    assert!(!Client::try_sign_in(ns, "127.0.0.2", "alice@hotmail.com", "alicepw").await);
    let mut alice = Client::online(ns, "alice@hotmail.com", "new", "Alice", 4).await;
    alice.expect("ILN 6 NLN bob@hotmail.com Bob").await;
    bob.expect("NLN NLN alice@hotmail.com Alice").await;

    // Removing bob, on alice's FL: her lists changed under her session, so it ends; her next SYN resyncs.
    assert!(cli(&["user", "remove", "--db", dbs, "bob@hotmail.com"]).0);
    alice.expect_closed().await;
    bob.expect("FLN alice@hotmail.com").await;
    bob.expect_closed().await;
    let mut alice = Client::sign_in(ns, "alice@hotmail.com", "new", "Alice").await;
    alice.send("SYN 5 4").await;
    alice.expect_all(&["SYN 5 5", "GTC 5 5 A", "BLP 5 5 AL", "LST 5 FL 5 0 0", "LST 5 AL 5 0 0"]).await;

    // Importing erin again replaces her: her session ends, and her version moves past the old one.
    std::fs::write(&file, "[[account]]\nemail = \"erin@hotmail.com\"\npassword = \"erin2\"\nname = \"E\"\n").unwrap();
    assert!(cli(&["import", "--db", dbs, file.to_str().unwrap()]).0);
    erin.expect_closed().await;
    let mut erin = Client::sign_in(ns, "erin@hotmail.com", "erin2", "E").await;
    erin.ask("SYN 5 3", "SYN 5 3").await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn failed_sign_ins_are_logged_with_handle_and_address_but_never_the_response() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, common::ACCOUNTS).unwrap();
    assert!(cli(&["import", "--db", db.to_str().unwrap(), file.to_str().unwrap()]).0);
    let log_path = dir.path().join("log");
    let (mut child, ns, _) = serve_logging(&db, &[], std::fs::File::create(&log_path).unwrap());
    let mut c = Client::connect_from(ns, "127.0.0.2").await;
    c.send("VER 1 MSNP2").await;
    c.expect("VER 1 MSNP2").await;
    c.send("USR 2 MD5 I alice@hotmail.com").await;
    let challenge = c.expect_prefix("USR 2 MD5 S ").await;
    let response = msnp::auth::md5_response(&challenge, "wrong");
    c.send(&format!("USR 3 MD5 S {response}")).await;
    c.expect("911 3").await;
    c.expect_closed().await;
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line = log.lines().find(|l| l.contains("sign-in failed")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("alice@hotmail.com") && line.contains("127.0.0.2"), "{line}");
    assert!(!log.contains(&response) && !log.contains(&challenge), "{log}");
}

#[tokio::test]
async fn nodes_on_one_postgres_database_share_accounts_lists_and_administration() {
    let pg = engines::Postgres::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (url, key) = (pg.url(), dir.path().join("msnp.key"));
    let store = ["--store", url.as_str(), "--key-file", key.to_str().unwrap()];
    let file = dir.path().join("accounts.toml");
    std::fs::write(&file, common::ACCOUNTS).unwrap();
    let (ok, out, err) = cli(&[&["import"][..], &store, &[file.to_str().unwrap()]].concat());
    assert!(ok && out == "imported 4 accounts\n", "{err}");
    let (ok, _, err) = cli(&["serve", "--store", &url]);
    assert!(!ok && err.contains("--key-file"), "{err}");

    let (_one, ns1, _) = serve_from(&store, &[], Stdio::null());
    let (_two, ns2, _) = serve_from(&store, &[], Stdio::null());
    // A change made through one node is what the other serves.
    let mut jd = Client::online(ns1, "jd@hotmail.com", "hunter2", "JD", 0).await;
    jd.send("ADD 7 FL erin@hotmail.com Erin").await;
    jd.expect("ADD 7 FL 1 erin@hotmail.com Erin").await;
    let mut erin = Client::sign_in(ns2, "erin@hotmail.com", "erinpw", "Erin").await;
    erin.send("SYN 5 0").await;
    erin.expect_all(&["SYN 5 1", "GTC 5 1 A", "BLP 5 1 AL", "LST 5 FL 1 0 0", "LST 5 AL 1 0 0"]).await;
    erin.expect_all(&["LST 5 BL 1 0 0", "LST 5 RL 1 1 1 jd@hotmail.com JD"]).await;

    // An administrator's change reaches the node holding the session.
    assert!(cli(&[&["user", "passwd"][..], &store, &["erin@hotmail.com", "--password", "new"]].concat()).0);
    erin.expect_closed().await;
    assert!(Client::try_sign_in(ns1, "127.0.0.3", "erin@hotmail.com", "new").await);
    let (ok, out, _) = cli(&[&["user", "list"][..], &store].concat());
    assert!(ok && out.lines().count() == 4, "{out}");
}
