//! SMPP 3.4 client (ESME) protocol, sans-IO: bytes and `now` in, PDUs and events out.
//!
//! | file | owns |
//! |---|---|
//! | `frame.rs` | cutting the byte stream into PDUs by command_length; fatal length errors |
//! | `pdu.rs` | the PDUs we send, built with rusmpp (3.4 interface_version, esm_class 0) |
//! | `incoming.rs` | decoding one PDU for the session; which ones get a generic_nack |
//! | `deliver.rs` | the deliver_sm fields and receipt TLVs handed to the caller |
//! | `submit.rs` | the caller's submit request and the relative validity format |
//! | `window.rs` | in-flight submit_sm by sequence number, with deadlines |
//! | `session.rs` | the state machine: bind, submit, enquire_link, unbind, timeouts |
//! | `session/inbound.rs` | what the session does with each PDU from the peer |
//!
//! rusmpp supplies every PDU type and their encoders and decoders. We do our own framing (not
//! its tokio codec) so that one PDU with a bad body gets a generic_nack instead of ending the
//! stream, and so that this module needs no runtime.

pub mod deliver;
pub mod frame;
pub mod incoming;
pub mod message_id;
pub mod pdu;
pub mod receipt;
mod session;
pub mod submit;
pub mod text;
pub mod window;

pub use pdu::BindKind;
pub use session::{Event, Session, SessionConfig, State, SubmitError};
pub use submit::{Address, OptionalTlv, Submit, relative_validity};
