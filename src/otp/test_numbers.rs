//! Test numbers (config `[[test_number]]`): for app-store reviewers and QA, a number whose
//! sends reach no channel and whose code is fixed in config.
//!
//! A send to one creates the verification with the hash of the fixed code already set (the
//! same keyed hash as any code, so verify does not know the difference), no outbox row, and
//! the delivery `delivered` on the channel named [`TEST_CHANNEL`]. Rate limits and the
//! lockout do not apply to it: reviewers retry a lot, and nothing is sent that could cost.

use super::hash::Pepper;
use crate::model::{Timestamp, Verification};
use crate::secret::Secret;
use crate::store::{StoreError, WriteTx};
use std::collections::HashMap;

/// The delivery channel of a test number's message, where a real one names its channel.
pub const TEST_CHANNEL: &str = "test";

/// One configured test number.
#[derive(Debug, Clone)]
pub struct TestNumber {
    pub code: Secret,
    /// Only this app's sends use it; `None`: every app's.
    pub app: Option<String>,
}

/// The test numbers by E.164 recipient.
#[derive(Debug, Clone, Default)]
pub struct TestNumbers {
    by_recipient: HashMap<String, TestNumber>,
}

impl TestNumbers {
    pub fn new(numbers: impl IntoIterator<Item = (String, TestNumber)>) -> TestNumbers {
        TestNumbers {
            by_recipient: numbers.into_iter().collect(),
        }
    }

    /// The fixed code of `recipient` (E.164) when `appid` sends to it, if it is a test number
    /// for that app.
    pub fn code_for(&self, recipient: &str, appid: &str) -> Option<&Secret> {
        self.by_recipient
            .get(recipient)
            .filter(|n| n.app.as_deref().is_none_or(|app| app == appid))
            .map(|n| &n.code)
    }
}

/// Records the (re)send of a test number's message: delivered at once, with the hash of the
/// fixed code, and an event that says so (never the code).
pub(super) fn record(
    tx: &WriteTx<'_>,
    pepper: &Pepper,
    v: &Verification,
    code: &Secret,
    now: Timestamp,
) -> Result<(), StoreError> {
    let hash = pepper.code_hash(&v.id, &v.recipient, code.expose());
    tx.record_test_delivery(&v.id, TEST_CHANNEL, &hash, now)?;
    let detail = "a test number of the config: nothing was sent; its fixed code applies";
    tx.insert_event(&v.appid, &v.id, "test_number", Some(detail), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_number_applies_to_its_app_or_to_all() {
        let numbers = TestNumbers::new([
            (
                "+255700000001".to_string(),
                TestNumber {
                    code: Secret::new("1234".into()),
                    app: None,
                },
            ),
            (
                "+255700000002".to_string(),
                TestNumber {
                    code: Secret::new("5678".into()),
                    app: Some("shop".into()),
                },
            ),
        ]);
        let code = |r, a| numbers.code_for(r, a).map(|c| c.expose().to_string());
        assert_eq!(code("+255700000001", "shop").as_deref(), Some("1234"));
        assert_eq!(code("+255700000001", "default").as_deref(), Some("1234"));
        assert_eq!(code("+255700000002", "shop").as_deref(), Some("5678"));
        assert_eq!(code("+255700000002", "bank"), None);
        assert_eq!(code("+255700000003", "shop"), None);
    }
}
