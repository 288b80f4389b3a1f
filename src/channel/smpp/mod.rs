//! The `smpp` channel: OTPs to an operator's SMSC over SMPP 3.4.
//!
//! [`SmppChannel`] is what the dispatcher sees; behind it one task per channel ([`link`])
//! owns the TCP (or TLS) connection and a sans-IO [`crate::proto::smpp::session::Session`],
//! and reconnects with backoff when the link drops. Messages reach the task on a queue and
//! get their outcome on a oneshot; receipts go to the shared report queue.

mod address;
mod ids;
mod io;
mod link;
mod rate;
mod receipts;
mod status;

use super::{Channel, DeliveryReport, Health, LinkState, Outgoing, SubmitFuture, SubmitOutcome};
use crate::config::{BindMode, SmppConfig};
use crate::proto::smpp::BindKind;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A message handed to the link task, with where its outcome goes.
pub(crate) struct Request {
    pub message: Outgoing,
    pub reply: oneshot::Sender<SubmitOutcome>,
}

/// The channel's state as /readyz and the dispatcher read it.
#[derive(Clone, Default)]
pub(crate) struct SharedHealth {
    health: Arc<Mutex<Option<Health>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl SharedHealth {
    pub fn set(&self, state: LinkState, last_error: Option<String>) {
        if let Ok(mut h) = self.health.lock() {
            let last_error = last_error.or_else(|| h.as_ref().and_then(|h| h.last_error.clone()));
            *h = Some(Health { state, last_error });
        }
        self.changed.notify_waiters();
    }

    pub fn get(&self) -> Health {
        self.health
            .lock()
            .ok()
            .and_then(|h| h.clone())
            .unwrap_or(Health {
                state: LinkState::Connecting,
                last_error: None,
            })
    }

    /// Resolves once the state is [`LinkState::Up`].
    pub async fn wait_up(&self) {
        self.wait_for(|h| h.state == LinkState::Up).await;
    }

    /// Resolves once the health satisfies `test`; returns that health.
    pub async fn wait_for(&self, test: impl Fn(&Health) -> bool) -> Health {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.get();
            if test(&now) {
                return now;
            }
            changed.await;
        }
    }
}

pub struct SmppChannel {
    name: String,
    requests: mpsc::Sender<Request>,
    health: SharedHealth,
    /// With `bind = "transmitter_receiver"`, the receiver link's (empty) queue: held so that
    /// link runs until the channel stops.
    _receiver: Option<mpsc::Sender<Request>>,
}

impl SmppChannel {
    /// Starts the link task; it runs until `stop`, then unbinds.
    pub fn start(
        name: String,
        config: SmppConfig,
        reports: mpsc::Sender<DeliveryReport>,
        stop: CancellationToken,
    ) -> (SmppChannel, tokio::task::JoinSet<()>) {
        let mut tasks = tokio::task::JoinSet::new();
        let (requests, queue) = mpsc::channel(config.window as usize * 4 + 64);
        let health = SharedHealth::default();
        let transmit = match config.bind {
            BindMode::Transceiver => BindKind::Transceiver,
            BindMode::TransmitterReceiver => BindKind::Transmitter,
        };
        let ids = Arc::new(Mutex::new(ids::RecentIds::default()));
        let mut receiver = None;
        if config.bind == BindMode::TransmitterReceiver {
            // Receipts come on a receiver bind of their own; submits never go there.
            let (idle, nothing) = mpsc::channel(1);
            let link = link::Link::new(
                name.clone(),
                config.clone(),
                BindKind::Receiver,
                ids.clone(),
                reports.clone(),
                SharedHealth::default(),
            );
            tasks.spawn(link.run(nothing, stop.clone()));
            receiver = Some(idle);
        }
        let link = link::Link::new(name.clone(), config, transmit, ids, reports, health.clone());
        tasks.spawn(link.run(queue, stop));
        (
            SmppChannel {
                name,
                requests,
                health,
                _receiver: receiver,
            },
            tasks,
        )
    }
}

impl Channel for SmppChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "smpp"
    }

    fn health(&self) -> Health {
        self.health.get()
    }

    fn submit(&self, message: Outgoing) -> SubmitFuture {
        let requests = self.requests.clone();
        Box::pin(async move {
            let (reply, outcome) = oneshot::channel();
            if requests.send(Request { message, reply }).await.is_err() {
                return SubmitOutcome::Failover {
                    error: "the SMPP link task has stopped".into(),
                };
            }
            outcome.await.unwrap_or(SubmitOutcome::Failover {
                error: "the SMPP link task dropped the message".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests;
