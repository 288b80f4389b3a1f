//! Statements on the `webhook_delivery` and `webhook_attempt` tables: the durable webhook
//! queue and its delivery log.
//!
//! ```text
//!  insert_event ──(same transaction)──▶ one `pending` row per subscribed webhook
//!  sender: claim (lease) ──POST──▶ 2xx: `delivered` | else: rescheduled, or `failed` past max_age
//!          every try adds a `webhook_attempt` row
//! ```
//!
//! Which webhook wants which events of which app is a rule of the `webhook` module; it hands
//! the result to the writer as a [`Subscriptions`] table (swapped on reload), and the store only
//! looks rows up in it.

use super::{Readers, StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// One webhook's subscription: the app whose verifications it reports (`None`: every app)
/// and the events it wants (`None`: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub webhook: String,
    pub app: Option<String>,
    pub events: Option<Vec<String>>,
}

/// Every configured webhook's subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions(pub Vec<Subscription>);

impl Subscriptions {
    /// The webhooks that want `event` about a verification of `appid`.
    pub fn wanting<'a>(&'a self, appid: &'a str, event: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |s| s.app.as_deref().is_none_or(|a| a == appid))
            .filter(move |s| {
                s.events
                    .as_ref()
                    .is_none_or(|e| e.iter().any(|e| e == event))
            })
            .map(|s| s.webhook.as_str())
    }
}

/// The writer's current [`Subscriptions`], shared with whoever reloads the config, and the
/// signal that new deliveries were committed.
#[derive(Clone, Default)]
pub struct SubscriptionTable(Arc<RwLock<Arc<Subscriptions>>>, Arc<Notify>);

impl SubscriptionTable {
    pub(super) fn wake(&self) {
        self.1.notify_one();
    }

    pub(super) fn queued(&self) -> Arc<Notify> {
        self.1.clone()
    }

    pub fn get(&self) -> Arc<Subscriptions> {
        match self.0.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, subs: Subscriptions) {
        let subs = Arc::new(subs);
        match self.0.write() {
            Ok(mut current) => *current = subs,
            Err(poisoned) => *poisoned.into_inner() = subs,
        }
    }
}

/// A claimed delivery: what the payload says, and how many tries it has had.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook: String,
    pub event: String,
    pub at: Timestamp,
    pub verification_id: String,
    pub appid: String,
    pub recipient: String,
    pub status: String,
    pub delivery_state: String,
    pub delivery_channel: Option<String>,
    pub message_id: Option<String>,
    pub delivery_error: Option<String>,
    pub detail: Option<String>,
    pub tries: u32,
}

/// One HTTP try, for the delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: Timestamp,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryLogEntry {
    pub id: i64,
    pub webhook: String,
    pub event: String,
    pub at: Timestamp,
    pub verification_id: String,
    pub state: String,
    pub tries: u32,
    pub next_try_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// `None`: every app.
    pub appid: Option<String>,
    pub webhook: Option<String>,
    pub state: Option<String>,
    pub verification_id: Option<String>,
    /// Only deliveries with an id below this (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: usize,
}

