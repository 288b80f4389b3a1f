//! Errors as `application/problem+json` (RFC 9457) with the stable codes of API.md. Every
//! error the API returns is built here, once.

use crate::otp::OtpError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub retry_after: Option<u64>,
    /// The verification a refusal left behind (a send blocked by the fraud guard).
    pub verification_id: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    r#type: &'static str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_id: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            retry_after: None,
            verification_id: None,
        }
    }

    pub fn invalid_json(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "Invalid JSON",
            detail,
        )
    }

    pub fn missing_field(field: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_field",
            "Missing field",
            format!("{field} is required"),
        )
    }

    pub fn invalid_field(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "Invalid field",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server could not complete the request; it is logged",
        )
    }

    fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<OtpError> for ApiError {
    fn from(e: OtpError) -> ApiError {
        let detail = e.to_string();
        match e {
            OtpError::InvalidRecipient(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_recipient",
                "Invalid recipient",
                detail,
            ),
            OtpError::InvalidField { .. } => ApiError::invalid_field(detail),
            OtpError::NotFound => ApiError::not_found(detail),
            OtpError::NotPending(_) => {
                ApiError::new(StatusCode::CONFLICT, "not_pending", "Not pending", detail)
            }
            OtpError::ResendTooSoon { retry_after } => {
                // Round up: a client waiting the whole number of seconds must not be too soon.
                let secs = retry_after.as_millis().div_ceil(1000) as u64;
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "resend_too_soon",
                    "Resend too soon",
                    detail,
                )
                .with_retry_after(secs.max(1))
            }
            OtpError::RateLimited { limit, retry_after } => {
                let secs = (retry_after.as_millis().div_ceil(1000) as u64).max(1);
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Rate limited",
                    format!("over the limit {limit}; try again in {secs} s"),
                )
                .with_retry_after(secs)
            }
            OtpError::TooManyResends => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_resends",
                "Too many resends",
                detail,
            ),
            OtpError::NoChannel(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_channel",
                "No channel",
                detail,
            ),
            OtpError::Blocked {
                verification_id, ..
            } => ApiError {
                verification_id,
                ..ApiError::new(StatusCode::FORBIDDEN, "blocked", "Blocked", detail)
            },
            OtpError::IdempotencyConflict => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                detail,
            ),
            OtpError::Store(e) => {
                tracing::error!(error = %e, "store error while answering a request");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            r#type: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
            retry_after: self.retry_after,
            verification_id: self.verification_id.as_deref(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
