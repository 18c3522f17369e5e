//! Both stores behave the same: SQLite in a temporary file and PostgreSQL in a throwaway cluster (a real
//! server, started by the test), through the same checks; and PostgreSQL keeps list versions exact when
//! two connections (two server nodes) change the same accounts at once.

use msnp::auth::md5_response;
use msnp::ns::Entry;
use msnp::{Blp, Gtc, List};
use msnp_server::Database;
use msnp_server::secret::Secret;
use msnp_server::store::{Account, Admin, AdminEvent, Change, PgStore, Store};

fn entry(handle: &str, name: &str) -> Entry {
    Entry { handle: handle.into(), name: name.into() }
}

fn add(account: &str, list: List, handle: &str) -> Change {
    Change::AddEntry { account: account.into(), list, entry: entry(handle, handle) }
}

fn handles(account: &Account, list: List) -> Vec<&str> {
    account.list(list).iter().map(|e| e.handle.as_str()).collect()
}

/// What every store must do, checked on `store`.
fn behaves(store: &mut dyn Admin) {
    let start = store.last_admin_event().unwrap();
    let mut dave = Account::new("Dave@Hotmail.com", "Dave");
    dave.version = 6;
    dave.list_mut(List::Forward).push(entry("erin@hotmail.com", "Erin"));
    store.put_account(&dave, "davepw").unwrap();
    store.put_account(&Account::new("erin@hotmail.com", "Erin"), "erinpw").unwrap();
    assert!(store.exists("dave@hotmail.com").unwrap() && !store.exists("zed@hotmail.com").unwrap());
    let names: Vec<String> = store.list_accounts().unwrap().into_iter().map(|(h, _)| h).collect();
    assert_eq!(names, ["Dave@Hotmail.com", "erin@hotmail.com"]);

    // Sign-in: handles compare case-insensitively; a wrong response and an unknown account look alike.
    let ok = store.sign_in("dave@hotmail.com", "c1", &md5_response("c1", "davepw")).unwrap().unwrap();
    assert_eq!((ok.handle.as_str(), ok.version), ("Dave@Hotmail.com", 6));
    assert_eq!(store.sign_in("dave@hotmail.com", "c1", &md5_response("c1", "nope")).unwrap(), None);
    assert_eq!(store.sign_in("zed@hotmail.com", "c1", &md5_response("c1", "davepw")).unwrap(), None);

    // One transaction bumps each account it changes once; order of entries is order of adding.
    let versions = store
        .apply(&[
            add("dave@hotmail.com", List::Forward, "zed@hotmail.com"),
            add("dave@hotmail.com", List::Allow, "erin@hotmail.com"),
            add("erin@hotmail.com", List::Reverse, "dave@hotmail.com"),
        ])
        .unwrap();
    assert_eq!((versions.of("dave@hotmail.com"), versions.of("erin@hotmail.com")), (Some(7), Some(1)));
    // A re-added entry moves to the end with its new name; removing what is not there changes nothing.
    store
        .apply(&[Change::AddEntry {
            account: "dave@hotmail.com".into(),
            list: List::Forward,
            entry: entry("ERIN@hotmail.com", "Erin%20E"),
        }])
        .unwrap();
    let none = store
        .apply(&[Change::RemoveEntry {
            account: "dave@hotmail.com".into(),
            list: List::Block,
            handle: "x@y.zz".into(),
        }])
        .unwrap();
    assert_eq!(none.0, []);
    let versions = store
        .apply(&[
            Change::RenameEntry {
                account: "dave@hotmail.com".into(),
                handle: "zed@hotmail.com".into(),
                name: "Z".into(),
            },
            Change::SetName { account: "dave@hotmail.com".into(), name: "Dave%20D".into() },
            Change::SetGtc { account: "dave@hotmail.com".into(), gtc: Gtc::Never },
            Change::SetBlp { account: "dave@hotmail.com".into(), blp: Blp::BlockAll },
        ])
        .unwrap();
    assert_eq!(versions.of("dave@hotmail.com"), Some(9));
    let dave = store.account("DAVE@hotmail.com").unwrap().unwrap();
    assert_eq!(handles(&dave, List::Forward), ["zed@hotmail.com", "ERIN@hotmail.com"]);
    assert_eq!(dave.list(List::Forward).iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["Z", "Erin%20E"]);
    assert_eq!((dave.name.as_str(), dave.gtc, dave.blp, dave.version), ("Dave%20D", Gtc::Never, Blp::BlockAll, 9));
    assert!(store.apply(&[add("zed@hotmail.com", List::Forward, "a@b.cc")]).is_err(), "no such account");

    // Removing an account takes it off every list; holders' versions move and their servers are told.
    store.remove_account("erin@hotmail.com").unwrap();
    let dave = store.account("dave@hotmail.com").unwrap().unwrap();
    assert_eq!(handles(&dave, List::Forward), ["zed@hotmail.com"]);
    assert_eq!(dave.version, 10);
    let (_, events) = store.admin_events(start).unwrap();
    assert!(events.contains(&AdminEvent::SessionInvalid { handle: "Dave@Hotmail.com".into() }), "{events:?}");
    assert!(events.contains(&AdminEvent::SessionInvalid { handle: "erin@hotmail.com".into() }));
    assert!(!store.exists("erin@hotmail.com").unwrap());

    // Passwords change; guests come and go.
    store.set_password("dave@hotmail.com", "new").unwrap();
    assert!(store.sign_in("dave@hotmail.com", "c", &md5_response("c", "new")).unwrap().is_some());
    store.put_guest(&Account::new("guest-a@hotmail.com", "Guest"), "g", 100).unwrap();
    assert_eq!((store.guest_count().unwrap(), store.expired_guests(99).unwrap().len()), (1, 0));
    assert_eq!(store.expired_guests(100).unwrap(), ["guest-a@hotmail.com"]);
    // A guest is known as one when it signs in (its reach depends on it); nobody else is.
    assert!(store.account("GUEST-A@hotmail.com").unwrap().unwrap().guest);
    let signed_in = store.sign_in("guest-a@hotmail.com", "c", &msnp::auth::md5_response("c", "g")).unwrap();
    assert!(signed_in.unwrap().guest);
    assert!(!store.account("dave@hotmail.com").unwrap().unwrap().guest);
    store.remove_account("guest-a@hotmail.com").unwrap();
    assert_eq!(store.guest_count().unwrap(), 0);
    assert!(store.last_admin_event().unwrap() > start);

    // A new account has no session to end (a person who signs in to it at once stays signed in); a
    // replaced one's session ends.
    let before = store.last_admin_event().unwrap();
    store.put_account(&Account::new("fay@hotmail.com", "Fay"), "faypw").unwrap();
    assert_eq!(store.admin_events(before).unwrap().1, []);
    store.put_account(&Account::new("fay@hotmail.com", "Fay"), "faypw").unwrap();
    assert_eq!(
        store.admin_events(before).unwrap().1,
        [AdminEvent::SessionInvalid { handle: "fay@hotmail.com".into() }]
    );
}

