//! The fields of Beem request bodies, read leniently the way Beem's clients write them:
//! `appId` as a number or a string of digits (PHP clients send `"4695"`), `msisdn` and `pin` as
//! strings or numbers, and unknown fields (`source_addr`, ...) ignored. Each missing or bad
//! field is named by its Beem code.

use super::codes::Code;
use serde_json::Value;

/// A field as text: a string as is (trimmed), a number as its digits; absent, null, empty or
/// another type is `None`.
fn text(body: &Value, name: &str) -> Option<String> {
    match body.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `appId`: absent or empty is 104; anything but a whole number names no application (106).
pub fn app_id(body: &Value) -> Result<u64, Code> {
    let present = body.get("appId").is_some_and(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    });
    if !present {
        return Err(Code::AppIdMissing);
    }
    text(body, "appId")
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or(Code::AppNotFound)
}

/// `msisdn`, the international number without '+' ("255712345678"), as the '+'-prefixed text
/// the engine normalises and validates. A leading '+' is accepted too. A leading '0' is a
/// national number (or an "00" international prefix), whose country cannot be known: 102.
pub fn msisdn(body: &Value) -> Result<String, Code> {
    let raw = text(body, "msisdn").ok_or(Code::PhoneMissing)?;
    if raw.starts_with('+') {
        return Ok(raw);
    }
    if raw.starts_with('0') || !raw.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Code::InvalidPhone);
    }
    Ok(format!("+{raw}"))
}

/// `pinId` (112 when missing).
pub fn pin_id(body: &Value) -> Result<String, Code> {
    text(body, "pinId").ok_or(Code::PinIdMissing)
}

/// `pin` (111 when missing). A number keeps its digits; a pin with leading zeros must be sent
/// as a string, as Beem's own examples do.
pub fn pin(body: &Value) -> Result<String, Code> {
    match body.get("pin") {
        None | Some(Value::Null) => Err(Code::PinMissing),
        Some(Value::String(s)) if s.trim().is_empty() => Err(Code::PinMissing),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        // An object or a list cannot be a right pin.
        Some(_) => Err(Code::IncorrectPin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_ids() {
        assert_eq!(app_id(&json!({"appId": 4695})), Ok(4695));
        assert_eq!(app_id(&json!({"appId": "4695"})), Ok(4695));
        assert_eq!(app_id(&json!({"appId": " 7 "})), Ok(7));
        assert_eq!(app_id(&json!({})), Err(Code::AppIdMissing));
        assert_eq!(app_id(&json!({"appId": null})), Err(Code::AppIdMissing));
        assert_eq!(app_id(&json!({"appId": ""})), Err(Code::AppIdMissing));
        assert_eq!(app_id(&json!({"appId": "shop"})), Err(Code::AppNotFound));
        assert_eq!(app_id(&json!({"appId": -1})), Err(Code::AppNotFound));
        assert_eq!(app_id(&json!({"appId": 1.5})), Err(Code::AppNotFound));
        assert_eq!(app_id(&json!({"appId": [1]})), Err(Code::AppNotFound));
    }

    #[test]
    fn msisdns() {
        let ok = |v: Value| msisdn(&json!({ "msisdn": v }));
        assert_eq!(ok(json!("255712345678")), Ok("+255712345678".into()));
        assert_eq!(ok(json!(255712345678u64)), Ok("+255712345678".into()));
        assert_eq!(ok(json!("+255712345678")), Ok("+255712345678".into()));
        assert_eq!(ok(json!(" 255712345678 ")), Ok("+255712345678".into()));
        assert_eq!(ok(json!("0712345678")), Err(Code::InvalidPhone));
        assert_eq!(ok(json!("00255712345678")), Err(Code::InvalidPhone));
        assert_eq!(ok(json!("abc")), Err(Code::InvalidPhone));
        assert_eq!(ok(json!("")), Err(Code::PhoneMissing));
        assert_eq!(ok(json!(null)), Err(Code::PhoneMissing));
        assert_eq!(ok(json!({"n": 1})), Err(Code::PhoneMissing));
        assert_eq!(msisdn(&json!({})), Err(Code::PhoneMissing));
    }

    #[test]
    fn pins_and_pin_ids() {
        assert_eq!(pin(&json!({"pin": "0123"})), Ok("0123".into()));
        assert_eq!(pin(&json!({"pin": 4321})), Ok("4321".into()));
        assert_eq!(pin(&json!({"pin": ""})), Err(Code::PinMissing));
        assert_eq!(pin(&json!({})), Err(Code::PinMissing));
        assert_eq!(pin(&json!({"pin": [1]})), Err(Code::IncorrectPin));
        assert_eq!(pin_id(&json!({"pinId": "abc"})), Ok("abc".into()));
        assert_eq!(pin_id(&json!({"pinId": ""})), Err(Code::PinIdMissing));
        assert_eq!(pin_id(&json!({})), Err(Code::PinIdMissing));
    }
}
