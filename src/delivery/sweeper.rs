//! The sweeper: ends pending verifications whose time is up, and forgets old idempotency
//! keys and rate-limit and fraud-guard rows that no longer matter. Readers never wait for it: a pending verification past its expiry already reads as
//! expired; the sweeper makes it so in the database and drops its queued message.

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

pub struct Sweeper {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
}

impl Sweeper {
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let swept = self.sweep().await;
            let pause = match swept {
                Ok(true) => Duration::ZERO,
                Ok(_) => EVERY,
                Err(e) => {
                    tracing::error!(error = %e, "cannot expire verifications");
                    EVERY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => break,
            }
        }
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
                let pruned = tx
                    .prune_limits(now, PRUNE_BATCH)?
                    .max(tx.prune_fraud(now, PRUNE_BATCH)?);
                Ok::<_, StoreError>(due.len() == BATCH || pruned == PRUNE_BATCH)
            })
            .await
    }
}
