//! Replies as the session decides them, and their bytes. A reply is a value rather than
//! bytes at once because `--stall` holds replies back and the session must still know
//! what a held-back reply was (a receiver's bind, the end of an unbind) when it goes out.

use bytes::BytesMut;
use rusmpp::{
    Command, CommandId, CommandStatus, Pdu,
    pdus::{BindReceiverResp, BindTransceiverResp, BindTransmitterResp},
    types::COctetString,
    values::InterfaceVersion,
};

use super::wire;

/// The system_id the simulator gives in every successful bind_resp.
const SMSC_SYSTEM_ID: &[u8] = b"smsc-sim\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BindKind {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindKind {
    /// May send submit_sm.
    pub fn transmits(self) -> bool {
        matches!(self, BindKind::Transmitter | BindKind::Transceiver)
    }

    /// Gets deliver_sm receipts.
    pub fn receives(self) -> bool {
        matches!(self, BindKind::Receiver | BindKind::Transceiver)
    }

    fn response_id(self) -> CommandId {
        match self {
            BindKind::Transmitter => CommandId::BindTransmitterResp,
            BindKind::Receiver => CommandId::BindReceiverResp,
            BindKind::Transceiver => CommandId::BindTransceiverResp,
        }
    }
}

/// A reply waiting to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// A header-only PDU.
    Header {
        command_id: u32,
        status: u32,
        seq: u32,
    },
    SubmitOk {
        seq: u32,
        message_id: u64,
    },
    Bind {
        kind: BindKind,
        status: CommandStatus,
        seq: u32,
    },
    /// Everything before this was the unbind_resp: close after it. No bytes.
    Close,
}

impl Reply {
    pub fn header(command_id: CommandId, status: CommandStatus, seq: u32) -> Reply {
        Reply::Header {
            command_id: u32::from(command_id),
            status: u32::from(status),
            seq,
        }
    }

    /// Appends the reply's bytes to `out`.
    pub fn encode(self, out: &mut BytesMut) {
        match self {
            Reply::Header {
                command_id,
                status,
                seq,
            } => wire::put_header_only(out, command_id, status, seq),
            Reply::SubmitOk { seq, message_id } => wire::put_submit_ok(out, seq, message_id),
            Reply::Bind { kind, status, seq } => encode_bind(out, kind, status, seq),
            Reply::Close => {}
        }
    }
}

fn encode_bind(out: &mut BytesMut, kind: BindKind, status: CommandStatus, seq: u32) {
    // The literal always converts; were it ever not to, the header-only form still answers.
    let system_id = COctetString::from_static_slice(SMSC_SYSTEM_ID);
    let (CommandStatus::EsmeRok, Ok(system_id)) = (status, system_id) else {
        // SMPP 3.4 sends no body with an error status.
        let (id, status) = (u32::from(kind.response_id()), u32::from(status));
        return wire::put_header_only(out, id, status, seq);
    };
    let version = Some(InterfaceVersion::Smpp3_4);
    let pdu: Pdu = match kind {
        BindKind::Transmitter => BindTransmitterResp::new(system_id, version).into(),
        BindKind::Receiver => BindReceiverResp::new(system_id, version).into(),
        BindKind::Transceiver => BindTransceiverResp::new(system_id, version).into(),
    };
    wire::put_command(out, &Command::new(status, seq, pdu));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::tokio_codec::CommandCodec;
    use tokio_util::codec::Decoder;

    fn decode(reply: Reply) -> Command {
        let mut out = BytesMut::new();
        reply.encode(&mut out);
        let command = CommandCodec::new().decode(&mut out).unwrap().unwrap();
        assert!(out.is_empty());
        command
    }

    #[test]
    fn a_bind_ok_names_the_smsc_and_smpp_3_4() {
        let ok = CommandStatus::EsmeRok;
        for kind in [
            BindKind::Transmitter,
            BindKind::Receiver,
            BindKind::Transceiver,
        ] {
            let command = decode(Reply::Bind {
                kind,
                status: ok,
                seq: 3,
            });
            assert_eq!(
                (command.id(), command.sequence_number()),
                (kind.response_id(), 3)
            );
            let (system_id, version) = match command.pdu() {
                Some(Pdu::BindTransmitterResp(r)) => (&r.system_id, r.sc_interface_version()),
                Some(Pdu::BindReceiverResp(r)) => (&r.system_id, r.sc_interface_version()),
                Some(Pdu::BindTransceiverResp(r)) => (&r.system_id, r.sc_interface_version()),
                other => panic!("{other:?}"),
            };
            assert_eq!(system_id.as_str(), "smsc-sim");
            assert_eq!(version, Some(InterfaceVersion::Smpp3_4));
        }
    }

    #[test]
    fn a_refused_bind_is_a_bare_header() {
        let status = CommandStatus::EsmeRinvpaswd;
        let kind = BindKind::Receiver;
        let command = decode(Reply::Bind {
            kind,
            status,
            seq: 4,
        });
        assert_eq!(
            (command.id(), command.status()),
            (CommandId::BindReceiverResp, status)
        );
        assert!(command.pdu().is_none());
    }

    #[test]
    fn close_writes_nothing() {
        let mut out = BytesMut::new();
        Reply::Close.encode(&mut out);
        assert!(out.is_empty());
    }
}
