//! The JSON body of a webhook delivery. It says what happened (`event`, `at`, `detail`) and
//! how the verification stood right after it (`status`, `delivery`): the store copied those at
//! the event's commit, so a retry tells the same facts. Never the code: the store holds none.

use crate::model::Timestamp;
use crate::store::webhooks::WebhookDelivery;
use serde::Serialize;

#[derive(Serialize)]
struct Body<'a> {
    /// The delivery id: the same on every retry, unique across webhooks and events.
    id: String,
    event: &'a str,
    at: Timestamp,
    verification_id: &'a str,
    appid: &'a str,
    recipient: &'a str,
    status: &'a str,
    delivery: Delivery<'a>,
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct Delivery<'a> {
    state: &'a str,
    channel: Option<&'a str>,
    message_id: Option<&'a str>,
    error: Option<&'a str>,
}

/// The id receivers see in the body and in `Otpd-Delivery`.
pub fn delivery_id(id: i64) -> String {
    format!("whd_{id}")
}

pub fn body(d: &WebhookDelivery) -> Vec<u8> {
    let body = Body {
        id: delivery_id(d.id),
        event: &d.event,
        at: d.at,
        verification_id: &d.verification_id,
        appid: &d.appid,
        recipient: &d.recipient,
        status: &d.status,
        delivery: Delivery {
            state: &d.delivery_state,
            channel: d.delivery_channel.as_deref(),
            message_id: d.message_id.as_deref(),
            error: d.delivery_error.as_deref(),
        },
        detail: d.detail.as_deref(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let d = WebhookDelivery {
            id: 7,
            webhook: "h".into(),
            event: "delivered".into(),
            at: Timestamp(1_700_000_000_123),
            verification_id: "v1".into(),
            appid: "shop".into(),
            recipient: "+255712345678".into(),
            status: "pending".into(),
            delivery_state: "delivered".into(),
            delivery_channel: Some("sim".into()),
            message_id: Some("m1".into()),
            delivery_error: None,
            detail: None,
            tries: 0,
        };
        let v: serde_json::Value = serde_json::from_slice(&body(&d)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": "whd_7", "event": "delivered", "at": "2023-11-14T22:13:20.123Z",
                "verification_id": "v1", "appid": "shop", "recipient": "+255712345678",
                "status": "pending",
                "delivery": {"state": "delivered", "channel": "sim", "message_id": "m1", "error": null},
                "detail": null
            })
        );
    }
}
