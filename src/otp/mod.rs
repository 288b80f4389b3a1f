//! The OTP engine: codes, their keyed hashes, the verification rules and statuses.
//!
//! The engine answers the API. It never sees a drawn code: codes are drawn by the dispatcher
//! when a message leaves (see [`crate::delivery`]), and verify compares hashes. The one code it
//! holds is a test number's, fixed in config, whose hash it sets at the send (see
//! [`test_numbers`]). All reads that lead
//! to a write run on the store's one writer, so concurrent verifies of one id are judged one
//! after the other and the attempt limit holds.

pub mod apps;
mod engine;
mod error;
pub mod fraud;
pub mod hash;
pub mod limits;
pub mod manage;
pub mod phone;
pub mod pin;
pub mod rate_limits;
mod reply;
pub mod report;
pub mod rules;
pub mod template;
pub mod test_numbers;

pub use apps::{App, AppProfile, Apps, DEFAULT_APP, PolicyOverrides};
pub use engine::{
    Engine, IDEMPOTENCY_WINDOW, Origin, Scope, SendRequest, VerifyRequest, expire as engine_expire,
};
pub use error::OtpError;
pub use fraud::Fraud;
pub use limits::Limits;
pub use reply::{SendReply, StatusReply, VerifyReply};

pub use test_numbers::{TEST_CHANNEL, TestNumber, TestNumbers};

use std::time::Duration;

/// The verification policy (config `[otp]`). An app's overrides apply through
/// [`Apps::app`]: read policy values there, not here.
#[derive(Debug, Clone)]
pub struct Policy {
    pub length: u8,
    pub ttl: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
    pub max_resends: u32,
    pub template: String,
    /// `[otp.templates]`: by recipient prefix, for apps without a template of their own.
    pub templates: Vec<(String, String)>,
}

/// The longest `ttl` a send may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// Whether `appid` is a well-formed app id: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub fn valid_appid(appid: &str) -> bool {
    (1..=64).contains(&appid.len())
        && appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
