//! Reading an SMS-SUBMIT (TS 23.040 §9.2.2.2): what a DTE hands a modem after `AT+CMGS`.
//! The modem simulator reads the PDUs of otpd's driver and of third-party software with it.
//!
//! A relative validity period is returned as a [`Duration`]; an enhanced or absolute one
//! is read past (its 7 octets) and given as `None`, since only an SMSC would act on it.

use std::time::Duration;

use super::address::decode_address;
use super::user_data::{Concat, read_user_data};
use super::{PduError, Reader, from_hex};

use super::submit::{MTI_SUBMIT, SRR, UDHI, VPF_RELATIVE};

const VPF_MASK: u8 = 0x18;
const VPF_NONE: u8 = 0x00;
const VPF_ENHANCED: u8 = 0x08;

/// A decoded SMS-SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSubmit {
    /// TP-MR as the DTE wrote it (modems replace it with their own counter).
    pub reference: u8,
    /// TP-DA: `+` then digits when the type of number is international, else as sent.
    pub destination: String,
    /// TP-SRR: a status report is requested.
    pub status_report: bool,
    /// A relative TP-VP; `None` when absent, enhanced or absolute.
    pub validity: Option<Duration>,
    /// The text of this PDU (one part when concatenated); 8-bit data as Latin-1.
    pub text: String,
    /// The concatenation element of the user data header, if any.
    pub concat: Option<Concat>,
}

/// Decodes an SMS-SUBMIT from hex. `with_smsc` says whether an SMSC address leads, as in
/// what follows the `AT+CMGS` prompt. Octets after the user data are an error.
pub fn decode_submit(hex: &str, with_smsc: bool) -> Result<DecodedSubmit, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader::new(&bytes);
    let first = r.tpdu_start(with_smsc, MTI_SUBMIT, "SMS-SUBMIT")?;
    let reference = r.octet("TP-MR")?;
    let destination = decode_address(&mut r, "TP-DA")?;
    r.octet("TP-PID")?;
    let dcs_at = r.pos();
    let dcs = r.octet("TP-DCS")?;
    let validity = match first & VPF_MASK {
        VPF_NONE => None,
        VPF_RELATIVE => Some(relative_validity(r.octet("TP-VP")?)),
        // Enhanced (01) and absolute (11) formats both take 7 octets.
        vpf => {
            let field = if vpf == VPF_ENHANCED {
                "TP-VP (enhanced)"
            } else {
                "TP-VP (absolute)"
            };
            r.take(7, field)?;
            None
        }
    };
    let ud = read_user_data(&mut r, first & UDHI != 0, dcs, dcs_at)?;
    Ok(DecodedSubmit {
        reference,
        destination,
        status_report: first & SRR != 0,
        validity,
        text: ud.text,
        concat: ud.concat,
    })
}

