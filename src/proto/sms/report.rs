//! SMS-STATUS-REPORT (TS 23.040 §9.2.2.3): what became of a message sent with TP-SRR.
//!
//! Only the mandatory fields are read. The optional TP-PI and what it announces
//! (TP-PID, TP-DCS, TP-UD) are ignored, so octets after TP-ST are not an error.

use super::address::{decode_address, decode_timestamp};
use super::{PduError, Reader, from_hex};

const MTI_STATUS_REPORT: u8 = 0x02;

/// A decoded status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// TP-MR of the SMS-SUBMIT this reports on.
    pub reference: u8,
    /// TP-RA, `+` prefixed when international.
    pub recipient: String,
    /// TP-SCTS as `"YY-MM-DD hh:mm:ss ±hh:mm"`.
    pub service_centre_time: String,
    /// TP-DT, same form: when delivered, or when the status below was reached.
    pub discharge_time: String,
    /// TP-ST; see [`outcome`].
    pub status: u8,
}

/// TP-ST classes (TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// 0x00–0x1F: delivered, or otherwise completed.
    Delivered,
    /// 0x20–0x3F: temporary error, the SMSC is still trying.
    Pending,
    /// 0x40–0x7F: permanent error, or temporary error with no further attempts. Reserved
    /// values above 0x7F land here too: the SMSC has said nothing we can wait on.
    Failed,
}

/// The class of a TP-ST value.
pub fn outcome(status: u8) -> ReportOutcome {
    match status {
        0x00..=0x1F => ReportOutcome::Delivered,
        0x20..=0x3F => ReportOutcome::Pending,
        _ => ReportOutcome::Failed,
    }
}

/// Decodes a status report from hex. `with_smsc` says whether an SMSC address leads, as
/// TS 27.005 has it for the PDUs of `+CDS` and `+CMGR`.
pub fn decode_status_report(hex: &str, with_smsc: bool) -> Result<StatusReport, PduError> {
    let bytes = from_hex(hex)?;
    let mut r = Reader::new(&bytes);
    r.tpdu_start(with_smsc, MTI_STATUS_REPORT, "SMS-STATUS-REPORT")?;
    let reference = r.octet("TP-MR")?;
    let recipient = decode_address(&mut r, "TP-RA")?;
    let service_centre_time = decode_timestamp(&mut r, "TP-SCTS")?;
    let discharge_time = decode_timestamp(&mut r, "TP-DT")?;
    let status = r.octet("TP-ST")?;
    Ok(StatusReport {
        reference,
        recipient,
        service_centre_time,
        discharge_time,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::sms::to_hex;

    const SMSC: &str = "07917283010010F5";
    /// Built from §9.2.2.3: first octet 06 (SR, TP-SRQ 0, MMS), TP-MR 0x2A, TP-RA
    /// +46708251358, TP-SCTS 26-11-22 05:05:41 +04:00, TP-DT one hour later, TP-ST 0.
    const TPDU: &str = "062A0B916407281553F8621122505014616211226050146100";

    fn expected(status: u8) -> StatusReport {
        StatusReport {
            reference: 0x2A,
            recipient: "+46708251358".into(),
            service_centre_time: "26-11-22 05:05:41 +04:00".into(),
            discharge_time: "26-11-22 06:05:41 +04:00".into(),
            status,
        }
    }

    #[test]
    fn decodes_with_and_without_smsc() {
        let full = format!("{SMSC}{TPDU}");
        assert_eq!(decode_status_report(&full, true).unwrap(), expected(0));
        assert_eq!(decode_status_report(TPDU, false).unwrap(), expected(0));
        // An empty SMSC part ("00") is allowed.
        assert_eq!(
            decode_status_report(&format!("00{TPDU}"), true).unwrap(),
            expected(0)
        );
    }

    #[test]
    fn wrong_smsc_flag_is_an_error() {
        // SMSC length octet 07 read as a first octet: TP-MTI 3.
        assert_eq!(
            decode_status_report(&format!("{SMSC}{TPDU}"), false),
            Err(PduError::WrongType {
                expected: "SMS-STATUS-REPORT",
                mti: 3
            })
        );
        // First octet 06 read as an SMSC length: its "type of address" 0x2A lacks bit 7.
        assert_eq!(
            decode_status_report(TPDU, true),
            Err(PduError::Invalid {
                field: "SMSC type of address",
                offset: 1,
                value: 0x2A
            })
        );
    }

    #[test]
    fn trailing_optional_fields_are_ignored() {
        let with_pi = format!("{TPDU}00");
        assert_eq!(decode_status_report(&with_pi, false).unwrap(), expected(0));
    }

    #[test]
    fn status_classes() {
        assert_eq!(outcome(0x00), ReportOutcome::Delivered);
        assert_eq!(outcome(0x1F), ReportOutcome::Delivered);
        assert_eq!(outcome(0x20), ReportOutcome::Pending);
        assert_eq!(outcome(0x3F), ReportOutcome::Pending);
        assert_eq!(outcome(0x40), ReportOutcome::Failed);
        assert_eq!(outcome(0x65), ReportOutcome::Failed);
        assert_eq!(outcome(0xFF), ReportOutcome::Failed);
        let failed = format!("{}{}", &TPDU[..TPDU.len() - 2], "45");
        let sr = decode_status_report(&failed, false).unwrap();
        assert_eq!(sr, expected(0x45));
        assert_eq!(outcome(sr.status), ReportOutcome::Failed);
    }

    #[test]
    fn every_truncation_is_an_error_naming_the_field() {
        let full = format!("{SMSC}{TPDU}");
        for cut in (0..full.len()).step_by(2) {
            let err = decode_status_report(&full[..cut], true).unwrap_err();
            assert!(matches!(err, PduError::Truncated { .. }), "{cut}: {err:?}");
        }
        assert_eq!(
            decode_status_report(&full[..full.len() - 2], true),
            Err(PduError::Truncated {
                field: "TP-ST",
                offset: 32
            })
        );
    }

    #[test]
    fn garbage_and_bad_hex() {
        assert_eq!(
            decode_status_report("0", false),
            Err(PduError::OddLength { len: 1 })
        );
        assert_eq!(
            decode_status_report(&format!("{TPDU}0"), false),
            Err(PduError::OddLength { len: 51 })
        );
        assert_eq!(
            decode_status_report("06GG", false),
            Err(PduError::NotHex { offset: 2 })
        );
        assert!(decode_status_report("0000", false).is_err());
        // The given "style" vector has TP-RA length 0x81 (129 digits): invalid.
        assert!(
            decode_status_report(
                "07917283010010F5060B8172830100010F0F61702060600061702060605000",
                true
            )
            .is_err()
        );
    }

    #[test]
    fn never_panics_on_arbitrary_octets() {
        // A cheap deterministic fuzz: xorshift bytes of every length up to 64.
        let mut x: u32 = 0x2545_F491;
        for len in 0..64 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x & 0xFF) as u8
                    })
                    .collect();
                let hex = to_hex(&bytes);
                let _ = decode_status_report(&hex, true);
                let _ = decode_status_report(&hex, false);
                let _ = crate::proto::sms::decode_deliver(&hex, true);
                let _ = crate::proto::sms::decode_deliver(&hex, false);
            }
        }
    }
}
