//! Friendly names and custom names: UTF-8, then percent-encoded (MSNP2.md §3.5).
//!
//! `+` is a literal plus, not a space: this is not form encoding.

use thiserror::Error;

/// Longest name in encoded form, in bytes.
pub const MAX_ENCODED_NAME: usize = 387;

/// Why a name cannot be sent or stored (§3.5); a server answers `209`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// The encoded name is longer than [`MAX_ENCODED_NAME`]; holds its encoded length in bytes.
    #[error("the name is {0} bytes once encoded; at most {MAX_ENCODED_NAME} are allowed")]
    TooLong(usize),
    /// The token holds a space or a control byte (below 0x21, or 0x7F).
    #[error("the name contains control characters or spaces")]
    ForbiddenByte,
}

/// Encodes a name for the wire: space as `%20`, `%` as `%25`, every byte below 0x21, 0x7F and every
/// byte from 0x80 up; everything else as is.
///
/// ```
/// assert_eq!(msnp::name::encode("Café ☕"), "Caf%C3%A9%20%E2%98%95");
/// assert_eq!(msnp::name::encode("100% + more"), "100%25%20+%20more");
/// ```
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b < 0x21 || b == b'%' || b >= 0x7F {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Encodes a name the user typed and checks it fits the limits, for sending in ADD or REA.
pub fn encode_checked(name: &str) -> Result<String, NameError> {
    let encoded = encode(name);
    validate_encoded(&encoded)?;
    Ok(encoded)
}

/// Decodes a wire name for display: `%XX` (either case) becomes the byte; anything else, including
/// `+` and a `%` not followed by two hex digits, stays as it is. Bytes that are not UTF-8 become U+FFFD.
///
/// ```
/// assert_eq!(msnp::name::decode("Bobby%20B"), "Bobby B");
/// assert_eq!(msnp::name::decode("a+b"), "a+b");
/// ```
pub fn decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The server's check of a name token (project rule, §3.5): non-empty, at most 387 bytes, no control
/// bytes. Whitespace cannot occur inside a token; raw bytes from 0x80 up are tolerated.
pub fn validate_encoded(token: &str) -> Result<(), NameError> {
    if token.is_empty() {
        return Err(NameError::Empty);
    }
    if token.len() > MAX_ENCODED_NAME {
        return Err(NameError::TooLong(token.len()));
    }
    if token.bytes().any(|b| b < 0x21 || b == 0x7F) {
        return Err(NameError::ForbiddenByte);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn encoding_rules() {
        assert_eq!(encode("Bobby B"), "Bobby%20B");
        assert_eq!(encode("100% + more"), "100%25%20+%20more");
        assert_eq!(encode("Café ☕"), "Caf%C3%A9%20%E2%98%95");
        assert_eq!(encode("tab\tdel\x7f"), "tab%09del%7F");
        assert_eq!(encode("jd@hotmail.com"), "jd@hotmail.com");
    }

    #[test]
    fn decoding_rules() {
        assert_eq!(decode("Bobby%20B"), "Bobby B");
        assert_eq!(decode("a+b"), "a+b");
        assert_eq!(decode("example%40hotmail.com"), "example@hotmail.com");
        assert_eq!(decode("caf%c3%a9"), "café");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%2"), "%2");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%FF"), "\u{FFFD}");
        assert_eq!(decode("Café"), "Café");
    }

    #[test]
    fn decode_inverts_encode() {
        for s in ["", "plain", "a b%c+d", "日本語 ☕", "\r\n\t", "%41"] {
            assert_eq!(decode(&encode(s)), s);
        }
    }

    #[test]
    fn limits() {
        assert_eq!(validate_encoded(""), Err(NameError::Empty));
        assert_eq!(validate_encoded(&"a".repeat(387)), Ok(()));
        assert_eq!(validate_encoded(&"a".repeat(388)), Err(NameError::TooLong(388)));
        assert_eq!(validate_encoded("a\u{1}b"), Err(NameError::ForbiddenByte));
        assert_eq!(validate_encoded("Caf\u{e9}"), Ok(()));
        // 129 three-byte characters fit exactly; one more does not.
        assert!(encode_checked(&"☕".repeat(43)).is_ok());
        assert_eq!(encode_checked(&"é".repeat(65)), Err(NameError::TooLong(390)));
    }
}
