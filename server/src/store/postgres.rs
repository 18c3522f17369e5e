//! The PostgreSQL store, for several server nodes sharing accounts and lists. The same tables as SQLite's,
//! the same behaviour: handles compare case-insensitively, entries keep the order they were added in,
//! versions move in the database. Concurrent changes from several nodes stay exact: each version bump
//! is a row update under its row lock, taken in account-id order (so two transactions never deadlock
//! on them), and a transaction PostgreSQL aborts for a conflict is run again.

use std::time::Duration;

use msnp::List;
use msnp::ns::Entry;
use postgres::error::SqlState;
use postgres::{Client, GenericClient, NoTls, Statement, Transaction};

use super::{
    ADMIN_EVENTS_KEPT_SECONDS, Account, Admin, AdminEvent, Change, NEXT_VERSION, Result, Store, StoreError, Versions,
    event_from_row, event_row, parse,
};
use crate::secret::Secret;

/// The PostgreSQL store; passwords are kept encrypted with a key held outside the database.
pub struct PgStore {
    config: postgres::Config,
    /// The connection; `None` after PostgreSQL dropped it (a restart, a crash), until the next call opens
    /// another.
    link: Option<Link>,
    secret: Secret,
}

/// One connection and what is prepared on it.
struct Link {
    db: Client,
    /// [`LOAD`], prepared once for this connection.
    load: Statement,
}

/// How long opening a connection may take before the call fails (`500`): a database that is down answers
/// at once; one that is unreachable must not hold up the store's work for longer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An account, its password and its lists in one statement (one snapshot, one round trip): a row per
/// entry, in the order they were added, or one row with no entry.
const LOAD: &str = "SELECT a.password, a.handle, a.name, a.version, a.gtc, a.blp, e.list, e.handle, e.name, \
    g.account IS NOT NULL FROM accounts a LEFT JOIN entries e ON e.account = a.id \
    LEFT JOIN guests g ON g.account = a.id WHERE lower(a.handle) = lower($1) ORDER BY e.id";

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    id BIGSERIAL PRIMARY KEY,
    handle TEXT NOT NULL,
    password BYTEA NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    gtc TEXT NOT NULL DEFAULT 'A',
    blp TEXT NOT NULL DEFAULT 'AL'
);
CREATE UNIQUE INDEX IF NOT EXISTS accounts_by_handle ON accounts (lower(handle));
CREATE TABLE IF NOT EXISTS entries (
    id BIGSERIAL PRIMARY KEY,
    account BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    list TEXT NOT NULL,
    handle TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_unique ON entries (account, list, lower(handle));
CREATE INDEX IF NOT EXISTS entries_by_handle ON entries (lower(handle));
CREATE TABLE IF NOT EXISTS admin_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint,
    handle TEXT NOT NULL,
    kind TEXT NOT NULL,
    contact TEXT,
    version BIGINT
);
CREATE INDEX IF NOT EXISTS admin_events_by_time ON admin_events (at);
CREATE TABLE IF NOT EXISTS guests (
    account BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    expires BIGINT NOT NULL
);
";

/// Serialises schema creation between nodes starting at once (`CREATE … IF NOT EXISTS` races otherwise).
const SCHEMA_LOCK: i64 = 0x6d73_6e70;

/// Times a transaction PostgreSQL aborted for a conflict (deadlock, serialization) is tried.
const ATTEMPTS: usize = 5;

fn version(v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt { column: "version", value: v.to_string() })
}

