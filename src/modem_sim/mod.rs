//! `otpd modem-sim`: a simulated GSM modem, the DCE side of the AT conversation, for
//! tests, demos and the in-process `sim` channel. It answers like a USB stick in PDU mode
//! (Huawei E3372 identity, SIM, registration, `AT+CMGS` with the `> ` prompt, `+CDS`
//! status reports, message memory) well enough that otpd's driver and third-party modem
//! software (Gammu) send through it, and misbehaves on request.
//!
//! ```text
//!                 ┌──────────────────── ESC, or CR/LF ends the line ─────────────┐
//!                 ▼                                                               │
//!   power-up ─► Line (echo, parse, answer) ── AT+CMGS=<n> ──► "> " ─► Pdu/Text ──┤ Ctrl-Z
//!                 ▲                                                               ▼
//!                 └──────── +CMGS: <mr> / +CMS ERROR ◄── Busy (send delay) ◄──────┘
//!   after every Nth send, on request:  Hung (answers nothing for a while)
//!                                      Gone (vanished until power_cycle)
//! ```
//!
//! The parts, from the inside out:
//!
//! - [`Modem`] (`modem.rs` and its children in `modem/`): the sans-IO state
//!   machine. Bytes and `now` in; bytes, [`Delivered`] messages and [`Event`]s out.
//!   `parse.rs` reads command lines, `store.rs` keeps reports and joins concatenated
//!   parts, `noise.rs` makes the unsolicited noise, `config.rs` holds [`Config`] and
//!   its [`Faults`].
//! - [`serve`] (`serve.rs`): runs a [`Modem`] over any async byte stream (a pty, or
//!   `tokio::io::duplex` in-process).
//! - `pty.rs`: `otpd modem-sim --link PATH`: a pseudo-terminal behind a stable symlink,
//!   re-created when the vanish fault strikes; `args.rs`: its command line, [`SimArgs`].

mod args;
mod config;
mod modem;
mod noise;
mod parse;
mod pty;
mod serve;
mod store;

#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;

pub use args::SimArgs;
pub use config::{Config, Faults, Pin};
pub use modem::{Delivered, Event, Modem};
pub use pty::run;
pub use serve::{Outcome, serve};
