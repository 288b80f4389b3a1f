//! Session tests for submits and what settles them, and for deliver_sm receipts.

use super::*;

#[test]
fn window_full_until_a_response() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    assert_eq!(s.submit(message(10), t0), Ok(2));
    assert_eq!(s.submit(message(11), t0), Ok(3));
    assert_eq!(s.submit(message(12), t0), Err(SubmitError::WindowFull));
    assert_eq!(s.in_flight(), 2);
    assert_eq!(sent_ids(&mut s).len(), 2, "the refused submit sent nothing");
    feed(&mut s, 0, 2, submit_resp("m1"), t0);
    assert_eq!(s.submit(message(12), t0), Ok(4));
}

#[test]
fn submit_outcomes() {
    let t0 = Instant::now();
    let cases = [
        (
            0,
            " 5f3a-01 ",
            Event::SubmitAccepted {
                tag: 7,
                message_id: "5f3a-01".into(),
            },
        ),
        (
            0x45,
            "",
            Event::SubmitRejected {
                tag: 7,
                status: 0x45,
            },
        ),
        (
            0x58,
            "",
            Event::SubmitRejected {
                tag: 7,
                status: 0x58,
            },
        ),
    ];
    for (status, id, want) in cases {
        let mut s = bound(t0);
        let seq = s.submit(message(7), t0).unwrap();
        let Some(Pdu::SubmitSm(sm)) = sent(&mut s)[0].pdu().cloned() else {
            unreachable!("not a submit_sm")
        };
        assert_eq!(u8::from(sm.esm_class), 0);
        feed(&mut s, status, seq, submit_resp(id), t0 + secs(1));
        assert_eq!(events(&mut s), [want]);
        assert_eq!(s.in_flight(), 0);
    }
}

#[test]
fn submit_timeout_then_late_response() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let seq = s.submit(message(7), t0 + secs(1)).unwrap();
    assert_eq!(
        s.next_timeout(),
        Some(t0 + secs(1) + TIMEOUT),
        "before the idle timer"
    );
    s.handle_timeout(t0 + TIMEOUT);
    assert_eq!(events(&mut s), []);
    s.handle_timeout(t0 + secs(1) + TIMEOUT);
    assert_eq!(events(&mut s), [Event::SubmitTimedOut { tag: 7 }]);
    assert_eq!(s.in_flight(), 0);
    feed(&mut s, 0, seq, submit_resp("late"), t0 + secs(12));
    assert_eq!(events(&mut s), [Event::LateResponse { sequence: seq }]);
}

#[test]
fn nacked_submit_is_rejected() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let seq = s.submit(message(7), t0).unwrap();
    feed(&mut s, 0x58, seq, Pdu::GenericNack, t0);
    let want = [
        Event::GenericNack {
            sequence: seq,
            status: 0x58,
        },
        Event::SubmitRejected {
            tag: 7,
            status: 0x58,
        },
    ];
    assert_eq!(events(&mut s), want);
}

#[test]
fn receipt_is_answered_and_surfaced() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let mut sm = DeliverSm::builder()
        .source_addr(cstr("31612345678"))
        .destination_addr(cstr("OTPD"))
        .esm_class(0x04.into())
        .short_message(b"id:5f3a stat:DELIVRD".as_slice().try_into().unwrap())
        .build();
    sm.push_tlv(Tlv::ReceiptedMessageId(cstr("5f3a")));
    sm.push_tlv(Tlv::MessageState(MessageState::Delivered));
    let code = NetworkErrorCode::new(ErrorCodeNetworkType::Gsm, 0x0022);
    sm.push_tlv(Tlv::NetworkErrorCode(code));
    feed(&mut s, 0, 77, sm, t0);
    let want = Event::Deliver {
        sequence: 77,
        source: "31612345678".into(),
        destination: "OTPD".into(),
        esm_class: 0x04,
        short_message: b"id:5f3a stat:DELIVRD".to_vec(),
        receipted_message_id: Some("5f3a".into()),
        message_state: Some(2),
        network_error: Some(vec![3, 0x00, 0x22]),
    };
    assert_eq!(events(&mut s), [want]);
    // Not answered until the caller has recorded it.
    assert_eq!(sent_ids(&mut s), []);
    s.acknowledge_deliver(77);
    assert_eq!(sent_ids(&mut s), [(CommandId::DeliverSmResp, 77, 0)]);
}

#[test]
fn input_a_byte_at_a_time() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let seq = s.submit(message(7), t0).unwrap();
    let bytes = pdu::encode(&Command::new(
        CommandStatus::EsmeRok,
        seq,
        submit_resp("abc"),
    ));
    let mut buf = BytesMut::new();
    for byte in bytes.iter() {
        assert_eq!(events(&mut s), []);
        buf.extend_from_slice(&[*byte]);
        s.handle_input(&mut buf, t0);
    }
    let want = Event::SubmitAccepted {
        tag: 7,
        message_id: "abc".into(),
    };
    assert_eq!(events(&mut s), [want]);
}

#[test]
fn drain_in_flight_after_a_drop() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    s.submit(message(10), t0).unwrap();
    let seq = s.submit(message(11), t0 + secs(1)).unwrap();
    assert_eq!(s.drain_in_flight(), [10, 11]);
    assert_eq!(s.in_flight(), 0);
    feed(&mut s, 0, seq, submit_resp("x"), t0);
    assert_eq!(events(&mut s), [Event::LateResponse { sequence: seq }]);
}

#[test]
fn sequence_numbers_wrap_and_skip_those_in_flight() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    s.sequence = MAX_SEQUENCE - 1;
    assert_eq!(s.submit(message(1), t0), Ok(MAX_SEQUENCE));
    assert_eq!(s.submit(message(2), t0), Ok(1));
    feed(&mut s, 0, MAX_SEQUENCE, submit_resp("a"), t0);
    s.sequence = 0;
    assert_eq!(s.submit(message(3), t0), Ok(2), "1 is still in flight");
}

#[test]
fn invalid_submit_is_refused_whole() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let mut m = message(1);
    m.source.addr = "x".repeat(21);
    let Err(SubmitError::Invalid(PduError::Field { field, .. })) = s.submit(m, t0) else {
        unreachable!("accepted a 21-octet source_addr")
    };
    assert_eq!(field, "source_addr");
    assert_eq!((s.in_flight(), sent(&mut s).len()), (0, 0));
}
