//! The SMS-DELIVER decoder (what +CMT and AT+CMGR hand back), on input as `pdu_input`
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
    let _ = sms::decode_deliver(&text, with_smsc);
});
