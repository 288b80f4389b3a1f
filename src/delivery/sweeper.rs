//! The sweeper: ends pending verifications whose time is up, and forgets old idempotency
//! keys and rate-limit and fraud-guard rows that no longer matter. Readers never wait for it: a
//! pending verification past its expiry already reads as expired; the sweeper makes it so in the
//! database and drops its queued message.
//!
//! It also applies retention (`[store] retention`, see `store::retention`): at start and then
//! every [`PURGE_EVERY`], a job of its own that deletes at most [`PURGE_BATCH`] of each kind,
//! repeated at once while a job comes back full, so a backlog drains in short transactions
//! that sends and verifies queue between.

use crate::model::{Clock, Timestamp};
use crate::otp::engine_expire;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const BATCH: usize = 500;
/// Rate-limit rows deleted per table in one pass: a busy daemon forgets as many recipients a
/// second as it sends to, so the pruning must be able to keep up.
const PRUNE_BATCH: usize = 5_000;
const EVERY: Duration = Duration::from_secs(1);
/// Rows of each kind one retention job deletes at most: a few milliseconds of the writer.
const PURGE_BATCH: usize = 1_000;
/// Retention is counted in hours at least, so looking once a minute is soon enough.
const PURGE_EVERY: Duration = Duration::from_secs(60);

pub struct Sweeper {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// How long ended verifications, events and webhook deliveries are kept.
    pub retention: Duration,
}

impl Sweeper {
    pub async fn run(self, stop: CancellationToken) {
        let mut next_purge = self.clock.now();
        loop {
            let now = self.clock.now();
            let mut behind = false;
            if now >= next_purge {
                match self.purge(now).await {
                    Ok(true) => behind = true,
                    Ok(false) => next_purge = now.plus(PURGE_EVERY),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot purge data past its retention");
                        next_purge = now.plus(PURGE_EVERY);
                    }
                }
            }
            let swept = self.sweep().await;
            let pause = match swept {
                Ok(true) => Duration::ZERO,
                Ok(_) => EVERY,
                Err(e) => {
                    tracing::error!(error = %e, "cannot expire verifications");
                    EVERY
                }
            };
            let pause = if behind { Duration::ZERO } else { pause };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => break,
            }
        }
    }

    /// One retention job; true when it hit the batch bound, so more may be left.
    async fn purge(&self, now: Timestamp) -> Result<bool, StoreError> {
        let before = Timestamp(
            now.0
                .saturating_sub(i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX)),
        );
        let purged = self
            .store
            .writer
            .run(move |tx| tx.purge_retention(before, PURGE_BATCH))
            .await?;
        if !purged.is_empty() {
            crate::metrics::METRICS
                .purged_verifications
                .inc_by(purged.verifications as u64);
            tracing::info!(
                verifications = purged.verifications,
                events = purged.events + purged.app_events,
                attempts = purged.attempts,
                webhook_deliveries = purged.webhook_deliveries,
                "purged data past its retention"
            );
        }
        Ok(purged.full(PURGE_BATCH))
    }

    /// One pass at the clock's `now`; true when it stopped at a batch limit (more is due).
    pub async fn sweep(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        self.store
            .writer
            .run(move |tx| {
                let due = tx.due_for_expiry(now, BATCH)?;
                for v in &due {
                    engine_expire(tx, v, now)?;
                }
                let day_ago = Timestamp(now.0 - crate::otp::IDEMPOTENCY_WINDOW.as_millis() as i64);
                tx.purge_idempotency(day_ago)?;
                let stale = Timestamp(
                    now.0
                        .saturating_sub(super::reports::HOLD.as_millis() as i64),
                );
                let dropped = tx.drop_stale_held_reports(stale, PRUNE_BATCH)?;
                let pruned = tx
                    .prune_limits(now, PRUNE_BATCH)?
                    .max(tx.prune_fraud(now, PRUNE_BATCH)?)
                    .max(dropped);
                Ok::<_, StoreError>((due.len() == BATCH || pruned == PRUNE_BATCH, dropped))
            })
            .await
            .map(|(more, dropped)| {
                if dropped > 0 {
                    // A receipt for a message resent since (under a new id), or one the
                    // network sent twice: nothing waits for it.
                    tracing::warn!(
                        reports = dropped,
                        "dropped delivery reports that matched no message within 10 minutes"
                    );
                }
                more
            })
    }
}
