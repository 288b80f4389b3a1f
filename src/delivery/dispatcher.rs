//! The dispatcher: outbox → code → channel → record.
//!
//! ```text
//!  a send, committed ──handoff (leased row, hash committed)──┐
//!  outbox row ──claim (lease)──▶ draw code, commit its hash ──┴─▶ channel.submit(text)
//!      ▲                                                               │
//!      ├── Retry: same channel after backoff (up to TRIES_PER_CHANNEL) ◀┤
//!      ├── Failover: next channel in config order ◀─────────────────────┤
//!      │   Accepted: delivery "submitted", row removed ◀────────────────┤
//!      │   Reject: delivery ended, verification "failed" ◀──────────────┘
//!      ├── no channel up: wait until one is, or the code expires
//!      └── every channel failed it for now: start over with all of them after backoff
//! ```
//!
//! The code exists only between the draw and the channel's hands: if the process dies in
//! between, the lease runs out (or is released at start) and a fresh code is drawn. A send
//! hands its message over when there is room (see [`Handoff`]); a handed-over message no
//! channel can take right now goes back to the outbox, due at once, and the claim decides.

use super::choice::{Choice, choose};
use crate::channel::{Channel, Outgoing, SubmitOutcome};
use crate::live::{Live, LiveConfig};
use crate::model::{Clock, DeliveryState, Status, Timestamp, Verification};
use crate::otp::engine_expire;
use crate::otp::hash::Pepper;
use crate::otp::pin::Randomness;
use crate::otp::template;
use crate::secret::Secret;
use crate::store::outbox::OutboxEntry;
use crate::store::{Store, StoreError, WriteTx};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Rows claimed per writer job.
const CLAIM_BATCH: usize = 256;
/// Messages handed to channels and not yet recorded, at most.
const IN_FLIGHT: usize = 4096;
/// How long a claim holds a row: longer than any channel takes to answer a submit.
pub const LEASE: Duration = Duration::from_secs(120);
/// Messages handed over by sends and not yet taken, at most; beyond, a send leaves its
/// message to the outbox.
pub const HANDOFFS: usize = 1024;
/// A channel that has not answered a submit by then is treated as having failed it.
const SUBMIT_DEADLINE: Duration = Duration::from_secs(90);
/// Retries of one message on one channel before failing over to the next.
const TRIES_PER_CHANNEL: u32 = 3;
/// How long a message waits when no channel that may carry it is up.
const NO_CHANNEL_WAIT: Duration = Duration::from_secs(1);
/// The dispatcher looks at the outbox at least this often even if nothing wakes it.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Backoff before retry number `tries` (0-based): 0.5 s doubling to at most 30 s.
pub fn backoff(tries: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1u64 << tries.min(6))).min(Duration::from_secs(30))
}

pub struct Dispatcher {
    pub store: Store,
    /// Channels, routes, templates and apps, as the last (re)load left them.
    pub live: LiveConfig,
    pub pepper: Arc<Pepper>,
    pub random: Arc<Randomness>,
    pub clock: Arc<dyn Clock>,
    /// Woken when the outbox may have something due (a send, a resend, a reschedule).
    pub wake: Arc<Notify>,
}

/// A message a send hands over as it commits it: its outbox row is leased already and its
/// code's hash stored, so the dispatcher needs no claim and no read. Should the process die
/// before a channel has it, the lease is released at start and the outbox delivers it with a
/// fresh code.
pub struct Handoff {
    pub verification: Verification,
    pub code: Secret,
}

/// A claimed message with its code, ready for a channel.
struct Work {
    verification: Verification,
    entry: OutboxEntry,
    channel: Arc<dyn Channel>,
    /// The configuration it was claimed under: its template and app profile apply.
    live: Arc<Live>,
    code: Secret,
}

