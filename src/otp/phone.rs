//! Recipient numbers: parsed, validated and normalised to E.164 with libphonenumber's metadata
//! (the `phonenumber` crate). Only numbers that can receive SMS are accepted: mobile numbers,
//! and numbers whose plan cannot tell mobile from fixed line.

use phonenumber::{Mode, ParseError, PhoneNumber, Type};

/// Why a recipient was refused, in words an API user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRecipient(pub String);

/// Loads the metadata now: the first parse builds it, which takes long enough to notice
/// on a Raspberry Pi; better at start than on the first request.
pub fn warm_up() {
    let _ = phonenumber::parse(None, "+255712345678");
}

/// Parses `input` (E.164, spaces, dashes, dots and brackets allowed) into E.164.
pub fn normalize(input: &str) -> Result<String, InvalidRecipient> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(InvalidRecipient("the recipient is empty".into()));
    }
    if trimmed.len() > 32 {
        return Err(InvalidRecipient(
            "the recipient is too long to be a phone number".into(),
        ));
    }
    if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')')))
    {
        return Err(InvalidRecipient(format!(
            "the recipient has a character that is not part of a phone number: {bad:?}"
        )));
    }
    if !trimmed.starts_with('+') {
        return Err(InvalidRecipient(
            "the recipient must be in international form: + then the country code, e.g. +255712345678"
                .into(),
        ));
    }
    let number = phonenumber::parse(None, trimmed).map_err(|e| InvalidRecipient(why(e)))?;
    check(&number)?;
    Ok(number.format().mode(Mode::E164).to_string())
}

/// The country calling code of an E.164 number ("+255712345678" → 255), from the metadata.
/// Calling codes are a prefix code (none is the start of another), so the first of one, two
/// or three leading digits that names a country is the one.
pub fn calling_code(e164: &str) -> Option<u16> {
    let digits = e164.strip_prefix('+')?;
    (1..=3).find_map(|n| {
        let code: u16 = digits.get(..n)?.parse().ok()?;
        phonenumber::metadata::DATABASE
            .by_code(&code)
            .is_some()
            .then_some(code)
    })
}

/// The region (ISO 3166 alpha-2, as libphonenumber's metadata names it) of an E.164 number:
/// "+255712345678" → TZ, "+12025550123" → US, "+14165550123" → CA. `None` for a number no
/// region claims (non-geographic codes such as +882).
pub fn region(e164: &str) -> Option<phonenumber::country::Id> {
    phonenumber::parse(None, e164).ok()?.country().id()
}

fn why(e: ParseError) -> String {
    match e {
        ParseError::InvalidCountryCode => "unknown country code".into(),
        ParseError::NoNumber => "the recipient has no digits".into(),
        ParseError::TooShortNsn | ParseError::TooShortAfterIdd => "the number is too short".into(),
        ParseError::TooLong => "the number is too long".into(),
        other => format!("not a phone number ({other})"),
    }
}

fn check(number: &PhoneNumber) -> Result<(), InvalidRecipient> {
    // `phonenumber::is_valid` is exactly "the number type is not Unknown" (the same metadata
    // lookup and pattern matches), so the type alone decides, at half the cost: these regex
    // matches were the API's largest single cost per send.
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Unknown => Err(InvalidRecipient(invalid_why(number))),
        Type::Mobile | Type::FixedLineOrMobile => Ok(()),
        other => Err(InvalidRecipient(format!(
            "not a mobile number ({})",
            type_name(other)
        ))),
    }
}

/// Says whether an invalid number is too short, too long, or of a right length but with a
/// prefix that no operator of its country uses.
fn invalid_why(number: &PhoneNumber) -> String {
    let code = number.code().value();
    let digits = number.national().to_string().len();
    let lengths: Vec<u16> = phonenumber::metadata::DATABASE
        .by_code(&code)
        .map(|regions| {
            // The general descriptor often lists no lengths; mobile and fixed-line ones do.
            regions
                .iter()
                .flat_map(|m| {
                    [m.descriptors().general()]
                        .into_iter()
                        .chain(m.descriptors().mobile())
                        .chain(m.descriptors().fixed_line())
                })
                .flat_map(|d| d.possible_length().iter().copied())
                .collect()
        })
        .unwrap_or_default();
    match (lengths.iter().min(), lengths.iter().max()) {
        (Some(&min), _) if digits < usize::from(min) => format!(
            "the number is too short: +{code} numbers have {min} digits or more after the country code, this has {digits}"
        ),
        (_, Some(&max)) if digits > usize::from(max) => format!(
            "the number is too long: +{code} numbers have at most {max} digits after the country code, this has {digits}"
        ),
        _ => format!(
            "not a valid number for country code +{code}: no operator there uses this prefix"
        ),
    }
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::FixedLine => "a fixed line",
        Type::TollFree => "a toll-free number",
        Type::PremiumRate => "a premium-rate number",
        Type::SharedCost => "a shared-cost number",
        Type::Voip => "a VoIP number",
        Type::PersonalNumber => "a personal number",
        Type::Pager => "a pager",
        Type::Uan => "a universal access number",
        Type::Voicemail => "a voicemail number",
        _ => "a number of unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_normalised_to_e164() {
        assert_eq!(normalize("+255712345678").unwrap(), "+255712345678");
        assert_eq!(normalize(" +255 712-345-678 ").unwrap(), "+255712345678");
        assert_eq!(normalize("+254 (712) 345.678").unwrap(), "+254712345678");
        assert_eq!(normalize("+1 202 555 0123").unwrap(), "+12025550123"); // US: fixed or mobile
        assert_eq!(normalize("+447911123456").unwrap(), "+447911123456");
    }

    #[test]
    fn calling_codes_of_e164_numbers() {
        assert_eq!(calling_code("+255712345678"), Some(255));
        assert_eq!(calling_code("+12025550123"), Some(1));
        assert_eq!(calling_code("+447911123456"), Some(44));
        assert_eq!(calling_code("+254712345678"), Some(254));
        assert_eq!(calling_code("255712345678"), None);
        assert_eq!(calling_code("+"), None);
        assert_eq!(calling_code("+999"), None);
    }

    #[test]
    fn regions_of_e164_numbers() {
        use phonenumber::country::Id;
        assert_eq!(region("+255712345678"), Some(Id::TZ));
        assert_eq!(region("+254712345678"), Some(Id::KE));
        assert_eq!(region("+12025550123"), Some(Id::US));
        assert_eq!(region("+14165550123"), Some(Id::CA));
        assert_eq!(region("garbage"), None);
    }

    #[test]
    fn each_refusal_says_why() {
        let cases = [
            ("", "empty"),
            ("255712345678", "international form"),
            ("+255abc", "character"),
            ("+999712345678", "unknown country code"),
            ("+2557", "short"),
            ("+25571234567890123456", "too long"),
            ("+255222123456", "not a mobile number (a fixed line)"),
            ("+448001234567", "not a mobile number"),
            (
                "+449098790000",
                "not a mobile number (a premium-rate number)",
            ),
            ("+255799", "short"),
        ];
        for (input, expected) in cases {
            let err = normalize(input).unwrap_err().0;
            assert!(
                err.contains(expected),
                "{input:?}: {err:?} should mention {expected:?}"
            );
        }
    }
}
