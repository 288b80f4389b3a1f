//! The Beem OTP result codes (100–118) and the one place where the engine's answers become
//! them: pure functions of an [`OtpError`] or a [`VerifyReply`], tested as a table.
//!
//! Beem answers every call with `{"data":{"message":{"code":N,"message":"..."}}}` (plus
//! `pinId` on a sent PIN). The texts of 100 ("SMS sent successfully") and 117 ("Valid Pin")
//! are Beem's own, as its clients and their tests see them: the Beem SDK docs of
//! github.com/Kalebu/BeemAfrica (docs/OTP.md) and Laravel tests that fake Beem's replies
//! (`BeemAfricaOtpServiceTest`: `'code' => 100, 'message' => 'SMS sent successfully'`,
//! `'code' => 117, 'message' => 'Valid Pin'`). No public source we could find quotes the other
//! texts, so they are the descriptions in Beem's capitalisation; clients branch on the
//! code, not the text.
//!
//! HTTP statuses: Beem clients treat 200 as success (`$response->status() == 200`), so a sent
//! PIN and every judged verify (114–118, like /otp/verify's 200 for every outcome) are 200;
//! refusals get the 4xx/5xx that says what went wrong, with the Beem body.

use crate::otp::{OtpError, VerifyReply};
use axum::http::StatusCode;
use std::time::Duration;

/// A Beem result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Sent = 100,
    SendFailed = 101,
    InvalidPhone = 102,
    PhoneMissing = 103,
    AppIdMissing = 104,
    AppNotFound = 106,
    /// Never sent by otpd: an app has no "inactive" state (a revoked key is a 110).
    #[allow(dead_code)]
    AppInactive = 107,
    NoChannel = 108,
    /// Never sent by otpd: templates are checked when the config is loaded.
    #[allow(dead_code)]
    PlaceholderNotFound = 109,
    CredentialsMissing = 110,
    PinMissing = 111,
    PinIdMissing = 112,
    PinIdNotFound = 113,
    IncorrectPin = 114,
    PinTimeout = 115,
    AttemptsExceeded = 116,
    ValidPin = 117,
    PinAlreadyUsed = 118,
}

impl Code {
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The `message` text that goes with the code.
    pub fn text(self) -> &'static str {
        match self {
            Code::Sent => "SMS sent successfully",
            Code::SendFailed => "Failed to send SMS",
            Code::InvalidPhone => "Invalid phone number",
            Code::PhoneMissing => "Phone number missing",
            Code::AppIdMissing => "Application id missing",
            Code::AppNotFound => "Application not found",
            Code::AppInactive => "Application inactive",
            Code::NoChannel => "No channel",
            Code::PlaceholderNotFound => "Placeholder not found",
            Code::CredentialsMissing => "Credentials missing",
            Code::PinMissing => "Pin missing",
            Code::PinIdMissing => "Pin id missing",
            Code::PinIdNotFound => "Pin id not found",
            Code::IncorrectPin => "Incorrect Pin",
            Code::PinTimeout => "Pin Timeout",
            Code::AttemptsExceeded => "Attempts exceeded",
            Code::ValidPin => "Valid Pin",
            Code::PinAlreadyUsed => "Pin already used",
        }
    }
}

/// A Beem answer: its code, the HTTP status, and for a limit the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub code: Code,
    pub status: StatusCode,
    pub retry_after: Option<u64>,
}

impl Outcome {
    pub fn new(code: Code, status: StatusCode) -> Outcome {
        Outcome {
            code,
            status,
            retry_after: None,
        }
    }

    /// The status a refusal of `code` gets when nothing more specific applies.
    pub fn of(code: Code) -> Outcome {
        let status = match code {
            Code::Sent
            | Code::ValidPin
            | Code::IncorrectPin
            | Code::PinTimeout
            | Code::AttemptsExceeded
            | Code::PinAlreadyUsed => StatusCode::OK,
            Code::CredentialsMissing => StatusCode::UNAUTHORIZED,
            Code::AppNotFound | Code::AppInactive => StatusCode::FORBIDDEN,
            Code::PinIdNotFound => StatusCode::NOT_FOUND,
            Code::NoChannel => StatusCode::SERVICE_UNAVAILABLE,
            Code::SendFailed | Code::PlaceholderNotFound => StatusCode::INTERNAL_SERVER_ERROR,
            Code::InvalidPhone
            | Code::PhoneMissing
            | Code::AppIdMissing
            | Code::PinMissing
            | Code::PinIdMissing => StatusCode::BAD_REQUEST,
        };
        Outcome::new(code, status)
    }
}

fn seconds(d: Duration) -> u64 {
    (d.as_millis().div_ceil(1000) as u64).max(1)
}

/// Why `POST /v1/request` sent nothing.
pub fn request_refused(e: &OtpError) -> Outcome {
    match e {
        OtpError::InvalidRecipient(_) => Outcome::of(Code::InvalidPhone),
        OtpError::NoChannel(_) => Outcome::of(Code::NoChannel),
        // Beem has no "slow down" code; 101 with 429 and Retry-After tells a client both.
        OtpError::RateLimited { retry_after, .. } => Outcome {
            retry_after: Some(seconds(*retry_after)),
            ..Outcome::new(Code::SendFailed, StatusCode::TOO_MANY_REQUESTS)
        },
        // Refused by SMS-pumping protection (country not allowed, or the guard in block mode):
        // Beem has no code for it; 101 with 403, as /otp/send answers 403 blocked.
        OtpError::Blocked { .. } => Outcome::new(Code::SendFailed, StatusCode::FORBIDDEN),
        // Nothing the client sent can cause these on /v1/request; the store failing can.
        _ => Outcome::of(Code::SendFailed),
    }
}

