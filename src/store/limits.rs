//! Statements on the rate-limit tables `limit_recipient` and `limit_counter` (schema version 2).
//! What the rows mean is decided in `otp::limits`; here they are only read, written and pruned.

use super::{StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

/// A recipient's row: its latest accepted sends (oldest first) and its run of failed verifies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecipientRow {
    pub sends: Vec<Timestamp>,
    pub failures: u32,
    pub last_failure: Timestamp,
    pub locked_until: Timestamp,
    /// When the row says nothing any more (then pruned).
    pub forget_at: Timestamp,
}

/// A sliding-window counter of one key, for one window length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterRow {
    pub bucket: i64,
    pub count: i64,
    pub previous: i64,
}

/// The send times as 8-byte little-endian milliseconds each: compact, and no digits at rest.
fn encode(sends: &[Timestamp]) -> Vec<u8> {
    sends.iter().flat_map(|t| t.0.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Vec<Timestamp> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            Timestamp(i64::from_le_bytes(b))
        })
        .collect()
}

/// A recipient's row; also read (outside the writer) by GET /otp/rate-limits.
pub(super) fn recipient_row(
    conn: &Connection,
    recipient: &str,
) -> Result<Option<RecipientRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT sends, failures, last_failure, locked_until, forget_at FROM limit_recipient \
                 WHERE recipient = ?1",
        )?
        .query_row([recipient], |r| {
            Ok(RecipientRow {
                sends: decode(&r.get::<_, Vec<u8>>(0)?),
                failures: r.get(1)?,
                last_failure: Timestamp(r.get(2)?),
                locked_until: Timestamp(r.get(3)?),
                forget_at: Timestamp(r.get(4)?),
            })
        })
        .optional()?)
}

/// A counter's row; also read (outside the writer) by GET /otp/rate-limits.
pub(super) fn counter_row(
    conn: &Connection,
    scope: &str,
    key: &str,
    window_ms: i64,
) -> Result<Option<CounterRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT bucket, count, previous FROM limit_counter \
             WHERE scope = ?1 AND key = ?2 AND window_ms = ?3",
        )?
        .query_row(params![scope, key, window_ms], |r| {
            Ok(CounterRow {
                bucket: r.get(0)?,
                count: r.get(1)?,
                previous: r.get(2)?,
            })
        })
        .optional()?)
}

impl WriteTx<'_> {
    pub fn recipient_limits(&self, recipient: &str) -> Result<Option<RecipientRow>, StoreError> {
        recipient_row(self.conn, recipient)
    }

    /// Writes a recipient's row, whole.
    pub fn save_recipient_limits(
        &self,
        recipient: &str,
        row: &RecipientRow,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO limit_recipient \
                 (recipient, sends, failures, last_failure, locked_until, forget_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (recipient) DO UPDATE SET \
                 sends = excluded.sends, failures = excluded.failures, \
                 last_failure = excluded.last_failure, locked_until = excluded.locked_until, \
                 forget_at = excluded.forget_at",
            )?
            .execute(params![
                recipient,
                encode(&row.sends),
                row.failures,
                row.last_failure.0,
                row.locked_until.0,
                row.forget_at.0
            ])?;
        Ok(())
    }

    /// Updates an existing row but its `forget_at`: the index on that stays as it is.
    pub fn update_recipient_limits(
        &self,
        recipient: &str,
        row: &RecipientRow,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE limit_recipient SET sends = ?2, failures = ?3, last_failure = ?4, \
                 locked_until = ?5 WHERE recipient = ?1",
            )?
            .execute(params![
                recipient,
                encode(&row.sends),
                row.failures,
                row.last_failure.0,
                row.locked_until.0
            ])?;
        Ok(())
    }

    /// Creates a recipient's row with one send at `now`, unless it has one; returns whether
    /// it did.
    pub fn insert_recipient_limits(
        &self,
        recipient: &str,
        now: Timestamp,
        forget_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO limit_recipient (recipient, sends, forget_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (recipient) DO NOTHING",
            )?
            .execute(params![recipient, encode(&[now]), forget_at.0])?;
        Ok(inserted == 1)
    }

    pub fn delete_recipient_limits(&self, recipient: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM limit_recipient WHERE recipient = ?1")?
            .execute([recipient])?;
        Ok(())
    }

    pub fn limit_counter(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
    ) -> Result<Option<CounterRow>, StoreError> {
        counter_row(self.conn, scope, key, window_ms)
    }

    pub fn save_limit_counter(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
        row: CounterRow,
        forget_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO limit_counter (scope, key, window_ms, bucket, count, previous, forget_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (scope, key, window_ms) DO UPDATE SET \
                 bucket = excluded.bucket, count = excluded.count, previous = excluded.previous, \
                 forget_at = excluded.forget_at",
            )?
            .execute(params![
                scope,
                key,
                window_ms,
                row.bucket,
                row.count,
                row.previous,
                forget_at.0
            ])?;
        Ok(())
    }

    /// Sets the count of the current window of a counter whose window has not changed.
    pub fn count_limit_counter(
        &self,
        scope: &str,
        key: &str,
        window_ms: i64,
        count: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE limit_counter SET count = ?4 WHERE scope = ?1 AND key = ?2 AND window_ms = ?3",
            )?
            .execute(params![scope, key, window_ms, count])?;
        Ok(())
    }

    /// Deletes at most `batch` rows of each limit table that say nothing at `now`; returns
    /// how many went.
    pub fn prune_limits(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        let recipients = self
            .conn
            .prepare_cached(
                "DELETE FROM limit_recipient WHERE recipient IN \
                 (SELECT recipient FROM limit_recipient WHERE forget_at <= ?1 LIMIT ?2)",
            )?
            .execute(params![now.0, batch])?;
        let counters = self
            .conn
            .prepare_cached(
                "DELETE FROM limit_counter WHERE (scope, key, window_ms) IN \
                 (SELECT scope, key, window_ms FROM limit_counter WHERE forget_at <= ?1 LIMIT ?2)",
            )?
            .execute(params![now.0, batch])?;
        Ok(recipients.max(counters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_times_round_trip() {
        let sends = vec![Timestamp(0), Timestamp(1_700_000_000_123), Timestamp(-5)];
        assert_eq!(decode(&encode(&sends)), sends);
        assert!(decode(&[1, 2, 3]).is_empty());
    }
}
