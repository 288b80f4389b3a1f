//! Decoding one framed PDU from the SMSC into what the session acts on.
//!
//! rusmpp decodes the body (`Command` via its owned `DecodeWithLength`, one PDU from a buffer,
//! no codec); this file sorts the result into [`Incoming`] and decides what to do with PDUs that
//! do not decode. The rule, from SMPP 3.4 generic_nack and cloudhopper's session: a request we
//! cannot take gets a `generic_nack` with its sequence number and the link stays up ([`Nack`]). A
//! *response* is never nacked (nobody waits for an answer to an answer); when its body is
//! broken we still act on its header, because the command_status and sequence number are what
//! settle the request it answers, and dropping it would make us resend a message the SMSC
//! already took.

use bytes::{Bytes, BytesMut};
use rusmpp::decode::{COctetStringDecodeError, DecodeErrorKind, DecodeWithLength};
use rusmpp::{Command, CommandId, Pdu};

use super::deliver::Deliver;
use super::frame::{HEADER_LEN, Header};
use super::pdu::BindKind;

/// One PDU from the peer that decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub sequence: u32,
    pub status: u32,
    pub pdu: Incoming,
}

/// The PDUs the session handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Any of the three bind responses; system_id is the SMSC's (empty on refusal).
    BindResp {
        kind: BindKind,
        system_id: String,
    },
    /// The message id as the SMSC sent it, trimmed; empty if it sent none.
    SubmitSmResp {
        message_id: String,
    },
    DeliverSm(Box<Deliver>),
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
    /// A response to something we never send (query_sm_resp, data_sm_resp...).
    OtherResponse {
        command_id: u32,
    },
    /// alert_notification and outbind: requests that SMPP defines without a response.
    NoResponse {
        command_id: u32,
    },
}

/// A request (or unknown command) to answer with `generic_nack` instead of acting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    pub sequence: u32,
    pub command_id: u32,
    /// The command_status to put in the generic_nack.
    pub status: u32,
    /// For the log.
    pub reason: String,
}

const ESME_RINVCMDLEN: u32 = 0x02;
const ESME_RINVCMDID: u32 = 0x03;
const ESME_RSYSERR: u32 = 0x08;

/// Decodes one whole PDU as cut by [`super::frame::next_frame`] (command_length included).
pub fn decode(frame: BytesMut) -> Result<Received, Nack> {
    let Some(header) = Header::parse(&frame) else {
        // The framer never hands out less than a header; answer sanely if someone else does.
        return Err(nack(0, 0, ESME_RINVCMDLEN, "PDU shorter than its header"));
    };
    let id = CommandId::from(header.command_id);
    if let CommandId::Other(raw) = id {
        let reason = format!("unknown command_id {raw:#010x}");
        return Err(nack(header.sequence, raw, ESME_RINVCMDID, reason));
    }
    // rusmpp consumes its input, and a broken response is salvaged from the raw body, so keep
    // the frame. Freezing is free; only the decoder's working copy is new, and that is one
    // small PDU.
    let raw: Bytes = frame.freeze();
    let mut src = BytesMut::from(raw.get(4..).unwrap_or_default());
    let len = src.len();
    match <Command as DecodeWithLength>::decode(&mut src, len) {
        Ok((command, _)) => sort(&header, id, &command),
        Err(_) if header.is_response() => Ok(salvage(&header, id, raw.get(HEADER_LEN..))),
        Err(e) => {
            let status = match e.kind() {
                // The fields ran past (or stopped short of) the declared length.
                DecodeErrorKind::UnexpectedEof
                | DecodeErrorKind::OctetStringDecodeError(_)
                | DecodeErrorKind::COctetStringDecodeError(
                    COctetStringDecodeError::TooFewBytes { .. }
                    | COctetStringDecodeError::NotNullTerminated,
                ) => ESME_RINVCMDLEN,
                // Everything fits but a value is invalid (non-ASCII text, bad TLV...).
                _ => ESME_RSYSERR,
            };
            let reason = format!("undecodable {id:?} body: {e}");
            Err(nack(header.sequence, header.command_id, status, reason))
        }
    }
}

fn nack(sequence: u32, command_id: u32, status: u32, reason: impl Into<String>) -> Nack {
    Nack {
        sequence,
        command_id,
        status,
        reason: reason.into(),
    }
}

fn received(header: &Header, pdu: Incoming) -> Received {
    Received {
        sequence: header.sequence,
        status: header.command_status,
        pdu,
    }
}

