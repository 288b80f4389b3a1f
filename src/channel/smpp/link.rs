//! The link task of an `smpp` channel.
//!
//! ```text
//!   ┌─────────┐ connect+bind ok ┌───────┐  drop / fatal / SMSC unbind  ┌─────────┐
//!   │Connecting├───────────────▶│ Bound ├─────────────────────────────▶│  Down   │
//!   └────▲────┘                 └───┬───┘                               └────┬────┘
//!        │     backoff (1 s doubling to 60 s, ±20% jitter)                   │
//!        └───────────────────────────┴──────────────────────────────────────┘
//! ```
//!
//! While bound, queued messages are split into parts and submitted as the window and the
//! `max_tps` limit allow; throttling answers pause the link. When the link drops, the messages
//! whose parts were unanswered go back to the front of the queue and are submitted again after
//! the rebind, unless their time runs out first (then the dispatcher fails them over). While the
//! link is down, new messages are refused at once so the dispatcher can use another channel.

use super::rate::RateLimit;
use super::{Request, SharedHealth, address, receipts, status};
use crate::channel::{DeliveryReport, LinkState, OnRecorded, SubmitOutcome};
use crate::config::SmppConfig;
use crate::model::{Clock, SystemClock};
use crate::proto::smpp::text::{self, Concatenation, Part};
use crate::proto::smpp::{
    BindKind, Event, OptionalTlv, Session, SessionConfig, State, Submit, SubmitError,
    relative_validity,
};
use bytes::BytesMut;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const UNBIND_GRACE: Duration = Duration::from_secs(5);

/// A message on its way through this link.
struct Pending {
    reply: Option<tokio::sync::oneshot::Sender<SubmitOutcome>>,
    parts: Vec<Part>,
    /// The next part to submit.
    next_part: usize,
    accepted: usize,
    /// Parts submitted and not yet answered: such a message is the session's to time out.
    in_flight: usize,
    last_id: Option<String>,
    /// If no SMSC has accepted it by then, the dispatcher gets it back.
    deadline: Instant,
    sender: Option<String>,
    recipient: String,
    validity: Duration,
}

impl Pending {
    fn answer(&mut self, outcome: SubmitOutcome) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(outcome);
        }
    }
}

/// Queues the deliver_sm_resp of every receipt recorded so far; before an unbind too, so that
/// the SMSC has them before it stops listening.
fn answer_recorded(session: &mut Session, recorded: &mut mpsc::UnboundedReceiver<u32>) {
    while let Ok(sequence) = recorded.try_recv() {
        session.acknowledge_deliver(sequence);
    }
}

enum LinkEnd {
    Stopped,
    Failed(String),
}

pub(super) struct Link {
    name: String,
    config: SmppConfig,
    reports: mpsc::Sender<DeliveryReport>,
    health: SharedHealth,
    messages: HashMap<u64, Pending>,
    /// Messages with parts still to submit, oldest first.
    queue: VecDeque<u64>,
    next_key: u64,
    rate: RateLimit,
    /// Throttled: nothing is submitted before this.
    paused_until: Option<Instant>,
    /// Counts concatenation references.
    reference: u16,
    /// Transceiver, or one half of transmitter_receiver.
    bind: BindKind,
    /// When each submitted part (by tag) went out, for the round-trip metric.
    sent_at: HashMap<u64, Instant>,
    in_flight_gauge: prometheus_client::metrics::gauge::Gauge,
    round_trip: prometheus_client::metrics::histogram::Histogram,
    /// Shared with the other half of a transmitter_receiver pair, whose receipts name the ids
    /// this half was given.
    ids: Arc<Mutex<super::ids::RecentIds>>,
    /// The current connection's acknowledgements: the sequence numbers of deliver_sms whose
    /// reports are recorded, to answer now (see [`crate::channel::OnRecorded`]).
    acks: Option<mpsc::UnboundedSender<u32>>,
}

