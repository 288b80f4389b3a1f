//! The client (ESME) side of one SMPP 3.4 link, as a sans-IO state machine.
//!
//! The channel task owns the socket and the timers; this type owns the protocol. Bytes and
//! `now` go in ([`Session::handle_input`], [`Session::handle_timeout`], the calls), PDUs to write
//! ([`Session::poll_transmit`]) and [`Event`]s come out. Nothing here blocks, reads a clock or
//! touches I/O, so every path is tested by hand-advanced `Instant`s.
//!
//! ```text
//!          bind()             bind_resp 0
//!   Open ──────────▶ Binding ─────────────▶ Bound ───── unbind() ────▶ Unbinding
//!    ▲                  │                     │                           │
//!    └── 1st refusal ───┤                     │ peer's unbind             │ unbind_resp
//!                       │ 2nd refusal,        │ (answered)                │
//!                       │ no bind_resp        ▼                           ▼
//!                       └───────────────▶  Closed  ◀──────────────────────┘
//!
//!   any state ──▶ Closed on Event::Fatal (broken framing, a request left unanswered)
//! ```
//!
//! Closed is final for the link: the caller drops it, takes back the unanswered submits with
//! [`Session::drain_in_flight`] and builds a new `Session` on the next connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rusmpp::Command;
use thiserror::Error;

use super::frame::{self, DEFAULT_MAX_PDU_LEN};
use super::incoming;
use super::pdu::{self, BindKind, PduError};
use super::submit::Submit;
use super::window::Window;

/// How to bind and how long to wait. `Debug` leaves the password out.
#[derive(Clone)]
pub struct SessionConfig {
    /// At most 15 characters.
    pub system_id: String,
    /// At most 8 characters.
    pub password: String,
    /// At most 12 characters; often empty.
    pub system_type: String,
    pub bind: BindKind,
    /// Most submit_sm in flight at once (the SMSC's limit).
    pub window: usize,
    /// How long a submit_sm, the bind, an enquire_link or the unbind may wait for its response.
    pub response_timeout: Duration,
    /// Send enquire_link after this long without receiving anything; zero turns it off.
    pub enquire_link: Duration,
    /// Longest PDU accepted from the peer; longer means a broken stream.
    pub max_pdu_len: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            bind: BindKind::Transceiver,
            window: 10,
            response_timeout: Duration::from_secs(10),
            enquire_link: Duration::from_secs(30),
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
        }
    }
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("bind", &self.bind)
            .field("window", &self.window)
            .field("response_timeout", &self.response_timeout)
            .field("enquire_link", &self.enquire_link)
            .field("max_pdu_len", &self.max_pdu_len)
            .finish()
    }
}

/// Where the link is; see the diagram in the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Binding,
    Bound,
    Unbinding,
    Closed,
}

/// What happened on the link, for the channel task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Bound,
    /// A bind_resp (or generic_nack) refused the bind. The link stays Open so the caller may
    /// bind again or drop it; a second refusal on the same link is also Fatal.
    BindFailed {
        status: u32,
    },
    SubmitAccepted {
        tag: u64,
        message_id: String,
    },
    /// A submit_sm_resp with a non-zero command_status, or a generic_nack of the submit_sm.
    SubmitRejected {
        tag: u64,
        status: u32,
    },
    SubmitTimedOut {
        tag: u64,
    },
    /// A deliver_sm. Answer it with [`Session::acknowledge_deliver`] once it is recorded
    /// (every one, also those that match nothing, or the SMSC sends them forever).
    Deliver {
        sequence: u32,
        source: String,
        destination: String,
        esm_class: u8,
        short_message: Vec<u8>,
        receipted_message_id: Option<String>,
        message_state: Option<u8>,
        network_error: Option<Vec<u8>>,
    },
    /// The peer nacked something of ours (logged; a nacked submit also gets SubmitRejected).
    GenericNack {
        sequence: u32,
        status: u32,
    },
    /// A response for a sequence number we are not waiting for (logged by the caller).
    LateResponse {
        sequence: u32,
    },
    /// Our unbind was answered, or the peer unbound us and we answered.
    Unbound,
    /// The link is unusable (broken framing, bind refused twice, no answer): drop it.
    Fatal(String),
}

