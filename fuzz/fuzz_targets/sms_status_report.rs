//! The SMS-STATUS-REPORT decoder (what +CDS and AT+CMGR hand back), on input as `pdu_input`
//! reads it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpd::proto::sms;

#[path = "pdu_input.rs"]
mod pdu_input;

fuzz_target!(|data: &[u8]| {
    let Some((text, with_smsc)) = pdu_input::pdu_text(data) else {
        return;
    };
    if let Ok(report) = sms::decode_status_report(&text, with_smsc) {
        let _ = sms::outcome(report.status);
    }
});