impl Link {
    /// Connects, asks that every commit be durable before it is answered (whatever the server's default), and
    /// creates the schema if it is not there.
    fn open(config: &postgres::Config) -> Result<Link> {
        let mut db = config.connect(NoTls)?;
        db.batch_execute("SET synchronous_commit = on")?;
        // Only when missing: even `CREATE INDEX IF NOT EXISTS` locks its table, which would stall (or
        // deadlock with) the other nodes' work.
        let exists = |db: &mut Client| -> Result<bool> {
            Ok(db.query_one("SELECT to_regclass('guests') IS NOT NULL", &[])?.get(0))
        };
        if !exists(&mut db)? {
            let mut tx = db.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()?;
        }
        let load = db.prepare(LOAD)?;
        Ok(Link { db, load })
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the schema if it is not there.
    pub fn connect(url: &str, secret: Secret) -> Result<PgStore> {
        let mut config: postgres::Config = url.parse()?;
        config.connect_timeout(CONNECT_TIMEOUT).keepalives(true).keepalives_idle(Duration::from_secs(30));
        let link = Some(Link::open(&config)?);
        Ok(PgStore { config, link, secret })
    }

    /// The connection, opened again if PostgreSQL dropped the last one.
    fn link(&mut self) -> Result<&mut Link> {
        if self.link.as_ref().is_some_and(|l| l.db.is_closed()) {
            self.link = None;
        }
        match &mut self.link {
            Some(link) => Ok(link),
            none => Ok(none.insert(Link::open(&self.config)?)),
        }
    }

    /// Runs `work`, which only reads, on the connection; if the connection turns out to be gone, once more
    /// on a new one.
    fn read<T>(&mut self, work: impl Fn(&mut Link) -> std::result::Result<T, postgres::Error>) -> Result<T> {
        match work(self.link()?) {
            Err(e) if broken_pg(&e) => {
                self.link = None;
                Ok(work(self.link()?)?)
            }
            other => Ok(other?),
        }
    }

    /// The sealed password and the account of `handle`, from one statement.
    fn load(&mut self, handle: &str) -> Result<Option<(Vec<u8>, Account)>> {
        // A read: safe to run again on a new connection.
        let rows = self.read(|link| link.db.query(&link.load, &[&handle]))?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut account = Account {
            handle: first.get(1),
            name: first.get(2),
            version: version(first.get(3))?,
            gtc: parse("gtc", first.get(4))?,
            blp: parse("blp", first.get(5))?,
            lists: Default::default(),
            guest: first.get(9),
        };
        for row in &rows {
            if let Some(list) = row.get::<_, Option<String>>(6) {
                account.list_mut(parse("list", list)?).push(Entry { handle: row.get(7), name: row.get(8) });
            }
        }
        Ok(Some((first.get(0), account)))
    }

    /// Runs `work` in a transaction, again if PostgreSQL aborts it for a conflict with another one, or if
    /// the connection was found gone before the transaction began.
    fn retrying<T>(&mut self, mut work: impl FnMut(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut gone = false;
            let result = match self.link()?.db.transaction() {
                Ok(mut tx) => work(&mut tx).and_then(|value| Ok((value, tx.commit()?))),
                Err(e) => {
                    gone = broken_pg(&e);
                    Err(e.into())
                }
            };
            if gone && attempt < ATTEMPTS {
                // Nothing was begun: the same work on a new connection.
                self.link = None;
                continue;
            }
            match result {
                Ok((value, ())) => return Ok(value),
                Err(StoreError::Pg(e)) if attempt < ATTEMPTS && conflict(&e) => continue,
                Err(e) => {
                    if broken(&e) {
                        self.link = None;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Whether `e` says the connection is gone (PostgreSQL restarted, crashed or shut down; the socket broke),
/// so the next call needs a new one.
fn broken(e: &StoreError) -> bool {
    matches!(e, StoreError::Pg(e) if broken_pg(e))
}

fn broken_pg(e: &postgres::Error) -> bool {
    let gone = [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW];
    e.is_closed()
        || e.code().is_some_and(|c| gone.contains(c))
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// Whether another transaction's conflict aborted this one (it may simply be run again).
fn conflict(e: &postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::UNIQUE_VIOLATION)
}

fn id(db: &mut impl GenericClient, handle: &str) -> Result<i64> {
    db.query_opt("SELECT id FROM accounts WHERE lower(handle) = lower($1)", &[&handle])?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::NoAccount(handle.to_owned()))
}

/// Creates or replaces `account` in `tx`; its id.
fn write_account(tx: &mut Transaction<'_>, account: &Account, sealed: &[u8]) -> Result<i64> {
    let existed: bool = tx
        .query_one("SELECT EXISTS (SELECT 1 FROM accounts WHERE lower(handle) = lower($1))", &[&account.handle])?
        .get(0);
    let row = tx.query_one(
        &format!(
            "INSERT INTO accounts (handle, password, name, version, gtc, blp) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT ((lower(handle))) DO UPDATE SET handle = excluded.handle, password = excluded.password,
               name = excluded.name, gtc = excluded.gtc, blp = excluded.blp,
               version = greatest(excluded.version, {})
             RETURNING id",
            NEXT_VERSION.replace("version", "accounts.version")
        ),
        &[
            &account.handle,
            &sealed,
            &account.name,
            &i64::from(account.version),
            &account.gtc.as_str(),
            &account.blp.as_str(),
        ],
    )?;
    let id: i64 = row.get(0);
    tx.execute("DELETE FROM entries WHERE account = $1", &[&id])?;
    for list in List::ALL {
        for entry in account.list(*list) {
            tx.execute(
                "INSERT INTO entries (account, list, handle, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&id, &list.as_str(), &entry.handle, &entry.name],
            )?;
        }
    }
    // A replaced account's session ends, so it signs in again with what changed; a new one has none (and
    // a person signing in to it at once must not be signed out when the server reads this event).
    if existed {
        record(tx, &AdminEvent::SessionInvalid { handle: account.handle.clone() })?;
    }
    Ok(id)
}

/// Records an administrators' event in the transaction that made the change. The table is locked for
/// it, so events commit in the order of their ids and a server reading "after id N" misses none.
fn record(tx: &mut Transaction<'_>, event: &AdminEvent) -> Result<()> {
    let (handle, kind, contact, version) = event_row(event);
    tx.execute("LOCK TABLE admin_events IN EXCLUSIVE MODE", &[])?;
    tx.execute(
        "INSERT INTO admin_events (handle, kind, contact, version) VALUES ($1, $2, $3, $4)",
        &[&handle, &kind, &contact, &version.map(i64::from)],
    )?;
    tx.execute(
        "DELETE FROM admin_events WHERE at < extract(epoch FROM now())::bigint - $1",
        &[&ADMIN_EVENTS_KEPT_SECONDS],
    )?;
    Ok(())
}

/// Applies one change: the id of the account it belongs to, and how many rows it changed.
fn apply_one(tx: &mut Transaction<'_>, change: &Change) -> Result<(i64, u64)> {
    Ok(match change {
        Change::AddEntry { account, list, entry } => {
            let id = id(tx, account)?;
            // As SQLite's INSERT OR REPLACE: a re-added entry moves to the end, with its new name.
            tx.execute(
                "DELETE FROM entries WHERE account = $1 AND list = $2 AND lower(handle) = lower($3)",
                &[&id, &list.as_str(), &entry.handle],
            )?;
            let n = tx.execute(
                "INSERT INTO entries (account, list, handle, name) VALUES ($1, $2, $3, $4)",
                &[&id, &list.as_str(), &entry.handle, &entry.name],
            )?;
            (id, n)
        }
        Change::RemoveEntry { account, list, handle } => match id(tx, account) {
            // A contact whose account is gone (or never existed) has no RL to leave.
            Err(StoreError::NoAccount(_)) => (0, 0),
            Err(e) => return Err(e),
            Ok(id) => {
                let n = tx.execute(
                    "DELETE FROM entries WHERE account = $1 AND list = $2 AND lower(handle) = lower($3)",
                    &[&id, &list.as_str(), handle],
                )?;
                (id, n)
            }
        },
        Change::RenameEntry { account, handle, name } => {
            let id = id(tx, account)?;
            let n = tx.execute(
                "UPDATE entries SET name = $1 WHERE account = $2 AND lower(handle) = lower($3)",
                &[name, &id, handle],
            )?;
            (id, n)
        }
        Change::SetName { account, name } => {
            let id = id(tx, account)?;
            (id, tx.execute("UPDATE accounts SET name = $1 WHERE id = $2", &[name, &id])?)
        }
        Change::SetGtc { account, gtc } => {
            let id = id(tx, account)?;
            (id, tx.execute("UPDATE accounts SET gtc = $1 WHERE id = $2", &[&gtc.as_str(), &id])?)
        }
        Change::SetBlp { account, blp } => {
            let id = id(tx, account)?;
            (id, tx.execute("UPDATE accounts SET blp = $1 WHERE id = $2", &[&blp.as_str(), &id])?)
        }
    })
}

impl Store for PgStore {
    fn sign_in(&mut self, handle: &str, challenge: &str, response: &str) -> Result<Option<Account>> {
        // One statement: the password and the account come from the same moment.
        let Some((sealed, account)) = self.load(handle)? else { return Ok(None) };
        let password = self.secret.open(&sealed)?;
        let password = String::from_utf8(password)
            .map_err(|_| StoreError::Corrupt { column: "password", value: String::new() })?;
        Ok(msnp::auth::verify_md5_response(challenge, &password, response).then_some(account))
    }

    fn account(&mut self, handle: &str) -> Result<Option<Account>> {
        Ok(self.load(handle)?.map(|(_, account)| account))
    }

    fn apply(&mut self, changes: &[Change]) -> Result<Versions> {
        self.retrying(|tx| {
            let mut changed: Vec<i64> = Vec::new();
            for change in changes {
                let (account, n) = apply_one(tx, change)?;
                if n > 0 && !changed.contains(&account) {
                    changed.push(account);
                }
            }
            // Row locks in one order for every transaction: no deadlock between two nodes' changes.
            changed.sort_unstable();
            let mut versions = Versions::default();
            for id in changed {
                let row = tx.query_one(
                    &format!("UPDATE accounts SET version = {NEXT_VERSION} WHERE id = $1 RETURNING handle, version"),
                    &[&id],
                )?;
                versions.0.push((row.get(0), version(row.get(1))?));
            }
            Ok(versions)
        })
    }

    fn admin_events(&mut self, after: i64) -> Result<(i64, Vec<AdminEvent>)> {
        let rows = self.read(|link| {
            link.db.query(
                "SELECT id, handle, kind, contact, version FROM admin_events WHERE id > $1 ORDER BY id",
                &[&after],
            )
        })?;
        let mut last = after;
        let mut events = Vec::new();
        for row in rows {
            last = row.get(0);
            let version = row.get::<_, Option<i64>>(4).map(version).transpose()?;
            events.push(event_from_row(row.get(1), row.get(2), row.get(3), version)?);
        }
        Ok((last, events))
    }
}

impl Admin for PgStore {
    fn put_account(&mut self, account: &Account, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        self.retrying(|tx| write_account(tx, account, &sealed).map(drop))
    }

    fn put_guest(&mut self, account: &Account, password: &str, expires: i64) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        self.retrying(|tx| {
            let id = write_account(tx, account, &sealed)?;
            tx.execute(
                "INSERT INTO guests (account, expires) VALUES ($1, $2)
                 ON CONFLICT (account) DO UPDATE SET expires = excluded.expires",
                &[&id, &expires],
            )?;
            Ok(())
        })
    }

    fn guest_count(&mut self) -> Result<usize> {
        let n: i64 = self.read(|link| link.db.query_one("SELECT count(*) FROM guests", &[]))?.get(0);
        Ok(usize::try_from(n).unwrap_or_default())
    }

    fn expired_guests(&mut self, now: i64) -> Result<Vec<String>> {
        let rows = self.read(|link| {
            link.db.query(
                "SELECT a.handle FROM guests g JOIN accounts a ON a.id = g.account WHERE g.expires <= $1 \
                 ORDER BY g.expires",
                &[&now],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn set_password(&mut self, handle: &str, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        self.retrying(|tx| {
            let n =
                tx.execute("UPDATE accounts SET password = $1 WHERE lower(handle) = lower($2)", &[&sealed, &handle])?;
            if n == 0 {
                return Err(StoreError::NoAccount(handle.to_owned()));
            }
            record(tx, &AdminEvent::SessionInvalid { handle: handle.to_owned() })
        })
    }

    fn remove_account(&mut self, handle: &str) -> Result<()> {
        self.retrying(|tx| {
            let removed = id(tx, handle)?;
            // Every other account that lists it, and whether it is on more than their RL.
            let holders = tx.query(
                "SELECT a.id, a.handle, bool_or(e.list <> 'RL') FROM entries e JOIN accounts a ON a.id = e.account
                 WHERE lower(e.handle) = lower($1) AND a.id <> $2 GROUP BY a.id, a.handle ORDER BY a.id",
                &[&handle, &removed],
            )?;
            for row in holders {
                let (id, holder, own_lists): (i64, String, bool) = (row.get(0), row.get(1), row.get(2));
                tx.execute("DELETE FROM entries WHERE account = $1 AND lower(handle) = lower($2)", &[&id, &handle])?;
                let bumped = tx.query_one(
                    &format!("UPDATE accounts SET version = {NEXT_VERSION} WHERE id = $1 RETURNING version"),
                    &[&id],
                )?;
                let event = if own_lists {
                    AdminEvent::SessionInvalid { handle: holder }
                } else {
                    AdminEvent::ReverseRemoved {
                        handle: holder,
                        contact: handle.to_owned(),
                        version: version(bumped.get(0))?,
                    }
                };
                record(tx, &event)?;
            }
            tx.execute("DELETE FROM accounts WHERE id = $1", &[&removed])?;
            record(tx, &AdminEvent::SessionInvalid { handle: handle.to_owned() })
        })
    }

    fn list_accounts(&mut self) -> Result<Vec<(String, String)>> {
        let rows = self.read(|link| link.db.query("SELECT handle, name FROM accounts ORDER BY id", &[]))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn exists(&mut self, handle: &str) -> Result<bool> {
        let found =
            self.read(|link| link.db.query_opt("SELECT 1 FROM accounts WHERE lower(handle) = lower($1)", &[&handle]))?;
        Ok(found.is_some())
    }

    fn last_admin_event(&mut self) -> Result<i64> {
        Ok(self.read(|link| link.db.query_one("SELECT coalesce(max(id), 0) FROM admin_events", &[]))?.get(0))
    }
}
