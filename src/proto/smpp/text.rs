//! Turns a message text into the `short_message` of one or more `submit_sm` PDUs.
//!
//! The coding is GSM-7 (`data_coding` 0, one septet per octet, the SMSC packs it) when
//! every character is in the default alphabet, else UCS-2 (`data_coding` 8, UTF-16BE).
//! A text that fits one SMS goes alone; a longer one is cut into parts that the handset
//! joins again, either by a user data header in each part or by the `sar_*` TLVs, which
//! let the SMSC build that header itself.
//!
//! | coding | single message | per part when concatenated |
//! |--------|----------------|----------------------------|
//! | GSM-7  | 160 septets    | 153 septets                |
//! | UCS-2  | 70 code units  | 67 code units              |
//!
//! A part never ends in the middle of a character: an extension character (`ESC` and its
//! code) or a surrogate pair stays whole, and the part is one unit shorter instead.

use crate::proto::gsm7;

/// The most parts a message can have: the part counters are one octet.
pub const MAX_PARTS: usize = 255;

/// Septets in a single GSM-7 message: 140 octets of user data, packed.
const GSM7_SINGLE: usize = 160;
/// Septets per GSM-7 part: the 6-octet UDH and one fill bit take 7 septets.
const GSM7_PART: usize = 153;
/// UTF-16 code units in a single UCS-2 message: 140 octets.
const UCS2_SINGLE: usize = 70;
/// UTF-16 code units per UCS-2 part: 134 octets after the 6-octet UDH.
const UCS2_PART: usize = 67;

/// The concatenation UDH with the 8-bit reference (TS 23.040 §9.2.3.24.1): UDH length 5,
/// IEI 0, IE length 3; reference, total and sequence follow.
const UDH_PREFIX: [u8; 3] = [0x05, 0x00, 0x03];

/// The alphabet a text goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// The GSM 7-bit default alphabet, `data_coding` 0 (the SMSC default alphabet).
    Gsm7,
    /// UCS-2, sent as UTF-16BE so that characters beyond the BMP survive on handsets
    /// that read UTF-16; `data_coding` 8.
    Ucs2,
}

impl Coding {
    /// The SMPP `data_coding` value.
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0,
            Coding::Ucs2 => 8,
        }
    }
}

/// How the parts of a long message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concatenation {
    /// A user data header in each `short_message`, with `esm_class` UDHI set.
    Udh,
    /// `sar_msg_ref_num`, `sar_total_segments` and `sar_segment_seqnum` TLVs; the SMSC
    /// writes the header. Some SMSCs only accept this.
    Sar,
}

/// One `submit_sm`'s worth of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 0 for GSM-7, 8 for UCS-2.
    pub data_coding: u8,
    /// Whether `short_message` starts with a UDH (`esm_class` bit 0x40).
    pub esm_class_udhi: bool,
    /// The UDH if any, then the text: GSM-7 one septet per octet, or UTF-16BE.
    pub short_message: Vec<u8>,
    /// For [`Concatenation::Sar`] in a multi-part message: (reference, total, sequence),
    /// sequence counting from 1.
    pub sar: Option<(u16, u8, u8)>,
}

/// Splits `text` into parts. `reference` ties the parts of one message together: the
/// caller's counter, sent whole in the SAR TLV and as its low byte in the 8-bit UDH.
///
/// An empty text gives one empty part. A text longer than [`MAX_PARTS`] parts is cut
/// after the last one: no handset could join more, and a caller that cares should bound
/// the text before it gets here (an OTP message is far below this).
pub fn split(text: &str, concat: Concatenation, reference: u16) -> Vec<Part> {
    match gsm7::encode(text) {
        Some(septets) => build(
            Coding::Gsm7,
            &septets,
            |s| s == gsm7::ESC,
            <[u8]>::to_vec,
            concat,
            reference,
        ),
        None => {
            let units: Vec<u16> = text.encode_utf16().collect();
            build(
                Coding::Ucs2,
                &units,
                |u| (0xD800..=0xDBFF).contains(&u),
                |units| units.iter().flat_map(|u| u.to_be_bytes()).collect(),
                concat,
                reference,
            )
        }
    }
}

