//! The management endpoints (GET): /otp/list, /otp/logs, /otp/attempts, /otp/rate-limits and
//! /otp/reports. Here only the query strings are parsed; what is shown to whom is decided in
//! `otp::manage`.
//!
//! Query strings are strict, like request bodies: an unknown or repeated parameter is a 400
//! `invalid_field` naming it, so a misspelt filter never silently lists everything. An empty
//! value (`status=`) is the same as no parameter.

use super::AppState;
use super::auth::Caller;
use super::client_ip::ClientIp;
use super::problem::ApiError;
use crate::model::{Status, Timestamp};
use crate::otp::Origin;
use crate::otp::manage::{ListRequest, LogsRequest};
use crate::otp::rate_limits::RateLimitsRequest;
use crate::otp::report::{GroupBy, ReportRequest};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// The parameters of one query string, checked against the names an endpoint takes.
struct Params(HashMap<String, String>);

impl Params {
    fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| ApiError::invalid_field(format!("the query string is malformed: {e}")))?;
        let mut map = HashMap::new();
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid_field(format!(
                    "unknown parameter {name:?}; this endpoint takes {}",
                    allowed.join(", ")
                )));
            }
            if map.contains_key(&name) {
                return Err(ApiError::invalid_field(format!(
                    "{name}: given more than once"
                )));
            }
            if !value.is_empty() {
                map.insert(name, value);
            }
        }
        Ok(Params(map))
    }

    fn text(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    fn time(&mut self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.text(name)
            .map(|t| {
                humantime::parse_rfc3339(&t)
                    .map(Timestamp::from_system)
                    .map_err(|_| {
                        ApiError::invalid_field(format!(
                            "{name}: not an RFC 3339 UTC time such as 2026-11-22T08:00:00Z, got {t:?}"
                        ))
                    })
            })
            .transpose()
    }

    fn int(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        self.text(name)
            .map(|t| {
                t.parse().map_err(|_| {
                    ApiError::invalid_field(format!("{name}: not a whole number, got {t:?}"))
                })
            })
            .transpose()
    }

    fn status(&mut self) -> Result<Option<Status>, ApiError> {
        self.text("status")
            .map(|t| {
                Status::parse(&t).ok_or_else(|| {
                    ApiError::invalid_field(format!(
                        "status: one of pending, approved, expired, canceled, \
                         max_attempts_reached, failed, blocked; got {t:?}"
                    ))
                })
            })
            .transpose()
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = Params::parse(
        query.as_deref(),
        &[
            "recipient",
            "status",
            "appid",
            "since",
            "until",
            "limit",
            "cursor",
        ],
    )?;
    let req = ListRequest {
        appid: p.text("appid"),
        recipient: p.text("recipient"),
        status: p.status()?,
        since: p.time("since")?,
        until: p.time("until")?,
        limit: p.int("limit")?,
        cursor: p.text("cursor"),
    };
    let reply = state.engine.list(&caller.scope(), req).await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn logs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = Params::parse(
        query.as_deref(),
        &["verification_id", "appid", "since", "limit", "cursor"],
    )?;
    let req = LogsRequest {
        verification_id: p.text("verification_id"),
        appid: p.text("appid"),
        since: p.time("since")?,
        limit: p.int("limit")?,
        cursor: p.text("cursor"),
    };
    let reply = state.engine.logs(&caller.scope(), req).await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn attempts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = Params::parse(query.as_deref(), &["verification_id"])?;
    let id = p
        .text("verification_id")
        .ok_or_else(|| ApiError::missing_field("verification_id"))?;
    let reply = state.engine.attempts(&caller.scope(), id).await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn rate_limits(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = Params::parse(query.as_deref(), &["recipient", "appid"])?;
    let req = RateLimitsRequest {
        recipient: p.text("recipient"),
        appid: p.text("appid"),
    };
    let origin = Origin {
        key: caller.key(),
        ip,
    };
    let reply = state
        .engine
        .rate_limits(&caller.scope(), origin, req)
        .await?;
    Ok(axum::Json(reply).into_response())
}

pub async fn reports(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = Params::parse(query.as_deref(), &["since", "until", "group_by", "appid"])?;
    let group_by = match p.text("group_by") {
        None => GroupBy::default(),
        Some(t) => GroupBy::parse(&t).ok_or_else(|| {
            ApiError::invalid_field(format!("group_by: one of day, channel, appid; got {t:?}"))
        })?,
    };
    let req = ReportRequest {
        since: p.time("since")?,
        until: p.time("until")?,
        group_by,
        appid: p.text("appid"),
    };
    let reply = state.engine.report(&caller.scope(), req).await?;
    Ok(axum::Json(reply).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let allowed = &["a", "b"];
        assert!(Params::parse(Some("a=1&b=2"), allowed).is_ok());
        let e = Params::parse(Some("a=1&c=2"), allowed).err().unwrap();
        assert!(e.detail.contains("\"c\""), "{}", e.detail);
        let e = Params::parse(Some("a=1&a=2"), allowed).err().unwrap();
        assert!(e.detail.starts_with("a:"), "{}", e.detail);
        let mut p = Params::parse(Some("a=&b=x"), allowed).unwrap();
        assert_eq!(p.text("a"), None);
        assert_eq!(p.text("b").as_deref(), Some("x"));
    }

    #[test]
    fn times_must_be_rfc3339() {
        let mut p = Params::parse(Some("a=2026-11-22T08:00:00Z&b=yesterday"), &["a", "b"]).unwrap();
        assert_eq!(
            p.time("a").unwrap().map(Timestamp::rfc3339).as_deref(),
            Some("2026-11-22T08:00:00.000Z")
        );
        let e = p.time("b").unwrap_err();
        assert!(e.detail.starts_with("b:"), "{}", e.detail);
        assert_eq!(e.code, "invalid_field");
    }
}
