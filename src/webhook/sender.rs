//! The task that drives the webhook queue: claims due deliveries with a lease, POSTs each in a
//! task of its own, and records every try.
//!
//! At most [`MAX_IN_FLIGHT`] POSTs are in flight, and at most each webhook's own
//! `max_in_flight` of those go to one webhook, so a slow or dead receiver holds only its own
//! slots and the others keep flowing. The claim skips a webhook that is at its limit.
//!
//! ```text
//!  loop: claim (room left per webhook) → spawn one task per delivery
//!        wait for: a commit that queued deliveries | the next due time | a POST ending | stop
//!        (a task frees its slot when its POST ends, and records the outcome after)
//!  stop: claim nothing more; in-flight tries get `drain` to finish, then are abandoned (their
//!        lease lapses and the next start frees it: at-least-once, never lost)
//! ```

use super::backoff::{self, Next};
use super::{Target, WebhookTable, client, payload, sign};
use crate::metrics::{self, METRICS};
use crate::model::{Clock, Timestamp};
use crate::store::webhooks::{Attempt, WebhookDelivery};
use crate::store::{Store, StoreError, WriteTx};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// POSTs in flight at once, across all webhooks.
pub const MAX_IN_FLIGHT: usize = 64;
/// Beyond the longest timeout, how long a claim's lease lasts (time to record the outcome).
const LEASE_MARGIN: Duration = Duration::from_secs(60);
/// How long the sender sleeps with nothing due at all; a commit that queues wakes it sooner.
const IDLE: Duration = Duration::from_secs(60);

pub struct Sender {
    pub store: Store,
    pub hooks: WebhookTable,
    pub clock: Arc<dyn Clock>,
    /// How long in-flight tries may take to finish at shutdown.
    pub drain: Duration,
}

impl Sender {
    pub async fn run(self, stop: CancellationToken) {
        let queued = self.store.writer.webhooks_queued();
        let this = Arc::new(self);
        // A task says here that its POST is over: its slot is free while it records.
        let (slot_tx, mut slots) = mpsc::unbounded_channel::<String>();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut in_flight: HashMap<String, usize> = HashMap::new();
        loop {
            while tasks.try_join_next().is_some() {}
            if stop.is_cancelled() {
                break;
            }
            let hooks = this.hooks.get();
            let busy: usize = in_flight.values().sum();
            let free = MAX_IN_FLIGHT.saturating_sub(busy);
            let room: HashMap<String, usize> = hooks
                .targets
                .iter()
                .map(|(name, t)| {
                    let busy = in_flight.get(name).copied().unwrap_or(0);
                    (name.clone(), t.max_in_flight.saturating_sub(busy))
                })
                .collect();
            let now = this.clock.now();
            let lease = Timestamp(now.0 + ms(hooks.longest_timeout() + LEASE_MARGIN));
            // One job, so one commit, claims and finds when to look again.
            let claimed = this
                .store
                .writer
                .run(move |tx| claim(tx, now, lease, room, free))
                .await;
            let next_due = match claimed {
                Ok((claimed, next_due)) => {
                    for d in claimed {
                        let target = hooks.targets.get(&d.webhook).cloned();
                        *in_flight.entry(d.webhook.clone()).or_default() += 1;
                        let (this, slot) = (this.clone(), slot_tx.clone());
                        tasks.spawn(async move { this.deliver(d, target, slot).await });
                    }
                    next_due
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim webhook deliveries");
                    None
                }
            };
            let wait = next_due.map_or(IDLE, |due| this.clock.now().until(due).min(IDLE));
            tokio::select! {
                () = stop.cancelled() => break,
                () = queued.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(name) = slots.recv() => {
                    release(&mut in_flight, &name);
                    // Collect whatever else ended meanwhile, then claim again.
                    while let Ok(name) = slots.try_recv() {
                        release(&mut in_flight, &name);
                    }
                }
            }
        }
        if !tasks.is_empty() {
            let drained = tokio::time::timeout(this.drain, async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(
                    deliveries = tasks.len(),
                    "webhook deliveries still in flight at the deadline; they are sent again at the next start"
                );
                tasks.shutdown().await;
            }
        }
    }

