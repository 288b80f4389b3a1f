//! TP-UDL and TP-UD (TS 23.040 §9.2.3.16, §9.2.3.24): the user data of a SUBMIT or a
//! DELIVER, its header and its text.
//!
//! Of the header's information elements only concatenation (IEI 0x00 with an 8-bit
//! reference, 0x08 with a 16-bit one) is interpreted; the others are skipped. An element
//! whose values the spec calls invalid (a total or sequence number of 0, a sequence
//! number above the total) is ignored, as §9.2.3.24.1 tells a receiver to do.
//!
//! 8-bit data is returned as Latin-1: each octet becomes the character U+0000–U+00FF of
//! the same value. That keeps every octet (a caller can map the characters back) and shows
//! ASCII payloads as they are; a handset would not display binary data anyway.

use super::deliver::{Alphabet, alphabet};
use super::{PduError, Reader};
use crate::proto::gsm7;

const IEI_CONCAT_8: u8 = 0x00;
const IEI_CONCAT_16: u8 = 0x08;

/// One part of a concatenated message (TS 23.040 §9.2.3.24.1 and .8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concat {
    /// The reference all parts share; an 8-bit reference is widened.
    pub reference: u16,
    /// How many parts the message has.
    pub total: u8,
    /// This part's number, from 1.
    pub seq: u8,
}

/// The user data as text, with its concatenation element when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserData {
    pub text: String,
    pub concat: Option<Concat>,
}

/// Reads TP-UDL and TP-UD, which must end the PDU. `udhi` is the first octet's TP-UDHI;
/// `dcs` and `dcs_at` are TP-DCS and its offset, for the error when it is unsupported.
pub(super) fn read_user_data(
    r: &mut Reader,
    udhi: bool,
    dcs: u8,
    dcs_at: usize,
) -> Result<UserData, PduError> {
    let udl_at = r.pos();
    let udl = r.octet("TP-UDL")?;
    let alphabet = alphabet(dcs).ok_or(PduError::UnsupportedCoding {
        dcs,
        offset: dcs_at,
    })?;
    let bad_udl = PduError::Invalid {
        field: "TP-UDL",
        offset: udl_at,
        value: udl,
    };
    let (max, octets) = match alphabet {
        Alphabet::Gsm7 => (160, (usize::from(udl) * 7).div_ceil(8)),
        Alphabet::Eight | Alphabet::Ucs2 => (140, usize::from(udl)),
    };
    if usize::from(udl) > max {
        return Err(bad_udl);
    }
    let ud_at = r.pos();
    let ud = r.take(octets, "TP-UD")?;
    if r.remaining() > 0 {
        return Err(PduError::TrailingData {
            offset: r.pos(),
            extra: r.remaining(),
        });
    }
    // The header with its length octet, when TP-UDHI says there is one.
    let (header_len, concat) = if udhi {
        let udhl = ud.first().copied().ok_or(PduError::Truncated {
            field: "TP-UDHL",
            offset: ud_at,
        })?;
        let elements = ud.get(1..=usize::from(udhl)).ok_or(PduError::Invalid {
            field: "TP-UDHL",
            offset: ud_at,
            value: udhl,
        })?;
        (usize::from(udhl) + 1, concatenation(elements, ud_at + 1)?)
    } else {
        (0, None)
    };
    let body = ud.get(header_len..).unwrap_or_default();
    let text = match alphabet {
        Alphabet::Gsm7 => {
            // The header is padded with fill bits to a septet boundary, and TP-UDL counts
            // those septets too.
            let header_septets = (header_len * 8).div_ceil(7);
            let fill = u8::try_from(header_septets * 7 - header_len * 8).unwrap_or(0);
            let count = usize::from(udl)
                .checked_sub(header_septets)
                .ok_or(bad_udl)?;
            gsm7::decode(&gsm7::unpack(body, count, fill))
        }
        Alphabet::Ucs2 => char::decode_utf16(
            body.chunks_exact(2)
                .map(|pair| pair.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b))),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        Alphabet::Eight => body.iter().copied().map(char::from).collect(),
    };
    Ok(UserData { text, concat })
}

/// The concatenation element among the header's elements (the octets after TP-UDHL,
/// which starts at `offset - 1`). The last valid one wins, as a receiver may take any.
fn concatenation(mut elements: &[u8], mut offset: usize) -> Result<Option<Concat>, PduError> {
    let mut found = None;
    while let [iei, len, rest @ ..] = elements {
        let data = rest.get(..usize::from(*len)).ok_or(PduError::Invalid {
            field: "TP-UDH element length",
            offset: offset + 1,
            value: *len,
        })?;
        let concat = match (*iei, data) {
            (IEI_CONCAT_8, &[reference, total, seq]) => Some(Concat {
                reference: u16::from(reference),
                total,
                seq,
            }),
            (IEI_CONCAT_16, &[high, low, total, seq]) => Some(Concat {
                reference: u16::from_be_bytes([high, low]),
                total,
                seq,
            }),
            _ => None,
        };
        if let Some(c) = concat.filter(|c| c.total > 0 && c.seq > 0 && c.seq <= c.total) {
            found = Some(c);
        }
        elements = rest.get(usize::from(*len)..).unwrap_or_default();
        offset += 2 + usize::from(*len);
    }
    if let [_] = elements {
        // An element identifier without its length octet.
        return Err(PduError::Truncated {
            field: "TP-UDH element",
            offset,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concat(elements: &[u8]) -> Result<Option<Concat>, PduError> {
        concatenation(elements, 1)
    }

    #[test]
    fn concatenation_elements() {
        let c = |reference, total, seq| {
            Some(Concat {
                reference,
                total,
                seq,
            })
        };
        assert_eq!(concat(&[0x00, 3, 0x42, 2, 1]), Ok(c(0x42, 2, 1)));
        assert_eq!(concat(&[0x08, 4, 0x12, 0x34, 3, 3]), Ok(c(0x1234, 3, 3)));
        // Another element first (a port addressing IE), then concatenation.
        assert_eq!(
            concat(&[0x05, 4, 0x0B, 0x84, 0x23, 0xF0, 0x00, 3, 7, 2, 2]),
            Ok(c(7, 2, 2))
        );
        // Invalid values are ignored, not errors.
        assert_eq!(concat(&[0x00, 3, 1, 0, 0]), Ok(None));
        assert_eq!(concat(&[0x00, 3, 1, 2, 3]), Ok(None));
        assert_eq!(concat(&[0x00, 2, 1, 2]), Ok(None));
        assert_eq!(concat(&[]), Ok(None));
        assert_eq!(
            concat(&[0x00, 5, 1, 2]),
            Err(PduError::Invalid {
                field: "TP-UDH element length",
                offset: 2,
                value: 5
            })
        );
        assert_eq!(
            concat(&[0x00, 3, 1, 2, 1, 0x08]),
            Err(PduError::Truncated {
                field: "TP-UDH element",
                offset: 6
            })
        );
    }
}
