//! The engine's answers to the management API: lists of verifications, events and attempts,
//! rate-limit state and reports. Reads only, on the reader connections; the rules here are
//! who sees what (a key its own app, the Unix socket every app) and which status a reader
//! sees (a pending verification past its expiry is expired, see [`rules::visible_status`]).
//!
//! Pages are newest first. A page's `next_cursor` is an opaque, URL-safe token of where it
//! ended (see [`Cursor`]); `None` on the last page.

use super::reply::StatusReply;
use super::{Engine, OtpError, Scope, phone, rules};
use crate::model::{Status, Timestamp};
use crate::store::queries::{EventQuery, Expiry, Key, VerificationQuery};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// The page size when none is asked.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page.
pub const MAX_LIMIT: usize = 500;

/// Where a page ended, for one kind of list: 17 bytes (the kind, then the key's time and
/// rowid, big-endian) in unpadded URL-safe base64. The kind makes a cursor of one endpoint
/// useless on another. Anything that does not decode is refused as a bad parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    List(Key),
    Logs(Key),
}

const LIST: u8 = b'L';
const LOGS: u8 = b'E';

impl Cursor {
    pub fn encode(self) -> String {
        let (kind, key) = match self {
            Cursor::List(k) => (LIST, k),
            Cursor::Logs(k) => (LOGS, k),
        };
        let mut bytes = Vec::with_capacity(17);
        bytes.push(kind);
        bytes.extend_from_slice(&key.time.to_be_bytes());
        bytes.extend_from_slice(&key.rowid.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Cursor, OtpError> {
        let bad = || OtpError::invalid("cursor", "not a cursor that this server gave out");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let (kind, rest) = bytes.split_first().ok_or_else(bad)?;
        let (time, rowid) = rest.split_at_checked(8).ok_or_else(bad)?;
        let time = i64::from_be_bytes(time.try_into().map_err(|_| bad())?);
        let rowid = i64::from_be_bytes(rowid.try_into().map_err(|_| bad())?);
        let key = Key { time, rowid };
        match *kind {
            LIST => Ok(Cursor::List(key)),
            LOGS => Ok(Cursor::Logs(key)),
            _ => Err(bad()),
        }
    }
}

/// The page size asked, checked.
fn page_size(limit: Option<i64>) -> Result<usize, OtpError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                OtpError::invalid(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}, got {n}"),
                )
            }),
    }
}

fn list_cursor(text: Option<&str>) -> Result<Option<Key>, OtpError> {
    text.map(|t| match Cursor::decode(t)? {
        Cursor::List(k) => Ok(k),
        Cursor::Logs(_) => Err(OtpError::invalid("cursor", "a cursor of /otp/logs")),
    })
    .transpose()
}

fn logs_cursor(text: Option<&str>) -> Result<Option<Key>, OtpError> {
    text.map(|t| match Cursor::decode(t)? {
        Cursor::Logs(k) => Ok(k),
        Cursor::List(_) => Err(OtpError::invalid("cursor", "a cursor of /otp/list")),
    })
    .transpose()
}

/// The app a management call reads: a key reads its own app only (naming another is
/// `not_found`, as for another app's verification); the Unix socket reads the app named, or
/// every app.
pub fn app_filter(scope: &Scope, asked: Option<String>) -> Result<Option<String>, OtpError> {
    match (scope, asked) {
        (Scope::Any, asked) => Ok(asked),
        (Scope::App(own), Some(asked)) if asked != *own => Err(OtpError::NotFound),
        (Scope::App(own), _) => Ok(Some(own.clone())),
    }
}

/// GET /otp/list, parsed.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub appid: Option<String>,
    pub recipient: Option<String>,
    pub status: Option<Status>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListReply {
    pub items: Vec<StatusReply>,
    pub next_cursor: Option<String>,
}

