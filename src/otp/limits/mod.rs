//! Rate limits and the per-recipient lockout (config `[limits]`), checked and counted inside
//! the writer job that creates (or re-sends, or judges) a verification, so requests running in
//! parallel are counted one after the other and none slips past a limit. The state lives in
//! SQLite (`limit_recipient`, `limit_counter`), so a restart forgets nothing.
//!
//! | scope | counts | key | how (see [`window`]) |
//! |---|---|---|---|
//! | `per_recipient` | sends and resends to a number, across apps | E.164 | exact sliding log |
//! | `per_app` | sends and resends of an app | appid | sliding-window counter |
//! | `per_key` | sends and resends made with an API key (TCP) | the key | sliding-window counter |
//! | `per_ip` | sends and resends from a client address (TCP) | IPv4, or IPv6 /64 | sliding-window counter |
//! | `per_prefix` | sends and resends to a country calling code | "+255" | sliding-window counter |
//!
//! A request over any limit is refused whole (nothing counted anywhere), with the limit that
//! frees last. The lockout (see [`lockout`]) refuses verifies, sends and resends for a
//! locked recipient.

pub mod lockout;
pub mod status;
pub mod window;

use crate::model::{Rate, Timestamp};
use crate::store::limits::{CounterRow, RecipientRow};
use crate::store::{StoreError, WriteTx};
use ipnet::IpNet;
use lockout::{Failures, Lockout};
use std::net::IpAddr;
use std::time::Duration;
use window::Counter;

/// Config `[limits]`, as the engine applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub per_recipient: Vec<Rate>,
    pub per_app: Vec<Rate>,
    pub per_key: Vec<Rate>,
    pub per_ip: Vec<Rate>,
    pub per_prefix: Vec<Rate>,
    /// Peers whose `X-Forwarded-For` is believed (see `api::client_ip`).
    pub trusted_proxies: Vec<IpNet>,
    pub lockout: Lockout,
}

impl Default for Limits {
    fn default() -> Limits {
        let rate = |text| Rate::parse(text).unwrap_or_else(|_| unreachable_rate());
        Limits {
            per_recipient: vec![rate("5/10m"), rate("10/24h")],
            per_app: Vec::new(),
            per_key: Vec::new(),
            per_ip: Vec::new(),
            per_prefix: Vec::new(),
            trusted_proxies: Vec::new(),
            lockout: Lockout::default(),
        }
    }
}

/// The two default rates parse; this keeps `Default` total without an `expect`.
fn unreachable_rate() -> Rate {
    Rate {
        count: 1,
        window: Duration::from_secs(1),
        text: String::new(),
    }
}

/// Who a send (or resend) is for and from.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub recipient: &'a str,
    pub appid: &'a str,
    /// The API key, on TCP.
    pub key: Option<&'a str>,
    /// The client's address, on TCP.
    pub ip: Option<IpAddr>,
}

/// A refused request: the limit, as the reply names it, and how long until it would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub limit: String,
    pub retry_after: Duration,
}

impl Refusal {
    /// The longer of two refusals: the client has to wait for both.
    fn worst(a: Option<Refusal>, b: Refusal) -> Refusal {
        match a {
            Some(a) if a.retry_after >= b.retry_after => a,
            _ => b,
        }
    }
}

impl Limits {
    fn longest_recipient_window(&self) -> Duration {
        self.per_recipient
            .iter()
            .map(|r| r.window)
            .max()
            .unwrap_or_default()
    }

    fn lockout_refusal(&self, retry_after: Duration) -> Refusal {
        Refusal {
            limit: format!(
                "lockout after {} failed verifies in a row",
                self.lockout.after
            ),
            retry_after,
        }
    }

    /// When a recipient's row says nothing any more.
    fn forget_at(&self, sends: &[Timestamp], failures: &Failures) -> Timestamp {
        let sends_matter = sends
            .last()
            .map_or(Timestamp(0), |t| t.plus(self.longest_recipient_window()));
        sends_matter.max(failures.forget_at(&self.lockout))
    }
}

/// A recipient's state as the rules read it: its recent sends and its run of failures, and
/// when its stored row is due for pruning (`None`: there is no row).
pub struct RecipientState {
    sends: Vec<Timestamp>,
    failures: Failures,
    stored_forget_at: Option<Timestamp>,
}

/// Pruning times are rounded up to this, so that most updates of a row (a failed verify soon
/// after the send, an approval) leave its `forget_at`, and so the index on it, untouched. A
/// row may outlive its use by this much.
const FORGET_GRAIN_MS: i64 = 10 * 60_000;

