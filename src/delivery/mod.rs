//! Delivery: from the outbox to the channels and back.
//!
//! - [`dispatcher`]: takes the messages sends hand over as they commit them, and claims due
//!   outbox rows with a lease (drawing each code then); a code's hash is always committed
//!   before its text exists. It hands the text to the first channel that is up, and records
//!   what happened: retry with backoff, fail over to the next channel, or end.
//! - `choice`: which channel takes a message now (pure).
//! - [`reports`]: applies delivery reports to the messages they name, holding those that
//!   overtake the record of their submit.
//! - [`sweeper`]: expires pending verifications whose time is up.
//! - [`router`]: which channels may carry a message (pure).

mod choice;
pub mod dispatcher;
pub mod reports;
pub mod router;
pub mod sweeper;

pub use dispatcher::Dispatcher;
