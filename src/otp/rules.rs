//! The verification rules as pure functions of the record and `now`.
//!
//! ```text
//!             verify ok                 ┌──────────┐
//!   pending ───────────────────────────▶│ approved │
//!     │ │ │  wrong code, attempts = max └──────────┘
//!     │ │ └──────────────────────────▶ max_attempts_reached
//!     │ └── now ≥ expires_at ────────▶ expired
//!     └──── cancel / newer send ─────▶ canceled
//!           every channel gave up ───▶ failed
//! ```

use crate::model::{Status, Timestamp, Verification};
use std::time::Duration;

/// What a verify does to a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgment {
    /// Already ended: nothing changes; answer with its status.
    Ended(Status),
    /// Pending but past its expiry: it becomes expired.
    Expire,
    /// The code matches: approved.
    Approve,
    /// A wrong code that leaves `attempts_left` more tries.
    Incorrect { attempts: u32, attempts_left: u32 },
    /// A wrong code that used the last try.
    LastAttempt { attempts: u32 },
}

/// Judges a verify. `code_matches` is called only for a pending, unexpired verification, so
/// ended ones cost no hash.
pub fn judge_verify(
    v: &Verification,
    now: Timestamp,
    code_matches: impl FnOnce() -> bool,
) -> Judgment {
    if v.status != Status::Pending {
        return Judgment::Ended(v.status);
    }
    if now >= v.expires_at {
        return Judgment::Expire;
    }
    if v.attempts >= v.max_attempts {
        // Cannot happen through the rules (the last attempt ends it) but a lowered limit in
        // config must not give extra tries.
        return Judgment::LastAttempt {
            attempts: v.attempts,
        };
    }
    if code_matches() {
        return Judgment::Approve;
    }
    let attempts = v.attempts + 1;
    if attempts >= v.max_attempts {
        Judgment::LastAttempt { attempts }
    } else {
        Judgment::Incorrect {
            attempts,
            attempts_left: v.max_attempts - attempts,
        }
    }
}

/// Why a resend is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendRefusal {
    NotPending,
    TooSoon { retry_after: Duration },
    TooMany,
}

/// Whether a verification may be sent again now.
pub fn check_resend(
    v: &Verification,
    now: Timestamp,
    cooldown: Duration,
    max_resends: u32,
) -> Result<(), ResendRefusal> {
    if v.status != Status::Pending || now >= v.expires_at {
        return Err(ResendRefusal::NotPending);
    }
    if v.sends > max_resends {
        return Err(ResendRefusal::TooMany);
    }
    let available = v.last_send_at.plus(cooldown);
    if now < available {
        return Err(ResendRefusal::TooSoon {
            retry_after: now.until(available),
        });
    }
    Ok(())
}

/// The status a reader should see: a pending verification past its expiry is expired even
/// before the sweeper has written so.
pub fn visible_status(v: &Verification, now: Timestamp) -> Status {
    if v.status == Status::Pending && now >= v.expires_at {
        Status::Expired
    } else {
        v.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(status: Status, attempts: u32, sends: u32) -> Verification {
        let ttl = Duration::from_secs(300);
        let mut v = Verification::new_pending(
            "id".into(),
            "default".into(),
            "+255712345678".into(),
            Timestamp(1_000),
            ttl,
            6,
            5,
        );
        (v.status, v.attempts, v.sends) = (status, attempts, sends);
        v
    }

    #[test]
    fn verify_table() {
        use Judgment::*;
        let now = Timestamp(2_000);
        let late = Timestamp(301_000);
        let cases: &[(Verification, Timestamp, bool, Judgment)] = &[
            (v(Status::Pending, 0, 1), now, true, Approve),
            (
                v(Status::Pending, 0, 1),
                now,
                false,
                Incorrect {
                    attempts: 1,
                    attempts_left: 4,
                },
            ),
            (
                v(Status::Pending, 3, 1),
                now,
                false,
                Incorrect {
                    attempts: 4,
                    attempts_left: 1,
                },
            ),
            (
                v(Status::Pending, 4, 1),
                now,
                false,
                LastAttempt { attempts: 5 },
            ),
            (v(Status::Pending, 4, 1), now, true, Approve),
            (
                v(Status::Pending, 5, 1),
                now,
                true,
                LastAttempt { attempts: 5 },
            ),
            (v(Status::Pending, 0, 1), late, true, Expire),
            (
                v(Status::Approved, 0, 1),
                now,
                true,
                Ended(Status::Approved),
            ),
            (
                v(Status::Canceled, 0, 1),
                now,
                true,
                Ended(Status::Canceled),
            ),
            (v(Status::Expired, 0, 1), now, true, Ended(Status::Expired)),
            (
                v(Status::MaxAttemptsReached, 5, 1),
                now,
                true,
                Ended(Status::MaxAttemptsReached),
            ),
            (v(Status::Failed, 0, 1), now, true, Ended(Status::Failed)),
        ];
        for (i, (rec, at, matches, expected)) in cases.iter().enumerate() {
            assert_eq!(judge_verify(rec, *at, || *matches), *expected, "case {i}");
        }
    }

    #[test]
    fn no_hash_is_computed_for_an_ended_verification() {
        let mut called = false;
        judge_verify(&v(Status::Approved, 0, 1), Timestamp(2_000), || {
            called = true;
            true
        });
        assert!(!called);
    }

    #[test]
    fn resend_table() {
        let cooldown = Duration::from_secs(60);
        let ok = Timestamp(61_000);
        assert_eq!(
            check_resend(&v(Status::Pending, 0, 1), ok, cooldown, 3),
            Ok(())
        );
        assert_eq!(
            check_resend(&v(Status::Pending, 2, 3), ok, cooldown, 3),
            Ok(())
        );
        assert_eq!(
            check_resend(&v(Status::Pending, 0, 4), ok, cooldown, 3),
            Err(ResendRefusal::TooMany)
        );
        assert_eq!(
            check_resend(&v(Status::Pending, 0, 1), Timestamp(31_000), cooldown, 3),
            Err(ResendRefusal::TooSoon {
                retry_after: Duration::from_secs(30)
            })
        );
        assert_eq!(
            check_resend(&v(Status::Approved, 0, 1), ok, cooldown, 3),
            Err(ResendRefusal::NotPending)
        );
        assert_eq!(
            check_resend(&v(Status::Pending, 0, 1), Timestamp(301_000), cooldown, 3),
            Err(ResendRefusal::NotPending)
        );
    }

    #[test]
    fn a_pending_verification_past_expiry_reads_as_expired() {
        assert_eq!(
            visible_status(&v(Status::Pending, 0, 1), Timestamp(301_000)),
            Status::Expired
        );
        assert_eq!(
            visible_status(&v(Status::Pending, 0, 1), Timestamp(300_999)),
            Status::Pending
        );
        assert_eq!(
            visible_status(&v(Status::Approved, 0, 1), Timestamp(999_999)),
            Status::Approved
        );
    }
}
