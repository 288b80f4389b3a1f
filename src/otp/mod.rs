//! The OTP engine: codes, their keyed hashes, the verification rules and statuses.
//!
//! The engine answers the API. It never sees a code: codes are drawn by the dispatcher when a
//! message leaves (see [`crate::delivery`]), and verify compares hashes. All reads that lead
//! to a write run on the store's one writer, so concurrent verifies of one id are judged one
//! after the other and the attempt limit holds.

mod engine;
mod error;
pub mod hash;
pub mod limits;
pub mod phone;
pub mod pin;
mod reply;
pub mod rules;
pub mod template;

pub use engine::{
    Engine, IDEMPOTENCY_WINDOW, Origin, Scope, SendRequest, VerifyRequest, expire as engine_expire,
};
pub use error::OtpError;
pub use limits::Limits;
pub use reply::{SendReply, StatusReply, VerifyReply};

use std::collections::HashMap;
use std::time::Duration;

/// The verification policy (config `[otp]`).
#[derive(Debug, Clone)]
pub struct Policy {
    pub length: u8,
    pub ttl: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
    pub max_resends: u32,
    pub template: String,
}

/// The longest `ttl` a send may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// What the message of an app looks like (config `[[app]]`).
#[derive(Debug, Clone, Default)]
pub struct AppProfile {
    /// The `{app}` of the template.
    pub name: String,
    pub from: Option<String>,
    pub template: Option<String>,
    /// The `appId` that Beem-compatible requests of this app must carry (config `beem_app_id`).
    pub beem_app_id: Option<u64>,
}

/// The apps known from config; an app not listed gets its id as its name.
#[derive(Debug, Clone, Default)]
pub struct Apps {
    profiles: HashMap<String, AppProfile>,
}

/// The app used when a local caller names none.
pub const DEFAULT_APP: &str = "default";

impl Apps {
    pub fn new(profiles: HashMap<String, AppProfile>) -> Apps {
        Apps { profiles }
    }

    pub fn profile(&self, appid: &str) -> AppProfile {
        self.profiles
            .get(appid)
            .cloned()
            .unwrap_or_else(|| AppProfile {
                // "Your default code is ..." reads badly; the built-in app speaks as otpd.
                name: if appid == DEFAULT_APP {
                    "otpd".into()
                } else {
                    appid.into()
                },
                from: None,
                template: None,
                beem_app_id: None,
            })
    }

    /// The app whose `beem_app_id` is `beem_app_id` (config keeps them unique).
    pub fn by_beem_app_id(&self, beem_app_id: u64) -> Option<&str> {
        self.profiles
            .iter()
            .find(|(_, p)| p.beem_app_id == Some(beem_app_id))
            .map(|(id, _)| id.as_str())
    }
}

/// Whether `appid` is a well-formed app id: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub fn valid_appid(appid: &str) -> bool {
    (1..=64).contains(&appid.len())
        && appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
