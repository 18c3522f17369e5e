//! The MD5 login (MSNP2.md §5.3): `response = lowercase_hex(MD5(challenge ‖ password))`.

use md5::{Digest, Md5};

/// The security package this project speaks.
pub const PACKAGE: &str = "MD5";

/// The response to a `USR … MD5 S <challenge>`: 32 lowercase hex digits.
///
/// ```
/// // The worked example of MSNP2.md §5.3.
/// let response = msnp::auth::md5_response("1013928519.693957190", "hunter2");
/// assert_eq!(response, "8aca4d4721b726ba9cd5e3a5f601671a");
/// ```
pub fn md5_response(challenge: &str, password: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(challenge.as_bytes());
    md5.update(password.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a client's response; hex case does not matter (project rule, §5.3).
pub fn verify_md5_response(challenge: &str, password: &str, response: &str) -> bool {
    response.eq_ignore_ascii_case(&md5_response(challenge, password))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn worked_examples_of_the_reference() {
        let table = [
            ("1013928519.693957190", "hunter2", "8aca4d4721b726ba9cd5e3a5f601671a"),
            ("1013928519.693957190", "alicepw", "424977e28cde25117c5afda7500dce09"),
            ("1013928521.412758334", "bobpw", "c1b0bdeccbed0d9fdbe46a32976f2fd8"),
            ("1013928519.693957190", "mypassword", "6f3963009fc8a9d2b2ff137da0905c55"),
            ("abcdefg", "1234567", "d1713d0f1d2e8fae230328d8fd59de01"),
        ];
        for (challenge, password, expected) in table {
            assert_eq!(md5_response(challenge, password), expected);
        }
    }

    #[test]
    fn verification_ignores_hex_case_only() {
        let upper = "8ACA4D4721B726BA9CD5E3A5F601671A";
        assert!(verify_md5_response("1013928519.693957190", "hunter2", upper));
        assert!(!verify_md5_response("1013928519.693957190", "hunter3", upper));
        assert!(!verify_md5_response("1013928519.693957190", "hunter2", ""));
    }
}
