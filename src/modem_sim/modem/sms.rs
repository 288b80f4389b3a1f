//! 3GPP TS 27.005 commands: message format, service centre, indications, memory, the start
//! of a send (the prompt; what follows is `send.rs`), acknowledging, reading, listing and
//! deleting.
//!
//! One memory holds everything, whatever `AT+CPMS` names; reports are announced in it as
//! `"SR"`. A report that comes while `AT+CNMI`'s `<ds>` is 0 is stored without a word,
//! as many sticks do; `<mode>` is not modelled (results are always buffered while the
//! link is reserved and flushed after, i.e. mode 2).

use super::{Entry, Final, Modem, Sim, Step};
use crate::modem_sim::parse::{Cmd, Op, args, number};
use crate::modem_sim::store::{CAPACITY, Report, Stored};
use crate::proto::sms;

/// Largest TPDU an SMS-SUBMIT can be (TS 23.040: 7 header octets, 12 of address, 7 of
/// validity, 140 of user data) and the smallest.
const MAX_TPDU: u32 = 164;
const MIN_TPDU: u32 = 7;
/// An SMSC part is at most 12 octets: its length octet, type of address, 10 of digits.
pub(super) const MAX_SMSC_CHARS: usize = 24;
/// Text typed in text mode beyond this is dropped.
pub(super) const MAX_TEXT: usize = 1024;
const MEMORIES: [&str; 4] = ["SM", "ME", "MT", "SR"];

/// `+CMS ERROR` codes (TS 27.005 §3.2.5).
const CMS_NOT_ALLOWED: u16 = 302;
const CMS_NOT_SUPPORTED: u16 = 303;
pub(super) const CMS_BAD_PDU: u16 = 304;
pub(super) const CMS_BAD_TEXT: u16 = 305;
const CMS_SIM_PIN: u16 = 311;
const CMS_SIM_PUK: u16 = 316;
const CMS_BAD_INDEX: u16 = 321;
pub(super) const CMS_NO_NETWORK: u16 = 331;
const CMS_NO_ACK_EXPECTED: u16 = 340;

