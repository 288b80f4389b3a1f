//! Statements of the fraud guard (schema version 4): its counters in `fraud_counter`, and the
//! keys each send was counted under, on its verification. What the numbers mean is decided in
//! `otp::fraud`.

use super::{StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::{OptionalExtension, params};

/// One key's counts for one window length: the current fixed window and the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FraudRow {
    pub bucket: i64,
    pub sends: i64,
    pub approvals: i64,
    pub previous_sends: i64,
    pub previous_approvals: i64,
}

impl WriteTx<'_> {
    pub fn fraud_counter(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
    ) -> Result<Option<FraudRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT bucket, sends, approvals, previous_sends, previous_approvals \
                 FROM fraud_counter WHERE scope = ?1 AND key = ?2 AND window_ms = ?3",
            )?
            .query_row(params![scope, key, window_ms], |r| {
                Ok(FraudRow {
                    bucket: r.get(0)?,
                    sends: r.get(1)?,
                    approvals: r.get(2)?,
                    previous_sends: r.get(3)?,
                    previous_approvals: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Writes a counter whole.
    pub fn save_fraud_counter(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
        row: FraudRow,
        forget_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO fraud_counter (scope, key, window_ms, bucket, sends, approvals, \
                 previous_sends, previous_approvals, forget_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (scope, key, window_ms) DO UPDATE SET bucket = excluded.bucket, \
                 sends = excluded.sends, approvals = excluded.approvals, \
                 previous_sends = excluded.previous_sends, \
                 previous_approvals = excluded.previous_approvals, forget_at = excluded.forget_at",
            )?
            .execute(params![
                scope,
                key,
                window_ms,
                row.bucket,
                row.sends,
                row.approvals,
                row.previous_sends,
                row.previous_approvals,
                forget_at.0
            ])?;
        Ok(())
    }

    /// Sets the send count of a counter whose fixed window has not changed.
    pub fn count_fraud_send(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
        sends: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE fraud_counter SET sends = ?4 \
                 WHERE scope = ?1 AND key = ?2 AND window_ms = ?3",
            )?
            .execute(params![scope, key, window_ms, sends])?;
        Ok(())
    }

    /// Keeps on a verification the keys its send was counted under.
    pub fn set_fraud_keys(
        &self,
        id: &str,
        prefix: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE verification SET fraud_prefix = ?2, fraud_ip = ?3 WHERE id = ?1",
            )?
            .execute(params![id, prefix, ip])?;
        Ok(())
    }

    /// The keys a verification's send was counted under (none if it was not counted).
    pub fn fraud_keys(&self, id: &str) -> Result<(Option<String>, Option<String>), StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT fraud_prefix, fraud_ip FROM verification WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_default())
    }

    /// Deletes at most `batch` counters that say nothing at `now`; returns how many went.
    pub fn prune_fraud(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM fraud_counter WHERE (scope, key, window_ms) IN \
                 (SELECT scope, key, window_ms FROM fraud_counter WHERE forget_at <= ?1 LIMIT ?2)",
            )?
            .execute(params![now.0, batch])?)
    }
}
