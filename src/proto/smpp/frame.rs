//! Cutting the inbound TCP byte stream into whole SMPP PDUs.
//!
//! Every SMPP PDU opens with a 4-octet big-endian `command_length` that counts the whole PDU,
//! itself included. That field is the only thing that tells us where the next PDU starts, so a
//! length we cannot believe (shorter than the 16-octet header, or longer than the configured
//! limit) leaves no way to resynchronise: [`FrameError`] is fatal and the caller drops the link.
//! A PDU that frames fine but whose body is rubbish is a different matter, handled one layer up
//! (the session answers it with `generic_nack` and keeps the link).
//!
//! This file only looks at the header; it never decodes a body, so it cannot fail on content.

use bytes::{Buf, BytesMut};
use thiserror::Error;

/// Octets in the SMPP header: command_length, command_id, command_status, sequence_number.
pub const HEADER_LEN: usize = 16;

/// The limit the session uses unless configured otherwise. Real PDUs stay well below 1 KiB
/// (short_message is at most 254 octets); the margin is for `message_payload` TLVs.
pub const DEFAULT_MAX_PDU_LEN: usize = 65_536;

/// The stream can no longer be trusted: drop the link and reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The header alone is 16 octets, so a smaller length is garbage (or a desynchronised stream).
    #[error("command_length {actual} is shorter than the {min}-octet header")]
    TooShort { actual: u32, min: usize },
    /// Refused before buffering, so a hostile peer cannot make us allocate gigabytes.
    #[error("command_length {actual} exceeds the limit of {max} octets")]
    TooLong { actual: u32, max: usize },
}

/// The four header fields, read without decoding the body.
///
/// Kept separate from rusmpp's `Command` because we need the sequence number of a PDU whose
/// body rusmpp cannot decode, to nack it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: u32,
    pub command_status: u32,
    pub sequence: u32,
}

impl Header {
    /// Reads the header at the start of `bytes`; `None` when fewer than 16 octets are present.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let mut header = bytes.get(..HEADER_LEN)?;
        Some(Header {
            command_length: header.get_u32(),
            command_id: header.get_u32(),
            command_status: header.get_u32(),
            sequence: header.get_u32(),
        })
    }

    /// Responses have the top bit of command_id set (SMPP 3.4: a response's id is its
    /// request's id | 0x80000000).
    pub fn is_response(&self) -> bool {
        self.command_id & 0x8000_0000 != 0
    }
}

/// Splits the next complete PDU off the front of `buf`.
///
/// `Ok(None)` means "not enough bytes yet": `buf` is left untouched (apart from reserving room
/// for the rest of the PDU) and the caller reads more. The length is checked as soon as its four
/// octets are in, so garbage is refused without waiting for the rest of a bogus PDU.
pub fn next_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<BytesMut>, FrameError> {
    let Some(mut length_field) = buf.get(..4) else {
        return Ok(None);
    };
    let actual = length_field.get_u32();
    // u32 always fits in usize on the targets we build for (32- and 64-bit).
    let len = actual as usize;
    if len < HEADER_LEN {
        return Err(FrameError::TooShort {
            actual,
            min: HEADER_LEN,
        });
    }
    if len > max_len {
        return Err(FrameError::TooLong {
            actual,
            max: max_len,
        });
    }
    if buf.len() < len {
        buf.reserve(len - buf.len());
        return Ok(None);
    }
    Ok(Some(buf.split_to(len)))
}

#[cfg(test)]
mod tests {

    use super::*;

    /// An enquire_link (header only) with the given sequence number.
    fn enquire_link(sequence: u32) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0];
        v.extend_from_slice(&sequence.to_be_bytes());
        v
    }

    /// A submit_sm_resp carrying message id "ab".
    fn submit_sm_resp(sequence: u32) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 19, 0x80, 0, 0, 0x04, 0, 0, 0, 0];
        v.extend_from_slice(&sequence.to_be_bytes());
        v.extend_from_slice(b"ab\0");
        v
    }

    #[test]
    fn byte_at_a_time_yields_one_frame_at_the_end() {
        let pdu = submit_sm_resp(7);
        let mut buf = BytesMut::new();
        for (i, byte) in pdu.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            let got = next_frame(&mut buf, DEFAULT_MAX_PDU_LEN).unwrap();
            if i + 1 < pdu.len() {
                assert_eq!(got, None, "frame too early at byte {i}");
            } else {
                assert_eq!(got.unwrap().as_ref(), pdu.as_slice());
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn two_pdus_in_one_buffer_and_a_partial_third() {
        let mut bytes = enquire_link(1);
        bytes.extend(submit_sm_resp(2));
        bytes.extend(&enquire_link(3)[..5]);
        let mut buf = BytesMut::from(bytes.as_slice());

        let first = next_frame(&mut buf, DEFAULT_MAX_PDU_LEN).unwrap().unwrap();
        assert_eq!(Header::parse(&first).unwrap().sequence, 1);
        let second = next_frame(&mut buf, DEFAULT_MAX_PDU_LEN).unwrap().unwrap();
        let header = Header::parse(&second).unwrap();
        assert_eq!((header.sequence, header.command_id), (2, 0x8000_0004));
        assert!(header.is_response());
        assert_eq!(next_frame(&mut buf, DEFAULT_MAX_PDU_LEN).unwrap(), None);
        assert_eq!(buf.len(), 5, "the partial PDU stays buffered");
    }

    #[test]
    fn bad_lengths_are_fatal() {
        let cases: &[(&str, &[u8], usize, FrameError)] = &[
            (
                "garbage prefix",
                b"HTTP/1.1 400 Bad Request\r\n",
                DEFAULT_MAX_PDU_LEN,
                FrameError::TooLong {
                    actual: u32::from_be_bytes(*b"HTTP"),
                    max: DEFAULT_MAX_PDU_LEN,
                },
            ),
            (
                "zero length",
                &[0, 0, 0, 0, 0, 0, 0, 0x15],
                DEFAULT_MAX_PDU_LEN,
                FrameError::TooShort { actual: 0, min: 16 },
            ),
            (
                "one short of a header",
                &[0, 0, 0, 15],
                DEFAULT_MAX_PDU_LEN,
                FrameError::TooShort {
                    actual: 15,
                    min: 16,
                },
            ),
            (
                "one over the limit",
                &[0, 0, 1, 1],
                256,
                FrameError::TooLong {
                    actual: 257,
                    max: 256,
                },
            ),
        ];
        for (name, bytes, max, want) in cases {
            let mut buf = BytesMut::from(*bytes);
            assert_eq!(next_frame(&mut buf, *max), Err(want.clone()), "{name}");
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let mut buf = BytesMut::from(enquire_link(9).as_slice());
        assert!(
            next_frame(&mut buf, 16).unwrap().is_some(),
            "exactly 16 at max 16"
        );
    }

    #[test]
    fn fewer_than_four_bytes_waits() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(next_frame(&mut buf, DEFAULT_MAX_PDU_LEN), Ok(None));
        assert_eq!(Header::parse(&[0; 15]), None);
    }
}
