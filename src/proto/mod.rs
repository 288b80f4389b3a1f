//! Pure protocol code: bytes and `now` in, events and bytes out. No tokio, no sockets, no
//! clock (see STYLE.md).
//!
//! - [`smpp`]: SMPP 3.4 client session, PDUs, receipts, message ids and texts.
//! - [`gsm7`]: the GSM 03.38 default alphabet and septet packing.
//! - [`sms`]: GSM 03.40 PDUs: SMS-SUBMIT encoding, SMS-STATUS-REPORT and SMS-DELIVER decoding.
//! - [`modem`]: the modem session: init, registration, one command in flight with a timeout,
//!   sending with AT+CMGS, status reports and stored messages.
//! - [`at`]: modem output cut into final results, information lines, the prompt and
//!   unsolicited results (for the GSM modem channel, which is still to come).

pub mod at;
pub mod gsm7;
pub mod modem;
pub mod smpp;
pub mod sms;

#[cfg(test)]
mod properties;