fn coarse(t: Timestamp) -> Timestamp {
    Timestamp(
        t.0.saturating_add(FORGET_GRAIN_MS - 1)
            .div_euclid(FORGET_GRAIN_MS)
            .saturating_mul(FORGET_GRAIN_MS),
    )
}

impl RecipientState {
    /// `None` when the recipient has no row.
    fn load(
        tx: &WriteTx<'_>,
        limits: &Limits,
        recipient: &str,
        now: Timestamp,
    ) -> Result<Option<RecipientState>, StoreError> {
        let Some(row) = tx.recipient_limits(recipient)? else {
            return Ok(None);
        };
        let failures = Failures {
            count: row.failures,
            last: row.last_failure,
            locked_until: row.locked_until,
        }
        .at(&limits.lockout, now);
        Ok(Some(RecipientState {
            sends: row.sends,
            failures,
            stored_forget_at: Some(row.forget_at),
        }))
    }

    fn empty() -> RecipientState {
        RecipientState {
            sends: Vec::new(),
            failures: Failures::default(),
            stored_forget_at: None,
        }
    }

    fn save(
        &self,
        tx: &WriteTx<'_>,
        limits: &Limits,
        recipient: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let forget_at = limits.forget_at(&self.sends, &self.failures);
        if forget_at <= now {
            return match self.stored_forget_at {
                Some(_) => tx.delete_recipient_limits(recipient),
                None => Ok(()),
            };
        }
        let forget_at = coarse(forget_at);
        let row = RecipientRow {
            sends: self.sends.clone(),
            failures: self.failures.count,
            last_failure: self.failures.last,
            locked_until: self.failures.locked_until,
            forget_at,
        };
        match self.stored_forget_at {
            // A later pruning time than needed only keeps the row a little longer.
            Some(stored) if stored >= forget_at => tx.update_recipient_limits(recipient, &row),
            _ => tx.save_recipient_limits(recipient, &row),
        }
    }
}

/// One sliding-window counter that a send touches.
struct Touched {
    scope: &'static str,
    key: String,
    window_ms: i64,
    counter: Counter,
    /// The fixed window of the stored row, if there is one.
    stored_bucket: Option<i64>,
}

/// Checks every limit for a send (or resend) at `now` and, if all pass, counts it. Runs in
/// the writer job that creates the verification. `Ok(Err(refusal))`: refused, nothing counted.
///
/// This is on the hot path (one writer for every send), so it runs as few statements as it
/// can: a recipient with no row (most sends go to a number not sent to lately) is checked and
/// counted by one insert.
pub fn admit_send(
    tx: &WriteTx<'_>,
    limits: &Limits,
    subject: &Subject<'_>,
    now: Timestamp,
) -> Result<Result<(), Refusal>, StoreError> {
    let (touched, mut refusal) = check_counters(tx, limits, subject, now)?;
    let per_recipient = !limits.per_recipient.is_empty();
    let mut recipient: Option<RecipientState> = None;
    let fresh = refusal.is_none()
        && per_recipient
        && tx.insert_recipient_limits(
            subject.recipient,
            now,
            coarse(now.plus(limits.longest_recipient_window())),
        )?;
    if !fresh && (per_recipient || limits.lockout.is_on()) {
        let state = RecipientState::load(tx, limits, subject.recipient, now)?
            .unwrap_or_else(RecipientState::empty);
        if limits.lockout.is_on()
            && let Some(wait) = state.failures.locked(now)
        {
            refusal = Some(Refusal::worst(refusal, limits.lockout_refusal(wait)));
        }
        for rate in &limits.per_recipient {
            if let Err(wait) = window::log_admits(&state.sends, rate, now) {
                let this = Refusal {
                    limit: format!("per_recipient {rate}"),
                    retry_after: wait,
                };
                refusal = Some(Refusal::worst(refusal, this));
            }
        }
        recipient = Some(state);
    }
    if let Some(refusal) = refusal {
        return Ok(Err(refusal));
    }

    if per_recipient && let Some(mut state) = recipient {
        let keep = limits
            .per_recipient
            .iter()
            .map(|r| r.count as usize)
            .max()
            .unwrap_or(0);
        state.sends =
            window::log_record(&state.sends, now, keep, limits.longest_recipient_window());
        state.save(tx, limits, subject.recipient, now)?;
    }
    for t in touched {
        let counter = window::counter_record(t.counter);
        let row = CounterRow {
            bucket: counter.bucket,
            count: i64::try_from(counter.count).unwrap_or(i64::MAX),
            previous: i64::try_from(counter.previous).unwrap_or(i64::MAX),
        };
        if t.stored_bucket == Some(counter.bucket) {
            // Same fixed window: only the count changes (not forget_at and its index).
            tx.count_limit_counter(t.scope, &t.key, t.window_ms, row.count)?;
        } else {
            let forget_at = counter.forget_at(t.window_ms);
            tx.save_limit_counter(t.scope, &t.key, t.window_ms, row, forget_at)?;
        }
    }
    Ok(Ok(()))
}

