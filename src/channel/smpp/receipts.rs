//! Delivery receipts: a deliver_sm turned into (message id, delivery state, error), from the
//! receipted_message_id / message_state TLVs when the SMSC sends them, else from the
//! "id: ... stat: ... err: ..." text.

use crate::model::DeliveryState;
use crate::proto::smpp::receipt::{self, ReceiptState};

/// What a receipt says about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedReceipt {
    /// As the SMSC wrote it; the link matches it to what it submitted (see `ids`).
    pub message_id: String,
    pub state: DeliveryState,
    pub error: Option<String>,
}

pub fn state(s: ReceiptState) -> DeliveryState {
    match s {
        ReceiptState::Delivered => DeliveryState::Delivered,
        ReceiptState::Undeliverable | ReceiptState::Deleted | ReceiptState::Skipped => {
            DeliveryState::Undelivered
        }
        ReceiptState::Expired => DeliveryState::Expired,
        ReceiptState::Rejected => DeliveryState::Rejected,
        ReceiptState::Unknown => DeliveryState::Unknown,
        // Still on its way (or taken by the operator for later delivery): not final.
        ReceiptState::Accepted | ReceiptState::Enroute => DeliveryState::Submitted,
    }
}

/// Reads a deliver_sm; `None` when it is not a receipt (an incoming message).
pub fn parse(
    esm_class: u8,
    short_message: &[u8],
    receipted_message_id: Option<&str>,
    message_state: Option<u8>,
    network_error: Option<&[u8]>,
) -> Option<ParsedReceipt> {
    let is_receipt_class = esm_class & 0x3C == 0x04 || esm_class & 0x3C == 0x08;
    let text = receipt::parse(short_message);
    // Only what the SMSC marks as a receipt: an incoming SMS whose text looks like one must
    // not be able to mark our messages delivered.
    if !is_receipt_class && receipted_message_id.is_none() {
        return None;
    }
    let id = receipted_message_id
        .map(str::to_string)
        .or_else(|| text.as_ref().and_then(|t| t.id.clone()))?;
    let tlv_state = message_state.and_then(ReceiptState::from_message_state);
    let receipt_state = tlv_state.or_else(|| text.as_ref().and_then(|t| t.stat))?;
    let error = match (&text, network_error) {
        (_, Some(bytes)) if !bytes.is_empty() && bytes.iter().any(|b| *b != 0) => {
            Some(format!("network error {}", hex(bytes)))
        }
        // Only the error code itself ("err:000" is no error): an SMSC that glues "text:" to
        // it would otherwise put the start of the message, the code, into the record.
        (Some(t), _) => t
            .err
            .as_deref()
            .map(error_code)
            .filter(|e| !e.trim_start_matches('0').is_empty()),
        _ => None,
    }
    .map(|e| {
        if e.starts_with("network") {
            e
        } else {
            format!("err:{e}")
        }
    });
    Some(ParsedReceipt {
        message_id: id,
        state: state(receipt_state),
        error,
    })
}

/// The error code at the start of an `err:` value: its letters and digits, without a "text"
/// glued on after it, at most 8.
fn error_code(err: &str) -> String {
    let code: String = err
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let code = match code.to_ascii_lowercase().find("text") {
        Some(at) => code.get(..at).unwrap_or_default().to_string(),
        None => code,
    };
    code.chars().take(8).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlvs_win_over_the_text() {
        let r = parse(
            0x04,
            b"id:1 stat:UNDELIV err:001",
            Some("0A1B"),
            Some(2),
            None,
        )
        .unwrap();
        assert_eq!(r.state, DeliveryState::Delivered);
        assert_eq!(r.message_id, "0A1B");
    }

    #[test]
    fn the_text_is_enough() {
        let text = b"id:0123ab sub:001 dlvrd:000 submit date:2311221200 done date:2311221201 stat:UNDELIV err:034 text:x";
        let r = parse(0x04, text, None, None, None).unwrap();
        assert_eq!(r.state, DeliveryState::Undelivered);
        assert_eq!(r.error.as_deref(), Some("err:034"));
        let ok = parse(0x04, b"id:5 stat:DELIVRD err:000", None, None, None).unwrap();
        assert_eq!((ok.state, ok.error), (DeliveryState::Delivered, None));
    }

    #[test]
    fn a_glued_text_never_reaches_the_error() {
        let r = parse(
            0x04,
            b"id:5 stat:UNDELIV err:034text:Your code is 123456",
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.error.as_deref(), Some("err:034"));
    }

    #[test]
    fn an_incoming_sms_that_looks_like_a_receipt_is_not_one() {
        assert_eq!(
            parse(0x00, b"id:5 stat:DELIVRD err:000", None, None, None),
            None
        );
    }

    #[test]
    fn an_incoming_message_is_not_a_receipt() {
        assert_eq!(parse(0x00, b"hello there", None, None, None), None);
    }
}
