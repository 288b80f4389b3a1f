//! Schema versions: `schema.sql` is cut at its `-- version N` lines; a database at
//! `PRAGMA user_version` = k gets every block above k in one transaction.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// The whole schema, as shipped in the repository.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// The schema's upgrade blocks as (version, SQL), in order.
pub fn schema_versions() -> Vec<(i64, &'static str)> {
    let mut blocks = Vec::new();
    let mut current: Option<(i64, usize)> = None;
    let mut offset = 0;
    for line in SCHEMA.split_inclusive('\n') {
        if let Some(n) = line.trim().strip_prefix("-- version ")
            && let Ok(n) = n.trim().parse::<i64>()
        {
            if let Some((v, start)) = current {
                blocks.push((v, SCHEMA.get(start..offset).unwrap_or("")));
            }
            current = Some((n, offset + line.len()));
        }
        offset += line.len();
    }
    if let Some((v, start)) = current {
        blocks.push((v, SCHEMA.get(start..).unwrap_or("")));
    }
    blocks
}

/// Brings `conn` to the newest schema version, all in one transaction.
pub(super) fn upgrade(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let versions = schema_versions();
    let newest = versions.last().map(|(v, _)| *v).unwrap_or(0);
    // IMMEDIATE: two processes opening a new database at once must not both upgrade it.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > newest {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: newest,
        });
    }
    if found == newest {
        return Ok(());
    }
    for (version, sql) in versions.iter().filter(|(v, _)| *v > found) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        // Gaps are allowed: features developed in parallel each take a block number.
        let versions = schema_versions();
        assert_eq!(versions.first().map(|(v, _)| *v), Some(1));
        let mut last = 0;
        for (v, sql) in &versions {
            assert!(*v > last, "version {v} after {last}");
            last = *v;
            assert!(sql.contains("CREATE") || sql.contains("ALTER"));
        }
    }

    #[test]
    fn every_old_version_upgrades_to_the_newest() {
        let versions = schema_versions();
        let newest = versions.last().unwrap().0;
        for start in 0..=newest {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.db");
            let mut conn = Connection::open(&path).unwrap();
            for (v, sql) in versions.iter().filter(|(v, _)| *v <= start) {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", v).unwrap();
            }
            upgrade(&mut conn, &path).unwrap();
            let got: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(got, newest);
            // Upgrading again is a no-op.
            upgrade(&mut conn, &path).unwrap();
        }
    }

    #[test]
    fn a_version_1_database_keeps_its_rows_and_gets_the_limit_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        let (_, v1) = schema_versions().into_iter().next().unwrap();
        conn.execute_batch(v1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO verification (id, appid, recipient, status, code_length, ttl_ms, \
             created_at, expires_at, last_send_at, max_attempts) \
             VALUES ('v1', 'default', '+255712345678', 'pending', 6, 300000, 1, 300001, 1, 5); \
             INSERT INTO event (at, verification_id, event) VALUES (1, 'v1', 'created');",
        )
        .unwrap();
        upgrade(&mut conn, &path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_versions().last().unwrap().0);
        // Version 5 gave the old event its verification's app.
        let appid: Option<String> = conn
            .query_row("SELECT appid FROM event", [], |r| r.get(0))
            .unwrap();
        assert_eq!(appid.as_deref(), Some("default"));
        let kept: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM verification) + (SELECT count(*) FROM event)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 2);
        conn.execute_batch(
            "INSERT INTO limit_recipient (recipient, sends, forget_at) VALUES ('+255712345678', x'', 9); \
             INSERT INTO limit_counter (scope, key, window_ms, bucket, count, previous, forget_at) \
             VALUES ('app', 'default', 60000, 1, 1, 0, 180000);",
        )
        .unwrap();
        // STRICT: a wrong type is refused, not stored.
        assert!(
            conn.execute_batch(
                "INSERT INTO limit_counter (scope, key, window_ms, bucket, count, previous, forget_at) \
                 VALUES ('app', 'x', 'a minute', 1, 1, 0, 0)"
            )
            .is_err()
        );
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        assert!(matches!(
            upgrade(&mut conn, &path),
            Err(StoreError::TooNew { found: 999, .. })
        ));
    }
}
