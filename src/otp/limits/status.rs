//! GET /otp/rate-limits: the state of every configured limit that a send by this caller, to
//! this recipient, in this app would be checked against, and the recipient's lockout. Pure
//! functions of the stored rows and `now`, counted exactly as [`super::admit_send`] counts.

use super::lockout::Failures;
use super::window::{self, Counter};
use super::{Limits, ip_key};
use crate::model::{Rate, Timestamp};
use crate::store::limits::{CounterRow, RecipientRow};
use serde::Serialize;
use std::net::IpAddr;

/// One limit as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitState {
    /// As config names it and a 429 reply quotes it: "per_recipient 5/10m".
    pub limit: String,
    pub scope: &'static str,
    /// What is counted: the recipient, appid, API key, client address (IPv6: its /64) or "+CC".
    pub key: String,
    pub max: u32,
    pub window_seconds: u64,
    /// Sends counted in the sliding window ending now (per_app, per_key, per_ip, per_prefix:
    /// the sliding-window estimate, rounded up).
    pub count: u64,
    /// Sends that would still be let through now.
    pub remaining: u64,
    /// When the next send is let through, if none is now.
    pub retry_at: Option<Timestamp>,
    /// When every send counted now has left the window (`null`: none is counted).
    pub reset_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockoutState {
    /// Failed verifies in a row (forgotten after `lockout_reset` of quiet).
    pub failures: u32,
    /// Failures in a row that lock the recipient (config `lockout_after`; 0: off).
    pub after: u32,
    pub locked: bool,
    pub locked_until: Option<Timestamp>,
}

/// The counters (scope, key, rates) a send would touch, besides the recipient's log.
pub fn counter_keys(
    limits: &Limits,
    recipient: Option<&str>,
    appid: Option<&str>,
    key: Option<&str>,
    ip: Option<IpAddr>,
) -> Vec<(&'static str, &'static str, String, Vec<Rate>)> {
    let prefix = recipient
        .and_then(crate::otp::phone::calling_code)
        .map(|c| format!("+{c}"));
    [
        ("app", "per_app", appid.map(str::to_string), &limits.per_app),
        ("key", "per_key", key.map(str::to_string), &limits.per_key),
        ("ip", "per_ip", ip.map(ip_key), &limits.per_ip),
        ("prefix", "per_prefix", prefix, &limits.per_prefix),
    ]
    .into_iter()
    .filter_map(|(scope, name, key, rates)| {
        let key = key.filter(|_| !rates.is_empty())?;
        Some((scope, name, key, rates.clone()))
    })
    .collect()
}

/// The per_recipient limits, from the recipient's log of sends.
pub fn recipient_states(
    limits: &Limits,
    recipient: &str,
    row: Option<&RecipientRow>,
    now: Timestamp,
) -> Vec<LimitState> {
    let sends = row.map(|r| r.sends.as_slice()).unwrap_or_default();
    limits
        .per_recipient
        .iter()
        .map(|rate| {
            let start = now.0.saturating_sub(rate.window_ms());
            let inside: Vec<Timestamp> = sends.iter().copied().filter(|t| t.0 > start).collect();
            let count = inside.len() as u64;
            LimitState {
                limit: format!("per_recipient {rate}"),
                scope: "per_recipient",
                key: recipient.to_string(),
                max: rate.count,
                window_seconds: rate.window.as_secs(),
                count,
                remaining: u64::from(rate.count).saturating_sub(count),
                retry_at: window::log_admits(sends, rate, now)
                    .err()
                    .map(|wait| now.plus(wait)),
                reset_at: inside.last().map(|t| Timestamp(t.0 + rate.window_ms())),
            }
        })
        .collect()
}

