//! The keyed hash of a code, and the pepper that keys it.
//!
//! `HMAC-SHA256(pepper, id ‖ 0 ‖ recipient ‖ 0 ‖ code)`. A 6-digit code has a million values,
//! so no slow hash would stop someone holding the database; the pepper, kept outside it, does.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const PEPPER_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum PepperError {
    #[error("cannot read the pepper file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the pepper file {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the pepper file {path} holds {len} bytes, not {PEPPER_LEN}; restore it from your backup (without it no pending code can be verified)"
    )]
    BadLength { path: String, len: usize },
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
}

/// The 32-byte key of the code hash. Never printed; zeroed on drop.
pub struct Pepper(Zeroizing<[u8; PEPPER_LEN]>);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(***)")
    }
}

impl Pepper {
    pub fn from_bytes(bytes: [u8; PEPPER_LEN]) -> Pepper {
        Pepper(Zeroizing::new(bytes))
    }

    /// Reads the pepper file, or creates it (mode 0600, 32 bytes from the OS) if it is missing.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Pepper, bool), PepperError> {
        let shown = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; PEPPER_LEN] =
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| PepperError::BadLength {
                            path: shown.clone(),
                            len: bytes.len(),
                        })?;
                if let Ok(meta) = std::fs::metadata(path)
                    && meta.permissions().mode() & 0o077 != 0
                {
                    tracing::warn!(path = %shown, "the pepper file can be read by others; chmod 600 it");
                }
                Ok((Pepper::from_bytes(key), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; PEPPER_LEN]);
                getrandom(&mut key[..])?;
                // create_new: if two processes race, one fails instead of both writing.
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|source| PepperError::Create {
                        path: shown.clone(),
                        source,
                    })?;
                file.write_all(&key[..])
                    .and_then(|()| file.sync_all())
                    .map_err(|source| PepperError::Create {
                        path: shown.clone(),
                        source,
                    })?;
                Ok((Pepper(key), true))
            }
            Err(source) => Err(PepperError::Read {
                path: shown,
                source,
            }),
        }
    }

    /// The hash of `code` for this verification and recipient.
    pub fn code_hash(&self, verification_id: &str, recipient: &str, code: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(verification_id.as_bytes());
        mac.update(&[0]);
        mac.update(recipient.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `code` is the one whose hash is `stored`, in constant time.
    pub fn matches(
        &self,
        verification_id: &str,
        recipient: &str,
        code: &str,
        stored: &[u8],
    ) -> bool {
        let candidate = self.code_hash(verification_id, recipient, code);
        candidate.as_slice().ct_eq(stored).into()
    }
}

fn getrandom(buf: &mut [u8]) -> Result<(), PepperError> {
    use rand_chacha::rand_core::{OsRng, TryRngCore};
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| PepperError::Random(e.to_string()))
}

/// HMAC takes keys of any length, so `new_from_slice` cannot fail; this keeps the signature
/// total without an `expect`.
fn unreachable_hmac() -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new(&Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_id_recipient_and_code() {
        let p = Pepper::from_bytes([1; 32]);
        let h = p.code_hash("id1", "+255712345678", "123456");
        assert!(p.matches("id1", "+255712345678", "123456", &h));
        assert!(!p.matches("id1", "+255712345678", "123457", &h));
        assert!(!p.matches("id2", "+255712345678", "123456", &h));
        assert!(!p.matches("id1", "+255712345679", "123456", &h));
        assert!(!p.matches("id1", "+255712345678", "123456", &h[..31]));
        // The separators keep ("ab","c") and ("a","bc") apart.
        assert_ne!(p.code_hash("ab", "c", "1"), p.code_hash("a", "bc", "1"));
        // Another pepper, another hash.
        assert!(!Pepper::from_bytes([2; 32]).matches("id1", "+255712345678", "123456", &h));
    }

    #[test]
    fn pepper_file_is_created_0600_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pepper");
        let (a, created) = Pepper::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), PEPPER_LEN);
        let (b, created) = Pepper::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.code_hash("i", "r", "1"), b.code_hash("i", "r", "1"));
        assert_eq!(format!("{a:?}"), "Pepper(***)");
    }

    #[test]
    fn a_pepper_file_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pepper");
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            Pepper::load_or_create(&path),
            Err(PepperError::BadLength { len: 5, .. })
        ));
    }
}
