//! GET /healthz, /readyz and /sim/messages, and the answers to unknown routes.

use super::AppState;
use super::auth::Caller;
use super::otp_routes::query_param;
use super::problem::ApiError;
use crate::channel::{Health, LinkState};
use crate::model::Timestamp;
use crate::otp::phone;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

pub async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

#[derive(Serialize)]
struct ChannelReadiness {
    name: String,
    kind: &'static str,
    #[serde(flatten)]
    health: Health,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    store: &'static str,
    channels: Vec<ChannelReadiness>,
}

/// Ready when the store answers and at least one channel is up.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let store_ok = state.engine.store.readers.ping().await.is_ok();
    let live = state.live.get();
    let channels: Vec<ChannelReadiness> = live
        .channels
        .iter()
        .map(|c| ChannelReadiness {
            name: c.name().to_string(),
            kind: c.kind(),
            health: c.health(),
        })
        .collect();
    let any_up = channels.iter().any(|c| c.health.state == LinkState::Up);
    let ready = store_ok && any_up;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        store: if store_ok { "ok" } else { "unavailable" },
        channels,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

#[derive(Serialize)]
struct PhoneMessage {
    recipient: String,
    text: String,
    received_at: Timestamp,
    channel: String,
}

/// What the simulated phones received. It shows codes, so on TCP it needs a key.
pub async fn sim_messages(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if !state.live.get().channels.iter().any(|c| c.kind() == "sim") {
        return Err(ApiError::not_found("no sim channel is configured"));
    }
    let phones = &state.phones;
    let recipient = match query_param(query.as_deref(), "recipient")? {
        Some(r) => {
            Some(phone::normalize(&r).map_err(|e| crate::otp::OtpError::InvalidRecipient(e.0))?)
        }
        None => None,
    };
    let messages: Vec<PhoneMessage> = phones
        .messages(recipient.as_deref())
        .into_iter()
        .map(|m| PhoneMessage {
            recipient: m.recipient,
            text: m.text.expose().to_string(),
            received_at: m.received_at,
            channel: m.channel,
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "messages": messages })).into_response())
}

/// Prometheus text format. State gauges are read now.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let m = &crate::metrics::METRICS;
    for c in &state.live.get().channels {
        let up = i64::from(c.health().state == LinkState::Up);
        m.channel_up
            .get_or_create(&crate::metrics::ChannelLabel {
                channel: c.name().to_string(),
            })
            .set(up);
    }
    if let Ok(depth) = state.engine.store.readers.outbox_depth().await {
        m.outbox_depth.set(depth);
    }
    if let Ok(depth) = state.engine.store.readers.webhook_queue_depth().await {
        m.webhook_queue_depth.set(depth);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

pub async fn no_route() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this endpoint does not take that method",
    )
}
