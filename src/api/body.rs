//! The JSON body extractor: a wrong content type is 415, a body over the limit 413, and
//! anything that is not JSON of the expected shape a 400 that names the field. Nothing is
//! done with a request that fails here.

use super::AppState;
use super::problem::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use std::sync::Arc;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json(content_type) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "send the body as Content-Type: application/json",
            ));
        }
        let limit = state.max_body;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "Body too large",
                    format!("the body must be at most {limit} bytes"),
                )
            })?;
        parse(&bytes).map(Json)
    }
}

/// serde quotes the offending value ("invalid type: integer `123456`, expected a string");
/// that value may be a code, so it is left out.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '`' {
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out.replace("  ", " ").replace(" ,", ",")
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a body into `T`, classifying errors into the API's codes.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_json(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid_json("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            return ApiError::missing_field(field);
        }
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            return ApiError::invalid_field(format!("unknown field {field}"));
        }
        let message = message
            .split(", expected one of")
            .next()
            .unwrap_or(&message)
            .to_string();
        let message = without_values(&message);
        if path == "." || path.is_empty() {
            ApiError::invalid_json(message)
        } else {
            ApiError::invalid_field(format!("{path}: {message}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        recipient: String,
        length: Option<i64>,
    }

    #[test]
    fn each_bad_body_gets_its_code() {
        let code = |body: &str| parse::<Req>(body.as_bytes()).unwrap_err().code;
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code("not json"), "invalid_json");
        assert_eq!(code("[1]"), "invalid_json");
        assert_eq!(code("\"x\""), "invalid_json");
        assert_eq!(code("{}"), "missing_field");
        assert_eq!(code(r#"{"recipient": 5}"#), "invalid_field");
        assert_eq!(
            code(r#"{"recipient": "+1", "length": "six"}"#),
            "invalid_field"
        );
        assert_eq!(code(r#"{"recipient": "+1", "colour": 1}"#), "invalid_field");
        assert!(parse::<Req>(br#"{"recipient": "+1"}"#).is_ok());
    }

    #[test]
    fn messages_name_the_field() {
        let e = parse::<Req>(br#"{"recipient": "+1", "length": "six"}"#).unwrap_err();
        assert!(e.detail.starts_with("length: invalid type"), "{}", e.detail);
        let e = parse::<Req>(b"{}").unwrap_err();
        assert_eq!(e.detail, "recipient is required");
        let e = parse::<Req>(br#"{"recipient": 123456}"#).unwrap_err();
        assert!(!e.detail.contains("123456"), "{}", e.detail);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
