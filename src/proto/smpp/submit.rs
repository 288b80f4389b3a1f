//! What the caller hands the session to send one short message, and the SMPP relative time
//! format for its validity period.
//!
//! The fields are plain numbers and strings, not rusmpp types, so that the dispatcher and the
//! text encoder do not depend on rusmpp; [`super::pdu::submit_sm`] turns them into a PDU and
//! checks their lengths there.

use std::time::Duration;

/// An SMPP address: type of number, numbering plan indicator and the digits (or alphanumeric
/// sender id). At most 20 octets (21 with the NUL in SMPP 3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

/// Optional parameters we send on submit_sm. Only the SAR trio, which long texts need when they
/// are split without a UDH (the sar_* TLVs of SMPP 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionalTlv {
    /// Reference shared by every segment of one long message (tag 0x020C).
    SarMsgRefNum(u16),
    /// How many segments the message has (tag 0x020E).
    SarTotalSegments(u8),
    /// This segment's number, from 1 (tag 0x020F).
    SarSegmentSeqnum(u8),
}

/// One submit_sm to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// The caller's handle for this message, given back in the outcome event.
    pub tag: u64,
    pub source: Address,
    pub destination: Address,
    /// 0x01 asks for a delivery receipt on success or failure (registered_delivery, SMPP 3.4).
    pub registered_delivery: u8,
    /// Empty for the SMSC's default, or 16 characters such as [`relative_validity`] makes.
    pub validity_period: String,
    pub data_coding: u8,
    /// 0 unless the text carries a UDH (then 0x40, UDHI).
    pub esm_class: u8,
    /// Up to 254 octets, already encoded (GSM 7-bit, UCS-2...) and with any UDH in front.
    pub short_message: Vec<u8>,
    pub tlvs: Vec<OptionalTlv>,
}

/// Formats `validity` as an SMPP relative time, `YYMMDDhhmmsst00R` (SMPP 3.4 relative time format):
/// 15 minutes is `000000001500000R`.
///
/// The format counts years, months and days separately but a relative period has no calendar,
/// so a year is taken as 365 days and a month as 30 (the usual SMSC reading). Periods past
/// 99 years saturate rather than wrap.
pub fn relative_validity(validity: Duration) -> String {
    const MAX: &str = "991130235959900R";
    let total = validity.as_secs();
    let days_total = total / 86_400;
    let years = days_total / 365;
    if years > 99 {
        return MAX.to_string();
    }
    let months = (days_total % 365) / 30;
    let days = (days_total % 365) % 30;
    let hours = (total / 3600) % 24;
    let minutes = (total / 60) % 60;
    let seconds = total % 60;
    let tenths = validity.subsec_millis() / 100;
    format!("{years:02}{months:02}{days:02}{hours:02}{minutes:02}{seconds:02}{tenths}00R")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_validity_table() {
        let cases = [
            (Duration::ZERO, "000000000000000R"),
            (Duration::from_secs(15 * 60), "000000001500000R"),
            (Duration::from_millis(1_250), "000000000001200R"),
            (
                Duration::from_secs(3 * 3600 + 25 * 60 + 7),
                "000000032507000R",
            ),
            (Duration::from_secs(2 * 86_400 + 3600), "000002010000000R"),
            (Duration::from_secs(45 * 86_400), "000115000000000R"),
            (Duration::from_secs((365 + 31) * 86_400), "010101000000000R"),
            (Duration::from_secs(100 * 365 * 86_400), "991130235959900R"),
        ];
        for (validity, want) in cases {
            let got = relative_validity(validity);
            assert_eq!(got, want, "{validity:?}");
            assert_eq!(got.len(), 16, "SMPP times are always 16 characters");
        }
    }
}
