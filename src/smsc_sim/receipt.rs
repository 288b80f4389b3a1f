//! Delivery receipts: what the simulator keeps of an accepted `submit_sm`, and the
//! `deliver_sm` it turns into once `--dlr-delay` has passed.
//!
//! The receipt text follows the de-facto format of SMPP 3.4 appendix B:
//! `id:<ID> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:<STAT>
//! err:000 text:<first 20 chars>`, dates in UTC. Time comes in as a parameter (Unix
//! seconds) so that the text can be tested without a clock.

use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};
use rusmpp::{
    Command, CommandStatus,
    pdus::{DeliverSm, SubmitSm},
    tlvs::{MessageDeliveryRequestTlvValue, TlvValue},
    types::{COctetString, COctetStringError, OctetString, OctetStringError},
    values::{DataCoding, EsmClass, MessageState, Npi, RegisteredDelivery, Ton},
};

use super::IdFormat;
use crate::proto::sms::civil_from_days;

/// The `stat:` values the simulator can report, with their `message_state` TLV values.
const STATS: [(&str, u8); 8] = [
    ("ENROUTE", 1),
    ("DELIVRD", 2),
    ("EXPIRED", 3),
    ("DELETED", 4),
    ("UNDELIV", 5),
    ("ACCEPTD", 6),
    ("UNKNOWN", 7),
    ("REJECTD", 8),
];

/// A `stat:` value, checked against the list above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    name: &'static str,
    message_state: u8,
}

impl Stat {
    /// The stat named `text` (any case), or the list of the known ones.
    pub fn parse(text: &str) -> Result<Stat, String> {
        STATS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(name, message_state)| Stat {
                name,
                message_state,
            })
            .ok_or_else(|| {
                let names: Vec<&str> = STATS.iter().map(|(name, _)| *name).collect();
                format!("expected one of {}", names.join(", "))
            })
    }
}

/// clap's value parser for `--dlr-stat`: the canonical upper-case name.
pub(super) fn parse_stat(text: &str) -> Result<String, String> {
    Stat::parse(text).map(|stat| stat.name.to_owned())
}

/// How every receipt of this run looks.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReceiptStyle {
    pub stat: Stat,
    pub id_format: IdFormat,
    /// Also send the receipted_message_id and message_state TLVs.
    pub tlvs: bool,
}

/// A message id as the receipt shows it.
struct ShownId(u64, IdFormat);

impl fmt::Display for ShownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            // Upper case, as in submit_sm_resp (see wire::put_submit_ok).
            IdFormat::Hex => write!(f, "{:X}", self.0),
            IdFormat::Decimal => write!(f, "{}", self.0),
        }
    }
}

/// Unix seconds shown as the receipt's YYMMDDhhmm (UTC).
struct ReceiptDate(u64);

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0 / 86_400);
        let minutes = self.0 % 86_400 / 60;
        let (hour, minute) = (minutes / 60, minutes % 60);
        write!(f, "{:02}{month:02}{day:02}{hour:02}{minute:02}", year % 100)
    }
}

/// The first 20 characters of the message, as printable ASCII (others become `?`) so the
/// receipt text stays plain whatever the coding of the message.
#[derive(Debug, Clone, Copy)]
struct Snippet {
    chars: [u8; 20],
    len: u8,
}

impl Snippet {
    fn new(body: &[u8], data_coding: u8) -> Snippet {
        let mut snippet = Snippet {
            chars: [0; 20],
            len: 0,
        };
        if data_coding == 0x08 {
            // UCS-2 is UTF-16BE for every character an OTP text uses.
            let units = body.chunks_exact(2).map(|pair| match pair {
                &[high, low] => u16::from_be_bytes([high, low]),
                _ => 0xFFFD,
            });
            snippet.fill(char::decode_utf16(units).map(|c| c.unwrap_or('?')));
        } else {
            snippet.fill(body.iter().map(|&b| char::from(b)));
        }
        snippet
    }

    fn fill(&mut self, chars: impl Iterator<Item = char>) {
        for (slot, c) in self.chars.iter_mut().zip(chars) {
            let shown = if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            };
            // ASCII by the line above, so one byte.
            *slot = shown as u8;
            self.len += 1;
        }
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.chars.get(..usize::from(self.len)).unwrap_or_default();
        shown.iter().try_for_each(|&b| f.write_char(char::from(b)))
    }
}

