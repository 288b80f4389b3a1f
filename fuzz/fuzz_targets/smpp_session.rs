//! The SMPP session's input handling: a transceiver bound and with two submit_sm in flight
//! takes the fuzzer's bytes as everything the SMSC sends next, then its timers fire and it
//! unbinds.
//!
//! Besides "no panic", the session must not care how TCP cut the stream: the same bytes fed
//! at once and in pieces (of a size taken from the first byte) give the same events and the
//! same PDUs to write.

#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use otpd::proto::smpp::{Address, Event, Session, SessionConfig, State, Submit};

/// bind_transceiver_resp, status 0, sequence 1 (the bind's), system_id "".
const BIND_RESP: [u8; 17] = [0, 0, 0, 17, 0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0];

fn message(tag: u64) -> Submit {
    let address = |addr: &str| Address {
        ton: 1,
        npi: 1,
        addr: addr.into(),
    };
    Submit {
        tag,
        source: address("OTPD"),
        destination: address("31612345678"),
        registered_delivery: 1,
        validity_period: String::new(),
        data_coding: 0,
        esm_class: 0,
        short_message: b"Your code is 123456".to_vec(),
        tlvs: Vec::new(),
    }
}

/// Everything the session did: its events and the PDUs it queued, in order.
#[derive(Debug, PartialEq)]
struct Output {
    events: Vec<Event>,
    sent: Vec<Bytes>,
}

fn drain(s: &mut Session, out: &mut Output) {
    out.events.extend(std::iter::from_fn(|| s.poll_event()));
    out.sent.extend(std::iter::from_fn(|| s.poll_transmit()));
}

fn run(stream: &[u8], piece: usize) -> Output {
    let t0 = Instant::now();
    let config = SessionConfig {
        system_id: "otpd".into(),
        password: "secret".into(),
        window: 4,
        ..SessionConfig::default()
    };
    let mut out = Output {
        events: Vec::new(),
        sent: Vec::new(),
    };
    let mut s = Session::new(config, t0);
    s.bind(t0);
    s.handle_input(&mut BytesMut::from(&BIND_RESP[..]), t0);
    assert_eq!(s.state(), State::Bound);
    // Sequences 2 and 3: the stream may answer them.
    for tag in [7, 8] {
        let _ = s.submit(message(tag), t0);
    }
    drain(&mut s, &mut out);

    let mut buf = BytesMut::new();
    for chunk in stream.chunks(piece) {
        buf.extend_from_slice(chunk);
        s.handle_input(&mut buf, t0);
        drain(&mut s, &mut out);
    }
    // Submit into whatever state the peer left, let every deadline pass, then close.
    let _ = s.submit(message(9), t0);
    if let Some(at) = s.next_timeout() {
        s.handle_timeout(at);
    }
    s.handle_timeout(t0 + Duration::from_secs(3600));
    s.unbind(t0 + Duration::from_secs(3600));
    let _ = s.drain_in_flight();
    drain(&mut s, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let whole = run(stream, stream.len().max(1));
    let pieces = run(stream, usize::from(selector % 64) + 1);
    assert_eq!(whole, pieces);
});
