//! Property tests of the codecs: what is encoded decodes to the same thing, whatever the text,
//! number or split; and no input makes a decoder panic. Seeded, so every run checks the same
//! cases (a failure prints its minimal input; nothing is written to disk).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::time::{Duration, SystemTime};

use super::at::Digester;
use super::gsm7;
use super::smpp::{frame, receipt, text};
use super::sms;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x07d_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Texts that mix the GSM-7 default alphabet, its extension table (two septets each) and,
/// sometimes, characters only UCS-2 has (accents outside GSM-7, CJK, emoji: surrogate pairs).
fn message_text() -> impl Strategy<Value = String> {
    let gsm = prop::sample::select(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà"
            .chars()
            .collect::<Vec<_>>(),
    );
    let extension = prop::sample::select("^{}\\[~]|€".chars().collect::<Vec<_>>());
    let wide = prop::sample::select("ĉşŁ中文😀👍🏽".chars().collect::<Vec<_>>());
    let any_char = prop_oneof![8 => gsm, 2 => extension, 1 => wide];
    prop::collection::vec(any_char, 0..400).prop_map(|chars| chars.into_iter().collect())
}

/// An international number: `+`, a non-zero digit, 6 to 14 more digits.
fn e164() -> impl Strategy<Value = String> {
    ("[1-9]", "[0-9]{6,14}").prop_map(|(first, rest)| format!("+{first}{rest}"))
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn gsm7_septets_and_packing_round_trip(text in message_text(), fill in 0u8..7) {
        if let Some(septets) = gsm7::encode(&text) {
            prop_assert_eq!(gsm7::septet_len(&text), Some(septets.len()));
            prop_assert_eq!(gsm7::decode(&septets), text);
            let packed = gsm7::pack(&septets, fill);
            prop_assert_eq!(gsm7::unpack(&packed, septets.len(), fill), septets);
        }
    }

    #[test]
    fn an_sms_submit_decodes_to_what_was_encoded(
        text in message_text(),
        destination in e164(),
        reference: u8,
        concat_reference: u8,
        status_report: bool,
        validity_s in prop::option::of(1u64..86_400),
    ) {
        let submit = sms::Submit {
            destination: &destination,
            text: &text,
            reference,
            status_report,
            validity: validity_s.map(Duration::from_secs),
            concat_reference,
        };
        let parts = sms::try_encode_submit(&submit).unwrap();
        prop_assert!(!parts.is_empty());
        let mut joined = String::new();
        for (i, part) in parts.iter().enumerate() {
            // "00" (the SIM's SMSC) leads; AT+CMGS takes the rest's length.
            prop_assert_eq!(part.tpdu_len * 2 + 2, part.hex.len());
            let decoded = sms::decode_submit(&part.hex, true).unwrap();
            prop_assert_eq!(&decoded.destination, &destination);
            prop_assert_eq!(decoded.reference, reference.wrapping_add(i as u8));
            prop_assert_eq!(decoded.status_report, status_report);
            match (validity_s, decoded.validity) {
                (None, None) => {}
                // Rounded up to the next value TP-VP can say, never down.
                (Some(asked), Some(got)) => prop_assert!(got >= Duration::from_secs(asked)),
                (asked, got) => prop_assert!(false, "validity {:?} came back as {:?}", asked, got),
            }
            match decoded.concat {
                None => prop_assert_eq!(parts.len(), 1),
                Some(c) => {
                    prop_assert_eq!(c.reference, u16::from(concat_reference));
                    prop_assert_eq!(usize::from(c.total), parts.len());
                    prop_assert_eq!(usize::from(c.seq), i + 1);
                }
            }
            joined.push_str(&decoded.text);
        }
        prop_assert_eq!(joined, text);
    }

    #[test]
    fn a_status_report_decodes_to_what_was_encoded(
        smsc in prop::option::of(e164()),
        recipient in e164(),
        reference: u8,
        status: u8,
        submitted_s in 946_684_800u64..4_102_358_400,
        delay_s in 0u64..86_400,
    ) {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(submitted_s);
        let report = sms::NewStatusReport {
            smsc: smsc.as_deref().unwrap_or(""),
            reference,
            recipient: &recipient,
            service_centre_time: at,
            discharge_time: at + Duration::from_secs(delay_s),
            status,
        };
        let pdu = sms::encode_status_report(&report).unwrap();
        let decoded = sms::decode_status_report(&pdu.hex, true).unwrap();
        prop_assert_eq!(decoded.reference, reference);
        prop_assert_eq!(decoded.recipient, recipient);
        prop_assert_eq!(decoded.status, status);
        // Both written in UTC as "YY-MM-DD hh:mm:ss +00:00", within one century: they
        // compare as text.
        prop_assert!(decoded.service_centre_time <= decoded.discharge_time);
    }

    #[test]
    fn smpp_parts_join_back_into_the_text(text in message_text(), reference: u16, sar: bool) {
        let concat = if sar { text::Concatenation::Sar } else { text::Concatenation::Udh };
        let parts = text::split(&text, concat, reference);
        let total = parts.len();
        let mut joined = String::new();
        for (i, part) in parts.into_iter().enumerate() {
            let body = if part.esm_class_udhi {
                let udh = part.short_message.get(..6).unwrap();
                prop_assert_eq!(udh, &[5, 0, 3, reference as u8, total as u8, (i + 1) as u8][..]);
                part.short_message.get(6..).unwrap().to_vec()
            } else {
                part.short_message
            };
            if total > 1 {
                prop_assert!(part.esm_class_udhi != sar);
                prop_assert_eq!(part.sar.is_some(), sar);
            }
            joined.push_str(&match part.data_coding {
                0 => gsm7::decode(&body),
                8 => {
                    let units: Vec<u16> = body
                        .chunks(2)
                        .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
                        .collect();
                    String::from_utf16(&units).unwrap()
                }
                other => return Err(TestCaseError::fail(format!("data_coding {other}"))),
            });
        }
        prop_assert_eq!(joined, text);
    }

    #[test]
    fn a_receipt_in_the_usual_text_form_is_read_back(
        id in "[0-9A-Fa-f]{1,20}",
        stat in prop::sample::select(vec!["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "UNKNOWN", "ACCEPTD", "DELETED"]),
        err in "[0-9]{3}",
        text in "[ -~]{0,20}",
    ) {
        let line = format!(
            "id:{id} sub:001 dlvrd:001 submit date:2611221403 done date:2611221404 stat:{stat} err:{err} text:{text}"
        );
        let r = receipt::parse(line.as_bytes()).unwrap();
        prop_assert_eq!(r.id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(r.stat, receipt::ReceiptState::from_stat(stat));
        prop_assert_eq!(r.err.as_deref(), Some(err.as_str()));
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// Whatever a modem, an SMSC or a handset sends, the decoders answer with a value or an
    /// error, never a panic.
    #[test]
    fn decoders_never_panic_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        for with_smsc in [false, true] {
            let _ = sms::decode_submit(&hex, with_smsc);
            let _ = sms::decode_status_report(&hex, with_smsc);
            let _ = sms::decode_deliver(&hex, with_smsc);
        }
        let _ = sms::decode_submit(&String::from_utf8_lossy(&bytes), true);
        let _ = receipt::parse(&bytes);
        let _ = gsm7::decode(&bytes);
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = frame::next_frame(&mut buf, 4096) {}
        let mut digester = Digester::new();
        let mut pending = Vec::new();
        for chunk in bytes.chunks(7) {
            pending.extend_from_slice(chunk);
            let _ = digester.feed(&mut pending);
        }
    }
}
