//! Who is calling. The Unix socket is trusted by its file mode; on TCP every `/otp/*` call
//! carries an API key in one of the three forms of API.md, checked against the database (through
//! [`super::key_cache`]: a new key works at once, a revoked one stops within two seconds).

use super::AppState;
use super::problem::ApiError;
use crate::otp::Scope;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine as _;
use std::sync::Arc;

/// The listener a request came in on; set by a layer on each listener's router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Unix,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// On the Unix socket: any app.
    Local,
    /// On TCP with `key`, a key of app `appid`.
    App { appid: String, key: String },
}

impl Caller {
    pub fn scope(&self) -> Scope {
        match self {
            Caller::Local => Scope::Any,
            Caller::App { appid, .. } => Scope::App(appid.clone()),
        }
    }

    /// The API key, for the per_key limit.
    pub fn key(&self) -> Option<String> {
        match self {
            Caller::Local => None,
            Caller::App { key, .. } => Some(key.clone()),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        match parts.extensions.get::<Transport>() {
            Some(Transport::Unix) => return Ok(Caller::Local),
            Some(Transport::Tcp) => {}
            // A router without a transport layer is a wiring bug; refuse rather than trust.
            None => return Err(ApiError::internal()),
        }
        let (key, secret) = credentials(&parts.headers).map_err(ApiError::unauthorized)?;
        let found = state
            .keys
            .lookup(&state.engine.store.readers, &key)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot look up an API key");
                ApiError::internal()
            })?;
        match found {
            Some((appid, hash)) if crate::auth::secret_matches(&secret, &hash) => {
                Ok(Caller::App { appid, key })
            }
            _ => Err(ApiError::unauthorized("unknown API key or wrong secret")),
        }
    }
}

/// The key and secret of a request, from `X-API-Key` + `X-API-Secret`, `Basic base64(K:S)`,
/// `Bearer K:S` or `Bearer base64(K:S)`.
pub fn credentials(headers: &HeaderMap) -> Result<(String, String), &'static str> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(key) = text("x-api-key") {
        let secret = text("x-api-secret").ok_or("X-API-Key needs X-API-Secret")?;
        return Ok((key.to_string(), secret.to_string()));
    }
    let auth = text(header::AUTHORIZATION.as_str()).ok_or(
        "an API key is required: X-API-Key and X-API-Secret, or Authorization: Basic or Bearer",
    )?;
    let (scheme, value) = auth
        .split_once(' ')
        .ok_or("malformed Authorization header")?;
    let value = value.trim();
    let decoded = || {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let pair = match scheme.to_ascii_lowercase().as_str() {
        "basic" => decoded().ok_or("Basic credentials are not base64 of key:secret")?,
        // Bearer K:S as is, or base64 of it (a base64 text has no ':').
        "bearer" if value.contains(':') => value.to_string(),
        "bearer" => decoded().ok_or("Bearer credentials are neither key:secret nor its base64")?,
        _ => return Err("the Authorization scheme must be Basic or Bearer"),
    };
    let (key, secret) = pair
        .split_once(':')
        .ok_or("credentials must be key:secret")?;
    if key.is_empty() || secret.is_empty() {
        return Err("credentials must be key:secret");
    }
    Ok((key.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn every_form_gives_the_same_credentials() {
        let want = Ok(("ok_k".to_string(), "s:e".to_string()));
        let b64 = base64::engine::general_purpose::STANDARD.encode("ok_k:s:e");
        assert_eq!(
            credentials(&headers(&[("x-api-key", "ok_k"), ("x-api-secret", "s:e")])),
            want
        );
        assert_eq!(
            credentials(&headers(&[("authorization", &format!("Basic {b64}"))])),
            want
        );
        assert_eq!(
            credentials(&headers(&[("authorization", "Bearer ok_k:s:e")])),
            want
        );
        assert_eq!(
            credentials(&headers(&[("authorization", &format!("bearer {b64}"))])),
            want
        );
    }

    #[test]
    fn malformed_credentials_are_refused() {
        for h in [
            headers(&[]),
            headers(&[("x-api-key", "k")]),
            headers(&[("authorization", "Basic !!!")]),
            headers(&[("authorization", "Basic a2V5")]), // "key", no colon
            headers(&[("authorization", "Digest abc")]),
            headers(&[("authorization", "Bearer")]),
            headers(&[("authorization", "Bearer :s")]),
        ] {
            assert!(credentials(&h).is_err(), "{h:?}");
        }
    }
}
