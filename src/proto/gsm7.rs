//! The GSM 7-bit default alphabet (3GPP TS 23.038, formerly GSM 03.38) and septet packing
//! (3GPP TS 23.040, formerly GSM 03.40).
//!
//! Two representations of the same text live here:
//!
//! - **unpacked**: one septet value per octet, extension characters as `0x1B` then their code.
//!   This is what SMPP carries in `short_message` with `data_coding` 0, and what
//!   [`encode`] / [`decode`] speak.
//! - **packed**: septets laid end to end, least significant bit first, as a modem's PDU
//!   mode and the air interface carry them. [`pack`] / [`unpack`] convert, with the fill
//!   bits that put the first septet on a septet boundary after a user data header.
//!
//! Only the default table and its default extension table are supported: national
//! language shift tables need a UDH of their own and no SMSC we target requires them.

/// The escape to the extension table. In the default table this position has no character.
pub const ESC: u8 = 0x1B;

/// The default alphabet, indexed by septet. Position `ESC` holds a placeholder that is never
/// looked up: [`decode`] handles the escape before the table and [`encode`] skips it, so a
/// U+001B in the input cannot be mistaken for an escape.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The default extension table: the code that follows `ESC`, and its character.
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// One character's septets: one from the default table, or `ESC` and an extension code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Septets {
    One(u8),
    Two(u8),
}

impl Septets {
    fn len(self) -> usize {
        match self {
            Septets::One(_) => 1,
            Septets::Two(_) => 2,
        }
    }
}

fn septets_of(c: char) -> Option<Septets> {
    // 0x1B is skipped so that U+001B, which is not a character of the alphabet, is refused.
    if let Some(code) = BASIC
        .iter()
        .zip(0u8..)
        .find_map(|(&b, code)| (b == c && code != ESC).then_some(code))
    {
        return Some(Septets::One(code));
    }
    EXTENSION
        .iter()
        .find_map(|&(code, e)| (e == c).then_some(Septets::Two(code)))
}

fn basic_char(septet: u8) -> Option<char> {
    if septet == ESC {
        return None;
    }
    BASIC.get(usize::from(septet)).copied()
}

fn extension_char(code: u8) -> Option<char> {
    EXTENSION
        .iter()
        .find_map(|&(c, ch)| (c == code).then_some(ch))
}

/// Encodes `text` as unpacked septets, or `None` if a character is not in the default
/// alphabet or its extension table (the caller then falls back to UCS-2).
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match septets_of(c)? {
            Septets::One(code) => out.push(code),
            Septets::Two(code) => out.extend_from_slice(&[ESC, code]),
        }
    }
    Some(out)
}

/// How many septets `text` takes in GSM-7 (extension characters count two), or `None` if
/// it cannot be written in GSM-7.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars()
        .try_fold(0usize, |n, c| n.checked_add(septets_of(c)?.len()))
}

/// Decodes unpacked septets. Never fails, because what arrives from a network is whatever
/// the far end sent:
///
/// - a value above 0x7F (not a septet) becomes `'?'`;
/// - `ESC` followed by a code the extension table lacks shows the default-table character
///   for that code, as TS 23.038 §6.2.1.1 tells a receiver to do;
/// - `ESC ESC` (reserved for a further extension table) shows a space, as TS 23.038 says;
/// - a lone `ESC` at the end is dropped: it is the first half of a character cut off.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut rest = septets.iter().copied();
    while let Some(septet) = rest.next() {
        let c = if septet == ESC {
            match rest.next() {
                None => break,
                Some(ESC) => ' ',
                Some(code) => extension_char(code)
                    .or_else(|| basic_char(code))
                    .unwrap_or('?'),
            }
        } else {
            basic_char(septet).unwrap_or('?')
        };
        out.push(c);
    }
    out
}

