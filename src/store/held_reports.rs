//! The `held_report` table (schema version 7): delivery reports that matched no message when
//! they came, kept until the record of their submit claims them.

use super::{StoreError, WriteTx, parse_enum};
use crate::model::{DeliveryState, Timestamp};
use rusqlite::{OptionalExtension, params};

/// A report waiting for its submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldReport {
    pub state: DeliveryState,
    pub error: Option<String>,
    /// When the report says it happened.
    pub at: Timestamp,
}

impl WriteTx<'_> {
    /// Keeps a report for (`channel`, `message_id`) until [`Self::take_held_report`]. A second
    /// report for the same message replaces the first, unless that one was final and this one
    /// is not (an intermediate "enroute" arriving late says less).
    pub fn hold_report(
        &self,
        channel: &str,
        message_id: &str,
        report: &HeldReport,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO held_report (channel, message_id, state, error, at, held_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (channel, message_id) DO UPDATE SET state = excluded.state, \
                 error = excluded.error, at = excluded.at, held_at = excluded.held_at \
                 WHERE ?7 OR held_report.state NOT IN \
                 ('delivered', 'undelivered', 'expired', 'rejected')",
            )?
            .execute(params![
                channel,
                message_id,
                report.state.as_str(),
                report.error,
                report.at.0,
                now.0,
                report.state.is_final(),
            ])?;
        Ok(())
    }

    /// Removes and returns the report held for (`channel`, `message_id`), if any.
    pub fn take_held_report(
        &self,
        channel: &str,
        message_id: &str,
    ) -> Result<Option<HeldReport>, StoreError> {
        let row: Option<(String, Option<String>, i64)> = self
            .conn
            .prepare_cached(
                "DELETE FROM held_report WHERE channel = ?1 AND message_id = ?2 \
                 RETURNING state, error, at",
            )?
            .query_row(params![channel, message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        row.map(|(state, error, at)| {
            Ok(HeldReport {
                state: parse_enum("held_report.state", state, DeliveryState::parse)?,
                error,
                at: Timestamp(at),
            })
        })
        .transpose()
    }

    /// Deletes at most `batch` reports held since before `before` (their submit was never
    /// recorded, or was recorded under another id); returns how many went.
    pub fn drop_stale_held_reports(
        &self,
        before: Timestamp,
        batch: usize,
    ) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM held_report WHERE (channel, message_id) IN \
                 (SELECT channel, message_id FROM held_report WHERE held_at < ?1 LIMIT ?2)",
            )?
            .execute(params![before.0, batch])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};

    fn report(state: DeliveryState, at: i64) -> HeldReport {
        HeldReport {
            state,
            error: (state != DeliveryState::Delivered).then(|| "err:001".to_string()),
            at: Timestamp(at),
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_held_report_is_taken_once() {
        let (_dir, store) = store();
        let taken = store
            .writer
            .run(|tx| {
                let held = report(DeliveryState::Delivered, 5);
                tx.hold_report("op", "a1", &held, Timestamp(10))?;
                let first = tx.take_held_report("op", "a1")?;
                let again = tx.take_held_report("op", "a1")?;
                let other = tx.take_held_report("other", "a1")?;
                Ok::<_, StoreError>((first, again, other))
            })
            .await
            .unwrap();
        assert_eq!(
            taken,
            (Some(report(DeliveryState::Delivered, 5)), None, None)
        );
    }

    #[tokio::test]
    async fn a_final_report_is_not_replaced_by_a_late_intermediate_one() {
        let (_dir, store) = store();
        let taken = store
            .writer
            .run(|tx| {
                tx.hold_report(
                    "op",
                    "a1",
                    &report(DeliveryState::Submitted, 1),
                    Timestamp(1),
                )?;
                tx.hold_report(
                    "op",
                    "a1",
                    &report(DeliveryState::Undelivered, 2),
                    Timestamp(2),
                )?;
                tx.hold_report(
                    "op",
                    "a1",
                    &report(DeliveryState::Submitted, 3),
                    Timestamp(3),
                )?;
                let kept = tx.take_held_report("op", "a1")?;
                // A final one replaces a final one: the network's last word.
                tx.hold_report(
                    "op",
                    "b2",
                    &report(DeliveryState::Undelivered, 1),
                    Timestamp(1),
                )?;
                tx.hold_report(
                    "op",
                    "b2",
                    &report(DeliveryState::Delivered, 2),
                    Timestamp(2),
                )?;
                Ok::<_, StoreError>((kept, tx.take_held_report("op", "b2")?))
            })
            .await
            .unwrap();
        assert_eq!(
            taken,
            (
                Some(report(DeliveryState::Undelivered, 2)),
                Some(report(DeliveryState::Delivered, 2))
            )
        );
    }

    #[tokio::test]
    async fn stale_reports_are_dropped_in_batches_and_fresh_ones_kept() {
        let (_dir, store) = store();
        let (dropped, left) = store
            .writer
            .run(|tx| {
                for (i, held_at) in [100, 200, 300, 400].into_iter().enumerate() {
                    let held = report(DeliveryState::Delivered, held_at);
                    tx.hold_report("op", &format!("m{i}"), &held, Timestamp(held_at))?;
                }
                let first = tx.drop_stale_held_reports(Timestamp(301), 2)?;
                let second = tx.drop_stale_held_reports(Timestamp(301), 2)?;
                let third = tx.drop_stale_held_reports(Timestamp(301), 2)?;
                let left = ["m0", "m1", "m2", "m3"]
                    .iter()
                    .map(|m| tx.take_held_report("op", m).map(|r| r.is_some()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, StoreError>(((first, second, third), left))
            })
            .await
            .unwrap();
        assert_eq!(dropped, (2, 1, 0));
        assert_eq!(left, [false, false, false, true]);
    }
}
