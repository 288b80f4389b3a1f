//! The window of submit_sm requests sent and not yet answered.
//!
//! SMPP lets a client send several requests before the first response comes back; the window
//! bounds how many (the SMSC's limit, from config) and remembers, per sequence number, the
//! caller's tag and the deadline after which we give up waiting. Entries leave the window in one
//! of three ways: their response arrives ([`Window::remove`]), their deadline passes
//! ([`Window::expired`]), or the link drops and the caller takes them all back for resubmission
//! ([`Window::drain_all`]).
//!
//! Two indexes are kept so that every operation is O(log n): by sequence number for responses,
//! and by deadline for expiry and for the next timer.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use thiserror::Error;

/// Why a request could not enter the window.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WindowError {
    /// Wait for a response or a timeout before sending more.
    #[error("window full ({capacity} requests in flight)")]
    Full { capacity: usize },
    /// Only possible if a sequence number wrapped around onto a request still in flight.
    #[error("sequence number {sequence} is already in flight")]
    Duplicate { sequence: u32 },
}

/// A request that waited past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub sequence: u32,
    pub tag: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u64,
    deadline: Instant,
}

/// Bounded set of in-flight requests keyed by sequence number.
#[derive(Debug)]
pub struct Window {
    /// Most requests allowed in flight at once.
    capacity: usize,
    /// Sequence number → the caller's tag and our deadline.
    by_sequence: HashMap<u32, Entry>,
    /// (deadline, sequence) → tag, ordered so the earliest deadline comes first.
    by_deadline: BTreeMap<(Instant, u32), u64>,
}

impl Window {
    /// A window of at most `capacity` requests (0 is taken as 1, so the session can still work).
    pub fn new(capacity: usize) -> Window {
        Window {
            capacity: capacity.max(1),
            by_sequence: HashMap::new(),
            by_deadline: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_sequence.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sequence.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    pub fn contains(&self, sequence: u32) -> bool {
        self.by_sequence.contains_key(&sequence)
    }

    /// Adds a request; fails when the window is full or the sequence number is taken.
    pub fn insert(
        &mut self,
        sequence: u32,
        tag: u64,
        deadline: Instant,
    ) -> Result<(), WindowError> {
        if self.is_full() {
            return Err(WindowError::Full {
                capacity: self.capacity,
            });
        }
        if self.contains(sequence) {
            return Err(WindowError::Duplicate { sequence });
        }
        self.by_sequence.insert(sequence, Entry { tag, deadline });
        self.by_deadline.insert((deadline, sequence), tag);
        Ok(())
    }

    /// Takes the request a response answers; `None` for a late or unknown response.
    pub fn remove(&mut self, sequence: u32) -> Option<u64> {
        let entry = self.by_sequence.remove(&sequence)?;
        self.by_deadline.remove(&(entry.deadline, sequence));
        Some(entry.tag)
    }

    /// Removes and returns every request whose deadline is at or before `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<Expired> {
        let mut out = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            let (deadline, sequence) = *entry.key();
            if deadline > now {
                break;
            }
            let tag = entry.remove();
            self.by_sequence.remove(&sequence);
            out.push(Expired { sequence, tag });
        }
        out
    }

    /// The earliest deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline
            .keys()
            .next()
            .map(|(deadline, _)| *deadline)
    }

    /// Empties the window (the link dropped) and returns the tags, earliest deadline first, so
    /// resubmission keeps roughly the original order.
    pub fn drain_all(&mut self) -> Vec<u64> {
        self.by_sequence.clear();
        std::mem::take(&mut self.by_deadline)
            .into_values()
            .collect()
    }
}

#[cfg(test)]
mod tests {

    use std::time::Duration;

    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn insert_until_full_then_remove_frees_a_slot() {
        let t0 = Instant::now();
        let mut w = Window::new(2);
        w.insert(1, 10, t0 + secs(5)).unwrap();
        w.insert(2, 20, t0 + secs(5)).unwrap();
        assert!(w.is_full());
        assert_eq!(w.insert(3, 30, t0), Err(WindowError::Full { capacity: 2 }));
        assert_eq!(w.remove(1), Some(10));
        assert_eq!(
            w.remove(1),
            None,
            "a second response for the same request is late"
        );
        w.insert(3, 30, t0 + secs(5)).unwrap();
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn duplicate_sequence_is_refused() {
        let t0 = Instant::now();
        let mut w = Window::new(4);
        w.insert(7, 1, t0).unwrap();
        assert_eq!(
            w.insert(7, 2, t0),
            Err(WindowError::Duplicate { sequence: 7 })
        );
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn expired_takes_only_entries_at_or_past_their_deadline() {
        let t0 = Instant::now();
        let mut w = Window::new(8);
        // Inserted out of deadline order on purpose.
        w.insert(1, 100, t0 + secs(3)).unwrap();
        w.insert(2, 200, t0 + secs(1)).unwrap();
        w.insert(3, 300, t0 + secs(2)).unwrap();
        assert_eq!(w.next_deadline(), Some(t0 + secs(1)));

        let cases = [
            (t0, vec![]),
            (t0 + secs(2), vec![(2, 200), (3, 300)]),
            (t0 + secs(2), vec![]),
            (t0 + secs(10), vec![(1, 100)]),
        ];
        for (now, want) in cases {
            let got: Vec<_> = w.expired(now).iter().map(|e| (e.sequence, e.tag)).collect();
            assert_eq!(got, want, "at {:?}", now - t0);
        }
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn removed_entries_never_expire() {
        let t0 = Instant::now();
        let mut w = Window::new(8);
        w.insert(1, 100, t0 + secs(1)).unwrap();
        w.remove(1);
        assert!(w.expired(t0 + secs(5)).is_empty());
    }

    #[test]
    fn drain_all_returns_every_tag_in_deadline_order() {
        let t0 = Instant::now();
        let mut w = Window::new(8);
        w.insert(5, 50, t0 + secs(2)).unwrap();
        w.insert(6, 60, t0 + secs(1)).unwrap();
        assert_eq!(w.drain_all(), vec![60, 50]);
        assert!(w.is_empty());
        assert_eq!(w.remove(5), None);
    }

    #[test]
    fn zero_capacity_still_allows_one() {
        let mut w = Window::new(0);
        w.insert(1, 1, Instant::now()).unwrap();
        assert!(w.is_full());
    }
}