impl Dispatcher {
    /// Claims and delivers until `stop`, and takes what sends hand over; then waits for the
    /// messages already handed out.
    pub async fn run(
        self: Arc<Self>,
        stop: CancellationToken,
        mut handoffs: tokio::sync::mpsc::Receiver<Handoff>,
    ) {
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        let tasks = TaskTracker::new();
        // Look at the outbox on this turn (woken, or its next row due).
        let mut look = true;
        let mut next_look = tokio::time::Instant::now();
        while !stop.is_cancelled() {
            if look || tokio::time::Instant::now() >= next_look {
                let room = in_flight.available_permits().min(CLAIM_BATCH);
                if room == 0 {
                    // Wait for one delivery to finish before claiming more.
                    tokio::select! {
                        permit = in_flight.clone().acquire_owned() => drop(permit),
                        () = stop.cancelled() => break,
                    }
                    continue;
                }
                let claimed = match self.claim(room).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        // Disk full, database locked...: wait instead of spinning on the error.
                        tracing::error!(error = %e, "cannot claim messages from the outbox; retrying in 1 s");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = stop.cancelled() => break,
                        }
                        continue;
                    }
                };
                let full = claimed.len() == room;
                for work in claimed {
                    self.start(work, &in_flight, &tasks).await;
                }
                if full {
                    continue;
                }
                next_look = tokio::time::Instant::now() + self.time_to_next_due().await;
            }
            tokio::select! {
                () = self.wake.notified() => look = true,
                () = tokio::time::sleep_until(next_look) => look = true,
                Some(first) = handoffs.recv() => {
                    look = self.take(first, &mut handoffs, &in_flight, &tasks).await;
                }
                () = stop.cancelled() => break,
            }
        }
        tasks.close();
        tasks.wait().await;
    }

    /// Starts the delivery of `work` once fewer than IN_FLIGHT are under way.
    async fn start(self: &Arc<Self>, work: Work, in_flight: &Arc<Semaphore>, tasks: &TaskTracker) {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let me = self.clone();
        tasks.spawn(async move {
            me.deliver(work).await;
            drop(permit);
        });
    }

    /// Delivers the handed-over messages that a channel can take now (`first` and those
    /// queued behind it). The others go back to the outbox, due now, for the claim to decide
    /// as it does for any message; true if there were such.
    async fn take(
        self: &Arc<Self>,
        first: Handoff,
        handoffs: &mut tokio::sync::mpsc::Receiver<Handoff>,
        in_flight: &Arc<Semaphore>,
        tasks: &TaskTracker,
    ) -> bool {
        let mut batch = vec![first];
        while batch.len() < CLAIM_BATCH {
            match handoffs.try_recv() {
                Ok(h) => batch.push(h),
                Err(_) => break,
            }
        }
        let live = self.live.get();
        let mut assigned: HashMap<usize, usize> = HashMap::new();
        let mut back = Vec::new();
        for Handoff { verification, code } in batch {
            let entry = OutboxEntry {
                verification_id: verification.id.clone(),
                tries: 0,
                exhausted: Vec::new(),
            };
            match choose(&live, &verification, &entry, &mut assigned) {
                Choice::Deliver(channel) => {
                    let live = live.clone();
                    let work = Work {
                        verification,
                        entry,
                        channel,
                        live,
                        code,
                    };
                    self.start(work, in_flight, tasks).await;
                }
                _ => back.push(entry),
            }
        }
        if back.is_empty() {
            return false;
        }
        let now = self.clock.now();
        let given_back = self
            .store
            .writer
            .run(move |tx| {
                for entry in &back {
                    tx.reschedule(&entry.verification_id, now, 0, &[])?;
                }
                Ok::<_, StoreError>(())
            })
            .await;
        if let Err(e) = given_back {
            // Their lease runs out, and the outbox delivers them then.
            tracing::error!(error = %e, "cannot give handed-over messages back to the outbox");
        }
        true
    }

    async fn time_to_next_due(&self) -> Duration {
        let next = self
            .store
            .writer
            .run(|tx| tx.next_due())
            .await
            .ok()
            .flatten();
        let now = self.clock.now();
        next.map_or(IDLE_CHECK, |t| now.until(t).min(IDLE_CHECK))
    }

    /// Claims up to `limit` due messages and draws their codes.
    async fn claim(self: &Arc<Self>, limit: usize) -> Result<Vec<Work>, StoreError> {
        let me = self.clone();
        let now = self.clock.now();
        self.store
            .writer
            // Unguarded (no savepoint): claim_in errs only when a statement fails.
            .run_unguarded(move |tx| me.claim_in(tx, now, limit))
            .await
    }

    fn claim_in(
        &self,
        tx: &WriteTx<'_>,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<Work>, StoreError> {
        let live = self.live.get();
        let mut work = Vec::new();
        // Messages of this batch given to each channel, against what it says it has room for.
        let mut assigned: HashMap<usize, usize> = HashMap::new();
        for entry in tx.claim_due(now, now.plus(LEASE), limit)? {
            let v = match tx.verification(&entry.verification_id) {
                Ok(Some(v)) => v,
                Ok(None) => {
                    tx.dequeue(&entry.verification_id)?;
                    continue;
                }
                Err(e @ StoreError::BadValue { .. }) => {
                    // A row otpd cannot read (edited by hand, or written by a bug). Failing
                    // the claim would roll back the writer's whole group, every time the row
                    // falls due: it is left leased instead, and comes back after the lease.
                    tracing::error!(verification = %entry.verification_id, error = %e, "cannot read a verification in the outbox; skipped until its lease runs out");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if v.status != Status::Pending {
                tx.dequeue(&v.id)?;
                continue;
            }
            if now >= v.expires_at {
                engine_expire(tx, &v, now)?;
                continue;
            }
            let channel = match choose(&live, &v, &entry, &mut assigned) {
                Choice::Deliver(channel) => channel,
                Choice::NoRoute => {
                    let why = "no configured channel serves this recipient any more";
                    fail(tx, &v, why, now)?;
                    continue;
                }
                Choice::StartOver => {
                    // Until the code expires.
                    let due = now.plus(backoff(entry.tries));
                    tx.reschedule(&v.id, due, entry.tries + 1, &[])?;
                    continue;
                }
                Choice::Wait => {
                    // Until a channel comes back or the code expires. Waiting is not a try:
                    // `tries` counts what channels did with the message.
                    let due = now.plus(NO_CHANNEL_WAIT);
                    tx.reschedule(&v.id, due, entry.tries, &entry.exhausted)?;
                    continue;
                }
            };
            let code = self.random.code(v.code_length);
            tx.set_code_hash(
                &v.id,
                &self.pepper.code_hash(&v.id, &v.recipient, code.expose()),
            )?;
            work.push(Work {
                verification: v,
                entry,
                channel,
                live: live.clone(),
                code,
            });
        }
        Ok(work)
    }

    /// Builds the text, hands it to the channel and records the outcome.
    async fn deliver(self: Arc<Self>, work: Work) {
        let Work {
            verification: v,
            entry,
            channel: chan,
            live,
            code,
        } = work;
        let now = self.clock.now();
        if now >= v.expires_at {
            // Claimed in time but the code ran out before the channel was reached (a deep
            // queue): a code that no longer works is not worth an SMS.
            drop(code);
            let expired = self
                .store
                .writer
                .run(move |tx| match tx.verification(&v.id)? {
                    // Expire only what is still this message's pending, ended verification.
                    Some(cur)
                        if cur.sends == v.sends
                            && cur.status == Status::Pending
                            && now >= cur.expires_at =>
                    {
                        engine_expire(tx, &cur, now)
                    }
                    _ => Ok(()),
                })
                .await;
            if let Err(e) = expired {
                tracing::error!(error = %e, "cannot record an expiry");
            }
            return;
        }
        let app = live.app(&v.appid);
        let ttl = Duration::from_millis(v.ttl_ms.max(0) as u64);
        let text = template::render(app.template_for(&v.recipient), app.name, &code, ttl);
        drop(code);
        let message = Outgoing {
            verification_id: v.id.clone(),
            recipient: v.recipient.clone(),
            sender: app.sender(v.sender.as_deref()),
            text,
            validity: self.clock.now().until(v.expires_at),
        };
        let outcome = tokio::time::timeout(SUBMIT_DEADLINE, chan.submit(message))
            .await
            .unwrap_or_else(|_| SubmitOutcome::Retry {
                after: Duration::from_secs(1),
                error: "the channel did not answer the submit in time".into(),
            });
        match &outcome {
            SubmitOutcome::Accepted { .. } => {}
            SubmitOutcome::Retry { error, .. }
            | SubmitOutcome::Failover { error }
            | SubmitOutcome::Reject { error, .. } => {
                tracing::warn!(verification = %v.id, to = %crate::log_mask::recipient(&v.recipient), channel = chan.name(), error = %error, "a channel did not take a message");
            }
        }
        let name = chan.name().to_string();
        let now = self.clock.now();
        let accepted = matches!(outcome, SubmitOutcome::Accepted { .. });
        // Unguarded (no savepoint): record errs only when a statement fails, or when another
        // job's failure rolled its group back. Then once more, guarded: a message the channel
        // took but we did not record would go out again after its lease.
        let what = Arc::new((v, entry, name, outcome));
        let job = |what: Arc<(Verification, OutboxEntry, String, SubmitOutcome)>| {
            move |tx: &WriteTx<'_>| {
                let (v, entry, name, outcome) = &*what;
                record(tx, v, entry, name, outcome, now)
            }
        };
        let mut recorded = self.store.writer.run_unguarded(job(what.clone())).await;
        if recorded.is_err() {
            recorded = self.store.writer.run(job(what)).await;
        }
        if let Err(e) = recorded {
            // The lease runs out and the message is sent again with a fresh code.
            tracing::error!(error = %e, "cannot record the outcome of a submit");
        }
        if !accepted {
            // Rescheduled (or ended): the outbox may have something due sooner.
            self.wake.notify_one();
        }
    }
}

