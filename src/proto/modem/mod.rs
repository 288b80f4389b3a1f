//! The GSM modem session: the AT conversation with one USB stick, sans-IO. Bytes and `now`
//! in, bytes to write and [`Event`]s out; the serial port and the clock live in
//! `src/channel/`.
//!
//! - [`session`]: the [`Session`] state machine — init sequence, one command in flight with
//!   its deadline, the send queue, URC handling (`+CDS`, `+CMT`, `+CMTI`, `+CDSI`).
//! - [`commands`]: the commands it writes, their redacted labels and the parsers of their
//!   information lines.
//!
//! ```text
//!  new() ─► Init: ESC (settle) → AT → ATE0 → AT+CMEE=1 → AT+CPIN? [→ AT+CPIN="…"]
//!             → AT+CREG? / AT+CEREG? (poll until stat 1|5 or the deadline)
//!             → AT+CSQ → AT+CMGF=0 → AT+CNMI=2,1,0,1,0 [→ AT+CSCA="…"]
//!             │ a fatal error                       │ all OK
//!             ▼                                     ▼
//!           Failed (InitFailed)                   Ready ◄─┐ sends, acks, reads, keepalive
//!                                                   │ ─────┘
//!  any state: a command past its deadline ─► Hung (the caller reopens the device)
//! ```
//!
//! Secrets: the SIM PIN is a [`SimPin`], whose `Debug` is redacted and which has no
//! `Display`; it is read only to build the bytes of `AT+CPIN=`, which are never announced
//! to the digester, never logged and never put in an event.

pub mod commands;
pub mod session;

pub use session::Session;

use std::fmt;
use std::time::Duration;

use crate::proto::at::Urc;
use crate::proto::sms::{Deliver, StatusReport};

/// The SIM PIN. `Debug` prints `SimPin(<redacted>)`; there is no `Display`. Its bytes are
/// overwritten on drop (best effort: std only, so no volatile guarantee as in `zeroize`).
#[derive(Clone)]
pub struct SimPin(String);

impl SimPin {
    /// Wraps a PIN as configured.
    pub fn new(pin: impl Into<String>) -> SimPin {
        SimPin(pin.into())
    }

    /// The digits, for building `AT+CPIN="…"` only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SimPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimPin(<redacted>)")
    }
}

impl Drop for SimPin {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// How [`Event::InitFailed`] starts when the SIM refused the PIN: the owner must not enter
/// it again in a later session (three refusals lock the SIM behind its PUK).
pub const PIN_REFUSED: &str = "the SIM refused the PIN";

/// How the session talks to the modem. `Debug` is safe to log: the PIN is a [`SimPin`].
#[derive(Debug, Clone)]
pub struct ModemConfig {
    /// Entered when `AT+CPIN?` answers `SIM PIN`; never retried, to spare the PUK.
    pub sim_pin: Option<SimPin>,
    /// Service centre number (`+4179…`) written with `AT+CSCA`; `None` keeps the SIM's.
    pub smsc: Option<String>,
    /// How long registration may take, from the first `AT+CREG?`.
    pub register_deadline: Duration,
    /// Deadline of every command but `AT+CMGS`.
    pub command_timeout: Duration,
    /// Deadline of `AT+CMGS` once the PDU is written (the network round trip).
    pub send_timeout: Duration,
    /// Sends queued behind the command in flight before [`Session::send`] says [`Busy`].
    pub max_queued_sends: usize,
    /// How long the modem may answer the opening ESC with stray results before `AT`.
    pub escape_settle: Duration,
}

impl Default for ModemConfig {
    fn default() -> ModemConfig {
        ModemConfig {
            sim_pin: None,
            smsc: None,
            register_deadline: Duration::from_secs(60),
            command_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(60),
            max_queued_sends: 16,
            escape_settle: Duration::from_millis(500),
        }
    }
}

/// What the session tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Init finished: sends go out now.
    Ready,
    /// Signal from `AT+CSQ` (init and keepalive), in dBm; not sent when unknown (99).
    SignalDbm(i32),
    /// Init stopped; the session does nothing more. The text never holds the PIN.
    InitFailed(String),
    /// `+CMGS: <mr>` then `OK`: the SMSC took the message; `reference` is TP-MR, which the
    /// status report carries back.
    Sent { tag: u64, reference: u8 },
    /// The send failed; `cms` is the `+CMS ERROR` code when the modem gave one.
    SendFailed {
        tag: u64,
        cms: Option<u16>,
        error: String,
    },
    /// A status report, from `+CDS` or read back after `+CDSI`.
    StatusReport(StatusReport),
    /// A message a handset sent us, from `+CMT` or read back after `+CMTI`.
    Incoming(Deliver),
    /// A command passed its deadline: the modem is stuck. Reopen the device and start a
    /// new session; this one does nothing more.
    Hung(String),
    /// Any other unsolicited result code, and a `+CDS` / `+CMT` whose PDU did not decode.
    Urc(Urc),
}

/// Why [`Session::send`] did not take a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// [`ModemConfig::max_queued_sends`] sends are already waiting: try later.
    QueueFull,
    /// Init failed or the modem hung: reopen the device.
    Down,
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Busy::QueueFull => f.write_str("modem send queue is full"),
            Busy::Down => f.write_str("modem session is down"),
        }
    }
}

impl std::error::Error for Busy {}
