//! SMS-DELIVER (TS 23.040 §9.2.2.1): a message a handset sent to us.
//!
//! The text of one PDU is returned as it stands; a user data header (concatenation or
//! anything else) is skipped, not interpreted, so reassembling parts is the caller's job.

use super::address::{decode_address, decode_timestamp};
use super::user_data::read_user_data;
use super::{PduError, Reader, from_hex};

const MTI_DELIVER: u8 = 0x00;
const UDHI: u8 = 0x40;

/// A decoded SMS-DELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// TP-OA: `+` prefixed when international; alphanumeric senders as text.
    pub originator: String,
    /// TP-UD as text, without its user data header.
    pub text: String,
    /// TP-SCTS as `"YY-MM-DD hh:mm:ss ±hh:mm"`.
    pub timestamp: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alphabet {
    Gsm7,
    Eight,
    Ucs2,
}

/// The alphabet a TP-DCS names (TS 23.038 §4). Compressed and reserved groups are refused.
pub(super) fn alphabet(dcs: u8) -> Option<Alphabet> {
    let from_bits = |bits: u8| match bits & 0x0C {
        0x00 => Some(Alphabet::Gsm7),
        0x04 => Some(Alphabet::Eight),
        0x08 => Some(Alphabet::Ucs2),
        _ => None,
    };
    match dcs >> 4 {
        // General data coding and automatic deletion groups; bit 5 is compression.
        0x0..=0x7 if dcs & 0x20 != 0 => None,
        0x0..=0x7 => from_bits(dcs),
        // Message waiting: discard / store with GSM-7, store with UCS-2.
        0xC | 0xD => Some(Alphabet::Gsm7),
        0xE => Some(Alphabet::Ucs2),
        // Data coding / message class: bit 2 picks GSM-7 or 8-bit.
        0xF if dcs & 0x04 == 0 => Some(Alphabet::Gsm7),
        0xF => Some(Alphabet::Eight),
        _ => None,
    }
}

