//! SMS-SUBMIT (TS 23.040 §9.2.2.2): one message in, one PDU per part out.
//!
//! GSM-7 is used when every character fits the default alphabet or its extension table,
//! UCS-2 otherwise. A message too long for one PDU is cut into parts that carry the
//! 8-bit-reference concatenation header `05 00 03 ref total seq`; a cut never falls
//! between an escape and its character or between the halves of a surrogate pair, so
//! every part decodes on its own.

use std::time::Duration;

use super::{PduError, address, to_hex};
use crate::proto::gsm7;

const GSM7_SINGLE: usize = 160;
/// 160 septets less the 7 that the 6-octet header and its fill bit take.
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
/// 70 code units less the 3 that the 6-octet header takes.
const UCS2_PART: usize = 67;
const MAX_PARTS: usize = 255;

/// Data coding schemes: general group, no class, uncompressed.
const DCS_GSM7: u8 = 0x00;
const DCS_UCS2: u8 = 0x08;

/// First-octet bits of an SMS-SUBMIT (TS 23.040 §9.2.2.2), shared with its decoder.
pub(super) const MTI_SUBMIT: u8 = 0x01;
pub(super) const VPF_RELATIVE: u8 = 0x10;
pub(super) const SRR: u8 = 0x20;
pub(super) const UDHI: u8 = 0x40;

/// One message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submit<'a> {
    /// E.164 with `+` → international (TON 1/NPI 1); otherwise digits sent as dialled.
    pub destination: &'a str,
    pub text: &'a str,
    /// TP-MR of the first part; part `i` uses `reference + i`, wrapping.
    pub reference: u8,
    /// TP-SRR: ask the SMSC for a status report.
    pub status_report: bool,
    /// Relative TP-VP, rounded up to the next representable value, capped at 63 weeks.
    /// `None` sends no validity period (the SMSC's default applies).
    pub validity: Option<Duration>,
    /// Reference shared by all parts in the concatenation header.
    pub concat_reference: u8,
}

/// One part ready for `AT+CMGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPdu {
    /// The whole PDU in hex, starting with `00` (use the SMSC stored in the SIM).
    pub hex: String,
    /// The TPDU length in octets, without the SMSC part: what `AT+CMGS=<n>` takes.
    pub tpdu_len: usize,
}

/// Encodes `s` into one PDU per part. Empty when the destination is not a dialable
/// number or the text needs more than 255 parts; [`try_encode_submit`] says which.
pub fn encode_submit(s: &Submit) -> Vec<EncodedPdu> {
    try_encode_submit(s).unwrap_or_default()
}

