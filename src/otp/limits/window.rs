//! The two ways "COUNT/DURATION" is counted, as pure functions of the state and `now`.
//!
//! - Per recipient, an exact **sliding log**: the times of the recipient's latest accepted
//!   sends. A send is let through only if fewer than COUNT of them fall in the DURATION that
//!   ends now, so no window of that length ever holds more than COUNT. The counts are small
//!   (a handful of SMS a day per phone), so the log is a few timestamps per recipient.
//! - Per app, API key, client IP and country prefix, a **sliding-window counter**: two fixed
//!   windows of DURATION (the current one and the one before) with their counts; the estimate
//!   is the current count plus the previous count weighted by how much of the previous window
//!   still overlaps the sliding one. Why: these scopes take thousands of sends a second, and a
//!   log of each would be as long as the limit; two integers per key are O(1) in time and
//!   space. It is an estimate: it assumes the previous window's sends were spread evenly, so
//!   with sends bunched at the end of a window up to about twice COUNT can get through in the
//!   DURATION that straddles two windows; for steady traffic it holds COUNT closely. GCRA
//!   (also O(1)) was not chosen: it lets a burst of COUNT through and then COUNT more at the
//!   steady rate within the same DURATION, and "COUNT per DURATION" reads as a window.
//!
//! Windows are `(now - DURATION, now]`: a send exactly DURATION ago no longer counts.
//! Refused sends are not counted, so a client that keeps retrying gets through as soon as the
//! window allows.

use crate::model::{Rate, Timestamp};
use std::time::Duration;

/// Whether one more send fits the sliding log `sends` (oldest first) under `rate`; if not,
/// how long until it does.
pub fn log_admits(sends: &[Timestamp], rate: &Rate, now: Timestamp) -> Result<(), Duration> {
    let start = now.0.saturating_sub(rate.window_ms());
    let inside: Vec<Timestamp> = sends.iter().copied().filter(|t| t.0 > start).collect();
    let count = inside.len();
    let limit = rate.count as usize;
    if count < limit {
        return Ok(());
    }
    // Sends leave the window oldest first; once count - limit + 1 of them have left, one
    // more fits. The last of those to leave is the (count - limit)th (0-based) oldest.
    let leaving = inside
        .get(count - limit)
        .copied()
        .unwrap_or(Timestamp(start));
    Err(now.until(Timestamp(leaving.0.saturating_add(rate.window_ms()))))
}

/// The log after a send at `now`: the newest `keep` sends no older than `longest` (the
/// longest per-recipient window), oldest first.
pub fn log_record(
    sends: &[Timestamp],
    now: Timestamp,
    keep: usize,
    longest: Duration,
) -> Vec<Timestamp> {
    let start = now
        .0
        .saturating_sub(i64::try_from(longest.as_millis()).unwrap_or(i64::MAX));
    let mut out: Vec<Timestamp> = sends.iter().copied().filter(|t| t.0 > start).collect();
    out.push(now);
    let extra = out.len().saturating_sub(keep);
    out.drain(..extra);
    out
}

/// One sliding-window counter: the fixed window `bucket` (it starts at `bucket × DURATION`
/// since the epoch) holds `count` sends, the one before it `previous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub bucket: i64,
    pub count: u64,
    pub previous: u64,
}

impl Counter {
    /// The counter as seen at `now`: moved on to the current fixed window.
    pub fn at(self, window_ms: i64, now: Timestamp) -> Counter {
        let bucket = now.0.div_euclid(window_ms.max(1));
        match bucket - self.bucket {
            0 => self,
            1 => Counter {
                bucket,
                count: 0,
                previous: self.count,
            },
            // The clock went back (an NTP step, a restored VM): keep counting in the newest
            // window seen. Starting an empty one would let a jump back admit COUNT more; this
            // way the wait only grows by the jump, and never goes negative.
            d if d < 0 => self,
            _ => Counter {
                bucket,
                count: 0,
                previous: 0,
            },
        }
    }

    /// When this counter says nothing any more: once the window after the current one has
    /// ended, both counts are out of every sliding window.
    pub fn forget_at(&self, window_ms: i64) -> Timestamp {
        Timestamp(self.bucket.saturating_add(2).saturating_mul(window_ms))
    }
}

