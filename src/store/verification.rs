//! Statements on the `verification` and `event` tables.

use super::{Readers, StoreError, WriteTx, parse_enum};
use crate::channel::ModemReference;
use crate::model::{Delivery, DeliveryState, Status, Timestamp, Verification};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub(super) const COLUMNS: &str = "id, appid, recipient, status, channel_request, sender, code_length, ttl_ms, \
    code_hash, created_at, expires_at, last_send_at, verified_at, attempts, max_attempts, sends, \
    delivery_state, delivery_channel, message_id, submitted_at, delivered_at, delivery_error";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<(Verification, String, String)> {
    let ts = |i: usize| -> rusqlite::Result<Timestamp> { row.get::<_, i64>(i).map(Timestamp) };
    let opt_ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        row.get::<_, Option<i64>>(i).map(|v| v.map(Timestamp))
    };
    let v = Verification {
        id: row.get(0)?,
        appid: row.get(1)?,
        recipient: row.get(2)?,
        status: Status::Pending, // replaced below, after the text is checked
        channel_request: row.get(4)?,
        sender: row.get(5)?,
        code_length: row.get(6)?,
        ttl_ms: row.get(7)?,
        code_hash: row.get(8)?,
        created_at: ts(9)?,
        expires_at: ts(10)?,
        last_send_at: ts(11)?,
        verified_at: opt_ts(12)?,
        attempts: row.get(13)?,
        max_attempts: row.get(14)?,
        sends: row.get(15)?,
        delivery: Delivery {
            state: DeliveryState::Queued, // likewise
            channel: row.get(17)?,
            message_id: row.get(18)?,
            submitted_at: opt_ts(19)?,
            delivered_at: opt_ts(20)?,
            error: row.get(21)?,
        },
    };
    Ok((v, row.get(3)?, row.get(16)?))
}

pub(super) fn finish(
    (mut v, status, delivery_state): (Verification, String, String),
) -> Result<Verification, StoreError> {
    v.status = parse_enum("status", status, Status::parse)?;
    v.delivery.state = parse_enum("delivery_state", delivery_state, DeliveryState::parse)?;
    Ok(v)
}

fn query_one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<Verification>, StoreError> {
    conn.prepare_cached(sql)?
        .query_row(params, from_row)
        .optional()?
        .map(finish)
        .transpose()
}

fn by_id(conn: &Connection, id: &str) -> Result<Option<Verification>, StoreError> {
    query_one(
        conn,
        &format!("SELECT {COLUMNS} FROM verification WHERE id = ?1"),
        [id],
    )
}

impl Readers {
    pub async fn verification(&self, id: String) -> Result<Option<Verification>, StoreError> {
        self.read(move |conn| by_id(conn, &id)).await
    }
}

