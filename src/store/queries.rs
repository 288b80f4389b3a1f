//! Read-only queries of the management API (GET /otp/list, /otp/logs, /otp/reports and
//! /otp/rate-limits), on the reader connections.
//!
//! Pages are read newest first with keyset pagination: a page ends at a [`Key`] (time and
//! rowid), and the next page starts strictly below it. Each query names the index it reads
//! (`INDEXED BY`, chosen from the filters) so the plan is one range scan of that index in
//! its order, never a scan of the table nor a sort of it; SQLite refuses the query rather than
//! fall back to a full scan. Which rows mean what (visible statuses) is decided in `otp`.

use super::limits::{CounterRow, RecipientRow, counter_row, recipient_row};
use super::verification::{COLUMNS, finish, from_row};
use super::{Readers, StoreError};
use crate::model::{Status, Timestamp, Verification};
use rusqlite::{Connection, ToSql};

/// Where a page ends: the time (verification `created_at`, event `at`) and rowid of its last
/// row. Rows of the same millisecond are ordered by rowid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub time: i64,
    pub rowid: i64,
}

/// Which verifications a page holds.
#[derive(Debug, Clone, Default)]
pub struct VerificationQuery {
    pub appid: Option<String>,
    pub recipient: Option<String>,
    /// The stored status.
    pub status: Option<Status>,
    pub expiry: Option<Expiry>,
    /// `created_at >= since`.
    pub since: Option<Timestamp>,
    /// `created_at < until`.
    pub until: Option<Timestamp>,
    /// Rows strictly older than this key.
    pub after: Option<Key>,
    pub limit: usize,
}

/// A condition on `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `expires_at > t`: still running at t.
    After(Timestamp),
    /// `expires_at <= t`: over at t.
    NotAfter(Timestamp),
}

/// The time bounds of a keyset page, as the always-present parameters ?1, ?2, ?3, ?4: time
/// from ?1 to ?2 inclusive, and not (time = ?3 and rowid >= ?4).
fn bounds(since: Option<Timestamp>, until: Option<Timestamp>, after: Option<Key>) -> [i64; 4] {
    let low = since.map_or(i64::MIN, |t| t.0);
    let mut high = until.map_or(i64::MAX, |t| t.0.saturating_sub(1));
    let (tie_time, tie_rowid) = match after {
        Some(k) => {
            high = high.min(k.time);
            (k.time, k.rowid)
        }
        // No row has this time, so the tie condition excludes nothing.
        None => (i64::MAX, i64::MAX),
    };
    [low, high, tie_time, tie_rowid]
}

impl VerificationQuery {
    /// The index that serves these filters in created_at order.
    fn index(&self) -> &'static str {
        match (&self.recipient, &self.appid, &self.status) {
            // A recipient has few verifications: its index, and the rest filtered.
            (Some(_), _, _) => "verification_recipient_created",
            (None, Some(_), Some(_)) => "verification_app_status_created",
            (None, None, Some(_)) => "verification_status_created",
            (None, Some(_), None) => "verification_app_created",
            (None, None, None) => "verification_created",
        }
    }

    fn sql(&self) -> String {
        let mut sql = format!(
            "SELECT {COLUMNS}, rowid FROM verification INDEXED BY {} \
             WHERE created_at >= ?1 AND created_at <= ?2 AND NOT (created_at = ?3 AND rowid >= ?4)",
            self.index()
        );
        if self.appid.is_some() {
            sql.push_str(" AND appid = ?5");
        }
        if self.recipient.is_some() {
            sql.push_str(" AND recipient = ?6");
        }
        if self.status.is_some() {
            sql.push_str(" AND status = ?7");
        }
        match self.expiry {
            Some(Expiry::After(_)) => sql.push_str(" AND expires_at > ?8"),
            Some(Expiry::NotAfter(_)) => sql.push_str(" AND expires_at <= ?8"),
            None => {}
        }
        sql.push_str(" ORDER BY created_at DESC, rowid DESC LIMIT ?9");
        sql
    }
}

/// Binds the nine parameters of a query; those the text does not name are ignored by SQLite.
fn run_page<T>(
    conn: &Connection,
    sql: &str,
    params: [&dyn ToSql; 9],
    mut map: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(&params[..])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

fn list(conn: &Connection, q: &VerificationQuery) -> Result<Vec<(Key, Verification)>, StoreError> {
    let [low, high, tie_time, tie_rowid] = bounds(q.since, q.until, q.after);
    let status = q.status.map(Status::as_str);
    let expiry = match q.expiry {
        Some(Expiry::After(t) | Expiry::NotAfter(t)) => t.0,
        None => 0,
    };
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    run_page(
        conn,
        &q.sql(),
        [
            &low,
            &high,
            &tie_time,
            &tie_rowid,
            &q.appid,
            &q.recipient,
            &status,
            &expiry,
            &limit,
        ],
        |row| {
            let rowid: i64 = row.get(COLUMN_COUNT)?;
            let v = finish(from_row(row)?)?;
            Ok((
                Key {
                    time: v.created_at.0,
                    rowid,
                },
                v,
            ))
        },
    )
}

/// The number of columns in `COLUMNS`; the rowid follows them.
const COLUMN_COUNT: usize = 22;

/// Which events a page holds.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub appid: Option<String>,
    pub verification_id: Option<String>,
    /// `at >= since`.
    pub since: Option<Timestamp>,
    pub after: Option<Key>,
    pub limit: usize,
}

/// One row of the `event` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub verification_id: String,
    pub event: String,
    pub detail: Option<String>,
}

