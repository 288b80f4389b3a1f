//! Session tests: the peer's PDUs are built with rusmpp and fed as bytes; what the session
//! sends is decoded back with rusmpp. Time only moves when a test moves it.

use std::iter;

use rusmpp::decode::DecodeWithLength;
use rusmpp::pdus::{BindTransceiverResp, BindTransmitterResp, DeliverSm, SubmitSmResp};
use rusmpp::tlvs::MessageDeliveryRequestTlvValue as Tlv;
use rusmpp::types::COctetString;
use rusmpp::values::{ErrorCodeNetworkType, MessageState, NetworkErrorCode};
use rusmpp::{CommandId, CommandStatus, Pdu};

use super::*;
use crate::proto::smpp::submit::Address;

const TIMEOUT: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(30);

fn config() -> SessionConfig {
    SessionConfig {
        system_id: "otpd".into(),
        password: "secret".into(),
        window: 2,
        response_timeout: TIMEOUT,
        enquire_link: IDLE,
        ..SessionConfig::default()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn cstr<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
    COctetString::from_string(s.to_owned()).unwrap()
}

/// Every PDU the session queued, decoded back with rusmpp.
fn sent(s: &mut Session) -> Vec<Command> {
    iter::from_fn(|| s.poll_transmit())
        .map(|bytes| {
            let mut buf = BytesMut::from(bytes.as_ref());
            let mut frame = frame::next_frame(&mut buf, DEFAULT_MAX_PDU_LEN)
                .unwrap()
                .unwrap();
            let _ = frame.split_to(4);
            let len = frame.len();
            <Command as DecodeWithLength>::decode(&mut frame, len)
                .unwrap()
                .0
        })
        .collect()
}

/// (command id, sequence, status) of what the session sent.
fn sent_ids(s: &mut Session) -> Vec<(CommandId, u32, u32)> {
    sent(s)
        .iter()
        .map(|c| (c.id(), c.sequence_number(), u32::from(c.status())))
        .collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    iter::from_fn(|| s.poll_event()).collect()
}

fn feed_bytes(s: &mut Session, bytes: &[u8], now: Instant) {
    let mut buf = BytesMut::from(bytes);
    s.handle_input(&mut buf, now);
    assert!(buf.is_empty(), "a whole PDU is consumed");
}

/// The peer sends `pdu` with `status` and `sequence`.
fn feed(s: &mut Session, status: u32, sequence: u32, pdu: impl Into<Pdu>, now: Instant) {
    let command = Command::new(CommandStatus::from(status), sequence, pdu);
    feed_bytes(s, &pdu::encode(&command), now);
}

fn submit_resp(id: &str) -> SubmitSmResp {
    SubmitSmResp::builder().message_id(cstr(id)).build()
}

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

/// A transceiver session bound at `t0` (the bind used sequence 1).
fn bound(t0: Instant) -> Session {
    let mut s = Session::new(config(), t0);
    s.bind(t0);
    assert_eq!(sent_ids(&mut s), [(CommandId::BindTransceiver, 1, 0)]);
    feed(&mut s, 0, 1, BindTransceiverResp::default(), t0);
    assert_eq!(events(&mut s), [Event::Bound]);
    s
}

mod submits;

#[test]
fn bind_ok() {
    let t0 = Instant::now();
    let mut s = Session::new(config(), t0);
    assert_eq!((s.state(), s.next_timeout()), (State::Open, None));
    s.bind(t0);
    assert_eq!(
        (s.state(), s.next_timeout()),
        (State::Binding, Some(t0 + TIMEOUT))
    );
    let Some(Pdu::BindTransceiver(b)) = sent(&mut s)[0].pdu().cloned() else {
        unreachable!("not a bind_transceiver")
    };
    assert_eq!(u8::from(b.interface_version), 0x34);
    let resp = BindTransceiverResp::builder()
        .system_id(cstr("SMSC"))
        .build();
    feed(&mut s, 0, 1, resp, t0 + secs(1));
    assert_eq!(events(&mut s), [Event::Bound]);
    assert_eq!(s.state(), State::Bound);
    assert_eq!(
        s.next_timeout(),
        Some(t0 + secs(1) + IDLE),
        "idle timer from the bind_resp"
    );
}

#[test]
fn bind_refused_once_then_twice() {
    let t0 = Instant::now();
    let mut s = Session::new(config(), t0);
    s.bind(t0);
    feed(&mut s, 0x0E, 1, BindTransceiverResp::default(), t0);
    assert_eq!(events(&mut s), [Event::BindFailed { status: 0x0E }]);
    assert_eq!((s.state(), s.next_timeout()), (State::Open, None));

    s.bind(t0);
    assert_eq!(sent_ids(&mut s)[1], (CommandId::BindTransceiver, 2, 0));
    feed(&mut s, 0x0E, 2, BindTransceiverResp::default(), t0);
    let ev = events(&mut s);
    assert_eq!(ev[0], Event::BindFailed { status: 0x0E });
    assert!(
        matches!(&ev[1], Event::Fatal(m) if m.contains("refused twice")),
        "{ev:?}"
    );
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn bind_nacked_counts_as_refused() {
    let t0 = Instant::now();
    let mut s = Session::new(config(), t0);
    s.bind(t0);
    feed(&mut s, 0x03, 1, Pdu::GenericNack, t0);
    let want = [
        Event::GenericNack {
            sequence: 1,
            status: 0x03,
        },
        Event::BindFailed { status: 0x03 },
    ];
    assert_eq!(events(&mut s), want);
}

#[test]
fn bind_timeout_is_fatal() {
    let t0 = Instant::now();
    let mut s = Session::new(config(), t0);
    s.bind(t0);
    s.handle_timeout(t0 + TIMEOUT - Duration::from_millis(1));
    assert_eq!(events(&mut s), []);
    s.handle_timeout(t0 + TIMEOUT);
    assert!(matches!(&events(&mut s)[..], [Event::Fatal(m)] if m.contains("bind_resp")));
    assert_eq!((s.state(), s.next_timeout()), (State::Closed, None));
}

#[test]
fn bad_credentials_are_fatal_before_sending() {
    let t0 = Instant::now();
    let config = SessionConfig {
        system_id: "a-system-id-too-long".into(),
        ..config()
    };
    let mut s = Session::new(config, t0);
    s.bind(t0);
    assert!(matches!(&events(&mut s)[..], [Event::Fatal(m)] if m.contains("system_id")));
    assert_eq!((s.state(), sent(&mut s).len()), (State::Closed, 0));
}

#[test]
fn transmitter_and_receiver_binds() {
    let t0 = Instant::now();
    for (bind, id) in [
        (BindKind::Transmitter, CommandId::BindTransmitter),
        (BindKind::Receiver, CommandId::BindReceiver),
    ] {
        let mut s = Session::new(SessionConfig { bind, ..config() }, t0);
        s.bind(t0);
        assert_eq!(sent_ids(&mut s), [(id, 1, 0)]);
    }
    let mut s = Session::new(
        SessionConfig {
            bind: BindKind::Transmitter,
            ..config()
        },
        t0,
    );
    s.bind(t0);
    feed(&mut s, 0, 1, BindTransmitterResp::default(), t0);
    assert_eq!(events(&mut s), [Event::Bound]);
    assert_eq!(s.submit(message(1), t0), Ok(2));
}

#[test]
fn submit_needs_a_sending_bind() {
    let t0 = Instant::now();
    let mut s = Session::new(config(), t0);
    assert_eq!(s.submit(message(1), t0), Err(SubmitError::NotBound), "open");
    s.bind(t0);
    assert_eq!(
        s.submit(message(1), t0),
        Err(SubmitError::NotBound),
        "binding"
    );
    let receiver = SessionConfig {
        bind: BindKind::Receiver,
        ..config()
    };
    let mut r = Session::new(receiver, t0);
    r.bind(t0);
    feed(&mut r, 0, 1, rusmpp::pdus::BindReceiverResp::default(), t0);
    assert_eq!(r.state(), State::Bound);
    assert_eq!(
        r.submit(message(1), t0),
        Err(SubmitError::NotBound),
        "receiver"
    );
    let mut s = bound(t0);
    s.unbind(t0);
    assert_eq!(
        s.submit(message(1), t0),
        Err(SubmitError::NotBound),
        "unbinding"
    );
}

#[test]
fn enquire_link_both_ways() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    assert_eq!(s.next_timeout(), Some(t0 + IDLE));
    s.handle_timeout(t0 + IDLE - secs(1));
    assert_eq!(sent(&mut s).len(), 0);

    // The peer's enquire_link is answered, and counts as traffic.
    feed(&mut s, 0, 500, Pdu::EnquireLink, t0 + secs(20));
    assert_eq!(sent_ids(&mut s), [(CommandId::EnquireLinkResp, 500, 0)]);
    let idle_at = t0 + secs(20) + IDLE;
    assert_eq!(s.next_timeout(), Some(idle_at));

    s.handle_timeout(idle_at);
    assert_eq!(sent_ids(&mut s), [(CommandId::EnquireLink, 2, 0)]);
    assert_eq!(s.next_timeout(), Some(idle_at + TIMEOUT), "one at a time");
    s.handle_timeout(idle_at + secs(1));
    assert_eq!(sent(&mut s).len(), 0);
    feed(&mut s, 0, 2, Pdu::EnquireLinkResp, idle_at + secs(1));
    assert_eq!(events(&mut s), []);
    assert_eq!(s.next_timeout(), Some(idle_at + secs(1) + IDLE));

    // Unanswered this time.
    let idle_at = idle_at + secs(1) + IDLE;
    s.handle_timeout(idle_at);
    assert_eq!(sent_ids(&mut s), [(CommandId::EnquireLink, 3, 0)]);
    s.handle_timeout(idle_at + TIMEOUT);
    assert!(matches!(&events(&mut s)[..], [Event::Fatal(m)] if m.contains("enquire_link")));
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn unbind_ours_answered_and_unanswered() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let seq = s.submit(message(7), t0).unwrap();
    s.unbind(t0);
    assert_eq!(s.state(), State::Unbinding);
    let ids = sent_ids(&mut s);
    assert_eq!(ids[1], (CommandId::Unbind, 3, 0));
    // A submit answered while unbinding still counts.
    feed(&mut s, 0, seq, submit_resp("m"), t0);
    feed(&mut s, 0, 3, Pdu::UnbindResp, t0);
    let accepted = Event::SubmitAccepted {
        tag: 7,
        message_id: "m".into(),
    };
    assert_eq!(events(&mut s), [accepted, Event::Unbound]);
    assert_eq!(s.state(), State::Closed);

    let mut s = bound(t0);
    s.unbind(t0);
    s.handle_timeout(t0 + TIMEOUT);
    assert!(matches!(&events(&mut s)[..], [Event::Fatal(m)] if m.contains("unbind_resp")));
}

#[test]
fn unbind_by_peer() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    feed(&mut s, 0, 9, Pdu::Unbind, t0);
    assert_eq!(sent_ids(&mut s), [(CommandId::UnbindResp, 9, 0)]);
    assert_eq!(events(&mut s), [Event::Unbound]);
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn undecodable_pdu_is_nacked_and_the_link_stays() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    #[rustfmt::skip]
    let unknown = [
        0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0x12, 0x34,
    ];
    feed_bytes(&mut s, &unknown, t0);
    assert_eq!(sent_ids(&mut s), [(CommandId::GenericNack, 0x1234, 0x03)]);
    assert_eq!((s.state(), events(&mut s)), (State::Bound, vec![]));
}

#[test]
fn garbage_is_fatal_and_stops_reading() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x05garbage"[..]);
    s.handle_input(&mut buf, t0);
    assert!(matches!(&events(&mut s)[..], [Event::Fatal(m)] if m.contains("command_length 5")));
    assert_eq!(s.state(), State::Closed);
    let mut more = BytesMut::from(pdu::encode(&pdu::enquire_link(4)).as_ref());
    s.handle_input(&mut more, t0);
    assert_eq!(
        (sent(&mut s).len(), more.len()),
        (0, 16),
        "nothing read after a framing error"
    );
}

#[test]
fn config_debug_hides_the_password() {
    let shown = format!("{:?}", config());
    assert!(
        shown.contains("otpd") && !shown.contains("secret"),
        "{shown}"
    );
}
