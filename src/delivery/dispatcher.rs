//! The dispatcher: outbox → code → channel → record.
//!
//! ```text
//!  outbox row ──claim (lease)──▶ draw code, commit its hash ──▶ channel.submit(text)
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
//! between, the lease runs out (or is released at start) and a fresh code is drawn.

use crate::channel::{Channel, LinkState, Load, Outgoing, SubmitOutcome};
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
const LEASE: Duration = Duration::from_secs(120);
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
    /// Claims and delivers until `stop`; then waits for the messages already handed out.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        let tasks = TaskTracker::new();
        while !stop.is_cancelled() {
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
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tasks.spawn(async move {
                    me.deliver(work).await;
                    drop(permit);
                });
            }
            if full {
                continue;
            }
            let pause = self.time_to_next_due().await;
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => break,
            }
        }
        tasks.close();
        tasks.wait().await;
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
            let Some(v) = tx.verification(&entry.verification_id)? else {
                tx.dequeue(&entry.verification_id)?;
                continue;
            };
            if v.status != Status::Pending {
                tx.dequeue(&v.id)?;
                continue;
            }
            if now >= v.expires_at {
                engine_expire(tx, &v, now)?;
                continue;
            }
            let Ok(candidates) = live
                .router
                .candidates(&v.recipient, v.channel_request.as_deref())
            else {
                fail(
                    tx,
                    &v,
                    "no configured channel serves this recipient any more",
                    now,
                )?;
                continue;
            };
            let remaining: Vec<usize> = candidates
                .into_iter()
                .filter(|i| {
                    live.router
                        .name(*i)
                        .is_some_and(|n| !entry.exhausted.iter().any(|e| e == n))
                })
                .collect();
            if remaining.is_empty() {
                // Every channel failed it for now (down, errors, timeouts): none said it can
                // never be delivered, so start over with all of them after a pause, until the
                // code expires.
                tx.reschedule(&v.id, now.plus(backoff(entry.tries)), entry.tries + 1, &[])?;
                continue;
            }
            let up: Vec<usize> = remaining
                .iter()
                .copied()
                .filter(|i| {
                    live.channels
                        .get(*i)
                        .is_some_and(|c| c.health().state == LinkState::Up)
                })
                .collect();
            let loads: Vec<(usize, Option<Load>)> = up
                .iter()
                .map(|i| (*i, live.channels.get(*i).and_then(|c| c.load())))
                .collect();
            let chosen = pick(&loads, &assigned).and_then(|i| {
                *assigned.entry(i).or_default() += 1;
                live.channels.get(i).cloned()
            });
            let Some(channel) = chosen else {
                // Nothing to fail over to right now: keep the message queued until a channel
                // comes back or the code expires.
                // Waiting is not a try: `tries` counts what channels did with the message.
                tx.reschedule(
                    &v.id,
                    now.plus(NO_CHANNEL_WAIT),
                    entry.tries,
                    &entry.exhausted,
                )?;
                continue;
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
        let v = Arc::new(v);
        let record_job = |v: Arc<Verification>, entry: OutboxEntry, outcome: SubmitOutcome| {
            let name = name.clone();
            move |tx: &WriteTx<'_>| record(tx, &v, entry, &name, outcome, now)
        };
        // Unguarded (no savepoint): record errs only when a statement fails, or when another
        // job's failure rolled its group back. Then once more, guarded: a message the channel
        // took but we did not record would go out again after its lease.
        let first = record_job(v.clone(), entry.clone(), outcome.clone());
        let mut recorded = self.store.writer.run_unguarded(first).await;
        if recorded.is_err() {
            let again = record_job(v.clone(), entry, outcome);
            recorded = self.store.writer.run(again).await;
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

/// Among the channels up (in config order, with their load), the first with room (a busy
/// modem lets the next one help), else the least busy one, so that a burst queues evenly on
/// all modems. `assigned`: messages of this claim batch already given to each.
fn pick(up: &[(usize, Option<Load>)], assigned: &HashMap<usize, usize>) -> Option<usize> {
    let excess = |(i, load): &(usize, Option<Load>)| {
        load.map_or(i128::MIN, |l| {
            let busy = l.busy + assigned.get(i).copied().unwrap_or(0);
            busy as i128 - l.preferred as i128
        })
    };
    let with_room = up.iter().find(|c| excess(c) < 0);
    let least_busy = up.iter().min_by_key(|c| excess(c));
    with_room.or(least_busy).map(|(i, _)| *i)
}

/// Writes what a channel did with a message.
fn record(
    tx: &WriteTx<'_>,
    sent: &Verification,
    mut entry: OutboxEntry,
    channel: &str,
    outcome: SubmitOutcome,
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
    let event = match &outcome {
        SubmitOutcome::Accepted { .. } => "submitted",
        SubmitOutcome::Retry { .. } | SubmitOutcome::Failover { .. } => "channel_error",
        SubmitOutcome::Reject { state, .. } => state.as_str(),
    };
    crate::metrics::delivery(channel, event);
    match outcome {
        SubmitOutcome::Accepted { message_id } => {
            tx.record_submitted(&sent.id, channel, &message_id, now)?;
            tx.dequeue(&sent.id)?;
            tx.insert_event(&sent.appid, &sent.id, "submitted", Some(channel), now)?;
            // A receipt that came before this record was held for it.
            super::reports::apply_held(tx, channel, &message_id, now)?;
        }
        SubmitOutcome::Retry { after, error } => {
            entry.tries += 1;
            let due = if entry.tries.is_multiple_of(TRIES_PER_CHANNEL) {
                entry.exhausted.push(channel.to_string());
                now
            } else {
                // Never beyond a lease: claim_due takes a row due later than that as left
                // there by a clock jump back.
                now.plus(after.max(backoff(entry.tries - 1)).min(LEASE))
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
            tx.record_delivery_end(&sent.id, state, Some(channel), &error)?;
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

    #[test]
    fn a_busy_modem_lets_the_next_one_help_and_a_burst_spreads_evenly() {
        let modem = |busy| Some(Load { busy, preferred: 2 });
        let none = HashMap::new();
        assert_eq!(pick(&[(0, modem(0)), (1, modem(0))], &none), Some(0));
        assert_eq!(pick(&[(0, modem(2)), (1, modem(1))], &none), Some(1));
        // None has room: the least busy, counting this batch's assignments.
        let batch = HashMap::from([(1, 3)]);
        assert_eq!(pick(&[(0, modem(4)), (1, modem(0))], &batch), Some(1));
        assert_eq!(pick(&[(0, modem(4)), (1, modem(2))], &batch), Some(0));
        // A channel without a load (SMPP) always has room; so does "no limit".
        assert_eq!(pick(&[(0, modem(9)), (2, None)], &none), Some(2));
        let unlimited = Some(Load {
            busy: 100,
            preferred: usize::MAX,
        });
        assert_eq!(pick(&[(3, unlimited), (2, None)], &none), Some(3));
        assert_eq!(pick(&[], &none), None);
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