/// Why `POST /v1/verify` judged nothing.
pub fn verify_refused(e: &OtpError) -> Outcome {
    match e {
        OtpError::NotFound => Outcome::of(Code::PinIdNotFound),
        // A pin that is not 1 to 10 digits cannot be right; no attempt is counted for it.
        OtpError::InvalidField { .. } => Outcome::of(Code::IncorrectPin),
        // The recipient is locked out after failed verifies across verifications.
        OtpError::RateLimited { retry_after, .. } => Outcome {
            retry_after: Some(seconds(*retry_after)),
            ..Outcome::new(Code::AttemptsExceeded, StatusCode::TOO_MANY_REQUESTS)
        },
        _ => Outcome::new(Code::SendFailed, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A judged verify.
pub fn verified(reply: &VerifyReply) -> Outcome {
    if reply.valid {
        return Outcome::of(Code::ValidPin);
    }
    let code = match reply.reason.unwrap_or("incorrect_code") {
        "expired" => Code::PinTimeout,
        // Replaced by a newer request, canceled, or never delivered: the pin is no longer
        // usable and the user needs a new one, which is what a timeout tells a client.
        "canceled" | "failed" => Code::PinTimeout,
        "max_attempts_reached" | "blocked" => Code::AttemptsExceeded,
        "already_used" => Code::PinAlreadyUsed,
        _ => Code::IncorrectPin,
    };
    Outcome::of(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn reply(valid: bool, status: Status, reason: Option<&'static str>) -> VerifyReply {
        VerifyReply {
            verification_id: "v".into(),
            valid,
            status,
            reason,
            attempts_left: None,
        }
    }

    #[test]
    fn verify_outcomes() {
        let table = [
            (reply(true, Status::Approved, None), 117, 200),
            (
                reply(false, Status::Pending, Some("incorrect_code")),
                114,
                200,
            ),
            (reply(false, Status::Expired, Some("expired")), 115, 200),
            (reply(false, Status::Canceled, Some("canceled")), 115, 200),
            (reply(false, Status::Failed, Some("failed")), 115, 200),
            (
                reply(
                    false,
                    Status::MaxAttemptsReached,
                    Some("max_attempts_reached"),
                ),
                116,
                200,
            ),
            (reply(false, Status::Blocked, Some("blocked")), 116, 200),
            (
                reply(false, Status::Approved, Some("already_used")),
                118,
                200,
            ),
        ];
        for (r, code, status) in table {
            let o = verified(&r);
            assert_eq!(
                (o.code.number(), o.status.as_u16()),
                (code, status),
                "{r:?}"
            );
        }
    }

    #[test]
    fn engine_errors() {
        let limited = || OtpError::RateLimited {
            limit: "per_recipient 5/10m".into(),
            retry_after: Duration::from_millis(1500),
        };
        let store = || OtpError::Store(crate::store::StoreError::Closed);
        let blocked = || OtpError::Blocked {
            detail: "sending to this country (+44) is not allowed".into(),
            verification_id: None,
            reason: crate::otp::fraud::Reason::Country,
        };
        let request = [
            (OtpError::InvalidRecipient("x".into()), 102, 400, None),
            (OtpError::NoChannel("+255".into()), 108, 503, None),
            (limited(), 101, 429, Some(2)),
            (blocked(), 101, 403, None),
            (store(), 101, 500, None),
            (OtpError::invalid("from", "bad"), 101, 500, None),
        ];
        for (e, code, status, retry) in request {
            let o = request_refused(&e);
            assert_eq!(
                (o.code.number(), o.status.as_u16(), o.retry_after),
                (code, status, retry),
                "{e:?}"
            );
        }
        let verify = [
            (OtpError::NotFound, 113, 404, None),
            (OtpError::invalid("otp_code", "digits"), 114, 200, None),
            (limited(), 116, 429, Some(2)),
            (store(), 101, 500, None),
        ];
        for (e, code, status, retry) in verify {
            let o = verify_refused(&e);
            assert_eq!(
                (o.code.number(), o.status.as_u16(), o.retry_after),
                (code, status, retry),
                "{e:?}"
            );
        }
    }

    #[test]
    fn every_code_has_its_number_and_a_text() {
        let all = [
            (Code::Sent, 100),
            (Code::SendFailed, 101),
            (Code::InvalidPhone, 102),
            (Code::PhoneMissing, 103),
            (Code::AppIdMissing, 104),
            (Code::AppNotFound, 106),
            (Code::AppInactive, 107),
            (Code::NoChannel, 108),
            (Code::PlaceholderNotFound, 109),
            (Code::CredentialsMissing, 110),
            (Code::PinMissing, 111),
            (Code::PinIdMissing, 112),
            (Code::PinIdNotFound, 113),
            (Code::IncorrectPin, 114),
            (Code::PinTimeout, 115),
            (Code::AttemptsExceeded, 116),
            (Code::ValidPin, 117),
            (Code::PinAlreadyUsed, 118),
        ];
        for (code, n) in all {
            assert_eq!(code.number(), n);
            assert!(!code.text().is_empty());
        }
        assert_eq!(Code::Sent.text(), "SMS sent successfully");
        assert_eq!(Code::ValidPin.text(), "Valid Pin");
    }
}
