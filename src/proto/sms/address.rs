//! Address fields (TS 23.040 §9.1.2.5) and service-centre timestamps (§9.2.3.11).
//!
//! An address is a length in useful semi-octets, a type-of-address octet and the digits
//! two to an octet, low nibble first, padded with `F`. When the type of number is
//! alphanumeric (5) the "digits" are packed GSM-7 instead.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{PduError, Reader};
use crate::proto::gsm7;

/// Most digits an address field holds: 10 octets of semi-octets.
const MAX_DIGITS: usize = 20;

/// International number, ISDN/telephone numbering plan.
const TOA_INTERNATIONAL: u8 = 0x91;
/// Unknown type of number, ISDN/telephone plan: national digits are sent as dialled and
/// the SMSC applies its own prefixes, which is what modems do for numbers without '+'.
const TOA_UNKNOWN: u8 = 0x81;
const TON_INTERNATIONAL: u8 = 1;
const TON_ALPHANUMERIC: u8 = 5;

/// Encodes a destination as length, type of address and semi-octets. `+` then digits is
/// international; digits alone are sent with an unknown type of number. `*` and `#` are
/// allowed as the semi-octets A and B. `None` when empty, too long or not dialable.
pub(crate) fn encode_address(number: &str) -> Option<Vec<u8>> {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(rest) => (TOA_INTERNATIONAL, rest),
        None => (TOA_UNKNOWN, number),
    };
    let values: Vec<u8> = digits
        .chars()
        .map(|c| match c {
            '0'..='9' => c.to_digit(10).and_then(|d| u8::try_from(d).ok()),
            '*' => Some(0xA),
            '#' => Some(0xB),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if values.is_empty() || values.len() > MAX_DIGITS {
        return None;
    }
    let mut out = vec![u8::try_from(values.len()).ok()?, toa];
    out.extend(values.chunks(2).map(|pair| match pair {
        [low, high] => low | (high << 4),
        [low] => low | 0xF0,
        _ => 0xFF,
    }));
    Some(out)
}

/// Reads an address field; international numbers come back with a leading `+`.
pub(crate) fn decode_address(r: &mut Reader, field: &'static str) -> Result<String, PduError> {
    let start = r.pos();
    let digits = r.octet(field)?;
    if usize::from(digits) > MAX_DIGITS {
        return Err(PduError::Invalid {
            field,
            offset: start,
            value: digits,
        });
    }
    let toa = r.octet(field)?;
    let octets = r.take(usize::from(digits).div_ceil(2), field)?;
    let ton = (toa >> 4) & 0x07;
    if ton == TON_ALPHANUMERIC {
        let septets = usize::from(digits) * 4 / 7;
        return Ok(gsm7::decode(&gsm7::unpack(octets, septets, 0)));
    }
    let mut out = String::with_capacity(usize::from(digits) + 1);
    if ton == TON_INTERNATIONAL {
        out.push('+');
    }
    let nibbles = octets
        .iter()
        .flat_map(|&o| [o & 0x0F, o >> 4])
        .take(usize::from(digits));
    for (i, nibble) in nibbles.enumerate() {
        let c = match nibble {
            0..=9 => char::from(b'0' + nibble),
            0xA => '*',
            0xB => '#',
            0xC => 'a',
            0xD => 'b',
            0xE => 'c',
            _ => {
                return Err(PduError::Invalid {
                    field,
                    offset: start + 2 + i / 2,
                    value: nibble,
                });
            }
        };
        out.push(c);
    }
    Ok(out)
}

/// Reads a 7-octet timestamp as `"YY-MM-DD hh:mm:ss ±hh:mm"`. Digits are checked to be
/// decimal; the calendar is not, because the text is only shown and logged.
pub(crate) fn decode_timestamp(r: &mut Reader, field: &'static str) -> Result<String, PduError> {
    let start = r.pos();
    let octets = r.take(7, field)?;
    let mut values = [0u8; 7];
    for (i, (&octet, value)) in octets.iter().zip(values.iter_mut()).enumerate() {
        // The time zone's sign lives in bit 3, which is the tens digit's top bit.
        let tens = if i == 6 { octet & 0x07 } else { octet & 0x0F };
        let units = octet >> 4;
        if tens > 9 || units > 9 {
            return Err(PduError::Invalid {
                field,
                offset: start + i,
                value: octet,
            });
        }
        *value = tens * 10 + units;
    }
    let [yy, mo, dd, hh, mi, ss, quarters] = values;
    let sign = match octets.get(6) {
        Some(tz) if tz & 0x08 != 0 => '-',
        _ => '+',
    };
    let (tz_h, tz_m) = (quarters / 4, (quarters % 4) * 15);
    Ok(format!(
        "{yy:02}-{mo:02}-{dd:02} {hh:02}:{mi:02}:{ss:02} {sign}{tz_h:02}:{tz_m:02}"
    ))
}

/// Encodes a service-centre address (TS 24.011 §8.2.5.1) as TS 27.005 puts it before a
/// TPDU: a length in octets (type of address included), then the address. An empty number
/// is the single octet `00`, "the SMSC stored in the SIM". `None` when not dialable.
pub(crate) fn encode_smsc(number: &str) -> Option<Vec<u8>> {
    if number.is_empty() {
        return Some(vec![0]);
    }
    let mut address = encode_address(number)?;
    // Replace the semi-octet count by the octet count of type of address plus digits.
    let octets = u8::try_from(address.len() - 1).ok()?;
    *address.first_mut()? = octets;
    Some(address)
}

/// Encodes a UTC time as a 7-octet timestamp with time zone +00:00. Times before 1970
/// are taken as 1970; the year is written modulo 100, as the field holds two digits.
pub(crate) fn encode_timestamp(time: SystemTime) -> [u8; 7] {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let fields = [
        year % 100,
        month,
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        0,
    ];
    // Each field is below 100, so the digits fit.
    fields.map(|v| {
        let v = u8::try_from(v % 100).unwrap_or(0);
        (v % 10) << 4 | (v / 10)
    })
}

/// (year, month, day) of a count of days since 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for days ≥ 0).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sms::from_hex;

    fn address(hex: &str) -> Result<String, PduError> {
        let bytes = from_hex(hex).unwrap();
        decode_address(&mut Reader::new(&bytes), "TP-OA")
    }

    #[test]
    fn encodes_international_and_national() {
        assert_eq!(
            encode_address("+46708251358").unwrap(),
            from_hex("0B916407281553F8").unwrap()
        );
        assert_eq!(
            encode_address("0708251358").unwrap(),
            from_hex("0A817080523185").unwrap()
        );
        assert_eq!(
            encode_address("*100#").unwrap(),
            vec![5, 0x81, 0x1A, 0x00, 0xFB]
        );
    }

    #[test]
    fn rejects_undialable_destinations() {
        for bad in ["", "+", "+46 70", "abc", "+123456789012345678901", "++1"] {
            assert_eq!(encode_address(bad), None, "{bad:?}");
        }
        assert!(encode_address("+12345678901234567890").is_some());
    }

    #[test]
    fn decodes_numbers() {
        assert_eq!(address("0B916407281553F8").unwrap(), "+46708251358");
        assert_eq!(address("0A817080523185").unwrap(), "0708251358");
        assert_eq!(address("0091").unwrap(), "+");
    }

    #[test]
    fn decodes_alphanumeric_sender() {
        // "Google" packed: 6 septets = 42 bits = 6 octets = 11 useful semi-octets.
        let packed = gsm7::pack(&gsm7::encode("Google").unwrap(), 0);
        let hex = format!("0BD0{}", crate::proto::sms::to_hex(&packed));
        assert_eq!(address(&hex).unwrap(), "Google");
    }

    #[test]
    fn address_errors_say_where() {
        assert_eq!(
            address("1591"),
            Err(PduError::Invalid {
                field: "TP-OA",
                offset: 0,
                value: 0x15
            })
        );
        assert_eq!(
            address("0B9164"),
            Err(PduError::Truncated {
                field: "TP-OA",
                offset: 2
            })
        );
        assert_eq!(
            address("04911F32"),
            Err(PduError::Invalid {
                field: "TP-OA",
                offset: 2,
                value: 0xF
            })
        );
    }

    #[test]
    fn timestamps() {
        let ts = |hex: &str| {
            let bytes = from_hex(hex).unwrap();
            decode_timestamp(&mut Reader::new(&bytes), "TP-SCTS")
        };
        // The time zone octet 08 has the sign bit (bit 3) set and no quarters: "-0",
        // as TS 23.040 §9.2.3.11 and Android's decoder read it. 80 is +8 quarters.
        assert_eq!(ts("20806291731408").unwrap(), "02-08-26 19:37:41 -00:00");
        assert_eq!(ts("20806291731480").unwrap(), "02-08-26 19:37:41 +02:00");
        assert_eq!(ts("62112250501488").unwrap(), "26-11-22 05:05:41 -02:00");
        assert_eq!(ts("62112250501433").unwrap(), "26-11-22 05:05:41 +08:15");
        assert_eq!(
            ts("621122505014"),
            Err(PduError::Truncated {
                field: "TP-SCTS",
                offset: 0
            })
        );
        assert_eq!(
            ts("6211A250501400"),
            Err(PduError::Invalid {
                field: "TP-SCTS",
                offset: 2,
                value: 0xA2
            })
        );
    }

    #[test]
    fn encodes_smsc_and_timestamps() {
        assert_eq!(encode_smsc("").unwrap(), vec![0]);
        assert_eq!(
            encode_smsc("+255754000000").unwrap(),
            from_hex("0791527545000000").unwrap()
        );
        assert_eq!(
            encode_smsc("+27381000015").unwrap(),
            from_hex("07917283010010F5").unwrap()
        );
        assert_eq!(encode_smsc("x"), None);
        let at = |secs: u64| UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let ts = |time| {
            let octets = encode_timestamp(time);
            decode_timestamp(&mut Reader::new(&octets), "TP-SCTS").unwrap()
        };
        assert_eq!(ts(at(0)), "70-01-01 00:00:00 +00:00");
        // 2026-11-22 05:05:41 UTC, and the leap day of 2024.
        assert_eq!(ts(at(1_795_323_941)), "26-11-22 05:05:41 +00:00");
        assert_eq!(ts(at(1_709_164_800 + 3599)), "24-02-29 00:59:59 +00:00");
        assert_eq!(
            ts(UNIX_EPOCH - std::time::Duration::from_secs(1)),
            "70-01-01 00:00:00 +00:00"
        );
        assert_eq!(civil_from_days(10_957), (2000, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
