//! The `sim` channel: a simulated handset inside the process. Every message it is given
//! "arrives" on the phone of its recipient, readable at GET /sim/messages, and a delivery
//! report follows at once. It lets a new user see the whole path with no hardware.

use super::{Channel, DeliveryReport, Health, LinkState, Outgoing, SubmitFuture, SubmitOutcome};
use crate::model::{Clock, DeliveryState, Timestamp};
use crate::secret::Secret;
use std::collections::{HashMap, VecDeque};
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

/// The screens of all simulated phones, shared by every `sim` channel and the API. Indexed
/// by recipient, since tests and benchmarks ask for one phone's messages among thousands.
#[derive(Default)]
pub struct SimPhones {
    inner: Mutex<Screens>,
}

#[derive(Default)]
struct Screens {
    /// Messages by recipient, each with its arrival number, oldest first.
    by_recipient: HashMap<String, VecDeque<(u64, SimMessage)>>,
    /// Recipients in arrival order, to drop the oldest message when full.
    arrivals: VecDeque<String>,
    next: u64,
}

impl SimPhones {
    fn screens(&self) -> std::sync::MutexGuard<'_, Screens> {
        match self.inner.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn receive(&self, message: SimMessage) {
        let mut screens = self.screens();
        if screens.arrivals.len() >= PHONE_MEMORY
            && let Some(oldest) = screens.arrivals.pop_front()
            && let Some(queue) = screens.by_recipient.get_mut(&oldest)
        {
            queue.pop_front();
            if queue.is_empty() {
                screens.by_recipient.remove(&oldest);
            }
        }
        let n = screens.next;
        screens.next += 1;
        screens.arrivals.push_back(message.recipient.clone());
        screens
            .by_recipient
            .entry(message.recipient.clone())
            .or_default()
            .push_back((n, message));
    }

    /// Messages received, oldest first, for one recipient or all.
    pub fn messages(&self, recipient: Option<&str>) -> Vec<SimMessage> {
        let screens = self.screens();
        let mut found: Vec<&(u64, SimMessage)> = match recipient {
            Some(r) => screens.by_recipient.get(r).into_iter().flatten().collect(),
            None => screens.by_recipient.values().flatten().collect(),
        };
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, m)| m.clone()).collect()
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

    #[test]
    fn phones_keep_the_newest_messages_in_order() {
        let phones = SimPhones::default();
        let message = |i: usize| SimMessage {
            recipient: format!("+2557{}", i % 3),
            text: Secret::new(format!("m{i}")),
            received_at: Timestamp(i as i64),
            channel: "sim".into(),
        };
        for i in 0..PHONE_MEMORY + 5 {
            phones.receive(message(i));
        }
        let all = phones.messages(None);
        assert_eq!(all.len(), PHONE_MEMORY);
        assert_eq!(all[0].text.expose(), "m5");
        assert_eq!(
            all.last().unwrap().text.expose(),
            format!("m{}", PHONE_MEMORY + 4)
        );
        let one = phones.messages(Some("+25570"));
        assert!(one.windows(2).all(|w| w[0].received_at < w[1].received_at));
        assert!(one.iter().all(|m| m.recipient == "+25570"));
    }
}