/// Whether one more send fits `counter` (already moved to `now`, see [`Counter::at`]) under
/// `rate`; if not, how long until it does.
pub fn counter_admits(counter: Counter, rate: &Rate, now: Timestamp) -> Result<(), Duration> {
    let w = i128::from(rate.window_ms().max(1));
    let n = i128::from(rate.count);
    let start = i128::from(counter.bucket) * w;
    let elapsed = i128::from(now.0) - start;
    let (count, previous) = (i128::from(counter.count), i128::from(counter.previous));
    // In integers, times w: previous × (w − elapsed)/w + count + 1 ≤ n.
    let fits = |previous: i128, count: i128, elapsed: i128| {
        previous * (w - elapsed) <= (n - count - 1) * w
    };
    if fits(previous, count, elapsed) {
        return Ok(());
    }
    let room = n - count - 1;
    let at = if room >= 0 {
        // Later in this window, once enough of the previous one has slid out:
        // previous × (w − e) ≤ room × w  ⇔  e ≥ w − ⌊room × w / previous⌋.
        start + w - (room * w) / previous.max(1)
    } else {
        // Only in the next window, where this window's count becomes the weighted one:
        // count × (w − e) ≤ (n − 1) × w  ⇔  e ≥ w − ⌊(n − 1) × w / count⌋ (at most w: the
        // window after next starts empty).
        start + w + (w - ((n - 1) * w) / count.max(1))
    };
    let wait = (at - i128::from(now.0)).max(0);
    Err(Duration::from_millis(
        u64::try_from(wait).unwrap_or(u64::MAX),
    ))
}

