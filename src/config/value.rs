//! Checks on single values, run *inside* deserialization.
//!
//! Every check here fails through `serde::de::Error::custom`, so the toml
//! deserializer attaches the span of the offending value and
//! `serde_path_to_error` records its key path: the error message then names
//! the exact line and column without any further lookup. That holds for
//! values of table keys; toml places an error on an array element only if
//! it is raised inside the element's visitor (see `channel::Prefix`).

use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Upper bound meaning "no upper bound" for [`duration_in`].
pub(super) const UNBOUNDED: u64 = u64::MAX;

/// Placeholders a message template may use; the SMS sender fills these in.
const PLACEHOLDERS: [&str; 3] = ["app", "code", "ttl_min"];

/// An SMS is 160 GSM-7 characters; 480 allows three concatenated parts,
/// which is already more than an OTP message should need.
const TEMPLATE_MAX_CHARS: usize = 480;

/// An integer in `MIN..=MAX`, converted to the field's type.
pub(super) fn int_in<'de, D, T, const MIN: i64, const MAX: i64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    let value = i64::deserialize(d)?;
    if !(MIN..=MAX).contains(&value) {
        return Err(de::Error::custom(format!(
            "must be between {MIN} and {MAX}, got {value}"
        )));
    }
    // Cannot fail when the bounds fit T, which every call site ensures.
    T::try_from(value).map_err(|_| de::Error::custom(format!("{value} is out of range")))
}

/// A humantime duration string ("90s", "5m", "30d") of at least `MIN_S`
/// and at most `MAX_S` seconds.
pub(super) fn duration_in<'de, D, const MIN_S: u64, const MAX_S: u64>(
    d: D,
) -> Result<Duration, D::Error>
where
    D: Deserializer<'de>,
{
    // A bare number is refused rather than read as seconds: "ttl = 5" is far
    // more likely to mean minutes than seconds, so make the unit explicit.
    let text = d.deserialize_any(StringNotInt(
        "write durations as a string with a unit, e.g. \"90s\"",
    ))?;
    let value = humantime::parse_duration(&text)
        .map_err(|e| de::Error::custom(format!("invalid duration {text:?}: {e}")))?;
    check_duration(value, MIN_S, MAX_S).map_err(de::Error::custom)
}

/// [`duration_in`] for a field that is optional in the TOML table.
pub(super) fn opt_duration_in<'de, D, const MIN_S: u64, const MAX_S: u64>(
    d: D,
) -> Result<Option<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    duration_in::<D, MIN_S, MAX_S>(d).map(Some)
}

fn check_duration(value: Duration, min_s: u64, max_s: u64) -> Result<Duration, String> {
    let (min, max) = (Duration::from_secs(min_s), Duration::from_secs(max_s));
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    let got = humantime::format_duration(value);
    let min = humantime::format_duration(min);
    Err(if max_s == UNBOUNDED {
        format!("must be at least {min}, got {got}")
    } else {
        let max = humantime::format_duration(max);
        format!("must be between {min} and {max}, got {got}")
    })
}

/// A file mode written as a string of octal digits ("0660" or "660").
pub(super) fn octal_mode<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    // An integer is refused: TOML reads 0660 as decimal 660, which is a
    // different (and wrong) mode, so only the quoted form is unambiguous.
    let text = d.deserialize_any(StringNotInt(
        "write the mode as a quoted string of octal digits, e.g. \"0660\"",
    ))?;
    parse_mode(&text).map_err(de::Error::custom)
}

fn parse_mode(text: &str) -> Result<u32, String> {
    let bad = || format!("must be octal digits like \"0660\", got {text:?}");
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    let mode = u32::from_str_radix(text, 8).map_err(|_| bad())?;
    if mode > 0o777 {
        return Err(format!("must be at most \"0777\", got {text:?}"));
    }
    Ok(mode)
}

/// [`int_in`] for a field that is optional in the TOML table.
pub(super) fn opt_int_in<'de, D, T, const MIN: i64, const MAX: i64>(
    d: D,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    int_in::<D, T, MIN, MAX>(d).map(Some)
}

/// A message template: see [`check_template`].
pub(super) fn template<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    check_template(&text).map_err(de::Error::custom)?;
    Ok(text)
}

/// [`template`] for a field that is optional in the TOML table.
pub(super) fn opt_template<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    template(d).map(Some)
}

/// A template checked as it is read, for the values of a prefix table.
pub(super) struct Template(pub(super) String);

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        template(d).map(Template)
    }
}

/// The longest country prefix a template table takes: country calling codes have 1 to 3
/// digits, and 3 more reach an operator's or a region's range.
const TEMPLATE_PREFIX_MAX_DIGITS: usize = 6;

/// A key of a template table: "+" then 1 to 6 digits.
pub(super) fn check_template_prefix(text: &str) -> Result<(), String> {
    let digits = text.strip_prefix('+').unwrap_or("");
    if digits.is_empty()
        || digits.len() > TEMPLATE_PREFIX_MAX_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "a template prefix must be \"+\" then 1 to {TEMPLATE_PREFIX_MAX_DIGITS} digits, got {text:?}"
        ));
    }
    Ok(())
}

