//! What the simulated modem remembers about messages: the status reports in its memory
//! (`AT+CMGR` / `AT+CMGL` / `AT+CMGD`), and the parts of concatenated messages the
//! "network" holds until the last one arrives and the handset shows the whole text.

use std::collections::VecDeque;
use std::fmt;

use crate::proto::sms::{Concat, EncodedPdu};

/// Slots of the message memory, as on a small SIM.
pub(super) const CAPACITY: usize = 30;
/// Concatenated messages waiting for parts; beyond this the oldest is forgotten, as a
/// handset gives up on parts that never come.
const MAX_PENDING: usize = 32;

/// A status report, as built for `+CDS` and kept for `AT+CMGR`.
#[derive(Debug, Clone)]
pub(super) struct Report {
    /// With the SMSC part in front.
    pub pdu: EncodedPdu,
    pub reference: u8,
    pub recipient: String,
    pub status: u8,
}

/// One slot of the memory.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// Read once with `AT+CMGR` / `AT+CMGL`: stat 1 ("REC READ") instead of 0.
    pub read: bool,
    pub report: Report,
}

/// The message memory: indexes 1 to [`CAPACITY`].
#[derive(Debug, Default)]
pub(super) struct Storage {
    slots: Vec<Option<Stored>>,
}

/// An index outside 1 to [`CAPACITY`]: `+CMS ERROR: 321`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadIndex;

impl Storage {
    /// Keeps `report` in the lowest free slot; `None` when the memory is full.
    pub fn put(&mut self, report: Report) -> Option<u32> {
        let stored = Stored {
            read: false,
            report,
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.slots.len() < CAPACITY => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return None,
        };
        *self.slots.get_mut(slot)? = Some(stored);
        u32::try_from(slot + 1).ok()
    }

    fn slot(&mut self, index: u32) -> Result<&mut Option<Stored>, BadIndex> {
        let i = usize::try_from(index).map_err(|_| BadIndex)?;
        if i == 0 || i > CAPACITY {
            return Err(BadIndex);
        }
        if self.slots.len() < i {
            self.slots.resize(i, None);
        }
        self.slots.get_mut(i - 1).ok_or(BadIndex)
    }

    /// The message at `index`, marked read; `Ok(None)` for an empty slot.
    pub fn read(&mut self, index: u32) -> Result<Option<Stored>, BadIndex> {
        let slot = self.slot(index)?;
        let found = slot.clone();
        if let Some(stored) = slot {
            stored.read = true;
        }
        Ok(found)
    }

    pub fn delete(&mut self, index: u32) -> Result<(), BadIndex> {
        *self.slot(index)? = None;
        Ok(())
    }

    /// Deletes every message `which` selects (by its read flag).
    pub fn delete_where(&mut self, which: impl Fn(&Stored) -> bool) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(&which) {
                *slot = None;
            }
        }
    }

    /// The messages `which` selects, with their indexes, marking them read.
    pub fn list(&mut self, which: impl Fn(&Stored) -> bool) -> Vec<(u32, Stored)> {
        let mut out = Vec::new();
        for (slot, index) in self.slots.iter_mut().zip(1u32..) {
            if let Some(stored) = slot.as_mut().filter(|s| which(s)) {
                out.push((index, stored.clone()));
                stored.read = true;
            }
        }
        out
    }

    pub fn used(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// Parts of concatenated messages, by recipient and reference.
#[derive(Default)]
pub(super) struct Reassembly {
    pending: VecDeque<Pending>,
}

struct Pending {
    recipient: String,
    reference: u16,
    parts: Vec<Option<String>>,
}

impl fmt::Debug for Reassembly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the texts: only how many messages wait for parts.
        f.debug_struct("Reassembly")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Reassembly {
    /// Takes one part; returns the whole text when `part` completes a message (at once for
    /// a message that is not concatenated).
    pub fn add(&mut self, recipient: &str, text: String, concat: Option<Concat>) -> Option<String> {
        let Some(concat) = concat.filter(|c| c.total > 1) else {
            return Some(text);
        };
        let at = self.pending.iter().position(|p| {
            p.recipient == recipient
                && p.reference == concat.reference
                && p.parts.len() == usize::from(concat.total)
        });
        let at = match at {
            Some(at) => at,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.pop_front();
                }
                self.pending.push_back(Pending {
                    recipient: recipient.to_owned(),
                    reference: concat.reference,
                    parts: vec![None; usize::from(concat.total)],
                });
                self.pending.len() - 1
            }
        };
        let pending = self.pending.get_mut(at)?;
        // A repeated part replaces the earlier copy, as a retransmission would.
        *pending
            .parts
            .get_mut(usize::from(concat.seq).checked_sub(1)?)? = Some(text);
        if pending.parts.iter().any(Option::is_none) {
            return None;
        }
        let done = self.pending.remove(at)?;
        Some(done.parts.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reference: u8) -> Report {
        Report {
            pdu: EncodedPdu {
                hex: String::new(),
                tpdu_len: 0,
            },
            reference,
            recipient: "+1".into(),
            status: 0,
        }
    }

    #[test]
    fn storage_slots() {
        let mut s = Storage::default();
        assert_eq!(s.put(report(1)), Some(1));
        assert_eq!(s.put(report(2)), Some(2));
        assert!(!s.read(1).unwrap().unwrap().read);
        assert!(s.read(1).unwrap().unwrap().read);
        assert!(s.read(3).unwrap().is_none());
        assert_eq!(s.read(0).err(), Some(BadIndex));
        assert_eq!(s.read(31).err(), Some(BadIndex));
        s.delete(1).unwrap();
        assert_eq!(s.put(report(3)), Some(1), "the lowest free slot");
        assert_eq!(s.list(|m| !m.read).len(), 2);
        assert_eq!(s.list(|_| true).len(), 2);
        s.delete_where(|m| m.read);
        assert_eq!(s.used(), 0);
        for i in 0..CAPACITY {
            assert!(s.put(report(i as u8)).is_some());
        }
        assert_eq!(s.put(report(0)), None, "full");
        assert_eq!(s.delete(99), Err(BadIndex));
    }

    #[test]
    fn reassembly_in_any_order() {
        let c = |reference, seq| {
            Some(Concat {
                reference,
                total: 3,
                seq,
            })
        };
        let mut r = Reassembly::default();
        assert_eq!(r.add("+1", "whole".into(), None), Some("whole".into()));
        assert_eq!(r.add("+1", "c".into(), c(5, 3)), None);
        assert_eq!(r.add("+2", "X".into(), c(5, 1)), None, "another recipient");
        assert_eq!(r.add("+1", "a".into(), c(5, 1)), None);
        assert_eq!(r.add("+1", "b".into(), c(5, 2)), Some("abc".into()));
        assert!(!format!("{r:?}").contains('X'));
        // One part of one: not waited on.
        let single = Some(Concat {
            reference: 1,
            total: 1,
            seq: 1,
        });
        assert_eq!(r.add("+1", "x".into(), single), Some("x".into()));
        for i in 0..MAX_PENDING as u16 + 5 {
            r.add("+3", "p".into(), c(i, 1));
        }
        assert_eq!(r.pending.len(), MAX_PENDING);
    }
}
