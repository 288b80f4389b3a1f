//! Delivery reports: applied to the message they name. A report can overtake the record of
//! its own submit (the SMSC sends the receipt before our write of "submitted" lands, or even
//! before its submit_sm_resp), so a report that matches nothing is held in the store
//! (`held_report`), in the same transaction that would have applied it. Recording a submit
//! takes and applies the report held for it ([`apply_held`]); the sweeper drops those that
//! nothing claimed after [`HOLD`]. Either way a report is acknowledged to the network only
//! once it is committed, so a crash at any moment loses none.

use crate::channel::DeliveryReport;
use crate::model::{Clock, DeliveryState, Timestamp};
use crate::store::held_reports::HeldReport;
use crate::store::{Store, StoreError, WriteTx};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long an unmatched report is kept.
pub const HOLD: Duration = Duration::from_secs(600);
/// Reports applied per writer job at most.
const BATCH: usize = 512;
/// How long reports the store could not take wait before they are tried again.
const RETRY: Duration = Duration::from_secs(1);

pub struct ReportSink {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl ReportSink {
    /// Records reports until `stop`, then those already queued, and returns.
    pub async fn run(self, mut reports: mpsc::Receiver<DeliveryReport>, stop: CancellationToken) {
        // Reports the store refused (disk full, database locked): not acknowledged, so the
        // network still has them; tried again after RETRY.
        let mut retry: Vec<DeliveryReport> = Vec::new();
        loop {
            let retrying = !retry.is_empty();
            let mut batch = std::mem::take(&mut retry);
            let stopping = if batch.is_empty() {
                tokio::select! {
                    got = reports.recv() => match got {
                        Some(r) => { batch.push(r); false }
                        None => true,
                    },
                    () = stop.cancelled() => true,
                }
            } else {
                tokio::select! {
                    () = tokio::time::sleep(RETRY) => false,
                    () = stop.cancelled() => true,
                }
            };
            // On the way out (the dispatcher and the channels have finished), everything
            // that arrived; else a batch.
            while stopping || batch.len() < BATCH {
                match reports.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                // A retry runs guarded: a batch that fails again must not roll back the
                // writer's other jobs again.
                match self.record(batch.clone(), retrying).await {
                    // Committed, applied or held: the channel may tell the network it has them.
                    Ok(()) => batch.iter().for_each(|r| r.recorded.call()),
                    Err(e) if !retrying && !stopping => {
                        tracing::error!(error = %e, reports = batch.len(), "cannot record delivery reports; will retry");
                        retry = batch;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, reports = batch.len(), "cannot record delivery reports again; recording them one by one");
                        self.record_each(batch).await;
                    }
                }
            }
            if stopping {
                break;
            }
        }
    }

    /// Records each report in a job of its own, so that one the store refuses holds back no
    /// other; those it refuses are given up, unacknowledged (an SMSC sends a receipt again).
    async fn record_each(&self, batch: Vec<DeliveryReport>) {
        let mut refused = 0;
        for r in batch {
            match self.record(vec![r.clone()], true).await {
                Ok(()) => r.recorded.call(),
                Err(_) => refused += 1,
            }
        }
        if refused > 0 {
            tracing::error!(
                reports = refused,
                "gave up on delivery reports the store refused; not acknowledged, so an SMSC sends them again (a modem's are lost)"
            );
        }
    }

    /// Applies each report to its message, or holds it if it matches none. `guarded`: in a
    /// savepoint of its own (see [`crate::store::Writer::run_unguarded`]).
    async fn record(&self, batch: Vec<DeliveryReport>, guarded: bool) -> Result<(), StoreError> {
        let now = self.clock.now();
        let job = move |tx: &WriteTx<'_>| {
            for r in batch {
                let (state, error) = (r.state, r.error.as_deref());
                if let Some(by) = &r.by_reference {
                    // A modem's report about a message sent before a restart: the store
                    // finds it, or nothing will (it is not held).
                    match tx.modem_message_by_reference(&r.channel, by)? {
                        Some(id) => apply(tx, &r.channel, &id, state, error, r.at, now)?,
                        None => {
                            tracing::debug!(channel = %r.channel, reference = by.reference, "a status report that matches no message");
                            None
                        }
                    };
                    continue;
                }
                if apply(tx, &r.channel, &r.message_id, state, error, r.at, now)?.is_none() {
                    let held = HeldReport {
                        state,
                        error: r.error,
                        at: r.at,
                    };
                    tx.hold_report(&r.channel, &r.message_id, &held, now)?;
                }
            }
            Ok(())
        };
        match guarded {
            true => self.store.writer.run(job).await,
            // Only a failing statement errs after a write; then the batch is retried guarded.
            false => self.store.writer.run_unguarded(job).await,
        }
    }
}

/// Applies the report held for a submit just recorded as (`channel`, `message_id`), if one
/// overtook it. Runs in the transaction of that record.
pub fn apply_held(
    tx: &WriteTx<'_>,
    channel: &str,
    message_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Some(held) = tx.take_held_report(channel, message_id)? {
        let error = held.error.as_deref();
        apply(tx, channel, message_id, held.state, error, held.at, now)?;
    }
    Ok(())
}

