//! The `modem` channel: OTPs through a GSM modem driven by AT commands in PDU mode (a USB
//! stick, a SIMCom or Quectel module), and the `sim` channel's simulated modem.
//!
//! [`ModemChannel`] is what the dispatcher sees; one task ([`link`]) owns the device and a
//! sans-IO [`crate::proto::modem::Session`], and reopens the device when the modem hangs or
//! vanishes. Status reports are matched to messages in [`reports`]; `+CMS ERROR` codes are
//! judged in [`cms`].

pub mod cms;
pub mod device;
mod link;
pub mod probe;
mod reports;

pub use device::Device;
pub use link::Timing;

use super::smpp::SharedHealth;
use super::{Channel, DeliveryReport, Health, Load, Outgoing, SubmitFuture, SubmitOutcome};
use crate::model::Clock;
use crate::proto::modem::ModemConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Messages waiting for the modem at most; past this, submits wait for room.
const QUEUE: usize = 1024;

pub(crate) struct Request {
    pub message: Outgoing,
    pub reply: oneshot::Sender<SubmitOutcome>,
}

/// How a modem channel is set up.
pub struct Setup {
    pub name: String,
    pub kind: &'static str,
    pub device: Device,
    pub session: ModemConfig,
    pub keepalive: Duration,
    pub timing: Timing,
    /// Messages this channel takes before the dispatcher prefers the next one that is up:
    /// a modem sends one at a time, so several modems share a burst.
    pub preferred_load: usize,
}

pub struct ModemChannel {
    name: String,
    kind: &'static str,
    requests: mpsc::Sender<Request>,
    health: SharedHealth,
    /// Messages submitted and not yet answered.
    load: Arc<AtomicUsize>,
    preferred_load: usize,
}

impl ModemChannel {
    /// Starts the channel's task; it runs until `stop`, then closes the device.
    pub fn start(
        setup: Setup,
        reports: mpsc::Sender<DeliveryReport>,
        clock: Arc<dyn Clock>,
        stop: CancellationToken,
    ) -> (ModemChannel, tokio::task::JoinHandle<()>) {
        let (requests, queue) = mpsc::channel(QUEUE);
        let health = SharedHealth::default();
        let link = link::Link::new(
            setup.name.clone(),
            setup.device,
            setup.session,
            setup.keepalive,
            setup.timing,
            reports,
            health.clone(),
            clock,
        );
        let task = tokio::spawn(link.run(queue, stop));
        (
            ModemChannel {
                name: setup.name,
                kind: setup.kind,
                requests,
                health,
                load: Arc::new(AtomicUsize::new(0)),
                preferred_load: setup.preferred_load,
            },
            task,
        )
    }
}

/// Counts a submit as load until its future ends, however it ends.
struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ModemChannel {
    /// Resolves once the modem is ready to send.
    pub async fn wait_up(&self) {
        self.health.wait_up().await;
    }

    /// Resolves once the channel's health satisfies `test`.
    pub async fn wait_health(&self, test: impl Fn(&Health) -> bool) -> Health {
        self.health.wait_for(test).await
    }
}

impl Channel for ModemChannel {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn health(&self) -> Health {
        self.health.get()
    }

    fn load(&self) -> Option<Load> {
        Some(Load {
            busy: self.load.load(Ordering::Relaxed),
            preferred: self.preferred_load,
        })
    }

    fn submit(&self, message: Outgoing) -> SubmitFuture {
        let requests = self.requests.clone();
        self.load.fetch_add(1, Ordering::Relaxed);
        let guard = LoadGuard(self.load.clone());
        Box::pin(async move {
            let _guard = guard;
            let (reply, outcome) = oneshot::channel();
            if requests.send(Request { message, reply }).await.is_err() {
                return SubmitOutcome::Failover {
                    error: "the modem channel has stopped".into(),
                };
            }
            outcome.await.unwrap_or(SubmitOutcome::Failover {
                error: "the modem channel dropped the message".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests;
