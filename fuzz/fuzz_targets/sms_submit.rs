//! The SMS-SUBMIT decoder (the modem simulator's side of AT+CMGS), on input as `pdu_input`
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
    let _ = sms::decode_submit(&text, with_smsc);
});