impl Modem {
    /// The commands of this file; `None` for any other.
    pub(super) fn sms_command(&mut self, cmd: &Cmd) -> Option<Step> {
        use Op::{Exec, Read, Set, Test};
        let text_mode = self.settings.cmgf == 1;
        let step = match (cmd.name.as_str(), &cmd.op) {
            ("+CMGF", Read) => self.answer(&format!("+CMGF: {}", self.settings.cmgf)),
            ("+CMGF", Test) => self.answer("+CMGF: (0,1)"),
            ("+CMGF", Set(a)) => match number(args(a).first()) {
                Some(mode @ 0..=1) => {
                    self.settings.cmgf = u8::try_from(mode).unwrap_or(0);
                    Step::Next
                }
                _ => Step::Stop(Final::Error),
            },
            ("+CSMS", Read) => self.answer("+CSMS: 0,1,1,1"),
            ("+CSMS", Test) => self.answer("+CSMS: (0,1)"),
            ("+CSMS", Set(_)) => self.answer("+CSMS: 1,1,1"),
            ("+CSMP", Read) => self.answer(&format!("+CSMP: {},167,0,0", self.settings.csmp_fo)),
            ("+CSMP", Test) => Step::Next,
            ("+CSMP", Set(a)) => match number(args(a).first()).map(u8::try_from) {
                Some(Ok(fo)) => {
                    self.settings.csmp_fo = fo;
                    Step::Next
                }
                _ => Step::Stop(Final::Cms(CMS_BAD_TEXT)),
            },
            (_, _) if needs_sim(&cmd.name) && self.sms_sim_error().is_some() => {
                Step::Stop(Final::Cms(self.sms_sim_error().unwrap_or(CMS_SIM_PIN)))
            }
            ("+CSCA", Read) => {
                let toa = if self.smsc.starts_with('+') { 145 } else { 129 };
                self.answer(&format!("+CSCA: \"{}\",{toa}", self.smsc))
            }
            ("+CSCA", Test) => Step::Next,
            ("+CSCA", Set(a)) => {
                let number = args(a).first().copied().unwrap_or_default();
                if !dialable(number) {
                    return Some(Step::Stop(Final::Cms(CMS_NOT_ALLOWED)));
                }
                self.smsc = number.to_owned();
                Step::Next
            }
            ("+CNMI", Read) => {
                let [mode, mt, bm, ds, bfr] = self.settings.cnmi;
                self.answer(&format!("+CNMI: {mode},{mt},{bm},{ds},{bfr}"))
            }
            ("+CNMI", Test) => self.answer("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"),
            ("+CNMI", Set(a)) => self.set_indications(&args(a)),
            ("+CPMS", Read) => {
                let used = self.storage.used();
                let [m1, m2, m3] = self.settings.memories;
                self.answer(&format!(
                    "+CPMS: \"{m1}\",{used},{CAPACITY},\"{m2}\",{used},{CAPACITY},\"{m3}\",{used},{CAPACITY}"
                ))
            }
            ("+CPMS", Test) => self.answer(
                "+CPMS: (\"SM\",\"ME\",\"MT\",\"SR\"),(\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\",\"MT\")",
            ),
            ("+CPMS", Set(a)) => self.set_memories(&args(a)),
            ("+CMGS", Test) => Step::Next,
            ("+CMGS", Set(a)) if text_mode => {
                let destination = args(a).first().copied().unwrap_or_default().to_owned();
                if destination.is_empty() {
                    return Some(Step::Stop(Final::Cms(CMS_BAD_TEXT)));
                }
                self.out.extend_from_slice(b"\r\n> ");
                self.entry = Entry::Text {
                    destination,
                    text: Vec::new(),
                };
                Step::Prompt
            }
            ("+CMGS", Set(a)) => match number(args(a).first()) {
                Some(len @ MIN_TPDU..=MAX_TPDU) => {
                    self.out.extend_from_slice(b"\r\n> ");
                    self.entry = Entry::Pdu {
                        len: usize::try_from(len).unwrap_or(0),
                        hex: Vec::new(),
                        overflow: false,
                    };
                    Step::Prompt
                }
                Some(_) => Step::Stop(Final::Cms(CMS_BAD_PDU)),
                None => Step::Stop(Final::Error),
            },
            ("+CNMA", Exec("") | Set(_)) => {
                if self.unacked == 0 {
                    return Some(Step::Stop(Final::Cms(CMS_NO_ACK_EXPECTED)));
                }
                self.unacked = self.unacked.saturating_sub(1);
                Step::Next
            }
            ("+CMGR", Set(a)) => match number(args(a).first()) {
                Some(index) => match self.storage.read(index) {
                    Ok(Some(stored)) => {
                        self.show(&format!("+CMGR: {}", status(&stored, text_mode)), &stored);
                        Step::Next
                    }
                    Ok(None) => Step::Next,
                    Err(_) => Step::Stop(Final::Cms(CMS_BAD_INDEX)),
                },
                None => Step::Stop(Final::Error),
            },
            ("+CMGD", Test) => self.answer(&format!("+CMGD: (1-{CAPACITY}),(0-4)")),
            ("+CMGD", Set(a)) => {
                let a = args(a);
                match (number(a.first()), number(a.get(1)).unwrap_or(0)) {
                    (Some(index), 0) => match self.storage.delete(index) {
                        Ok(()) => Step::Next,
                        Err(_) => Step::Stop(Final::Cms(CMS_BAD_INDEX)),
                    },
                    (_, 1..=3) => {
                        self.storage.delete_where(|m| m.read);
                        Step::Next
                    }
                    (_, 4) => {
                        self.storage.delete_where(|_| true);
                        Step::Next
                    }
                    _ => Step::Stop(Final::Error),
                }
            }
            ("+CMGL", Test) if text_mode => self.answer(
                "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")",
            ),
            ("+CMGL", Test) => self.answer("+CMGL: (0-4)"),
            ("+CMGL", Exec("")) => self.list(if text_mode { "REC UNREAD" } else { "0" }),
            ("+CMGL", Set(a)) => self.list(args(a).first().copied().unwrap_or_default()),
            _ => return None,
        };
        Some(step)
    }

    /// `+CMS ERROR` for an SMS command while the SIM is locked.
    pub(super) fn sms_sim_error(&self) -> Option<u16> {
        match self.sim {
            Sim::Ready => None,
            Sim::Pin { .. } => Some(CMS_SIM_PIN),
            Sim::Puk => Some(CMS_SIM_PUK),
        }
    }

    fn set_indications(&mut self, given: &[&str]) -> Step {
        const MAX: [u8; 5] = [3, 3, 3, 2, 1];
        let mut cnmi = self.settings.cnmi;
        if given.len() > cnmi.len() {
            return Step::Stop(Final::Cms(CMS_NOT_SUPPORTED));
        }
        for ((value, arg), max) in cnmi.iter_mut().zip(given).zip(MAX) {
            if arg.is_empty() {
                continue; // An omitted value is left as it was.
            }
            match arg.parse::<u8>() {
                Ok(v) if v <= max => *value = v,
                _ => return Step::Stop(Final::Cms(CMS_NOT_SUPPORTED)),
            }
        }
        self.settings.cnmi = cnmi;
        Step::Next
    }

    fn set_memories(&mut self, given: &[&str]) -> Step {
        if given.is_empty() || given.len() > 3 {
            return Step::Stop(Final::Error);
        }
        let mut memories = self.settings.memories;
        for (slot, name) in memories.iter_mut().zip(given) {
            let name = name.to_ascii_uppercase();
            match MEMORIES.iter().find(|m| **m == name) {
                Some(memory) => *slot = memory,
                None => return Step::Stop(Final::Cms(CMS_NOT_ALLOWED)),
            }
        }
        self.settings.memories = memories;
        let used = self.storage.used();
        self.answer(&format!(
            "+CPMS: {used},{CAPACITY},{used},{CAPACITY},{used},{CAPACITY}"
        ))
    }

    /// `AT+CMGL=<stat>`: status reports are "received" messages, so 2 and 3 ("stored
    /// unsent/sent") list nothing.
    fn list(&mut self, which: &str) -> Step {
        let text_mode = self.settings.cmgf == 1;
        let wanted: fn(&Stored) -> bool = match which.to_ascii_uppercase().as_str() {
            "0" | "REC UNREAD" => |m| !m.read,
            "1" | "REC READ" => |m| m.read,
            "2" | "3" | "STO UNSENT" | "STO SENT" => |_| false,
            "4" | "ALL" => |_| true,
            _ if text_mode => return Step::Stop(Final::Cms(CMS_BAD_TEXT)),
            _ => return Step::Stop(Final::Cms(CMS_BAD_PDU)),
        };
        for (index, stored) in self.storage.list(wanted) {
            let header = format!("+CMGL: {index},{}", status(&stored, text_mode));
            self.show(&header, &stored);
        }
        Step::Next
    }

    /// A stored report after its `+CMGR:` / `+CMGL:` header: the PDU on a line of its own,
    /// or the text-mode fields on the header line.
    fn show(&mut self, header: &str, stored: &Stored) {
        let report = &stored.report;
        if self.settings.cmgf == 1 {
            self.info(&format!("{header},{}", text_fields(report)));
        } else {
            self.info(&format!("{header},,{}", report.pdu.tpdu_len));
            // The PDU follows the header's line end directly.
            self.out.extend_from_slice(report.pdu.hex.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
    }
}

/// Commands that need the SIM unlocked.
fn needs_sim(name: &str) -> bool {
    matches!(
        name,
        "+CSCA" | "+CPMS" | "+CMGS" | "+CMGR" | "+CMGD" | "+CMGL" | "+CNMI"
    )
}

/// `<stat>` of a stored message: numeric in PDU mode, a word in text mode.
fn status(stored: &Stored, text_mode: bool) -> &'static str {
    match (stored.read, text_mode) {
        (false, false) => "0",
        (true, false) => "1",
        (false, true) => "\"REC UNREAD\"",
        (true, true) => "\"REC READ\"",
    }
}

