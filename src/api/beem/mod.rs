//! Drop-in compatibility for Beem OTP clients (API.md, "Beem-compatible calls"):
//! `POST /v1/request {"appId", "msisdn"}` sends a PIN, `POST /v1/verify {"pinId", "pin"}`
//! checks it, with Beem's reply shapes and result codes (see [`codes`]).
//!
//! The `pinId` is the verification id. On TCP the API key decides the app: when that app sets
//! `beem_app_id`, `appId` must equal it (else 106). On the Unix socket (no key) `appId` picks
//! the app whose `beem_app_id` it is, else `default`. Requests go through the same engine as
//! /otp/send and /otp/verify: the same limits, events and metrics.
//!
//! Credentials are checked before the body is read (110 and 401 whatever the body). After
//! that, transport-level faults keep the problem+json of the rest of the API (415 wrong
//! content type, 413 too large, 400 not a JSON object): no Beem code describes them.

pub mod codes;
pub mod input;

use super::AppState;
use super::auth::Caller;
use super::body::Json;
use super::client_ip::ClientIp;
use super::problem::ApiError;
use crate::metrics;
use crate::otp::{Apps, DEFAULT_APP, Origin, SendRequest, VerifyRequest};
use crate::secret::Secret;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use codes::{Code, Outcome};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Serialize)]
struct Reply {
    data: Data,
}

#[derive(Serialize)]
struct Data {
    #[serde(rename = "pinId", skip_serializing_if = "Option::is_none")]
    pin_id: Option<String>,
    message: Message,
}

#[derive(Serialize)]
struct Message {
    code: u16,
    message: &'static str,
}