/// The counter after a send at `now` (already moved to `now`).
pub fn counter_record(counter: Counter) -> Counter {
    Counter {
        count: counter.count.saturating_add(1),
        ..counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn rate(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_sixth_send_in_ten_minutes_is_refused_until_the_first_slides_out() {
        let r = rate("5/10m");
        let t0 = 1_000 * MIN;
        // Sends at t0, t0+1m, ..., t0+4m.
        let mut log = Vec::new();
        for i in 0..5 {
            let now = Timestamp(t0 + i * MIN);
            assert_eq!(log_admits(&log, &r, now), Ok(()), "send {i}");
            log = log_record(&log, now, 10, secs(86_400));
        }
        // The sixth, at t0+5m: the first leaves the window at t0+10m.
        assert_eq!(
            log_admits(&log, &r, Timestamp(t0 + 5 * MIN)),
            Err(secs(300))
        );
        assert_eq!(
            log_admits(&log, &r, Timestamp(t0 + 10 * MIN - 1)),
            Err(Duration::from_millis(1))
        );
        // Exactly ten minutes after the first: it no longer counts.
        assert_eq!(log_admits(&log, &r, Timestamp(t0 + 10 * MIN)), Ok(()));
        log = log_record(&log, Timestamp(t0 + 10 * MIN), 10, secs(86_400));
        // Now the second (t0+1m) is the one to wait for.
        assert_eq!(
            log_admits(&log, &r, Timestamp(t0 + 10 * MIN)),
            Err(secs(60))
        );
    }

    #[test]
    fn a_longer_window_holds_after_the_short_one_allows() {
        let (short, long) = (rate("5/10m"), rate("10/24h"));
        let mut log = Vec::new();
        let mut now = Timestamp(0);
        for _ in 0..10 {
            assert_eq!(log_admits(&log, &short, now), Ok(()));
            assert_eq!(log_admits(&log, &long, now), Ok(()));
            log = log_record(&log, now, 10, long.window);
            now = Timestamp(now.0 + 11 * MIN);
        }
        // The 11th: the short window is empty enough, the day is not; the first send (at 0)
        // leaves the day at 24h.
        assert_eq!(log_admits(&log, &short, now), Ok(()));
        assert_eq!(
            log_admits(&log, &long, now),
            Err(now.until(Timestamp(24 * 60 * MIN)))
        );
    }

    #[test]
    fn a_lowered_count_waits_for_enough_sends_to_leave() {
        let log: Vec<Timestamp> = (0..5).map(|i| Timestamp(i * MIN)).collect();
        // With 3/10m and 5 sends inside, three must leave: the third one (at 2m) last.
        assert_eq!(
            log_admits(&log, &rate("3/10m"), Timestamp(5 * MIN)),
            Err(secs(7 * 60))
        );
    }

    #[test]
    fn the_log_keeps_only_what_a_limit_can_need() {
        let log: Vec<Timestamp> = (0..12).map(|i| Timestamp(i * MIN)).collect();
        let kept = log_record(&log, Timestamp(12 * MIN), 10, secs(600));
        // Older than 10 minutes (at 2m and before) dropped, and at most 10 kept.
        assert_eq!(kept.first(), Some(&Timestamp(3 * MIN)));
        assert_eq!(kept.last(), Some(&Timestamp(12 * MIN)));
        assert_eq!(kept.len(), 10);
        let kept = log_record(&log, Timestamp(12 * MIN), 3, secs(86_400));
        assert_eq!(
            kept,
            [
                Timestamp(10 * MIN),
                Timestamp(11 * MIN),
                Timestamp(12 * MIN)
            ]
        );
    }

    #[test]
    fn a_counter_moves_on_with_its_windows() {
        let c = Counter {
            bucket: 10,
            count: 7,
            previous: 3,
        };
        assert_eq!(c.at(MIN, Timestamp(10 * MIN + 5)), c);
        let next = c.at(MIN, Timestamp(11 * MIN));
        assert_eq!((next.bucket, next.count, next.previous), (11, 0, 7));
        let later = c.at(MIN, Timestamp(12 * MIN));
        assert_eq!((later.bucket, later.count, later.previous), (12, 0, 0));
        assert_eq!(c.forget_at(MIN), Timestamp(12 * MIN));
    }

    #[test]
    fn a_clock_jump_back_neither_resets_a_counter_nor_gives_a_negative_wait() {
        let r = rate("4/1m");
        let now = Timestamp(100 * MIN + 15_000);
        let mut c = Counter::default().at(r.window_ms(), now);
        for _ in 0..4 {
            c = counter_record(c);
        }
        // An hour back: the counter stays as it was and the send is still refused, for the
        // minute it would have waited plus the hour.
        let back = Timestamp(40 * MIN + 15_000);
        let seen = c.at(r.window_ms(), back);
        assert_eq!(seen, c);
        assert_eq!(counter_admits(seen, &r, back), Err(secs(3600 + 60)));
        // Forward again: as if the jump had not happened.
        let then = Timestamp(101 * MIN + 15_000);
        assert_eq!(counter_admits(c.at(r.window_ms(), then), &r, then), Ok(()));
    }

    #[test]
    fn a_counter_admits_count_in_a_fresh_window_then_waits_for_the_next() {
        let r = rate("4/1m");
        let now = Timestamp(100 * MIN + 15_000);
        let mut c = Counter::default().at(r.window_ms(), now);
        for _ in 0..4 {
            assert_eq!(counter_admits(c, &r, now), Ok(()));
            c = counter_record(c);
        }
        // Full: in the next window these 4 weigh 4 × (1 − e/60 s); one more fits when that
        // is at most 3, at e = 15 s: 45 s left of this window plus 15 s.
        assert_eq!(counter_admits(c, &r, now), Err(secs(60)));
        let then = Timestamp(101 * MIN + 15_000);
        assert_eq!(counter_admits(c.at(r.window_ms(), then), &r, then), Ok(()));
        let before = Timestamp(101 * MIN + 14_999);
        assert!(counter_admits(c.at(r.window_ms(), before), &r, before).is_err());
    }

    #[test]
    fn a_counter_weighs_the_previous_window_by_its_overlap() {
        let r = rate("10/1m");
        // 10 in the previous window, 2 in this one; at 30 s the estimate is 5 + 2 = 7.
        let c = Counter {
            bucket: 100,
            count: 2,
            previous: 10,
        };
        let half = Timestamp(100 * MIN + 30_000);
        assert_eq!(counter_admits(c, &r, half), Ok(()));
        // With 8 here the estimate is 13: one more fits once 10 × (1 − e) ≤ 1, at e = 54 s.
        let full = Counter { count: 8, ..c };
        assert_eq!(counter_admits(full, &r, half), Err(secs(24)));
        let at = Timestamp(100 * MIN + 54_000);
        assert_eq!(counter_admits(full, &r, at), Ok(()));
        assert!(counter_admits(full, &r, Timestamp(at.0 - 1)).is_err());
    }

    #[test]
    fn a_counter_never_lets_more_than_count_through_in_one_fixed_window() {
        let r = rate("3/10s");
        let mut c = Counter::default();
        let mut admitted = 0;
        // One attempt every 100 ms for 10 s from a window start: at most 3 get through.
        for i in 0..100 {
            let now = Timestamp(1_000_000 + i * 100);
            c = c.at(r.window_ms(), now);
            if counter_admits(c, &r, now).is_ok() {
                c = counter_record(c);
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3);
    }
}
