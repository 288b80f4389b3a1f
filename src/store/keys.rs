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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, open_write_connection};

    fn audit_rows(conn: &Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare("SELECT actor, action, target FROM audit ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn each_change_and_its_audit_row_commit_together() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_write_connection(&dir.path().join("t.db"), Durability::Normal).unwrap();
        insert(&conn, "ok_a", "shop", b"hash", Timestamp(1), "cli:op").unwrap();
        assert!(revoke(&conn, "ok_a", Timestamp(2), "cli:op").unwrap());
        // Nothing to revoke: nothing changes, nothing is audited.
        assert!(!revoke(&conn, "ok_a", Timestamp(3), "cli:op").unwrap());
        assert!(!revoke(&conn, "ok_none", Timestamp(3), "cli:op").unwrap());
        let row = |action: &str| {
            (
                "cli:op".to_string(),
                action.to_string(),
                "shop/ok_a".to_string(),
            )
        };
        assert_eq!(
            audit_rows(&conn),
            [row(audit::KEY_CREATED), row(audit::KEY_REVOKED)]
        );

        // When the audit row cannot be written, the change does not happen either.
        insert(&conn, "ok_b", "shop", b"hash", Timestamp(4), "cli:op").unwrap();
        conn.execute_batch("DROP TABLE audit").unwrap();
        assert!(insert(&conn, "ok_c", "shop", b"hash", Timestamp(5), "cli:op").is_err());
        assert!(revoke(&conn, "ok_b", Timestamp(5), "cli:op").is_err());
        let keys: Vec<(String, Option<Timestamp>)> = list(&conn)
            .unwrap()
            .into_iter()
            .map(|k| (k.key, k.revoked_at))
            .collect();
        assert_eq!(
            keys,
            [
                ("ok_a".to_string(), Some(Timestamp(2))),
                ("ok_b".to_string(), None)
            ]
        );
    }
}