/// One sliding-window counter limit.
pub fn counter_state(
    name: &str,
    key: &str,
    rate: &Rate,
    row: Option<CounterRow>,
    now: Timestamp,
) -> LimitState {
    let w = rate.window_ms().max(1);
    let row = row.unwrap_or_default();
    let counter = Counter {
        bucket: row.bucket,
        count: u64::try_from(row.count).unwrap_or(0),
        previous: u64::try_from(row.previous).unwrap_or(0),
    }
    .at(w, now);
    let elapsed = i128::from(now.0) - i128::from(counter.bucket) * i128::from(w);
    let overlap = i128::from(w) - elapsed;
    // The weighted share of the previous window, rounded up: exactly what admits one more.
    let weighted = (i128::from(counter.previous) * overlap + i128::from(w) - 1) / i128::from(w);
    let count = u64::try_from(weighted.max(0)).unwrap_or(0) + counter.count;
    let reset_at = if counter.count > 0 {
        Some(counter.forget_at(w))
    } else if counter.previous > 0 {
        Some(Timestamp((counter.bucket + 1) * w))
    } else {
        None
    };
    LimitState {
        limit: format!("{name} {rate}"),
        scope: match name {
            "per_app" => "per_app",
            "per_key" => "per_key",
            "per_ip" => "per_ip",
            _ => "per_prefix",
        },
        key: key.to_string(),
        max: rate.count,
        window_seconds: rate.window.as_secs(),
        count,
        remaining: u64::from(rate.count).saturating_sub(count),
        retry_at: window::counter_admits(counter, rate, now)
            .err()
            .map(|wait| now.plus(wait)),
        reset_at,
    }
}

/// The recipient's lockout; `None` when the lockout is off.
pub fn lockout_state(
    limits: &Limits,
    row: Option<&RecipientRow>,
    now: Timestamp,
) -> Option<LockoutState> {
    if !limits.lockout.is_on() {
        return None;
    }
    let failures = row
        .map(|r| Failures {
            count: r.failures,
            last: r.last_failure,
            locked_until: r.locked_until,
        })
        .unwrap_or_default()
        .at(&limits.lockout, now);
    let locked = failures.locked(now).is_some();
    Some(LockoutState {
        failures: failures.count,
        after: limits.lockout.after,
        locked,
        locked_until: locked.then_some(failures.locked_until),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn the_recipient_log_counts_sends_in_each_window() {
        let limits = Limits::default(); // 5/10m, 10/24h
        let t0 = 1_000 * MIN;
        let row = RecipientRow {
            sends: (0..5).map(|i| Timestamp(t0 + i * MIN)).collect(),
            ..RecipientRow::default()
        };
        let now = Timestamp(t0 + 5 * MIN);
        let s = recipient_states(&limits, "+255712345678", Some(&row), now);
        assert_eq!(s[0].limit, "per_recipient 5/10m");
        assert_eq!((s[0].count, s[0].remaining), (5, 0));
        assert_eq!(s[0].retry_at, Some(Timestamp(t0 + 10 * MIN)));
        assert_eq!(s[0].reset_at, Some(Timestamp(t0 + 14 * MIN)));
        assert_eq!((s[1].count, s[1].remaining, s[1].retry_at), (5, 5, None));
        let none = recipient_states(&limits, "+255712345678", None, now);
        assert_eq!((none[0].count, none[0].reset_at), (0, None));
    }

    #[test]
    fn a_counter_agrees_with_what_admit_would_do() {
        let rate = Rate::parse("10/1m").unwrap();
        // Previous window had 10, now halfway through the current one with 3: 5 + 3 = 8.
        let row = CounterRow {
            bucket: 100,
            count: 3,
            previous: 10,
        };
        let now = Timestamp(100 * MIN + 30_000);
        let s = counter_state("per_app", "shop", &rate, Some(row), now);
        assert_eq!((s.count, s.remaining, s.retry_at), (8, 2, None));
        assert_eq!(s.reset_at, Some(Timestamp(102 * MIN)));
        // Full: 10 of 10 in the current window.
        let full = CounterRow {
            bucket: 100,
            count: 10,
            previous: 0,
        };
        let s = counter_state("per_app", "shop", &rate, Some(full), now);
        assert_eq!(s.remaining, 0);
        assert!(s.retry_at.is_some());
    }

    #[test]
    fn the_lockout_shows_failures_and_the_lock() {
        let limits = Limits::default();
        let now = Timestamp(1_000 * MIN);
        let row = RecipientRow {
            failures: 10,
            last_failure: now,
            locked_until: Timestamp(now.0 + MIN),
            ..RecipientRow::default()
        };
        let l = lockout_state(&limits, Some(&row), now).unwrap();
        assert!(l.locked);
        assert_eq!((l.failures, l.after), (10, 10));
        assert_eq!(l.locked_until, Some(Timestamp(now.0 + MIN)));
        let free = lockout_state(&limits, None, now).unwrap();
        assert_eq!(
            (free.failures, free.locked, free.locked_until),
            (0, false, None)
        );
    }
}