/// Writes what a channel did with a message.
fn record(
    tx: &WriteTx<'_>,
    sent: &Verification,
    entry: &OutboxEntry,
    channel: &str,
    outcome: &SubmitOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    // A resend since the claim started a new message of its own: this one's record would
    // overwrite it, and its outbox row is the resend's now.
    let Some((sends, status)) = tx.sends_and_status(&sent.id)? else {
        return Ok(());
    };
    if sends != sent.sends {
        return Ok(());
    }
    let event = match outcome {
        SubmitOutcome::Accepted { .. } => "submitted",
        SubmitOutcome::Retry { .. } | SubmitOutcome::Failover { .. } => "channel_error",
        SubmitOutcome::Reject { state, .. } => state.as_str(),
    };
    crate::metrics::delivery(channel, event);
    match outcome {
        SubmitOutcome::Accepted { message_id } => {
            tx.record_submitted(&sent.id, channel, message_id, now)?;
            tx.dequeue(&sent.id)?;
            tx.insert_event(&sent.appid, &sent.id, "submitted", Some(channel), now)?;
            // A receipt that came before this record was held for it.
            super::reports::apply_held(tx, channel, message_id, now)?;
        }
        SubmitOutcome::Retry { after, error } => {
            let mut entry = entry.clone();
            entry.tries += 1;
            let due = if entry.tries.is_multiple_of(TRIES_PER_CHANNEL) {
                entry.exhausted.push(channel.to_string());
                now
            } else {
                // Never beyond a lease: claim_due takes a row due later than that as left
                // there by a clock jump back.
                now.plus((*after).max(backoff(entry.tries - 1)).min(LEASE))
            };
            tx.reschedule(&sent.id, due, entry.tries, &entry.exhausted)?;
            tx.insert_event(
                &sent.appid,
                &sent.id,
                "channel_error",
                Some(&format!("{channel}: {error}")),
                now,
            )?;
        }
        SubmitOutcome::Failover { error } => {
            let mut entry = entry.clone();
            entry.exhausted.push(channel.to_string());
            // The next channel gets its own TRIES_PER_CHANNEL retries.
            entry.tries = entry.tries.next_multiple_of(TRIES_PER_CHANNEL);
            tx.reschedule(&sent.id, now, entry.tries, &entry.exhausted)?;
            tx.insert_event(
                &sent.appid,
                &sent.id,
                "channel_error",
                Some(&format!("{channel}: {error}")),
                now,
            )?;
        }
        SubmitOutcome::Reject { state, error } => {
            tx.record_delivery_end(&sent.id, *state, Some(channel), error)?;
            if status == Status::Pending {
                tx.end_verification(&sent.id, Status::Failed, now)?;
            }
            tx.dequeue(&sent.id)?;
            tx.insert_event(
                &sent.appid,
                &sent.id,
                "undelivered",
                Some(&format!("{channel}: {error}")),
                now,
            )?;
        }
    }
    Ok(())
}

