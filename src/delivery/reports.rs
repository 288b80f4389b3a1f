//! Delivery reports: applied to the message they name. A report can overtake the record of
//! its own submit (the SMSC sends the receipt before our write of "submitted" lands, or even
//! before its submit_sm_resp), so a report that matches nothing is held, keyed by channel and
//! message id. The dispatcher names every submit it records; a held report with that name is
//! applied then. Held reports are also retried every few seconds, and dropped with a log line
//! after [`HOLD`].

use crate::channel::{DeliveryReport, OnRecorded};
use crate::model::{Clock, DeliveryState};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long an unmatched report is kept.
pub const HOLD: Duration = Duration::from_secs(600);
/// Unmatched reports kept at most (a report for a message that was since resent never
/// matches; they must not pile up).
const HELD_MAX: usize = 10_000;
/// Reports applied per writer job at most.
const BATCH: usize = 512;
/// How often every held report is tried again (for any match the dispatcher did not name).
const SWEEP: Duration = Duration::from_secs(5);

/// A submit the dispatcher recorded: (channel, message id).
pub type Submitted = (String, String);

pub struct ReportSink {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

/// Unmatched reports by (channel, message id), with when they first arrived.
type Held = HashMap<(String, String), (DeliveryReport, Instant)>;

fn key(r: &DeliveryReport) -> (String, String) {
    (r.channel.clone(), r.message_id.clone())
}

impl ReportSink {
    pub async fn run(
        self,
        mut reports: mpsc::Receiver<DeliveryReport>,
        mut submitted: mpsc::Receiver<Submitted>,
        stop: CancellationToken,
    ) {
        let mut held: Held = HashMap::new();
        let mut next_sweep = tokio::time::Instant::now() + SWEEP;
        loop {
            let now = Instant::now();
            // Each report with when it first arrived.
            let mut batch: Vec<(DeliveryReport, Instant)> = Vec::new();
            tokio::select! {
                got = reports.recv() => match got {
                    Some(r) => batch.push((r, now)),
                    None => break,
                },
                Some(first) = submitted.recv() => {
                    let mut names = vec![first];
                    while names.len() < BATCH {
                        match submitted.try_recv() {
                            Ok(n) => names.push(n),
                            Err(_) => break,
                        }
                    }
                    batch.extend(names.iter().filter_map(|n| held.remove(n)));
                }
                () = tokio::time::sleep_until(next_sweep) => {
                    next_sweep = tokio::time::Instant::now() + SWEEP;
                    held.retain(|_, (r, at)| {
                        let fresh = now.duration_since(*at) < HOLD;
                        if !fresh {
                            tracing::warn!(channel = %r.channel, message_id = %r.message_id, "dropping a delivery report that matches no message");
                        }
                        fresh
                    });
                    let retry: Vec<(String, String)> = held.keys().take(BATCH).cloned().collect();
                    batch.extend(retry.iter().filter_map(|k| held.remove(k)));
                }
                () = stop.cancelled() => {
                    // The dispatcher and the channels have finished: record what arrived.
                    while let Ok(r) = reports.try_recv() {
                        batch.push((r, now));
                    }
                    let recorded: Vec<OnRecorded> = batch.iter().map(|(r, _)| r.recorded.clone()).collect();
                    if self.apply(batch.into_iter().map(|(r, _)| r).collect()).await.is_ok() {
                        recorded.iter().for_each(OnRecorded::call);
                    }
                    break;
                }
            }
            while batch.len() < BATCH {
                match reports.try_recv() {
                    Ok(r) => batch.push((r, now)),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                continue;
            }
            let arrived: HashMap<(String, String), Instant> =
                batch.iter().map(|(r, at)| (key(r), *at)).collect();
            let recorded: Vec<OnRecorded> = batch.iter().map(|(r, _)| r.recorded.clone()).collect();
            let unmatched = match self
                .apply(batch.into_iter().map(|(r, _)| r).collect())
                .await
            {
                Ok(unmatched) => {
                    // Committed, or about to be held for the submit they name: the channel
                    // may tell the network it has them. (A held report lives in memory: a
                    // crash in the moment between a submit's record and the report's match
                    // still loses it; see the README, "Crash loop".)
                    recorded.iter().for_each(OnRecorded::call);
                    unmatched
                }
                Err((e, all)) => {
                    // Not acknowledged: held and retried, and acknowledged once recorded.
                    tracing::error!(error = %e, "cannot record delivery reports; will retry");
                    all
                }
            };
            for r in unmatched {
                let k = key(&r);
                let at = arrived.get(&k).copied().unwrap_or(now);
                if held.len() < HELD_MAX || held.contains_key(&k) {
                    held.insert(k, (r, at));
                } else {
                    tracing::warn!(channel = %r.channel, message_id = %r.message_id, "too many unmatched delivery reports; dropping one");
                    r.recorded.call();
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
                            crate::metrics::delivery(&r.channel, r.state.as_str());
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
    use crate::model::{SystemClock, Timestamp, Verification};
    use crate::store::Durability;

    fn verification(id: &str, now: Timestamp) -> Verification {
        let ttl = Duration::from_secs(300);
        Verification::new_pending(
            id.into(),
            "default".into(),
            "+255712345678".into(),
            now,
            ttl,
            6,
            5,
        )
    }

    #[tokio::test]
    async fn delivered_at_is_never_before_submitted_at() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let v = verification("v1", Timestamp(1_000));
        let id = store
            .writer
            .run(move |tx| {
                tx.insert_verification(&v)?;
                tx.record_submitted("v1", "op", "a1b", Timestamp(2_000))?;
                // The receipt's clock was read a millisecond before the submit's.
                tx.apply_report(
                    "op",
                    "a1b",
                    DeliveryState::Delivered,
                    None,
                    Timestamp(1_999),
                )
            })
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("v1"));
        let v = store
            .readers
            .verification("v1".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.delivery.submitted_at, Some(Timestamp(2_000)));
        assert_eq!(v.delivery.delivered_at, Some(Timestamp(2_000)));
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

        let (submitted, named) = mpsc::channel(8);
        let sink = ReportSink {
            store: store.clone(),
            clock: Arc::new(SystemClock),
        };
        // Before its submit is recorded, a receipt matches nothing and comes back unmatched.
        let early = DeliveryReport {
            channel: "op".into(),
            message_id: "a1b".into(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
            recorded: Default::default(),
        };
        let unmatched = sink
            .apply(vec![early.clone()])
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(unmatched, vec![early]);
        let (tx, rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let running = tokio::spawn(sink.run(rx, named, stop.clone()));

        // In the running sink: the receipt first, then the submit record; the held receipt
        // is applied once the dispatcher says a submit was recorded.
        let report = DeliveryReport {
            channel: "op".into(),
            message_id: "a1b".into(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
            recorded: Default::default(),
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
        submitted.send(("op".into(), "a1b".into())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while state().await != DeliveryState::Delivered {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        stop.cancel();
        running.await.unwrap();
    }
}
