//! The `sim` channel: a simulated GSM modem inside the process, driven by the real modem
//! driver over AT commands and PDUs. Every message it sends "arrives" on the phone of its
//! recipient, readable at GET /sim/messages, and a status report follows. It lets a new user
//! see the whole path with no hardware, and makes every test exercise the modem driver.

use super::DeliveryReport;
use super::modem::device::Stream;
use super::modem::{Device, ModemChannel, Setup, Timing};
use crate::model::{Clock, Timestamp};
use crate::modem_sim;
use crate::proto::modem::ModemConfig;
use crate::secret::Secret;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

/// A `sim` channel: the real modem driver talking AT commands to a simulated modem inside
/// the process. What the modem sends lands on [`SimPhones`], decoded from its PDUs; status
/// reports come back through the driver as from a real network.
pub fn start(
    name: String,
    phones: Arc<SimPhones>,
    modem: modem_sim::Config,
    reports: mpsc::Sender<DeliveryReport>,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> (ModemChannel, tokio::task::JoinHandle<()>) {
    // The simulated modem lives until the driver closes the device, not until the stop: at
    // shutdown the driver waits for the status reports of its last sends, which the modem
    // must still be there to send.
    let device = simulated_modem(
        &name,
        phones,
        modem,
        clock.clone(),
        CancellationToken::new(),
    );
    let setup = Setup {
        name,
        kind: "sim",
        device,
        session: ModemConfig {
            escape_settle: Duration::from_millis(20),
            // The backlog waits in the driver's queue either way; a deeper session queue
            // keeps the in-process modem busy under a benchmark's load.
            max_queued_sends: 64,
            ..ModemConfig::default()
        },
        keepalive: Duration::from_secs(60),
        timing: Timing::default(),
        preferred_load: usize::MAX,
    };
    ModemChannel::start(setup, reports, clock, stop)
}

/// A device whose every open powers up a simulated modem in the process, delivering to
/// `phones` as channel `name`.
pub fn simulated_modem(
    name: &str,
    phones: Arc<SimPhones>,
    modem: modem_sim::Config,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> Device {
    let name = name.to_owned();
    let connect = move || -> std::io::Result<Stream> {
        let (near, far) = tokio::io::duplex(64 * 1024);
        let (name, phones, clock) = (name.clone(), phones.clone(), clock.clone());
        let mut config = modem.clone();
        config.wall_clock = std::time::SystemTime::now();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut modem = modem_sim::Modem::new(config, tokio::time::Instant::now().into_std());
            let arrive = |d: modem_sim::Delivered| {
                phones.receive(SimMessage {
                    recipient: d.recipient,
                    text: Secret::new(d.text),
                    received_at: clock.now(),
                    channel: name.clone(),
                });
            };
            // Ends when the driver closes its side or otpd stops.
            let _ = modem_sim::serve(far, &mut modem, arrive, stop).await;
        });
        Ok(Box::new(near))
    };
    Device::Simulated(Arc::new(connect))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Channel, Outgoing, SubmitOutcome};
    use crate::model::{DeliveryState, SystemClock};

    #[tokio::test]
    async fn a_message_reaches_the_phone_through_the_modem_and_is_reported_delivered() {
        let phones = Arc::new(SimPhones::default());
        let (tx, mut rx) = mpsc::channel(4);
        let stop = CancellationToken::new();
        let (sim, task) = start(
            "sim".into(),
            phones.clone(),
            modem_sim::Config::default(),
            tx,
            Arc::new(SystemClock),
            stop.clone(),
        );
        assert_eq!(sim.kind(), "sim");
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
        assert_eq!(got[0].channel, "sim");
        assert!(phones.messages(Some("+255700000000")).is_empty());
        stop.cancel();
        task.await.unwrap();
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
