//! Delivery: from the outbox to the channels and back.
//!
//! - [`dispatcher`]: claims due outbox rows with a lease, draws each code at that moment
//!   (its hash committed before the text exists), hands the text to the first channel that is
//!   up, and records what happened: retry with backoff, fail over to the next channel, or end.
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
