//! The `audit` table (schema version 6): who did which admin action, when. A row is written
//! in the same transaction as the change it records (see `keys`), so there is never a change
//! without its row nor a row without its change. Retention never deletes these rows.

use super::{StoreError, open_read_connection};
use crate::model::Timestamp;
use rusqlite::{Connection, params};
use std::path::Path;

/// `otpd key create`.
pub const KEY_CREATED: &str = "key_created";
/// `otpd key revoke`.
pub const KEY_REVOKED: &str = "key_revoked";

/// One admin action, as `otpd audit` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    /// Who: `cli:<login name>`.
    pub actor: String,
    pub action: String,
    /// What it was done to: `<appid>/<api key id>` for keys. Never a secret.
    pub target: String,
    pub detail: Option<String>,
}

/// Records an action; call it inside the transaction of the change.
pub fn record(
    conn: &Connection,
    at: Timestamp,
    actor: &str,
    action: &str,
    target: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at.0, actor, action, target, detail])?;
    Ok(())
}

/// Actions at or after `since`, newest first, at most `limit`.
pub fn list(
    conn: &Connection,
    since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail FROM audit WHERE at >= ?1 \
         ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![since.map_or(i64::MIN, |t| t.0), limit], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at: Timestamp(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`list`] on a read-only connection to the database at `path`, which the daemon may be
/// writing. A database from before the audit log (not yet upgraded by a daemon or a key
/// command of this version) has no actions to show.
pub fn read(
    path: &Path,
    since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let conn = open_read_connection(path)?;
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'audit'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    list(&conn, since, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, open_write_connection};

    #[test]
    fn newest_first_from_since_up_to_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open_write_connection(&path, Durability::Normal).unwrap();
        for (at, target) in [(10, "a/1"), (20, "a/2"), (20, "a/3"), (30, "b/4")] {
            record(&conn, Timestamp(at), "cli:op", KEY_CREATED, target, None).unwrap();
        }
        let targets = |since, limit| -> Vec<String> {
            read(&path, since, limit)
                .unwrap()
                .into_iter()
                .map(|e| e.target)
                .collect()
        };
        assert_eq!(targets(None, 10), ["b/4", "a/3", "a/2", "a/1"]);
        assert_eq!(targets(Some(Timestamp(20)), 10), ["b/4", "a/3", "a/2"]);
        assert_eq!(targets(None, 2), ["b/4", "a/3"]);
        assert!(targets(Some(Timestamp(31)), 10).is_empty());
    }

    #[test]
    fn a_database_from_before_the_audit_log_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE verification (id TEXT)")
            .unwrap();
        assert_eq!(read(&path, None, 10).unwrap(), Vec::new());
    }
}
