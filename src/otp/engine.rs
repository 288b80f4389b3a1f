//! Send, resend, cancel, verify and status: the engine's answers to the API.

use super::fraud::{self, Keys, Mode, Reason};
use super::limits::{self, Subject, VerifyGate};
use super::reply::{DeliveryBrief, ended_reason};
use super::rules::{self, Judgment, ResendRefusal};
use super::test_numbers::{self, TEST_CHANNEL};
use super::{MAX_TTL, OtpError, SendReply, StatusReply, VerifyReply, hash::Pepper, phone};
use crate::delivery::dispatcher::{Handoff, LEASE};
use crate::delivery::router::RouteError;
use crate::model::{Clock, DeliveryState, Status, Timestamp, Verification};
use crate::otp::pin::{LENGTHS, Randomness};
use crate::secret::Secret;
use crate::store::attempts::Attempt;
use crate::store::{Store, WriteTx};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long an Idempotency-Key is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A send as the API parsed it; the engine validates the values.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub appid: String,
    pub recipient: String,
    pub channel: Option<String>,
    pub from: Option<String>,
    pub length: Option<i64>,
    pub ttl_seconds: Option<i64>,
    pub idempotency_key: Option<String>,
    pub origin: Origin,
}

/// Where a request came from, for the per_key and per_ip limits: on TCP the API key and the
/// client address; on the Unix socket neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub key: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Origin {
    /// The record of a judged verify from this origin: "unix" when there is no address.
    fn attempt(&self, judgment: Judgment, now: Timestamp) -> Attempt {
        let reason = match judgment {
            Judgment::Approve => None,
            Judgment::LastAttempt { .. } => Some("max_attempts_reached"),
            _ => Some("incorrect_code"),
        };
        Attempt {
            at: now,
            valid: judgment == Judgment::Approve,
            reason: reason.map(str::to_string),
            source: self
                .ip
                .map_or_else(|| "unix".to_string(), |ip| ip.to_string()),
            api_key: self.key.clone(),
        }
    }

    fn subject<'a>(&'a self, v: &'a Verification) -> Subject<'a> {
        Subject {
            recipient: &v.recipient,
            appid: &v.appid,
            key: self.key.as_deref(),
            ip: self.ip,
        }
    }
}

/// A verify: by id (optionally checking the recipient), or by recipient within an app.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    pub verification_id: Option<String>,
    pub recipient: Option<String>,
    pub appid: String,
    pub code: Secret,
    /// Where the verify came from, recorded with each judged attempt (GET /otp/attempts).
    pub origin: Origin,
}

pub struct Engine {
    pub store: Store,
    pub pepper: Arc<Pepper>,
    pub random: Arc<Randomness>,
    /// Policy, apps and routes, as the last (re)load left them.
    pub live: crate::live::LiveConfig,
    pub clock: Arc<dyn Clock>,
    /// Woken after a send or resend is committed, so the dispatcher claims it at once.
    pub dispatch: Arc<Notify>,
    /// Where a send hands its message to the dispatcher as it commits it (no claim needed);
    /// `None`, or full: the message waits in the outbox for a claim.
    pub handoff: Option<tokio::sync::mpsc::Sender<Handoff>>,
}

/// Which verifications a caller may touch: a TCP key sees its app only, the Unix socket all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Any,
    App(String),
}

impl Scope {
    fn allows(&self, appid: &str) -> bool {
        match self {
            Scope::Any => true,
            Scope::App(own) => own == appid,
        }
    }
}

