//! The SQLite store (WAL): the default, one file beside the server.

use std::path::Path;
use std::time::Duration;

use msnp::List;
use msnp::ns::Entry;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    ADMIN_EVENTS_KEPT_SECONDS, Account, Admin, AdminEvent, Change, NEXT_VERSION, Result, Store, StoreError, Versions,
    event_from_row, event_row, parse,
};
use crate::secret::Secret;

/// The SQLite store. Passwords are kept encrypted with a key held outside the database.
pub struct SqliteStore {
    db: Connection,
    secret: Secret,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password BLOB NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    gtc TEXT NOT NULL DEFAULT 'A',
    blp TEXT NOT NULL DEFAULT 'AL'
);
CREATE TABLE IF NOT EXISTS entries (
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    list TEXT NOT NULL,
    handle TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL,
    UNIQUE (account, list, handle)
);
CREATE INDEX IF NOT EXISTS entries_by_handle ON entries (handle);
CREATE TABLE IF NOT EXISTS admin_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL DEFAULT (unixepoch()),
    handle TEXT NOT NULL,
    kind TEXT NOT NULL,
    contact TEXT,
    version INTEGER
);
CREATE INDEX IF NOT EXISTS admin_events_by_time ON admin_events (at);
CREATE TABLE IF NOT EXISTS guests (
    account INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    expires INTEGER NOT NULL
);
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode; a write waits up to `busy` for
    /// another process's lock before it fails.
    pub fn open(path: &Path, secret: Secret, busy: Duration) -> Result<SqliteStore> {
        let db = Connection::open(path)?;
        Self::init(db, secret, busy)
    }

    /// A private in-memory database, for tests.
    pub fn memory(secret: Secret) -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, secret, Duration::from_secs(5))
    }

    fn init(db: Connection, secret: Secret, busy: Duration) -> Result<SqliteStore> {
        // WAL with synchronous=NORMAL: a committed transaction survives the process being killed, and
        // readers are never blocked by a writer.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(busy)?;
        db.execute_batch(SCHEMA)?;
        Ok(SqliteStore { db, secret })
    }

    fn id(&self, handle: &str) -> Result<i64> {
        self.db
            .query_row("SELECT id FROM accounts WHERE handle = ?1", [handle], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoAccount(handle.to_owned()))
    }
}

impl Admin for SqliteStore {
    /// Creates the account, or replaces everything about it (password, name, settings, lists). A
    /// replaced account's version moves past its old one, so clients with cached lists resync; its
    /// session on a running server ends.
    fn put_account(&mut self, account: &Account, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_account(&tx, account, &sealed)?;
        tx.commit()?;
        Ok(())
    }

