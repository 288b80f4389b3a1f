//! The PDUs we send, built with rusmpp's types, and their encoding to wire bytes.
//!
//! Each builder takes the sequence number from the session and returns a rusmpp [`Command`];
//! [`encode`] prefixes it with its command_length. rusmpp follows SMPP 5.0, so two of its
//! defaults are wrong for a 3.4 link and are set explicitly here: `interface_version` (rusmpp:
//! 0x50, we: 0x34) and `esm_class` (rusmpp's default encodes as 0x08, we: the caller's value,
//! normally 0). String fields are checked against their SMPP limits here so that a too-long
//! sender id is refused before anything is queued.

use bytes::{BufMut, Bytes, BytesMut};
use rusmpp::encode::{Length, owned::Encode};
use rusmpp::pdus::{BindReceiver, BindTransceiver, BindTransmitter, DeliverSmResp, SubmitSm};
use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
use rusmpp::types::{COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{
    DataCoding, EsmClass, InterfaceVersion, Npi, PriorityFlag, RegisteredDelivery,
    ReplaceIfPresentFlag, ServiceType, Ton,
};
use rusmpp::{Command, CommandStatus, Pdu};
use thiserror::Error;

use super::submit::{OptionalTlv, Submit};

/// SMPP 3.4's interface_version octet.
pub const INTERFACE_VERSION_3_4: u8 = 0x34;

/// Which of the three binds to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// Send and receive on one link (the usual choice).
    Transceiver,
    /// Send only.
    Transmitter,
    /// Receive only (delivery receipts on a separate link).
    Receiver,
}

/// A field we were asked to send does not fit SMPP: reject the request, retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    #[error("{field} is not a valid SMPP string: {reason}")]
    Field { field: &'static str, reason: String },
}

fn field(field: &'static str, reason: impl ToString) -> PduError {
    PduError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// A NUL-terminated ASCII field of at most `MAX` octets, NUL included.
fn c_string<const MIN: usize, const MAX: usize>(
    name: &'static str,
    value: &str,
) -> Result<COctetString<MIN, MAX>, PduError> {
    COctetString::from_string(value.to_owned()).map_err(|e| field(name, e))
}

/// Builds bind_transceiver, bind_transmitter or bind_receiver. The address range is left empty:
/// routing of mobile-originated messages is the SMSC's configuration, not ours.
pub fn bind(
    kind: BindKind,
    sequence: u32,
    system_id: &str,
    password: &str,
    system_type: &str,
) -> Result<Command, PduError> {
    let system_id = c_string("system_id", system_id)?;
    let password = c_string("password", password)?;
    let system_type = c_string("system_type", system_type)?;
    let version = InterfaceVersion::from(INTERFACE_VERSION_3_4);
    let range = COctetString::null();
    // The three bind bodies are identical in SMPP; rusmpp gives them distinct types.
    let pdu = match kind {
        BindKind::Transceiver => Pdu::from(BindTransceiver::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            range,
        )),
        BindKind::Transmitter => Pdu::from(BindTransmitter::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            range,
        )),
        BindKind::Receiver => Pdu::from(BindReceiver::new(
            system_id,
            password,
            system_type,
            version,
            Ton::Unknown,
            Npi::Unknown,
            range,
        )),
    };
    Ok(Command::new(CommandStatus::EsmeRok, sequence, pdu))
}

/// Builds a submit_sm from the caller's [`Submit`].
pub fn submit_sm(sequence: u32, s: &Submit) -> Result<Command, PduError> {
    let validity = EmptyOrFullCOctetString::from_string(s.validity_period.clone())
        .map_err(|e| field("validity_period", e))?;
    // SMPP 3.4 sizes short_message at 0-254 octets; rusmpp would take 255.
    if s.short_message.len() > 254 {
        return Err(field(
            "short_message",
            format!("{} octets, at most 254", s.short_message.len()),
        ));
    }
    let short_message =
        OctetString::from_vec(s.short_message.clone()).map_err(|e| field("short_message", e))?;
    let tlvs = s
        .tlvs
        .iter()
        .map(|tlv| match *tlv {
            OptionalTlv::SarMsgRefNum(n) => MessageSubmissionRequestTlvValue::SarMsgRefNum(n),
            OptionalTlv::SarTotalSegments(n) => {
                MessageSubmissionRequestTlvValue::SarTotalSegments(n)
            }
            OptionalTlv::SarSegmentSeqnum(n) => {
                MessageSubmissionRequestTlvValue::SarSegmentSeqnum(n)
            }
        })
        .collect();
    let body = SubmitSm::new(
        ServiceType::null(),
        Ton::from(s.source.ton),
        Npi::from(s.source.npi),
        c_string("source_addr", &s.source.addr)?,
        Ton::from(s.destination.ton),
        Npi::from(s.destination.npi),
        c_string("destination_addr", &s.destination.addr)?,
        EsmClass::from(s.esm_class),
        0,
        PriorityFlag::from(0),
        EmptyOrFullCOctetString::empty(),
        validity,
        RegisteredDelivery::from(s.registered_delivery),
        ReplaceIfPresentFlag::DoNotReplace,
        DataCoding::from(s.data_coding),
        0,
        short_message,
        tlvs,
    );
    Ok(Command::new(CommandStatus::EsmeRok, sequence, body))
}