impl WriteTx<'_> {
    /// Queues event `event_id` for every webhook that wants it. Called by `insert_event`, so
    /// the rows commit (or not) with the event.
    pub(super) fn enqueue_webhooks(
        &self,
        event_id: i64,
        appid: &str,
        verification_id: &str,
        event: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if self.subs.0.is_empty() || verification_id.is_empty() {
            return Ok(());
        }
        for webhook in self.subs.wanting(appid, event) {
            self.conn
                .prepare_cached(
                    "INSERT INTO webhook_delivery (webhook, event_id, event, at, verification_id, \
                     appid, recipient, status, delivery_state, delivery_channel, message_id, \
                     delivery_error, detail, due_at) \
                     SELECT ?1, e.id, e.event, e.at, v.id, v.appid, v.recipient, v.status, \
                     v.delivery_state, v.delivery_channel, v.message_id, v.delivery_error, \
                     e.detail, ?3 FROM event e JOIN verification v ON v.id = e.verification_id \
                     WHERE e.id = ?2",
                )?
                .execute(params![webhook, event_id, now.0])?;
            self.queued_webhooks.set(true);
        }
        Ok(())
    }

    /// Claims up to `limit` due deliveries until `lease_until`, at most `room[webhook]` of
    /// each webhook (a webhook not in `room`, i.e. no longer configured: up to `limit`).
    pub fn claim_webhooks(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        room: &HashMap<String, usize>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let room = serde_json::to_string(room).unwrap_or_else(|_| "{}".into());
        let mut stmt = self.conn.prepare_cached(
            // As in the outbox, the claim moves due_at to the lease's end, so a claimable
            // row is exactly a pending one with due_at <= now.
            "UPDATE webhook_delivery SET lease_until = ?2, due_at = ?2 WHERE id IN \
               (SELECT id FROM \
                 (SELECT id, due_at, \
                    row_number() OVER (PARTITION BY webhook ORDER BY due_at, id) AS n, \
                    coalesce((SELECT value FROM json_each(?3) WHERE key = webhook), ?4) AS room \
                  FROM webhook_delivery WHERE state = 'pending' AND due_at <= ?1) \
                WHERE n <= room ORDER BY due_at, id LIMIT ?4) \
             RETURNING id, webhook, event, at, verification_id, appid, recipient, status, \
             delivery_state, delivery_channel, message_id, delivery_error, detail, tries",
        )?;
        let rows = stmt.query_map(params![now.0, lease_until.0, room, limit], |r| {
            Ok(WebhookDelivery {
                id: r.get(0)?,
                webhook: r.get(1)?,
                event: r.get(2)?,
                at: Timestamp(r.get(3)?),
                verification_id: r.get(4)?,
                appid: r.get(5)?,
                recipient: r.get(6)?,
                status: r.get(7)?,
                delivery_state: r.get(8)?,
                delivery_channel: r.get(9)?,
                message_id: r.get(10)?,
                delivery_error: r.get(11)?,
                detail: r.get(12)?,
                tries: r.get(13)?,
            })
        })?;
        let mut claimed: Vec<WebhookDelivery> = rows.collect::<Result<_, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Records one HTTP try of a delivery.
    pub fn record_webhook_attempt(
        &self,
        delivery_id: i64,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO webhook_attempt (delivery_id, at, http_status, error, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                delivery_id,
                attempt.at.0,
                attempt.http_status,
                attempt.error,
                attempt.duration_ms
            ])?;
        Ok(())
    }

    /// Ends a delivery: `delivered`, or `failed` (given up).
    pub fn end_webhook(
        &self,
        delivery_id: i64,
        delivered: bool,
        tries: u32,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let state = if delivered { "delivered" } else { "failed" };
        self.conn
            .prepare_cached(
                "UPDATE webhook_delivery SET state = ?2, tries = ?3, last_error = ?4, \
                 ended_at = ?5, lease_until = 0 WHERE id = ?1",
            )?
            .execute(params![delivery_id, state, tries, error, now.0])?;
        Ok(())
    }

    /// Puts a claimed delivery back to be tried again at `due_at`.
    pub fn retry_webhook(
        &self,
        delivery_id: i64,
        tries: u32,
        error: &str,
        due_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE webhook_delivery SET due_at = ?2, lease_until = 0, tries = ?3, \
                 last_error = ?4 WHERE id = ?1",
            )?
            .execute(params![delivery_id, due_at.0, tries, error])?;
        Ok(())
    }

    /// Deletes up to `limit` ended deliveries (and their attempts) that ended before `before`,
    /// for retention; returns how many.
    pub fn purge_webhook_log(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM webhook_delivery WHERE id IN (SELECT id FROM webhook_delivery \
                 WHERE state != 'pending' AND ended_at < ?1 LIMIT ?2)",
            )?
            .execute(params![before.0, limit])?)
    }

    /// Frees every lease: at start-up, whatever a previous process held is ours to retry.
    pub fn release_webhook_leases(&self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE webhook_delivery SET lease_until = 0, due_at = ?1 \
                 WHERE state = 'pending' AND lease_until > 0",
            )?
            .execute([now.0])?)
    }

    /// When the next pending delivery falls due, for the sender's next wake-up; deliveries
    /// to the webhooks in `full` (at their in-flight limit) are not counted.
    pub fn next_webhook_due(&self, full: &[String]) -> Result<Option<Timestamp>, StoreError> {
        let full = serde_json::to_string(full).unwrap_or_else(|_| "[]".into());
        let t: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT min(due_at) FROM webhook_delivery WHERE state = 'pending' \
                 AND webhook NOT IN (SELECT value FROM json_each(?1))",
            )?
            .query_row([full], |r| r.get(0))?;
        Ok(t.map(Timestamp))
    }
}

