//! Account administration: importing accounts from a TOML file (the demo accounts, test fixtures).
//!
//! ```toml
//! [[account]]
//! email = "dave@hotmail.com"
//! password = "davepw"
//! name = "Dave"            # friendly name as on the wire (URL-encoded); default: the e-mail address
//! version = 6              # list version; default 0
//! gtc = "A"                # default "A"
//! blp = "AL"               # default "AL"
//! FL = [{ email = "erin@hotmail.com", name = "Erin" }]   # likewise AL, BL, RL; each defaults to empty
//! robot = "echo"           # an account the robots sign in as (`msnp-server robots`): echo, mood, host, chatty
//! ```

use msnp::ns::Entry;
use msnp::{Blp, Gtc, List, handle, name};
use serde::Deserialize;
use thiserror::Error;

use crate::robots::{Kind, Robot};
use crate::store::{Account, Admin, StoreError};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("not a valid accounts file: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("account {account}: {problem}")]
    Invalid { account: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    #[serde(default)]
    account: Vec<AccountSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountSpec {
    email: String,
    password: String,
    name: Option<String>,
    #[serde(default)]
    version: u32,
    gtc: Option<String>,
    blp: Option<String>,
    #[serde(rename = "FL", default)]
    fl: Vec<EntrySpec>,
    #[serde(rename = "AL", default)]
    al: Vec<EntrySpec>,
    #[serde(rename = "BL", default)]
    bl: Vec<EntrySpec>,
    #[serde(rename = "RL", default)]
    rl: Vec<EntrySpec>,
    robot: Option<Kind>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    email: String,
    name: Option<String>,
}

/// An account as the file describes it, checked, with its password.
fn account(spec: AccountSpec) -> Result<(Account, String), ImportError> {
    let invalid = |problem: String| ImportError::Invalid { account: spec.email.clone(), problem };
    if !handle::is_valid(&spec.email) {
        return Err(invalid("not a valid e-mail address".into()));
    }
    let mut account = Account::new(&spec.email, spec.name.as_deref().unwrap_or(&spec.email));
    name::validate_encoded(&account.name).map_err(|e| invalid(format!("name: {e}")))?;
    account.version = spec.version;
    if let Some(gtc) = &spec.gtc {
        account.gtc = gtc.parse::<Gtc>().map_err(|()| invalid(format!("gtc must be A or N, not {gtc:?}")))?;
    }
    if let Some(blp) = &spec.blp {
        account.blp = blp.parse::<Blp>().map_err(|()| invalid(format!("blp must be AL or BL, not {blp:?}")))?;
    }
    for (list, entries) in
        [(List::Forward, &spec.fl), (List::Allow, &spec.al), (List::Block, &spec.bl), (List::Reverse, &spec.rl)]
    {
        for e in entries {
            if !handle::is_valid(&e.email) {
                return Err(invalid(format!("{list}: {:?} is not a valid e-mail address", e.email)));
            }
            let custom = e.name.clone().unwrap_or_else(|| e.email.clone());
            name::validate_encoded(&custom).map_err(|err| invalid(format!("{list} {}: {err}", e.email)))?;
            account.list_mut(list).push(Entry { handle: e.email.clone(), name: custom });
        }
    }
    if spec.password.is_empty() {
        return Err(invalid("empty password".into()));
    }
    Ok((account, spec.password))
}

/// Creates or replaces every account the TOML text describes; returns how many.
pub fn import(store: &mut dyn Admin, text: &str) -> Result<usize, ImportError> {
    let file: AccountsFile = toml::from_str(text)?;
    // Check everything before writing anything.
    let accounts = file.account.into_iter().map(account).collect::<Result<Vec<_>, _>>()?;
    for (account, password) in &accounts {
        store.put_account(account, password)?;
    }
    Ok(accounts.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::{SqliteStore, Store};

    #[test]
    fn imports_accounts_in_order_and_replaces_them() {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        let text = r#"
            [[account]]
            email = "dave@hotmail.com"
            password = "davepw"
            name = "Dave"
            version = 6
            blp = "BL"
            FL = [{ email = "erin@hotmail.com", name = "Erin" }, { email = "zed@hotmail.com" }]
            AL = [{ email = "erin@hotmail.com", name = "Erin" }]
            RL = [{ email = "erin@hotmail.com", name = "Erin" }]

            [[account]]
            email = "erin@hotmail.com"
            password = "erinpw"
        "#;
        assert_eq!(import(&mut store, text).unwrap(), 2);
        let dave = store.account("DAVE@hotmail.com").unwrap().unwrap();
        assert_eq!((dave.version, dave.gtc, dave.blp), (6, Gtc::Ask, Blp::BlockAll));
        let fl: Vec<_> = dave.list(List::Forward).iter().map(|e| (e.handle.as_str(), e.name.as_str())).collect();
        assert_eq!(fl, [("erin@hotmail.com", "Erin"), ("zed@hotmail.com", "zed@hotmail.com")]);
        assert!(store.sign_in("dave@hotmail.com", "c", &msnp::auth::md5_response("c", "davepw")).unwrap().is_some());
        let erin = store.account("erin@hotmail.com").unwrap().unwrap();
        assert_eq!(erin.name, "erin@hotmail.com");

        // Importing again replaces: the lists are what the file says now.
        import(&mut store, "[[account]]\nemail = \"dave@hotmail.com\"\npassword = \"new\"\n").unwrap();
        let dave = store.account("dave@hotmail.com").unwrap().unwrap();
        assert!(dave.list(List::Forward).is_empty());
        assert!(store.sign_in("dave@hotmail.com", "c", &msnp::auth::md5_response("c", "davepw")).unwrap().is_none());
        assert!(store.sign_in("dave@hotmail.com", "c", &msnp::auth::md5_response("c", "new")).unwrap().is_some());
    }

    #[test]
    fn bad_files_are_refused_whole_with_a_reason() {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        let bad = [
            ("[[account]]\nemail = \"x\"\npassword = \"p\"\n", "not a valid e-mail"),
            ("[[account]]\nemail = \"a@b.cc\"\npassword = \"p\"\ngtc = \"Q\"\n", "gtc must be A or N"),
            ("[[account]]\nemail = \"a@b.cc\"\npassword = \"p\"\nname = \"two words\"\n", "name"),
            ("[[account]]\nemail = \"a@b.cc\"\npassword = \"p\"\ncolour = \"red\"\n", "unknown field"),
        ];
        for (text, why) in bad {
            let err = import(&mut store, text).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
        assert!(store.list_accounts().unwrap().is_empty());
    }
}

#[cfg(test)]
mod demo {
    use super::*;
    use crate::secret::Secret;
    use crate::store::SqliteStore;

    #[test]
    fn the_shipped_demo_accounts_import() {
        let mut store = SqliteStore::memory(Secret::random().unwrap()).unwrap();
        let n = import(&mut store, super::DEMO_ACCOUNTS).unwrap();
        assert_eq!(n, 8);
        let kinds: Vec<Kind> = robots(super::DEMO_ACCOUNTS).unwrap().into_iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [Kind::Echo, Kind::Mood, Kind::Host, Kind::Chatty]);
        assert_eq!(demo_logins().len(), 4);
        let contacts = robot_contacts(super::DEMO_ACCOUNTS).unwrap();
        assert_eq!(contacts[0], Entry { handle: "echo@hotmail.com".into(), name: "Echo%20%F0%9F%A4%96".into() });
    }
}

/// The demo accounts shipped with the project (`server/demo-accounts.toml`).
pub const DEMO_ACCOUNTS: &str = include_str!("../demo-accounts.toml");

/// The demo accounts' e-mail addresses and passwords, to show people how to sign in (robots excepted).
pub fn demo_logins() -> Vec<(String, String)> {
    toml::from_str::<AccountsFile>(DEMO_ACCOUNTS)
        .map(|file| file.account.into_iter().filter(|a| a.robot.is_none()).map(|a| (a.email, a.password)).collect())
        .unwrap_or_default()
}

/// The robot accounts of an accounts file as contact-list entries (e-mail address and friendly name), for
/// new accounts that should have them as contacts.
pub fn robot_contacts(text: &str) -> Result<Vec<Entry>, ImportError> {
    let file: AccountsFile = toml::from_str(text)?;
    let robots = file.account.into_iter().filter(|a| a.robot.is_some());
    Ok(robots.map(|a| Entry { name: a.name.unwrap_or_else(|| a.email.clone()), handle: a.email }).collect())
}

/// The robot accounts an accounts file describes.
pub fn robots(text: &str) -> Result<Vec<Robot>, ImportError> {
    let file: AccountsFile = toml::from_str(text)?;
    let robots = file.account.into_iter().filter_map(|a| {
        let kind = a.robot?;
        Some(Robot { handle: a.email, password: a.password, kind })
    });
    Ok(robots.collect())
}