/// Applies one report (`at`: when it says it happened) to the message it names, with its
/// event; the verification's id, or `None` if it names no message still waiting for news.
fn apply(
    tx: &WriteTx<'_>,
    channel: &str,
    message_id: &str,
    state: DeliveryState,
    error: Option<&str>,
    at: Timestamp,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let Some((id, appid)) = tx.apply_report(channel, message_id, state, error, at)? else {
        return Ok(None);
    };
    crate::metrics::delivery(channel, state.as_str());
    let event = match state {
        DeliveryState::Delivered => Some("delivered"),
        DeliveryState::Undelivered | DeliveryState::Expired | DeliveryState::Rejected => {
            Some("undelivered")
        }
        _ => None,
    };
    if let Some(event) = event {
        tx.insert_event(&appid, &id, event, error, now)?;
    }
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::OnRecorded;
    use crate::model::{SystemClock, Verification};
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

    /// A running sink on `store`: its queue, its stop, its task.
    fn sink(
        store: &Store,
    ) -> (
        mpsc::Sender<DeliveryReport>,
        CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let (reports, rx) = mpsc::channel(8);
        let stop = CancellationToken::new();
        let sink = ReportSink {
            store: store.clone(),
            clock: Arc::new(SystemClock),
        };
        let running = tokio::spawn(sink.run(rx, stop.clone()));
        (reports, stop, running)
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
        assert_eq!(id, Some(("v1".to_string(), "default".to_string())));
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
    async fn a_receipt_that_overtakes_its_submit_record_is_held_in_the_store_and_survives_a_restart()
     {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path, Durability::Normal).unwrap();
        let now = SystemClock.now();
        let v = verification("v1", now);
        store
            .writer
            .run(move |tx| tx.insert_verification(&v))
            .await
            .unwrap();
        let (reports, stop, running) = sink(&store);

        // The receipt comes before its submit is recorded: it matches nothing, and is
        // acknowledged once it is held.
        let acked = Arc::new(tokio::sync::Notify::new());
        let ack = acked.clone();
        let report = DeliveryReport {
            channel: "op".into(),
            message_id: "a1b".into(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
            recorded: OnRecorded::new(move || ack.notify_one()),
            by_reference: None,
        };
        reports.send(report).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), acked.notified())
            .await
            .expect("the held receipt was acknowledged");
        let state = |store: Store| async move {
            let v = store.readers.verification("v1".into()).await.unwrap();
            v.unwrap().delivery.state
        };
        assert_eq!(state(store.clone()).await, DeliveryState::Queued);

        // The daemon dies there; the submit's record comes after a restart (say the
        // dispatcher's job was queued behind the hold), and applies the held receipt.
        stop.cancel();
        running.await.unwrap();
        drop(store);
        let store = Store::open(&path, Durability::Normal).unwrap();
        store
            .writer
            .run(move |tx| {
                tx.record_submitted("v1", "op", "a1b", now)?;
                apply_held(tx, "op", "a1b", now)
            })
            .await
            .unwrap();
        assert_eq!(state(store.clone()).await, DeliveryState::Delivered);
        let left = store
            .writer
            .run(|tx| tx.take_held_report("op", "a1b"))
            .await
            .unwrap();
        assert_eq!(left, None, "the held receipt is gone once applied");
    }

    #[tokio::test]
    async fn a_report_that_matches_is_applied_not_held_and_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let now = SystemClock.now();
        let v = verification("v1", now);
        store
            .writer
            .run(move |tx| {
                tx.insert_verification(&v)?;
                tx.record_submitted("v1", "op", "m1", now)
            })
            .await
            .unwrap();
        let (reports, stop, running) = sink(&store);
        let acked = Arc::new(tokio::sync::Notify::new());
        let ack = acked.clone();
        reports
            .send(DeliveryReport {
                channel: "op".into(),
                message_id: "m1".into(),
                state: DeliveryState::Undelivered,
                error: Some("err:011".into()),
                at: now,
                recorded: OnRecorded::new(move || ack.notify_one()),
                by_reference: None,
            })
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), acked.notified())
            .await
            .expect("the receipt was acknowledged");
        let v = store
            .readers
            .verification("v1".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v.delivery.state, DeliveryState::Undelivered);
        assert_eq!(v.delivery.error.as_deref(), Some("err:011"));
        let held = store
            .writer
            .run(|tx| tx.take_held_report("op", "m1"))
            .await
            .unwrap();
        assert_eq!(held, None, "a report that matched is not held");
        stop.cancel();
        running.await.unwrap();
    }

    #[tokio::test]
    async fn a_modem_report_without_an_id_finds_its_message_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
        let now = SystemClock.now();
        store
            .writer
            .run(move |tx| {
                for (id, message_id) in [("v1", "12@1000"), ("v2", "123@1001")] {
                    tx.insert_verification(&verification(id, now))?;
                    tx.record_submitted(id, "dongle", message_id, now)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let (reports, stop, running) = sink(&store);
        let report = |reference: u8, ack: Arc<tokio::sync::Notify>| DeliveryReport {
            channel: "dongle".into(),
            message_id: String::new(),
            state: DeliveryState::Delivered,
            error: None,
            at: now,
            recorded: OnRecorded::new(move || ack.notify_one()),
            by_reference: Some(crate::channel::ModemReference {
                reference,
                digits: "712345678".into(),
                since: Timestamp(now.0 - 60_000),
                before: Timestamp(now.0 + 1),
            }),
        };
        let acked = Arc::new(tokio::sync::Notify::new());
        // Reference 99 names nothing: acknowledged, nothing changes.
        reports.send(report(99, acked.clone())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), acked.notified())
            .await
            .unwrap();
        reports.send(report(123, acked.clone())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), acked.notified())
            .await
            .unwrap();
        let state = |id: &'static str| {
            let store = store.clone();
            async move {
                let v = store.readers.verification(id.into()).await.unwrap();
                v.unwrap().delivery.state
            }
        };
        assert_eq!(state("v1").await, DeliveryState::Submitted);
        assert_eq!(state("v2").await, DeliveryState::Delivered);
        let held = store
            .writer
            .run(|tx| tx.take_held_report("dongle", ""))
            .await
            .unwrap();
        assert_eq!(held, None, "a report found by reference is never held");
        stop.cancel();
        running.await.unwrap();
    }
}