/// The fixed code of a test number: 4 to 10 digits, like a drawn code.
pub(super) fn check_test_code(text: &str) -> Result<(), String> {
    if !(4..=10).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        // The value is a code: the message does not repeat it.
        return Err("must be 4 to 10 digits".to_string());
    }
    Ok(())
}

/// A template must contain `{code}` and no placeholder the sender cannot
/// fill, or the recipient would see a literal `{foo}` in the SMS. Braces
/// that do not enclose a plain word are left alone as ordinary text.
fn check_template(text: &str) -> Result<(), String> {
    let len = text.chars().count();
    if len > TEMPLATE_MAX_CHARS {
        return Err(format!(
            "must be at most {TEMPLATE_MAX_CHARS} characters, got {len}"
        ));
    }
    let mut rest = text;
    while let Some((_, after)) = rest.split_once('{') {
        rest = after;
        let Some((name, tail)) = after.split_once('}') else {
            break;
        };
        let is_word =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_word {
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}} (allowed: {{app}}, {{code}}, {{ttl_min}})"
                ));
            }
            rest = tail;
        }
    }
    if !text.contains("{code}") {
        return Err("must contain {code}".to_string());
    }
    Ok(())
}

/// An identifier of `1..=max` ASCII letters, digits and the `extra` chars.
pub(super) fn check_ident(text: &str, max: usize, extra: &str) -> Result<(), String> {
    let valid = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c));
    if text.is_empty() || text.len() > max || !valid {
        let extra: Vec<String> = extra.chars().map(String::from).collect();
        return Err(format!(
            "must be 1 to {max} characters of A-Z, a-z, 0-9, {}; got {text:?}",
            extra.join(" ")
        ));
    }
    Ok(())
}

/// An app id; unique across `[[app]]`, checked once all are read.
pub(super) fn app_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    check_ident(&text, 64, "_.-").map_err(de::Error::custom)?;
    Ok(text)
}

/// [`app_id`] for a field that is optional in the TOML table.
pub(super) fn opt_app_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    app_id(d).map(Some)
}

/// Accepts a string; refuses an integer with a hint on how to write it.
struct StringNotInt(&'static str);

impl Visitor<'_> for StringNotInt {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Err(E::custom(format!("got the bare number {v}: {}", self.0)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Err(E::custom(format!("got the bare number {v}: {}", self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_accepts_octal_strings() {
        assert_eq!(parse_mode("0660").unwrap(), 0o660);
        assert_eq!(parse_mode("660").unwrap(), 0o660);
        assert_eq!(parse_mode("0777").unwrap(), 0o777);
        assert_eq!(parse_mode("0").unwrap(), 0);
    }

    #[test]
    fn mode_refuses_non_octal_and_special_bits() {
        assert!(parse_mode("").is_err());
        assert!(parse_mode("0690").is_err());
        assert!(parse_mode("+660").is_err());
        assert!(parse_mode("rw-").is_err());
        assert!(parse_mode("4755").unwrap_err().contains("at most"));
        assert!(parse_mode("77777777777777777").is_err());
    }

    #[test]
    fn duration_bounds() {
        let s = Duration::from_secs;
        assert!(check_duration(s(1), 1, 86400).is_ok());
        assert!(check_duration(s(86400), 1, 86400).is_ok());
        let err = check_duration(s(0), 1, 86400).unwrap_err();
        assert_eq!(err, "must be between 1s and 1day, got 0s");
        let err = check_duration(s(60), 3600, UNBOUNDED).unwrap_err();
        assert_eq!(err, "must be at least 1h, got 1m");
    }

    #[test]
    fn template_rules() {
        assert!(check_template("Your {app} code is {code} ({ttl_min} min)").is_ok());
        assert!(check_template("{code}").is_ok());
        // Stray braces are text, not placeholders.
        assert!(check_template("{ {code} } {} {a b} {").is_ok());
        assert_eq!(
            check_template("no code").unwrap_err(),
            "must contain {code}"
        );
        let err = check_template("{code} {foo}").unwrap_err();
        assert!(err.contains("unknown placeholder {foo}"), "{err}");
        let long = format!("{{code}}{}", "x".repeat(480));
        assert!(check_template(&long).unwrap_err().contains("at most 480"));
    }

    #[test]
    fn template_prefixes_and_test_codes() {
        for ok in ["+2", "+255", "+255712"] {
            assert!(check_template_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "+", "255", "+2557123", "+25 5", "+25a", "++255"] {
            let err = check_template_prefix(bad).unwrap_err();
            assert!(err.contains("1 to 6 digits"), "{bad}: {err}");
        }
        assert!(check_test_code("0000").is_ok());
        assert!(check_test_code("0123456789").is_ok());
        for bad in ["123", "01234567890", "12a4", " 1234", ""] {
            assert_eq!(check_test_code(bad).unwrap_err(), "must be 4 to 10 digits");
        }
    }

    #[test]
    fn identifiers() {
        assert!(check_ident("shop.eu-1_a", 64, "_.-").is_ok());
        assert!(check_ident("", 64, "_.-").is_err());
        assert!(check_ident("a b", 64, "_.-").is_err());
        assert!(check_ident("a.b", 32, "_-").is_err());
        assert!(check_ident(&"a".repeat(33), 32, "_-").is_err());
        assert!(check_ident(&"a".repeat(32), 32, "_-").is_ok());
    }
}