/// Encodes `s` into one PDU per part, or says why it cannot be sent.
pub fn try_encode_submit(s: &Submit) -> Result<Vec<EncodedPdu>, PduError> {
    let address = address::encode_address(s.destination).ok_or(PduError::BadDestination)?;
    let validity = s.validity.map(validity_octet);
    let (dcs, parts) = match gsm7::encode(s.text) {
        Some(septets) => {
            let parts = split(&septets, GSM7_SINGLE, GSM7_PART, |u| {
                if u == gsm7::ESC { 2 } else { 1 }
            });
            (DCS_GSM7, Parts::Gsm7(parts))
        }
        None => {
            let units: Vec<u16> = s.text.encode_utf16().collect();
            let parts = split(&units, UCS2_SINGLE, UCS2_PART, |u| {
                if (0xD800..0xDC00).contains(&u) { 2 } else { 1 }
            });
            (DCS_UCS2, Parts::Ucs2(parts))
        }
    };
    let total = match &parts {
        Parts::Gsm7(p) => p.len(),
        Parts::Ucs2(p) => p.len(),
    };
    let total_u8 = u8::try_from(total).map_err(|_| PduError::TooLong { parts: total })?;
    let header = |seq: u8| [0x05, 0x00, 0x03, s.concat_reference, total_u8, seq];
    let user_data: Vec<(u8, Vec<u8>)> = match parts {
        Parts::Gsm7(parts) if total == 1 => parts
            .iter()
            .map(|p| (udl(p.len()), gsm7::pack(p, 0)))
            .collect(),
        Parts::Gsm7(parts) => (1..=total_u8)
            .zip(&parts)
            .map(|(seq, p)| {
                let mut ud = header(seq).to_vec();
                // 48 header bits + 1 fill bit = 7 septets, counted in TP-UDL.
                ud.extend(gsm7::pack(p, 1));
                (udl(p.len() + 7), ud)
            })
            .collect(),
        Parts::Ucs2(parts) => (1..=total_u8)
            .zip(&parts)
            .map(|(seq, p)| {
                let mut ud = if total == 1 {
                    Vec::new()
                } else {
                    header(seq).to_vec()
                };
                ud.extend(p.iter().flat_map(|u| u.to_be_bytes()));
                (udl(ud.len()), ud)
            })
            .collect(),
    };
    Ok(user_data
        .into_iter()
        .zip(0u8..)
        .map(|((udl, ud), i)| {
            let mut first = MTI_SUBMIT;
            if validity.is_some() {
                first |= VPF_RELATIVE;
            }
            if s.status_report {
                first |= SRR;
            }
            if total > 1 {
                first |= UDHI;
            }
            let mut tpdu = Vec::with_capacity(address.len() + ud.len() + 6);
            tpdu.extend([first, s.reference.wrapping_add(i)]);
            tpdu.extend(&address);
            tpdu.extend([0x00, dcs]);
            tpdu.extend(validity);
            tpdu.push(udl);
            tpdu.extend(ud);
            EncodedPdu {
                hex: format!("00{}", to_hex(&tpdu)),
                tpdu_len: tpdu.len(),
            }
        })
        .collect())
}

enum Parts {
    Gsm7(Vec<Vec<u8>>),
    Ucs2(Vec<Vec<u16>>),
}

