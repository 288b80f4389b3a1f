//! How the SMS PDU targets read their input: the first byte's low bit says whether an SMSC
//! address leads; bit 1 whether the rest is given to the decoder as it is (the hex layer) or
//! as hex of its octets (the PDU fields, where the depth is). Included by each of them with
//! `#[path]`; not a target itself.

/// The PDU text for the decoder and whether an SMSC address leads; `None` for empty input.
pub fn pdu_text(data: &[u8]) -> Option<(String, bool)> {
    let (&flags, pdu) = data.split_first()?;
    let text = if flags & 2 != 0 {
        String::from_utf8_lossy(pdu).into_owned()
    } else {
        pdu.iter().map(|b| format!("{b:02X}")).collect()
    };
    Some((text, flags & 1 != 0))
}
