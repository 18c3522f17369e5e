//! User handles: e-mail-like account names (MSNP2.md §3.4).

/// Longest handle, in bytes.
pub const MAX_HANDLE: usize = 129;

/// The project's syntax rule for handles in ADD/REM/CAL: exactly one `@`, a non-empty local part of
/// `[A-Za-z0-9._%+-]`, a domain of at least two dot-separated labels of `[A-Za-z0-9-]`, ≤ 129 bytes.
pub fn is_valid(handle: &str) -> bool {
    if handle.len() > MAX_HANDLE {
        return false;
    }
    let Some((local, domain)) = handle.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty() && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    local_ok && domain_ok
}

/// Handles compare case-insensitively (§3.4).
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn syntax() {
        for good in ["jd@hotmail.com", "a.b-c_d%e+f@x-y.example.org", "A@B.C"] {
            assert!(is_valid(good), "{good}");
        }
        let long = format!("{}@hotmail.com", "a".repeat(MAX_HANDLE - 11));
        assert!(!is_valid(&long));
        assert!(is_valid(&long[1..]));
        for bad in [
            "",
            "jd",
            "@hotmail.com",
            "jd@",
            "jd@hotmail",
            "jd@@hotmail.com",
            "j d@hotmail.com",
            "jd@hot_mail.com",
            "jd@hotmail..com",
            "jd@.com",
            "jé@hotmail.com",
            "a@b@c.d",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn comparison_ignores_case() {
        assert!(same("JD@Hotmail.com", "jd@hotmail.COM"));
        assert!(!same("jd@hotmail.com", "jd2@hotmail.com"));
    }
}
