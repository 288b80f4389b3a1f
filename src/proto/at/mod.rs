//! AT command responses from a GSM modem, cut into items. Pure: bytes in, [`Item`]s out; the
//! serial port lives in `src/channel/`.
//!
//! - [`digester`]: the [`Digester`], which turns the modem's byte stream into [`Item`]s —
//!   final results, information lines, the `> ` prompt and unsolicited result codes.
//! - [`urc`]: which lines are unsolicited, and which of those carry a second line (a PDU).
//!
//! Decisions a caller relies on:
//!
//! - Verbose result codes (`ATV1`) are assumed; numeric codes (`ATV0`) come out as lines.
//! - `+CMGS: 12`, `+CMGR: ...`, `+CSQ: ...` and every other line that is neither a final
//!   result nor a known URC is a [`Item::Line`]: the information of the command in progress.
//! - `+CPIN:` is always a [`Item::Line`], also when a modem sends `+CPIN: READY` unasked
//!   after a restart: the session ignores lines while no command is in progress, and it
//!   learns the SIM state by asking `AT+CPIN?` anyway.
//! - A URC name that is also a read command (`+CREG:`, `^HCSQ:`, `+CUSD:`, ...) is a
//!   [`Item::Line`] while the command in progress is that read (`AT+CREG?`, `AT^HCSQ?`,
//!   `AT+CREG=?`, or the bare name), and a [`Item::Urc`] otherwise. `AT+CUSD=1,"*100#"` is not
//!   a read, so the network's `+CUSD:` answer is a URC whether it arrives before or after `OK`.
//! - `NO CARRIER`, `BUSY`, `NO ANSWER` and `NO DIALTONE` end a command as
//!   [`Final::Other`]; so does a `+CMS ERROR:` whose code is text.

pub mod digester;
pub mod urc;

pub use digester::Digester;

/// One thing the modem said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The result that ends the command in progress.
    Final(Final),
    /// An information line of the command in progress (`+CSQ: 21,99`, `Quectel`,
    /// `+CMGS: 12`), without its line ending.
    Line(String),
    /// The `> ` prompt of `AT+CMGS`: write the PDU and Ctrl-Z now.
    Prompt,
    /// An unsolicited result code, which may arrive at any time, also between a command's
    /// information lines and its final result.
    Urc(Urc),
}

/// A final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK`.
    Ok,
    /// `ERROR`, with no reason given.
    Error,
    /// `+CMS ERROR: <n>` (3GPP TS 27.005 §3.2.5): a message service failure.
    CmsError(u16),
    /// `+CME ERROR: <n>` (3GPP TS 27.007 §9.2) in numeric form (`AT+CMEE=1`).
    CmeError(u16),
    /// `+CME ERROR: <text>` in verbose form (`AT+CMEE=2`), e.g. `SIM not inserted`.
    CmeErrorText(String),
    /// Any other failure that ends a command: `NO CARRIER`, `BUSY`, `NO ANSWER`,
    /// `NO DIALTONE`, or a `+CMS ERROR:` / `+CME ERROR:` whose code does not fit a `u16`
    /// (or a `+CMS ERROR:` in text form). Holds the whole line.
    Other(String),
}

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urc {
    /// Its name as the modem spells it, with the `+` or `^` and without the colon: `+CDS`,
    /// `^RSSI`, `RING`.
    pub name: String,
    /// The rest of the line after the colon and its space; empty for bare codes like `RING`.
    pub text: String,
    /// The line that follows `+CDS: <length>`, `+CMT:` and `+CBM:`: the PDU in hex (or the
    /// message text in text mode). `None` for every other URC, and for a header whose
    /// second line was replaced by a final result or another URC.
    pub pdu: Option<String>,
}
