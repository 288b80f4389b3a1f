//! The SMPP decoder: the byte stream from an SMSC cut into PDUs (`frame::next_frame`) and each
//! PDU decoded for the session (`incoming::decode`). What a deliver_sm carries goes on through
//! the receipt parser and the message-id normaliser, as the dispatcher reads it.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use otpd::proto::smpp::frame::{self, DEFAULT_MAX_PDU_LEN};
use otpd::proto::smpp::incoming::{self, Incoming};
use otpd::proto::smpp::{message_id, receipt};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // A framing error ends the link in the session, so it ends the stream here too.
    while let Ok(Some(pdu)) = frame::next_frame(&mut buf, DEFAULT_MAX_PDU_LEN) {
        let Ok(received) = incoming::decode(pdu) else {
            continue;
        };
        match received.pdu {
            Incoming::DeliverSm(d) => {
                let _ = receipt::parse(&d.short_message);
                if let Some(id) = &d.receipted_message_id {
                    let _ = message_id::normalize(id);
                }
            }
            Incoming::SubmitSmResp { message_id: id } => {
                let _ = message_id::matches(&id, &id);
            }
            _ => {}
        }
    }
});
