//! Accounts, friendly names, the four lists, GTC, BLP and list versions, in SQLite (WAL).
//!
//! The server goes through the [`Store`] trait so that another database can take SQLite's place; every
//! change a command makes is applied in one transaction, committed before the reply is sent.

use std::path::Path;

use msnp::ns::Entry;
use msnp::{Blp, Gtc, List};
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

use crate::secret::{Secret, SecretError};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("no account {0}")]
    NoAccount(String),
    #[error("corrupt value {value:?} in column {column}")]
    Corrupt { column: &'static str, value: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An account with its lists, as the notification server works with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Canonical spelling of the handle.
    pub handle: String,
    /// Friendly name, encoded as on the wire.
    pub name: String,
    pub version: u32,
    pub gtc: Gtc,
    pub blp: Blp,
    /// FL, AL, BL, RL, each in the order entries were added.
    pub lists: [Vec<Entry>; 4],
}

impl Account {
    pub fn new(handle: &str, name: &str) -> Account {
        Account {
            handle: handle.to_owned(),
            name: name.to_owned(),
            version: 0,
            gtc: Gtc::Ask,
            blp: Blp::AllowAll,
            lists: Default::default(),
        }
    }

    pub fn list(&self, list: List) -> &Vec<Entry> {
        &self.lists[list_index(list)]
    }

    pub fn list_mut(&mut self, list: List) -> &mut Vec<Entry> {
        &mut self.lists[list_index(list)]
    }

    /// The entry for `handle` on `list` (handles compare case-insensitively).
    pub fn find(&self, list: List, handle: &str) -> Option<&Entry> {
        self.list(list).iter().find(|e| msnp::handle::same(&e.handle, handle))
    }

    pub fn on(&self, list: List, handle: &str) -> bool {
        self.find(list, handle).is_some()
    }
}

fn list_index(list: List) -> usize {
    match list {
        List::Forward => 0,
        List::Allow => 1,
        List::Block => 2,
        List::Reverse => 3,
    }
}

/// One change to an account, applied with others in a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddEntry {
        account: String,
        list: List,
        entry: Entry,
    },
    RemoveEntry {
        account: String,
        list: List,
        handle: String,
    },
    /// Sets the custom name of `handle` on every list of `account` that holds it.
    RenameEntry {
        account: String,
        handle: String,
        name: String,
    },
    SetName {
        account: String,
        name: String,
    },
    SetGtc {
        account: String,
        gtc: Gtc,
    },
    SetBlp {
        account: String,
        blp: Blp,
    },
    SetVersion {
        account: String,
        version: u32,
    },
}