/// TP-UDL values here are at most 160 by construction of the parts.
fn udl(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// Cuts `units` into parts: the whole when it fits `single`, else parts of at most `part`
/// units, never cutting inside a character `width` says is two units wide.
fn split<T: Copy>(
    units: &[T],
    single: usize,
    part: usize,
    width: impl Fn(T) -> usize,
) -> Vec<Vec<T>> {
    if units.len() <= single {
        return vec![units.to_vec()];
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(&unit) = units.get(i) {
        let end = i.saturating_add(width(unit)).min(units.len());
        if end - start > part {
            parts.push(units.get(start..i).unwrap_or_default().to_vec());
            start = i;
        }
        i = end;
        // Stop counting once it is too long to send; the caller reports how long.
        if parts.len() > MAX_PARTS {
            return parts;
        }
    }
    parts.push(units.get(start..).unwrap_or_default().to_vec());
    parts
}

/// Relative TP-VP (TS 23.040 §9.2.3.12.1), rounded up to the next representable period.
fn validity_octet(validity: Duration) -> u8 {
    const HOUR: u64 = 60;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    let secs = validity
        .as_secs()
        .saturating_add(u64::from(validity.subsec_nanos() > 0));
    let minutes = secs.div_ceil(60);
    let vp = if minutes <= 12 * HOUR {
        // (VP + 1) × 5 minutes
        minutes.div_ceil(5).saturating_sub(1)
    } else if minutes <= DAY {
        // 12 hours + (VP − 143) × 30 minutes
        143 + (minutes - 12 * HOUR).div_ceil(30)
    } else if minutes <= 30 * DAY {
        // (VP − 166) days
        166 + minutes.div_ceil(DAY)
    } else {
        // (VP − 192) weeks, at most 63
        192 + minutes.div_ceil(WEEK).min(63)
    };
    u8::try_from(vp).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sms::from_hex;

    fn submit<'a>(destination: &'a str, text: &'a str) -> Submit<'a> {
        Submit {
            destination,
            text,
            reference: 0,
            status_report: false,
            validity: None,
            concat_reference: 0x42,
        }
    }

    /// Splits a PDU we built into (first octet, TP-MR, DCS, UDL, UD), checking the rest.
    fn fields(pdu: &EncodedPdu) -> (u8, u8, u8, u8, Vec<u8>) {
        let b = from_hex(&pdu.hex).unwrap();
        assert_eq!(b[0], 0, "SMSC from the SIM");
        assert_eq!(pdu.tpdu_len, b.len() - 1);
        let addr_octets = usize::from(b[3]).div_ceil(2);
        let mut i = 5 + addr_octets;
        assert_eq!(b[i], 0, "TP-PID");
        let dcs = b[i + 1];
        i += 2;
        if b[1] & VPF_RELATIVE != 0 {
            i += 1;
        }
        (b[1], b[2], dcs, b[i], b[i + 1..].to_vec())
    }

    #[test]
    fn classic_hellohello_vector() {
        let s = Submit {
            validity: Some(Duration::from_secs(4 * 24 * 3600)),
            ..submit("+46708251358", "hellohello")
        };
        let pdus = encode_submit(&s);
        assert_eq!(
            pdus,
            vec![EncodedPdu {
                hex: "0011000B916407281553F80000AA0AE8329BFD4697D9EC37".into(),
                tpdu_len: 23,
            }]
        );
    }

    #[test]
    fn flags_and_national_destination() {
        let s = Submit {
            reference: 7,
            status_report: true,
            ..submit("0708251358", "hi")
        };
        let pdus = encode_submit(&s);
        assert_eq!(pdus.len(), 1);
        assert_eq!(pdus[0].hex, "0021070A817080523185000002E834".to_string());
        assert_eq!(pdus[0].tpdu_len, 14);
    }

    #[test]
    fn validity_rounds_up_and_caps() {
        let vp = |secs: u64| validity_octet(Duration::from_secs(secs));
        assert_eq!(vp(0), 0);
        assert_eq!(vp(300), 0);
        assert_eq!(vp(301), 1);
        assert_eq!(validity_octet(Duration::from_millis(300_001)), 1);
        assert_eq!(vp(12 * 3600), 143);
        assert_eq!(vp(12 * 3600 + 1), 144);
        assert_eq!(vp(24 * 3600), 167);
        assert_eq!(vp(24 * 3600 + 1), 168);
        assert_eq!(vp(4 * 86400), 0xAA);
        assert_eq!(vp(30 * 86400), 196);
        assert_eq!(vp(30 * 86400 + 1), 197);
        assert_eq!(vp(63 * 7 * 86400), 255);
        assert_eq!(vp(u64::MAX), 255);
        assert_eq!(validity_octet(Duration::MAX), 255);
    }

    #[test]
    fn ucs2_swahili_with_check_mark() {
        let text = "Nambari yako ya uthibitisho ni 123456 ✓";
        let pdus = encode_submit(&submit("+255712345678", text));
        assert_eq!(pdus.len(), 1);
        let (first, _, dcs, udl, ud) = fields(&pdus[0]);
        assert_eq!(first, 0x01);
        assert_eq!(dcs, DCS_UCS2);
        assert_eq!(usize::from(udl), text.chars().count() * 2);
        assert_eq!(&ud[ud.len() - 2..], &[0x27, 0x13]);
        let units: Vec<u16> = ud
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), text);
    }

    #[test]
    fn long_gsm7_splits_into_two_parts_with_udh_and_fill_bit() {
        let text: String = (0..200)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let s = Submit {
            reference: 0xFF,
            ..submit("+46708251358", &text)
        };
        let pdus = encode_submit(&s);
        assert_eq!(pdus.len(), 2);
        let mut joined = Vec::new();
        for (i, pdu) in pdus.iter().enumerate() {
            let (first, mr, dcs, udl, ud) = fields(pdu);
            assert_eq!(first, MTI_SUBMIT | UDHI);
            assert_eq!(mr, 0xFFu8.wrapping_add(i as u8));
            assert_eq!(dcs, DCS_GSM7);
            assert_eq!(&ud[..6], &[0x05, 0x00, 0x03, 0x42, 2, i as u8 + 1]);
            let septets = usize::from(udl) - 7;
            assert_eq!(septets, if i == 0 { 153 } else { 47 });
            assert_eq!(ud.len() - 6, (1 + septets * 7).div_ceil(8));
            // The first septet starts after one fill bit, which must be zero.
            assert_eq!(ud[6] & 1, 0);
            joined.extend(gsm7::unpack(&ud[6..], septets, 1));
        }
        assert_eq!(gsm7::decode(&joined), text);
    }

    #[test]
    fn euro_at_the_boundary_moves_to_the_next_part() {
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let pdus = encode_submit(&submit("+1555", &text));
        assert_eq!(pdus.len(), 2);
        let (_, _, _, udl1, ud1) = fields(&pdus[0]);
        let (_, _, _, udl2, ud2) = fields(&pdus[1]);
        assert_eq!(udl1, 7 + 152);
        assert_eq!(udl2, 7 + 12);
        let p1 = gsm7::unpack(&ud1[6..], 152, 1);
        let p2 = gsm7::unpack(&ud2[6..], 12, 1);
        assert_eq!(p2[..2], [gsm7::ESC, 0x65]);
        assert_eq!(gsm7::decode(&p1) + &gsm7::decode(&p2), text);
    }

    #[test]
    fn euro_fitting_exactly_stays() {
        let text = format!("{}€{}", "a".repeat(151), "b".repeat(10));
        let pdus = encode_submit(&submit("+1555", &text));
        let (_, _, _, udl1, _) = fields(&pdus[0]);
        assert_eq!(udl1, 7 + 153);
    }

    #[test]
    fn ucs2_split_keeps_surrogate_pairs_whole() {
        let text = format!("{}😀{}", "Ж".repeat(66), "ж".repeat(5));
        let pdus = encode_submit(&submit("+1555", &text));
        assert_eq!(pdus.len(), 2);
        let mut units = Vec::new();
        for (i, pdu) in pdus.iter().enumerate() {
            let (first, _, dcs, udl, ud) = fields(pdu);
            assert_eq!((first, dcs), (MTI_SUBMIT | UDHI, DCS_UCS2));
            assert_eq!(&ud[..6], &[0x05, 0x00, 0x03, 0x42, 2, i as u8 + 1]);
            assert_eq!(usize::from(udl), ud.len());
            let part: Vec<u16> = ud[6..]
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            assert_eq!(part.len(), if i == 0 { 66 } else { 7 });
            assert!(String::from_utf16(&part).is_ok());
            units.extend(part);
        }
        assert_eq!(String::from_utf16(&units).unwrap(), text);
    }

    #[test]
    fn exact_single_part_limits() {
        assert_eq!(encode_submit(&submit("+1", &"a".repeat(160))).len(), 1);
        assert_eq!(encode_submit(&submit("+1", &"a".repeat(161))).len(), 2);
        assert_eq!(encode_submit(&submit("+1", &"€".repeat(80))).len(), 1);
        assert_eq!(encode_submit(&submit("+1", &"ж".repeat(70))).len(), 1);
        assert_eq!(encode_submit(&submit("+1", &"ж".repeat(71))).len(), 2);
        assert_eq!(encode_submit(&submit("+1", &"ж".repeat(134))).len(), 2);
        assert_eq!(encode_submit(&submit("+1", &"ж".repeat(135))).len(), 3);
    }

    #[test]
    fn empty_text_is_one_empty_pdu() {
        let pdus = encode_submit(&submit("+1", ""));
        assert_eq!(pdus[0].hex, "0001000191F1000000");
    }

    #[test]
    fn refusals() {
        assert_eq!(encode_submit(&submit("not a number", "x")), vec![]);
        assert_eq!(
            try_encode_submit(&submit("", "x")),
            Err(PduError::BadDestination)
        );
        let huge = "a".repeat(153 * 256);
        assert!(matches!(
            try_encode_submit(&submit("+1", &huge)),
            Err(PduError::TooLong { .. })
        ));
        assert_eq!(
            encode_submit(&submit("+1", &"a".repeat(153 * 255))).len(),
            255
        );
    }
}
