//! SMS transfer-layer PDUs (3GPP TS 23.040, formerly GSM 03.40) for a modem in PDU mode.
//!
//! Pure byte work: [`encode_submit`] turns one message into the hex strings `AT+CMGS`
//! takes, [`decode_status_report`] and [`decode_deliver`] read what `+CDS` / `+CMGR` /
//! `+CMT` hand back; [`decode_submit`] and [`encode_status_report`] are the modem's side. No I/O and no clock; decoders never panic and say what was wrong
//! and at which octet.
//!
//! Layout:
//!
//! - `address.rs`: address fields (semi-octet digits, alphanumeric) and timestamps;
//! - `submit.rs`: SMS-SUBMIT, alphabet choice, concatenation, validity period;
//! - `report.rs`: SMS-STATUS-REPORT and the TP-ST classes;
//! - `deliver.rs`: SMS-DELIVER and the data coding scheme;
//! - `submit_decode.rs`, `report_encode.rs`: the other direction of both, for the modem
//!   simulator (it reads what a DTE submits and writes the reports an SMSC sends);
//! - `user_data.rs`: TP-UD with its header (concatenation) and text.
//!
//! Offsets in [`PduError`] count octets from the start of the hex string given to the
//! decoder, so they include the SMSC part when there is one, except
//! [`PduError::NotHex`], which counts characters.

mod address;
mod deliver;
mod report;
mod report_encode;
mod submit;
mod submit_decode;
mod user_data;

pub(crate) use address::civil_from_days;
pub use deliver::{Deliver, decode_deliver};
pub use report::{ReportOutcome, StatusReport, decode_status_report, outcome};
pub use report_encode::{NewStatusReport, encode_status_report};
pub use submit::{EncodedPdu, Submit, encode_submit, try_encode_submit};
pub use submit_decode::{DecodedSubmit, decode_submit};
pub use user_data::Concat;

use std::fmt;

/// What was wrong with a PDU, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PduError {
    /// The hex string has an odd number of digits.
    OddLength { len: usize },
    /// The character at `offset` (in characters of the trimmed input) is not a hex digit.
    NotHex { offset: usize },
    /// The PDU ends inside `field`, which starts at octet `offset`.
    Truncated { field: &'static str, offset: usize },
    /// TP-MTI names another message type than the decoder reads.
    WrongType { expected: &'static str, mti: u8 },
    /// `field` at octet `offset` holds `value`, which it may not.
    Invalid {
        field: &'static str,
        offset: usize,
        value: u8,
    },
    /// `extra` octets follow the user data, starting at octet `offset`.
    TrailingData { offset: usize, extra: usize },
    /// The data coding scheme at octet `offset` is compressed or reserved.
    UnsupportedCoding { dcs: u8, offset: usize },
    /// Encoding: the destination is empty, longer than 20 digits or not dialable digits.
    BadDestination,
    /// Encoding: the text needs more than 255 concatenated parts.
    TooLong { parts: usize },
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OddLength { len } => write!(f, "odd number of hex digits ({len})"),
            Self::NotHex { offset } => write!(f, "not a hex digit at character {offset}"),
            Self::Truncated { field, offset } => {
                write!(f, "PDU ends inside {field} (starting at octet {offset})")
            }
            Self::WrongType { expected, mti } => {
                write!(f, "expected {expected}, TP-MTI is {mti}")
            }
            Self::Invalid {
                field,
                offset,
                value,
            } => write!(f, "invalid {field} {value:#04x} at octet {offset}"),
            Self::TrailingData { offset, extra } => {
                write!(f, "{extra} octets after the user data at octet {offset}")
            }
            Self::UnsupportedCoding { dcs, offset } => {
                write!(f, "unsupported TP-DCS {dcs:#04x} at octet {offset}")
            }
            Self::BadDestination => f.write_str("destination is not a dialable number"),
            Self::TooLong { parts } => write!(f, "text needs {parts} parts, at most 255"),
        }
    }
}

impl std::error::Error for PduError {}

