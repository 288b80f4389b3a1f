//! Pure protocol code: bytes and `now` in, events and bytes out. No tokio, no sockets, no
//! clock (see STYLE.md).
//!
//! - [`smpp`]: SMPP 3.4 client session, PDUs, receipts, message ids and texts.
//! - [`gsm7`]: the GSM 03.38 default alphabet and septet packing.

pub mod gsm7;
pub mod smpp;
