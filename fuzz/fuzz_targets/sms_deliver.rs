//! The SMS-DELIVER decoder (what +CMT and AT+CMGR hand back). The first byte's low bit
//! says whether an SMSC address leads; bit 1 whether the rest is given to the decoder as it
//! is (the hex layer) or as hex of its octets (the PDU fields, where the depth is).

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpd::proto::sms;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, pdu)) = data.split_first() else {
        return;
    };
    let with_smsc = flags & 1 != 0;
    let text = if flags & 2 != 0 {
        String::from_utf8_lossy(pdu).into_owned()
    } else {
        pdu.iter().map(|b| format!("{b:02X}")).collect()
    };
    let _ = sms::decode_deliver(&text, with_smsc);
});
