//! What the engine refuses, named for what the caller does next. The API maps each variant
//! once to a stable code of API.md.

use crate::store::StoreError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("{0}")]
    InvalidRecipient(String),
    #[error("{field}: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    #[error("no such verification")]
    NotFound,
    #[error("the verification has ended ({0})")]
    NotPending(&'static str),
    #[error("a new code can be sent in {} s", retry_after.as_secs())]
    ResendTooSoon { retry_after: Duration },
    #[error("no more codes can be sent for this verification")]
    TooManyResends,
    #[error("no channel can take messages for {0}")]
    NoChannel(String),
    #[error("over the limit {limit}")]
    RateLimited {
        limit: String,
        retry_after: Duration,
    },
    /// Refused by SMS-pumping protection (`otp::fraud`). A send stopped by the guard leaves
    /// a verification with status `blocked`, named here; one outside the allow-list, none.
    #[error("refused by abuse protection: {detail}")]
    Blocked {
        detail: String,
        verification_id: Option<String>,
        reason: super::fraud::Reason,
    },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyConflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<super::limits::Refusal> for OtpError {
    fn from(r: super::limits::Refusal) -> OtpError {
        OtpError::RateLimited {
            limit: r.limit,
            retry_after: r.retry_after,
        }
    }
}

impl OtpError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> OtpError {
        OtpError::InvalidField {
            field,
            message: message.into(),
        }
    }
}