impl WriteTx<'_> {
    pub fn verification(&self, id: &str) -> Result<Option<Verification>, StoreError> {
        by_id(self.conn, id)
    }

    /// The number of sends and the status of a verification, if it exists: what recording a
    /// delivery checks, without reading (and allocating) the whole row.
    pub fn sends_and_status(&self, id: &str) -> Result<Option<(u32, Status)>, StoreError> {
        self.conn
            .prepare_cached("SELECT sends, status FROM verification WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))
            .optional()?
            .map(|(sends, status)| Ok((sends, parse_enum("status", status, Status::parse)?)))
            .transpose()
    }

    /// The verification a verify by recipient checks: the pending one if there is one, else
    /// the newest (so an ended one answers with its status rather than 404). `rowid` breaks
    /// ties between sends of the same millisecond.
    pub fn latest_for(
        &self,
        appid: &str,
        recipient: &str,
    ) -> Result<Option<Verification>, StoreError> {
        query_one(
            self.conn,
            &format!(
                "SELECT {COLUMNS} FROM verification WHERE appid = ?1 AND recipient = ?2 \
                 ORDER BY status = 'pending' DESC, created_at DESC, rowid DESC LIMIT 1"
            ),
            [appid, recipient],
        )
    }

    /// Ids of every pending verification of a recipient in an app.
    pub fn all_pending_for(&self, appid: &str, recipient: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM verification WHERE appid = ?1 AND recipient = ?2 AND status = 'pending'",
        )?;
        let ids = stmt
            .query_map([appid, recipient], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    pub fn insert_verification(&self, v: &Verification) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO verification (id, appid, recipient, status, channel_request, sender, \
                 code_length, ttl_ms, created_at, expires_at, last_send_at, max_attempts, sends, \
                 delivery_state, code_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                v.id,
                v.appid,
                v.recipient,
                v.status.as_str(),
                v.channel_request,
                v.sender,
                v.code_length,
                v.ttl_ms,
                v.created_at.0,
                v.expires_at.0,
                v.last_send_at.0,
                v.max_attempts,
                v.sends,
                v.delivery.state.as_str(),
                v.code_hash,
            ])?;
        Ok(())
    }

    /// Ends a verification with `status`. Its code hash goes: an ended verification accepts no
    /// code, so there is nothing left to compare against.
    pub fn end_verification(
        &self,
        id: &str,
        status: Status,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let verified_at = (status == Status::Approved).then_some(now.0);
        self.conn
            .prepare_cached(
                "UPDATE verification SET status = ?2, ended_at = ?3, verified_at = ?4, code_hash = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), now.0, verified_at])?;
        Ok(())
    }

    pub fn set_attempts(&self, id: &str, attempts: u32) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE verification SET attempts = ?2 WHERE id = ?1")?
            .execute(params![id, attempts])?;
        Ok(())
    }

    /// Starts a new send of a pending verification: the old code stops working at once, the
    /// new one is drawn at dispatch.
    pub fn restart_send(
        &self,
        id: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE verification SET sends = sends + 1, last_send_at = ?2, expires_at = ?3, \
                 code_hash = NULL, delivery_state = 'queued', delivery_channel = NULL, \
                 message_id = NULL, submitted_at = NULL, delivered_at = NULL, delivery_error = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id, now.0, expires_at.0])?;
        Ok(())
    }

    pub fn set_code_hash(&self, id: &str, hash: &[u8]) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE verification SET code_hash = ?2 WHERE id = ?1")?
            .execute(params![id, hash])?;
        Ok(())
    }

    /// A test number's message: nothing goes out, so it is delivered at once on the
    /// channel named `channel`, with the hash of the number's fixed code.
    pub fn record_test_delivery(
        &self,
        id: &str,
        channel: &str,
        hash: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE verification SET code_hash = ?2, delivery_state = 'delivered', \
                 delivery_channel = ?3, message_id = NULL, submitted_at = ?4, delivered_at = ?4, \
                 delivery_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, hash, channel, now.0])?;
        Ok(())
    }

    pub fn record_submitted(
        &self,
        id: &str,
        channel: &str,
        message_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE verification SET delivery_state = 'submitted', delivery_channel = ?2, \
                 message_id = ?3, submitted_at = ?4, delivery_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, channel, message_id, now.0])?;
        Ok(())
    }

    /// Records that the latest message will not arrive (or cannot be known to).
    pub fn record_delivery_end(
        &self,
        id: &str,
        state: DeliveryState,
        channel: Option<&str>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE verification SET delivery_state = ?2, \
                 delivery_channel = coalesce(?3, delivery_channel), delivery_error = ?4 WHERE id = ?1",
            )?
            .execute(params![id, state.as_str(), channel, error])?;
        Ok(())
    }

    /// Applies a delivery report to the message it names; returns the verification's id, or
    /// `None` if no submitted message has that id (yet).
    pub fn apply_report(
        &self,
        channel: &str,
        message_id: &str,
        state: DeliveryState,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<(String, String)>, StoreError> {
        let delivered_at = (state == DeliveryState::Delivered).then_some(now.0);
        // The report's `now` is read before its write is queued, and the dispatcher's
        // `submitted_at` likewise: a report applied right after the submit was recorded may
        // carry a time a millisecond before it. A message is not delivered before it was
        // submitted, so delivered_at is never earlier than submitted_at.
        let id = self
            .conn
            .prepare_cached(
                "UPDATE verification SET delivery_state = ?3, \
                 delivered_at = CASE WHEN ?4 IS NULL THEN delivered_at \
                 ELSE max(?4, coalesce(submitted_at, ?4)) END, \
                 delivery_error = ?5 WHERE delivery_channel = ?1 AND message_id = ?2 \
                 AND delivery_state NOT IN ('delivered', 'undelivered', 'expired', 'rejected') \
                 RETURNING id, appid",
            )?
            .query_row(
                params![channel, message_id, state.as_str(), delivered_at, error],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(id)
    }

    /// The id of the newest message that modem channel `channel` sent to a number ending in
    /// `by.digits`, whose first part got TP-MR `by.reference` (a modem's message ids are
    /// `"{reference}@{ms}"`), submitted between `by.since` and `by.before` and still waiting
    /// for its report.
    pub fn modem_message_by_reference(
        &self,
        channel: &str,
        by: &ModemReference,
    ) -> Result<Option<String>, StoreError> {
        // The ids that start "{reference}@": '@' sorts just before 'A', and a longer
        // reference ("123@") sorts before "12@" (a digit is below '@').
        let (from, to) = (format!("{}@", by.reference), format!("{}A", by.reference));
        Ok(self
            .conn
            .prepare_cached(
                "SELECT message_id FROM verification \
                 WHERE delivery_channel = ?1 AND message_id >= ?2 AND message_id < ?3 \
                 AND submitted_at >= ?4 AND submitted_at < ?6 \
                 AND substr(recipient, -length(?5)) = ?5 \
                 AND delivery_state NOT IN ('delivered', 'undelivered', 'expired', 'rejected') \
                 ORDER BY submitted_at DESC LIMIT 1",
            )?
            .query_row(
                params![channel, from, to, by.since.0, by.digits, by.before.0],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Pending verifications whose time is up, at most `limit`.
    pub fn due_for_expiry(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Verification>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM verification WHERE status = 'pending' AND expires_at <= ?1 \
             ORDER BY expires_at LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now.0, limit], from_row)?;
        rows.map(|r| finish(r?)).collect()
    }

    /// The earliest expiry of a pending verification, for the sweeper's next wake-up.
    pub fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<i64> = self
            .conn
            .prepare_cached("SELECT min(expires_at) FROM verification WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(t.map(Timestamp))
    }

    /// Records an event, and queues it for every webhook that wants it, in this transaction.
    /// An event about verification `verification_id` of app `appid`.
    pub fn insert_event(
        &self,
        appid: &str,
        verification_id: &str,
        event: &str,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO event (at, verification_id, event, detail, appid) VALUES \
                 (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![now.0, verification_id, event, detail, appid])?;
        let event_id = self.conn.last_insert_rowid();
        self.enqueue_webhooks(event_id, appid, verification_id, event, now)
    }

    /// An event about no verification (`verification_id` ''), such as a send refused by a
    /// limit, that belongs to app `appid`.
    pub fn insert_app_event(
        &self,
        appid: &str,
        event: &str,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO event (at, verification_id, event, detail, appid) VALUES (?1, '', ?2, ?3, ?4)",
            )?
            .execute(params![now.0, event, detail, appid])?;
        Ok(())
    }

    pub fn idempotent_reply(
        &self,
        appid: &str,
        key: &str,
        since: Timestamp,
    ) -> Result<Option<(Vec<u8>, u16, String)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT request_hash, status, response FROM idempotency \
                 WHERE appid = ?1 AND key = ?2 AND created_at > ?3",
            )?
            .query_row(params![appid, key, since.0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }

    pub fn save_idempotent_reply(
        &self,
        appid: &str,
        key: &str,
        request_hash: &[u8],
        status: u16,
        response: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency (appid, key, request_hash, status, response, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![appid, key, request_hash, status, response, now.0])?;
        Ok(())
    }

    /// Drops idempotency records older than `before`.
    pub fn purge_idempotency(&self, before: Timestamp) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM idempotency WHERE created_at <= ?1")?
            .execute([before.0])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Durability, Store};
    use std::time::Duration;

    #[tokio::test]
    async fn a_modem_message_is_found_by_its_first_reference_recipient_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let found = store
            .writer
            .run(|tx| {
                let sent = [
                    // (id, recipient, channel, message id, submitted at)
                    ("old", "+255712345678", "dongle", "12@100", 100),
                    ("a", "+255712345678", "dongle", "12@2000", 2_000),
                    ("b", "+255712345678", "dongle", "123@2001", 2_001),
                    ("c", "+255712345678", "dongle", "1@2002", 2_002),
                    ("d", "+255700000001", "dongle", "12@2003", 2_003),
                    ("e", "+255712345678", "other", "12@2004", 2_004),
                    ("f", "+255712345678", "dongle", "12@2005", 2_005),
                ];
                for (id, to, channel, message_id, at) in sent {
                    let ttl = Duration::from_secs(300);
                    let v = Verification::new_pending(
                        id.into(),
                        "default".into(),
                        to.into(),
                        Timestamp(at),
                        ttl,
                        6,
                        5,
                    );
                    tx.insert_verification(&v)?;
                    tx.record_submitted(id, channel, message_id, Timestamp(at))?;
                }
                // "f" already has its report: it waits for nothing.
                tx.apply_report(
                    "dongle",
                    "12@2005",
                    DeliveryState::Delivered,
                    None,
                    Timestamp(2_006),
                )?;
                let find = |reference, digits: &str, since, before| {
                    let by = ModemReference {
                        reference,
                        digits: digits.into(),
                        since: Timestamp(since),
                        before: Timestamp(before),
                    };
                    tx.modem_message_by_reference("dongle", &by)
                };
                Ok::<_, StoreError>([
                    find(12, "712345678", 1_000, 9_999)?,
                    find(12, "712345678", 0, 9_999)?,
                    find(123, "712345678", 0, 9_999)?,
                    find(1, "712345678", 0, 9_999)?,
                    find(12, "700000001", 0, 9_999)?,
                    find(12, "799999999", 0, 9_999)?,
                    find(7, "712345678", 0, 9_999)?,
                    // Sent since the link began (at 2000): the link itself knows those.
                    find(12, "712345678", 0, 2_000)?,
                    find(12, "700000001", 0, 2_000)?,
                ])
            })
            .await
            .unwrap();
        let want = [
            Some("12@2000"), // newest waiting one since 1000; not "old", "d", "e" or "f"
            Some("12@2000"),
            Some("123@2001"),
            Some("1@2002"),
            Some("12@2003"),
            None,
            None,
            Some("12@100"),
            None,
        ];
        assert_eq!(
            found.map(|m| m.map(|s| s.to_string())),
            want.map(|m| m.map(str::to_string))
        );
    }
}
