//! API keys: a public key id and a secret shown once. Only SHA-256 of the secret is stored;
//! secrets are 256 random bits, so a fast hash is enough (nothing to brute-force).

use crate::model::Timestamp;
use crate::otp::pin::Randomness;
use crate::secret::Secret;
use crate::store::{StoreError, keys};
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A newly made key, as `otpd key create` prints it.
#[derive(Debug, serde::Serialize)]
pub struct NewKey {
    pub appid: String,
    pub api_key: String,
    #[serde(serialize_with = "expose")]
    pub api_secret: Secret,
}

fn expose<S: serde::Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` is the one whose hash is `stored`, in constant time.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    secret_hash(secret).as_slice().ct_eq(stored).into()
}

/// Makes a key of `appid` and stores it, audited as done by `actor`.
pub fn create_key(
    conn: &Connection,
    random: &Randomness,
    appid: &str,
    now: Timestamp,
    actor: &str,
) -> Result<NewKey, StoreError> {
    let api_key = format!("ok_{}", random.token(12));
    let api_secret = Secret::new(random.token(32));
    keys::insert(
        conn,
        &api_key,
        appid,
        &secret_hash(api_secret.expose()),
        now,
        actor,
    )?;
    Ok(NewKey {
        appid: appid.to_string(),
        api_key,
        api_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_secret_matches() {
        let h = secret_hash("s3cret");
        assert!(secret_matches("s3cret", &h));
        assert!(!secret_matches("s3creT", &h));
        assert!(!secret_matches("", &h));
    }
}
