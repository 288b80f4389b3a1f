//! The task of a `modem` channel: opens the device, runs a [`Session`] over it, and opens it
//! again when the modem hangs, vanishes (USB re-enumeration, a brown-out) or fails to start.
//!
//! ```text
//!   ┌──────┐ open ok ┌──────┐ Ready ┌──────┐  hung / closed / init failed  ┌──────────┐
//!   │ Open ├────────▶│ Init ├──────▶│  Up  ├──────────────────────────────▶│ Reopen   │
//!   └──▲───┘         └──┬───┘       └──────┘                                │ (backoff)│
//!      │                └───────────────────────────────────────────────────▶──────┬───┘
//!      └───────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Messages come on a queue, are cut into PDUs and handed to the session; a message is
//! accepted once the modem gave every part a reference. When a session ends, what it still
//! held goes back to the dispatcher (retry), and what waited on the queue fails over.

use super::device::{Device, Stream};
use super::reports::{self, SentParts};
use super::{Request, cms};
use crate::channel::smpp::SharedHealth;
use crate::channel::{DeliveryReport, LinkState, ModemReference, Outgoing, SubmitOutcome};
use crate::log_mask;
use crate::metrics::{self, ChannelLabel, METRICS};
use crate::model::{Clock, DeliveryState, Timestamp};
use crate::proto::modem::{Busy, Event, ModemConfig, PIN_REFUSED, Session};
use crate::proto::sms::{self, PduError, StatusReport, Submit};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// Pauses between opens: the first short, since a hung modem usually answers a reopen.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub reopen_min: Duration,
    pub reopen_max: Duration,
    /// A session that stayed up this long resets the pause to `reopen_min`.
    pub stable_after: Duration,
    /// At shutdown, how long a send the modem is working on may take to finish, and the
    /// status reports of parts sent this long before the stop may take to come.
    pub close_grace: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            reopen_min: Duration::from_millis(500),
            reopen_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            close_grace: Duration::from_secs(5),
        }
    }
}

/// A message on its way through the modem.
struct Pending {
    reply: Option<oneshot::Sender<SubmitOutcome>>,
    recipient: String,
    parts: usize,
    /// Parts the session still holds (queued or in flight).
    left: usize,
    sent: usize,
    message_id: Option<String>,
}

impl Pending {
    fn answer(&mut self, outcome: SubmitOutcome) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(outcome);
        }
    }
}

enum End {
    Stopped,
    /// The session is over; reopen after a pause. `up_for`: how long it had been ready.
    Again {
        why: String,
        up_for: Option<Duration>,
    },
}

pub(super) struct Link {
    pub name: String,
    pub device: Device,
    pub config: ModemConfig,
    pub keepalive: Duration,
    pub timing: Timing,
    pub reports: mpsc::Sender<DeliveryReport>,
    pub health: SharedHealth,
    pub clock: Arc<dyn Clock>,
    sent: SentParts,
    /// When this link began to remember its sends: a report about an older message (from
    /// before a restart) is looked up in the store.
    started: Timestamp,
    pending: HashMap<u64, Pending>,
    /// Session tag of each part → the message it belongs to.
    tags: HashMap<u64, (u64, Instant)>,
    next_key: u64,
    /// TP-MR written into PDUs (the modem usually puts its own) and the concatenation
    /// reference, both counting on.
    reference: u8,
    concat_reference: u8,
    /// The SIM refused the configured PIN once: never enter it again (three refusals lock
    /// the SIM behind its PUK).
    pin_refused: bool,
}