/// What the notification server needs from a database.
pub trait Store: Send {
    /// The account with its lists, or `None`.
    fn account(&mut self, handle: &str) -> Result<Option<Account>>;
    /// The account's password, for computing the MD5 login response.
    fn password(&mut self, handle: &str) -> Result<Option<String>>;
    /// Applies all `changes` or none, durably, before returning.
    fn apply(&mut self, changes: &[Change]) -> Result<()>;
}

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
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode.
    pub fn open(path: &Path, secret: Secret) -> Result<SqliteStore> {
        let db = Connection::open(path)?;
        Self::init(db, secret)
    }

    /// A private in-memory database, for tests.
    pub fn memory(secret: Secret) -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, secret)
    }

    fn init(db: Connection, secret: Secret) -> Result<SqliteStore> {
        // WAL with synchronous=NORMAL: a committed transaction survives the process being killed.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(SqliteStore { db, secret })
    }

    fn id(&self, handle: &str) -> Result<i64> {
        self.db
            .query_row("SELECT id FROM accounts WHERE handle = ?1", [handle], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::NoAccount(handle.to_owned()))
    }

    /// Creates the account, or replaces everything about it (password, name, settings, lists).
    pub fn put_account(&mut self, account: &Account, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO accounts (handle, password, name, version, gtc, blp) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (handle) DO UPDATE SET handle = excluded.handle, password = excluded.password,
               name = excluded.name, version = excluded.version, gtc = excluded.gtc, blp = excluded.blp",
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
        tx.commit()?;
        Ok(())
    }

    pub fn set_password(&mut self, handle: &str, password: &str) -> Result<()> {
        let sealed = self.secret.seal(password.as_bytes())?;
        let n = self.db.execute("UPDATE accounts SET password = ?1 WHERE handle = ?2", params![sealed, handle])?;
        if n == 0 { Err(StoreError::NoAccount(handle.to_owned())) } else { Ok(()) }
    }

    /// Removes the account; it also disappears from everyone else's lists.
    pub fn remove_account(&mut self, handle: &str) -> Result<()> {
        let tx = self.db.transaction()?;
        let n = tx.execute("DELETE FROM accounts WHERE handle = ?1", [handle])?;
        if n == 0 {
            return Err(StoreError::NoAccount(handle.to_owned()));
        }
        tx.execute("DELETE FROM entries WHERE handle = ?1", [handle])?;
        tx.commit()?;
        Ok(())
    }

    /// Every account's handle and friendly name, in creation order.
    pub fn list_accounts(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.db.prepare("SELECT handle, name FROM accounts ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn parse<T: std::str::FromStr>(column: &'static str, value: String) -> Result<T> {
    value.parse().map_err(|_| StoreError::Corrupt { column, value })
}

impl Store for SqliteStore {
    fn account(&mut self, handle: &str) -> Result<Option<Account>> {
        let row = self
            .db
            .query_row("SELECT id, handle, name, version, gtc, blp FROM accounts WHERE handle = ?1", [handle], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .optional()?;
        let Some((id, handle, name, version, gtc, blp)) = row else {
            return Ok(None);
        };
        let mut account = Account {
            handle,
            name,
            version,
            gtc: parse("gtc", gtc)?,
            blp: parse("blp", blp)?,
            lists: Default::default(),
        };
        let mut stmt =
            self.db.prepare_cached("SELECT list, handle, name FROM entries WHERE account = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            let (list, handle, name) = row?;
            let list: List = parse("list", list)?;
            account.list_mut(list).push(Entry { handle, name });
        }
        Ok(Some(account))
    }

    fn password(&mut self, handle: &str) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> =
            self.db.query_row("SELECT password FROM accounts WHERE handle = ?1", [handle], |r| r.get(0)).optional()?;
        sealed
            .map(|s| {
                let plain = self.secret.open(&s)?;
                String::from_utf8(plain).map_err(|_| StoreError::Corrupt { column: "password", value: String::new() })
            })
            .transpose()
    }

    fn apply(&mut self, changes: &[Change]) -> Result<()> {
        let tx = self.db.transaction()?;
        for change in changes {
            let id = |account: &str| -> Result<i64> {
                tx.query_row("SELECT id FROM accounts WHERE handle = ?1", [account], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| StoreError::NoAccount(account.to_owned()))
            };
            match change {
                Change::AddEntry { account, list, entry } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO entries (account, list, handle, name) VALUES (?1, ?2, ?3, ?4)",
                        params![id(account)?, list.as_str(), entry.handle, entry.name],
                    )?;
                }
                Change::RemoveEntry { account, list, handle } => {
                    tx.execute(
                        "DELETE FROM entries WHERE account = ?1 AND list = ?2 AND handle = ?3",
                        params![id(account)?, list.as_str(), handle],
                    )?;
                }
                Change::RenameEntry { account, handle, name } => {
                    tx.execute(
                        "UPDATE entries SET name = ?1 WHERE account = ?2 AND handle = ?3",
                        params![name, id(account)?, handle],
                    )?;
                }
                Change::SetName { account, name } => {
                    tx.execute("UPDATE accounts SET name = ?1 WHERE handle = ?2", params![name, account])?;
                }
                Change::SetGtc { account, gtc } => {
                    tx.execute("UPDATE accounts SET gtc = ?1 WHERE handle = ?2", params![gtc.as_str(), account])?;
                }
                Change::SetBlp { account, blp } => {
                    tx.execute("UPDATE accounts SET blp = ?1 WHERE handle = ?2", params![blp.as_str(), account])?;
                }
                Change::SetVersion { account, version } => {
                    tx.execute("UPDATE accounts SET version = ?1 WHERE handle = ?2", params![version, account])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl SqliteStore {
    /// Whether an account exists (for administration).
    pub fn exists(&self, handle: &str) -> Result<bool> {
        match self.id(handle) {
            Ok(_) => Ok(true),
            Err(StoreError::NoAccount(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
