//! Bytes on the wire, with no socket and no clock: cutting whole PDUs out of the read
//! buffer, decoding them with rusmpp, and appending replies to the write buffer.
//!
//! The replies the simulator sends most (header-only responses and `submit_sm_resp`) are
//! written by hand straight into the buffer, so a benchmark run at 10,000 messages/s does
//! not build a `Command` and a message id `Bytes` per message; everything else goes through
//! rusmpp's encoder. The tests below check that rusmpp decodes the hand-written bytes.

use bytes::{Buf, BufMut, BytesMut};
use rusmpp::{
    Command, CommandId, CommandStatus,
    decode::{DecodeError, DecodeWithLength},
    encode::{Length, owned::Encode},
};

/// command_length, command_id, command_status, sequence_number.
pub(super) const HEADER_LEN: usize = 16;
/// Room for a `submit_sm` whose `message_payload` TLV carries 64 KiB; anything longer is
/// taken as a stream that has lost its framing.
pub(super) const MAX_PDU_LEN: usize = 70_000;
/// The command id of the garbage PDU (`--garbage-every`): unassigned in SMPP 3.4 and 5.0.
pub(super) const GARBAGE_COMMAND_ID: u32 = 0x0000_0099;

/// One whole PDU cut from the stream, its header already read.
#[derive(Debug)]
pub(super) struct Frame {
    pub command_id: u32,
    pub sequence_number: u32,
    /// The PDU without its command_length field (header rest + body), as rusmpp decodes it.
    bytes: BytesMut,
}

/// The stream cannot be cut into PDUs any more: the connection has to go.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("command_length {length} is outside {HEADER_LEN}..={MAX_PDU_LEN}")]
pub(super) struct BadLength {
    pub length: u32,
    /// Read from the header when it had arrived, for the `generic_nack`.
    pub sequence_number: Option<u32>,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes(field.try_into().ok()?))
}

/// Cuts the next whole PDU off the front of `buf`; `Ok(None)` until all of it has arrived.
pub(super) fn next_frame(buf: &mut BytesMut) -> Result<Option<Frame>, BadLength> {
    let Some(length) = be_u32(buf, 0) else {
        return Ok(None);
    };
    let len = length as usize;
    if !(HEADER_LEN..=MAX_PDU_LEN).contains(&len) {
        return Err(BadLength {
            length,
            sequence_number: be_u32(buf, 12),
        });
    }
    if buf.len() < len {
        // One allocation for the rest of a large PDU instead of several growth steps.
        buf.reserve(len - buf.len());
        return Ok(None);
    }
    let mut bytes = buf.split_to(len);
    bytes.advance(4);
    let (Some(command_id), Some(sequence_number)) = (be_u32(&bytes, 0), be_u32(&bytes, 8)) else {
        // Unreachable as len >= HEADER_LEN, but a frame without a header is a bad length.
        return Err(BadLength {
            length,
            sequence_number: None,
        });
    };
    Ok(Some(Frame {
        command_id,
        sequence_number,
        bytes,
    }))
}

impl Frame {
    /// Decodes the PDU with rusmpp; unknown command ids come back as `Pdu::Other` or
    /// without a PDU, a malformed body as an error.
    pub fn decode(mut self) -> Result<Command, DecodeError> {
        let length = self.bytes.len();
        Command::decode(&mut self.bytes, length).map(|(command, _size)| command)
    }
}

fn put_header(dst: &mut BytesMut, length: usize, command_id: u32, status: u32, seq: u32) {
    // Lengths here are at most MAX_PDU_LEN plus a little, far below u32::MAX.
    dst.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    dst.put_u32(command_id);
    dst.put_u32(status);
    dst.put_u32(seq);
}

/// A PDU that is only a header: error responses (SMPP 3.4 sends no body with a non-zero
/// command_status), `enquire_link_resp`, `unbind_resp`, `generic_nack`, the garbage PDU.
pub(super) fn put_header_only(dst: &mut BytesMut, command_id: u32, status: u32, seq: u32) {
    dst.reserve(HEADER_LEN);
    put_header(dst, HEADER_LEN, command_id, status, seq);
}

/// A successful `submit_sm_resp` whose message_id is `message_id` in upper-case hex.
pub(super) fn put_submit_ok(dst: &mut BytesMut, seq: u32, message_id: u64) {
    // Hex digits needed, at least one so that id 0 is "0".
    let digits = (u64::BITS - message_id.leading_zeros()).div_ceil(4).max(1);
    let length = HEADER_LEN + digits as usize + 1;
    dst.reserve(length);
    put_header(
        dst,
        length,
        u32::from(CommandId::SubmitSmResp),
        u32::from(CommandStatus::EsmeRok),
        seq,
    );
    for shift in (0..digits).rev() {
        let nibble = ((message_id >> (shift * 4)) & 0xF) as u8;
        dst.put_u8(if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        });
    }
    dst.put_u8(0);
}