impl Link {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        device: Device,
        config: ModemConfig,
        keepalive: Duration,
        timing: Timing,
        reports: mpsc::Sender<DeliveryReport>,
        health: SharedHealth,
        clock: Arc<dyn Clock>,
    ) -> Link {
        Link {
            name,
            device,
            config,
            keepalive,
            timing,
            reports,
            health,
            started: clock.now(),
            clock,
            sent: SentParts::default(),
            pending: HashMap::new(),
            tags: HashMap::new(),
            next_key: 0,
            reference: 0,
            concat_reference: 0,
            pin_refused: false,
        }
    }

    fn label(&self) -> ChannelLabel {
        ChannelLabel {
            channel: self.name.clone(),
        }
    }

    pub async fn run(mut self, mut queue: mpsc::Receiver<Request>, stop: CancellationToken) {
        let mut pause = self.timing.reopen_min;
        loop {
            self.health.set(LinkState::Connecting, None);
            let end = match self.device.open() {
                Ok(stream) => {
                    tracing::info!(channel = %self.name, device = %self.device.describe(), "modem device open; starting the AT conversation");
                    self.converse(stream, &mut queue, &stop).await
                }
                Err(e) => End::Again {
                    why: format!("cannot open {}: {e}", self.device.describe()),
                    up_for: None,
                },
            };
            METRICS.channel_up.get_or_create(&self.label()).set(0);
            self.give_back_held();
            match end {
                End::Stopped => break,
                // On the way down the device may close before the link sees the stop (the
                // in-process sim stops with the daemon): not a failure to report.
                End::Again { .. } if stop.is_cancelled() => break,
                End::Again { why, up_for } => {
                    if up_for.is_some_and(|t| t >= self.timing.stable_after) {
                        pause = self.timing.reopen_min;
                    }
                    tracing::warn!(channel = %self.name, error = %why, retry_in = ?pause, "modem channel down; reopening the device");
                    self.health.set(LinkState::Down, Some(why));
                    METRICS.modem_reopens.get_or_create(&self.label()).inc();
                    let until = Instant::now() + pause;
                    // Messages that arrive meanwhile go elsewhere at once.
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => {
                                self.refuse_queued(&mut queue);
                                return;
                            }
                            _ = sleep_until(until) => break,
                            request = queue.recv() => match request {
                                Some(r) => refuse(r, "the modem is down"),
                                None => return,
                            },
                        }
                    }
                    pause = (pause * 2).min(self.timing.reopen_max);
                }
            }
        }
        self.refuse_queued(&mut queue);
    }

    /// One session on an open device, until it ends.
    async fn converse(
        &mut self,
        stream: Stream,
        queue: &mut mpsc::Receiver<Request>,
        stop: &CancellationToken,
    ) -> End {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut config = self.config.clone();
        if self.pin_refused {
            config.sim_pin = None;
        }
        let mut session = Session::new(config, Instant::now().into_std());
        let mut input: Vec<u8> = Vec::with_capacity(1024);
        let mut chunk = vec![0u8; 4096];
        let mut ready_at: Option<Instant> = None;
        let mut keepalive_at = Instant::now() + self.keepalive;
        let mut closing: Option<Instant> = None;
        loop {
            if let Err(why) = self.flush(&mut session, &mut writer).await {
                return self.again(why, ready_at);
            }
            while let Some(event) = session.poll_event() {
                if let Some(why) = self.event(event, &mut ready_at) {
                    // Let the session's own failures of queued sends come through first.
                    while let Some(event) = session.poll_event() {
                        self.event(event, &mut ready_at);
                    }
                    return self.again(why, ready_at);
                }
            }
            if let Some(by) = closing
                && ((self.tags.is_empty() && !self.awaiting_recent_reports(by))
                    || Instant::now() >= by)
            {
                return End::Stopped;
            }
            let timeout = session.next_timeout().map(Instant::from_std);
            // The queue is read only when the session has room: the backlog waits there,
            // where a message the dispatcher gave up on can be seen and skipped.
            let accepting = ready_at.is_some()
                && closing.is_none()
                && self.tags.len() < self.config.max_queued_sends;
            tokio::select! {
                _ = stop.cancelled(), if closing.is_none() => {
                    closing = Some(Instant::now() + self.timing.close_grace);
                    self.refuse_queued(queue);
                }
                _ = sleep_until(closing.unwrap_or_else(Instant::now)), if closing.is_some() => {}
                read = reader.read(&mut chunk) => match read {
                    Ok(0) => return self.again("the device closed (unplugged?)".into(), ready_at),
                    Ok(n) => {
                        input.extend_from_slice(chunk.get(..n).unwrap_or_default());
                        session.handle_input(&mut input, Instant::now().into_std());
                    }
                    Err(e) => return self.again(format!("reading the device: {e}"), ready_at),
                },
                _ = sleep_until(timeout.unwrap_or_else(Instant::now)), if timeout.is_some() => {
                    session.handle_timeout(Instant::now().into_std());
                }
                _ = sleep_until(keepalive_at) => {
                    session.keepalive(Instant::now().into_std());
                    keepalive_at = Instant::now() + self.keepalive;
                }
                request = queue.recv(), if accepting => match request {
                    Some(request) => self.take(request, &mut session),
                    None => closing = Some(Instant::now() + self.timing.close_grace),
                },
            }
        }
    }

    /// While closing (until `by`): whether a part sent within the grace before the stop still
    /// waits for its status report. Its report comes in moments on a live network, and once
    /// the link is closed nothing would match it (the sent parts live in memory only), so
    /// the message would stay `submitted`.
    fn awaiting_recent_reports(&self, by: Instant) -> bool {
        let since = by
            .into_std()
            .checked_sub(self.timing.close_grace * 2)
            .unwrap_or_else(|| by.into_std());
        self.sent.awaiting_since(since)
    }

    fn again(&self, why: String, ready_at: Option<Instant>) -> End {
        End::Again {
            why,
            up_for: ready_at.map(|t| t.elapsed()),
        }
    }

    async fn flush(
        &self,
        session: &mut Session,
        writer: &mut WriteHalf<Stream>,
    ) -> Result<(), String> {
        let mut wrote = false;
        while let Some(bytes) = session.poll_transmit() {
            // A modem that stops reading fills the buffer; the command deadline covers the
            // rest, this only keeps a write from blocking forever.
            match tokio::time::timeout(self.config.command_timeout, writer.write_all(&bytes)).await
            {
                Ok(Ok(())) => wrote = true,
                Ok(Err(e)) => return Err(format!("writing to the device: {e}")),
                Err(_) => return Err("the device does not take bytes".into()),
            }
        }
        if wrote {
            writer
                .flush()
                .await
                .map_err(|e| format!("writing to the device: {e}"))?;
        }
        Ok(())
    }

    /// Acts on one session event; `Some(why)` ends the session.
    fn event(&mut self, event: Event, ready_at: &mut Option<Instant>) -> Option<String> {
        match event {
            Event::Ready => {
                tracing::info!(channel = %self.name, "modem ready");
                *ready_at = Some(Instant::now());
                self.health.set(LinkState::Up, None);
                METRICS.channel_up.get_or_create(&self.label()).set(1);
            }
            Event::SignalDbm(dbm) => {
                tracing::debug!(channel = %self.name, dbm, "modem signal");
                METRICS
                    .modem_signal_dbm
                    .get_or_create(&self.label())
                    .set(i64::from(dbm));
            }
            Event::InitFailed(why) => {
                if why.starts_with(PIN_REFUSED) {
                    self.pin_refused = true;
                }
                return Some(format!("modem init failed: {why}"));
            }
            Event::Hung(why) => return Some(format!("modem hung: {why}")),
            Event::Sent { tag, reference } => self.part_sent(tag, reference),
            Event::SendFailed { tag, cms, error } => self.part_failed(tag, cms, error),
            Event::StatusReport(report) => self.status_report(&report),
            Event::Incoming(deliver) => {
                // An SMS to the modem's number (a reply, an operator notice). Shown to
                // people in the log; the text is not a secret of ours.
                tracing::info!(channel = %self.name, from = %log_mask::recipient(&deliver.originator), text = %deliver.text.escape_debug(), "incoming SMS");
            }
            Event::Urc(urc) => {
                tracing::debug!(channel = %self.name, name = %urc.name, text = %urc.text.escape_debug(), "unsolicited result");
            }
        }
        None
    }

    /// Cuts a message into PDUs and hands them to the session, or answers at once.
    fn take(&mut self, request: Request, session: &mut Session) {
        let Request { message, reply } = request;
        if reply.is_closed() {
            return; // The dispatcher stopped waiting and will send it again.
        }
        let Outgoing {
            recipient,
            text,
            validity,
            ..
        } = message;
        let submit = Submit {
            destination: &recipient,
            text: text.expose(),
            reference: self.reference,
            status_report: true,
            validity: Some(validity),
            concat_reference: self.concat_reference,
        };
        let pdus = match sms::try_encode_submit(&submit) {
            Ok(pdus) => pdus,
            Err(e @ (PduError::BadDestination | PduError::TooLong { .. })) => {
                let _ = reply.send(SubmitOutcome::Reject {
                    state: DeliveryState::Rejected,
                    error: e.to_string(),
                });
                return;
            }
            Err(e) => {
                let _ = reply.send(SubmitOutcome::Failover {
                    error: e.to_string(),
                });
                return;
            }
        };
        drop(text);
        self.reference = self.reference.wrapping_add(pdus.len() as u8);
        self.concat_reference = self.concat_reference.wrapping_add(1);
        let key = self.next_key;
        self.next_key += 1;
        let parts = pdus.len();
        let mut pending = Pending {
            reply: Some(reply),
            recipient,
            parts,
            left: 0,
            sent: 0,
            message_id: None,
        };
        for pdu in pdus {
            let tag = self.next_key;
            self.next_key += 1;
            match session.send(tag, pdu, Instant::now().into_std()) {
                Ok(()) => {
                    self.tags.insert(tag, (key, Instant::now()));
                    pending.left += 1;
                }
                Err(busy) => {
                    pending.answer(match busy {
                        Busy::QueueFull => SubmitOutcome::Retry {
                            after: Duration::from_millis(200),
                            error: busy.to_string(),
                        },
                        Busy::Down => SubmitOutcome::Failover {
                            error: busy.to_string(),
                        },
                    });
                    break;
                }
            }
        }
        if pending.left > 0 {
            self.pending.insert(key, pending);
        }
    }

    /// Passes on what a status report settles. A report about a part this link never sent
    /// (it was sent before a restart) goes to the store, which still knows the message.
    fn status_report(&mut self, report: &StatusReport) {
        let now = Instant::now().into_std();
        let known = self.sent.knows(report, now);
        let (message_id, state, error, by_reference) = match self.sent.report(report, now) {
            Some(done) => (done.message_id, done.state, done.error, None),
            None => match (known, reports::settled(report)) {
                (false, Some((state, error))) => {
                    let window = i64::try_from(reports::WINDOW.as_millis()).unwrap_or(i64::MAX);
                    let by = ModemReference {
                        reference: report.reference,
                        digits: reports::significant_digits(&report.recipient),
                        since: Timestamp(self.clock.now().0.saturating_sub(window)),
                        before: self.started,
                    };
                    (String::new(), state, error, Some(by))
                }
                _ => {
                    tracing::debug!(channel = %self.name, reference = report.reference, status = report.status, "a status report that settles nothing yet");
                    return;
                }
            },
        };
        let report = DeliveryReport {
            channel: self.name.clone(),
            message_id,
            state,
            error,
            at: self.clock.now(),
            recorded: Default::default(),
            by_reference,
        };
        if self.reports.try_send(report).is_err() {
            tracing::warn!(channel = %self.name, "report queue full; dropping a status report");
        }
    }

    fn part_sent(&mut self, tag: u64, reference: u8) {
        let Some((key, handed_at)) = self.tags.remove(&tag) else {
            return;
        };
        metrics::observe(
            &METRICS.modem_send_time.get_or_create(&self.label()),
            handed_at.elapsed(),
        );
        let Some(p) = self.pending.get_mut(&key) else {
            return;
        };
        p.left -= 1;
        p.sent += 1;
        let now = Instant::now().into_std();
        let id = match &p.message_id {
            Some(id) => id.clone(),
            None => {
                // The first part's reference and the time: unique on this channel, and it
                // tells an operator what to look for in the modem's reports.
                let id = format!("{reference}@{}", self.clock.now().0);
                self.sent.expect(&id, p.parts);
                p.message_id = Some(id.clone());
                id
            }
        };
        self.sent.sent(&id, reference, &p.recipient, now);
        if p.sent == p.parts {
            p.answer(SubmitOutcome::Accepted { message_id: id });
        }
        self.settle(key);
    }

    fn part_failed(&mut self, tag: u64, code: Option<u16>, error: String) {
        let Some((key, _)) = self.tags.remove(&tag) else {
            return;
        };
        let Some(p) = self.pending.get_mut(&key) else {
            return;
        };
        p.left -= 1;
        p.answer(cms::outcome(code, error));
        self.settle(key);
    }

    /// Forgets a message once the session holds none of its parts.
    fn settle(&mut self, key: u64) {
        if self.pending.get(&key).is_some_and(|p| p.left == 0)
            && let Some(mut p) = self.pending.remove(&key)
        {
            p.answer(SubmitOutcome::Retry {
                after: cms::RETRY_AFTER,
                error: "the modem lost part of the message".into(),
            });
        }
    }

    /// The session ended: what it still held goes back to the dispatcher, to be tried
    /// again (the part in flight may have gone out; the network cannot tell us).
    fn give_back_held(&mut self) {
        self.tags.clear();
        for (_, mut p) in self.pending.drain() {
            p.answer(SubmitOutcome::Retry {
                after: cms::RETRY_AFTER,
                error: "the modem session ended before the message was sent".into(),
            });
        }
    }

    fn refuse_queued(&self, queue: &mut mpsc::Receiver<Request>) {
        while let Ok(request) = queue.try_recv() {
            refuse(request, "the modem channel is stopping or down");
        }
    }
}

fn refuse(request: Request, why: &str) {
    let _ = request
        .reply
        .send(SubmitOutcome::Failover { error: why.into() });
}
