//! Statements on the `outbox` table: sends still to be handed to a channel.

use super::{StoreError, WriteTx};
use crate::model::Timestamp;
use rusqlite::params;

/// A claimed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub verification_id: String,
    pub tries: u32,
    /// Channels that gave up on this message.
    pub exhausted: Vec<String>,
}

impl WriteTx<'_> {
    /// Queues (or re-queues, for a resend) the message of a verification.
    pub fn enqueue(&self, verification_id: &str, due_at: Timestamp) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (verification_id, due_at) VALUES (?1, ?2) \
                 ON CONFLICT (verification_id) DO UPDATE SET due_at = excluded.due_at, \
                 lease_until = 0, tries = 0, exhausted = ''",
            )?
            .execute(params![verification_id, due_at.0])?;
        Ok(())
    }

    /// Queues a message its send handed to the dispatcher: leased until `lease_until`, and
    /// due then, as a claim leaves a row, so no claim takes it unless the lease runs out.
    pub fn enqueue_leased(
        &self,
        verification_id: &str,
        lease_until: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (verification_id, due_at, lease_until) VALUES (?1, ?2, ?2) \
                 ON CONFLICT (verification_id) DO UPDATE SET due_at = excluded.due_at, \
                 lease_until = excluded.lease_until, tries = 0, exhausted = ''",
            )?
            .execute(params![verification_id, lease_until.0])?;
        Ok(())
    }

    /// Claims up to `limit` due rows that no one holds, until `lease_until`.
    pub fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // Nothing is ever due later than a lease from now (the longest wait the dispatcher
        // sets), unless the clock went back since it was set: then a message waiting for a
        // retry would wait the whole jump too. Such a row falls due now, and a leased one
        // keeps a lease from now. The range is empty otherwise, and the index answers it.
        self.conn
            .prepare_cached(
                "UPDATE outbox SET \
                   due_at = CASE WHEN lease_until = 0 THEN ?1 ELSE ?2 END, \
                   lease_until = CASE WHEN lease_until = 0 THEN 0 ELSE ?2 END \
                 WHERE due_at > ?2",
            )?
            .execute(params![now.0, lease_until.0])?;
        let mut stmt = self.conn.prepare_cached(
            // The claim moves due_at to the end of the lease: a row is claimable exactly when
            // due_at <= now, which the index answers without looking at leased rows.
            "UPDATE outbox SET lease_until = ?2, due_at = ?2 WHERE verification_id IN \
               (SELECT verification_id FROM outbox WHERE due_at <= ?1 \
                ORDER BY due_at LIMIT ?3) \
             RETURNING verification_id, tries, exhausted",
        )?;
        let rows = stmt.query_map(params![now.0, lease_until.0, limit], |r| {
            let exhausted: String = r.get(2)?;
            Ok(OutboxEntry {
                verification_id: r.get(0)?,
                tries: r.get(1)?,
                exhausted: exhausted
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts a claimed row back to be tried again at `due_at`.
    pub fn reschedule(
        &self,
        verification_id: &str,
        due_at: Timestamp,
        tries: u32,
        exhausted: &[String],
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET due_at = ?2, lease_until = 0, tries = ?3, exhausted = ?4 \
                 WHERE verification_id = ?1",
            )?
            .execute(params![
                verification_id,
                due_at.0,
                tries,
                exhausted.join(",")
            ])?;
        Ok(())
    }

    pub fn dequeue(&self, verification_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE verification_id = ?1")?
            .execute([verification_id])?;
        Ok(())
    }

    /// Frees every lease: at start-up, whatever a previous process held is ours to retry.
    pub fn release_all_leases(&self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached("UPDATE outbox SET lease_until = 0, due_at = ?1 WHERE lease_until > 0")?
            .execute([now.0])?)
    }

    /// When the next unleased row falls due, for the dispatcher's next wake-up.
    pub fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<i64> = self
            .conn
            .prepare_cached("SELECT min(due_at) FROM outbox")?
            .query_row([], |r| r.get(0))?;
        Ok(t.map(Timestamp))
    }
}

impl super::Readers {
    /// Messages waiting for a channel.
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Timestamp, Verification};
    use crate::store::{Durability, Store};
    use std::time::Duration;

    const LEASE: i64 = 120_000;

    /// Claims at `now` with a lease as the dispatcher takes it; the ids claimed.
    async fn claim(store: &Store, now: i64) -> Vec<String> {
        store
            .writer
            .run(move |tx| tx.claim_due(Timestamp(now), Timestamp(now + LEASE), 10))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.verification_id)
            .collect()
    }

    #[tokio::test]
    async fn a_clock_jump_back_does_not_hold_messages_for_the_length_of_the_jump() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("otpd.db"), Durability::Normal).unwrap();
        let t = 10 * 3_600_000;
        store
            .writer
            .run(move |tx| {
                for id in ["waiting", "leased"] {
                    let v = Verification::new_pending(
                        id.into(),
                        "default".into(),
                        "+255712345678".into(),
                        Timestamp(t),
                        Duration::from_secs(3600),
                        6,
                        5,
                    );
                    tx.insert_verification(&v)?;
                    tx.enqueue(id, Timestamp(t))?;
                }
                // "waiting" got a Retry: due again 30 s on.
                tx.reschedule("waiting", Timestamp(t + 30_000), 1, &[])
            })
            .await
            .unwrap();
        assert_eq!(claim(&store, t).await, ["leased"]);
        // An hour back. The waiting message is due at once, not in an hour and 30 s; the
        // one in a channel's hands stays leased, for a lease from now.
        let back = t - 3_600_000;
        assert_eq!(claim(&store, back).await, ["waiting"]);
        store.writer.run(|tx| tx.dequeue("waiting")).await.unwrap(); // it went out
        assert!(claim(&store, back + LEASE - 1).await.is_empty());
        assert_eq!(claim(&store, back + LEASE).await, ["leased"]);
    }
}