impl Engine {
    pub async fn send(&self, req: SendRequest) -> Result<SendReply, OtpError> {
        let now = self.clock.now();
        let live = self.live.get();
        if !super::valid_appid(&req.appid) {
            return Err(OtpError::invalid(
                "appid",
                "must be 1 to 64 of A-Z a-z 0-9 _ . -",
            ));
        }
        let recipient =
            phone::normalize(&req.recipient).map_err(|e| OtpError::InvalidRecipient(e.0))?;
        let app = live.app(&req.appid);
        let length = match req.length {
            None => app.length,
            Some(n) => u8::try_from(n)
                .ok()
                .filter(|n| LENGTHS.contains(n))
                .ok_or_else(|| {
                    OtpError::invalid("length", format!("must be between 4 and 10, got {n}"))
                })?,
        };
        let ttl = match req.ttl_seconds {
            None => app.ttl,
            Some(s) if (1..=MAX_TTL.as_secs() as i64).contains(&s) => Duration::from_secs(s as u64),
            Some(s) => {
                return Err(OtpError::invalid(
                    "ttl",
                    format!(
                        "must be between 1 and {} seconds, got {s}",
                        MAX_TTL.as_secs()
                    ),
                ));
            }
        };
        if let Some(from) = &req.from {
            check_sender(from)?;
        }
        if let Some(key) = &req.idempotency_key
            && (key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(OtpError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        // A test number's code is fixed and nothing is sent: no channel needs to serve it.
        let test_code = live.test_numbers.code_for(&recipient, &req.appid).cloned();
        let channel = match (
            live.router.first(&recipient, req.channel.as_deref()),
            &test_code,
        ) {
            (Err(RouteError::UnknownChannel(name)), _) => {
                let msg = format!("there is no channel named {name:?}");
                return Err(OtpError::invalid("channel", msg));
            }
            (_, Some(_)) => TEST_CHANNEL,
            (Ok(channel), None) => channel,
            (Err(RouteError::NoChannel(r)), None) => return Err(OtpError::NoChannel(r)),
        };
        let length = match &test_code {
            Some(code) => u8::try_from(code.expose().len()).unwrap_or(length),
            None => length,
        };
        // The allow-list is a fixed rule about the number, like its validity: nothing is
        // stored or counted for a refused send but its event. Test numbers send nothing, so
        // the fraud protection leaves them alone.
        if test_code.is_none()
            && let Err(refusal) = live.fraud.check_country(&recipient)
        {
            let detail = refusal.detail.clone();
            let appid = req.appid.clone();
            self.store
                .writer
                .run(move |tx| {
                    let detail = format!("{detail} (app {appid})");
                    tx.insert_app_event(&appid, "blocked", Some(&detail), now)
                })
                .await?;
            crate::metrics::fraud(&crate::metrics::METRICS.fraud_blocked, "country");
            return Err(OtpError::Blocked {
                detail: refusal.detail,
                verification_id: None,
                reason: Reason::Country,
            });
        }
        let keys = match test_code {
            Some(_) => Keys::default(),
            None => live.fraud.keys(&recipient, req.origin.ip),
        };

        let id = self.random.verification_id(now);
        let mut v = Verification::new_pending(
            id,
            req.appid.clone(),
            recipient,
            now,
            ttl,
            length,
            app.max_attempts,
        );
        v.channel_request = req.channel.clone();
        v.sender = req.from.clone();
        let reply = SendReply {
            verification_id: v.id.clone(),
            appid: v.appid.clone(),
            recipient: v.recipient.clone(),
            status: Status::Pending,
            channel: channel.to_string(),
            expires_at: v.expires_at,
            resend_available_at: now.plus(app.resend_cooldown),
            attempts_left: v.max_attempts,
            delivery: DeliveryBrief {
                state: if test_code.is_some() {
                    DeliveryState::Delivered
                } else {
                    DeliveryState::Queued
                },
            },
        };
        let idempotency = req
            .idempotency_key
            .clone()
            .map(|key| (key, request_hash(&v)));
        // Straight to the dispatcher when it has room: the code is drawn now and its hash
        // stored with the verification, and the outbox row is written leased, so that no
        // claim and no re-read are needed. Test numbers send nothing.
        let permit = match (&test_code, &self.handoff) {
            (None, Some(handoff)) => handoff.try_reserve().ok(),
            _ => None,
        };
        let handed = permit.as_ref().map(|_| {
            let code = self.random.code(v.code_length);
            let hash = self.pepper.code_hash(&v.id, &v.recipient, code.expose());
            v.code_hash = Some(hash.to_vec());
            (v.clone(), code)
        });
        let lease = handed.as_ref().map(|_| now.plus(LEASE));
        let origin = req.origin;
        let pepper = self.pepper.clone();
        // Unguarded (no savepoint): every refusal is found by reading before any write, and
        // one that must be recorded is an Ok(Err); only a failing statement errs after a write.
        let reply = self
            .store
            .writer
            .run_unguarded(move |tx| {
                if let Some((key, hash)) = &idempotency {
                    let since = Timestamp(now.0 - IDEMPOTENCY_WINDOW.as_millis() as i64);
                    if let Some((first_hash, _, body)) =
                        tx.idempotent_reply(&v.appid, key, since)?
                    {
                        if first_hash != hash.as_slice() {
                            return Err(OtpError::IdempotencyConflict);
                        }
                        return serde_json::from_str::<SendReply>(&body)
                            .map(|reply| Ok((reply, None, false)))
                            .map_err(|e| {
                                OtpError::Store(crate::store::StoreError::BadValue {
                                    column: "idempotency.response",
                                    value: e.to_string(),
                                })
                            });
                    }
                }
                // The guard reads before the rate limits count: a blocked send counts nowhere.
                let judged = fraud::judge_send(tx, &live.fraud, &keys, now)?;
                if live.fraud.mode == Mode::Block
                    && let Some(first) = judged.trips.first()
                {
                    // The verification stays, as `blocked`, so the refusal can be looked up.
                    tx.insert_verification(&v)?;
                    tx.end_verification(&v.id, Status::Blocked, now)?;
                    let why = "not sent: blocked by the fraud guard";
                    tx.record_delivery_end(&v.id, DeliveryState::Rejected, None, why)?;
                    let detail = fraud::describe(&judged.trips);
                    tx.insert_event(&v.appid, &v.id, "blocked", Some(&detail), now)?;
                    return Ok(Err(OtpError::Blocked {
                        detail: first.public(),
                        verification_id: Some(v.id.clone()),
                        reason: first.reason(),
                    }));
                }
                // Test numbers are exempt from the rate limits and the lockout.
                if let Some(refusal) = test_code
                    .is_none()
                    .then(|| limits::admit_send(tx, &live.limits, &origin.subject(&v), now))
                    .transpose()?
                    .and_then(Result::err)
                {
                    // No verification exists: the event belongs to none.
                    let detail = format!("send refused by {} (app {})", refusal.limit, v.appid);
                    tx.insert_app_event(&v.appid, "rate_limited", Some(&detail), now)?;
                    return Ok(Err(refusal.into()));
                }
                for old in tx.all_pending_for(&v.appid, &v.recipient)? {
                    tx.end_verification(&old, Status::Canceled, now)?;
                    tx.dequeue(&old)?;
                    tx.insert_event(
                        &v.appid,
                        &old,
                        "canceled",
                        Some("a newer send replaced it"),
                        now,
                    )?;
                }
                tx.insert_verification(&v)?;
                tx.insert_event(&v.appid, &v.id, "created", None, now)?;
                match &test_code {
                    Some(code) => test_numbers::record(tx, &pepper, &v, code, now)?,
                    None => match lease {
                        Some(until) => tx.enqueue_leased(&v.id, until)?,
                        None => tx.enqueue(&v.id, now)?,
                    },
                }
                fraud::count_send(tx, &live.fraud, &judged, &keys, &v.id)?;
                // Here a trip only flags (mode "record"): the code goes out.
                let flagged = judged.trips.first().map(fraud::Trip::reason);
                if flagged.is_some() {
                    let detail = fraud::describe(&judged.trips);
                    tx.insert_event(&v.appid, &v.id, "flagged", Some(&detail), now)?;
                }
                if let Some((key, hash)) = &idempotency {
                    let body = serde_json::to_string(&reply).unwrap_or_default();
                    tx.save_idempotent_reply(&v.appid, key, hash, 201, &body, now)?;
                }
                Ok(Ok((reply, flagged, true)))
            })
            .await?;
        // A replayed reply (same idempotency key) stored nothing new: nothing to hand over.
        let handed_over = match (&reply, permit, handed) {
            (Ok((_, _, true)), Some(permit), Some((verification, code))) => {
                permit.send(Handoff { verification, code });
                true
            }
            _ => false,
        };
        self.sent(
            reply.map(|(reply, flagged, _)| (reply, flagged)),
            !handed_over,
        )
    }

    /// A new code for a pending verification. It counts as a send for every rate limit (it
    /// sends an SMS).
    pub async fn resend(
        &self,
        scope: &Scope,
        id: String,
        origin: Origin,
    ) -> Result<SendReply, OtpError> {
        let now = self.clock.now();
        let live = self.live.get();
        let scope = scope.clone();
        let pepper = self.pepper.clone();
        let reply = self
            .store
            .writer
            .run(move |tx| {
                let v = load(tx, &scope, &id)?;
                let app = live.app(&v.appid);
                rules::check_resend(&v, now, app.resend_cooldown, app.max_resends).map_err(
                    |r| match r {
                        ResendRefusal::NotPending => {
                            OtpError::NotPending(rules::visible_status(&v, now).as_str())
                        }
                        ResendRefusal::TooSoon { retry_after } => {
                            OtpError::ResendTooSoon { retry_after }
                        }
                        ResendRefusal::TooMany => OtpError::TooManyResends,
                    },
                )?;
                // A test number keeps its fixed code, and no limit applies to it.
                let test_code = live.test_numbers.code_for(&v.recipient, &v.appid);
                if let Some(refusal) = test_code
                    .is_none()
                    .then(|| limits::admit_send(tx, &live.limits, &origin.subject(&v), now))
                    .transpose()?
                    .and_then(Result::err)
                {
                    let detail = format!("resend refused by {}", refusal.limit);
                    tx.insert_event(&v.appid, &v.id, "rate_limited", Some(&detail), now)?;
                    return Ok(Err(refusal.into()));
                }
                // A resend is one more SMS: the fraud guard judges and counts it as a send.
                // Refused, the verification stays pending (its first code may still arrive).
                let keys = match test_code {
                    Some(_) => Keys::default(),
                    None => live.fraud.keys(&v.recipient, origin.ip),
                };
                let judged = fraud::judge_send(tx, &live.fraud, &keys, now)?;
                if live.fraud.mode == Mode::Block
                    && let Some(first) = judged.trips.first()
                {
                    let detail = format!("resend refused: {}", fraud::describe(&judged.trips));
                    tx.insert_event(&v.appid, &v.id, "blocked", Some(&detail), now)?;
                    return Ok(Err(OtpError::Blocked {
                        detail: first.public(),
                        verification_id: Some(v.id.clone()),
                        reason: first.reason(),
                    }));
                }
                // A new code gets the whole ttl again; the failed attempts stay (NIST SP 800-63B).
                let expires_at = now.plus(Duration::from_millis(v.ttl_ms.max(0) as u64));
                tx.restart_send(&v.id, now, expires_at)?;
                tx.insert_event(&v.appid, &v.id, "resent", None, now)?;
                fraud::count_send(tx, &live.fraud, &judged, &keys, &v.id)?;
                let flagged = judged.trips.first().map(fraud::Trip::reason);
                if flagged.is_some() {
                    let detail = fraud::describe(&judged.trips);
                    tx.insert_event(&v.appid, &v.id, "flagged", Some(&detail), now)?;
                }
                let (channel, state) = match test_code {
                    Some(code) => {
                        test_numbers::record(tx, &pepper, &v, code, now)?;
                        (TEST_CHANNEL.to_string(), DeliveryState::Delivered)
                    }
                    None => {
                        tx.enqueue(&v.id, now)?;
                        let channel = live
                            .router
                            .first(&v.recipient, v.channel_request.as_deref())
                            .map_err(|_| OtpError::NoChannel(v.recipient.clone()))?;
                        (channel.to_string(), DeliveryState::Queued)
                    }
                };
                let reply = SendReply {
                    verification_id: v.id.clone(),
                    appid: v.appid.clone(),
                    recipient: v.recipient.clone(),
                    status: Status::Pending,
                    channel,
                    expires_at,
                    resend_available_at: now.plus(app.resend_cooldown),
                    attempts_left: v.attempts_left(),
                    delivery: DeliveryBrief { state },
                };
                Ok::<_, OtpError>(Ok((reply, flagged)))
            })
            .await?;
        self.sent(reply, true)
    }

    /// After a send or resend's transaction: counts what the fraud guard did, and wakes the
    /// dispatcher when a message was queued.
    fn sent(
        &self,
        outcome: Result<(SendReply, Option<Reason>), OtpError>,
        wake: bool,
    ) -> Result<SendReply, OtpError> {
        let (reply, flagged) = match outcome {
            Ok(sent) => sent,
            Err(e) => {
                if let OtpError::Blocked { reason, .. } = &e {
                    crate::metrics::fraud(&crate::metrics::METRICS.fraud_blocked, reason.as_str());
                }
                return Err(e);
            }
        };
        if let Some(reason) = flagged {
            crate::metrics::fraud(&crate::metrics::METRICS.fraud_flagged, reason.as_str());
        }
        if wake && reply.delivery.state == DeliveryState::Queued {
            self.dispatch.notify_one();
        }
        Ok(reply)
    }

    pub async fn cancel(&self, scope: &Scope, id: String) -> Result<StatusReply, OtpError> {
        let now = self.clock.now();
        let scope = scope.clone();
        self.store
            .writer
            .run(move |tx| {
                let v = load(tx, &scope, &id)?;
                let status = rules::visible_status(&v, now);
                if status != Status::Pending {
                    return Err(OtpError::NotPending(status.as_str()));
                }
                tx.end_verification(&v.id, Status::Canceled, now)?;
                tx.dequeue(&v.id)?;
                tx.insert_event(&v.appid, &v.id, "canceled", None, now)?;
                let v = tx.verification(&v.id)?.ok_or(OtpError::NotFound)?;
                Ok(StatusReply::new(v, Status::Canceled))
            })
            .await
    }

    pub async fn status(&self, scope: &Scope, id: String) -> Result<StatusReply, OtpError> {
        let now = self.clock.now();
        let v = self
            .store
            .readers
            .verification(id)
            .await?
            .ok_or(OtpError::NotFound)?;
        if !scope.allows(&v.appid) {
            return Err(OtpError::NotFound);
        }
        let status = rules::visible_status(&v, now);
        Ok(StatusReply::new(v, status))
    }

    pub async fn verify(&self, scope: &Scope, req: VerifyRequest) -> Result<VerifyReply, OtpError> {
        let now = self.clock.now();
        let code = req.code.expose().trim();
        if code.is_empty()
            || code.len() > *LENGTHS.end() as usize
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(OtpError::invalid("otp_code", "must be 1 to 10 digits"));
        }
        let code = Secret::new(code.to_string());
        let recipient = match &req.recipient {
            Some(r) => Some(phone::normalize(r).map_err(|e| OtpError::InvalidRecipient(e.0))?),
            None => None,
        };
        if req.verification_id.is_none() && recipient.is_none() {
            return Err(OtpError::invalid(
                "verification_id",
                "give verification_id, or recipient",
            ));
        }
        let pepper = self.pepper.clone();
        let scope = scope.clone();
        let live = self.live.get();
        // Unguarded, like a send: not found is found before any write, a lockout is an Ok(Err).
        self.store
            .writer
            .run_unguarded(move |tx| {
                let v = match &req.verification_id {
                    Some(id) => load(tx, &scope, id)?,
                    None => {
                        let recipient = recipient.as_deref().unwrap_or_default();
                        tx.latest_for(&req.appid, recipient)?
                            .filter(|v| scope.allows(&v.appid))
                            .ok_or(OtpError::NotFound)?
                    }
                };
                // A locked-out recipient's verifies are not judged: no attempt is used. Test
                // numbers are never locked out (and their failures are not counted).
                let exempt = live.test_numbers.code_for(&v.recipient, &v.appid).is_some();
                let gate = match exempt {
                    true => None,
                    false => match limits::check_verify(tx, &live.limits, &v.recipient, now)? {
                        VerifyGate::Locked(refusal) => {
                            let detail = format!("verify refused by {}", refusal.limit);
                            tx.insert_event(&v.appid, &v.id, "rate_limited", Some(&detail), now)?;
                            return Ok(Err(refusal));
                        }
                        VerifyGate::Open(gate) => gate,
                    },
                };
                // The hash covers the recipient, so a verify naming another recipient fails
                // like a wrong code.
                let claimed = recipient.as_deref().unwrap_or(&v.recipient);
                let judgment = rules::judge_verify(&v, now, || {
                    v.code_hash
                        .as_deref()
                        .is_some_and(|h| pepper.matches(&v.id, claimed, code.expose(), h))
                });
                let failed = match judgment {
                    Judgment::Incorrect { .. } => Some(true),
                    // Only a judged code counts, not a verification found already used up.
                    Judgment::LastAttempt { attempts } if attempts > v.attempts => Some(true),
                    Judgment::Approve => Some(false),
                    _ => None,
                };
                if let Some(failed) = failed {
                    limits::after_verify(tx, &live.limits, &v.recipient, gate, failed, now)?;
                    tx.insert_attempt(&v.id, &req.origin.attempt(judgment, now))?;
                }
                apply_judgment(tx, &live.fraud, &v, judgment, now).map(Ok)
            })
            .await?
            .map_err(OtpError::from)
    }
}

/// Writes what a verify decided and builds its reply.
fn apply_judgment(
    tx: &WriteTx<'_>,
    fraud: &fraud::Fraud,
    v: &Verification,
    judgment: Judgment,
    now: Timestamp,
) -> Result<VerifyReply, OtpError> {
    let reply = |valid, status, reason: Option<&'static str>, attempts_left| VerifyReply {
        verification_id: v.id.clone(),
        valid,
        status,
        reason,
        attempts_left,
    };
    Ok(match judgment {
        Judgment::Ended(status) => {
            let left = (status == Status::MaxAttemptsReached).then_some(0);
            reply(false, status, Some(ended_reason(status)), left)
        }
        Judgment::Expire => {
            expire(tx, v, now)?;
            reply(false, Status::Expired, Some("expired"), None)
        }
        Judgment::Approve => {
            tx.end_verification(&v.id, Status::Approved, now)?;
            fraud::count_approval(tx, fraud, &v.id, v.created_at, now)?;
            tx.insert_event(&v.appid, &v.id, "approved", None, now)?;
            reply(true, Status::Approved, None, None)
        }
        Judgment::Incorrect {
            attempts,
            attempts_left,
        } => {
            tx.set_attempts(&v.id, attempts)?;
            tx.insert_event(
                &v.appid,
                &v.id,
                "verify_failed",
                Some("incorrect_code"),
                now,
            )?;
            reply(
                false,
                Status::Pending,
                Some("incorrect_code"),
                Some(attempts_left),
            )
        }
        Judgment::LastAttempt { attempts } => {
            tx.set_attempts(&v.id, attempts)?;
            tx.end_verification(&v.id, Status::MaxAttemptsReached, now)?;
            tx.dequeue(&v.id)?;
            tx.insert_event(
                &v.appid,
                &v.id,
                "verify_failed",
                Some("max_attempts_reached"),
                now,
            )?;
            let status = Status::MaxAttemptsReached;
            reply(false, status, Some("max_attempts_reached"), Some(0))
        }
    })
}

