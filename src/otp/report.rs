//! GET /otp/reports: counts and medians per day, channel or app over the verifications
//! *created* in `[since, until)` ("sent" is how many were created: every one asked for a
//! message). Each verification counts in the group of its creation day (UTC), of the channel
//! that took its latest message (`null` when none did), or of its app.
//!
//! - `delivered`: its latest message was reported delivered; `undelivered`: it ended
//!   otherwise (delivery state `undelivered`, `rejected` or `expired`).
//! - `approved`, `expired`: its status as a reader sees it (a pending one past its expiry
//!   counts as expired).
//! - `conversion`: approved ÷ sent.
//! - `median_delivery_seconds`: latest send → its delivery report, over the delivered ones;
//!   `median_approval_seconds`: creation → approval (resends included, as the user waited),
//!   over the approved ones. `null` when there are none.
//!
//! The fold is one pass over the rows, in memory per group; the medians select in place.

use super::manage::app_filter;
use super::{Engine, OtpError, Scope};
use crate::model::{DeliveryState, Status, Timestamp};
use crate::store::queries::ReportRow;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The range when none is asked: the 30 days up to now.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(30 * 86_400);

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    Day,
    Channel,
    App,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "day" => Some(GroupBy::Day),
            "channel" => Some(GroupBy::Channel),
            "appid" => Some(GroupBy::App),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Channel => "channel",
            GroupBy::App => "appid",
        }
    }
}

/// GET /otp/reports, parsed.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub group_by: GroupBy,
    pub appid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportGroup {
    /// The day (`2026-11-22`), the channel name (`null`: no channel took it) or the appid.
    pub group: Option<String>,
    pub sent: u64,
    pub delivered: u64,
    pub undelivered: u64,
    pub approved: u64,
    pub expired: u64,
    pub conversion: f64,
    pub median_delivery_seconds: Option<f64>,
    pub median_approval_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportReply {
    pub since: Timestamp,
    pub until: Timestamp,
    pub group_by: &'static str,
    pub items: Vec<ReportGroup>,
}

/// One group being counted.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    delivered: u64,
    undelivered: u64,
    approved: u64,
    expired: u64,
    delivery_ms: Vec<i64>,
    approval_ms: Vec<i64>,
}

/// The groups being counted, by key.
#[derive(Debug, Default)]
pub struct Fold {
    group_by: GroupBy,
    now: Timestamp,
    groups: BTreeMap<Option<String>, Tally>,
}

