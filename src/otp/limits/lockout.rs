//! The per-recipient lockout (NIST SP 800-63B §5.2.2, throttling): a count of consecutive
//! failed verifies of a recipient across all its verifications. A new send or a resend does
//! not reset it (else an attacker would ask for a new code after each run of guesses); an
//! approved verify does. From the `after`th failure in a row the recipient is locked for
//! `first`, and each further failure (possible only once a lock has ended) locks it twice as
//! long as the last, up to `max`. A recipient with no failure for `reset` after its last lock
//! (or failure) ended starts again from zero.
//!
//! ```text
//!   count < after ──fail──▶ count + 1 ── reaches after ──▶ locked first
//!        ▲                                                  │ ends; fail
//!        │ approve, or quiet for `reset`                    ▼
//!        └──────────────────────────────────────── locked min(first × 2^k, max)
//! ```

use crate::model::Timestamp;
use std::time::Duration;

/// Config `[limits] lockout_after`, `lockout`, `lockout_max`, `lockout_reset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// Failed verifies in a row that lock the recipient; 0 turns the lockout off.
    pub after: u32,
    /// The first lock.
    pub first: Duration,
    /// The longest lock.
    pub max: Duration,
    /// Quiet time after which the count is forgotten.
    pub reset: Duration,
}

impl Default for Lockout {
    fn default() -> Lockout {
        Lockout {
            after: 10,
            first: Duration::from_secs(60),
            max: Duration::from_secs(24 * 3600),
            reset: Duration::from_secs(24 * 3600),
        }
    }
}

impl Lockout {
    pub fn is_on(&self) -> bool {
        self.after > 0
    }

    /// The lock after failure number `after + extra`.
    fn lock_for(&self, extra: u32) -> Duration {
        let factor = 1u32.checked_shl(extra).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// A recipient's run of failed verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub count: u32,
    pub last: Timestamp,
    pub locked_until: Timestamp,
}

impl Failures {
    /// The run as seen at `now`: forgotten once quiet for `reset`.
    pub fn at(self, lockout: &Lockout, now: Timestamp) -> Failures {
        if self.count > 0 && now >= self.forget_at(lockout) {
            Failures::default()
        } else {
            self
        }
    }

    /// When the run is forgotten (the epoch when there is none).
    pub fn forget_at(&self, lockout: &Lockout) -> Timestamp {
        if self.count == 0 {
            return Timestamp(0);
        }
        self.last.max(self.locked_until).plus(lockout.reset)
    }

    /// How long the recipient stays locked, if it is locked at `now`.
    pub fn locked(&self, now: Timestamp) -> Option<Duration> {
        (now < self.locked_until).then(|| now.until(self.locked_until))
    }

    /// The run after a failed verify at `now`.
    pub fn after_failure(self, lockout: &Lockout, now: Timestamp) -> Failures {
        let mut next = self.at(lockout, now);
        next.count = next.count.saturating_add(1);
        next.last = now;
        if lockout.is_on() && next.count >= lockout.after {
            next.locked_until = now.plus(lockout.lock_for(next.count - lockout.after));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn lockout() -> Lockout {
        Lockout {
            after: 3,
            first: Duration::from_secs(60),
            max: Duration::from_secs(10 * 60),
            reset: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_lock_starts_at_the_threshold_and_doubles_up_to_the_max() {
        let l = lockout();
        let mut f = Failures::default();
        let mut now = Timestamp(1_000 * MIN);
        for _ in 0..2 {
            f = f.after_failure(&l, now);
            assert_eq!(f.locked(now), None);
        }
        // Each further failure comes when the last lock has ended; its lock doubles.
        let mut locks = Vec::new();
        for _ in 0..6 {
            f = f.after_failure(&l, now);
            let lock = f.locked(now).unwrap();
            locks.push(lock.as_secs() / 60);
            now = f.locked_until;
            assert_eq!(f.locked(now), None, "the lock ends at locked_until");
        }
        assert_eq!(locks, [1, 2, 4, 8, 10, 10]);
        assert_eq!(f.count, 8);
    }

    #[test]
    fn a_locked_recipient_is_told_how_long() {
        let l = lockout();
        let now = Timestamp(0);
        let mut f = Failures::default();
        for _ in 0..3 {
            f = f.after_failure(&l, now);
        }
        assert_eq!(f.locked(now), Some(Duration::from_secs(60)));
        assert_eq!(
            f.locked(Timestamp(59_001)),
            Some(Duration::from_millis(999))
        );
        assert_eq!(f.locked(Timestamp(60_000)), None);
    }

    #[test]
    fn the_run_is_forgotten_after_a_quiet_reset_period_from_the_lock_end() {
        let l = lockout();
        let mut f = Failures::default();
        let t = Timestamp(0);
        for _ in 0..3 {
            f = f.after_failure(&l, t);
        }
        // Locked until 1m; forgotten an hour after that.
        assert_eq!(f.forget_at(&l), Timestamp(61 * MIN));
        assert_eq!(f.at(&l, Timestamp(61 * MIN - 1)).count, 3);
        assert_eq!(f.at(&l, Timestamp(61 * MIN)), Failures::default());
        // A failure after that starts a new run: no lock.
        let again = f.after_failure(&l, Timestamp(61 * MIN));
        assert_eq!(again.count, 1);
        assert_eq!(again.locked(Timestamp(61 * MIN)), None);
        // Two failures without a lock: forgotten an hour after the last.
        let two = Failures::default()
            .after_failure(&l, Timestamp(0))
            .after_failure(&l, Timestamp(5 * MIN));
        assert_eq!(two.forget_at(&l), Timestamp(65 * MIN));
        assert_eq!(Failures::default().forget_at(&l), Timestamp(0));
    }

    #[test]
    fn off_counts_but_never_locks() {
        let l = Lockout {
            after: 0,
            ..lockout()
        };
        let mut f = Failures::default();
        for _ in 0..50 {
            f = f.after_failure(&l, Timestamp(0));
        }
        assert_eq!(f.locked(Timestamp(0)), None);
    }

    #[test]
    fn huge_runs_do_not_overflow() {
        let l = lockout();
        assert_eq!(l.lock_for(40), l.max);
        let f = Failures {
            count: u32::MAX,
            ..Failures::default()
        };
        assert_eq!(f.after_failure(&l, Timestamp(0)).count, u32::MAX);
    }
}
