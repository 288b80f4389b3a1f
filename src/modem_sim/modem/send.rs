//! The network side of a send: the PDU (or text) typed after the prompt, its checks, the
//! send delay, the handset that gets the message, and the status report that comes back.
//!
//! A report comes only while the modem is registered (SIM unlocked, radio on); one that
//! falls due before waits, and after a power cycle it lands as `AT+CNMI` then says, which
//! is "stored without a word" until the DTE sets `<ds>` again.

use std::mem;
use std::time::Instant;

use super::sms::{
    CMS_BAD_PDU, CMS_BAD_TEXT, CMS_NO_NETWORK, MAX_SMSC_CHARS, MAX_TEXT, text_fields,
};
use super::{Busy, Delivered, DueReport, Entry, Event, Final, Modem, after};
use crate::modem_sim::config::every;
use crate::modem_sim::store::Report;
use crate::proto::sms::{self, DecodedSubmit, NewStatusReport};

impl Modem {
    /// A byte of the PDU after the prompt.
    pub(super) fn pdu_byte(&mut self, b: u8, now: Instant) {
        let Entry::Pdu { len, hex, overflow } = &mut self.entry else {
            return;
        };
        match b {
            0x1a => {
                let (len, hex, overflow) = (*len, mem::take(hex), *overflow);
                self.entry = Entry::line();
                let outcome = self.check_pdu(len, &hex, overflow, now);
                self.submit(outcome, now);
            }
            0x1b => self.abandon(),
            // Line ends and spaces some DTEs put in or after the PDU are not part of it.
            b'\r' | b'\n' | b' ' => self.echo(b),
            _ => {
                if hex.len() < len.saturating_mul(2).saturating_add(MAX_SMSC_CHARS) {
                    hex.push(b);
                } else {
                    *overflow = true;
                }
                self.echo(b);
            }
        }
    }

    /// A byte of text-mode input after the prompt.
    pub(super) fn text_byte(&mut self, b: u8, now: Instant) {
        let Entry::Text { destination, text } = &mut self.entry else {
            return;
        };
        match b {
            0x1a => {
                let (destination, text) = (mem::take(destination), mem::take(text));
                self.entry = Entry::line();
                let outcome = self.check_text(destination, &text, now);
                self.submit(outcome, now);
            }
            0x1b => self.abandon(),
            // Each line of the text gets a new prompt.
            b'\r' => {
                text.push(b'\n');
                self.out.extend_from_slice(b"\r\n> ");
            }
            b'\n' => {}
            0x08 => {
                text.pop();
                self.echo(b);
            }
            _ => {
                if text.len() < MAX_TEXT {
                    text.push(b);
                }
                self.echo(b);
            }
        }
    }

    /// ESC after the prompt: nothing is sent, and `AT+CMGS` ends with `OK`.
    fn abandon(&mut self) {
        self.entry = Entry::line();
        let start = self.out.len();
        self.final_result(start, Final::Ok);
    }

