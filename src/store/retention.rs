//! Retention (`[store] retention`): what the sweeper deletes once it has been kept long enough.
//!
//! ```text
//!  verification  ended (any status but pending), ended_at < before, no outbox row
//!    └─ its events and attempts go in the same transaction
//!  event         about no verification (verification_id ''), at < before
//!  webhook_delivery  ended (delivered or failed), ended_at < before; its attempts cascade
//! ```
//!
//! Never touched: pending verifications, a verification whose message is still in the outbox
//! (the dispatcher may hold it), rate-limit and lockout rows and fraud counters (they have
//! their own windows, see `prune_limits` and `prune_fraud`), API keys, and the audit log.
//! Each call deletes at most `limit` rows of each kind, so one pass is a short transaction of
//! the writer; the sweeper calls again at once while a call comes back full.

use super::{StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::params;

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub verifications: usize,
    /// Events of the purged verifications.
    pub events: usize,
    pub attempts: usize,
    /// Events about no verification.
    pub app_events: usize,
    pub webhook_deliveries: usize,
}

impl Purged {
    /// Whether any kind reached the batch bound, so that more may be left.
    pub fn full(&self, limit: usize) -> bool {
        self.verifications >= limit || self.app_events >= limit || self.webhook_deliveries >= limit
    }

    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

/// Ended verifications past the cutoff, oldest first (a backlog drains in the order it aged).
/// `status != 'pending'` is written as the partial index verification_ended says it.
const ENDED: &str = "SELECT id FROM verification WHERE status != 'pending' AND ended_at < ?1 \
    AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.verification_id = verification.id) \
    ORDER BY ended_at LIMIT ?2";

/// Events about no verification past the cutoff. Named index: without statistics SQLite
/// prefers the equality on event_verification and would walk every such event, old or not, on
/// each pass.
const APP_EVENTS: &str = "DELETE FROM event WHERE id IN (SELECT id FROM event \
    INDEXED BY event_unattached_at WHERE verification_id = '' AND at < ?1 LIMIT ?2)";

impl WriteTx<'_> {
    /// Deletes, up to `limit` of each kind, what ended (or happened) before `before`.
    pub fn purge_retention(&self, before: Timestamp, limit: usize) -> Result<Purged, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(ENDED)?
            .query_map(params![before.0, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut purged = Purged::default();
        for id in &ids {
            purged.events += self
                .conn
                .prepare_cached("DELETE FROM event WHERE verification_id = ?1")?
                .execute([id])?;
            purged.attempts += self
                .conn
                .prepare_cached("DELETE FROM attempt WHERE verification_id = ?1")?
                .execute([id])?;
            purged.verifications += self
                .conn
                .prepare_cached("DELETE FROM verification WHERE id = ?1")?
                .execute([id])?;
        }
        purged.app_events = self
            .conn
            .prepare_cached(APP_EVENTS)?
            .execute(params![before.0, limit])?;
        purged.webhook_deliveries = self.purge_webhook_log(before, limit)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::store::{Durability, Store, attempts::Attempt};

    const DAY: i64 = 86_400_000;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        (dir, store)
    }

    /// A verification created at `at` with an event, an attempt and a webhook delivery;
    /// ended with `status` at `at` unless that is pending; queued in the outbox if `queued`.
    fn seed(tx: &WriteTx<'_>, id: &str, at: i64, status: Status, queued: bool) {
        tx.conn
            .execute(
                "INSERT INTO verification (id, appid, recipient, status, code_length, ttl_ms, \
                 created_at, expires_at, last_send_at, max_attempts) \
                 VALUES (?1, 'shop', '+255712345678', 'pending', 6, 1000, ?2, ?3, ?2, 5)",
                params![id, at, at + 1000],
            )
            .unwrap();
        tx.insert_event("shop", id, "created", None, Timestamp(at))
            .unwrap();
        let attempt = Attempt {
            at: Timestamp(at),
            valid: false,
            reason: Some("incorrect_code".into()),
            source: "unix".into(),
            api_key: None,
        };
        tx.insert_attempt(id, &attempt).unwrap();
        if status != Status::Pending {
            tx.end_verification(id, status, Timestamp(at)).unwrap();
        }
        if queued {
            tx.enqueue(id, Timestamp(at)).unwrap();
        }
    }

    fn rows(tx: &WriteTx<'_>, table: &str, id: &str) -> i64 {
        tx.conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE verification_id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn exists(tx: &WriteTx<'_>, id: &str) -> bool {
        tx.verification(id).unwrap().is_some()
    }

    #[tokio::test]
    async fn only_what_ended_before_the_cutoff_goes_with_its_rows() {
        let (_dir, store) = store();
        let now = 100 * DAY;
        let before = Timestamp(now - 30 * DAY);
        let (purged, kept) = store
            .writer
            .run(move |tx| {
                seed(tx, "old-approved", now - 40 * DAY, Status::Approved, false);
                seed(tx, "old-expired", now - 31 * DAY, Status::Expired, false);
                seed(tx, "recent", now - 29 * DAY, Status::Canceled, false);
                seed(tx, "old-pending", now - 40 * DAY, Status::Pending, true);
                // Ended, but its message still waits in the outbox (the dispatcher owns it).
                seed(tx, "old-queued", now - 40 * DAY, Status::Failed, true);
                tx.insert_app_event("shop", "rate_limited", None, Timestamp(now - 31 * DAY))?;
                tx.insert_app_event("shop", "rate_limited", None, Timestamp(now - DAY))?;
                // Limit rows are not retention's business: their own forget_at decides.
                tx.conn.execute(
                    "INSERT INTO limit_recipient (recipient, sends, forget_at) \
                     VALUES ('+255712345678', x'', ?1)",
                    [now - 40 * DAY],
                )?;
                tx.conn.execute(
                    "INSERT INTO audit (at, actor, action, target) \
                     VALUES (?1, 'cli:root', 'key_created', 'shop/ok_1')",
                    [now - 400 * DAY],
                )?;
                let purged = tx.purge_retention(before, 100)?;
                let kept: Vec<(String, bool, i64, i64)> = [
                    "old-approved",
                    "old-expired",
                    "recent",
                    "old-pending",
                    "old-queued",
                ]
                .iter()
                .map(|id| {
                    (
                        id.to_string(),
                        exists(tx, id),
                        rows(tx, "event", id),
                        rows(tx, "attempt", id),
                    )
                })
                .collect();
                Ok::<_, StoreError>((purged, kept))
            })
            .await
            .unwrap();
        assert_eq!(
            purged,
            Purged {
                verifications: 2,
                events: 2,
                attempts: 2,
                app_events: 1,
                webhook_deliveries: 0,
            }
        );
        let expect = |id: &str, there: bool| (id.to_string(), there, there as i64, there as i64);
        assert_eq!(
            kept,
            vec![
                expect("old-approved", false),
                expect("old-expired", false),
                expect("recent", true),
                expect("old-pending", true),
                expect("old-queued", true),
            ]
        );
        let left: (i64, i64, i64) = store
            .readers
            .read(|conn| {
                Ok(conn.query_row(
                    "SELECT (SELECT count(*) FROM event WHERE verification_id = ''), \
                     (SELECT count(*) FROM limit_recipient), (SELECT count(*) FROM audit)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(left, (1, 1, 1));
    }

    #[tokio::test]
    async fn each_call_deletes_at_most_the_batch() {
        let (_dir, store) = store();
        let now = 100 * DAY;
        store
            .writer
            .run(move |tx| {
                for i in 0..7 {
                    seed(
                        tx,
                        &format!("v{i}"),
                        now - 40 * DAY + i,
                        Status::Expired,
                        false,
                    );
                    tx.insert_app_event("shop", "blocked", None, Timestamp(now - 40 * DAY))?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let before = Timestamp(now - 30 * DAY);
        let mut passes = Vec::new();
        loop {
            let (purged, left) = store
                .writer
                .run(move |tx| {
                    let purged = tx.purge_retention(before, 3)?;
                    let left: Vec<usize> =
                        (0..7).filter(|i| exists(tx, &format!("v{i}"))).collect();
                    Ok::<_, StoreError>((purged, left))
                })
                .await
                .unwrap();
            passes.push((
                purged.verifications,
                purged.app_events,
                purged.full(3),
                left,
            ));
            if !purged.full(3) {
                break;
            }
        }
        // Oldest first, three a call, until a call comes back short.
        assert_eq!(
            passes,
            vec![
                (3, 3, true, vec![3, 4, 5, 6]),
                (3, 3, true, vec![6]),
                (1, 1, false, vec![]),
            ]
        );
    }

    #[tokio::test]
    async fn ended_webhook_deliveries_go_and_pending_ones_stay() {
        let (_dir, store) = store();
        let now = 100 * DAY;
        let before = Timestamp(now - 30 * DAY);
        let left: Vec<String> = store
            .writer
            .run(move |tx| {
                for (webhook, state, ended) in [
                    ("old", "delivered", Some(now - 31 * DAY)),
                    ("recent", "failed", Some(now - DAY)),
                    ("pending", "pending", None),
                ] {
                    tx.conn.execute(
                        "INSERT INTO webhook_delivery (webhook, event_id, event, at, \
                         verification_id, appid, recipient, status, delivery_state, state, \
                         due_at, ended_at) VALUES (?1, 1, 'approved', ?2, 'v', 'shop', \
                         '+255712345678', 'approved', 'delivered', ?3, ?2, ?4)",
                        params![webhook, now - 40 * DAY, state, ended],
                    )?;
                    tx.conn.execute(
                        "INSERT INTO webhook_attempt (delivery_id, at, duration_ms) \
                         VALUES (last_insert_rowid(), ?1, 5)",
                        [now - 40 * DAY],
                    )?;
                }
                let purged = tx.purge_retention(before, 100)?;
                assert_eq!(purged.webhook_deliveries, 1);
                let tries: i64 =
                    tx.conn
                        .query_row("SELECT count(*) FROM webhook_attempt", [], |r| r.get(0))?;
                assert_eq!(tries, 2, "the purged delivery's tries went with it");
                let mut stmt = tx.conn.prepare(
                    "SELECT d.webhook FROM webhook_delivery d \
                     JOIN webhook_attempt a ON a.delivery_id = d.id ORDER BY d.id",
                )?;
                let left = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok::<_, StoreError>(left)
            })
            .await
            .unwrap();
        assert_eq!(left, vec!["recent".to_string(), "pending".to_string()]);
    }

    #[tokio::test]
    async fn the_purge_reads_through_its_indexes() {
        let (_dir, store) = store();
        let plans = store
            .readers
            .read(|conn| {
                let plan = |sql: &str| -> Result<String, StoreError> {
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows: Vec<String> = stmt
                        .query_map(params![5, 10], |r| r.get::<_, String>(3))?
                        .collect::<Result<_, _>>()?;
                    Ok(rows.join("; "))
                };
                Ok((plan(ENDED)?, plan(APP_EVENTS)?))
            })
            .await
            .unwrap();
        assert!(plans.0.contains("verification_ended"), "{}", plans.0);
        assert!(plans.1.contains("event_unattached_at"), "{}", plans.1);
    }
}
