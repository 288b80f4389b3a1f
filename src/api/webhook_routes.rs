//! GET /otp/webhooks: the webhook delivery log, newest first, each delivery with its tries.
//! A TCP key sees its own app's deliveries only; the Unix socket sees every app's.

use super::AppState;
use super::auth::Caller;
use super::otp_routes::query_param;
use super::problem::ApiError;
use crate::model::Timestamp;
use crate::otp::Scope;
use crate::store::webhooks::{Attempt, DeliveryLogEntry, LogQuery};
use crate::webhook::payload::delivery_id;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
const STATES: [&str; 3] = ["pending", "delivered", "failed"];

#[derive(Serialize)]
struct Item {
    id: String,
    webhook: String,
    event: String,
    at: Timestamp,
    verification_id: String,
    state: String,
    tries: u32,
    next_try_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    last_error: Option<String>,
    attempts: Vec<AttemptItem>,
}

#[derive(Serialize)]
struct AttemptItem {
    at: Timestamp,
    http_status: Option<u16>,
    error: Option<String>,
    duration_ms: i64,
}

impl From<DeliveryLogEntry> for Item {
    fn from(e: DeliveryLogEntry) -> Item {
        Item {
            id: delivery_id(e.id),
            webhook: e.webhook,
            event: e.event,
            at: e.at,
            verification_id: e.verification_id,
            state: e.state,
            tries: e.tries,
            next_try_at: e.next_try_at,
            ended_at: e.ended_at,
            last_error: e.last_error,
            attempts: e.attempts.into_iter().map(AttemptItem::from).collect(),
        }
    }
}

impl From<Attempt> for AttemptItem {
    fn from(a: Attempt) -> AttemptItem {
        AttemptItem {
            at: a.at,
            http_status: a.http_status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

#[derive(Serialize)]
struct Page {
    items: Vec<Item>,
    next_cursor: Option<String>,
}

pub async fn log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = query.as_deref();
    // An empty value (`state=`) is the same as no parameter, as on the other /otp/ lists.
    let param = |name| query_param(q, name).map(|v| v.filter(|t| !t.is_empty()));
    let limit = match param("limit")? {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                let msg = format!("limit must be between 1 and {MAX_LIMIT}, got {text:?}");
                return Err(ApiError::invalid_field(msg));
            }
        },
    };
    let before = match param("cursor")? {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid_field(format!("cursor {text:?} is not one this endpoint gave"))
        })?),
    };
    let state_filter = param("state")?;
    if let Some(s) = &state_filter
        && !STATES.contains(&s.as_str())
    {
        let msg = format!("state must be one of {}, got {s:?}", STATES.join(", "));
        return Err(ApiError::invalid_field(msg));
    }
    let wanted_app = param("appid")?;
    let appid = match (caller.scope(), wanted_app) {
        (Scope::Any, wanted) => wanted,
        (Scope::App(own), Some(wanted)) if wanted != own => {
            // Another app's deliveries are none of this key's business: an empty page.
            return Ok(axum::Json(Page {
                items: Vec::new(),
                next_cursor: None,
            })
            .into_response());
        }
        (Scope::App(own), _) => Some(own),
    };
    let query = LogQuery {
        appid,
        webhook: param("webhook")?,
        state: state_filter,
        verification_id: param("verification_id")?,
        before,
        limit,
    };
    let entries = state
        .engine
        .store
        .readers
        .webhook_log(query)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the webhook log");
            ApiError::internal()
        })?;
    let next_cursor = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    let items = entries.into_iter().map(Item::from).collect();
    Ok(axum::Json(Page { items, next_cursor }).into_response())
}