/// Any PDU, through rusmpp's encoder (binds and receipts: rarer, or with a body too rich
/// to be worth writing by hand).
pub(super) fn put_command(dst: &mut BytesMut, command: &Command) {
    let length = 4 + command.length();
    dst.reserve(length);
    dst.put_u32(u32::try_from(length).unwrap_or(u32::MAX));
    command.encode(dst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::{Pdu, tokio_codec::CommandCodec};
    use tokio_util::codec::Decoder;

    fn decode_all(mut bytes: BytesMut) -> Vec<Command> {
        let mut codec = CommandCodec::new();
        let mut out = Vec::new();
        while let Some(command) = codec.decode(&mut bytes).unwrap() {
            out.push(command);
        }
        assert!(bytes.is_empty());
        out
    }

    #[test]
    fn submit_ok_is_what_rusmpp_decodes() {
        for (id, text) in [
            (0, "0"),
            (0xA, "A"),
            (0x1F, "1F"),
            (u64::MAX, "FFFFFFFFFFFFFFFF"),
        ] {
            let mut buf = BytesMut::new();
            put_submit_ok(&mut buf, 7, id);
            let commands = decode_all(buf);
            let [command] = commands.as_slice() else {
                panic!("{commands:?}")
            };
            assert_eq!(command.sequence_number(), 7);
            assert_eq!(command.status(), CommandStatus::EsmeRok);
            let Some(Pdu::SubmitSmResp(resp)) = command.pdu() else {
                panic!("{command:?}")
            };
            assert_eq!(resp.message_id().as_str(), text);
            assert_eq!(format!("{id:X}"), text);
        }
    }

    #[test]
    fn header_only_is_what_rusmpp_decodes() {
        let mut buf = BytesMut::new();
        put_header_only(&mut buf, u32::from(CommandId::EnquireLinkResp), 0, 1);
        put_header_only(&mut buf, u32::from(CommandId::SubmitSmResp), 0x58, 2);
        put_header_only(&mut buf, GARBAGE_COMMAND_ID, 0, 3);
        let commands = decode_all(buf);
        assert_eq!(commands[0].id(), CommandId::EnquireLinkResp);
        assert_eq!(commands[1].id(), CommandId::SubmitSmResp);
        assert_eq!(commands[1].status(), CommandStatus::EsmeRthrottled);
        assert!(commands[1].pdu().is_none());
        assert_eq!(commands[2].id(), CommandId::Other(0x99));
        assert_eq!(commands[2].sequence_number(), 3);
    }

    #[test]
    fn frames_arrive_byte_at_a_time_and_back_to_back() {
        let mut wire = BytesMut::new();
        put_command(
            &mut wire,
            &Command::new(CommandStatus::EsmeRok, 5, Pdu::EnquireLink),
        );
        put_header_only(&mut wire, u32::from(CommandId::Unbind), 0, 6);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for byte in wire {
            buf.put_u8(byte);
            while let Some(frame) = next_frame(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].sequence_number, 5);
        assert_eq!(frames[1].command_id, u32::from(CommandId::Unbind));
        let unbind = frames.pop().unwrap().decode().unwrap();
        assert_eq!(unbind.pdu(), Some(&Pdu::Unbind));
    }

    #[test]
    fn an_impossible_length_is_an_error_with_the_sequence_number() {
        let mut buf = BytesMut::new();
        put_header(&mut buf, 8, 0x15, 0, 42);
        let err = next_frame(&mut buf).unwrap_err();
        assert_eq!(err.sequence_number, Some(42));
        let mut huge = BytesMut::from(&[0xFF, 0xFF, 0xFF, 0xFF][..]);
        assert_eq!(
            next_frame(&mut huge).unwrap_err(),
            BadLength {
                length: u32::MAX,
                sequence_number: None
            }
        );
    }

    #[test]
    fn a_malformed_body_is_a_decode_error_not_a_lost_stream() {
        // bind_transmitter whose system_id has no NUL terminator.
        let mut buf = BytesMut::new();
        put_header(&mut buf, HEADER_LEN + 3, 0x02, 0, 9);
        buf.put_slice(b"abc");
        put_header_only(&mut buf, u32::from(CommandId::EnquireLink), 0, 10);
        let bad = next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(bad.sequence_number, 9);
        assert!(bad.decode().is_err());
        let next = next_frame(&mut buf).unwrap().unwrap();
        assert_eq!(next.decode().unwrap().id(), CommandId::EnquireLink);
    }
}
