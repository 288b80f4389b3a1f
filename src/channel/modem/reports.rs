//! Matching status reports to sent messages. A report names only the TP-MR the modem gave
//! the part (0–255, wrapping) and the recipient, so a part is found by (reference,
//! recipient) among those sent within [`WINDOW`], newest first. A message of several parts
//! is reported once every part has a final report: delivered if all were, else the first
//! failure.

use crate::model::DeliveryState;
use crate::proto::sms::{ReportOutcome, StatusReport, outcome};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long after the send a report is still matched: longer than any OTP lives.
pub const WINDOW: Duration = Duration::from_secs(48 * 3600);
/// Parts remembered at most; the oldest go first.
const CAPACITY: usize = 65_536;
/// Digits compared: a report may give the number in national form (`0712…`) where the
/// submit had the international one (`+255712…`).
const SIGNIFICANT_DIGITS: usize = 9;

/// The end of a message, as a report tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final {
    pub message_id: String,
    pub state: DeliveryState,
    pub error: Option<String>,
}

struct Part {
    message_id: String,
    sent_at: Instant,
}

struct Message {
    outstanding: usize,
    failure: Option<(DeliveryState, String)>,
}

#[derive(Default)]
pub struct SentParts {
    parts: HashMap<(u8, String), VecDeque<Part>>,
    /// Keys in send order, for expiry and the capacity bound.
    order: VecDeque<((u8, String), Instant)>,
    messages: HashMap<String, Message>,
}

fn key(reference: u8, recipient: &str) -> (u8, String) {
    (reference, significant_digits(recipient))
}

/// The digits of a number that a report and its submit agree on, whatever the form.
pub fn significant_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(SIGNIFICANT_DIGITS);
    digits.iter().skip(start).collect()
}

/// What a report says of its part: `None` while the network is still trying.
pub fn settled(report: &StatusReport) -> Option<(DeliveryState, Option<String>)> {
    match outcome(report.status) {
        ReportOutcome::Delivered => Some((DeliveryState::Delivered, None)),
        ReportOutcome::Pending => None,
        ReportOutcome::Failed => Some((
            DeliveryState::Undelivered,
            Some(format!("status report TP-ST {:#04x}", report.status)),
        )),
    }
}

impl SentParts {
    /// A message of `parts` parts is on its way under `message_id`.
    pub fn expect(&mut self, message_id: &str, parts: usize) {
        self.messages.insert(
            message_id.to_owned(),
            Message {
                outstanding: parts,
                failure: None,
            },
        );
    }

    /// The modem took one part of `message_id` under `reference`.
    pub fn sent(&mut self, message_id: &str, reference: u8, recipient: &str, now: Instant) {
        self.expire(now);
        while self.order.len() >= CAPACITY {
            self.forget_oldest();
        }
        let key = key(reference, recipient);
        self.parts.entry(key.clone()).or_default().push_back(Part {
            message_id: message_id.to_owned(),
            sent_at: now,
        });
        self.order.push_back((key, now));
    }

    /// Whether a part sent to `report`'s recipient under its reference is remembered (and
    /// not aged out).
    pub fn knows(&mut self, report: &StatusReport, now: Instant) -> bool {
        self.expire(now);
        self.parts
            .contains_key(&key(report.reference, &report.recipient))
    }

    /// The message's end once `report` settles its last part; `None` while the network is
    /// still trying, parts are outstanding, or nothing sent matches.
    pub fn report(&mut self, report: &StatusReport, now: Instant) -> Option<Final> {
        self.expire(now);
        let (state, error) = settled(report)?;
        let key = key(report.reference, &report.recipient);
        let queue = self.parts.get_mut(&key)?;
        let part = queue.pop_back()?;
        if queue.is_empty() {
            self.parts.remove(&key);
        }
        let message = self.messages.get_mut(&part.message_id)?;
        message.outstanding = message.outstanding.saturating_sub(1);
        if let (Some(error), None) = (error, &message.failure) {
            message.failure = Some((state, error));
        }
        if message.outstanding > 0 {
            return None;
        }
        let message = self.messages.remove(&part.message_id)?;
        Some(match message.failure {
            Some((state, error)) => Final {
                message_id: part.message_id,
                state,
                error: Some(error),
            },
            None => Final {
                message_id: part.message_id,
                state: DeliveryState::Delivered,
                error: None,
            },
        })
    }

    /// Whether a part sent at or after `since` still waits for its status report (at
    /// shutdown, the link gives those a moment to come).
    pub fn awaiting_since(&self, since: Instant) -> bool {
        self.parts.values().flatten().any(|p| p.sent_at >= since)
    }

