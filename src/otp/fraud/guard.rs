//! The guard's arithmetic, as pure functions of the counts and `now`.
//!
//! Per key (a number prefix or a client address) the store keeps a sliding-window counter
//! like the rate limits' (see `otp::limits::window`): for the current fixed window of
//! `window` and the one before it, the codes sent and the codes approved. The estimate over
//! the sliding window that ends now is the current counts plus the previous ones weighted by
//! how much of the previous window the sliding one still covers. Two pairs of integers a key:
//! O(1) per send, whatever the traffic.
//!
//! An approval is counted in the fixed window it happens in, not the one of its send, so near
//! a window's edge the share is a little off; over `window` (an hour by default, against codes
//! that are approved within minutes) that does not matter.
//!
//! ```text
//!   unverified share = (sends − approvals) / sends        (estimates; 0 with no sends)
//!   trips when  sends ≥ min_sends  and  unverified share > max_unverified_share
//! ```

use crate::model::Timestamp;

/// One key's counts: fixed window `bucket` (it starts at `bucket × window` since the epoch)
/// and the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub bucket: i64,
    pub sends: u64,
    pub approvals: u64,
    pub previous_sends: u64,
    pub previous_approvals: u64,
}

impl Tally {
    /// The tally as seen at `now`: moved on to the current fixed window.
    pub fn at(self, window_ms: i64, now: Timestamp) -> Tally {
        let bucket = now.0.div_euclid(window_ms.max(1));
        match bucket - self.bucket {
            0 => self,
            1 => Tally {
                bucket,
                sends: 0,
                approvals: 0,
                previous_sends: self.sends,
                previous_approvals: self.approvals,
            },
            _ => Tally {
                bucket,
                ..Tally::default()
            },
        }
    }

    /// One more code sent (the tally already moved to `now`).
    pub fn sent(self) -> Tally {
        Tally {
            sends: self.sends.saturating_add(1),
            ..self
        }
    }

    /// One more code approved (the tally already moved to `now`).
    pub fn approved(self) -> Tally {
        Tally {
            approvals: self.approvals.saturating_add(1),
            ..self
        }
    }

    /// When the tally says nothing any more: once the window after the current one has
    /// ended, both windows are out of every sliding window.
    pub fn forget_at(&self, window_ms: i64) -> Timestamp {
        Timestamp(self.bucket.saturating_add(2).saturating_mul(window_ms))
    }
}

/// What the sliding window ending now holds, by estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Codes sent, rounded to the nearest whole code.
    pub sends: u64,
    /// Codes sent and not approved, likewise.
    pub unverified: u64,
    /// `unverified / sends` before rounding, in 0..=1.
    pub share: f64,
}

/// The estimate of `tally` (already moved to `now`, see [`Tally::at`]) over the window
/// `(now − window, now]`.
pub fn estimate(tally: Tally, window_ms: i64, now: Timestamp) -> Estimate {
    let w = i128::from(window_ms.max(1));
    let elapsed = (i128::from(now.0) - i128::from(tally.bucket) * w).clamp(0, w);
    // Times w, so that everything stays in integers until the share.
    let weighted = |current: u64, previous: u64| {
        i128::from(current) * w + i128::from(previous) * (w - elapsed)
    };
    let sends = weighted(tally.sends, tally.previous_sends);
    let approvals = weighted(tally.approvals, tally.previous_approvals);
    // Approvals of codes sent before the window can outnumber its sends.
    let unverified = (sends - approvals).max(0);
    let round = |x: i128| u64::try_from((x + w / 2) / w).unwrap_or(u64::MAX);
    Estimate {
        sends: round(sends),
        unverified: round(unverified),
        share: if sends > 0 {
            unverified as f64 / sends as f64
        } else {
            0.0
        },
    }
}

