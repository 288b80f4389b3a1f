//! Delivery reports: applied to the message they name. A report can overtake the record of
//! its own submit (the channel answers, the network reports, and only then does our write of
//! "submitted" land), so a report that matches nothing is held and tried again after each
//! recorded submit, for [`HOLD`], before it is dropped with a log line.

use crate::channel::DeliveryReport;
use crate::model::{Clock, DeliveryState};
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// How long an unmatched report is kept.
pub const HOLD: Duration = Duration::from_secs(600);
/// Unmatched reports kept at most (a report for a message that was since resent never
/// matches; they must not pile up).
const HELD_MAX: usize = 10_000;
/// Reports applied per writer job at most.
const BATCH: usize = 512;

pub struct ReportSink {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Woken when a submit is recorded.
    pub submitted: Arc<Notify>,
}

impl ReportSink {
    pub async fn run(self, mut reports: mpsc::Receiver<DeliveryReport>, stop: CancellationToken) {
        // Unmatched reports, with when we first saw them (the channel's own time may be off).
        let mut held: Vec<(DeliveryReport, Instant)> = Vec::new();
        loop {
            let mut batch = Vec::new();
            tokio::select! {
                got = reports.recv() => match got {
                    Some(r) => batch.push(r),
                    None => break,
                },
                () = self.submitted.notified(), if !held.is_empty() => {}
                // Retry now and then even without a submit, so old ones age out.
                () = tokio::time::sleep(Duration::from_secs(5)), if !held.is_empty() => {}
                () = stop.cancelled() => {
                    // The dispatcher has finished: record what already arrived, then stop.
                    while let Ok(r) = reports.try_recv() {
                        batch.push(r);
                    }
                    let _ = self.apply(batch).await;
                    break;
                }
            }
            while batch.len() < BATCH {
                match reports.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            let mut seen: Vec<Instant> = vec![now; batch.len()];
            // The oldest held reports first, a batch's worth at most per job.
            let retry = held.len().min(BATCH);
            for (r, at) in held.drain(..retry) {
                batch.push(r);
                seen.push(at);
            }
            let outcome = self.apply(batch.clone()).await;
            let unmatched: Vec<DeliveryReport> = match outcome {
                Ok(unmatched) => unmatched,
                Err((e, all)) => {
                    tracing::error!(error = %e, "cannot record delivery reports; will retry");
                    all
                }
            };
            for r in unmatched {
                let at = batch
                    .iter()
                    .position(|b| *b == r)
                    .and_then(|i| seen.get(i))
                    .copied()
                    .unwrap_or(now);
                if now.duration_since(at) >= HOLD {
                    tracing::warn!(channel = %r.channel, message_id = %r.message_id, "dropping a delivery report that matches no message");
                } else if held.len() < HELD_MAX {
                    held.push((r, at));
                } else {
                    tracing::warn!(channel = %r.channel, message_id = %r.message_id, "too many unmatched delivery reports; dropping one");
                }
            }
        }
    }

    /// Applies reports; returns those that matched no message.
    async fn apply(
        &self,
        batch: Vec<DeliveryReport>,
    ) -> Result<Vec<DeliveryReport>, (StoreError, Vec<DeliveryReport>)> {
        let copy = batch.clone();
        let now = self.clock.now();
        self.store
            .writer
            .run(move |tx| {
                let mut unmatched = Vec::new();
                for r in batch {
                    match tx.apply_report(
                        &r.channel,
                        &r.message_id,
                        r.state,
                        r.error.as_deref(),
                        r.at,
                    )? {
                        Some(id) => {
                            let event = match r.state {
                                DeliveryState::Delivered => Some("delivered"),
                                DeliveryState::Undelivered
                                | DeliveryState::Expired
                                | DeliveryState::Rejected => Some("undelivered"),
                                _ => None,
                            };
                            if let Some(event) = event {
                                tx.insert_event(&id, event, r.error.as_deref(), now)?;
                            }
                        }
                        None => unmatched.push(r),
                    }
                }
                Ok(unmatched)
            })
            .await
            .map_err(|e| (e, copy))
    }
}