impl EventQuery {
    fn sql(&self) -> String {
        // A verification has a handful of events: its index, then a sort of those few.
        let index = match (&self.verification_id, &self.appid) {
            (Some(_), _) => "event_verification",
            (None, Some(_)) => "event_app_at",
            (None, None) => "event_at",
        };
        let mut sql = format!(
            "SELECT id, at, verification_id, event, detail FROM event INDEXED BY {index} \
             WHERE at >= ?1 AND at <= ?2 AND NOT (at = ?3 AND id >= ?4)"
        );
        if self.appid.is_some() {
            sql.push_str(" AND appid = ?5");
        }
        if self.verification_id.is_some() {
            sql.push_str(" AND verification_id = ?6");
        }
        sql.push_str(" ORDER BY at DESC, id DESC LIMIT ?9");
        sql
    }
}

fn events(conn: &Connection, q: &EventQuery) -> Result<Vec<(Key, Event)>, StoreError> {
    let [low, high, tie_time, tie_rowid] = bounds(q.since, None, q.after);
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let unused: Option<i64> = None;
    run_page(
        conn,
        &q.sql(),
        [
            &low,
            &high,
            &tie_time,
            &tie_rowid,
            &q.appid,
            &q.verification_id,
            &unused,
            &unused,
            &limit,
        ],
        |row| {
            let at: i64 = row.get(1)?;
            Ok((
                Key {
                    time: at,
                    rowid: row.get(0)?,
                },
                Event {
                    at: Timestamp(at),
                    verification_id: row.get(2)?,
                    event: row.get(3)?,
                    detail: row.get(4)?,
                },
            ))
        },
    )
}

/// What a report needs of one verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub appid: String,
    pub channel: Option<String>,
    pub status: String,
    pub delivery_state: String,
    pub created_at: Timestamp,
    pub last_send_at: Timestamp,
    pub expires_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub verified_at: Option<Timestamp>,
}

fn report_sql(appid: bool) -> String {
    let (index, app) = if appid {
        ("verification_app_created", " AND appid = ?3")
    } else {
        ("verification_created", "")
    };
    format!(
        "SELECT appid, delivery_channel, status, delivery_state, created_at, last_send_at, \
         expires_at, delivered_at, verified_at FROM verification INDEXED BY {index} \
         WHERE created_at >= ?1 AND created_at < ?2{app}"
    )
}

/// Calls `each` with every verification created in `[since, until)` (of app `appid`, if
/// given), in no particular order. A callback rather than a vector: a month can be a million
/// rows, and the caller keeps only counts and durations.
fn report_rows(
    conn: &Connection,
    since: Timestamp,
    until: Timestamp,
    appid: Option<&str>,
    mut each: impl FnMut(ReportRow),
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(&report_sql(appid.is_some()))?;
    let mut rows = match appid {
        Some(a) => stmt.query(rusqlite::params![since.0, until.0, a])?,
        None => stmt.query(rusqlite::params![since.0, until.0])?,
    };
    let opt_ts = |v: Option<i64>| v.map(Timestamp);
    while let Some(r) = rows.next()? {
        each(ReportRow {
            appid: r.get(0)?,
            channel: r.get(1)?,
            status: r.get(2)?,
            delivery_state: r.get(3)?,
            created_at: Timestamp(r.get(4)?),
            last_send_at: Timestamp(r.get(5)?),
            expires_at: Timestamp(r.get(6)?),
            delivered_at: opt_ts(r.get(7)?),
            verified_at: opt_ts(r.get(8)?),
        });
    }
    Ok(())
}

/// The stored state of the rate limits that a send would be checked against.
#[derive(Debug, Clone, Default)]
pub struct LimitRows {
    pub recipient: Option<RecipientRow>,
    /// For each asked (scope, key, window_ms): its row, if any.
    pub counters: Vec<((String, String, i64), Option<CounterRow>)>,
}

impl Readers {
    pub async fn list_verifications(
        &self,
        q: VerificationQuery,
    ) -> Result<Vec<(Key, Verification)>, StoreError> {
        self.read(move |conn| list(conn, &q)).await
    }

    pub async fn events(&self, q: EventQuery) -> Result<Vec<(Key, Event)>, StoreError> {
        self.read(move |conn| events(conn, &q)).await
    }

    /// Folds `each` over the report rows of `[since, until)` on a reader connection and
    /// returns the accumulator.
    pub async fn fold_report<A, F>(
        &self,
        since: Timestamp,
        until: Timestamp,
        appid: Option<String>,
        mut acc: A,
        mut each: F,
    ) -> Result<A, StoreError>
    where
        A: Send + 'static,
        F: FnMut(&mut A, ReportRow) + Send + 'static,
    {
        self.read(move |conn| {
            report_rows(conn, since, until, appid.as_deref(), |row| {
                each(&mut acc, row)
            })?;
            Ok(acc)
        })
        .await
    }

    /// The recipient's row (if `recipient`) and the counters asked for.
    pub async fn limit_rows(
        &self,
        recipient: Option<String>,
        counters: Vec<(String, String, i64)>,
    ) -> Result<LimitRows, StoreError> {
        self.read(move |conn| {
            let recipient = match recipient {
                Some(r) => recipient_row(conn, &r)?,
                None => None,
            };
            let counters = counters
                .into_iter()
                .map(|k| {
                    let row = counter_row(conn, &k.0, &k.1, k.2)?;
                    Ok((k, row))
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(LimitRows {
                recipient,
                counters,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests;