/// `{"data":{"pinId"?,"message":{"code","message"}}}` with the outcome's status.
fn answer(outcome: Outcome, pin_id: Option<String>) -> Response {
    let body = Reply {
        data: Data {
            pin_id,
            message: Message {
                code: outcome.code.number(),
                message: outcome.code.text(),
            },
        },
    };
    let mut response = (outcome.status, axum::Json(body)).into_response();
    if let Some(secs) = outcome.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn refuse(code: Code) -> Response {
    answer(Outcome::of(code), None)
}

/// A missing or wrong key is Beem's 110; anything else (the key lookup failed) stays a 500.
fn unauthenticated(e: ApiError) -> Response {
    if e.code == "unauthorized" {
        refuse(Code::CredentialsMissing)
    } else {
        e.into_response()
    }
}

/// The caller, then the body. The body is read only once the credentials hold, as on
/// /otp/* (whose `Caller` extractor rejects first): a stranger gets 110 whatever it sends,
/// and its body, up to `max_body`, is never read.
async fn caller_and_body(
    state: &Arc<AppState>,
    caller: Result<Caller, ApiError>,
    req: Request,
) -> Result<(Caller, Value), Response> {
    let caller = caller.map_err(unauthenticated)?;
    let Json(body) = Json::<Value>::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((caller, body))
}

/// The app a `/v1/request` acts for, given its `appId`.
pub fn app_for(caller: &Caller, app_id: u64, apps: &Apps) -> Result<String, Code> {
    match caller {
        Caller::App { appid, .. } => match apps.beem_app_id(appid) {
            Some(own) if own != app_id => Err(Code::AppNotFound),
            _ => Ok(appid.clone()),
        },
        Caller::Local => Ok(apps
            .by_beem_app_id(app_id)
            .unwrap_or(DEFAULT_APP)
            .to_string()),
    }
}

pub async fn request(
    State(state): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> Response {
    let (caller, body) = match caller_and_body(&state, caller, req).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let live = state.engine.live.get();
    let parsed = input::app_id(&body)
        .and_then(|app_id| app_for(&caller, app_id, &live.apps))
        .and_then(|appid| Ok((appid, input::msisdn(&body)?)));
    let (appid, recipient) = match parsed {
        Ok(p) => p,
        Err(code) => {
            metrics::count(&metrics::METRICS.sends, "beem_refused");
            return refuse(code);
        }
    };
    let request = SendRequest {
        appid,
        recipient,
        origin: Origin {
            key: caller.key(),
            ip,
        },
        ..SendRequest::default()
    };
    let started = std::time::Instant::now();
    let sent = state.engine.send(request).await;
    metrics::observe(&metrics::METRICS.send_seconds, started.elapsed());
    match sent {
        Ok(reply) => {
            metrics::count(&metrics::METRICS.sends, "accepted");
            answer(Outcome::of(Code::Sent), Some(reply.verification_id))
        }
        Err(e) => {
            let outcome = codes::request_refused(&e);
            // Logs a store error once, as the rest of the API does; names the outcome.
            let api = ApiError::from(e);
            metrics::count(&metrics::METRICS.sends, api.code);
            answer(outcome, None)
        }
    }
}

pub async fn verify(
    State(state): State<Arc<AppState>>,
    caller: Result<Caller, ApiError>,
    ClientIp(ip): ClientIp,
    req: Request,
) -> Response {
    let (caller, body) = match caller_and_body(&state, caller, req).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let parsed = input::pin_id(&body).and_then(|id| Ok((id, input::pin(&body)?)));
    let (pin_id, pin) = match parsed {
        Ok(p) => p,
        Err(code) => {
            metrics::count(&metrics::METRICS.verifies, "beem_refused");
            return refuse(code);
        }
    };
    let appid = match &caller {
        Caller::App { appid, .. } => appid.clone(),
        Caller::Local => DEFAULT_APP.to_string(),
    };
    let request = VerifyRequest {
        verification_id: Some(pin_id),
        recipient: None,
        appid,
        code: Secret::new(pin),
        origin: Origin {
            key: caller.key(),
            ip,
        },
    };
    let started = std::time::Instant::now();
    let judged = state.engine.verify(&caller.scope(), request).await;
    metrics::observe(&metrics::METRICS.verify_seconds, started.elapsed());
    match judged {
        Ok(reply) => {
            let outcome = if reply.valid {
                "approved"
            } else {
                reply.reason.unwrap_or("invalid")
            };
            metrics::count(&metrics::METRICS.verifies, outcome);
            answer(codes::verified(&reply), None)
        }
        Err(e) => {
            let outcome = codes::verify_refused(&e);
            let api = ApiError::from(e);
            metrics::count(&metrics::METRICS.verifies, api.code);
            answer(outcome, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::AppProfile;
    use std::collections::HashMap;

    fn apps() -> Apps {
        let profile = |beem| AppProfile {
            beem_app_id: beem,
            ..AppProfile::default()
        };
        Apps::new(HashMap::from([
            ("shop".to_string(), profile(Some(4695))),
            ("blog".to_string(), profile(None)),
        ]))
    }

    fn key_of(appid: &str) -> Caller {
        Caller::App {
            appid: appid.into(),
            key: "ok_k".into(),
        }
    }

    #[test]
    fn the_key_decides_the_app_and_beem_app_id_must_match() {
        let apps = apps();
        assert_eq!(app_for(&key_of("shop"), 4695, &apps), Ok("shop".into()));
        assert_eq!(
            app_for(&key_of("shop"), 4696, &apps),
            Err(Code::AppNotFound)
        );
        // No beem_app_id: any appId; an app not in config neither.
        assert_eq!(app_for(&key_of("blog"), 1, &apps), Ok("blog".into()));
        assert_eq!(app_for(&key_of("other"), 9, &apps), Ok("other".into()));
    }

    #[test]
    fn on_the_socket_app_id_picks_the_app() {
        let apps = apps();
        assert_eq!(app_for(&Caller::Local, 4695, &apps), Ok("shop".into()));
        assert_eq!(app_for(&Caller::Local, 1, &apps), Ok("default".into()));
    }
}