/// Decodes an SMS-DELIVER from hex. `with_smsc` says whether an SMSC address leads, as
/// in `+CMGR` and `+CMT` output. Octets after the user data are an error, which also
/// catches most PDUs read with the wrong `with_smsc`.
pub fn decode_deliver(hex: &str, with_smsc: bool) -> Result<Deliver, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader::new(&bytes);
    let first = r.tpdu_start(with_smsc, MTI_DELIVER, "SMS-DELIVER")?;
    let originator = decode_address(&mut r, "TP-OA")?;
    r.octet("TP-PID")?;
    let dcs_at = r.pos();
    let dcs = r.octet("TP-DCS")?;
    let timestamp = decode_timestamp(&mut r, "TP-SCTS")?;
    let text = read_user_data(&mut r, first & UDHI != 0, dcs, dcs_at)?.text;
    Ok(Deliver {
        originator,
        text,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sms::{Submit, encode_submit, to_hex};

    const HOW_ARE_YOU: &str =
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

    #[test]
    fn known_vector() {
        let d = decode_deliver(HOW_ARE_YOU, true).unwrap();
        assert_eq!(d.originator, "+31641600986");
        assert_eq!(d.text, "How are you?");
        // Time zone octet 08: sign bit set, zero quarters (see address.rs).
        assert_eq!(d.timestamp, "02-08-26 19:37:41 -00:00");
    }

    #[test]
    fn smsc_flag_both_ways() {
        let tpdu = &HOW_ARE_YOU[16..];
        assert_eq!(
            decode_deliver(tpdu, false).unwrap(),
            decode_deliver(HOW_ARE_YOU, true).unwrap()
        );
        assert_eq!(
            decode_deliver(HOW_ARE_YOU, false),
            Err(PduError::WrongType {
                expected: "SMS-DELIVER",
                mti: 3
            })
        );
        // 04 read as an SMSC length: "type of address" 0x0B lacks bit 7.
        assert!(matches!(
            decode_deliver(tpdu, true),
            Err(PduError::Invalid {
                field: "SMSC type of address",
                ..
            })
        ));
    }

    /// Turns a SUBMIT TPDU we built (no VP, SMSC "00") into the DELIVER a handset
    /// would get, so the encoder's output feeds the decoder.
    fn as_deliver(submit_hex: &str) -> String {
        let b = from_hex(submit_hex).unwrap();
        let first = (b[1] & UDHI) | 0x04; // MMS: no more messages
        let addr_end = 4 + usize::from(b[3]).div_ceil(2) + 1;
        let mut out = vec![first];
        out.extend(&b[3..addr_end]); // TP-OA
        out.extend(&b[addr_end..addr_end + 2]); // PID, DCS
        out.extend(from_hex("62112250501461").unwrap());
        out.extend(&b[addr_end + 2..]); // UDL, UD
        to_hex(&out)
    }

    #[test]
    fn round_trips_what_submit_encodes() {
        let long = "x".repeat(150) + "€€€[]" + &"y".repeat(40);
        for text in [
            "hellohello",
            "Nambari yako ya uthibitisho ni 123456 ✓",
            "",
            long.as_str(),
            &format!("{}😀{}", "Ж".repeat(66), "ж".repeat(5)),
        ] {
            let pdus = encode_submit(&Submit {
                destination: "+31641600986",
                text,
                reference: 1,
                status_report: false,
                validity: None,
                concat_reference: 9,
            });
            let joined: String = pdus
                .iter()
                .map(|p| {
                    let d = decode_deliver(&as_deliver(&p.hex), false).unwrap();
                    assert_eq!(d.originator, "+31641600986");
                    assert_eq!(d.timestamp, "26-11-22 05:05:41 +04:00");
                    d.text
                })
                .collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn eight_bit_and_codings() {
        // DCS 0x04: 8-bit, UDL 2.
        let pdu = "04039121F300046211225050146102414A";
        assert_eq!(decode_deliver(pdu, false).unwrap().text, "AJ");
        assert_eq!(alphabet(0xF0), Some(Alphabet::Gsm7));
        assert_eq!(alphabet(0xF4), Some(Alphabet::Eight));
        assert_eq!(alphabet(0xE0), Some(Alphabet::Ucs2));
        assert_eq!(alphabet(0x48), Some(Alphabet::Ucs2));
        assert_eq!(alphabet(0x20), None);
        assert_eq!(alphabet(0x0C), None);
        assert_eq!(alphabet(0x80), None);
        let compressed = "04039121F300206211225050146100";
        assert_eq!(
            decode_deliver(compressed, false),
            Err(PduError::UnsupportedCoding {
                dcs: 0x20,
                offset: 6
            })
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let tpdu = &HOW_ARE_YOU[16..];
        assert_eq!(
            decode_deliver(&tpdu[..tpdu.len() - 2], false),
            Err(PduError::Truncated {
                field: "TP-UD",
                offset: 19
            })
        );
        assert_eq!(
            decode_deliver(&format!("{tpdu}00"), false),
            Err(PduError::TrailingData {
                offset: 30,
                extra: 1
            })
        );
        // UDL 0xA1 = 161 septets.
        let long_udl = "04039121F3000062112250501461A1";
        assert_eq!(
            decode_deliver(long_udl, false),
            Err(PduError::Invalid {
                field: "TP-UDL",
                offset: 14,
                value: 0xA1
            })
        );
        // UDHI set, header length 5 but only 2 octets of user data.
        let bad_udh = "44039121F3000062112250501461020500";
        assert_eq!(
            decode_deliver(bad_udh, false),
            Err(PduError::Invalid {
                field: "TP-UDHL",
                offset: 15,
                value: 5
            })
        );
        // UDHI set, a header of one lone element identifier (no length octet).
        let short_udl = "44039121F3000062112250501461020100";
        assert_eq!(
            decode_deliver(short_udl, false),
            Err(PduError::Truncated {
                field: "TP-UDH element",
                offset: 16
            })
        );
        assert_eq!(
            decode_deliver("xyz", false),
            Err(PduError::NotHex { offset: 0 })
        );
        assert_eq!(
            decode_deliver("040", false),
            Err(PduError::OddLength { len: 3 })
        );
        assert!(matches!(
            decode_deliver("", true),
            Err(PduError::Truncated { .. })
        ));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_handled() {
        let full = from_hex(HOW_ARE_YOU).unwrap();
        for cut in 0..full.len() {
            let hex = to_hex(&full[..cut]);
            assert!(decode_deliver(&hex, true).is_err(), "cut {cut}");
        }
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut b = full.clone();
                b[i] ^= 1 << bit;
                let hex = to_hex(&b);
                let _ = decode_deliver(&hex, true);
                let _ = decode_deliver(&hex, false);
                let _ = crate::proto::sms::decode_status_report(&hex, true);
            }
        }
    }
}