#[test]
fn sqlite_behaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Database::Sqlite(dir.path().join("msnp.db")).open_admin(None).unwrap();
    behaves(store.as_mut());
}

#[test]
fn postgres_behaves_the_same() {
    let pg = engines::Postgres::start().unwrap();
    let key = tempfile::tempdir().unwrap();
    let key_file = key.path().join("msnp.key");
    let db = Database::Postgres(pg.url());
    assert!(db.open_admin(None).is_err(), "PostgreSQL needs a key file");
    let mut store = db.open_admin(Some(&key_file)).unwrap();
    behaves(store.as_mut());
    // A second node with the same key reads what the first wrote.
    let mut other = db.open_admin(Some(&key_file)).unwrap();
    assert!(other.sign_in("dave@hotmail.com", "c", &md5_response("c", "new")).unwrap().is_some());
}

#[test]
fn postgres_versions_stay_exact_when_two_nodes_change_the_same_accounts() {
    let pg = engines::Postgres::start().unwrap();
    let secret = Secret::random().unwrap();
    let mut admin = PgStore::connect(&pg.url(), secret.clone()).unwrap();
    admin.put_account(&Account::new("a@hotmail.com", "A"), "a").unwrap();
    admin.put_account(&Account::new("b@hotmail.com", "B"), "b").unwrap();
    let start = |me: &'static str, other: &'static str| {
        let (url, secret) = (pg.url(), secret.clone());
        std::thread::spawn(move || {
            let mut node = PgStore::connect(&url, secret).unwrap();
            let mut seen = Vec::new();
            for i in 0..40 {
                // Each change touches both accounts, in opposite orders on the two nodes.
                let contact = format!("{me}{i}@hotmail.com");
                let versions = node
                    .apply(&[
                        add(&format!("{me}@hotmail.com"), List::Forward, &contact),
                        add(&format!("{other}@hotmail.com"), List::Reverse, &contact),
                    ])
                    .unwrap();
                seen.push(versions.of("a@hotmail.com").unwrap());
            }
            seen
        })
    };
    let (one, two) = (start("a", "b"), start("b", "a"));
    let mut all: Vec<u32> = one.join().unwrap().into_iter().chain(two.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=80).collect::<Vec<u32>>(), "every bump seen once, none lost");
    let a = admin.account("a@hotmail.com").unwrap().unwrap();
    assert_eq!((a.version, a.list(List::Forward).len(), a.list(List::Reverse).len()), (80, 40, 40));
}