/// Packs septets (TS 23.040 §9.2.3.24), least significant bit first, after `fill_bits`
/// zero bits.
///
/// `fill_bits` is what a user data header leaves to the next septet boundary: with a
/// header of `n` octets including its length octet, `(7 - (8 * n) % 7) % 7`, so 1 for
/// the 6-octet concatenation header. Larger values are honoured as more leading zero
/// bits. Only the low 7 bits of each input value are used.
///
/// Trailing bits of the last octet are zero. TS 23.038's carriage-return padding is not
/// needed for SMS, because the user data length counts septets, not octets.
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let total_bits = usize::from(fill_bits).saturating_add(septets.len().saturating_mul(7));
    let mut out = Vec::with_capacity(total_bits.div_ceil(8));
    let mut fill = u32::from(fill_bits);
    while fill >= 8 {
        out.push(0);
        fill -= 8;
    }
    // `pending` holds fewer than 8 bits between iterations, so the shift below stays < 8.
    let mut acc: u32 = 0;
    let mut pending = fill;
    for &septet in septets {
        acc |= u32::from(septet & 0x7F) << pending;
        pending += 7;
        while pending >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            pending -= 8;
        }
    }
    if pending > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out
}

/// Unpacks up to `count` septets that start `fill_bits` bits into `octets`; the inverse of
/// [`pack`]. Returns fewer than `count` when the octets run out, so a `count` taken from
/// an untrusted length field cannot make it read past the data or allocate beyond it.
pub fn unpack(octets: &[u8], count: usize, fill_bits: u8) -> Vec<u8> {
    let available = octets.len().saturating_mul(8) / 7;
    let mut out = Vec::with_capacity(count.min(available));
    let mut skip = u32::from(fill_bits);
    // `pending` is below 7 when an octet is added, so it never exceeds 14 bits.
    let mut acc: u32 = 0;
    let mut pending: u32 = 0;
    for &octet in octets {
        if out.len() >= count {
            break;
        }
        acc |= u32::from(octet) << pending;
        pending += 8;
        let skipped = skip.min(pending);
        acc >>= skipped;
        pending -= skipped;
        skip -= skipped;
        while pending >= 7 && out.len() < count {
            out.push((acc & 0x7F) as u8);
            acc >>= 7;
            pending -= 7;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Vector from the dreamfabric / gsmworld "SMS PDU mode" tutorial.
    #[test]
    fn hellohello_packs_to_the_published_octets() {
        let septets = encode("hellohello").unwrap();
        assert_eq!(pack(&septets, 0), hex("E8329BFD4697D9EC37"));
        assert_eq!(
            decode(&unpack(&hex("E8329BFD4697D9EC37"), 10, 0)),
            "hellohello"
        );
    }

    // Device::Gsm (Perl) t/20pdu.t: 37 septets, user data length 0x25.
    #[test]
    fn quick_fox_packs_to_the_device_gsm_vector() {
        let text = "The quick fox jumps over the lazy dog";
        let ud = hex("54741914AFA7C76B90F98D07A9EB6DF81CF4B697E5203ABA0C6287F57910F97D06");
        assert_eq!(septet_len(text), Some(0x25));
        assert_eq!(pack(&encode(text).unwrap(), 0), ud);
        assert_eq!(decode(&unpack(&ud, 0x25, 0)), text);
    }

    // An SMS-SUBMIT with UDL 0x16 (22 septets) decoded bit by bit in a public walkthrough.
    #[test]
    fn decodes_a_published_submit_user_data() {
        let ud = hex("C8329BFD66B5F320B8BC4CA7E741F7B79C4D0E01");
        assert_eq!(decode(&unpack(&ud, 0x16, 0)), "Hello,my pretty world!");
        assert_eq!(pack(&encode("Hello,my pretty world!").unwrap(), 0), ud);
    }

    // A reply-address UDH of 11 octets (88 bits) needs 3 fill bits to reach septet 13;
    // the rest of that published UD is "Please reply".
    #[test]
    fn fill_bits_after_an_eleven_octet_udh() {
        let ud = hex("80B2CBE17919242FC3D979");
        assert_eq!(pack(&encode("Please reply").unwrap(), 3), ud);
        assert_eq!(decode(&unpack(&ud, 12, 3)), "Please reply");
        // The same message as the old handsets saw it: 13 '@' then the text.
        let whole = hex("000000000000000000000080B2CBE17919242FC3D979");
        assert_eq!(
            pack(&encode("@@@@@@@@@@@@@Please reply").unwrap(), 0),
            whole
        );
    }

    // After the 6-octet concatenation UDH, one fill bit: a published "hello world" part.
    #[test]
    fn one_fill_bit_after_the_concatenation_udh() {
        let ud = hex("D06536FB0DBABFE56C32");
        assert_eq!(pack(&encode("hello world").unwrap(), 1), ud);
        assert_eq!(decode(&unpack(&ud, 11, 1)), "hello world");
    }

    #[test]
    fn pack_and_unpack_round_trip_for_every_length_and_fill() {
        let septets: Vec<u8> = (0..=0x7F).rev().collect();
        for fill in 0..=9u8 {
            for n in 0..septets.len() {
                let packed = pack(&septets[..n], fill);
                assert_eq!(packed.len(), (usize::from(fill) + 7 * n).div_ceil(8));
                assert_eq!(unpack(&packed, n, fill), &septets[..n], "n={n} fill={fill}");
            }
        }
    }

    #[test]
    fn unpack_stops_where_the_data_ends() {
        assert_eq!(unpack(&hex("E8329BFD"), 100, 0), encode("hell").unwrap());
        assert_eq!(unpack(&[], usize::MAX, 6), Vec::<u8>::new());
        assert_eq!(unpack(&[0xFF], usize::MAX, 200), Vec::<u8>::new());
        assert_eq!(
            unpack(&hex("E8329BFD4697D9EC37"), 3, 0),
            encode("hel").unwrap()
        );
    }

    #[test]
    fn pack_uses_only_seven_bits() {
        assert_eq!(pack(&[0xFF], 0), vec![0x7F]);
    }

    #[test]
    fn every_basic_character_round_trips() {
        for (code, &c) in (0u8..).zip(BASIC.iter()) {
            if code == ESC {
                continue;
            }
            assert_eq!(encode(&c.to_string()), Some(vec![code]), "{c:?}");
            assert_eq!(decode(&[code]), c.to_string());
        }
        let all: String = BASIC.iter().filter(|&&c| c != '\u{1B}').collect();
        assert_eq!(decode(&encode(&all).unwrap()), all);
        assert_eq!(septet_len(&all), Some(127));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let text = "\u{0C}^{}\\[~]|€";
        let septets = encode(text).unwrap();
        assert_eq!(
            septets,
            [
                0x1B, 0x0A, 0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D,
                0x1B, 0x3E, 0x1B, 0x40, 0x1B, 0x65
            ]
        );
        assert_eq!(septet_len(text), Some(20));
        assert_eq!(decode(&septets), text);
    }

    #[test]
    fn characters_outside_the_alphabet_are_refused() {
        for text in ["ç", "`", "ж", "😀", "\u{1B}", "abc\u{A0}", "Ω\u{2126}"] {
            assert_eq!(encode(text), None, "{text:?}");
            assert_eq!(septet_len(text), None, "{text:?}");
        }
        assert_eq!(encode(""), Some(vec![]));
        assert_eq!(septet_len(""), Some(0));
    }

    #[test]
    fn decode_tolerates_what_a_network_may_send() {
        assert_eq!(decode(&[0x41, ESC]), "A");
        assert_eq!(decode(&[ESC, ESC, 0x41]), " A");
        // No extension character at 0x41: the default table's 'A' is shown instead.
        assert_eq!(decode(&[ESC, 0x41]), "A");
        assert_eq!(decode(&[0x80, 0x41, 0xFF]), "?A?");
        assert_eq!(decode(&[ESC, 0x80]), "?");
        assert_eq!(decode(&[]), "");
    }

    #[test]
    fn mixed_text_round_trips_through_packing() {
        let text = "Your code: 123456 {valid 5 min} €2 [ok] ~ÄÖÜ§¿\r\n";
        let septets = encode(text).unwrap();
        for fill in 0..=6 {
            let packed = pack(&septets, fill);
            assert_eq!(decode(&unpack(&packed, septets.len(), fill)), text);
        }
    }
}