impl Link {
    pub fn new(
        name: String,
        config: SmppConfig,
        bind: BindKind,
        ids: Arc<Mutex<super::ids::RecentIds>>,
        reports: mpsc::Sender<DeliveryReport>,
        health: SharedHealth,
    ) -> Link {
        let rate = RateLimit::new(config.max_tps);
        let label = crate::metrics::ChannelLabel {
            channel: name.clone(),
        };
        Link {
            name,
            config,
            reports,
            health,
            messages: HashMap::new(),
            queue: VecDeque::new(),
            next_key: 1,
            rate,
            paused_until: None,
            reference: 0,
            bind,
            ids,
            acks: None,
            sent_at: HashMap::new(),
            in_flight_gauge: crate::metrics::METRICS
                .smpp_in_flight
                .get_or_create(&label)
                .clone(),
            round_trip: crate::metrics::METRICS
                .smpp_round_trip
                .get_or_create(&label)
                .clone(),
        }
    }

    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>, stop: CancellationToken) {
        let mut failures = 0u32;
        loop {
            self.health.set(LinkState::Connecting, None);
            let connected = tokio::select! {
                c = tokio::time::timeout(CONNECT_TIMEOUT, self.connect()) => {
                    c.unwrap_or_else(|_| Err("connecting (TCP and TLS) timed out".into()))
                }
                () = stop.cancelled() => break,
            };
            let bound_since = Instant::now();
            let (end, was_bound) = match connected {
                Ok(stream) => self.serve(stream, &mut requests, &stop).await,
                Err(e) => (LinkEnd::Failed(e), false),
            };
            let reason = match end {
                LinkEnd::Stopped => break,
                LinkEnd::Failed(reason) => reason,
            };
            // A link that binds and drops at once must not rebind every second for ever: the
            // backoff starts over only after a minute of being bound.
            let stable = was_bound && bound_since.elapsed() >= Duration::from_secs(60);
            failures = if stable {
                1
            } else {
                failures.saturating_add(1)
            };
            tracing::warn!(channel = %self.name, reason = %reason, "SMPP link down");
            self.health.set(LinkState::Down, Some(reason));
            let wait_until = Instant::now() + backoff(failures);
            // Down: refuse new messages at once, and give back those whose time runs out.
            loop {
                self.expire(Instant::now(), "the SMPP link is down");
                tokio::select! {
                    () = sleep_until(wait_until) => break,
                    () = stop.cancelled() => {
                        self.give_back_all("otpd is stopping");
                        return;
                    }
                    got = requests.recv() => match got {
                        Some(r) => {
                            let _ = r.reply.send(link_down());
                        }
                        None => return,
                    },
                    () = sleep_until(self.nearest_deadline().unwrap_or(wait_until)) => {}
                }
            }
        }
        self.give_back_all("otpd is stopping");
        self.health.set(LinkState::Down, Some("stopped".into()));
    }

    async fn connect(&self) -> Result<Box<dyn super::io::Stream>, String> {
        let address = format!("{}:{}", self.config.host, self.config.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address))
            .await
            .map_err(|_| format!("cannot connect to {address}: timed out"))?
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if self.config.tls {
            super::io::tls(tcp, &self.config.host, self.config.tls_ca_file.as_deref()).await
        } else {
            Ok(Box::new(tcp))
        }
    }

    fn session_config(&self) -> SessionConfig {
        SessionConfig {
            system_id: self.config.system_id.clone(),
            password: self.config.password.expose().to_string(),
            system_type: self.config.system_type.clone(),
            bind: self.bind,
            window: self.config.window as usize,
            response_timeout: self.config.submit_timeout,
            enquire_link: self.config.enquire_link,
            ..SessionConfig::default()
        }
    }

    /// Runs one connection until it ends; returns how, and whether it was ever bound.
    async fn serve(
        &mut self,
        stream: Box<dyn super::io::Stream>,
        requests: &mut mpsc::Receiver<Request>,
        stop: &CancellationToken,
    ) -> (LinkEnd, bool) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let now = Instant::now();
        let mut session = Session::new(self.session_config(), now.into_std());
        session.bind(now.into_std());
        let mut input = BytesMut::with_capacity(64 * 1024);
        let mut output = BytesMut::with_capacity(64 * 1024);
        let mut bound = false;
        let mut unbind_deadline: Option<Instant> = None;
        // A new channel per connection: an acknowledgement for an earlier connection's
        // deliver_sm goes nowhere, and the SMSC sends that receipt again on this one.
        let (acks, mut recorded) = mpsc::unbounded_channel::<u32>();
        self.acks = Some(acks);
        loop {
            let now = Instant::now();
            answer_recorded(&mut session, &mut recorded);
            // Events first: they free window room and may end the link.
            while let Some(event) = session.poll_event() {
                if let Some(end) = self.on_event(event, &mut bound, now).await {
                    self.requeue(session.drain_in_flight());
                    return (end, bound);
                }
            }
            if bound && unbind_deadline.is_none() {
                // Now, not the loop's start: event handling may have waited, and the rate
                // limit must see the real send times.
                self.submit_ready(&mut session, Instant::now());
            }
            output.clear();
            while let Some(pdu) = session.poll_transmit() {
                output.extend_from_slice(&pdu);
            }
            if !output.is_empty() {
                if let Err(e) = wr.write_all(&output).await {
                    self.requeue(session.drain_in_flight());
                    return (
                        LinkEnd::Failed(format!("write to the SMSC failed: {e}")),
                        bound,
                    );
                }
                let _ = wr.flush().await;
            }
            if !matches!(self.bind, BindKind::Receiver) {
                // The receiver half of a pair submits nothing; it must not zero the gauge.
                self.in_flight_gauge.set(session.in_flight() as i64);
            }
            if session.state() == State::Closed {
                self.requeue(session.drain_in_flight());
                return (
                    if unbind_deadline.is_some() {
                        LinkEnd::Stopped
                    } else {
                        LinkEnd::Failed("the session closed".into())
                    },
                    bound,
                );
            }
            let wake = self.next_wake(&session, bound, now, unbind_deadline);
            let room = bound
                && unbind_deadline.is_none()
                && self.queue.len() < self.config.window as usize * 2;
            tokio::select! {
                read = rd.read_buf(&mut input) => match read {
                    Ok(0) => {
                        self.requeue(session.drain_in_flight());
                        // A peer that just closes after our unbind has unbound us.
                        let end = if unbind_deadline.is_some() { LinkEnd::Stopped } else { LinkEnd::Failed("the SMSC closed the connection".into()) };
                        return (end, bound);
                    }
                    Ok(_) => session.handle_input(&mut input, Instant::now().into_std()),
                    Err(e) => {
                        self.requeue(session.drain_in_flight());
                        return (LinkEnd::Failed(format!("read from the SMSC failed: {e}")), bound);
                    }
                },
                Some(sequence) = recorded.recv() => session.acknowledge_deliver(sequence),
                got = requests.recv(), if room => match got {
                    Some(request) => self.accept(request, Instant::now()),
                    None => {
                        answer_recorded(&mut session, &mut recorded);
                        session.unbind(Instant::now().into_std());
                        unbind_deadline = Some(Instant::now() + UNBIND_GRACE);
                    }
                },
                () = sleep_until(wake) => {
                    let now = Instant::now();
                    if unbind_deadline.is_some_and(|d| now >= d) {
                        self.requeue(session.drain_in_flight());
                        return (LinkEnd::Stopped, bound);
                    }
                    session.handle_timeout(now.into_std());
                    self.expire(now, "no SMSC took the message in time");
                }
                () = stop.cancelled(), if unbind_deadline.is_none() => {
                    answer_recorded(&mut session, &mut recorded);
                    session.unbind(Instant::now().into_std());
                    unbind_deadline = Some(Instant::now() + UNBIND_GRACE);
                }
            }
        }
    }

    fn next_wake(
        &self,
        session: &Session,
        bound: bool,
        now: Instant,
        unbind: Option<Instant>,
    ) -> Instant {
        let mut wake = now + Duration::from_secs(1);
        if let Some(t) = session.next_timeout() {
            wake = wake.min(Instant::from_std(t));
        }
        if let Some(t) = self.nearest_deadline() {
            wake = wake.min(t);
        }
        if let Some(t) = unbind {
            wake = wake.min(t);
        }
        if bound
            && unbind.is_none()
            && !self.queue.is_empty()
            && session.in_flight() < self.config.window as usize
        {
            let ready = self
                .paused_until
                .unwrap_or(now)
                .max(Instant::from_std(self.rate.ready_at(now.into_std())));
            wake = wake.min(ready);
        }
        wake.max(now)
    }

    /// Takes a message from the dispatcher: splits it into parts and queues it.
    fn accept(&mut self, request: Request, now: Instant) {
        let concat = match self.config.concatenation {
            crate::config::Concatenation::Udh => Concatenation::Udh,
            crate::config::Concatenation::Sar => Concatenation::Sar,
        };
        self.reference = self.reference.wrapping_add(1);
        let parts = text::split(request.message.text.expose(), concat, self.reference);
        let key = self.next_key;
        self.next_key += 1;
        let validity = self.config.validity.unwrap_or(request.message.validity);
        self.messages.insert(
            key,
            Pending {
                reply: Some(request.reply),
                parts,
                next_part: 0,
                accepted: 0,
                in_flight: 0,
                last_id: None,
                deadline: now + self.config.submit_timeout,
                sender: request
                    .message
                    .sender
                    .or_else(|| self.config.source_addr.clone()),
                recipient: request.message.recipient,
                validity,
            },
        );
        self.queue.push_back(key);
    }

    /// Submits queued parts while the window, the rate limit and any pause allow.
    fn submit_ready(&mut self, session: &mut Session, now: Instant) {
        if self.paused_until.is_some_and(|p| now < p) {
            return;
        }
        self.paused_until = None;
        while let Some(&key) = self.queue.front() {
            let Some(message) = self.messages.get_mut(&key) else {
                self.queue.pop_front();
                continue;
            };
            if message.next_part >= message.parts.len() {
                self.queue.pop_front();
                continue;
            }
            if message.next_part == 0 && message.reply.as_ref().is_none_or(|r| r.is_closed()) {
                // The dispatcher stopped waiting (its deadline): its code may be superseded,
                // so this text must not go out.
                self.messages.remove(&key);
                self.queue.pop_front();
                continue;
            }
            if self.rate.ready_at(now.into_std()) > now.into_std() {
                return;
            }
            let Some(part) = message.parts.get(message.next_part) else {
                return;
            };
            let submit = Submit {
                tag: key << 8 | message.next_part as u64,
                source: address::source(message.sender.as_deref().unwrap_or("otpd")),
                destination: address::destination(&message.recipient),
                registered_delivery: 1,
                validity_period: relative_validity(message.validity),
                data_coding: part.data_coding,
                esm_class: if part.esm_class_udhi { 0x40 } else { 0 },
                short_message: part.short_message.clone(),
                tlvs: part
                    .sar
                    .map(|(reference, total, seq)| {
                        vec![
                            OptionalTlv::SarMsgRefNum(reference),
                            OptionalTlv::SarTotalSegments(total),
                            OptionalTlv::SarSegmentSeqnum(seq),
                        ]
                    })
                    .unwrap_or_default(),
            };
            match session.submit(submit, now.into_std()) {
                Ok(_) => {
                    self.sent_at
                        .insert(key << 8 | message.next_part as u64, now);
                    self.rate.record(now.into_std());
                    message.next_part += 1;
                    message.in_flight += 1;
                }
                Err(SubmitError::WindowFull) | Err(SubmitError::NotBound) => return,
                Err(SubmitError::Invalid(e)) => {
                    // A sender id too long for SMPP and the like: no SMSC will take it.
                    let error = format!("cannot build submit_sm: {e}");
                    if let Some(mut m) = self.messages.remove(&key) {
                        m.answer(SubmitOutcome::Reject {
                            state: crate::model::DeliveryState::Rejected,
                            error,
                        });
                    }
                    self.queue.pop_front();
                }
            }
        }
    }

    /// Handles one session event; `Some` ends the link.
    async fn on_event(&mut self, event: Event, bound: &mut bool, now: Instant) -> Option<LinkEnd> {
        match event {
            Event::Bound => {
                *bound = true;
                tracing::info!(channel = %self.name, host = %self.config.host, "SMPP link bound");
                self.health.set(LinkState::Up, None);
            }
            Event::BindFailed { status } => {
                return Some(LinkEnd::Failed(format!(
                    "the SMSC refused the bind: {}",
                    status::name(status)
                )));
            }
            Event::SubmitAccepted { tag, message_id } => {
                self.observe_round_trip(tag, now);
                let key = tag >> 8;
                if let Some(m) = self.messages.get_mut(&key) {
                    m.in_flight = m.in_flight.saturating_sub(1);
                    m.accepted += 1;
                    m.last_id = Some(message_id);
                    if m.accepted >= m.parts.len() {
                        let id = m
                            .last_id
                            .as_deref()
                            .map(|id| match self.ids.lock() {
                                Ok(mut ids) => ids.accepted(id),
                                Err(_) => crate::proto::smpp::message_id::normalize(id),
                            })
                            .unwrap_or_default();
                        m.answer(SubmitOutcome::Accepted { message_id: id });
                        self.messages.remove(&key);
                    }
                }
            }
            Event::SubmitRejected { tag, status } => {
                self.observe_round_trip(tag, now);
                self.on_rejected(tag, status, now)
            }
            Event::SubmitTimedOut { tag } => {
                self.sent_at.remove(&tag);
                // The SMSC may have it; the dispatcher decides, with a fresh code.
                if let Some(mut m) = self.messages.remove(&(tag >> 8)) {
                    m.answer(SubmitOutcome::Retry {
                        after: Duration::from_secs(1),
                        error: "no submit_sm_resp in time".into(),
                    });
                }
            }
            Event::Deliver {
                sequence,
                esm_class,
                short_message,
                receipted_message_id,
                message_state,
                network_error,
                source,
                ..
            } => {
                match receipts::parse(
                    esm_class,
                    &short_message,
                    receipted_message_id.as_deref(),
                    message_state,
                    network_error.as_deref(),
                ) {
                    Some(r) => {
                        let report = DeliveryReport {
                            channel: self.name.clone(),
                            message_id: match self.ids.lock() {
                                Ok(ids) => ids.receipt(&r.message_id),
                                Err(_) => crate::proto::smpp::message_id::normalize(&r.message_id),
                            },
                            state: r.state,
                            error: r.error,
                            at: SystemClock.now(),
                            recorded: self.acknowledge_later(sequence),
                            by_reference: None,
                        };
                        let _ = self.reports.send(report).await;
                    }
                    None => {
                        tracing::info!(channel = %self.name, from = %crate::log_mask::recipient(&source), bytes = short_message.len(), "incoming SMS (not a receipt); ignored");
                        // Nothing of ours to record: taken as it is.
                        self.acknowledge_later(sequence).call();
                    }
                }
            }
            Event::GenericNack { sequence, status } => {
                tracing::warn!(channel = %self.name, sequence, status = %status::name(status), "the SMSC sent generic_nack");
            }
            Event::LateResponse { sequence } => {
                tracing::debug!(channel = %self.name, sequence, "late response from the SMSC");
            }
            Event::Unbound => return Some(LinkEnd::Failed("the SMSC unbound".into())),
            Event::Fatal(reason) => return Some(LinkEnd::Failed(reason)),
        }
        None
    }

    /// Answers the deliver_sm with this sequence number on this connection when called.
    fn acknowledge_later(&self, sequence: u32) -> OnRecorded {
        match &self.acks {
            Some(acks) => {
                let acks = acks.clone();
                OnRecorded::new(move || {
                    let _ = acks.send(sequence);
                })
            }
            None => OnRecorded::default(),
        }
    }

    fn observe_round_trip(&mut self, tag: u64, now: Instant) {
        if let Some(sent) = self.sent_at.remove(&tag) {
            self.round_trip
                .observe(now.duration_since(sent).as_secs_f64());
        }
    }

    fn on_rejected(&mut self, tag: u64, code: u32, now: Instant) {
        let key = tag >> 8;
        let part = (tag & 0xFF) as usize;
        match status::verdict(code) {
            status::Verdict::Pause(pause) => {
                // Throttled: the whole link waits, and this part goes again.
                self.paused_until = Some(now + pause);
                if let Some(m) = self.messages.get_mut(&key) {
                    m.in_flight = m.in_flight.saturating_sub(1);
                    m.next_part = m.next_part.min(part);
                    if !self.queue.contains(&key) {
                        self.queue.push_front(key);
                    }
                }
            }
            status::Verdict::Permanent => {
                if let Some(mut m) = self.messages.remove(&key) {
                    m.answer(SubmitOutcome::Reject {
                        state: crate::model::DeliveryState::Undelivered,
                        error: format!("the SMSC refused it: {}", status::name(code)),
                    });
                }
            }
            status::Verdict::Failover => {
                if let Some(mut m) = self.messages.remove(&key) {
                    m.answer(SubmitOutcome::Failover {
                        error: format!("the SMSC refused it: {}", status::name(code)),
                    });
                }
            }
        }
    }

    /// Puts the messages whose parts were in flight on a dropped link back at the front.
    fn requeue(&mut self, tags: Vec<u64>) {
        let mut keys: Vec<u64> = Vec::new();
        for tag in tags {
            self.sent_at.remove(&tag);
            let key = tag >> 8;
            if let Some(m) = self.messages.get_mut(&key) {
                m.in_flight = 0;
                m.next_part = m.next_part.min((tag & 0xFF) as usize);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys.sort_unstable();
        for key in keys.into_iter().rev() {
            if !self.queue.contains(&key) {
                self.queue.push_front(key);
            }
        }
    }

    fn nearest_deadline(&self) -> Option<Instant> {
        // Messages with parts in flight wait for the session's timeout, not this deadline.
        self.messages
            .values()
            .filter(|m| m.in_flight == 0)
            .map(|m| m.deadline)
            .min()
    }

    /// Gives back to the dispatcher every message whose time ran out. It retries (here once
    /// the link is back, or on another channel once this one has failed it three times).
    fn expire(&mut self, now: Instant, why: &str) {
        // A message with parts awaiting an answer is left to the session's own timeout: the
        // SMSC may be taking it right now, and giving it back would send a second code.
        let late: Vec<u64> = self
            .messages
            .iter()
            .filter(|(_, m)| m.deadline <= now && m.in_flight == 0)
            .map(|(k, _)| *k)
            .collect();
        for key in late {
            if let Some(mut m) = self.messages.remove(&key) {
                m.answer(SubmitOutcome::Retry {
                    after: Duration::from_secs(1),
                    error: why.to_string(),
                });
            }
        }
        self.queue.retain(|k| self.messages.contains_key(k));
    }

    fn give_back_all(&mut self, why: &str) {
        for (_, mut m) in self.messages.drain() {
            m.answer(SubmitOutcome::Failover {
                error: why.to_string(),
            });
        }
        self.queue.clear();
    }
}

/// The answer to a message that arrives while the link is down: the dispatcher only sends to
/// channels that are up, so this is a race with the link going down; try again shortly.
fn link_down() -> SubmitOutcome {
    SubmitOutcome::Retry {
        after: Duration::from_secs(1),
        error: "the SMPP link is down".into(),
    }
}

/// 1 s doubling to 60 s, with ±20% jitter so many otpd instances do not rebind in step.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.8 + 0.4 * (f64::from(nanos % 1000) / 1000.0);
    base.mul_f64(jitter)
}
