//! Temporary accounts for a public demo: `guest-<random>@hotmail.com` with a random password and the
//! robots as contacts, removed when their time is up (from every list, each holder's version bumped, as
//! [`Admin::remove_account`] does).

use std::time::Duration;

use msnp::ns::Entry;
use msnp::{List, handle};

use crate::secret::random_bytes;
use crate::store::{Account, Admin, StoreError};

/// A new guest account; the password is shown to its person once and kept nowhere in plain text.
#[derive(Clone, PartialEq, Eq)]
pub struct Guest {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("email", &self.email).finish_non_exhaustive()
    }
}

/// Whom guest accounts may add to their forward list and ring into a chat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GuestsReach {
    /// Anyone, as any other account may.
    #[default]
    Everyone,
    /// Other guests, the accounts in `open` (a demo's robots), and people who have the guest on their allow
    /// list: on a public demo a stranger cannot add, watch or ring someone who did not choose them.
    Contacts { open: Vec<String> },
}

impl GuestsReach {
    /// Whether `from` may add `to` to its forward list or ring them (always, unless `from` is a guest).
    pub fn allows(&self, from: &Account, to: &Account) -> bool {
        let GuestsReach::Contacts { open } = self else { return true };
        !from.guest || to.guest || open.iter().any(|h| handle::same(h, &to.handle)) || to.on(List::Allow, &from.handle)
    }
}

/// Letters and digits that cannot be mistaken for one another.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// `n` random characters of [`ALPHABET`] (5 bits each).
fn random_text<const N: usize>() -> Result<String, StoreError> {
    let bytes = random_bytes::<N>().map_err(StoreError::from)?;
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect())
}

/// Creates a guest with `contacts` on its forward and allow lists, expiring `ttl` after `now` (Unix
/// seconds).
pub fn create(store: &mut dyn Admin, contacts: &[Entry], ttl: Duration, now: i64) -> Result<Guest, StoreError> {
    let id = random_text::<8>()?;
    let email = format!("guest-{id}@hotmail.com");
    debug_assert!(handle::is_valid(&email));
    let mut account = Account::new(&email, &format!("Guest%20{}", &id[..4]));
    for list in [List::Forward, List::Allow] {
        account.list_mut(list).extend(contacts.iter().cloned());
    }
    // One version per entry, as if each had been added with ADD: a client at version 0 downloads them.
    account.version = u32::try_from(2 * contacts.len()).unwrap_or(u32::MAX);
    // 16 characters of 32: 80 bits.
    let password = random_text::<16>()?;
    let expires = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    store.put_guest(&account, &password, expires)?;
    Ok(Guest { email, password })
}

/// Removes the guests whose time is up at `now`; how many.
pub fn remove_expired(store: &mut dyn Admin, now: i64) -> Result<usize, StoreError> {
    let expired = store.expired_guests(now)?;
    for handle in &expired {
        store.remove_account(handle)?;
    }
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use msnp::auth::md5_response;

    use super::*;
    use crate::secret::Secret;
    use crate::store::{SqliteStore, Store};

    fn robot() -> Entry {
        Entry { handle: "echo@hotmail.com".into(), name: "Echo".into() }
    }

    #[test]
    fn a_guest_signs_in_with_the_robots_and_is_removed_everywhere_when_its_time_is_up() {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        store.put_account(&Account::new("echo@hotmail.com", "Echo"), "robot").unwrap();
        let guest = create(&mut store, &[robot()], Duration::from_secs(3600), 1000).unwrap();
        assert!(guest.email.starts_with("guest-") && guest.email.ends_with("@hotmail.com"));
        assert!(!format!("{guest:?}").contains(&guest.password));
        let other = create(&mut store, &[robot()], Duration::from_secs(60), 1000).unwrap();
        assert_ne!((&guest.email, &guest.password), (&other.email, &other.password));
        assert_eq!(store.guest_count().unwrap(), 2);

        let account = store.sign_in(&guest.email, "c", &md5_response("c", &guest.password)).unwrap().unwrap();
        assert!(account.on(List::Forward, "echo@hotmail.com") && account.on(List::Allow, "echo@hotmail.com"));
        assert_eq!(account.version, 2);
        assert!(account.guest);

        // The robot holds the guest on its reverse list, as after an ADD.
        let mut echo = store.account("echo@hotmail.com").unwrap().unwrap();
        echo.list_mut(List::Reverse).push(Entry { handle: other.email.clone(), name: other.email.clone() });
        store.put_account(&echo, "robot").unwrap();
        let version = store.account("echo@hotmail.com").unwrap().unwrap().version;
        assert!(!echo.guest);

        assert_eq!(remove_expired(&mut store, 1059).unwrap(), 0);
        assert_eq!(remove_expired(&mut store, 1060).unwrap(), 1);
        assert!(!store.exists(&other.email).unwrap());
        let echo = store.account("echo@hotmail.com").unwrap().unwrap();
        assert!(!echo.on(List::Reverse, &other.email));
        assert_eq!(echo.version, version + 1);
        assert_eq!(store.guest_count().unwrap(), 1);
        assert_eq!(remove_expired(&mut store, 4600).unwrap(), 1);
        assert_eq!(store.guest_count().unwrap(), 0);
    }

    #[test]
    fn a_guest_reaches_guests_the_open_accounts_and_who_allowed_it() {
        let reach = GuestsReach::Contacts { open: vec!["Echo@hotmail.com".into()] };
        let guest = Account { guest: true, ..Account::new("guest-a@hotmail.com", "A") };
        let other_guest = Account { guest: true, ..Account::new("guest-b@hotmail.com", "B") };
        let echo = Account::new("echo@hotmail.com", "Echo");
        let mut alice = Account::new("alice@hotmail.com", "Alice");
        assert!(reach.allows(&guest, &other_guest) && reach.allows(&guest, &echo));
        assert!(!reach.allows(&guest, &alice));
        // Alice may reach the guest; once she allows it, it may reach her.
        assert!(reach.allows(&alice, &guest));
        alice.list_mut(List::Allow).push(Entry { handle: "GUEST-A@hotmail.com".into(), name: "A".into() });
        assert!(reach.allows(&guest, &alice));
        assert!(GuestsReach::Everyone.allows(&guest, &Account::new("bob@hotmail.com", "Bob")));
    }
}
