//! Channels: the I/O tasks that carry messages out and bring delivery reports back.
//!
//! The dispatcher sees every channel through [`Channel`]: it hands over an [`Outgoing`]
//! message and gets a [`SubmitOutcome`]; reports arrive later on the shared report queue.
//! Kinds: `smpp`, `modem` (a GSM modem on a serial port) and `sim` (a simulated modem in the
//! process, driven through the same AT path).

pub mod modem;
pub mod sim;
pub mod smpp;

use crate::model::{DeliveryState, Timestamp};
use crate::secret::Secret;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A message on its way out. `text` holds the code: it lives in memory only.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub verification_id: String,
    pub recipient: String,
    pub sender: Option<String>,
    pub text: Secret,
    /// How long the network should keep trying: a code arriving after it expired is useless.
    pub validity: Duration,
}

/// What a channel did with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Taken by the network under this id; a report may follow.
    Accepted { message_id: String },
    /// Not now (throttled, queue full, timed out): try this channel again after `after`.
    Retry { after: Duration, error: String },
    /// This channel cannot take it (down, broken): try the next channel.
    Failover { error: String },
    /// No channel will do better (invalid destination and the like): the message ends in
    /// `state`.
    Reject { state: DeliveryState, error: String },
}

/// A delivery report from the network about an accepted message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    pub channel: String,
    /// The message's id, as the channel gave it when it accepted the message; empty when
    /// `by_reference` names the message instead.
    pub message_id: String,
    pub state: DeliveryState,
    pub error: Option<String>,
    pub at: Timestamp,
    /// Called once the report is recorded; the channel acknowledges it to the network then.
    pub recorded: OnRecorded,
    /// A modem's status report about a message the link no longer remembers (sent before a
    /// restart): the store finds it by what the report names.
    pub by_reference: Option<ModemReference>,
}

/// What a GSM status report names of its message: the TP-MR the modem gave its first part
/// and the recipient. A modem channel's message ids are `"{reference}@{ms}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemReference {
    pub reference: u8,
    /// The recipient's last digits (a report may give the number in national form).
    pub digits: String,
    /// Only a message submitted since then matches (the reference wraps after 256 sends).
    pub since: Timestamp,
    /// ... and before this: what the link sent since it began, it remembers itself (a part it
    /// has forgotten was reported already, or is a part of a long message still waiting).
    pub before: Timestamp,
}

/// What a channel wants done once a report of its is recorded (committed, or held until the
/// submit it names is): an SMPP link answers the receipt's deliver_sm only then, so a crash
/// before the record leaves it unanswered and the SMSC sends it again. Called at most once;
/// the default does nothing.
#[derive(Clone, Default)]
pub struct OnRecorded(Option<Arc<RecordedOnce>>);

pub struct RecordedOnce {
    done: std::sync::atomic::AtomicBool,
    call: Box<dyn Fn() + Send + Sync>,
}

impl OnRecorded {
    pub fn new(call: impl Fn() + Send + Sync + 'static) -> OnRecorded {
        OnRecorded(Some(Arc::new(RecordedOnce {
            done: std::sync::atomic::AtomicBool::new(false),
            call: Box::new(call),
        })))
    }

    pub fn call(&self) {
        if let Some(once) = &self.0
            && !once.done.swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            (once.call)();
        }
    }
}

impl std::fmt::Debug for OnRecorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "OnRecorded(..)"
        } else {
            "OnRecorded(none)"
        })
    }
}

/// Reports compare by what they say; who waits for their record is not part of it.
impl PartialEq for OnRecorded {
    fn eq(&self, _: &OnRecorded) -> bool {
        true
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Up,
    Connecting,
    Down,
}

/// A channel's state for /readyz and for the dispatcher's choice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Health {
    pub state: LinkState,
    pub last_error: Option<String>,
}

/// Messages a channel holds and how many it takes before the next channel should help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub busy: usize,
    pub preferred: usize,
}

pub type SubmitFuture = Pin<Box<dyn Future<Output = SubmitOutcome> + Send>>;

pub trait Channel: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> &'static str;
    fn health(&self) -> Health;
    /// How busy the channel is, for a channel that sends one message at a time (a modem);
    /// `None`: it takes whatever it is given (SMPP has its own window). The dispatcher picks
    /// the first channel up with room, and when none has room the least busy one.
    fn load(&self) -> Option<Load> {
        None
    }
    /// Hands a message to the channel. The future resolves once the channel knows whether
    /// the network took it.
    fn submit(&self, message: Outgoing) -> SubmitFuture;
}