/// Shared by both codings: `units` are septets or UTF-16 code units, `pair_start` tells
/// whether a unit must not end a part, `to_bytes` writes units as `short_message` octets.
fn build<T: Copy>(
    coding: Coding,
    units: &[T],
    pair_start: fn(T) -> bool,
    to_bytes: fn(&[T]) -> Vec<u8>,
    concat: Concatenation,
    reference: u16,
) -> Vec<Part> {
    let (single, per_part) = match coding {
        Coding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
        Coding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
    };
    let data_coding = coding.data_coding();
    if units.len() <= single {
        return vec![Part {
            data_coding,
            esm_class_udhi: false,
            short_message: to_bytes(units),
            sar: None,
        }];
    }
    let chunks = chunks(units, per_part, pair_start);
    // `chunks` stops at MAX_PARTS, so this never saturates.
    let total = u8::try_from(chunks.len()).unwrap_or(u8::MAX);
    let [_, reference_low] = reference.to_be_bytes();
    chunks
        .into_iter()
        .zip(1..=u8::MAX)
        .map(|(chunk, seq)| match concat {
            Concatenation::Udh => {
                let mut short_message = UDH_PREFIX.to_vec();
                short_message.extend_from_slice(&[reference_low, total, seq]);
                short_message.extend_from_slice(&to_bytes(chunk));
                Part {
                    data_coding,
                    esm_class_udhi: true,
                    short_message,
                    sar: None,
                }
            }
            Concatenation::Sar => Part {
                data_coding,
                esm_class_udhi: false,
                short_message: to_bytes(chunk),
                sar: Some((reference, total, seq)),
            },
        })
        .collect()
}