/// A cursor over PDU octets that turns running out into [`PduError::Truncated`].
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn octet(&mut self, field: &'static str) -> Result<u8, PduError> {
        let octet = self
            .bytes
            .get(self.pos)
            .copied()
            .ok_or(PduError::Truncated {
                field,
                offset: self.pos,
            })?;
        self.pos += 1;
        Ok(octet)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        let truncated = PduError::Truncated {
            field,
            offset: self.pos,
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let out = self.bytes.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Skips the SMSC address that `AT+CMGR` and `+CMT` put before the TPDU. Its type of
    /// address always has bit 7 set; checking that catches a caller that got `with_smsc`
    /// wrong before the TPDU is misread.
    pub(crate) fn skip_smsc(&mut self) -> Result<(), PduError> {
        let start = self.pos;
        let len = self.octet("SMSC length")?;
        if len == 0 {
            return Ok(());
        }
        if len > 11 {
            return Err(PduError::Invalid {
                field: "SMSC length",
                offset: start,
                value: len,
            });
        }
        let smsc = self.take(usize::from(len), "SMSC address")?;
        match smsc.first() {
            Some(&toa) if toa & 0x80 == 0 => Err(PduError::Invalid {
                field: "SMSC type of address",
                offset: start + 1,
                value: toa,
            }),
            _ => Ok(()),
        }
    }

    /// Reads the start of a TPDU: the SMSC address if `with_smsc`, then the first octet,
    /// whose message type must be `mti` (`name` says which, for the error). Returns the
    /// first octet for its other flags.
    pub(crate) fn tpdu_start(
        &mut self,
        with_smsc: bool,
        mti: u8,
        name: &'static str,
    ) -> Result<u8, PduError> {
        if with_smsc {
            self.skip_smsc()?;
        }
        let first = self.octet("TP-MTI")?;
        if first & 0x03 != mti {
            return Err(PduError::WrongType {
                expected: name,
                mti: first & 0x03,
            });
        }
        Ok(first)
    }
}

/// Parses a hex string (either case, surrounding whitespace ignored) into octets.
pub(crate) fn from_hex(hex: &str) -> Result<Vec<u8>, PduError> {
    let hex = hex.trim().as_bytes();
    if let Some(offset) = hex.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(PduError::NotHex { offset });
    }
    if !hex.len().is_multiple_of(2) {
        return Err(PduError::OddLength { len: hex.len() });
    }
    Ok(hex
        .chunks_exact(2)
        .map(|pair| pair.iter().fold(0u8, |acc, &d| (acc << 4) | nibble(d)))
        .collect())
}

fn nibble(digit: u8) -> u8 {
    // Only called on ASCII hex digits, so the fallback never happens.
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
        .unwrap_or(0)
}

/// Formats octets as uppercase hex, as modems echo them.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex(" 00aFff\r\n").unwrap(), vec![0x00, 0xAF, 0xFF]);
        assert_eq!(to_hex(&[0x00, 0xAF, 0xFF]), "00AFFF");
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn hex_errors() {
        assert_eq!(from_hex("001"), Err(PduError::OddLength { len: 3 }));
        assert_eq!(from_hex("00zz"), Err(PduError::NotHex { offset: 2 }));
        assert_eq!(from_hex("0é"), Err(PduError::NotHex { offset: 1 }));
    }

    #[test]
    fn reader_reports_truncation_where_it_happens() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.octet("a"), Ok(1));
        assert_eq!(
            r.take(5, "b"),
            Err(PduError::Truncated {
                field: "b",
                offset: 1
            })
        );
        assert_eq!(r.take(2, "c"), Ok(&[2u8, 3][..]));
        assert_eq!(r.remaining(), 0);
        assert!(r.take(usize::MAX, "d").is_err());
    }

    #[test]
    fn errors_display() {
        let e = PduError::Invalid {
            field: "TP-OA length",
            offset: 9,
            value: 0x81,
        };
        assert_eq!(e.to_string(), "invalid TP-OA length 0x81 at octet 9");
    }
}