fn attempts_of(conn: &Connection, delivery_id: i64) -> Result<Vec<Attempt>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, http_status, error, duration_ms FROM webhook_attempt \
         WHERE delivery_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([delivery_id], |r| {
        Ok(Attempt {
            at: Timestamp(r.get(0)?),
            http_status: r.get(1)?,
            error: r.get(2)?,
            duration_ms: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn delivery_log(conn: &Connection, q: &LogQuery) -> Result<Vec<DeliveryLogEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, webhook, event, at, verification_id, state, tries, due_at, ended_at, \
         last_error FROM webhook_delivery \
         WHERE (?1 IS NULL OR appid = ?1) AND (?2 IS NULL OR webhook = ?2) \
         AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR verification_id = ?4) \
         AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6",
    )?;
    let rows = stmt.query_map(
        params![
            q.appid,
            q.webhook,
            q.state,
            q.verification_id,
            q.before,
            q.limit
        ],
        |r| {
            let state: String = r.get(5)?;
            let due: i64 = r.get(7)?;
            Ok(DeliveryLogEntry {
                id: r.get(0)?,
                webhook: r.get(1)?,
                event: r.get(2)?,
                at: Timestamp(r.get(3)?),
                verification_id: r.get(4)?,
                next_try_at: (state == "pending").then_some(Timestamp(due)),
                state,
                tries: r.get(6)?,
                ended_at: r.get::<_, Option<i64>>(8)?.map(Timestamp),
                last_error: r.get(9)?,
                attempts: Vec::new(),
            })
        },
    )?;
    let mut entries: Vec<DeliveryLogEntry> = rows.collect::<Result<_, _>>()?;
    for e in &mut entries {
        e.attempts = attempts_of(conn, e.id)?;
    }
    Ok(entries)
}

impl Readers {
    /// Deliveries still to be made.
    pub async fn webhook_queue_depth(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM webhook_delivery WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// The delivery log, newest first, with each delivery's attempts.
    pub async fn webhook_log(&self, q: LogQuery) -> Result<Vec<DeliveryLogEntry>, StoreError> {
        self.read(move |conn| delivery_log(conn, &q)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(webhook: &str, app: Option<&str>, events: Option<&[&str]>) -> Subscription {
        Subscription {
            webhook: webhook.into(),
            app: app.map(Into::into),
            events: events.map(|e| e.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn wanting_filters_by_app_and_event() {
        let subs = Subscriptions(vec![
            sub("a", Some("shop"), None),
            sub("b", Some("bank"), Some(&["approved"])),
            sub("all", None, Some(&["created", "approved"])),
        ]);
        let w = |app, event| subs.wanting(app, event).collect::<Vec<_>>();
        assert_eq!(w("shop", "created"), ["a", "all"]);
        assert_eq!(w("bank", "created"), ["all"]);
        assert_eq!(w("bank", "approved"), ["b", "all"]);
        assert_eq!(w("other", "expired"), Vec::<&str>::new());
    }

    type R<T> = Result<T, StoreError>;

    #[tokio::test]
    async fn events_are_queued_claimed_retried_and_ended() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            super::super::Store::open(&dir.path().join("t.db"), super::super::Durability::Normal)
                .unwrap();
        store.writer.set_subscriptions(Subscriptions(vec![
            sub("a", Some("shop"), None),
            sub("b", None, Some(&["approved"])),
        ]));
        let woken = store.writer.webhooks_queued();
        store
            .writer
            .run(|tx| -> R<()> {
                tx.conn.execute(
                    "INSERT INTO verification (id, appid, recipient, status, code_length, ttl_ms, \
                     created_at, expires_at, last_send_at, max_attempts) \
                     VALUES ('v1', 'shop', '+255712345678', 'approved', 6, 1, 1, 2, 1, 5)",
                    [],
                )?;
                tx.insert_event("shop", "v1", "created", None, Timestamp(1000))?;
                tx.insert_event("shop", "v1", "approved", Some("ok"), Timestamp(2000))?;
                // About no verification: no webhook.
                tx.insert_event("shop", "", "rate_limited", None, Timestamp(3000))?;
                Ok(())
            })
            .await
            .unwrap();
        // The commit woke the sender.
        tokio::time::timeout(std::time::Duration::from_secs(5), woken.notified())
            .await
            .unwrap();
        assert_eq!(store.readers.webhook_queue_depth().await.unwrap(), 3);

        // "a" has room for one: its oldest; "b" its one.
        let room = HashMap::from([("a".to_string(), 1), ("b".to_string(), 5)]);
        let claimed = store
            .writer
            .run(move |tx| tx.claim_webhooks(Timestamp(5000), Timestamp(9000), &room, 10))
            .await
            .unwrap();
        let got: Vec<(&str, &str)> = claimed
            .iter()
            .map(|d| (d.webhook.as_str(), d.event.as_str()))
            .collect();
        assert_eq!(got, [("a", "created"), ("b", "approved")]);
        assert_eq!(claimed[1].status, "approved");
        assert_eq!(claimed[1].detail.as_deref(), Some("ok"));
        assert_eq!(claimed[1].appid, "shop");
        let (first, second) = (claimed[0].id, claimed[1].id);
        let next = store
            .writer
            .run(move |tx| -> R<_> {
                let attempt = Attempt {
                    at: Timestamp(5000),
                    http_status: Some(500),
                    error: Some("HTTP 500".into()),
                    duration_ms: 3,
                };
                tx.record_webhook_attempt(first, &attempt)?;
                tx.retry_webhook(first, 1, "HTTP 500", Timestamp(6000))?;
                tx.end_webhook(second, true, 1, None, Timestamp(5000))?;
                // Leased rows are not due; "a" is full, so its other row does not count.
                let full = tx.next_webhook_due(&["a".to_string()])?;
                Ok((full, tx.next_webhook_due(&[])?))
            })
            .await
            .unwrap();
        assert_eq!(next, (None, Some(Timestamp(2000))));

        let log = store
            .readers
            .webhook_log(LogQuery {
                webhook: Some("a".into()),
                limit: 10,
                ..LogQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(log.len(), 2);
        let retried = log.iter().find(|e| e.id == first).unwrap();
        assert_eq!(retried.state, "pending");
        assert_eq!(retried.next_try_at, Some(Timestamp(6000)));
        assert_eq!(retried.attempts[0].http_status, Some(500));
        let other_app = LogQuery {
            appid: Some("bank".into()),
            limit: 10,
            ..LogQuery::default()
        };
        assert!(
            store
                .readers
                .webhook_log(other_app)
                .await
                .unwrap()
                .is_empty()
        );

        let purged = store
            .writer
            .run(|tx| tx.purge_webhook_log(Timestamp(6000), 100))
            .await
            .unwrap();
        assert_eq!(purged, 1);
        assert_eq!(store.readers.webhook_queue_depth().await.unwrap(), 2);
    }
}
