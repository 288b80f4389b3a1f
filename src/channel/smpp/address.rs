//! Source and destination addresses of submit_sm: TON/NPI from the form of the sender id.

use crate::proto::smpp::Address;

/// An alphanumeric sender is TON 5 / NPI 0; a number of more than 8 digits (or with '+') is
/// an international number, 1/1; a shorter one is a short code, 3/0.
pub fn source(sender: &str) -> Address {
    let digits = sender.strip_prefix('+').unwrap_or(sender);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if !numeric {
        Address {
            ton: 5,
            npi: 0,
            addr: sender.to_string(),
        }
    } else if sender.starts_with('+') || digits.len() > 8 {
        Address {
            ton: 1,
            npi: 1,
            addr: digits.to_string(),
        }
    } else {
        Address {
            ton: 3,
            npi: 0,
            addr: digits.to_string(),
        }
    }
}

/// The recipient, E.164 without '+', as an international ISDN number.
pub fn destination(recipient: &str) -> Address {
    Address {
        ton: 1,
        npi: 1,
        addr: recipient.trim_start_matches('+').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ton_npi_follow_the_sender_form() {
        let a = source("MyApp");
        assert_eq!((a.ton, a.npi, a.addr.as_str()), (5, 0, "MyApp"));
        let a = source("+255712345678");
        assert_eq!((a.ton, a.npi, a.addr.as_str()), (1, 1, "255712345678"));
        let a = source("255712345678");
        assert_eq!((a.ton, a.npi), (1, 1));
        let a = source("15555");
        assert_eq!((a.ton, a.npi, a.addr.as_str()), (3, 0, "15555"));
        let d = destination("+255712345678");
        assert_eq!((d.ton, d.npi, d.addr.as_str()), (1, 1, "255712345678"));
    }
}