/// Why a submit was not sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubmitError {
    /// Not bound, or bound as a receiver: try another channel or wait for the bind.
    #[error("not bound for sending")]
    NotBound,
    /// Wait for responses before sending more.
    #[error("window full")]
    WindowFull,
    /// A field does not fit SMPP (too long an address, bad validity): reject the message.
    #[error(transparent)]
    Invalid(#[from] PduError),
}

/// A request of ours that is not a submit: the bind, an enquire_link or the unbind.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sequence: u32,
    deadline: Instant,
}

/// One SMPP link's protocol state. See the module doc.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    /// The last sequence number used; the next is one more, wrapping within 1..=0x7FFFFFFF.
    sequence: u32,
    /// submit_sm sent and not yet answered.
    window: Window,
    /// Encoded PDUs waiting for the socket, oldest first.
    transmit: VecDeque<Bytes>,
    events: VecDeque<Event>,
    /// When the last PDU arrived: the enquire_link idle timer runs from here.
    last_received: Instant,
    bind: Option<Pending>,
    enquire_link: Option<Pending>,
    unbind: Option<Pending>,
    /// Refusals on this link; the second one ends it.
    bind_refusals: u8,
    /// Framing failed: the stream cannot be resynchronised, so input is no longer read.
    broken: bool,
}

/// Highest sequence number SMPP allows (SMPP 3.4 sequence_number: 0x00000001 to 0x7FFFFFFF).
const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

impl Session {
    pub fn new(config: SessionConfig, now: Instant) -> Session {
        Session {
            window: Window::new(config.window),
            config,
            state: State::Open,
            sequence: 0,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            last_received: now,
            bind: None,
            enquire_link: None,
            unbind: None,
            bind_refusals: 0,
            broken: false,
        }
    }

    /// Queues the bind PDU. Only from Open (a second call while Binding is ignored); a bad
    /// system_id or password is reported as [`Event::Fatal`], since no retry can fix it.
    pub fn bind(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        let sequence = self.next_sequence();
        let c = &self.config;
        match pdu::bind(c.bind, sequence, &c.system_id, &c.password, &c.system_type) {
            Ok(command) => {
                self.send(&command);
                self.bind = Some(Pending {
                    sequence,
                    deadline: now + self.config.response_timeout,
                });
                self.state = State::Binding;
            }
            Err(e) => self.fatal(format!("cannot build bind: {e}")),
        }
    }

    /// Queues a submit_sm and returns its sequence number.
    pub fn submit(&mut self, s: Submit, now: Instant) -> Result<u32, SubmitError> {
        if self.state != State::Bound || self.config.bind == BindKind::Receiver {
            return Err(SubmitError::NotBound);
        }
        if self.window.is_full() {
            return Err(SubmitError::WindowFull);
        }
        let sequence = self.next_sequence();
        let command = pdu::submit_sm(sequence, &s)?;
        // Fullness was checked above and next_sequence skips numbers in flight, so this cannot
        // fail; if it somehow did, "window full" is the honest answer to the caller.
        self.window
            .insert(sequence, s.tag, now + self.config.response_timeout)
            .map_err(|_| SubmitError::WindowFull)?;
        self.send(&command);
        Ok(sequence)
    }

    /// Starts an orderly close. Submits in flight may still be answered while Unbinding.
    pub fn unbind(&mut self, now: Instant) {
        match self.state {
            State::Binding | State::Bound => {
                let sequence = self.next_sequence();
                self.send(&pdu::unbind(sequence));
                self.unbind = Some(Pending {
                    sequence,
                    deadline: now + self.config.response_timeout,
                });
                self.bind = None;
                self.enquire_link = None;
                self.state = State::Unbinding;
            }
            // Never bound: nothing to tell the peer.
            State::Open => {
                self.state = State::Closed;
                self.events.push_back(Event::Unbound);
            }
            State::Unbinding | State::Closed => {}
        }
    }

