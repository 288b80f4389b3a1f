//! Statements on the `api_key` table. The admin commands call these on their own connection
//! while the daemon runs; the daemon looks keys up through its readers on every request, so
//! a new key works at once and a revoked one stops at once.
//!
//! Creating and revoking write their `audit` row in the same transaction as the change.

use super::{Readers, StoreError, audit};
use crate::model::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub key: String,
    pub appid: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Stores a new key of `appid`, and its `key_created` audit row by `actor`.
pub fn insert(
    conn: &Connection,
    key: &str,
    appid: &str,
    secret_hash: &[u8],
    now: Timestamp,
    actor: &str,
) -> Result<(), StoreError> {
    let tx = begin(conn)?;
    tx.execute(
        "INSERT INTO api_key (key, appid, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![key, appid, secret_hash, now.0],
    )?;
    audit::record(
        &tx,
        now,
        actor,
        audit::KEY_CREATED,
        &target(appid, key),
        None,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn list(conn: &Connection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT key, appid, created_at, revoked_at FROM api_key ORDER BY created_at, key",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ApiKeyRecord {
            key: r.get(0)?,
            appid: r.get(1)?,
            created_at: Timestamp(r.get(2)?),
            revoked_at: r.get::<_, Option<i64>>(3)?.map(Timestamp),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes a key, with its `key_revoked` audit row by `actor`; false (and nothing written) if
/// there is no such key or it was already revoked.
pub fn revoke(
    conn: &Connection,
    key: &str,
    now: Timestamp,
    actor: &str,
) -> Result<bool, StoreError> {
    let tx = begin(conn)?;
    let appid: Option<String> = tx
        .query_row(
            "UPDATE api_key SET revoked_at = ?2 WHERE key = ?1 AND revoked_at IS NULL \
             RETURNING appid",
            params![key, now.0],
            |r| r.get(0),
        )
        .optional()?;
    let Some(appid) = appid else {
        return Ok(false);
    };
    audit::record(
        &tx,
        now,
        actor,
        audit::KEY_REVOKED,
        &target(&appid, key),
        None,
    )?;
    tx.commit()?;
    Ok(true)
}

/// IMMEDIATE: take the write lock up front (waiting out the daemon's writer through the busy
/// timeout) rather than fail midway when a read turns into a write.
fn begin(conn: &Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(Transaction::new_unchecked(
        conn,
        TransactionBehavior::Immediate,
    )?)
}

/// How the audit log names a key: its app and its public id.
fn target(appid: &str, key: &str) -> String {
    format!("{appid}/{key}")
}

impl Readers {
    /// The app and secret hash of a key that is not revoked.
    pub async fn active_api_key(
        &self,
        key: String,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT appid, secret_hash FROM api_key WHERE key = ?1 AND revoked_at IS NULL",
                )?
                .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }
}