/// Sorts a decoded command. Bodiless variants are matched on the command id, not the body,
/// because rusmpp leaves the body out when a response carries none (as 3.4 allows on error).
fn sort(header: &Header, id: CommandId, command: &Command) -> Result<Received, Nack> {
    let pdu = match (id, command.pdu()) {
        (CommandId::BindTransceiverResp, Some(Pdu::BindTransceiverResp(b))) => {
            bind_resp(BindKind::Transceiver, b.system_id.as_str())
        }
        (CommandId::BindTransmitterResp, Some(Pdu::BindTransmitterResp(b))) => {
            bind_resp(BindKind::Transmitter, b.system_id.as_str())
        }
        (CommandId::BindReceiverResp, Some(Pdu::BindReceiverResp(b))) => {
            bind_resp(BindKind::Receiver, b.system_id.as_str())
        }
        (CommandId::SubmitSmResp, Some(Pdu::SubmitSmResp(b))) => Incoming::SubmitSmResp {
            message_id: b.message_id().as_str().trim().to_owned(),
        },
        (CommandId::DeliverSm, Some(Pdu::DeliverSm(sm))) => {
            Incoming::DeliverSm(Box::new(Deliver::from_pdu(sm)))
        }
        (CommandId::DeliverSm, _) => {
            return Err(nack(
                header.sequence,
                header.command_id,
                ESME_RINVCMDLEN,
                "deliver_sm without a body",
            ));
        }
        (CommandId::EnquireLink, _) => Incoming::EnquireLink,
        (CommandId::EnquireLinkResp, _) => Incoming::EnquireLinkResp,
        (CommandId::Unbind, _) => Incoming::Unbind,
        (CommandId::UnbindResp, _) => Incoming::UnbindResp,
        (CommandId::GenericNack, _) => Incoming::GenericNack,
        (CommandId::AlertNotification | CommandId::Outbind, _) => Incoming::NoResponse {
            command_id: header.command_id,
        },
        // A response without its body (refused bind, rejected submit) or with one we ignore.
        _ if header.is_response() => return Ok(salvage(header, id, None)),
        _ => {
            // A request an ESME does not serve (submit_sm, query_sm, data_sm...).
            let reason = format!("{id:?} is not supported by this ESME");
            return Err(nack(
                header.sequence,
                header.command_id,
                ESME_RINVCMDID,
                reason,
            ));
        }
    };
    Ok(received(header, pdu))
}

fn bind_resp(kind: BindKind, system_id: &str) -> Incoming {
    Incoming::BindResp {
        kind,
        system_id: system_id.to_owned(),
    }
}

/// A response from its header alone, and for submit_sm_resp a message id read leniently from the
/// raw body (up to the first NUL, any bytes): the SMSC took the message, so we must not resend.
fn salvage(header: &Header, id: CommandId, body: Option<&[u8]>) -> Received {
    let pdu = match id {
        CommandId::BindTransceiverResp => bind_resp(BindKind::Transceiver, ""),
        CommandId::BindTransmitterResp => bind_resp(BindKind::Transmitter, ""),
        CommandId::BindReceiverResp => bind_resp(BindKind::Receiver, ""),
        CommandId::SubmitSmResp => {
            let body = body.unwrap_or_default();
            let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
            let id = String::from_utf8_lossy(body.get(..end).unwrap_or_default());
            Incoming::SubmitSmResp {
                message_id: id.trim().to_owned(),
            }
        }
        CommandId::EnquireLinkResp => Incoming::EnquireLinkResp,
        CommandId::UnbindResp => Incoming::UnbindResp,
        CommandId::GenericNack => Incoming::GenericNack,
        _ => Incoming::OtherResponse {
            command_id: header.command_id,
        },
    };
    received(header, pdu)
}

#[cfg(test)]
mod tests {

    use rusmpp::CommandStatus;
    use rusmpp::pdus::{
        AlertNotification, BindTransceiverResp, QuerySmResp, SubmitSm, SubmitSmResp,
    };
    use rusmpp::types::COctetString;

    use super::*;
    use crate::proto::smpp::pdu;