/// Cuts `units` into runs of at most `per_part`, at most [`MAX_PARTS`] of them, moving a
/// pair's first half to the next run rather than separating it from its second half.
fn chunks<T: Copy>(units: &[T], per_part: usize, pair_start: fn(T) -> bool) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = units;
    while !rest.is_empty() && out.len() < MAX_PARTS {
        let mut take = per_part.min(rest.len());
        // `take > 1` keeps every run at least one unit long, so the loop always advances.
        let cuts_a_pair =
            take < rest.len() && take > 1 && rest.get(take - 1).copied().is_some_and(pair_start);
        if cuts_a_pair {
            take -= 1;
        }
        let Some((head, tail)) = rest.split_at_checked(take) else {
            break;
        };
        out.push(head);
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Joins the parts back into text, checking the headers on the way.
    fn reassemble(parts: &[Part]) -> String {
        let coding = parts[0].data_coding;
        let mut payload = Vec::new();
        for p in parts {
            assert_eq!(p.data_coding, coding);
            let body = if p.esm_class_udhi {
                assert_eq!(&p.short_message[..3], &UDH_PREFIX);
                &p.short_message[6..]
            } else {
                &p.short_message[..]
            };
            payload.extend_from_slice(body);
        }
        match coding {
            0 => gsm7::decode(&payload),
            8 => {
                let units: Vec<u16> = payload
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).unwrap()
            }
            other => panic!("unexpected data_coding {other}"),
        }
    }

    #[test]
    fn empty_text_is_one_empty_gsm7_part() {
        let parts = split("", Concatenation::Udh, 7);
        assert_eq!(
            parts,
            vec![Part {
                data_coding: 0,
                esm_class_udhi: false,
                short_message: vec![],
                sar: None
            }]
        );
    }

    #[test]
    fn gsm7_fits_160_and_splits_at_161() {
        let parts = split(&"a".repeat(160), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].short_message, vec![0x61; 160]);
        assert!(!parts[0].esm_class_udhi);

        let parts = split(&"a".repeat(161), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message.len(), 6 + 153);
        assert_eq!(parts[1].short_message.len(), 6 + 8);
        assert_eq!(reassemble(&parts), "a".repeat(161));
    }

    #[test]
    fn ucs2_fits_70_and_splits_at_71() {
        let parts = split(&"ж".repeat(70), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].data_coding, 8);
        assert_eq!(parts[0].short_message.len(), 140);
        assert_eq!(&parts[0].short_message[..2], &[0x04, 0x36]);

        let parts = split(&"ж".repeat(71), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message.len(), 6 + 134);
        assert_eq!(parts[1].short_message.len(), 6 + 8);
        assert_eq!(reassemble(&parts), "ж".repeat(71));
    }

    #[test]
    fn one_non_gsm_character_makes_the_whole_text_ucs2() {
        let parts = split("Code 1234 ç", Concatenation::Udh, 1);
        assert_eq!(parts[0].data_coding, 8);
        assert_eq!(parts[0].short_message.len(), 22);
    }

    #[test]
    fn euro_counts_two_septets() {
        // 158 + 2 = 160 fits; 159 + 2 = 161 does not.
        let parts = split(&format!("{}€", "a".repeat(158)), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].short_message.len(), 160);
        assert_eq!(&parts[0].short_message[158..], &[0x1B, 0x65]);
        assert_eq!(
            split(&format!("{}€", "a".repeat(159)), Concatenation::Udh, 1).len(),
            2
        );
    }

    #[test]
    fn euro_is_never_split_across_parts() {
        // The ESC would be septet 153 of the first part: it moves to the second.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let parts = split(&text, Concatenation::Udh, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message.len(), 6 + 152);
        assert_eq!(&parts[1].short_message[6..8], &[0x1B, 0x65]);
        assert_eq!(reassemble(&parts), text);

        // One septet earlier the pair ends the part exactly and stays there.
        let text = format!("{}€{}", "a".repeat(151), "b".repeat(20));
        let parts = split(&text, Concatenation::Udh, 1);
        assert_eq!(&parts[0].short_message[6 + 151..], &[0x1B, 0x65]);
        assert_eq!(reassemble(&parts), text);
    }

    #[test]
    fn only_euros_split_cleanly() {
        let text = "€".repeat(300);
        for concat in [Concatenation::Udh, Concatenation::Sar] {
            let parts = split(&text, concat, 9);
            for p in &parts {
                let body_len = p.short_message.len() - if p.esm_class_udhi { 6 } else { 0 };
                assert_eq!(body_len % 2, 0);
                assert!(body_len <= 153);
            }
            assert_eq!(reassemble(&parts), text);
        }
    }

    #[test]
    fn emoji_is_never_split_across_parts() {
        // The high surrogate would be unit 67 of the first part: the pair moves on.
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let parts = split(&text, Concatenation::Udh, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].short_message.len(), 6 + 132);
        assert_eq!(&parts[1].short_message[6..10], &[0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(reassemble(&parts), text);

        // 68 + 2 code units still fit one message.
        let parts = split(&format!("{}😀", "ж".repeat(68)), Concatenation::Udh, 1);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].short_message.len(), 140);
    }

    #[test]
    fn udh_bytes_are_exact() {
        let parts = split(&"a".repeat(400), Concatenation::Udh, 0x1234);
        assert_eq!(parts.len(), 3);
        for (i, p) in parts.iter().enumerate() {
            assert!(p.esm_class_udhi);
            assert_eq!(p.sar, None);
            let seq = u8::try_from(i + 1).unwrap();
            assert_eq!(&p.short_message[..6], &[0x05, 0x00, 0x03, 0x34, 0x03, seq]);
        }
        assert_eq!(parts[2].short_message.len(), 6 + 400 - 2 * 153);
    }

    #[test]
    fn sar_carries_the_reference_in_tlvs_and_no_udh() {
        let parts = split(&"a".repeat(200), Concatenation::Sar, 0xBEEF);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].sar, Some((0xBEEF, 2, 1)));
        assert_eq!(parts[1].sar, Some((0xBEEF, 2, 2)));
        assert!(parts.iter().all(|p| !p.esm_class_udhi));
        assert_eq!(parts[0].short_message, vec![0x61; 153]);
        assert_eq!(parts[1].short_message, vec![0x61; 47]);

        let parts = split(&"ж".repeat(100), Concatenation::Sar, 3);
        assert_eq!(parts[0].short_message.len(), 134);
        assert_eq!(parts[1].sar, Some((3, 2, 2)));
    }

    #[test]
    fn single_messages_have_no_sar() {
        assert_eq!(split("hello", Concatenation::Sar, 5)[0].sar, None);
    }

    #[test]
    fn at_most_255_parts() {
        let exact = "a".repeat(255 * 153);
        let parts = split(&exact, Concatenation::Udh, 1);
        assert_eq!(parts.len(), 255);
        assert_eq!(parts[254].short_message[4..6], [255, 255]);
        assert_eq!(reassemble(&parts), exact);

        let parts = split(&"a".repeat(255 * 153 + 1000), Concatenation::Sar, 1);
        assert_eq!(parts.len(), MAX_PARTS);
        assert_eq!(parts[254].sar, Some((1, 255, 255)));
    }

    #[test]
    fn reassembly_round_trips_mixed_texts() {
        let samples = [
            "Your code is 123456",
            "Код: 123456 😀🎉",
            "{[~]}|^\\€",
            "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
        ];
        for sample in samples {
            for n in [1, 30, 90] {
                let text = sample.repeat(n);
                for concat in [Concatenation::Udh, Concatenation::Sar] {
                    assert_eq!(reassemble(&split(&text, concat, 42)), text);
                }
            }
        }
    }
}
