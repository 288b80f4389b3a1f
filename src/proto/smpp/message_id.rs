//! Message ids as SMSCs write them, reduced to a form in which the same id compares equal.
//!
//! The id in `submit_sm_resp` and the one in the delivery receipt are meant to be the same,
//! but SMSCs differ: some send hex in one and decimal in the other (SMPP 3.4 Appendix B
//! allows both), some pad with zeros, some change case, some end with a NUL. [`normalize`]
//! makes one canonical form:
//!
//! - trimmed of whitespace and NULs;
//! - all decimal digits and fits `u128`: the number, in lowercase hex without leading
//!   zeros (`"2587"` → `"a1b"`, `"000123"` → `"7b"`, `"0"` → `"0"`);
//! - all hex digits with at least one of a–f: lowercase, leading zeros stripped
//!   (`"0A1B"` → `"a1b"`);
//! - anything else (UUIDs, ids with letters beyond f, decimals too long for `u128`):
//!   lowercase, otherwise as sent.
//!
//! ## The ambiguity
//!
//! A string of decimal digits may be a decimal number or hex that happens to have no
//! letter: `"123"` is 123 (`0x7b`) or `0x123` (291). [`normalize`] must pick one and
//! picks decimal, so an SMSC that gives `"123"` (hex) in the response and `"291"`
//! (decimal) in the receipt yields two different canonical forms. [`matches`] also tries
//! the hex reading of an all-digit id, which finds that pair, at the cost of matching
//! ids that are different messages (`"123"` and `"291"` match even when both are
//! decimal). Callers should look for an exact [`normalize`] match first and only then,
//! within one channel and among recent messages, fall back to [`matches`].

/// The canonical form of `id`; see the module documentation. Empty for an id that is
/// empty after trimming.
pub fn normalize(id: &str) -> String {
    let id = trim(id);
    if is_decimal(id) {
        if let Ok(n) = id.parse::<u128>() {
            return format!("{n:x}");
        }
        // Too long for u128: keep the digits, without the zeros that cannot matter. No
        // hex rendering of a u128 (at most 32 digits) can be this long, so no clash.
        return strip_zeros(id).to_owned();
    }
    if is_hex(id) {
        return strip_zeros(&id.to_ascii_lowercase()).to_owned();
    }
    id.to_lowercase()
}

/// Whether `a` and `b` are the same message id: their canonical forms are equal, or one
/// of them, all decimal digits, is the hex text of the other (see the module docs for
/// the false matches this allows). Empty ids match nothing, so a receipt without an id
/// cannot be paired with a message that has none.
pub fn matches(a: &str, b: &str) -> bool {
    let (a, b) = (trim(a), trim(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (a_canonical, b_canonical) = (normalize(a), normalize(b));
    a_canonical == b_canonical
        || hex_reading(a).is_some_and(|a_hex| a_hex == b_canonical)
        || hex_reading(b).is_some_and(|b_hex| b_hex == a_canonical)
}

/// The canonical form of an all-digit id read as hex text, or `None` if it has a
/// non-digit (its only reading is then the one [`normalize`] gives).
fn hex_reading(id: &str) -> Option<String> {
    is_decimal(id).then(|| strip_zeros(id).to_owned())
}

fn trim(id: &str) -> &str {
    id.trim_matches(|c: char| c.is_whitespace() || c == '\0')
}

fn is_decimal(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

fn is_hex(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `id` without leading zeros; a lone `"0"` stays, since it is still a number.
fn strip_zeros(id: &str) -> &str {
    let stripped = id.trim_start_matches('0');
    if stripped.is_empty() && !id.is_empty() {
        "0"
    } else {
        stripped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal_forms_of_one_number_are_equal() {
        // 0xA1B = 2587
        assert_eq!(normalize("0A1B"), "a1b");
        assert_eq!(normalize("a1b"), "a1b");
        assert_eq!(normalize("2587"), "a1b");
        assert!(matches("0A1B", "2587"));
        assert!(matches("a1b", "2587"));
        assert!(matches("0A1B", "a1b"));
    }

    #[test]
    fn leading_zeros_do_not_matter() {
        assert_eq!(normalize("000123"), "7b");
        assert_eq!(normalize("123"), "7b");
        assert_eq!(normalize("7b"), "7b");
        assert_eq!(normalize("007B"), "7b");
        assert!(matches("000123", "123"));
        assert!(matches("000123", "7b"));
        assert_eq!(normalize("0"), "0");
        assert_eq!(normalize("0000"), "0");
    }

    #[test]
    fn case_does_not_matter() {
        assert_eq!(normalize("ABCdef"), "abcdef");
        assert!(matches("ABCdef", "abcDEF"));
    }

    #[test]
    fn whitespace_and_nuls_are_trimmed() {
        assert_eq!(normalize(" 2587\0"), "a1b");
        assert_eq!(normalize("\t0A1B \n"), "a1b");
        assert!(matches("2587\0", " a1b"));
    }

    #[test]
    fn other_ids_are_only_lowercased() {
        let uuid = "550E8400-E29B-41D4-A716-446655440000";
        assert_eq!(normalize(uuid), "550e8400-e29b-41d4-a716-446655440000");
        assert!(matches(uuid, "550e8400-e29b-41d4-a716-446655440000"));
        // 'g' is not a hex digit, so the zeros are part of the id.
        assert_eq!(normalize("00GHI"), "00ghi");
        assert!(!matches("00ghi", "ghi"));
    }

    #[test]
    fn empty_ids() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \0 "), "");
        assert!(!matches("", ""));
        assert!(!matches("\0", "0"));
        assert!(!matches("123", ""));
    }

    #[test]
    fn all_digit_hex_text_matches_its_decimal_value() {
        // The response says "123" meaning 0x123; the receipt says 291 in decimal.
        assert_ne!(normalize("123"), normalize("291"));
        assert!(matches("123", "291"));
        assert!(matches("291", "123"));
        assert!(matches("0000123", "291"));
        // A hex id with a letter has one reading only.
        assert!(matches("12a", "298"));
        assert!(!matches("12a", "12"));
        assert!(!matches("123", "124"));
        assert!(!matches("123", "292"));
    }

    #[test]
    fn decimals_beyond_u128() {
        let max = u128::MAX.to_string();
        assert_eq!(normalize(&max), format!("{:x}", u128::MAX));
        let big = "340282366920938463463374607431768211456"; // u128::MAX + 1
        assert_eq!(normalize(big), big);
        assert_eq!(normalize(&format!("000{big}")), big);
        assert!(matches(big, &format!("00{big}")));
        // Leading zeros do not make a u128 overflow.
        assert_eq!(normalize(&format!("{}{}", "0".repeat(60), "255")), "ff");
    }

    #[test]
    fn non_ascii_ids_do_not_panic() {
        assert_eq!(normalize("ÄBC-1"), "äbc-1");
        assert!(matches("ÄBC-1", "äbc-1"));
        assert!(!matches("١٢٣", "123"));
    }
}
