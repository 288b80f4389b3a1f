//! The deliver_sm fields the session passes on: addresses, esm_class, the text, and the receipt
//! TLVs (receipted_message_id, message_state, network_error_code) lifted out of the TLV list.
//!
//! Reading the receipt text (`id:... stat:...`) is not done here; that is for the receipt
//! parser, which gets `short_message` as is.

use rusmpp::pdus::DeliverSm;
use rusmpp::tlvs::TlvValue;

/// The parts of a deliver_sm (a delivery receipt or a mobile-originated message) we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    pub source: String,
    pub destination: String,
    pub esm_class: u8,
    /// short_message, or the message_payload TLV when short_message is empty (SMPP 3.4 makes
    /// the two exclusive, and some SMSCs put the receipt text in the payload).
    pub short_message: Vec<u8>,
    /// TLV 0x001E.
    pub receipted_message_id: Option<String>,
    /// TLV 0x0427.
    pub message_state: Option<u8>,
    /// TLV 0x0423 as its three octets: network type, then the error code big-endian.
    pub network_error: Option<Vec<u8>>,
}

impl Deliver {
    /// The fields of a deliver_sm we use, with the receipt TLVs lifted out.
    pub fn from_pdu(sm: &DeliverSm) -> Deliver {
        let mut d = Deliver {
            source: sm.source_addr.as_str().to_owned(),
            destination: sm.destination_addr.as_str().to_owned(),
            esm_class: u8::from(sm.esm_class),
            short_message: sm.short_message().to_vec(),
            receipted_message_id: None,
            message_state: None,
            network_error: None,
        };
        for value in sm.tlvs().iter().filter_map(|tlv| tlv.value()) {
            match value {
                TlvValue::ReceiptedMessageId(id) => {
                    d.receipted_message_id = Some(id.as_str().trim().to_owned());
                }
                TlvValue::MessageState(state) => d.message_state = Some(u8::from(*state)),
                TlvValue::NetworkErrorCode(code) => {
                    let [hi, lo] = code.error_code.to_be_bytes();
                    d.network_error = Some(vec![u8::from(code.network_type), hi, lo]);
                }
                TlvValue::MessagePayload(payload) if d.short_message.is_empty() => {
                    d.short_message = payload.value.to_vec();
                }
                _ => {}
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {

    use bytes::BytesMut;
    use rusmpp::types::AnyOctetString;
    use rusmpp::values::MessagePayload;
    use rusmpp::{Command, CommandStatus};

    use super::*;
    use crate::proto::smpp::incoming::{Incoming, decode};
    use crate::proto::smpp::pdu;

    /// A deliver_sm from its sequence and body; command_length is filled in.
    fn raw(sequence: u32, body: &[u8]) -> BytesMut {
        let mut v = BytesMut::new();
        v.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0x05, 0, 0, 0, 0]);
        v.extend_from_slice(&sequence.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A deliver_sm body as an SMSC sends a receipt (SMPP 3.4 deliver_sm), with `tlvs` appended.
    fn receipt_body(source: &[u8], text: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut b = vec![0x00, 0x01, 0x01]; // service_type NULL, source ton, npi
        b.extend_from_slice(source);
        b.extend_from_slice(&[0x00, 0x05, 0x00]); // NUL, dest ton, npi
        b.extend_from_slice(b"OTPD\0");
        // esm_class (receipt), protocol_id, priority, schedule NULL, validity NULL,
        // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        b.extend_from_slice(&[0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        b.push(text.len() as u8);
        b.extend_from_slice(text);
        b.extend_from_slice(tlvs);
        b
    }

    #[test]
    fn receipt_with_tlvs() {
        #[rustfmt::skip]
        let tlvs = [
            // receipted_message_id " abc123" (trimmed on the way in)
            0x00, 0x1E, 0x00, 0x08, b' ', b'a', b'b', b'c', b'1', b'2', b'3', 0x00,
            0x04, 0x27, 0x00, 0x01, 0x02, // message_state DELIVERED
            0x04, 0x23, 0x00, 0x03, 0x03, 0x00, 0x22, // network_error_code GSM 0x0022
        ];
        let body = receipt_body(b"31612345678", b"id:abc123 stat:DELIVRD err:000", &tlvs);
        let got = decode(raw(0x10, &body)).unwrap();
        let want = Deliver {
            source: "31612345678".into(),
            destination: "OTPD".into(),
            esm_class: 0x04,
            short_message: b"id:abc123 stat:DELIVRD err:000".to_vec(),
            receipted_message_id: Some("abc123".into()),
            message_state: Some(2),
            network_error: Some(vec![0x03, 0x00, 0x22]),
        };
        assert_eq!(got.sequence, 0x10);
        assert_eq!(got.pdu, Incoming::DeliverSm(Box::new(want)));
    }

    #[test]
    fn receipt_text_in_message_payload() {
        let mut sm = rusmpp::pdus::DeliverSm::default();
        sm.push_tlv(
            rusmpp::tlvs::MessageDeliveryRequestTlvValue::MessagePayload(MessagePayload::new(
                AnyOctetString::from_static_slice(b"id:7 stat:UNDELIV"),
            )),
        );
        let command = Command::new(CommandStatus::EsmeRok, 3, sm);
        let got = decode(BytesMut::from(pdu::encode(&command).as_ref())).unwrap();
        let Incoming::DeliverSm(d) = got.pdu else {
            unreachable!("{got:?}")
        };
        assert_eq!(d.short_message, b"id:7 stat:UNDELIV");
        assert_eq!(d.receipted_message_id, None);
    }
}