impl Fold {
    pub fn new(group_by: GroupBy, now: Timestamp) -> Fold {
        Fold {
            group_by,
            now,
            groups: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, row: ReportRow) {
        let key = match self.group_by {
            GroupBy::Day => Some(day_of(row.created_at)),
            GroupBy::Channel => row.channel,
            GroupBy::App => Some(row.appid),
        };
        let t = self.groups.entry(key).or_default();
        t.sent += 1;
        match DeliveryState::parse(&row.delivery_state) {
            Some(DeliveryState::Delivered) => {
                t.delivered += 1;
                if let Some(at) = row.delivered_at {
                    t.delivery_ms.push(at.0 - row.last_send_at.0);
                }
            }
            Some(DeliveryState::Undelivered | DeliveryState::Rejected | DeliveryState::Expired) => {
                t.undelivered += 1
            }
            _ => {}
        }
        match Status::parse(&row.status) {
            Some(Status::Approved) => {
                t.approved += 1;
                if let Some(at) = row.verified_at {
                    t.approval_ms.push(at.0 - row.created_at.0);
                }
            }
            Some(Status::Expired) => t.expired += 1,
            Some(Status::Pending) if self.now >= row.expires_at => t.expired += 1,
            _ => {}
        }
    }

    pub fn finish(self) -> Vec<ReportGroup> {
        self.groups
            .into_iter()
            .map(|(group, mut t)| ReportGroup {
                group,
                sent: t.sent,
                delivered: t.delivered,
                undelivered: t.undelivered,
                approved: t.approved,
                expired: t.expired,
                conversion: if t.sent == 0 {
                    0.0
                } else {
                    t.approved as f64 / t.sent as f64
                },
                median_delivery_seconds: median_seconds(&mut t.delivery_ms),
                median_approval_seconds: median_seconds(&mut t.approval_ms),
            })
            .collect()
    }
}

/// The UTC day of `t`, as `YYYY-MM-DD`.
fn day_of(t: Timestamp) -> String {
    let midnight = Timestamp(t.0.div_euclid(DAY_MS) * DAY_MS).rfc3339();
    midnight.get(..10).unwrap_or(&midnight).to_string()
}

/// The median of `ms` in seconds (the mean of the two middle values for an even count).
fn median_seconds(ms: &mut [i64]) -> Option<f64> {
    let n = ms.len();
    if n == 0 {
        return None;
    }
    let (_, &mut upper, _) = ms.select_nth_unstable(n / 2);
    let value = if n % 2 == 1 {
        upper as f64
    } else {
        let (_, &mut lower, _) = ms.select_nth_unstable(n / 2 - 1);
        (lower as f64 + upper as f64) / 2.0
    };
    Some(value / 1000.0)
}

impl Engine {
    pub async fn report(&self, scope: &Scope, req: ReportRequest) -> Result<ReportReply, OtpError> {
        let now = self.clock.now();
        let until = req.until.unwrap_or(now);
        let since = req
            .since
            .unwrap_or_else(|| Timestamp(until.0.saturating_sub(DEFAULT_RANGE.as_millis() as i64)));
        if since >= until {
            return Err(OtpError::invalid("since", "must be before until"));
        }
        let appid = app_filter(scope, req.appid)?;
        let fold = self
            .store
            .readers
            .fold_report(
                since,
                until,
                appid,
                Fold::new(req.group_by, now),
                |f, row| f.add(row),
            )
            .await?;
        Ok(ReportReply {
            since,
            until,
            group_by: req.group_by.as_str(),
            items: fold.finish(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: i64, status: &str, delivery: &str) -> ReportRow {
        let created = Timestamp(day * DAY_MS + 1000);
        ReportRow {
            appid: "shop".into(),
            channel: Some("sim".into()),
            status: status.into(),
            delivery_state: delivery.into(),
            created_at: created,
            last_send_at: created,
            expires_at: Timestamp(created.0 + 300_000),
            delivered_at: (delivery == "delivered").then_some(Timestamp(created.0 + 2_000)),
            verified_at: (status == "approved").then_some(Timestamp(created.0 + 20_000)),
        }
    }

    #[test]
    fn counts_conversion_and_medians_per_day() {
        let mut f = Fold::new(GroupBy::Day, Timestamp(30_000 * DAY_MS));
        f.add(row(20_000, "approved", "delivered"));
        f.add(row(20_000, "approved", "delivered"));
        f.add(row(20_000, "expired", "undelivered"));
        // Pending past its expiry: expired.
        f.add(row(20_000, "pending", "rejected"));
        f.add(row(20_001, "canceled", "queued"));
        let groups = f.finish();
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.group.as_deref(), Some("2024-10-04"));
        assert_eq!(
            (g.sent, g.delivered, g.undelivered, g.approved, g.expired),
            (4, 2, 2, 2, 2)
        );
        assert_eq!(g.conversion, 0.5);
        assert_eq!(g.median_delivery_seconds, Some(2.0));
        assert_eq!(g.median_approval_seconds, Some(20.0));
        let g = &groups[1];
        assert_eq!((g.sent, g.approved, g.conversion), (1, 0, 0.0));
        assert_eq!(g.median_approval_seconds, None);
    }

    #[test]
    fn groups_by_channel_and_app() {
        let mut f = Fold::new(GroupBy::Channel, Timestamp(0));
        let mut r = row(1, "approved", "queued");
        r.channel = None;
        f.add(r);
        f.add(row(1, "approved", "delivered"));
        let groups = f.finish();
        assert_eq!(groups[0].group, None);
        assert_eq!(groups[1].group.as_deref(), Some("sim"));
        let mut f = Fold::new(GroupBy::App, Timestamp(0));
        f.add(row(1, "approved", "queued"));
        assert_eq!(f.finish()[0].group.as_deref(), Some("shop"));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median_seconds(&mut []), None);
        assert_eq!(median_seconds(&mut [3000, 1000, 2000]), Some(2.0));
        assert_eq!(median_seconds(&mut [4000, 1000, 3000, 2000]), Some(2.5));
    }
}