/// Reads and checks the sliding-window counters of a send; returns them (to be counted if the
/// send goes ahead) and the refusal among them that frees last.
fn check_counters(
    tx: &WriteTx<'_>,
    limits: &Limits,
    subject: &Subject<'_>,
    now: Timestamp,
) -> Result<(Vec<Touched>, Option<Refusal>), StoreError> {
    let mut refusal: Option<Refusal> = None;
    let prefix = if limits.per_prefix.is_empty() {
        None
    } else {
        super::phone::calling_code(subject.recipient).map(|code| format!("+{code}"))
    };
    let scopes: [(&'static str, &'static str, Option<String>, &[Rate]); 4] = [
        (
            "app",
            "per_app",
            Some(subject.appid.to_string()),
            &limits.per_app,
        ),
        (
            "key",
            "per_key",
            subject.key.map(str::to_string),
            &limits.per_key,
        ),
        ("ip", "per_ip", subject.ip.map(ip_key), &limits.per_ip),
        ("prefix", "per_prefix", prefix, &limits.per_prefix),
    ];
    let mut touched: Vec<Touched> = Vec::new();
    for (scope, name, key, rates) in scopes {
        let Some(key) = key.filter(|_| !rates.is_empty()) else {
            continue;
        };
        for rate in rates {
            let window_ms = rate.window_ms();
            // Rates of one scope with the same window share one counter.
            let counter = match touched
                .iter()
                .find(|t| t.scope == scope && t.window_ms == window_ms)
            {
                Some(t) => t.counter,
                None => {
                    let row = tx.limit_counter(scope, &key, window_ms)?;
                    let stored_bucket = row.map(|r| r.bucket);
                    let row = row.unwrap_or_default();
                    let counter = Counter {
                        bucket: row.bucket,
                        count: u64::try_from(row.count).unwrap_or(0),
                        previous: u64::try_from(row.previous).unwrap_or(0),
                    }
                    .at(window_ms, now);
                    touched.push(Touched {
                        scope,
                        key: key.clone(),
                        window_ms,
                        counter,
                        stored_bucket,
                    });
                    counter
                }
            };
            if let Err(wait) = window::counter_admits(counter, rate, now) {
                let this = Refusal {
                    limit: format!("{name} {rate}"),
                    retry_after: wait,
                };
                refusal = Some(Refusal::worst(refusal, this));
            }
        }
    }
    Ok((touched, refusal))
}

/// What a verify may do, asked before its code is judged.
pub enum VerifyGate {
    /// The recipient is locked out: answer 429 without judging the code.
    Locked(Refusal),
    /// Judge the code, then give this to [`after_verify`] (`None`: the lockout is off).
    Open(Option<Option<RecipientState>>),
}

/// Whether the recipient of a verify is locked out at `now`.
pub fn check_verify(
    tx: &WriteTx<'_>,
    limits: &Limits,
    recipient: &str,
    now: Timestamp,
) -> Result<VerifyGate, StoreError> {
    if !limits.lockout.is_on() {
        return Ok(VerifyGate::Open(None));
    }
    let state = RecipientState::load(tx, limits, recipient, now)?;
    Ok(match state.as_ref().and_then(|s| s.failures.locked(now)) {
        Some(wait) => VerifyGate::Locked(limits.lockout_refusal(wait)),
        None => VerifyGate::Open(Some(state)),
    })
}

/// Counts a judged verify: a wrong code adds to the recipient's run of failures (and may lock
/// it), a right one ends the run. `gate` is what [`check_verify`] let through.
pub fn after_verify(
    tx: &WriteTx<'_>,
    limits: &Limits,
    recipient: &str,
    gate: Option<Option<RecipientState>>,
    failed: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(state) = gate else {
        return Ok(());
    };
    let mut state = state.unwrap_or_else(RecipientState::empty);
    if !failed && state.failures.count == 0 {
        // Nothing to reset: the common approval writes nothing.
        return Ok(());
    }
    state.failures = if failed {
        state.failures.after_failure(&limits.lockout, now)
    } else {
        Failures::default()
    };
    state.save(tx, limits, recipient, now)
}

/// The key of a client address: IPv4 as is; IPv6 by its /64, since one host commonly holds a
/// whole /64 and could step through it.
pub fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            let net = std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod tests;
