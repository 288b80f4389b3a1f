//! The `attempt` table (schema version 5): one row per judged verify, for GET /otp/attempts.
//! Never the code: only whether it matched, why not, and where the verify came from.

use super::{Readers, StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::params;

/// One judged verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: Timestamp,
    pub valid: bool,
    /// Why it was not valid (`incorrect_code`, `max_attempts_reached`); `None` when valid.
    pub reason: Option<String>,
    /// "unix", or the client's IP address.
    pub source: String,
    /// The API key's id on TCP (never its secret).
    pub api_key: Option<String>,
}

impl WriteTx<'_> {
    pub fn insert_attempt(&self, verification_id: &str, a: &Attempt) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO attempt (verification_id, at, valid, reason, source, api_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                verification_id,
                a.at.0,
                a.valid,
                a.reason,
                a.source,
                a.api_key
            ])?;
        Ok(())
    }
}

impl Readers {
    /// The judged verifies of a verification, newest first. There are at most its
    /// max_attempts of them (the last failure or the approval ends it), so no paging.
    pub async fn attempts(&self, verification_id: String) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, valid, reason, source, api_key FROM attempt \
                 WHERE verification_id = ?1 ORDER BY id DESC",
            )?;
            let rows = stmt.query_map([verification_id], |r| {
                Ok(Attempt {
                    at: Timestamp(r.get(0)?),
                    valid: r.get(1)?,
                    reason: r.get(2)?,
                    source: r.get(3)?,
                    api_key: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