    /// One try of one delivery, and its outcome recorded.
    async fn deliver(
        &self,
        d: WebhookDelivery,
        target: Option<Target>,
        slot: mpsc::UnboundedSender<String>,
    ) {
        let tries = d.tries + 1;
        let started_at = self.clock.now();
        let Some(target) = target else {
            // The webhook left the config after this was queued: nowhere to send it.
            let error = "the webhook is no longer configured";
            let _ = slot.send(d.webhook.clone());
            self.finish(
                &d,
                tries,
                None,
                Err(error.to_string()),
                started_at,
                Duration::ZERO,
            )
            .await;
            return;
        };
        let body = payload::body(&d);
        let seconds = started_at.0.div_euclid(1000);
        let headers = [
            (
                sign::HEADER,
                sign::header_value(target.secret.expose().as_bytes(), seconds, &body),
            ),
            ("otpd-delivery", payload::delivery_id(d.id)),
            ("otpd-event", d.event.clone()),
        ];
        let started = Instant::now();
        let result = client::post(
            &target.url,
            target.tls.as_ref(),
            &headers,
            Bytes::from(body),
            target.timeout,
        )
        .await;
        let took = started.elapsed();
        let _ = slot.send(d.webhook.clone());
        self.finish(&d, tries, Some(&target), result, started_at, took)
            .await;
    }

    async fn finish(
        &self,
        d: &WebhookDelivery,
        tries: u32,
        target: Option<&Target>,
        result: Result<u16, String>,
        at: Timestamp,
        took: Duration,
    ) {
        let (http_status, error) = match &result {
            Ok(status) if (200..300).contains(status) => (Some(*status), None),
            Ok(status) => (Some(*status), Some(format!("HTTP {status}"))),
            Err(e) => (None, Some(e.clone())),
        };
        let attempt = Attempt {
            at,
            http_status,
            error: error.clone(),
            duration_ms: ms(took),
        };
        let now = self.clock.now();
        let next = match (&error, target) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(backoff::next(
                &t.retry,
                tries,
                d.at,
                now,
                backoff::jitter(d.id, tries),
            )),
            (Some(_), None) => Some(Next::GiveUp),
        };
        let id = d.id;
        let outcome = match next {
            None => "delivered",
            Some(Next::RetryAt(_)) => "retried",
            Some(Next::GiveUp) => "failed",
        };
        let recorded = self
            .store
            .writer
            .run(move |tx| {
                tx.record_webhook_attempt(id, &attempt)?;
                match (next, error.as_deref()) {
                    (Some(Next::RetryAt(due)), Some(e)) => tx.retry_webhook(id, tries, e, due),
                    (_, e) => tx.end_webhook(id, next.is_none(), tries, e, now),
                }
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, delivery = id, "cannot record a webhook try");
            return;
        }
        metrics::count(&METRICS.webhook_deliveries, outcome);
        match outcome {
            "delivered" => {
                tracing::debug!(delivery = id, webhook = %d.webhook, event = %d.event, "webhook delivered")
            }
            "retried" => {
                tracing::info!(delivery = id, webhook = %d.webhook, tries, error = ?result.err(), "webhook try failed; will retry")
            }
            _ => {
                tracing::warn!(delivery = id, webhook = %d.webhook, tries, error = ?result.err(), "webhook delivery given up")
            }
        }
    }
}

/// Claims what `room` allows, and says when the next delivery that could not be claimed now
/// falls due (`None`: none, or the sender is full and a finished try will wake it).
fn claim(
    tx: &WriteTx<'_>,
    now: Timestamp,
    lease: Timestamp,
    room: HashMap<String, usize>,
    free: usize,
) -> Result<(Vec<WebhookDelivery>, Option<Timestamp>), StoreError> {
    if free == 0 {
        return Ok((Vec::new(), None));
    }
    let claimed = tx.claim_webhooks(now, lease, &room, free)?;
    if claimed.len() == free {
        return Ok((claimed, None));
    }
    let mut left = room;
    for d in &claimed {
        if let Some(n) = left.get_mut(&d.webhook) {
            *n = n.saturating_sub(1);
        }
    }
    let full: Vec<String> = left
        .into_iter()
        .filter(|(_, n)| *n == 0)
        .map(|(name, _)| name)
        .collect();
    let next_due = tx.next_webhook_due(&full)?;
    Ok((claimed, next_due))
}

fn release(in_flight: &mut HashMap<String, usize>, name: &str) {
    if let Some(n) = in_flight.get_mut(name) {
        *n = n.saturating_sub(1);
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