/// A receipt could not be built; the simulator logs it and drops that receipt.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReceiptError {
    #[error("formatting the receipt text")]
    Format(#[from] fmt::Error),
    #[error("receipt text: {0}")]
    Text(#[from] OctetStringError),
    #[error("receipted_message_id: {0}")]
    Id(#[from] COctetStringError),
}

/// An accepted message whose receipt is due some time.
#[derive(Debug, Clone)]
pub(super) struct Receipt {
    pub message_id: u64,
    /// The connection the submit came over, which gets the receipt if it is a transceiver.
    pub origin: u64,
    // The handset "answers": the receipt comes from the submit's destination.
    source: (Ton, Npi, COctetString<1, 21>),
    destination: (Ton, Npi, COctetString<1, 21>),
    submitted: u64,
    text: Snippet,
}

impl Receipt {
    /// `body` is the message text (short_message or message_payload); `now` Unix seconds.
    pub fn new(submit: &SubmitSm, body: &[u8], message_id: u64, origin: u64, now: u64) -> Self {
        // The address clones share the decoded frame's bytes: no copy, no allocation.
        Receipt {
            message_id,
            origin,
            source: (
                submit.dest_addr_ton,
                submit.dest_addr_npi,
                submit.destination_addr.clone(),
            ),
            destination: (
                submit.source_addr_ton,
                submit.source_addr_npi,
                submit.source_addr.clone(),
            ),
            submitted: now,
            text: Snippet::new(body, u8::from(submit.data_coding)),
        }
    }

    /// The `deliver_sm` for this receipt, done at `now` (Unix seconds).
    pub fn to_deliver_sm(
        &self,
        sequence_number: u32,
        style: &ReceiptStyle,
        now: u64,
    ) -> Result<Command, ReceiptError> {
        let id = ShownId(self.message_id, style.id_format);
        let mut text = BytesMut::with_capacity(160);
        write!(
            text,
            "id:{id} sub:001 dlvrd:001 submit date:{} done date:{} stat:{} err:000 text:{}",
            ReceiptDate(self.submitted),
            ReceiptDate(now),
            style.stat.name,
            self.text,
        )?;
        let (source_ton, source_npi, source) = self.source.clone();
        let (dest_ton, dest_npi, destination) = self.destination.clone();
        let mut deliver = DeliverSm::builder()
            .source_addr_ton(source_ton)
            .source_addr_npi(source_npi)
            .source_addr(source)
            .dest_addr_ton(dest_ton)
            .dest_addr_npi(dest_npi)
            .destination_addr(destination)
            // rusmpp's defaults are not SMPP 3.4's receipt values: say each one.
            .esm_class(EsmClass::from(0x04))
            .protocol_id(0)
            .registered_delivery(RegisteredDelivery::from(0))
            .data_coding(DataCoding::from(0))
            .short_message(OctetString::from_bytes_mut(text)?);
        if style.tlvs {
            let mut id_text = BytesMut::with_capacity(21);
            write!(id_text, "{id}")?;
            id_text.put_u8(0);
            deliver = deliver
                .push_tlv(MessageDeliveryRequestTlvValue::ReceiptedMessageId(
                    COctetString::from_bytes_mut(id_text)?,
                ))
                .push_tlv(MessageDeliveryRequestTlvValue::MessageState(
                    MessageState::from(style.stat.message_state),
                ));
        }
        Ok(Command::new(
            CommandStatus::EsmeRok,
            sequence_number,
            deliver.build(),
        ))
    }
}

#[cfg(test)]
impl Receipt {
    /// A receipt for tests that only route it.
    pub fn sample(message_id: u64, origin: u64) -> Receipt {
        let submit = SubmitSm::builder().build();
        Receipt::new(&submit, b"", message_id, origin, 0)
    }
}

/// The text of a submit: short_message, or the message_payload TLV when that is empty.
pub(super) fn message_body(submit: &SubmitSm) -> &[u8] {
    let short = submit.short_message().as_ref();
    if !short.is_empty() {
        return short;
    }
    submit
        .tlvs()
        .iter()
        .find_map(|tlv| match tlv.value() {
            Some(TlvValue::MessagePayload(payload)) => Some(payload.value.as_ref()),
            _ => None,
        })
        .unwrap_or(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusmpp::{Pdu, values::DataCoding};

    fn submit(body: &[u8], data_coding: u8) -> SubmitSm {
        SubmitSm::builder()
            .source_addr(COctetString::from_static_slice(b"OTPD\0").unwrap())
            .destination_addr(COctetString::from_static_slice(b"255712345678\0").unwrap())
            .dest_addr_ton(Ton::International)
            .data_coding(DataCoding::from(data_coding))
            .short_message(OctetString::from_slice(body).unwrap())
            .build()
    }

    fn text_of(command: &Command) -> (String, &DeliverSm) {
        let Some(Pdu::DeliverSm(deliver)) = command.pdu() else {
            panic!("{command:?}")
        };
        let text = String::from_utf8(deliver.short_message().as_ref().to_vec()).unwrap();
        (text, deliver)
    }

    #[test]
    fn dates_are_utc_yymmddhhmm() {
        assert_eq!(ReceiptDate(0).to_string(), "7001010000");
        // 2024-02-29T12:34:56Z
        assert_eq!(ReceiptDate(1_709_210_096).to_string(), "2402291234");
        // 2000-03-01T00:00:00Z, just after a leap day of a century leap year.
        assert_eq!(ReceiptDate(951_868_800).to_string(), "0003010000");
        // 2099-12-31T23:59:59Z
        assert_eq!(ReceiptDate(4_102_444_799).to_string(), "9912312359");
    }

    #[test]
    fn stats_parse_in_any_case_and_map_to_message_states() {
        assert_eq!(parse_stat("undeliv").unwrap(), "UNDELIV");
        assert!(parse_stat("LOST").unwrap_err().contains("DELIVRD"));
        let states: Vec<u8> = [
            "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD",
        ]
        .iter()
        .map(|name| Stat::parse(name).unwrap().message_state)
        .collect();
        assert_eq!(states, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn the_receipt_swaps_addresses_and_carries_text_and_tlvs() {
        let sm = submit(b"Your code is 123456. Do not share it.", 0);
        let receipt = Receipt::new(&sm, message_body(&sm), 0xAB12, 1, 1_709_210_096);
        let style = ReceiptStyle {
            stat: Stat::parse("DELIVRD").unwrap(),
            id_format: IdFormat::Hex,
            tlvs: true,
        };
        let command = receipt.to_deliver_sm(9, &style, 1_709_210_160).unwrap();
        assert_eq!(command.sequence_number(), 9);
        let (text, deliver) = text_of(&command);
        assert_eq!(
            text,
            "id:AB12 sub:001 dlvrd:001 submit date:2402291234 done date:2402291236 \
             stat:DELIVRD err:000 text:Your code is 123456."
        );
        assert_eq!(u8::from(deliver.esm_class), 0x04);
        assert_eq!(deliver.source_addr.as_str(), "255712345678");
        assert_eq!(deliver.source_addr_ton, Ton::International);
        assert_eq!(deliver.destination_addr.as_str(), "OTPD");
        let tlvs: Vec<_> = deliver.tlvs().iter().filter_map(|t| t.value()).collect();
        assert!(matches!(tlvs[0], TlvValue::ReceiptedMessageId(id) if id.as_str() == "AB12"));
        assert!(matches!(tlvs[1], TlvValue::MessageState(state) if u8::from(*state) == 2));
    }

    #[test]
    fn decimal_ids_and_no_tlvs() {
        let sm = submit(b"hi", 0);
        let receipt = Receipt::new(&sm, message_body(&sm), 0xAB12, 1, 0);
        let style = ReceiptStyle {
            stat: Stat::parse("UNDELIV").unwrap(),
            id_format: IdFormat::Decimal,
            tlvs: false,
        };
        let command = receipt.to_deliver_sm(1, &style, 0).unwrap();
        let (text, deliver) = text_of(&command);
        assert!(text.starts_with("id:43794 sub:001"), "{text}");
        assert!(text.ends_with("stat:UNDELIV err:000 text:hi"), "{text}");
        assert!(deliver.tlvs().is_empty());
    }

    #[test]
    fn snippets_are_printable_ascii_of_20_chars() {
        let ucs2: Vec<u8> = "Code 1234 ✓ ok"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert_eq!(Snippet::new(&ucs2, 0x08).to_string(), "Code 1234 ? ok");
        assert_eq!(Snippet::new(b"a\nb\xFFc", 0).to_string(), "a?b?c");
        let long = Snippet::new(&[b'x'; 50], 0).to_string();
        assert_eq!(long.len(), 20);
    }

    #[test]
    fn an_empty_short_message_falls_back_to_message_payload() {
        use rusmpp::{
            tlvs::MessageSubmissionRequestTlvValue, types::AnyOctetString, values::MessagePayload,
        };
        let sm = SubmitSm::builder()
            .push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
                MessagePayload::new(AnyOctetString::from_static_slice(b"payload")),
            ))
            .build();
        assert_eq!(message_body(&sm), b"payload");
    }
}