/// deliver_sm_resp; SMPP 3.4 leaves its message_id unused, so it goes out as a lone NUL.
pub fn deliver_sm_resp(sequence: u32) -> Command {
    Command::new(CommandStatus::EsmeRok, sequence, DeliverSmResp::default())
}

pub fn enquire_link(sequence: u32) -> Command {
    Command::new(CommandStatus::EsmeRok, sequence, Pdu::EnquireLink)
}

pub fn enquire_link_resp(sequence: u32) -> Command {
    Command::new(CommandStatus::EsmeRok, sequence, Pdu::EnquireLinkResp)
}

pub fn unbind(sequence: u32) -> Command {
    Command::new(CommandStatus::EsmeRok, sequence, Pdu::Unbind)
}

pub fn unbind_resp(sequence: u32) -> Command {
    Command::new(CommandStatus::EsmeRok, sequence, Pdu::UnbindResp)
}

/// generic_nack for a PDU we could not take, carrying its sequence number and why.
pub fn generic_nack(sequence: u32, status: u32) -> Command {
    Command::new(CommandStatus::from(status), sequence, Pdu::GenericNack)
}

/// The wire bytes of `command`: command_length, then what rusmpp encodes (header and body).
pub fn encode(command: &Command) -> Bytes {
    let len = 4 + command.length();
    let mut dst = BytesMut::with_capacity(len);
    // Our PDUs are bounded by their fields' SMPP limits (well under 1 KiB), so this cannot
    // truncate.
    dst.put_u32(len as u32);
    command.encode(&mut dst);
    dst.freeze()
}

#[cfg(test)]
mod tests {

    use rusmpp::decode::DecodeWithLength;

    use super::*;
    use crate::proto::smpp::frame::{DEFAULT_MAX_PDU_LEN, next_frame};
    use crate::proto::smpp::submit::Address;

    fn submit() -> Submit {
        Submit {
            tag: 42,
            source: Address {
                ton: 5,
                npi: 0,
                addr: "OTPD".into(),
            },
            destination: Address {
                ton: 1,
                npi: 1,
                addr: "31612345678".into(),
            },
            registered_delivery: 1,
            validity_period: "000000001500000R".into(),
            data_coding: 0,
            esm_class: 0,
            short_message: b"Hello".to_vec(),
            tlvs: vec![
                OptionalTlv::SarMsgRefNum(0x1234),
                OptionalTlv::SarTotalSegments(2),
                OptionalTlv::SarSegmentSeqnum(1),
            ],
        }
    }

    /// Decodes wire bytes back with rusmpp alone (framing, then `Command` from the body).
    fn rusmpp_decode(bytes: &Bytes) -> Command {
        let mut buf = BytesMut::from(bytes.as_ref());
        let mut frame = next_frame(&mut buf, DEFAULT_MAX_PDU_LEN).unwrap().unwrap();
        assert!(buf.is_empty(), "one PDU, nothing left over");
        let _ = frame.split_to(4);
        let len = frame.len();
        let (command, size) = <Command as DecodeWithLength>::decode(&mut frame, len).unwrap();
        assert_eq!(size, len, "rusmpp consumed the whole body");
        command
    }

