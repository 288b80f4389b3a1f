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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Delivery, Status, SystemClock, Timestamp, Verification};
    use crate::store::Durability;

    fn verification(id: &str, now: Timestamp) -> Verification {
        Verification {
            id: id.into(),
            appid: "default".into(),
            recipient: "+255712345678".into(),
            status: Status::Pending,
            channel_request: None,
            sender: None,
            code_length: 6,
            ttl_ms: 300_000,
            code_hash: None,
            created_at: now,
            expires_at: Timestamp(now.0 + 300_000),
            last_send_at: now,
            verified_at: None,
            attempts: 0,
            max_attempts: 5,
            sends: 1,
            delivery: Delivery {
                state: DeliveryState::Queued,
                channel: None,
                message_id: None,
                submitted_at: None,
                delivered_at: None,
                error: None,
            },
        }
    }

    #[tokio::test]
    async fn a_receipt_that_overtakes_its_submit_record_is_held_and_matched() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let now = SystemClock.now();
        let v = verification("v1", now);
        store
            .writer
            .run(move |tx| tx.insert_verification(&v))
            .await
            .unwrap();

        let submitted = Arc::new(Notify::new());
        let sink = ReportSink {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            submitted: submitted.clone(),
        };
        // Before its submit is recorded, a receipt matches nothing and comes back unmatched.
        let early = DeliveryReport {
            channel: "op".into(),
            message_id: "a1b".into(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
        };
        let unmatched = sink
            .apply(vec![early.clone()])
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(unmatched, vec![early]);
        let (tx, rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let running = tokio::spawn(sink.run(rx, stop.clone()));

        // In the running sink: the receipt first, then the submit record; the held receipt
        // is applied once the dispatcher says a submit was recorded.
        let report = DeliveryReport {
            channel: "op".into(),
            message_id: "a1b".into(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
        };
        tx.send(report).await.unwrap();
        let state = || async {
            let v = store
                .readers
                .verification("v1".into())
                .await
                .unwrap()
                .unwrap();
            v.delivery.state
        };
        // Its submit is recorded afterwards, and the dispatcher says so.
        store
            .writer
            .run(move |tx| tx.record_submitted("v1", "op", "a1b", now))
            .await
            .unwrap();
        submitted.notify_one();
        tokio::time::timeout(Duration::from_secs(10), async {
            while state().await != DeliveryState::Delivered {
                submitted.notify_one();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        stop.cancel();
        running.await.unwrap();
    }
}
