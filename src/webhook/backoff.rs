//! When a failed delivery is tried again: `retry_min` doubling at each try up to `retry_max`,
//! spread by ±25% jitter so that the deliveries of a receiver that was down do not all come
//! back at the same instant, and never after `max_age` from the event: one last try at that
//! moment, then the delivery is given up.

use crate::model::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min: Duration,
    pub max: Duration,
    pub max_age: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryAt(Timestamp),
    GiveUp,
}

/// The delay before try `tries + 1`, after `tries` failed ones (1 or more), without jitter.
pub fn base_delay(policy: &RetryPolicy, tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(40);
    policy
        .min
        .checked_mul(1u32 << doublings.min(31))
        .unwrap_or(policy.max)
        .min(policy.max)
}

/// What to do after try number `tries` failed at `now`, for an event of time `event_at`.
/// `jitter` is in [0, 1): 0 gives 75% of the delay, 0.5 the delay, towards 1 125% of it.
pub fn next(
    policy: &RetryPolicy,
    tries: u32,
    event_at: Timestamp,
    now: Timestamp,
    jitter: f64,
) -> Next {
    let deadline = event_at.0.saturating_add(ms(policy.max_age));
    if now.0 >= deadline {
        return Next::GiveUp;
    }
    let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    let delay = base_delay(policy, tries).mul_f64(factor);
    let at = now.0.saturating_add(ms(delay).max(1));
    Next::RetryAt(Timestamp(at.min(deadline)))
}

/// A jitter in [0, 1) that differs from process to process and from try to try.
pub fn jitter(delivery_id: i64, tries: u32) -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one((delivery_id, tries));
    (h % 1_000_000) as f64 / 1_000_000.0
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            min: S(10),
            max: S(3600),
            max_age: S(86400),
        }
    }

    #[test]
    fn doubles_from_min_up_to_max() {
        let p = policy();
        let delays: Vec<u64> = (1..=11).map(|t| base_delay(&p, t).as_secs()).collect();
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(base_delay(&p, 1000), S(3600));
    }

    #[test]
    fn jitter_spreads_within_a_quarter() {
        let p = policy();
        let at = |j| match next(&p, 1, Timestamp(0), Timestamp(1000), j) {
            Next::RetryAt(t) => t.0 - 1000,
            Next::GiveUp => -1,
        };
        assert_eq!(at(0.0), 7500);
        assert_eq!(at(0.5), 10_000);
        assert_eq!(at(0.999_999), 12_499);
        for (id, tries) in [(1, 1), (2, 5), (3, 9)] {
            let j = jitter(id, tries);
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn one_last_try_at_max_age_then_give_up() {
        let p = policy();
        let day = 86_400_000;
        // A try 5 s before the deadline with a 1 h delay is moved to the deadline itself.
        assert_eq!(
            next(&p, 12, Timestamp(0), Timestamp(day - 5000), 0.5),
            Next::RetryAt(Timestamp(day))
        );
        assert_eq!(
            next(&p, 13, Timestamp(0), Timestamp(day), 0.5),
            Next::GiveUp
        );
    }
}