/// A relative TP-VP (TS 23.040 §9.2.3.12.1) as a duration.
fn relative_validity(vp: u8) -> Duration {
    const MINUTE: u64 = 60;
    const DAY: u64 = 24 * 60 * MINUTE;
    let vp = u64::from(vp);
    let secs = match vp {
        0..=143 => (vp + 1) * 5 * MINUTE,
        144..=167 => 12 * 60 * MINUTE + (vp - 143) * 30 * MINUTE,
        168..=196 => (vp - 166) * DAY,
        _ => (vp - 192) * 7 * DAY,
    };
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sms::{Submit, encode_submit, to_hex};

    fn submit<'a>(destination: &'a str, text: &'a str) -> Submit<'a> {
        Submit {
            destination,
            text,
            reference: 200,
            status_report: true,
            validity: Some(Duration::from_secs(300)),
            concat_reference: 0x42,
        }
    }

    /// Every part of `s` decoded, checked against the fields `s` asked for.
    fn round_trip(s: &Submit) -> Vec<DecodedSubmit> {
        let pdus = encode_submit(s);
        assert!(!pdus.is_empty());
        let total = pdus.len();
        pdus.iter()
            .zip(0u8..)
            .map(|(pdu, i)| {
                let d = decode_submit(&pdu.hex, true).unwrap();
                assert_eq!(d.reference, s.reference.wrapping_add(i));
                assert_eq!(d.destination, s.destination);
                assert_eq!(d.status_report, s.status_report);
                assert_eq!(d.validity, s.validity);
                let want = (total > 1).then(|| Concat {
                    reference: u16::from(s.concat_reference),
                    total: u8::try_from(total).unwrap(),
                    seq: i + 1,
                });
                assert_eq!(d.concat, want);
                // Without the SMSC part ("00") the same fields come out.
                assert_eq!(decode_submit(&pdu.hex[2..], false).unwrap(), d);
                d
            })
            .collect()
    }

    #[test]
    fn round_trips_what_submit_encodes() {
        let long = "Your otpd code is 123456. ".repeat(12);
        let long_ucs2 = "Msimbo wako ni 123456 ✓ ".repeat(7);
        let cases: &[(&str, &str, usize)] = &[
            ("+255712345678", "hello", 1),
            ("0712345678", "national number", 1),
            ("+255712345678", "Code {1} costs 0€ [ok] ~ | ^ \\", 1),
            ("+255712345678", "Nambari yako ni 123456 ✓ 😀", 1),
            ("+255712345678", &long, 3),
            ("+255712345678", &long_ucs2, 3),
            ("*100#", "", 1),
        ];
        for &(destination, text, parts) in cases {
            let decoded = round_trip(&submit(destination, text));
            assert_eq!(decoded.len(), parts, "{text}");
            let joined: String = decoded.iter().map(|d| d.text.as_str()).collect();
            assert_eq!(joined, text);
        }
        let bare = Submit {
            status_report: false,
            validity: None,
            ..submit("+1", "x")
        };
        round_trip(&bare);
    }

    #[test]
    fn classic_hellohello_vector() {
        // The example of many PDU tutorials: to +46708251358, VP 4 days, "hellohello".
        let d = decode_submit("0011000B916407281553F80000AA0AE8329BFD4697D9EC37", true).unwrap();
        assert_eq!(
            d,
            DecodedSubmit {
                reference: 0,
                destination: "+46708251358".into(),
                status_report: false,
                validity: Some(Duration::from_secs(4 * 24 * 3600)),
                text: "hellohello".into(),
                concat: None,
            }
        );
    }

    /// PDUs written by Gammu 1.42 (its `sendsms` over a pty, and python3-gammu's
    /// `EncodePDU`), each with the SMSC +255754000000 in front.
    #[test]
    fn gammu_vectors() {
        let smsc = "0791527545000000";
        let table: &[(&str, &str, &str, Option<Concat>, u8)] = &[
            (
                "11000C915275214365870000FF10E8329BFD0699E5EF36E81C6EB7EB",
                "+255712345678",
                "hello from gammu",
                None,
                255,
            ),
            (
                "11000C91527521436587000800140048006100620061007200690020041600202713",
                "+255712345678",
                "Habari Ж ✓",
                None,
                0,
            ),
            (
                "11000C915275214365870000000A1BDE06B5296F521B1F",
                "+255712345678",
                "[{€}]",
                None,
                0,
            ),
            (
                "51000A8170214365870000001A06080405B90202783C1E8FC7E3F1783C1E8FC7E3F1783C",
                "0712345678",
                "xxxxxxxxxxxxxxxxxx",
                Some(Concat {
                    reference: 0x05B9,
                    total: 2,
                    seq: 2,
                }),
                0,
            ),
        ];
        for &(tpdu, destination, text, concat, vp) in table {
            let d = decode_submit(&format!("{smsc}{tpdu}"), true).unwrap();
            assert_eq!(d.destination, destination);
            assert_eq!(d.text, text);
            assert_eq!(d.concat, concat);
            assert_eq!(d.validity, Some(relative_validity(vp)));
            assert!(!d.status_report);
        }
        // Gammu's `-report`: first octet 0x71 (SRR, UDHI, relative VP), 8-bit reference.
        // Its first part, cut to 7 characters (TP-UDL 14 = 7 header septets + 7).
        let part = "71000C915275214365870000FF0E0500038D0301C2E231B96C3EA3";
        let d = decode_submit(&format!("{smsc}{part}"), true).unwrap();
        assert!(d.status_report);
        assert_eq!(
            d.concat,
            Some(Concat {
                reference: 0x8D,
                total: 3,
                seq: 1
            })
        );
        assert_eq!(d.text, "abcdefg");
    }

    #[test]
    fn validity_formats() {
        assert_eq!(relative_validity(0), Duration::from_secs(300));
        assert_eq!(relative_validity(143), Duration::from_secs(12 * 3600));
        assert_eq!(
            relative_validity(144),
            Duration::from_secs(12 * 3600 + 1800)
        );
        assert_eq!(relative_validity(167), Duration::from_secs(24 * 3600));
        assert_eq!(relative_validity(168), Duration::from_secs(2 * 86400));
        assert_eq!(relative_validity(196), Duration::from_secs(30 * 86400));
        assert_eq!(relative_validity(197), Duration::from_secs(5 * 7 * 86400));
        assert_eq!(relative_validity(255), Duration::from_secs(63 * 7 * 86400));
        // Absolute (VPF 11) and enhanced (VPF 01): 7 octets read past, no validity.
        for first in ["19", "09"] {
            let hex = format!("{first}000191F10000621122505014610161");
            let d = decode_submit(&hex, false).unwrap();
            assert_eq!((d.validity, d.text.as_str()), (None, "a"));
            let cut = &hex[..hex.len() - 8];
            assert!(matches!(
                decode_submit(cut, false),
                Err(PduError::Truncated { field, offset: 7 }) if field.starts_with("TP-VP")
            ));
        }
    }

    #[test]
    fn eight_bit_is_latin1() {
        // DCS 0x04, UDL 3: "A", 0xE9, 0xFF.
        let d = decode_submit("01000191F100040341E9FF", false).unwrap();
        assert_eq!(d.text, "Aéÿ");
    }

    #[test]
    fn errors_say_what_and_where() {
        let good = "11000C915275214365870000FF10E8329BFD0699E5EF36E81C6EB7EB";
        assert_eq!(
            decode_submit(good, true),
            Err(PduError::Invalid {
                field: "SMSC length",
                offset: 0,
                value: 0x11
            })
        );
        assert_eq!(
            decode_submit(&format!("020500{good}"), true),
            Err(PduError::Invalid {
                field: "SMSC type of address",
                offset: 1,
                value: 0x05
            })
        );
        assert_eq!(
            decode_submit(&format!("00{good}"), false),
            Err(PduError::WrongType {
                expected: "SMS-SUBMIT",
                mti: 0
            })
        );
        assert_eq!(
            decode_submit(&format!("{good}00"), false),
            Err(PduError::TrailingData {
                offset: 28,
                extra: 1
            })
        );
        assert_eq!(
            decode_submit("0006", true),
            Err(PduError::WrongType {
                expected: "SMS-SUBMIT",
                mti: 2
            })
        );
        // DCS 0x20: compressed.
        assert_eq!(
            decode_submit("01000191F1002000", false),
            Err(PduError::UnsupportedCoding {
                dcs: 0x20,
                offset: 6
            })
        );
        // UDL 161 septets.
        assert_eq!(
            decode_submit("01000191F10000A1", false),
            Err(PduError::Invalid {
                field: "TP-UDL",
                offset: 7,
                value: 0xA1
            })
        );
        // UDHI with a header length beyond the user data.
        assert_eq!(
            decode_submit("41000191F10000020500", false),
            Err(PduError::Invalid {
                field: "TP-UDHL",
                offset: 8,
                value: 5
            })
        );
        // UDHI with no user data at all.
        assert_eq!(
            decode_submit("41000191F1000000", false),
            Err(PduError::Truncated {
                field: "TP-UDHL",
                offset: 8
            })
        );
        assert_eq!(
            decode_submit("zz", false),
            Err(PduError::NotHex { offset: 0 })
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        for pdu in encode_submit(&submit("+255712345678", &"a€".repeat(100))) {
            let bytes = from_hex(&pdu.hex).unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    decode_submit(&to_hex(&bytes[..cut]), true).is_err(),
                    "{cut}"
                );
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_octets() {
        let mut x: u32 = 0x9E37_79B9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xFF) as u8
        };
        for len in 0..80 {
            for _ in 0..200 {
                let mut bytes: Vec<u8> = (0..len).map(|_| next()).collect();
                // Make it look like a SUBMIT often enough to reach the deeper fields.
                if let Some(first) = bytes.first_mut() {
                    *first = (*first & 0xFC) | 0x01;
                }
                let hex = to_hex(&bytes);
                let _ = decode_submit(&hex, false);
                let _ = decode_submit(&hex, true);
            }
        }
    }
}
