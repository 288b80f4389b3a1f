//! The modem session's input handling: the fuzzer plays the modem. Its bytes, split at 0xFF,
//! are the modem's successive outputs; an empty piece (two 0xFF in a row) lets the clock run
//! to the session's next deadline instead (the ESC's settle time, a registration poll, a
//! command that never answers). The session has a SIM PIN and an SMSC number configured and
//! one message queued, so init, the PIN, AT+CSCA, AT+CMGS with its prompt, status reports
//! (+CDS) and stored messages (+CMTI, AT+CMGR) are all reachable.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use otpd::proto::modem::{ModemConfig, Session, SimPin};
use otpd::proto::sms;

fn drain(s: &mut Session) {
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let config = ModemConfig {
        sim_pin: Some(SimPin::new("9317")),
        smsc: Some("+41794999000".into()),
        ..ModemConfig::default()
    };
    let mut s = Session::new(config, now);
    let submit = sms::Submit {
        destination: "+41791234567",
        text: "Your code is 123456",
        reference: 0,
        status_report: true,
        validity: None,
        concat_reference: 0,
    };
    for (tag, pdu) in (1..).zip(sms::encode_submit(&submit)) {
        let _ = s.send(tag, pdu, now);
    }
    let mut buf = Vec::new();
    for piece in data.split(|&b| b == 0xFF) {
        drain(&mut s);
        if piece.is_empty() {
            if let Some(at) = s.next_timeout() {
                now = now.max(at);
            }
            s.handle_timeout(now);
        } else {
            now += Duration::from_millis(10);
            buf.extend_from_slice(piece);
            s.handle_input(&mut buf, now);
        }
    }
    s.keepalive(now);
    let _ = s.is_ready();
    s.handle_timeout(now + Duration::from_secs(3600));
    drain(&mut s);
});