    /// Queues the deliver_sm_resp of the deliver_sm with this sequence number. Only on a
    /// session that is still open: the receipt of a closed one comes again on the next.
    pub fn acknowledge_deliver(&mut self, sequence: u32) {
        if matches!(self.state, State::Bound | State::Unbinding) {
            self.send(&pdu::deliver_sm_resp(sequence));
        }
    }

    /// Takes every complete PDU off the front of `buf`, leaving a partial one for next time.
    pub fn handle_input(&mut self, buf: &mut BytesMut, now: Instant) {
        while !self.broken {
            match frame::next_frame(buf, self.config.max_pdu_len) {
                Ok(Some(frame)) => {
                    self.last_received = now;
                    match incoming::decode(frame) {
                        Ok(received) => self.on_pdu(received),
                        Err(nack) => self.send(&pdu::generic_nack(nack.sequence, nack.status)),
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.broken = true;
                    self.fatal(format!("framing: {e}"));
                }
            }
        }
    }

    /// Expires what has waited too long and sends enquire_link on an idle link. Call it at
    /// [`Session::next_timeout`] (calling early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.response_timeout;
        let overdue = |p: &Option<Pending>| p.is_some_and(|p| now >= p.deadline);
        if overdue(&self.bind) {
            self.fatal(format!("no bind_resp within {timeout:?}"));
        }
        if overdue(&self.enquire_link) {
            self.fatal(format!("no enquire_link_resp within {timeout:?}"));
        }
        if overdue(&self.unbind) {
            self.fatal(format!("no unbind_resp within {timeout:?}"));
        }
        for expired in self.window.expired(now) {
            self.events
                .push_back(Event::SubmitTimedOut { tag: expired.tag });
        }
        if self.idle_deadline().is_some_and(|at| now >= at) {
            let sequence = self.next_sequence();
            self.send(&pdu::enquire_link(sequence));
            self.enquire_link = Some(Pending {
                sequence,
                deadline: now + timeout,
            });
        }
    }

    /// The next PDU to write, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] next has something to do.
    pub fn next_timeout(&self) -> Option<Instant> {
        [self.bind, self.enquire_link, self.unbind]
            .into_iter()
            .flatten()
            .map(|p| p.deadline)
            .chain(self.window.next_deadline())
            .chain(self.idle_deadline())
            .min()
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Submits sent and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Tags of the unanswered submits, earliest first, for resubmission after the link drops.
    pub fn drain_in_flight(&mut self) -> Vec<u64> {
        self.window.drain_all()
    }

    fn unbound(&mut self) {
        if self.state != State::Closed {
            self.close();
            self.events.push_back(Event::Unbound);
        }
    }

    fn fatal(&mut self, reason: String) {
        self.close();
        self.events.push_back(Event::Fatal(reason));
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.bind = None;
        self.enquire_link = None;
        self.unbind = None;
    }

    /// When an idle link is due an enquire_link: only while Bound with none outstanding.
    fn idle_deadline(&self) -> Option<Instant> {
        let interval = self.config.enquire_link;
        (self.state == State::Bound && self.enquire_link.is_none() && !interval.is_zero())
            .then(|| self.last_received + interval)
    }

    /// 1..=0x7FFFFFFF, wrapping, skipping any number a submit still holds (only reachable after
    /// two billion PDUs on one link, but cheap to rule out).
    fn next_sequence(&mut self) -> u32 {
        loop {
            self.sequence = if self.sequence >= MAX_SEQUENCE {
                1
            } else {
                self.sequence + 1
            };
            if !self.window.contains(self.sequence) {
                return self.sequence;
            }
        }
    }

    fn send(&mut self, command: &Command) {
        self.transmit.push_back(pdu::encode(command));
    }
}

mod inbound;
#[cfg(test)]
mod tests;
