//! What the page keeps in localStorage: the remembered e-mail address (never the password), each
//! account's lists with their version, so that `SYN` with an unchanged version downloads nothing, a hash
//! of each account's last challenge, and the colour choice.

use msnp::client::Lists;
use msnp::ns::Entry;
use msnp::{Blp, Gtc, List};

const EMAIL: &str = "msnp.email";
const THEME: &str = "msnp.theme";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn remembered_email() -> Option<String> {
    storage()?.get_item(EMAIL).ok()?
}

pub fn remember_email(email: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match email {
            Some(email) => s.set_item(EMAIL, email),
            None => s.remove_item(EMAIL),
        };
    }
}

/// The colour choice: `system`, `light` or `dark`.
pub fn theme() -> Option<String> {
    storage()?.get_item(THEME).ok()?
}

pub fn remember_theme(theme: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(THEME, theme);
    }
}

/// Lists are per server and account: the same address on two servers has two sets of lists.
fn lists_key(server: &str, handle: &str) -> String {
    format!("msnp.lists.{server}.{}", handle.to_ascii_lowercase())
}

/// The lists saved for this account, if a complete copy is there; a copy that does not parse (cut short,
/// or written by an older page) is thrown away, so the page asks for everything with `SYN 0`.
pub fn cached_lists(server: &str, handle: &str) -> Option<Lists> {
    let s = storage()?;
    let key = lists_key(server, handle);
    let text = s.get_item(&key).ok()??;
    let lists = parse_lists(&text);
    if lists.is_none() {
        let _ = s.remove_item(&key);
    }
    lists
}

pub fn cache_lists(server: &str, handle: &str, lists: &Lists) {
    if let Some(s) = storage() {
        let _ = s.set_item(&lists_key(server, handle), &format_lists(lists));
    }
}

/// The last challenge a server sent an account is remembered as a hash (MD5 of the challenge alone:
/// nothing of the password), to notice a server that sends the same one again.
fn challenge_key(server: &str, handle: &str) -> String {
    format!("msnp.challenge.{server}.{}", handle.to_ascii_lowercase())
}

pub fn last_challenge(server: &str, handle: &str) -> Option<String> {
    storage()?.get_item(&challenge_key(server, handle)).ok()?
}

pub fn remember_challenge(server: &str, handle: &str, hash: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(&challenge_key(server, handle), hash);
    }
}

/// One line per fact: `version N`, `gtc A`, `blp AL`, then `FL handle name` per entry (names stay encoded,
/// so they hold no spaces), and last `end N` with the number of entries: a copy without it is incomplete.
pub fn format_lists(lists: &Lists) -> String {
    let mut out = format!("version {}\ngtc {}\nblp {}\n", lists.version, lists.gtc, lists.blp);
    let mut entries = 0;
    for list in List::ALL {
        for e in lists.list(*list) {
            out.push_str(&format!("{list} {} {}\n", e.handle, e.name));
            entries += 1;
        }
    }
    out.push_str(&format!("end {entries}\n"));
    out
}

/// The inverse of [`format_lists`]; `None` for anything it did not write, or wrote only in part.
pub fn parse_lists(text: &str) -> Option<Lists> {
    let mut lists = Lists::default();
    let mut entries = 0;
    let mut lines = text.lines();
    for line in lines.by_ref() {
        let mut parts = line.split(' ');
        match (parts.next()?, parts.next()?, parts.next()) {
            ("end", n, None) if n.parse::<usize>().ok()? == entries => return lines.next().is_none().then_some(lists),
            ("version", v, None) => lists.version = v.parse().ok()?,
            ("gtc", v, None) => lists.gtc = v.parse::<Gtc>().ok()?,
            ("blp", v, None) => lists.blp = v.parse::<Blp>().ok()?,
            (list, handle, Some(name)) => {
                let entry = Entry { handle: handle.to_owned(), name: name.to_owned() };
                entries += 1;
                match list.parse::<List>().ok()? {
                    List::Forward => lists.forward.push(entry),
                    List::Allow => lists.allow.push(entry),
                    List::Block => lists.block.push(entry),
                    List::Reverse => lists.reverse.push(entry),
                }
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn lists_survive_the_round_trip_and_storage() {
        let lists = Lists {
            version: 7,
            gtc: Gtc::Never,
            blp: Blp::BlockAll,
            forward: vec![Entry { handle: "bob@hotmail.com".into(), name: "Bob%20B".into() }],
            reverse: vec![Entry { handle: "carol@hotmail.com".into(), name: "Carol".into() }],
            ..Lists::default()
        };
        assert_eq!(parse_lists(&format_lists(&lists)), Some(lists.clone()));
        assert_eq!(parse_lists("nonsense"), None);
        // A copy cut short, or saved before its entries arrived (no `end`), is not a cache.
        let text = format_lists(&lists);
        assert_eq!(parse_lists(text.lines().take(3).collect::<Vec<_>>().join("\n").as_str()), None);
        assert_eq!(parse_lists(&text.replace("end 2", "end 3")), None);
        assert_eq!(parse_lists("version 5\ngtc A\nblp AL\n"), None);
        assert_eq!(parse_lists("version 0\ngtc A\nblp AL\nend 0\n"), Some(Lists::default()));
        cache_lists("local", "Test@Hotmail.com", &lists);
        assert_eq!(cached_lists("local", "test@hotmail.com"), Some(lists));
        assert_eq!(cached_lists("other", "test@hotmail.com"), None);
        // A broken copy is thrown away.
        storage().unwrap().set_item(&lists_key("local", "test@hotmail.com"), "version 5\ngtc A\nblp AL\n").unwrap();
        assert_eq!(cached_lists("local", "test@hotmail.com"), None);
        assert_eq!(storage().unwrap().get_item(&lists_key("local", "test@hotmail.com")).unwrap(), None);
        remember_email(Some("jd@hotmail.com"));
        assert_eq!(remembered_email().as_deref(), Some("jd@hotmail.com"));
        remember_email(None);
        assert_eq!(remembered_email(), None);
    }
}
