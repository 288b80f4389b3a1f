//! The DTE's bytes in command mode: echo, line editing (backspace, ESC), line ends, and
//! the command line run once it is complete. Input that arrives while a send executes
//! waits in a small backlog.

use std::mem;
use std::time::Instant;

use super::{Entry, Final, Modem, Step};
use crate::modem_sim::parse::{self, Cmd};

/// Longest command line kept; a longer one is answered `ERROR` at its end.
const MAX_LINE: usize = 1024;
/// Bytes kept while a command executes (the send delay); more are lost, as in a modem's
/// small input buffer.
const MAX_BACKLOG: usize = 8192;

impl Modem {
    pub(super) fn keep_for_later(&mut self, bytes: &[u8]) {
        let room = MAX_BACKLOG.saturating_sub(self.backlog.len());
        self.backlog
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    /// Reads `bytes` in the current entry mode, one at a time; stops when a send starts
    /// executing (the rest waits) or the modem hangs or vanishes (the rest is lost).
    pub(super) fn feed(&mut self, bytes: &[u8], now: Instant) {
        for (i, &b) in bytes.iter().enumerate() {
            match self.entry {
                Entry::Line { .. } => self.line_byte(b, now),
                Entry::Pdu { .. } => self.pdu_byte(b, now),
                Entry::Text { .. } => self.text_byte(b, now),
            }
            if self.gone || self.hung_until.is_some() {
                return;
            }
            if self.busy.is_some() {
                self.keep_for_later(bytes.get(i + 1..).unwrap_or_default());
                return;
            }
        }
    }

    pub(super) fn echo(&mut self, b: u8) {
        if self.settings.echo {
            self.out.push(b);
        }
    }

    fn line_byte(&mut self, b: u8, now: Instant) {
        let Entry::Line { buf, overflow } = &mut self.entry else {
            return;
        };
        match b {
            // ESC abandons the line; it is not echoed.
            0x1b => {
                buf.clear();
                *overflow = false;
                return;
            }
            b'\r' | b'\n' => {
                let line = mem::take(buf);
                let too_long = mem::take(overflow);
                self.echo(b);
                if too_long {
                    self.final_result(self.out.len(), Final::Error);
                } else if !line.iter().all(|c| c.is_ascii_whitespace()) {
                    self.run_line(&line, now);
                }
                return;
            }
            0x08 | 0x7f => {
                buf.pop();
            }
            _ if buf.len() < MAX_LINE => buf.push(b),
            _ => *overflow = true,
        }
        self.echo(b);
    }

    /// Executes a command line: its commands in order, up to the first error.
    fn run_line(&mut self, line: &[u8], now: Instant) {
        let start = self.out.len();
        let text = String::from_utf8_lossy(line);
        let Some(cmds) = parse::parse(&text) else {
            self.final_result(start, Final::Error);
            return;
        };
        for cmd in &cmds {
            match self.command(cmd, now) {
                Step::Next => {}
                Step::Stop(result) => {
                    self.final_result(start, result);
                    return;
                }
                Step::Prompt => return,
            }
        }
        self.final_result(start, Final::Ok);
    }

    fn command(&mut self, cmd: &Cmd, now: Instant) -> Step {
        match self.general(cmd, now) {
            Some(step) => step,
            None => self.sms_command(cmd).unwrap_or(Step::Stop(Final::Error)),
        }
    }
}