    /// The PDU typed after `AT+CMGS=<len>`: hex, with an SMSC part that `<len>` does not
    /// count, decoding as an SMS-SUBMIT.
    fn check_pdu(
        &self,
        len: usize,
        hex: &[u8],
        overflow: bool,
        now: Instant,
    ) -> Result<DecodedSubmit, u16> {
        let hex = std::str::from_utf8(hex).map_err(|_| CMS_BAD_PDU)?;
        let smsc_octets = hex
            .get(..2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or(CMS_BAD_PDU)?;
        let expected = (1 + usize::from(smsc_octets) + len) * 2;
        if overflow || hex.len() != expected {
            return Err(CMS_BAD_PDU);
        }
        let submit = sms::decode_submit(hex, true).map_err(|_| CMS_BAD_PDU)?;
        self.network_check(now)?;
        Ok(submit)
    }

    /// Text-mode input: the text in the character set `AT+CSCS` chose.
    fn check_text(
        &self,
        destination: String,
        text: &[u8],
        now: Instant,
    ) -> Result<DecodedSubmit, u16> {
        let text = if self.settings.cscs == "UCS2" {
            let hex = std::str::from_utf8(text).map_err(|_| CMS_BAD_TEXT)?;
            let hex = hex.replace('\n', "");
            let octets = sms::from_hex(&hex).map_err(|_| CMS_BAD_TEXT)?;
            let units = octets
                .chunks_exact(2)
                .map(|pair| pair.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b)));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        } else {
            String::from_utf8_lossy(text).into_owned()
        };
        self.network_check(now)?;
        Ok(DecodedSubmit {
            reference: 0,
            destination,
            status_report: self.settings.csmp_fo & 0x20 != 0,
            validity: None,
            text,
            concat: None,
        })
    }

    /// Whether a message can reach the network now.
    fn network_check(&self, now: Instant) -> Result<(), u16> {
        if let Some(code) = self.sms_sim_error() {
            return Err(code);
        }
        if !self.registered(now) {
            return Err(CMS_NO_NETWORK);
        }
        Ok(())
    }

    /// A checked submit: to the network (after the send delay, unless the CMS fault
    /// strikes), or refused at once by the modem itself.
    fn submit(&mut self, checked: Result<DecodedSubmit, u16>, now: Instant) {
        let outcome = match checked {
            Ok(submit) => {
                self.sends = self.sends.wrapping_add(1);
                let faults = &self.config.faults;
                if every(faults.cms_error_every, self.sends) {
                    Err(faults.cms_error)
                } else {
                    let reference = self.next_reference;
                    self.next_reference = reference.wrapping_add(1);
                    Ok((reference, submit))
                }
            }
            Err(code) => {
                let start = self.out.len();
                self.final_result(start, Final::Cms(code));
                self.events.push_back(Event::SendFailed { cms: code });
                return;
            }
        };
        let until = after(now, self.config.send_delay);
        self.busy = Some(Busy { until, outcome });
        if until <= now {
            self.finish_send(now);
        }
    }

    /// A report the network sends now: as `+CDS`, or stored (announced with `+CDSI` when
    /// that is what the modem does).
    pub(super) fn report_due(&mut self, due: DueReport, now: Instant) {
        let DueReport {
            reference,
            recipient,
            submitted,
            ..
        } = due;
        let discharge = self.wall(now);
        let encoded = sms::encode_status_report(&NewStatusReport {
            smsc: &self.smsc,
            reference,
            recipient: &recipient,
            service_centre_time: submitted,
            discharge_time: discharge,
            status: 0,
        });
        let Ok(pdu) = encoded else {
            self.events.push_back(Event::ReportDropped { reference });
            return;
        };
        let report = Report {
            pdu,
            reference,
            recipient,
            status: 0,
        };
        let ds = self.settings.cnmi.get(3).copied().unwrap_or(0);
        if ds == 1 && !self.config.faults.stored_reports {
            let urc = if self.settings.cmgf == 1 {
                format!("\r\n+CDS: {}\r\n", text_fields(&report))
            } else {
                format!(
                    "\r\n+CDS: {}\r\n{}\r\n",
                    report.pdu.tpdu_len, report.pdu.hex
                )
            };
            self.urcs.push_back(urc.into_bytes());
            self.unacked = self.unacked.saturating_add(1);
            self.events.push_back(Event::ReportSent { reference });
            return;
        }
        let announced = ds != 0 || self.config.faults.stored_reports;
        match self.storage.put(report) {
            Some(index) => {
                if announced {
                    let urc = format!("\r\n+CDSI: \"SR\",{index}\r\n");
                    self.urcs.push_back(urc.into_bytes());
                }
                self.events.push_back(Event::ReportStored {
                    reference,
                    index,
                    announced,
                });
            }
            None => self.events.push_back(Event::ReportDropped { reference }),
        }
    }
    /// The send's time is up: answer, deliver, schedule the report, apply the faults
    /// that follow a send, then read what was typed meanwhile.
    pub(super) fn finish_send(&mut self, now: Instant) {
        let Some(busy) = self.busy.take() else {
            return;
        };
        let start = self.out.len();
        match busy.outcome {
            Ok((reference, submit)) => {
                self.info(&format!("+CMGS: {reference}"));
                self.final_result(start, Final::Ok);
                self.sent(reference, submit, now);
            }
            Err(cms) => {
                self.final_result(start, Final::Cms(cms));
                self.events.push_back(Event::SendFailed { cms });
            }
        }
        let faults = &self.config.faults;
        if every(faults.vanish_after, self.sends) {
            let duration = faults.vanish_for;
            self.gone = true;
            self.events.push_back(Event::Vanish { duration });
        } else if every(faults.hang_after, self.sends) {
            let duration = faults.hang_for;
            self.hung_until = Some(after(now, duration));
            self.events.push_back(Event::Hung { duration });
        }
        if self.gone || self.hung_until.is_some() {
            self.backlog.clear();
            return;
        }
        let backlog = mem::take(&mut self.backlog);
        self.feed(&backlog, now);
    }

    /// The network took the message: the handset gets it (whole, once its last part
    /// is in) and a report is scheduled when one was asked for.
    fn sent(&mut self, reference: u8, submit: DecodedSubmit, now: Instant) {
        let DecodedSubmit {
            destination,
            status_report,
            text,
            concat,
            ..
        } = submit;
        self.events.push_back(Event::Sent {
            reference,
            recipient: destination.clone(),
            part: concat.map(|c| (c.seq, c.total)),
        });
        if let Some(text) = self.reassembly.add(&destination, text, concat) {
            self.delivered.push_back(Delivered {
                recipient: destination.clone(),
                text,
            });
        }
        if !status_report {
            return;
        }
        self.reports_asked = self.reports_asked.wrapping_add(1);
        if every(self.config.faults.drop_reports_every, self.reports_asked) {
            self.events.push_back(Event::ReportDropped { reference });
            return;
        }
        let report = DueReport {
            at: after(now, self.config.report_delay),
            reference,
            recipient: destination,
            submitted: self.wall(now),
        };
        // Delays are all the same, so the queue stays in due order.
        self.reports.push_back(report);
    }
}
