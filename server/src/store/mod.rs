//! Accounts, friendly names, the four lists, GTC, BLP and list versions: in SQLite (WAL, the default) or
//! PostgreSQL (for several server nodes).
//!
//! The server goes through the [`Store`] trait, administration through [`Admin`]; every change a command
//! makes is applied in one transaction, committed before the reply is sent.

mod postgres;
mod sqlite;

use msnp::ns::Entry;
use msnp::{Blp, Gtc, List};
use thiserror::Error;

pub use self::postgres::PgStore;
pub use self::sqlite::SqliteStore;
use crate::secret::SecretError;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Pg(#[from] ::postgres::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("no account {0}")]
    NoAccount(String),
    #[error("corrupt value {value:?} in column {column}")]
    Corrupt { column: &'static str, value: String },
    #[error("cannot start a store thread: {0}")]
    Thread(std::io::Error),
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
    /// A temporary account made for a stranger ([`Admin::put_guest`]), whom a public demo keeps from
    /// reaching people who did not choose it ([`crate::guests::GuestsReach`]).
    pub guest: bool,
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
            guest: false,
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

/// One change to an account, applied with others in a transaction. Every account a transaction changes
/// gets its list version bumped by exactly one (MSNP2.md §6.2), in the database, so that concurrent
/// changes never lose a bump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddEntry {
        account: String,
        list: List,
        entry: Entry,
    },
    /// Removes `handle` from `list` if it is there (nothing changes, and no version moves, otherwise).
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
}

/// The new list version of each account a transaction changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions(pub Vec<(String, u32)>);

impl Versions {
    /// The new version of `handle`'s account, if the transaction changed it.
    pub fn of(&self, handle: &str) -> Option<u32> {
        self.0.iter().find(|(h, _)| msnp::handle::same(h, handle)).map(|(_, v)| *v)
    }
}

/// What an administrator did to an account while the server may be running; the server reads these
/// and applies them to the sessions it holds (see [`SqliteStore::admin_events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminEvent {
    /// The account was removed, its password changed, it was replaced, or one of its own lists (FL, AL,
    /// BL) lost an entry: its session must end, so the client signs in again and resyncs.
    SessionInvalid { handle: String },
    /// Only the account's RL lost `contact` (whose account was removed); its version is now `version`.
    ReverseRemoved { handle: String, contact: String, version: u32 },
}

/// What the notification server needs from a database. Calls block: the server makes them on its store
/// threads, never on its network threads and never while its state is locked.
pub trait Store: Send {
    /// The account if `response` is MD5(`challenge` ‖ its password) (MSNP2.md §5.3); `None` for a wrong
    /// password and for an unknown account alike. The password never leaves the store.
    fn sign_in(&mut self, handle: &str, challenge: &str, response: &str) -> Result<Option<Account>>;
    /// The account with its lists, or `None`.
    fn account(&mut self, handle: &str) -> Result<Option<Account>>;
    /// Applies all `changes` or none, durably, before returning; bumps each changed account's version.
    fn apply(&mut self, changes: &[Change]) -> Result<Versions>;
    /// Administrators' changes recorded after event `after`, with the id of the last one.
    fn admin_events(&mut self, after: i64) -> Result<(i64, Vec<AdminEvent>)>;
}

/// What administrators do to accounts (`msnp-server user`, `import`, guest accounts): each change is
/// recorded as an [`AdminEvent`] in the same transaction, so running servers apply it to their sessions.
pub trait Admin: Store {
    /// Creates the account, or replaces everything about it (password, name, settings, lists). A
    /// replaced account's version moves past its old one, so clients with cached lists resync; its
    /// session on a running server ends.
    fn put_account(&mut self, account: &Account, password: &str) -> Result<()>;
    /// Creates a temporary account, which [`Admin::expired_guests`] lists from `expires` (Unix seconds) on.
    fn put_guest(&mut self, account: &Account, password: &str, expires: i64) -> Result<()>;
    /// Temporary accounts there are now.
    fn guest_count(&mut self) -> Result<usize>;
    /// Temporary accounts whose time is up at `now` (Unix seconds).
    fn expired_guests(&mut self, now: i64) -> Result<Vec<String>>;
    /// Changes the password; the account's session on a running server ends.
    fn set_password(&mut self, handle: &str, password: &str) -> Result<()>;
    /// Removes the account; it also leaves everyone else's lists, and each of those accounts' version
    /// moves by one so their clients resync.
    fn remove_account(&mut self, handle: &str) -> Result<()>;
    /// Every account's handle and friendly name, in creation order.
    fn list_accounts(&mut self) -> Result<Vec<(String, String)>>;
    /// Whether an account exists.
    fn exists(&mut self, handle: &str) -> Result<bool>;
    /// The id of the newest administrators' event: a starting server applies only later ones.
    fn last_admin_event(&mut self) -> Result<i64>;
}

/// How long the database keeps administrators' events, in seconds: a running server reads them within a
/// second, however many there are; a starting one reads none of the old ones.
const ADMIN_EVENTS_KEPT_SECONDS: i64 = 3600;

/// The version after `version`: list versions are 32-bit and wrap.
const NEXT_VERSION: &str = "(version + 1) % 4294967296";

/// A column's text as the type it stands for.
fn parse<T: std::str::FromStr>(column: &'static str, value: String) -> Result<T> {
    value.parse().map_err(|_| StoreError::Corrupt { column, value })
}

/// An administrators' event as stored: (handle, kind, contact, version).
fn event_row(event: &AdminEvent) -> (&str, &'static str, Option<&str>, Option<u32>) {
    match event {
        AdminEvent::SessionInvalid { handle } => (handle, "session", None, None),
        AdminEvent::ReverseRemoved { handle, contact, version } => {
            (handle, "rl_removed", Some(contact), Some(*version))
        }
    }
}

/// A stored event row back as an event.
fn event_from_row(handle: String, kind: String, contact: Option<String>, version: Option<u32>) -> Result<AdminEvent> {
    match (kind.as_str(), contact, version) {
        ("rl_removed", Some(contact), Some(version)) => Ok(AdminEvent::ReverseRemoved { handle, contact, version }),
        ("session", _, _) => Ok(AdminEvent::SessionInvalid { handle }),
        _ => Err(StoreError::Corrupt { column: "admin_events.kind", value: kind }),
    }
}