/// The stored rows that show as `status` at `now`: a pending row past its expiry shows as
/// expired, so "pending" is the pending rows still running and "expired" is the expired rows
/// plus the pending ones that ran out (not yet swept). Each part is one index range.
fn status_parts(status: Option<Status>, now: Timestamp) -> Vec<(Option<Status>, Option<Expiry>)> {
    match status {
        None => vec![(None, None)],
        Some(Status::Pending) => vec![(Some(Status::Pending), Some(Expiry::After(now)))],
        Some(Status::Expired) => vec![
            (Some(Status::Expired), None),
            (Some(Status::Pending), Some(Expiry::NotAfter(now))),
        ],
        Some(s) => vec![(Some(s), None)],
    }
}

fn check_range(since: Option<Timestamp>, until: Option<Timestamp>) -> Result<(), OtpError> {
    match (since, until) {
        (Some(s), Some(u)) if s >= u => Err(OtpError::invalid("since", "must be before until")),
        _ => Ok(()),
    }
}

/// Keeps the newest `limit` of `rows` and the cursor after them, if more follow.
fn page<T>(mut rows: Vec<(Key, T)>, limit: usize) -> (Vec<(Key, T)>, Option<Key>) {
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(|r| r.0) } else { None };
    (rows, next)
}

/// GET /otp/logs, parsed.
#[derive(Debug, Clone, Default)]
pub struct LogsRequest {
    pub verification_id: Option<String>,
    pub appid: Option<String>,
    pub since: Option<Timestamp>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogItem {
    pub at: Timestamp,
    pub event: String,
    /// `None` for an event about no verification (a send refused by a limit).
    pub verification_id: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogsReply {
    pub items: Vec<LogItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptItem {
    pub at: Timestamp,
    pub valid: bool,
    pub reason: Option<String>,
    pub source: String,
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttemptsReply {
    pub items: Vec<AttemptItem>,
}

impl Engine {
    pub async fn list(&self, scope: &Scope, req: ListRequest) -> Result<ListReply, OtpError> {
        let now = self.clock.now();
        let limit = page_size(req.limit)?;
        let after = list_cursor(req.cursor.as_deref())?;
        check_range(req.since, req.until)?;
        let appid = app_filter(scope, req.appid)?;
        let recipient = match req.recipient {
            Some(r) => Some(phone::normalize(&r).map_err(|e| OtpError::InvalidRecipient(e.0))?),
            None => None,
        };
        let mut rows = Vec::new();
        for (status, expiry) in status_parts(req.status, now) {
            let q = VerificationQuery {
                appid: appid.clone(),
                recipient: recipient.clone(),
                status,
                expiry,
                since: req.since,
                until: req.until,
                after,
                // One more than the page: whether another page follows.
                limit: limit + 1,
            };
            rows.extend(self.store.readers.list_verifications(q).await?);
        }
        let (rows, next) = page(rows, limit);
        let items = rows
            .into_iter()
            .map(|(_, v)| {
                let status = rules::visible_status(&v, now);
                StatusReply::new(v, status)
            })
            .collect();
        Ok(ListReply {
            items,
            next_cursor: next.map(|k| Cursor::List(k).encode()),
        })
    }

    pub async fn logs(&self, scope: &Scope, req: LogsRequest) -> Result<LogsReply, OtpError> {
        let limit = page_size(req.limit)?;
        let after = logs_cursor(req.cursor.as_deref())?;
        let appid = match &req.verification_id {
            // The verification decides the app: check that the caller may see it.
            Some(id) => {
                self.visible(scope, id.clone()).await?;
                None
            }
            None => app_filter(scope, req.appid)?,
        };
        let q = EventQuery {
            appid,
            verification_id: req.verification_id,
            since: req.since,
            after,
            limit: limit + 1,
        };
        let (rows, next) = page(self.store.readers.events(q).await?, limit);
        let items = rows
            .into_iter()
            .map(|(_, e)| LogItem {
                at: e.at,
                event: e.event,
                verification_id: Some(e.verification_id).filter(|id| !id.is_empty()),
                detail: e.detail,
            })
            .collect();
        Ok(LogsReply {
            items,
            next_cursor: next.map(|k| Cursor::Logs(k).encode()),
        })
    }

    pub async fn attempts(&self, scope: &Scope, id: String) -> Result<AttemptsReply, OtpError> {
        self.visible(scope, id.clone()).await?;
        let items = self
            .store
            .readers
            .attempts(id)
            .await?
            .into_iter()
            .map(|a| AttemptItem {
                at: a.at,
                valid: a.valid,
                reason: a.reason,
                source: a.source,
                api_key: a.api_key,
            })
            .collect();
        Ok(AttemptsReply { items })
    }

    /// `not_found` unless the verification exists and the caller may see it.
    async fn visible(&self, scope: &Scope, id: String) -> Result<(), OtpError> {
        match self.store.readers.verification(id).await? {
            Some(v) if app_filter(scope, Some(v.appid.clone())).is_ok() => Ok(()),
            _ => Err(OtpError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_tampering_is_refused() {
        let k = Key {
            time: 1_763_800_000_123,
            rowid: 42,
        };
        let text = Cursor::List(k).encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&text).unwrap(), Cursor::List(k));
        assert_eq!(list_cursor(Some(&text)).unwrap(), Some(k));
        assert!(logs_cursor(Some(&text)).is_err());
        let logs = Cursor::Logs(k).encode();
        assert!(list_cursor(Some(&logs)).is_err());
        for bad in [
            "",
            "x",
            "!!!!",
            &text[..text.len() - 1],
            &format!("{text}A"),
            "AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                matches!(
                    Cursor::decode(bad),
                    Err(OtpError::InvalidField {
                        field: "cursor",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn page_sizes_are_one_to_five_hundred() {
        assert_eq!(page_size(None).unwrap(), 50);
        assert_eq!(page_size(Some(1)).unwrap(), 1);
        assert_eq!(page_size(Some(500)).unwrap(), 500);
        for bad in [0, -1, 501, i64::MAX] {
            assert!(page_size(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_reads_its_own_app_only() {
        let key = Scope::App("shop".into());
        assert_eq!(app_filter(&key, None).unwrap().as_deref(), Some("shop"));
        assert_eq!(
            app_filter(&key, Some("shop".into())).unwrap().as_deref(),
            Some("shop")
        );
        assert!(matches!(
            app_filter(&key, Some("bank".into())),
            Err(OtpError::NotFound)
        ));
        assert_eq!(app_filter(&Scope::Any, None).unwrap(), None);
        assert_eq!(
            app_filter(&Scope::Any, Some("bank".into()))
                .unwrap()
                .as_deref(),
            Some("bank")
        );
    }

    #[test]
    fn expired_includes_pending_rows_past_their_expiry() {
        let now = Timestamp(1000);
        assert_eq!(
            status_parts(Some(Status::Expired), now),
            vec![
                (Some(Status::Expired), None),
                (Some(Status::Pending), Some(Expiry::NotAfter(now)))
            ]
        );
        assert_eq!(
            status_parts(Some(Status::Pending), now),
            vec![(Some(Status::Pending), Some(Expiry::After(now)))]
        );
        assert_eq!(
            status_parts(Some(Status::Approved), now),
            vec![(Some(Status::Approved), None)]
        );
    }

    #[test]
    fn a_page_keeps_the_newest_and_says_where_it_ended() {
        let k = |time, rowid| Key { time, rowid };
        let rows = vec![
            (k(5, 1), 'a'),
            (k(9, 2), 'b'),
            (k(5, 3), 'c'),
            (k(1, 4), 'd'),
        ];
        let (got, next) = page(rows.clone(), 3);
        assert_eq!(got.iter().map(|r| r.1).collect::<String>(), "bca");
        assert_eq!(next, Some(k(5, 1)));
        let (got, next) = page(rows, 4);
        assert_eq!(got.len(), 4);
        assert_eq!(next, None);
    }
}