    /// A PDU from its command_id, status, sequence and body; command_length is filled in.
    fn raw(command_id: u32, status: u32, sequence: u32, body: &[u8]) -> BytesMut {
        let mut v = BytesMut::new();
        v.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
        v.extend_from_slice(&command_id.to_be_bytes());
        v.extend_from_slice(&status.to_be_bytes());
        v.extend_from_slice(&sequence.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// What we would receive if the peer sent `pdu` with sequence `sequence` and status 0.
    fn encoded(sequence: u32, pdu: impl Into<Pdu>) -> BytesMut {
        let command = Command::new(CommandStatus::EsmeRok, sequence, pdu);
        BytesMut::from(pdu::encode(&command).as_ref())
    }

    fn cstr<const MIN: usize, const MAX: usize>(s: &str) -> COctetString<MIN, MAX> {
        COctetString::from_string(s.to_owned()).unwrap()
    }

    fn message_id(id: &str) -> Incoming {
        Incoming::SubmitSmResp {
            message_id: id.into(),
        }
    }

    #[test]
    fn pdus_that_get_a_generic_nack() {
        let cases: Vec<(&str, BytesMut, u32)> = vec![
            ("unknown command id", raw(0x99, 0, 5, &[]), 0x03),
            ("unknown with a body", raw(0x0000_0099, 0, 5, b"junk"), 0x03),
            ("unknown response id", raw(0x8000_0099, 0, 5, &[]), 0x03),
            ("deliver_sm without body", raw(0x05, 0, 5, &[]), 0x02),
            (
                "deliver_sm cut short",
                raw(0x05, 0, 5, b"\0\x01\x01316"),
                0x02,
            ),
            (
                "deliver_sm non-ascii source",
                raw(0x05, 0, 5, b"\0\x01\x0131\xE96\0"),
                0x08,
            ),
            (
                "submit_sm to an ESME",
                encoded(5, SubmitSm::default()),
                0x03,
            ),
            ("query_sm to an ESME", raw(0x03, 0, 5, b"id\0\0\0\0"), 0x03),
        ];
        for (name, bytes, status) in cases {
            let id = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            let nack = decode(bytes).unwrap_err();
            let got = (nack.sequence, nack.command_id, nack.status);
            assert_eq!(got, (5, id, status), "{name}: {}", nack.reason);
        }
    }

    #[test]
    fn responses() {
        let bind_ok = BindTransceiverResp::builder()
            .system_id(cstr("SMSC"))
            .build();
        let accepted = SubmitSmResp::builder().message_id(cstr(" 0A1b2C ")).build();
        let cases: Vec<(&str, BytesMut, u32, Incoming)> = vec![
            (
                "bind ok",
                encoded(1, bind_ok),
                0,
                bind_resp(BindKind::Transceiver, "SMSC"),
            ),
            (
                "bind refused, no body",
                raw(0x8000_0002, 0x0E, 1, &[]),
                0x0E,
                bind_resp(BindKind::Transmitter, ""),
            ),
            (
                "submit accepted, id trimmed",
                encoded(2, accepted),
                0,
                message_id("0A1b2C"),
            ),
            (
                "submit rejected, no body",
                raw(0x8000_0004, 0x58, 2, &[]),
                0x58,
                message_id(""),
            ),
            // Broken submit_sm_resp bodies: the message id is salvaged, not lost.
            (
                "id without NUL",
                raw(0x8000_0004, 0, 2, b"12345"),
                0,
                message_id("12345"),
            ),
            (
                "non-ascii id",
                raw(0x8000_0004, 0, 2, b"ab\xFFc\0"),
                0,
                message_id("ab\u{FFFD}c"),
            ),
            (
                "enquire_link_resp",
                raw(0x8000_0015, 0, 3, &[]),
                0,
                Incoming::EnquireLinkResp,
            ),
            (
                "generic_nack",
                raw(0x8000_0000, 3, 4, &[]),
                3,
                Incoming::GenericNack,
            ),
            ("unbind", raw(0x06, 0, 5, &[]), 0, Incoming::Unbind),
            (
                "unbind_resp",
                raw(0x8000_0006, 0, 5, &[]),
                0,
                Incoming::UnbindResp,
            ),
            (
                "enquire_link",
                raw(0x15, 0, 6, &[]),
                0,
                Incoming::EnquireLink,
            ),
            (
                "query_sm_resp",
                encoded(9, QuerySmResp::default()),
                0,
                Incoming::OtherResponse {
                    command_id: 0x8000_0003,
                },
            ),
            (
                "alert_notification",
                encoded(7, AlertNotification::default()),
                0,
                Incoming::NoResponse { command_id: 0x102 },
            ),
        ];
        for (name, bytes, status, want) in cases {
            let got = decode(bytes).unwrap();
            assert_eq!((got.status, got.pdu), (status, want), "{name}");
        }
    }
}
