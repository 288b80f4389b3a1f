//! POST /otp/send, /otp/verify, /otp/resend, /otp/cancel and GET /otp/status.

use super::AppState;
use super::auth::Caller;
use super::body::Json;
use super::client_ip::ClientIp;
use super::problem::ApiError;
use crate::metrics;
use crate::otp::{DEFAULT_APP, Origin, SendRequest, VerifyRequest};
use crate::secret::Secret;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    recipient: String,
    appid: Option<String>,
    channel: Option<String>,
    from: Option<String>,
    length: Option<i64>,
    ttl: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    verification_id: Option<String>,
    otp_code: String,
    recipient: Option<String>,
    appid: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdBody {
    verification_id: String,
}

/// The app a request acts for: a key's own app, or on the Unix socket the body's (or
/// `default`). A key naming another app in the body is refused rather than silently ignored.
fn app_for(caller: &Caller, asked: Option<String>) -> Result<String, ApiError> {
    match (caller, asked) {
        (Caller::Local, asked) => Ok(asked.unwrap_or_else(|| DEFAULT_APP.to_string())),
        (Caller::App { appid: own, .. }, Some(asked)) if asked != *own => {
            Err(ApiError::invalid_field(format!(
                "appid: this API key belongs to app {own:?}, not {asked:?}"
            )))
        }
        (Caller::App { appid: own, .. }, _) => Ok(own.clone()),
    }
}

pub async fn send(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SendBody>,
) -> Result<Response, ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::invalid_field("Idempotency-Key must be visible ASCII"))?
                .to_string(),
        ),
    };
    let request = SendRequest {
        appid: app_for(&caller, body.appid)?,
        recipient: body.recipient,
        channel: body.channel,
        from: body.from,
        length: body.length,
        ttl_seconds: body.ttl,
        idempotency_key,
        origin: Origin {
            key: caller.key(),
            ip,
        },
    };
    let started = std::time::Instant::now();
    let reply = state.engine.send(request).await.map_err(ApiError::from);
    metrics::observe(&metrics::METRICS.send_seconds, started.elapsed());
    metrics::count(
        &metrics::METRICS.sends,
        reply.as_ref().map_or_else(|e| e.code, |_| "accepted"),
    );
    Ok((StatusCode::CREATED, axum::Json(reply?)).into_response())
}

pub async fn verify(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Json(body): Json<VerifyBody>,
) -> Result<Response, ApiError> {
    let request = VerifyRequest {
        appid: app_for(&caller, body.appid)?,
        verification_id: body.verification_id,
        recipient: body.recipient,
        code: Secret::new(body.otp_code),
        origin: Origin {
            key: caller.key(),
            ip,
        },
    };
    let started = std::time::Instant::now();
    let reply = state
        .engine
        .verify(&caller.scope(), request)
        .await
        .map_err(ApiError::from);
    metrics::observe(&metrics::METRICS.verify_seconds, started.elapsed());
    let outcome = match &reply {
        Ok(r) if r.valid => "approved",
        Ok(r) => r.reason.unwrap_or("invalid"),
        Err(e) => e.code,
    };
    metrics::count(&metrics::METRICS.verifies, outcome);
    Ok(axum::Json(reply?).into_response())
}

pub async fn resend(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    Json(body): Json<IdBody>,
) -> Result<Response, ApiError> {
    let origin = Origin {
        key: caller.key(),
        ip,
    };
    let reply = state
        .engine
        .resend(&caller.scope(), body.verification_id, origin)
        .await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Json(body): Json<IdBody>,
) -> Result<Response, ApiError> {
    let reply = state
        .engine
        .cancel(&caller.scope(), body.verification_id)
        .await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = query_param(query.as_deref(), "verification_id")?
        .ok_or_else(|| ApiError::missing_field("verification_id"))?;
    let reply = state.engine.status(&caller.scope(), id).await?;
    Ok(axum::Json(reply).into_response())
}

/// One parameter of a query string; a query that is not `a=b&c=d` is a 400.
pub fn query_param(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::invalid_field(format!("the query string is malformed: {e}")))?;
    Ok(pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
}
