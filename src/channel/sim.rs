//! The `sim` channel: a simulated handset inside the process. Every message it is given
//! "arrives" on the phone of its recipient, readable at GET /sim/messages, and a delivery
//! report follows at once. It lets a new user see the whole path with no hardware.

use super::{Channel, DeliveryReport, Health, LinkState, Outgoing, SubmitFuture, SubmitOutcome};
use crate::model::{Clock, DeliveryState, Timestamp};
use crate::secret::Secret;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Messages the simulated phones keep, oldest dropped first, so a benchmark cannot grow the
/// process without bound.
pub const PHONE_MEMORY: usize = 20_000;

/// A message as the simulated phone shows it.
#[derive(Debug, Clone)]
pub struct SimMessage {
    pub recipient: String,
    pub text: Secret,
    pub received_at: Timestamp,
    pub channel: String,
}

/// The screens of all simulated phones, shared by every `sim` channel and the API.
#[derive(Default)]
pub struct SimPhones {
    messages: Mutex<VecDeque<SimMessage>>,
}

impl SimPhones {
    fn receive(&self, message: SimMessage) {
        let mut messages = match self.messages.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if messages.len() >= PHONE_MEMORY {
            messages.pop_front();
        }
        messages.push_back(message);
    }

    /// Messages received, oldest first, for one recipient or all.
    pub fn messages(&self, recipient: Option<&str>) -> Vec<SimMessage> {
        let messages = match self.messages.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        messages
            .iter()
            .filter(|m| recipient.is_none_or(|r| m.recipient == r))
            .cloned()
            .collect()
    }
}

pub struct SimChannel {
    name: String,
    phones: Arc<SimPhones>,
    reports: mpsc::Sender<DeliveryReport>,
    clock: Arc<dyn Clock>,
    next_id: AtomicU64,
}

impl SimChannel {
    pub fn new(
        name: String,
        phones: Arc<SimPhones>,
        reports: mpsc::Sender<DeliveryReport>,
        clock: Arc<dyn Clock>,
    ) -> SimChannel {
        // Ids differ across restarts, as an SMSC's do, so a report of an earlier run can
        // never match a message of this one.
        let start = (clock.now().0 as u64) << 20;
        SimChannel {
            name,
            phones,
            reports,
            clock,
            next_id: AtomicU64::new(start),
        }
    }
}

impl Channel for SimChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "sim"
    }

    fn health(&self) -> Health {
        Health {
            state: LinkState::Up,
            last_error: None,
        }
    }

    fn submit(&self, message: Outgoing) -> SubmitFuture {
        let now = self.clock.now();
        let message_id = format!("{:x}", self.next_id.fetch_add(1, Ordering::Relaxed));
        self.phones.receive(SimMessage {
            recipient: message.recipient,
            text: message.text,
            received_at: now,
            channel: self.name.clone(),
        });
        let report = DeliveryReport {
            channel: self.name.clone(),
            message_id: message_id.clone(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
        };
        let reports = self.reports.clone();
        Box::pin(async move {
            // The report goes after the outcome, as a network's would; the dispatcher holds
            // reports that overtake the record of their submit.
            tokio::spawn(async move {
                let _ = reports.send(report).await;
            });
            SubmitOutcome::Accepted { message_id }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::SystemClock;

    #[tokio::test]
    async fn a_message_reaches_the_phone_and_is_reported_delivered() {
        let phones = Arc::new(SimPhones::default());
        let (tx, mut rx) = mpsc::channel(4);
        let sim = SimChannel::new("sim".into(), phones.clone(), tx, Arc::new(SystemClock));
        let outcome = sim
            .submit(Outgoing {
                verification_id: "v".into(),
                recipient: "+255712345678".into(),
                sender: None,
                text: Secret::new("code 123456".into()),
                validity: std::time::Duration::from_secs(60),
            })
            .await;
        let SubmitOutcome::Accepted { message_id } = outcome else {
            panic!("{outcome:?}")
        };
        let report = rx.recv().await.unwrap();
        assert_eq!(report.message_id, message_id);
        assert_eq!(report.state, DeliveryState::Delivered);
        let got = phones.messages(Some("+255712345678"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text.expose(), "code 123456");
        assert!(phones.messages(Some("+255700000000")).is_empty());
    }
}