    /// Creates a temporary account, which [`SqliteStore::expired_guests`] lists from `expires` (Unix
    /// seconds) on.
    fn put_guest(&mut self, account: &Account, password: &str, expires: i64) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = write_account(&tx, account, &sealed)?;
        tx.execute("INSERT OR REPLACE INTO guests (account, expires) VALUES (?1, ?2)", params![id, expires])?;
        tx.commit()?;
        Ok(())
    }

    /// Temporary accounts there are now.
    fn guest_count(&mut self) -> Result<usize> {
        Ok(self.db.query_row("SELECT count(*) FROM guests", [], |r| r.get(0))?)
    }

    /// Temporary accounts whose time is up at `now` (Unix seconds).
    fn expired_guests(&mut self, now: i64) -> Result<Vec<String>> {
        let mut stmt = self.db.prepare(
            "SELECT a.handle FROM guests g JOIN accounts a ON a.id = g.account WHERE g.expires <= ?1
             ORDER BY g.expires",
        )?;
        let rows = stmt.query_map([now], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Changes the password; the account's session on a running server ends.
    fn set_password(&mut self, handle: &str, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("UPDATE accounts SET password = ?1 WHERE handle = ?2", params![sealed, handle])?;
        if n == 0 {
            return Err(StoreError::NoAccount(handle.to_owned()));
        }
        record(&tx, &AdminEvent::SessionInvalid { handle: handle.to_owned() })?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the account; it also leaves everyone else's lists, and each of those accounts' version
    /// moves by one so their clients resync.
    fn remove_account(&mut self, handle: &str) -> Result<()> {
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed: i64 = tx
            .query_row("SELECT id FROM accounts WHERE handle = ?1", [handle], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoAccount(handle.to_owned()))?;
        // Every other account that lists it, and whether it is on more than their RL.
        let holders: Vec<(i64, String, bool)> = {
            let mut stmt = tx.prepare(
                "SELECT a.id, a.handle, max(e.list <> 'RL') FROM entries e JOIN accounts a ON a.id = e.account
                 WHERE e.handle = ?1 AND a.id <> ?2 GROUP BY a.id ORDER BY a.id",
            )?;
            let rows = stmt.query_map(params![handle, removed], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (id, holder, own_lists) in holders {
            tx.execute("DELETE FROM entries WHERE account = ?1 AND handle = ?2", params![id, handle])?;
            let version: u32 = tx.query_row(
                &format!("UPDATE accounts SET version = {NEXT_VERSION} WHERE id = ?1 RETURNING version"),
                [id],
                |r| r.get(0),
            )?;
            let event = if own_lists {
                AdminEvent::SessionInvalid { handle: holder }
            } else {
                AdminEvent::ReverseRemoved { handle: holder, contact: handle.to_owned(), version }
            };
            record(&tx, &event)?;
        }
        tx.execute("DELETE FROM accounts WHERE id = ?1", [removed])?;
        record(&tx, &AdminEvent::SessionInvalid { handle: handle.to_owned() })?;
        tx.commit()?;
        Ok(())
    }

    /// Every account's handle and friendly name, in creation order.
    fn list_accounts(&mut self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.db.prepare("SELECT handle, name FROM accounts ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether an account exists (for administration).
    fn exists(&mut self, handle: &str) -> Result<bool> {
        match self.id(handle) {
            Ok(_) => Ok(true),
            Err(StoreError::NoAccount(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The id of the newest administrators' event: a starting server applies only later ones.
    fn last_admin_event(&mut self) -> Result<i64> {
        Ok(self.db.query_row("SELECT coalesce(max(id), 0) FROM admin_events", [], |r| r.get(0))?)
    }
}

/// Creates or replaces `account` (see [`SqliteStore::put_account`]) in `tx`; its id.
fn write_account(tx: &rusqlite::Transaction<'_>, account: &Account, sealed: &[u8]) -> Result<i64> {
    let existed: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM accounts WHERE handle = ?1)", [&account.handle], |r| r.get(0))?;
    tx.execute(
        &format!(
            "INSERT INTO accounts (handle, password, name, version, gtc, blp) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (handle) DO UPDATE SET handle = excluded.handle, password = excluded.password,
               name = excluded.name, gtc = excluded.gtc, blp = excluded.blp,
               version = max(excluded.version, {NEXT_VERSION})"
        ),
        params![account.handle, sealed, account.name, account.version, account.gtc.as_str(), account.blp.as_str()],
    )?;
    let id: i64 = tx.query_row("SELECT id FROM accounts WHERE handle = ?1", [&account.handle], |r| r.get(0))?;
    tx.execute("DELETE FROM entries WHERE account = ?1", [id])?;
    for list in List::ALL {
        for entry in account.list(*list) {
            tx.execute(
                "INSERT OR IGNORE INTO entries (account, list, handle, name) VALUES (?1, ?2, ?3, ?4)",
                params![id, list.as_str(), entry.handle, entry.name],
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

/// Records an administrators' event in the transaction that made the change.
fn record(tx: &rusqlite::Transaction<'_>, event: &AdminEvent) -> Result<()> {
    let (handle, kind, contact, version) = event_row(event);
    tx.execute(
        "INSERT INTO admin_events (handle, kind, contact, version) VALUES (?1, ?2, ?3, ?4)",
        params![handle, kind, contact, version],
    )?;
    tx.execute("DELETE FROM admin_events WHERE at < unixepoch() - ?1", [ADMIN_EVENTS_KEPT_SECONDS])?;
    Ok(())
}

impl Store for SqliteStore {
    fn sign_in(&mut self, handle: &str, challenge: &str, response: &str) -> Result<Option<Account>> {
        // One read transaction: the password and the account come from the same moment.
        let tx = self.db.transaction()?;
        let sealed: Option<Vec<u8>> = tx
            .prepare_cached("SELECT password FROM accounts WHERE handle = ?1")?
            .query_row([handle], |r| r.get(0))
            .optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let password = self.secret.open(&sealed)?;
        let password = String::from_utf8(password)
            .map_err(|_| StoreError::Corrupt { column: "password", value: String::new() })?;
        if !msnp::auth::verify_md5_response(challenge, &password, response) {
            return Ok(None);
        }
        read_account(&tx, handle)
    }

    fn account(&mut self, handle: &str) -> Result<Option<Account>> {
        // One read transaction: the row and its list entries come from the same moment.
        let tx = self.db.transaction()?;
        read_account(&tx, handle)
    }

    fn apply(&mut self, changes: &[Change]) -> Result<Versions> {
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed: Vec<i64> = Vec::new();
        for change in changes {
            let (account, n) = apply_one(&tx, change)?;
            if n > 0 && !changed.contains(&account) {
                changed.push(account);
            }
        }
        let mut versions = Versions::default();
        for id in changed {
            let bumped = tx.query_row(
                &format!("UPDATE accounts SET version = {NEXT_VERSION} WHERE id = ?1 RETURNING handle, version"),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            versions.0.push(bumped);
        }
        tx.commit()?;
        Ok(versions)
    }

    fn admin_events(&mut self, after: i64) -> Result<(i64, Vec<AdminEvent>)> {
        let mut stmt = self
            .db
            .prepare_cached("SELECT id, handle, kind, contact, version FROM admin_events WHERE id > ?1 ORDER BY id")?;
        let rows = stmt.query_map([after], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<u32>>(4)?,
            ))
        })?;
        let mut last = after;
        let mut events = Vec::new();
        for row in rows {
            let (id, handle, kind, contact, version) = row?;
            last = id;
            events.push(event_from_row(handle, kind, contact, version)?);
        }
        Ok((last, events))
    }
}

/// An account with its lists, as `db` (a transaction) sees it.
fn read_account(db: &Connection, handle: &str) -> Result<Option<Account>> {
    let row = db
        .prepare_cached(
            "SELECT id, handle, name, version, gtc, blp, EXISTS (SELECT 1 FROM guests WHERE account = accounts.id)
             FROM accounts WHERE handle = ?1",
        )?
        .query_row([handle], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })
        .optional()?;
    let Some((id, handle, name, version, gtc, blp, guest)) = row else {
        return Ok(None);
    };
    let (gtc, blp) = (parse("gtc", gtc)?, parse("blp", blp)?);
    let mut account = Account { handle, name, version, gtc, blp, lists: Default::default(), guest };
    let mut stmt = db.prepare_cached("SELECT list, handle, name FROM entries WHERE account = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (list, handle, name) = row?;
        let list: List = parse("list", list)?;
        account.list_mut(list).push(Entry { handle, name });
    }
    Ok(Some(account))
}

/// Applies one change: the id of the account it belongs to, and how many rows it changed.
fn apply_one(tx: &rusqlite::Transaction<'_>, change: &Change) -> Result<(i64, usize)> {
    let id = |account: &str| -> Result<i64> {
        tx.query_row("SELECT id FROM accounts WHERE handle = ?1", [account], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoAccount(account.to_owned()))
    };
    Ok(match change {
        Change::AddEntry { account, list, entry } => {
            let id = id(account)?;
            let n = tx.execute(
                "INSERT OR REPLACE INTO entries (account, list, handle, name) VALUES (?1, ?2, ?3, ?4)",
                params![id, list.as_str(), entry.handle, entry.name],
            )?;
            (id, n)
        }
        Change::RemoveEntry { account, list, handle } => match id(account) {
            // A contact whose account is gone (or never existed) has no RL to leave.
            Err(StoreError::NoAccount(_)) => (0, 0),
            Err(e) => return Err(e),
            Ok(id) => {
                let n = tx.execute(
                    "DELETE FROM entries WHERE account = ?1 AND list = ?2 AND handle = ?3",
                    params![id, list.as_str(), handle],
                )?;
                (id, n)
            }
        },
        Change::RenameEntry { account, handle, name } => {
            let id = id(account)?;
            let n = tx.execute(
                "UPDATE entries SET name = ?1 WHERE account = ?2 AND handle = ?3",
                params![name, id, handle],
            )?;
            (id, n)
        }
        Change::SetName { account, name } => {
            let id = id(account)?;
            (id, tx.execute("UPDATE accounts SET name = ?1 WHERE id = ?2", params![name, id])?)
        }
        Change::SetGtc { account, gtc } => {
            let id = id(account)?;
            (id, tx.execute("UPDATE accounts SET gtc = ?1 WHERE id = ?2", params![gtc.as_str(), id])?)
        }
        Change::SetBlp { account, blp } => {
            let id = id(account)?;
            (id, tx.execute("UPDATE accounts SET blp = ?1 WHERE id = ?2", params![blp.as_str(), id])?)
        }
    })
}