/// Ends a pending verification whose time is up. Shared by verify and the sweeper.
pub fn expire(
    tx: &WriteTx<'_>,
    v: &Verification,
    now: Timestamp,
) -> Result<(), crate::store::StoreError> {
    tx.end_verification(&v.id, Status::Expired, now)?;
    if v.delivery.state == DeliveryState::Queued {
        tx.dequeue(&v.id)?;
        tx.record_delivery_end(
            &v.id,
            DeliveryState::Expired,
            None,
            "the code expired before a channel took it",
        )?;
    }
    tx.insert_event(&v.appid, &v.id, "expired", None, now)
}

fn load(tx: &WriteTx<'_>, scope: &Scope, id: &str) -> Result<Verification, OtpError> {
    tx.verification(id)?
        .filter(|v| scope.allows(&v.appid))
        .ok_or(OtpError::NotFound)
}

/// What makes two sends "the same request" for an Idempotency-Key.
fn request_hash(v: &Verification) -> [u8; 32] {
    let canonical = serde_json::json!([
        v.appid,
        v.recipient,
        v.channel_request,
        v.sender,
        v.code_length,
        v.ttl_ms
    ]);
    Sha256::digest(canonical.to_string().as_bytes()).into()
}

/// A sender id: an alphanumeric name of at most 11 characters (the GSM limit), or a number of
/// at most 15 digits, optionally with a leading '+'.
fn check_sender(from: &str) -> Result<(), OtpError> {
    let digits = from.strip_prefix('+').unwrap_or(from);
    let numeric =
        !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit());
    let alpha = (1..=11).contains(&from.len())
        && from
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b'-' | b'_' | b'&'));
    if numeric || alpha {
        Ok(())
    } else {
        Err(OtpError::invalid(
            "from",
            "a sender id is up to 11 letters, digits, spaces or . - _ &, or a number of up to 15 digits",
        ))
    }
}