/// A status report in text mode: `<fo>,<mr>,"<ra>",<tora>,"<scts>","<dt>",<st>`.
pub(super) fn text_fields(report: &Report) -> String {
    let tora = if report.recipient.starts_with('+') {
        145
    } else {
        129
    };
    let decoded = sms::decode_status_report(&report.pdu.hex, true).ok();
    let time = |pick: fn(&sms::StatusReport) -> &str| {
        decoded
            .as_ref()
            .map(pick)
            .map(text_time)
            .unwrap_or_default()
    };
    format!(
        "6,{},\"{}\",{tora},\"{}\",\"{}\",{}",
        report.reference,
        report.recipient,
        time(|r| &r.service_centre_time),
        time(|r| &r.discharge_time),
        report.status
    )
}

/// `"YY-MM-DD hh:mm:ss ±hh:mm"` as text mode writes times: `yy/MM/dd,hh:mm:ss±zz`, the
/// zone in quarter hours.
fn text_time(time: &str) -> String {
    let (Some(date), Some(clock), Some(zone)) = (time.get(..8), time.get(9..17), time.get(18..))
    else {
        return String::new();
    };
    let sign = zone.get(..1).unwrap_or("+");
    let hours: u32 = zone.get(1..3).and_then(|h| h.parse().ok()).unwrap_or(0);
    let minutes: u32 = zone.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(0);
    let quarters = hours * 4 + minutes / 15;
    format!("{},{clock}{sign}{quarters:02}", date.replace('-', "/"))
}

/// A service centre number a report can carry: `+` and digits, digits, or empty (the
/// SIM's own).
fn dialable(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    number.is_empty()
        || (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_times() {
        assert_eq!(
            text_time("26-11-22 05:05:41 +00:00"),
            "26/11/22,05:05:41+00"
        );
        assert_eq!(
            text_time("26-11-22 05:05:41 -02:30"),
            "26/11/22,05:05:41-10"
        );
        assert_eq!(text_time("short"), "");
    }
}
