//! Writing an SMS-STATUS-REPORT (TS 23.040 §9.2.2.3), as an SMSC would send one back for a
//! message sent with TP-SRR and a modem shows it in `+CDS`. The modem simulator uses it.

use std::time::SystemTime;

use super::address::{encode_address, encode_smsc, encode_timestamp};
use super::{EncodedPdu, PduError, to_hex};

/// TP-MTI status report, TP-MMS (no more messages waiting); TP-SRQ 0: the report is about
/// an SMS-SUBMIT. No TP-PI: the optional fields are left out.
const FIRST_OCTET: u8 = 0x06;

/// What a status report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewStatusReport<'a> {
    /// The service centre the report comes from (`+` and digits); empty writes `00`.
    pub smsc: &'a str,
    /// TP-MR of the SMS-SUBMIT reported on.
    pub reference: u8,
    /// TP-RA: the submit's destination, `+` prefixed when international.
    pub recipient: &'a str,
    /// TP-SCTS: when the service centre took the message. Written in UTC.
    pub service_centre_time: SystemTime,
    /// TP-DT: when it was delivered (or reached `status`). Written in UTC.
    pub discharge_time: SystemTime,
    /// TP-ST: 0 delivered; see [`super::outcome`].
    pub status: u8,
}

/// Encodes the report with its SMSC part in front; `tpdu_len` is what `+CDS: <n>` gives.
/// [`PduError::BadDestination`] when the recipient or the SMSC is not a dialable number.
pub fn encode_status_report(report: &NewStatusReport) -> Result<EncodedPdu, PduError> {
    let smsc = encode_smsc(report.smsc).ok_or(PduError::BadDestination)?;
    let recipient = encode_address(report.recipient).ok_or(PduError::BadDestination)?;
    let mut tpdu = Vec::with_capacity(recipient.len() + 17);
    tpdu.extend([FIRST_OCTET, report.reference]);
    tpdu.extend(recipient);
    tpdu.extend(encode_timestamp(report.service_centre_time));
    tpdu.extend(encode_timestamp(report.discharge_time));
    tpdu.push(report.status);
    Ok(EncodedPdu {
        hex: format!("{}{}", to_hex(&smsc), to_hex(&tpdu)),
        tpdu_len: tpdu.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::proto::sms::{StatusReport, decode_status_report};

    #[test]
    fn round_trips_through_the_decoder() {
        let scts = UNIX_EPOCH + Duration::from_secs(1_795_323_941);
        let report = NewStatusReport {
            smsc: "+27381000015",
            reference: 0x2A,
            recipient: "+46708251358",
            service_centre_time: scts,
            discharge_time: scts + Duration::from_secs(3600),
            status: 0,
        };
        let pdu = encode_status_report(&report).unwrap();
        // The decoder's own test vector, with time zone +00:00 instead of +04:00.
        assert_eq!(
            pdu.hex,
            "07917283010010F5062A0B916407281553F8621122505014006211226050140000"
        );
        assert_eq!(pdu.tpdu_len, 25);
        assert_eq!(
            decode_status_report(&pdu.hex, true).unwrap(),
            StatusReport {
                reference: 0x2A,
                recipient: "+46708251358".into(),
                service_centre_time: "26-11-22 05:05:41 +00:00".into(),
                discharge_time: "26-11-22 06:05:41 +00:00".into(),
                status: 0,
            }
        );
        for (smsc, recipient, status) in [("", "0712345678", 0x45), ("+1", "+2", 0x20)] {
            let pdu = encode_status_report(&NewStatusReport {
                smsc,
                recipient,
                status,
                ..report
            })
            .unwrap();
            let back = decode_status_report(&pdu.hex, true).unwrap();
            assert_eq!((back.recipient.as_str(), back.status), (recipient, status));
            let smsc_octets = match smsc.strip_prefix('+') {
                Some(digits) => 2 + digits.len().div_ceil(2),
                None => 1,
            };
            assert_eq!(pdu.hex.len() / 2 - pdu.tpdu_len, smsc_octets);
        }
        for (smsc, recipient) in [("x", "+1"), ("+1", ""), ("+1", "Google")] {
            let bad = NewStatusReport {
                smsc,
                recipient,
                ..report
            };
            assert_eq!(encode_status_report(&bad), Err(PduError::BadDestination));
        }
    }
}