/// Whether a key with `estimate` stops (or flags) its next send.
pub fn trips(estimate: &Estimate, min_sends: u32, max_unverified_share: f64) -> bool {
    estimate.sends >= u64::from(min_sends) && estimate.share > max_unverified_share
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const T0: i64 = 480_000 * HOUR; // a window start

    fn tally(sends: u64, approvals: u64, previous_sends: u64, previous_approvals: u64) -> Tally {
        Tally {
            bucket: T0 / HOUR,
            sends,
            approvals,
            previous_sends,
            previous_approvals,
        }
    }

    #[test]
    fn a_tally_moves_on_with_its_windows() {
        let t = tally(7, 3, 2, 1);
        assert_eq!(t.at(HOUR, Timestamp(T0 + HOUR - 1)), t);
        assert_eq!(
            t.at(HOUR, Timestamp(T0 + HOUR)),
            Tally {
                bucket: T0 / HOUR + 1,
                sends: 0,
                approvals: 0,
                previous_sends: 7,
                previous_approvals: 3
            }
        );
        let later = t.at(HOUR, Timestamp(T0 + 2 * HOUR));
        assert_eq!((later.sends, later.previous_sends), (0, 0));
        assert_eq!(t.forget_at(HOUR), Timestamp(T0 + 2 * HOUR));
        assert_eq!(t.sent().approved(), tally(8, 4, 2, 1));
    }

    #[test]
    fn the_previous_window_weighs_by_its_overlap() {
        // A quarter into the window: the previous one still covers three quarters.
        let now = Timestamp(T0 + HOUR / 4);
        let e = estimate(tally(10, 2, 40, 8), HOUR, now);
        assert_eq!(e.sends, 40); // 10 + 40 × 3/4
        assert_eq!(e.unverified, 32); // (10 − 2) + (40 − 8) × 3/4
        assert!((e.share - 0.8).abs() < 1e-9, "{e:?}");
        // At the very start the previous window counts whole; at the end, not at all.
        assert_eq!(estimate(tally(0, 0, 5, 0), HOUR, Timestamp(T0)).sends, 5);
        let end = Timestamp(T0 + HOUR - 1);
        assert_eq!(estimate(tally(3, 0, 5, 0), HOUR, end).sends, 3);
    }

    #[test]
    fn a_send_at_a_window_edge_still_counts_as_one() {
        // Five sends at the end of the last window, seen 1 ms into this one: still five
        // (rounded), so min_sends = 5 holds across the edge.
        let now = Timestamp(T0 + 1);
        let e = estimate(tally(0, 0, 5, 0), HOUR, now);
        assert_eq!((e.sends, e.unverified), (5, 5));
        assert!(trips(&e, 5, 0.8));
    }

    #[test]
    fn nothing_sent_means_nothing_unverified() {
        let e = estimate(
            Tally::default().at(HOUR, Timestamp(T0)),
            HOUR,
            Timestamp(T0),
        );
        assert_eq!((e.sends, e.unverified, e.share), (0, 0, 0.0));
        assert!(!trips(&e, 0, 0.0));
    }

    #[test]
    fn late_approvals_never_make_the_share_negative() {
        let e = estimate(tally(2, 9, 0, 0), HOUR, Timestamp(T0 + 10));
        assert_eq!((e.sends, e.unverified, e.share), (2, 0, 0.0));
    }

    #[test]
    fn it_trips_on_enough_sends_with_a_share_above_the_threshold() {
        let now = Timestamp(T0 + 1_000);
        let cases = [
            // (sends, approvals, min_sends, max share, trips)
            (19, 0, 20, 0.8, false), // too few to judge
            (20, 0, 20, 0.8, true),
            (20, 4, 20, 0.8, false), // exactly 80% unverified: not above
            (20, 3, 20, 0.8, true),  // 85%
            (100, 60, 20, 0.8, false),
            (100, 60, 20, 0.3, true),
            (1, 0, 1, 0.0, true),
            (1, 1, 1, 0.0, false),
        ];
        for (sends, approvals, min, max, expected) in cases {
            let e = estimate(tally(sends, approvals, 0, 0), HOUR, now);
            assert_eq!(
                trips(&e, min, max),
                expected,
                "{sends} sent, {approvals} approved, min {min}, max {max}: {e:?}"
            );
        }
    }

    #[test]
    fn a_pumped_key_trips_and_frees_once_its_sends_slide_out() {
        let (min, max) = (20, 0.8);
        let mut t = Tally::default();
        let mut now = Timestamp(T0);
        // 20 codes in the first ten minutes, none approved: the 21st is refused.
        for _ in 0..20 {
            t = t.at(HOUR, now);
            assert!(!trips(&estimate(t, HOUR, now), min, max));
            t = t.sent();
            now = Timestamp(now.0 + 30_000);
        }
        assert!(trips(&estimate(t.at(HOUR, now), HOUR, now), min, max));
        // Into the next window, as long as the estimate still holds 20 sends.
        let later = Timestamp(T0 + HOUR + HOUR / 40);
        assert!(trips(&estimate(t.at(HOUR, later), HOUR, later), min, max));
        // Once the old sends weigh less than 19.5 the key is let through again.
        let free = Timestamp(T0 + HOUR + HOUR / 20);
        assert!(!trips(&estimate(t.at(HOUR, free), HOUR, free), min, max));
    }
}
