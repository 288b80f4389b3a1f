//! What the simulator counts, for tests and benchmarks to assert on.
//!
//! Counters are relaxed atomics: each is read on its own by [`Counters::snapshot`], and no
//! test needs two of them to agree to the message. The log of received messages sits behind
//! a mutex that is held only to push or copy, never across an await.

use std::{
    collections::VecDeque,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

/// The most messages [`Stats::messages`] keeps; the oldest go first, so a long benchmark
/// does not grow without bound and a test still finds the latest message to a number.
pub const MESSAGE_LOG_CAP: usize = 100_000;

/// A snapshot of the simulator's counters, taken by [`super::SmscSim::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Binds answered with ESME_ROK.
    pub binds_ok: u64,
    /// Binds answered with an error (wrong system_id or password, `--refuse-binds`,
    /// already bound).
    pub binds_refused: u64,
    /// Every `submit_sm` received, answered or not.
    pub submits: u64,
    /// `submit_sm` accepted with a message id.
    pub submits_ok: u64,
    /// `submit_sm` answered with ESME_RTHROTTLED (`--throttle-every`).
    pub throttled: u64,
    /// `submit_sm` answered with ESME_RMSGQFUL (`--queue-full-every`).
    pub queue_full: u64,
    /// `submit_sm` answered with any other error: ESME_RINVDSTADR (`--reject-every`) or
    /// ESME_RINVBNDSTS (not bound as a transmitter).
    pub rejected: u64,
    /// `deliver_sm` receipts written to a connection (a receipt sent again after a
    /// reconnect counts again).
    pub receipts_sent: u64,
    /// Receipts answered with a `deliver_sm_resp` of ESME_ROK.
    pub receipts_acked: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Accepted messages, oldest first: destination address, the `short_message` bytes (or
    /// the `message_payload` TLV when short_message is empty) and the data_coding. At most
    /// [`MESSAGE_LOG_CAP`] entries.
    pub messages: Vec<(String, Vec<u8>, u8)>,
}

/// The live counters behind [`Stats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub binds_ok: AtomicU64,
    pub binds_refused: AtomicU64,
    pub submits: AtomicU64,
    pub submits_ok: AtomicU64,
    pub throttled: AtomicU64,
    pub queue_full: AtomicU64,
    pub rejected: AtomicU64,
    pub receipts_sent: AtomicU64,
    pub receipts_acked: AtomicU64,
    pub connections: AtomicU64,
    messages: Mutex<VecDeque<(String, Vec<u8>, u8)>>,
}

/// Adds one to a counter.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Remembers an accepted message. The copies are the point: the caller's bytes belong
    /// to the read buffer, which must not stay pinned by a log that lives for the run.
    pub fn record_message(&self, destination: &str, body: &[u8], data_coding: u8) {
        let entry = (destination.to_owned(), body.to_vec(), data_coding);
        // A panic elsewhere while holding this lock cannot leave the log half-written
        // (push and pop are whole), so a poisoned lock is still good to use.
        let mut log = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= MESSAGE_LOG_CAP {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn snapshot(&self) -> Stats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let messages = self
            .messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        Stats {
            binds_ok: get(&self.binds_ok),
            binds_refused: get(&self.binds_refused),
            submits: get(&self.submits),
            submits_ok: get(&self.submits_ok),
            throttled: get(&self.throttled),
            queue_full: get(&self.queue_full),
            rejected: get(&self.rejected),
            receipts_sent: get(&self.receipts_sent),
            receipts_acked: get(&self.receipts_acked),
            connections: get(&self.connections),
            messages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_snapshot() {
        let counters = Counters::default();
        bump(&counters.submits);
        bump(&counters.submits);
        bump(&counters.throttled);
        let stats = counters.snapshot();
        assert_eq!(stats.submits, 2);
        assert_eq!(stats.throttled, 1);
        assert_eq!(stats.submits_ok, 0);
    }

    #[test]
    fn the_message_log_keeps_the_latest_entries() {
        let counters = Counters::default();
        for i in 0..MESSAGE_LOG_CAP + 2 {
            counters.record_message(&format!("+{i}"), b"hi", 0);
        }
        let stats = counters.snapshot();
        assert_eq!(stats.messages.len(), MESSAGE_LOG_CAP);
        assert_eq!(stats.messages[0].0, "+2");
        let last = stats.messages.last().unwrap();
        assert_eq!(last.0, format!("+{}", MESSAGE_LOG_CAP + 1));
        assert_eq!((last.1.as_slice(), last.2), (&b"hi"[..], 0));
    }
}
