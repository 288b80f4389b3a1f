//! The JSON shapes the engine answers with, exactly as API.md shows them.

use crate::model::{Delivery, DeliveryState, Status, Timestamp, Verification};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryBrief {
    pub state: DeliveryState,
}

/// The reply to send and resend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendReply {
    pub verification_id: String,
    pub appid: String,
    pub recipient: String,
    pub status: Status,
    pub channel: String,
    pub expires_at: Timestamp,
    pub resend_available_at: Timestamp,
    pub attempts_left: u32,
    pub delivery: DeliveryBrief,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReply {
    pub verification_id: String,
    pub valid: bool,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReply {
    pub verification_id: String,
    pub appid: String,
    pub recipient: String,
    pub status: Status,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub verified_at: Option<Timestamp>,
    pub attempts: u32,
    pub attempts_left: u32,
    pub sends: u32,
    pub delivery: Delivery,
}

impl StatusReply {
    pub fn new(v: Verification, status: Status) -> StatusReply {
        StatusReply {
            attempts_left: v.attempts_left(),
            verification_id: v.id,
            appid: v.appid,
            recipient: v.recipient,
            status,
            created_at: v.created_at,
            expires_at: v.expires_at,
            verified_at: v.verified_at,
            attempts: v.attempts,
            sends: v.sends,
            delivery: v.delivery,
        }
    }
}

/// The `reason` of a verify that was not valid, for a verification that has ended.
pub fn ended_reason(status: Status) -> &'static str {
    match status {
        Status::Approved => "already_used",
        Status::Expired => "expired",
        Status::Canceled => "canceled",
        Status::MaxAttemptsReached => "max_attempts_reached",
        Status::Failed => "failed",
        Status::Blocked => "blocked",
        Status::Pending => "incorrect_code",
    }
}
