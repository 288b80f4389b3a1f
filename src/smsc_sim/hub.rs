//! Where receipts wait and where they go.
//!
//! A receipt is scheduled when its submit is accepted. After `--dlr-delay` the hub hands it
//! to a connection bound as receiver or transceiver: the one the submit came over when that
//! is a transceiver, else the next in turn. With none bound it waits in `pending` until one
//! binds, so a client that reconnects still gets the receipts of its last session; a
//! connection that closes hands back the receipts it had not had answered.
//!
//! ```text
//! accepted ──(dlr-delay)──► route ──► bound receiver ──deliver_sm_resp──► done
//!                             │  ▲             │
//!                             ▼  │             └── closed before the resp ──► route
//!                           pending ◄── (none bound)
//! ```
//!
//! The simulator knows one account (`--system-id`), so every bound receiver belongs to the
//! same system_id and the hub needs no map from system_id to receivers.
//!
//! The delay is the same for every receipt, so due times come in order: the scheduler is a
//! FIFO with a single timer reset per batch, not a timer per message.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{
    sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::receipt::Receipt;

/// Receipts kept for a system_id with no receiver bound; past this the oldest are dropped,
/// so a benchmark run with no receiver does not grow without bound.
const PENDING_CAP: usize = 1_000_000;

/// A connection that takes receipts.
#[derive(Debug)]
struct Receiver {
    connection: u64,
    /// Feeds the connection's task, which writes the `deliver_sm`s.
    tx: UnboundedSender<Receipt>,
}

#[derive(Debug, Default)]
struct Routes {
    receivers: Vec<Receiver>,
    /// Round-robin cursor over `receivers`.
    turn: usize,
    /// Receipts due while no receiver was bound, oldest first.
    pending: VecDeque<Receipt>,
}

impl Routes {
    /// Sends `receipt` to a receiver, dropping receivers whose task has gone, or keeps it.
    fn route(&mut self, receipt: Receipt) {
        let mut receipt = receipt;
        let mut next = self
            .receivers
            .iter()
            .position(|r| r.connection == receipt.origin);
        loop {
            let index = match next.take() {
                Some(index) => index,
                None if self.receivers.is_empty() => break,
                None => {
                    self.turn = self.turn.wrapping_add(1);
                    self.turn % self.receivers.len()
                }
            };
            let Some(receiver) = self.receivers.get(index) else {
                break;
            };
            match receiver.tx.send(receipt) {
                Ok(()) => return,
                Err(returned) => {
                    self.receivers.swap_remove(index);
                    receipt = returned.0;
                }
            }
        }
        if self.pending.len() >= PENDING_CAP {
            self.pending.pop_front();
            tracing::warn!("{PENDING_CAP} receipts wait for a receiver; dropped the oldest");
        }
        self.pending.push_back(receipt);
    }
}

/// The routing table plus the way into the scheduler.
#[derive(Debug)]
pub(super) struct Hub {
    routes: Mutex<Routes>,
    /// `None` when `--dlr-delay` is zero: receipts are routed at once.
    scheduler: Option<UnboundedSender<Receipt>>,
}

/// The scheduler's end of the hub: run it with [`run_scheduler`].
#[derive(Debug)]
pub(super) struct SchedulerInput {
    rx: UnboundedReceiver<Receipt>,
    delay: Duration,
}

impl Hub {
    pub fn new(delay: Duration) -> (Hub, Option<SchedulerInput>) {
        let (scheduler, input) = if delay.is_zero() {
            (None, None)
        } else {
            let (tx, rx) = unbounded_channel();
            (Some(tx), Some(SchedulerInput { rx, delay }))
        };
        let hub = Hub {
            routes: Mutex::default(),
            scheduler,
        };
        (hub, input)
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        // Every update of Routes is whole before anything can panic, so a poisoned lock
        // still holds a consistent table.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A submit was accepted: its receipt becomes due after the delay.
    pub fn schedule(&self, receipt: Receipt) {
        match &self.scheduler {
            Some(tx) => {
                // Fails only once the simulator is stopping, when receipts no longer matter.
                let _ = tx.send(receipt);
            }
            None => self.routes().route(receipt),
        }
    }

    /// Hands receipts back (a connection closed before they were answered).
    pub fn reroute(&self, receipts: impl IntoIterator<Item = Receipt>) {
        let mut routes = self.routes();
        for receipt in receipts {
            routes.route(receipt);
        }
    }

    /// A connection bound as receiver or transceiver: it gets what was waiting, then its
    /// share of what comes.
    pub fn attach(&self, connection: u64, tx: UnboundedSender<Receipt>) {
        let mut routes = self.routes();
        while let Some(receipt) = routes.pending.pop_front() {
            if let Err(returned) = tx.send(receipt) {
                routes.pending.push_front(returned.0);
                return;
            }
        }
        routes.receivers.push(Receiver { connection, tx });
    }

    /// The connection is closing; call before it hands back its receipts.
    pub fn detach(&self, connection: u64) {
        self.routes()
            .receivers
            .retain(|r| r.connection != connection);
    }

    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.routes().pending.len()
    }
}