    #[test]
    fn bind_transceiver_bytes_match_the_spec() {
        // SMPP 3.4 bind_transceiver, built octet by octet.
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x00, 0x00, 0x00, 0x24, // command_length 36
            0x00, 0x00, 0x00, 0x09, // command_id bind_transceiver
            0x00, 0x00, 0x00, 0x00, // command_status
            0x00, 0x00, 0x00, 0x01, // sequence_number
            b'o', b't', b'p', b'd', 0x00, // system_id
            b's', b'e', b'c', b'r', b'e', b't', 0x00, // password
            b'O', b'T', b'P', 0x00, // system_type
            0x34, // interface_version 3.4
            0x00, // addr_ton
            0x00, // addr_npi
            0x00, // address_range (NULL)
        ];
        let got = encode(&bind(BindKind::Transceiver, 1, "otpd", "secret", "OTP").unwrap());
        assert_eq!(got.as_ref(), want);
    }

    #[test]
    fn submit_sm_bytes_match_the_spec() {
        // SMPP 3.4 submit_sm with the sar_* TLVs, built octet by octet.
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x00, 0x00, 0x00, 0x55, // command_length 85
            0x00, 0x00, 0x00, 0x04, // command_id submit_sm
            0x00, 0x00, 0x00, 0x00, // command_status
            0x00, 0x00, 0x00, 0x02, // sequence_number
            0x00, // service_type (NULL)
            0x05, 0x00, b'O', b'T', b'P', b'D', 0x00, // source ton, npi, addr
            0x01, 0x01, b'3', b'1', b'6', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', 0x00,
            0x00, // esm_class
            0x00, // protocol_id
            0x00, // priority_flag
            0x00, // schedule_delivery_time (NULL)
            b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0',
            b'1', b'5', b'0', b'0', b'0', b'0', b'0', b'R', 0x00, // validity_period
            0x01, // registered_delivery
            0x00, // replace_if_present_flag
            0x00, // data_coding
            0x00, // sm_default_msg_id
            0x05, b'H', b'e', b'l', b'l', b'o', // sm_length, short_message
            0x02, 0x0C, 0x00, 0x02, 0x12, 0x34, // sar_msg_ref_num
            0x02, 0x0E, 0x00, 0x01, 0x02, // sar_total_segments
            0x02, 0x0F, 0x00, 0x01, 0x01, // sar_segment_seqnum
        ];
        let got = encode(&submit_sm(2, &submit()).unwrap());
        assert_eq!(got.as_ref(), want);
    }

    #[test]
    fn every_pdu_we_build_round_trips_through_rusmpp() {
        let mut plain = submit();
        plain.tlvs.clear();
        plain.validity_period.clear();
        plain.esm_class = 0x40;
        plain.data_coding = 0x08;
        plain.short_message = vec![0xAB; 254];
        let cases: Vec<(&str, Command, u32)> = vec![
            (
                "bind_transceiver",
                bind(BindKind::Transceiver, 1, "a", "b", "").unwrap(),
                0x09,
            ),
            (
                "bind_transmitter",
                bind(BindKind::Transmitter, 2, "a", "b", "").unwrap(),
                0x02,
            ),
            (
                "bind_receiver",
                bind(BindKind::Receiver, 3, "a", "b", "c").unwrap(),
                0x01,
            ),
            ("submit_sm sar", submit_sm(4, &submit()).unwrap(), 0x04),
            ("submit_sm udh 254", submit_sm(5, &plain).unwrap(), 0x04),
            ("deliver_sm_resp", deliver_sm_resp(6), 0x8000_0005),
            ("enquire_link", enquire_link(7), 0x15),
            ("enquire_link_resp", enquire_link_resp(8), 0x8000_0015),
            ("unbind", unbind(9), 0x06),
            ("unbind_resp", unbind_resp(10), 0x8000_0006),
            ("generic_nack", generic_nack(0x7FFF_FFFF, 0x03), 0x8000_0000),
        ];
        for (name, command, id) in cases {
            let bytes = encode(&command);
            assert_eq!(u32::from(command.id()), id, "{name}");
            assert_eq!(
                &bytes[4..8],
                &id.to_be_bytes(),
                "{name} command_id on the wire"
            );
            assert_eq!(rusmpp_decode(&bytes), command, "{name}");
        }
    }

    #[test]
    fn fields_that_do_not_fit_are_refused() {
        let field_of = |r: Result<Command, PduError>| match r {
            Err(PduError::Field { field, .. }) => field,
            Ok(_) => "accepted",
        };
        let b = |id: &str, pw: &str, ty: &str| field_of(bind(BindKind::Transceiver, 1, id, pw, ty));
        assert_eq!(b("sixteen-chars-id", "pw", ""), "system_id");
        assert_eq!(b("fifteen-chars-i", "pw", ""), "accepted");
        assert_eq!(b("id", "ninechars", ""), "password");
        assert_eq!(b("id", "pw", "thirteen-char"), "system_type");

        type Change = fn(&mut Submit);
        let cases: Vec<(&str, Change, &str)> = vec![
            (
                "long source",
                |s| s.source.addr = "x".repeat(21),
                "source_addr",
            ),
            (
                "20-octet source",
                |s| s.source.addr = "x".repeat(20),
                "accepted",
            ),
            (
                "non-ascii dest",
                |s| s.destination.addr = "3161234567é".into(),
                "destination_addr",
            ),
            (
                "nul in dest",
                |s| s.destination.addr = "316\x0012".into(),
                "destination_addr",
            ),
            (
                "short validity",
                |s| s.validity_period = "15m".into(),
                "validity_period",
            ),
            (
                "255 octets",
                |s| s.short_message = vec![0; 255],
                "short_message",
            ),
        ];
        for (name, change, want) in cases {
            let mut s = submit();
            change(&mut s);
            assert_eq!(field_of(submit_sm(1, &s)), want, "{name}");
        }
    }
}