    /// Parts remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    fn expire(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > WINDOW)
        {
            self.forget_oldest();
        }
    }

    /// Drops the oldest remembered part (a report that never came).
    fn forget_oldest(&mut self) {
        let Some((key, at)) = self.order.pop_front() else {
            return;
        };
        if let Some(queue) = self.parts.get_mut(&key) {
            if let Some(i) = queue.iter().position(|p| p.sent_at == at)
                && let Some(part) = queue.remove(i)
            {
                self.messages.remove(&part.message_id);
            }
            if queue.is_empty() {
                self.parts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reference: u8, recipient: &str, status: u8) -> StatusReport {
        StatusReport {
            reference,
            recipient: recipient.into(),
            service_centre_time: String::new(),
            discharge_time: String::new(),
            status,
        }
    }

    #[test]
    fn a_report_finds_its_message_by_reference_and_recipient() {
        let now = Instant::now();
        let mut sent = SentParts::default();
        sent.expect("a", 1);
        sent.sent("a", 7, "+255712345678", now);
        sent.expect("b", 1);
        sent.sent("b", 7, "+255700000001", now);
        assert_eq!(sent.report(&report(8, "+255712345678", 0), now), None);
        let got = sent.report(&report(7, "0712345678", 0), now).unwrap();
        assert_eq!(got.message_id, "a");
        assert_eq!(got.state, DeliveryState::Delivered);
        let got = sent.report(&report(7, "+255700000001", 0x41), now).unwrap();
        assert_eq!(got.message_id, "b");
        assert_eq!(got.state, DeliveryState::Undelivered);
        assert!(got.error.unwrap().contains("0x41"));
        assert_eq!(
            sent.len(),
            2,
            "the send order keeps both until they age out"
        );
        assert_eq!(sent.report(&report(7, "+255712345678", 0), now), None);
    }

    #[test]
    fn only_recent_parts_without_a_report_are_awaited() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(10);
        let mut sent = SentParts::default();
        sent.expect("old", 1);
        sent.sent("old", 1, "+255712345678", t0);
        assert!(sent.awaiting_since(t0));
        assert!(!sent.awaiting_since(t1));
        sent.expect("new", 1);
        sent.sent("new", 2, "+255712345678", t1);
        assert!(sent.awaiting_since(t1));
        sent.report(&report(2, "+255712345678", 0), t1).unwrap();
        assert!(!sent.awaiting_since(t1));
    }

    #[test]
    fn the_newest_send_wins_and_old_ones_age_out() {
        let t0 = Instant::now();
        let mut sent = SentParts::default();
        sent.expect("old", 1);
        sent.sent("old", 3, "+255712345678", t0);
        let t1 = t0 + WINDOW + Duration::from_secs(1);
        sent.expect("new", 1);
        sent.sent("new", 3, "+255712345678", t1);
        assert_eq!(sent.len(), 1);
        let got = sent.report(&report(3, "+255712345678", 0), t1).unwrap();
        assert_eq!(got.message_id, "new");
        assert_eq!(sent.report(&report(3, "+255712345678", 0), t1), None);
    }

    #[test]
    fn a_long_message_ends_with_its_last_part() {
        let now = Instant::now();
        let mut sent = SentParts::default();
        sent.expect("m", 3);
        for r in [10, 11, 12] {
            sent.sent("m", r, "+255712345678", now);
        }
        // Still trying (TP-ST 0x20): not final.
        assert_eq!(sent.report(&report(10, "+255712345678", 0x20), now), None);
        assert_eq!(sent.report(&report(10, "+255712345678", 0), now), None);
        assert_eq!(sent.report(&report(11, "+255712345678", 0x60), now), None);
        let got = sent.report(&report(12, "+255712345678", 0), now).unwrap();
        assert_eq!(got.state, DeliveryState::Undelivered);
    }

    #[test]
    fn a_report_about_a_part_never_sent_here_is_unknown_not_waiting() {
        let now = Instant::now();
        let mut sent = SentParts::default();
        sent.expect("m", 1);
        sent.sent("m", 5, "+255712345678", now);
        assert!(sent.knows(&report(5, "0712345678", 0), now));
        assert!(!sent.knows(&report(6, "+255712345678", 0), now));
        assert!(!sent.knows(&report(5, "+255700000001", 0), now));
        assert!(!sent.knows(
            &report(5, "+255712345678", 0),
            now + WINDOW + Duration::from_secs(1)
        ));
        assert_eq!(
            settled(&report(6, "+255712345678", 0x20)),
            None,
            "still trying"
        );
        assert_eq!(
            settled(&report(6, "+255712345678", 0)),
            Some((DeliveryState::Delivered, None))
        );
        assert_eq!(significant_digits("+255 712-345-678"), "712345678");
        assert_eq!(significant_digits("0712345678"), "712345678");
    }
}
