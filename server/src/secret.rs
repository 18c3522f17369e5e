//! Password encryption at rest.
//!
//! MSNP2's MD5 login needs the server to compute MD5(challenge ‖ password) for a fresh challenge, so it
//! must be able to recover the password; hashing is not an option. Passwords are sealed with
//! ChaCha20-Poly1305 under a key kept in a separate file (mode 0600), so the database file alone
//! reveals no password.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use thiserror::Error;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("key file {0} must hold exactly {KEY_LEN} bytes")]
    BadKey(String),
    #[error("a stored password cannot be decrypted with this key (wrong --key-file?)")]
    Undecryptable,
    #[error("the system random number generator failed")]
    Random,
}

/// The key passwords are sealed with.
#[derive(Clone)]
pub struct Secret {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl Secret {
    /// Loads the key from `path`, creating it (random, mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Secret, SecretError> {
        Ok(Secret::from_key(load_or_create_key(path)?.0))
    }

    pub fn from_key(key: [u8; KEY_LEN]) -> Secret {
        Secret { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// A random key, for tests and throw-away databases.
    pub fn random() -> Result<Secret, SecretError> {
        Ok(Secret::from_key(random_bytes()?))
    }

    /// nonce ‖ ciphertext.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, SecretError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let sealed = self.cipher.encrypt(Nonce::from_slice(&nonce), plain).map_err(|_| SecretError::Undecryptable)?;
        Ok([&nonce[..], &sealed].concat())
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), body).map_err(|_| SecretError::Undecryptable)
    }
}

/// A 32-byte key kept in the file at `path`, and whether it was made just now: read, or made (random, mode
/// 0600) if the file does not exist.
pub fn load_or_create_key(path: &Path) -> Result<([u8; KEY_LEN], bool), SecretError> {
    let err = |source| SecretError::KeyFile { path: path.display().to_string(), source };
    match std::fs::read(path) {
        Ok(key) => {
            let key: [u8; KEY_LEN] = key.try_into().map_err(|_| SecretError::BadKey(path.display().to_string()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<KEY_LEN>()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(err)?;
            file.write_all(&key).and_then(|()| file.sync_all()).map_err(err)?;
            Ok((key, true))
        }
        Err(e) => Err(err(e)),
    }
}

/// `N` bytes from the operating system's random number generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| SecretError::Random)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_wrong_key() {
        let secret = Secret::random().unwrap();
        let sealed = secret.seal(b"hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(secret.open(&sealed).unwrap(), b"hunter2");
        assert!(matches!(Secret::random().unwrap().open(&sealed), Err(SecretError::Undecryptable)));
        assert!(matches!(secret.open(b"short"), Err(SecretError::Undecryptable)));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("msnp-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        let _ = std::fs::remove_file(&path);
        let first = Secret::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = first.seal(b"pw").unwrap();
        let again = Secret::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), b"pw");
        std::fs::write(&path, b"too short").unwrap();
        assert!(matches!(Secret::load_or_create(&path), Err(SecretError::BadKey(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
