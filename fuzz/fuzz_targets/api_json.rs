//! The JSON request bodies of the HTTP API, parsed as the handlers parse them: the bodies of
//! /otp/send, /otp/verify and /otp/resend + /otp/cancel through `api::body::parse` (which
//! also turns serde's errors into the API's codes and strips quoted values from them), the
//! Beem-compatible bodies read field by field from a `serde_json::Value`, and the query
//! string of /otp/status.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpd::api::beem::input;
use otpd::api::body::parse;
use otpd::api::{IdBody, SendBody, VerifyBody, query_param};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<SendBody>(data).map_err(|e| e.detail);
    let _ = parse::<VerifyBody>(data).map_err(|e| e.detail);
    let _ = parse::<IdBody>(data).map_err(|e| e.detail);
    if let Ok(body) = parse::<Value>(data) {
        let _ = input::app_id(&body);
        let _ = input::msisdn(&body);
        let _ = input::pin_id(&body);
        let _ = input::pin(&body);
    }
    if let Ok(query) = std::str::from_utf8(data) {
        let _ = query_param(Some(query), "verification_id");
    }
});