/// Holds each receipt for the delay, then routes it; ends when `shutdown` fires.
pub(super) async fn run_scheduler(
    hub: std::sync::Arc<Hub>,
    input: SchedulerInput,
    shutdown: CancellationToken,
) {
    let SchedulerInput { mut rx, delay } = input;
    let mut queue: VecDeque<(Instant, Receipt)> = VecDeque::new();
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    loop {
        let head = queue.front().map(|(due, _)| *due);
        if let Some(due) = head.filter(|due| *due != timer.deadline()) {
            timer.as_mut().reset(due);
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = &mut timer, if head.is_some() => {
                let now = Instant::now();
                let split = queue.partition_point(|(due, _)| *due <= now);
                hub.reroute(queue.drain(..split).map(|(_, receipt)| receipt));
            }
            received = rx.recv() => {
                let Some(receipt) = received else { return };
                // Stamped on arrival, so due times stay in order across connections.
                let due = Instant::now() + delay;
                queue.push_back((due, receipt));
                while let Ok(receipt) = rx.try_recv() {
                    queue.push_back((due, receipt));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(rx: &mut UnboundedReceiver<Receipt>) -> Vec<u64> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| r.message_id)
            .collect()
    }

    #[test]
    fn receipts_wait_for_a_receiver_and_go_to_it_when_it_binds() {
        let (hub, input) = Hub::new(Duration::ZERO);
        assert!(input.is_none());
        hub.schedule(Receipt::sample(1, 7));
        hub.schedule(Receipt::sample(2, 7));
        assert_eq!(hub.pending(), 2);
        let (tx, mut rx) = unbounded_channel();
        hub.attach(8, tx);
        assert_eq!(ids(&mut rx), [1, 2]);
        hub.schedule(Receipt::sample(3, 7));
        assert_eq!(ids(&mut rx), [3]);
        assert_eq!(hub.pending(), 0);
    }

    #[test]
    fn the_submitting_transceiver_is_preferred_then_turns_are_taken() {
        let (hub, _) = Hub::new(Duration::ZERO);
        let (tx1, mut rx1) = unbounded_channel();
        let (tx2, mut rx2) = unbounded_channel();
        hub.attach(1, tx1);
        hub.attach(2, tx2);
        for id in 0..4 {
            hub.schedule(Receipt::sample(id, 2));
        }
        assert_eq!(ids(&mut rx2), [0, 1, 2, 3]);
        for id in 4..8 {
            hub.schedule(Receipt::sample(id, 99));
        }
        assert_eq!(ids(&mut rx1).len(), 2);
        assert_eq!(ids(&mut rx2).len(), 2);
    }

    #[test]
    fn a_gone_receiver_is_dropped_and_its_receipt_kept() {
        let (hub, _) = Hub::new(Duration::ZERO);
        let (tx, rx) = unbounded_channel();
        hub.attach(1, tx);
        drop(rx);
        hub.schedule(Receipt::sample(5, 1));
        assert_eq!(hub.pending(), 1);
        hub.detach(1);
        let (tx, mut rx) = unbounded_channel();
        hub.attach(2, tx);
        hub.reroute([Receipt::sample(6, 1)]);
        assert_eq!(ids(&mut rx), [5, 6]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_scheduler_holds_receipts_for_the_delay() {
        let delay = Duration::from_secs(5);
        let (hub, input) = Hub::new(delay);
        let hub = std::sync::Arc::new(hub);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_scheduler(hub.clone(), input.unwrap(), shutdown.clone()));
        let (tx, mut rx) = unbounded_channel();
        hub.attach(1, tx);
        let start = Instant::now();
        hub.schedule(Receipt::sample(1, 1));
        hub.schedule(Receipt::sample(2, 1));
        let first = rx.recv().await.unwrap();
        assert_eq!(first.message_id, 1);
        assert!(start.elapsed() >= delay);
        assert_eq!(ids(&mut rx), [2]);
        shutdown.cancel();
        task.await.unwrap();
    }
}