/// Ends a verification whose message no channel will carry.
fn fail(tx: &WriteTx<'_>, v: &Verification, why: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.record_delivery_end(&v.id, DeliveryState::Undelivered, None, why)?;
    tx.end_verification(&v.id, Status::Failed, now)?;
    tx.dequeue(&v.id)?;
    tx.insert_event(&v.appid, &v.id, "undelivered", Some(why), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::router::{Route, Router};
    use crate::live::Live;
    use crate::model::SystemClock;
    use crate::otp::{Apps, Limits, Policy, TestNumbers};
    use crate::store::Durability;

    #[tokio::test]
    async fn a_verification_it_cannot_read_is_skipped_without_failing_the_claim() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("otpd.db");
        let store = Store::open(&path, Durability::Normal).unwrap();
        let now = SystemClock.now();
        store
            .writer
            .run(move |tx| {
                for id in ["v1", "v2"] {
                    let ttl = Duration::from_secs(300);
                    let to = "+255712345678".to_string();
                    let v = Verification::new_pending(id.into(), "a".into(), to, now, ttl, 6, 5);
                    tx.insert_verification(&v)?;
                    tx.enqueue(id, now)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "UPDATE verification SET status = 'bogus' WHERE id = 'v1'",
            [],
        )
        .unwrap();
        let live = LiveConfig::new(Live {
            policy: Policy {
                length: 6,
                ttl: Duration::from_secs(300),
                max_attempts: 5,
                resend_cooldown: Duration::ZERO,
                max_resends: 5,
                template: "{code}".into(),
                templates: Vec::new(),
            },
            apps: Apps::default(),
            test_numbers: TestNumbers::default(),
            limits: Limits::default(),
            fraud: Default::default(),
            router: Router::new(vec![Route {
                channel: "smsc".into(),
                prefixes: Vec::new(),
            }]),
            // No channel is up: the readable message waits.
            channels: Vec::new(),
        });
        let dispatcher = Arc::new(Dispatcher {
            store,
            live,
            pepper: Arc::new(Pepper::from_bytes([7; 32])),
            random: Arc::new(Randomness::from_seed([1; 32])),
            clock: Arc::new(SystemClock),
            wake: Arc::default(),
        });
        let claimed = dispatcher.claim(10).await.expect("the claim does not fail");
        assert!(claimed.is_empty(), "no channel is up");
        let rows: Vec<(String, i64, i64)> = raw
            .prepare("SELECT verification_id, due_at, lease_until FROM outbox ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let leased = now.plus(LEASE).0;
        assert_eq!(rows.len(), 2, "nothing left the outbox: {rows:?}");
        assert!(
            rows[0].0 == "v1" && rows[0].2 >= leased,
            "v1 stays leased: {rows:?}"
        );
        let waits = now.plus(NO_CHANNEL_WAIT).0;
        assert!(
            rows[1].0 == "v2" && rows[1].2 == 0,
            "v2 was looked at: {rows:?}"
        );
        assert!(
            (waits..leased).contains(&rows[1].1),
            "v2 waits for a channel: {rows:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(6), Duration::from_secs(30));
        assert_eq!(backoff(60), Duration::from_secs(30));
    }
}
