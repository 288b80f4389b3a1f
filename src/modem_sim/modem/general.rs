//! V.250 basics and the 3GPP TS 27.007 commands: identity, echo, error reporting, SIM
//! PIN, registration, operator, signal, character set and radio on/off.
//!
//! The identity is a Huawei E3372 LTE stick in modem mode (its `^RSSI` / `^MODE` / `^BOOT`
//! are the noise), registered on a network called `otpd-sim`.

use std::time::Instant;

use super::{Final, Modem, Settings, Sim, Step};
use crate::modem_sim::config::Pin;
use crate::modem_sim::parse::{Cmd, Op, args, number};

pub(super) const MANUFACTURER: &str = "huawei";
pub(super) const MODEL: &str = "E3372";
pub(super) const REVISION: &str = "22.200.15.00.00";
pub(super) const IMEI: &str = "866000000000017";
const IMSI: &str = "640040000000001";
const OPERATOR: &str = "otpd-sim";
/// The PUK that unblocks the SIM after three wrong PINs: `AT+CPIN="12345678","<new pin>"`.
pub const PUK: &str = "12345678";
const CHARSETS: [&str; 3] = ["IRA", "GSM", "UCS2"];

/// The verbose text of a `+CME ERROR` code (`AT+CMEE=2`), as 27.007 §9.2.1 names it.
pub(super) fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        16 => "incorrect password",
        30 => "no network service",
        _ => "unknown",
    }
}

impl Modem {
    /// The commands of this file; `None` for any other.
    pub(super) fn general(&mut self, cmd: &Cmd, now: Instant) -> Option<Step> {
        use Op::{Exec, Read, Set, Test};
        let step = match (cmd.name.as_str(), &cmd.op) {
            ("E", Exec(v)) => match *v {
                "" | "0" => {
                    self.settings.echo = self.config.faults.echo_stuck;
                    Step::Next
                }
                "1" => {
                    self.settings.echo = true;
                    Step::Next
                }
                _ => Step::Stop(Final::Error),
            },
            // Verbose results only, no quiet mode: ATV0 and ATQ1 are refused.
            ("V", Exec("1")) | ("Q", Exec("" | "0")) => Step::Next,
            ("Z" | "&F", Exec(_)) => {
                let cfun = self.settings.cfun;
                self.settings = Settings {
                    cfun,
                    ..Settings::default()
                };
                Step::Next
            }
            ("&W" | "&C" | "&D" | "&K" | "X" | "L" | "M", Exec(_)) => Step::Next,
            (s, Read) if s.starts_with('S') => {
                self.info("000");
                Step::Next
            }
            (s, Set(_)) if s.starts_with('S') => Step::Next,
            ("I", Exec(_)) => {
                self.info_block(&[
                    &format!("Manufacturer: {MANUFACTURER}"),
                    &format!("Model: {MODEL}"),
                    &format!("Revision: {REVISION}"),
                    &format!("IMEI: {IMEI}"),
                    "+GCAP: +CGSM,+DS,+ES",
                ]);
                Step::Next
            }
            ("+CGMI" | "+GMI", Exec("")) => self.answer(MANUFACTURER),
            ("+CGMM" | "+GMM", Exec("")) => self.answer(MODEL),
            ("+CGMR" | "+GMR", Exec("")) => self.answer(REVISION),
            ("+CGSN" | "+GSN", Exec("")) => self.answer(IMEI),
            ("+GCAP", Exec("")) => self.answer("+GCAP: +CGSM,+DS,+ES"),
            ("+CIMI", Exec("")) => match self.sim_error() {
                Some(code) => Step::Stop(Final::Cme(code)),
                None => self.answer(IMSI),
            },
            ("+CGMI" | "+GMI" | "+CGMM" | "+GMM" | "+CGMR" | "+GMR", Test)
            | ("+CGSN" | "+GSN" | "+CIMI" | "+GCAP" | "+CPIN", Test) => Step::Next,
            ("+CMEE", Read) => self.answer(&format!("+CMEE: {}", self.settings.cmee)),
            ("+CMEE", Test) => self.answer("+CMEE: (0-2)"),
            ("+CMEE", Set(a)) => match number(args(a).first()) {
                Some(n @ 0..=2) => {
                    self.settings.cmee = u8::try_from(n).unwrap_or(0);
                    Step::Next
                }
                _ => Step::Stop(Final::Error),
            },
            ("+CPIN", Read) => {
                let state = match self.sim {
                    Sim::Ready => "READY",
                    Sim::Pin { .. } => "SIM PIN",
                    Sim::Puk => "SIM PUK",
                };
                self.answer(&format!("+CPIN: {state}"))
            }
            ("+CPIN", Set(a)) => self.enter_pin(&args(a), now),
            ("+CREG" | "+CGREG", Read) => {
                let line = self.registration("+CREG", self.settings.creg, now);
                self.answer(&line.replacen("+CREG", &cmd.name, 1))
            }
            ("+CEREG", Read) => {
                let line = self.registration("+CEREG", self.settings.cereg, now);
                self.answer(&line)
            }
            ("+CREG" | "+CGREG" | "+CEREG", Test) => self.answer(&format!("{}: (0-2)", cmd.name)),
            ("+CREG" | "+CGREG" | "+CEREG", Set(a)) => match number(args(a).first()) {
                Some(n @ 0..=2) => {
                    let n = u8::try_from(n).unwrap_or(0);
                    match cmd.name.as_str() {
                        "+CEREG" => self.settings.cereg = n,
                        _ => self.settings.creg = n,
                    }
                    Step::Next
                }
                _ => Step::Stop(Final::Error),
            },
            ("+COPS", Read) if self.registered(now) => {
                self.answer(&format!("+COPS: 0,0,\"{OPERATOR}\",7"))
            }
            ("+COPS", Read) => self.answer("+COPS: 0"),
            ("+COPS", Test) => self.answer(&format!(
                "+COPS: (2,\"{OPERATOR}\",\"{OPERATOR}\",\"64004\",7),,(0,1,2,3,4),(0,1,2)"
            )),
            ("+COPS", Set(_)) => Step::Next,
            ("+CSQ", Exec("")) if self.registered(now) => self.answer("+CSQ: 21,99"),
            ("+CSQ", Exec("")) => self.answer("+CSQ: 99,99"),
            ("+CSQ", Test) => self.answer("+CSQ: (0-31,99),(0-7,99)"),
            ("+CSCS", Read) => self.answer(&format!("+CSCS: \"{}\"", self.settings.cscs)),
            ("+CSCS", Test) => self.answer("+CSCS: (\"IRA\",\"GSM\",\"UCS2\")"),
            ("+CSCS", Set(a)) => {
                let wanted = args(a).first().map(|s| s.to_ascii_uppercase());
                match CHARSETS.iter().find(|c| Some(**c) == wanted.as_deref()) {
                    Some(charset) => {
                        self.settings.cscs = charset;
                        Step::Next
                    }
                    None => Step::Stop(Final::Cme(4)),
                }
            }
            ("+CFUN", Read) => self.answer(&format!("+CFUN: {}", self.settings.cfun)),
            ("+CFUN", Test) => self.answer("+CFUN: (0,1,4),(0-1)"),
            ("+CFUN", Set(a)) => match number(args(a).first()) {
                Some(n @ (0 | 1 | 4)) => {
                    let n = u8::try_from(n).unwrap_or(1);
                    if n != self.settings.cfun {
                        self.settings.cfun = n;
                        self.start_registration(now);
                    }
                    Step::Next
                }
                _ => Step::Stop(Final::Cme(4)),
            },
            ("^CURC", Read) => self.answer(&format!("^CURC: {}", u8::from(self.settings.curc))),
            ("^CURC", Test) => self.answer("^CURC: (0-1)"),
            ("^CURC", Set(a)) => match number(args(a).first()) {
                Some(n @ 0..=1) => {
                    self.settings.curc = n == 1;
                    Step::Next
                }
                _ => Step::Stop(Final::Error),
            },
            // Huawei: which port gets the URCs (0 modem, 1 the PC UI port). One port here.
            ("^PORTSEL", Read) => self.answer("^PORTSEL: 0"),
            ("^PORTSEL", Test) => self.answer("^PORTSEL: (0-1)"),
            ("^PORTSEL", Set(a)) => match number(args(a).first()) {
                Some(0..=1) => Step::Next,
                _ => Step::Stop(Final::Error),
            },
            // No voice or data calls on this modem.
            ("D" | "A" | "H", _) => Step::Stop(Final::Error),
            _ => return None,
        };
        Some(step)
    }

    /// The `+CME ERROR` a command that needs the SIM gets while it is locked.
    pub(super) fn sim_error(&self) -> Option<u16> {
        match self.sim {
            Sim::Ready => None,
            Sim::Pin { .. } => Some(11),
            Sim::Puk => Some(12),
        }
    }

    /// `+CREG: <n>,<stat>` (with location when n is 2 and registered): stat 1 when
    /// registered, 2 while searching, 0 with the SIM locked or the radio off.
    fn registration(&self, name: &str, n: u8, now: Instant) -> String {
        let stat = if self.registered(now) {
            1
        } else if self.registered_at.is_some() {
            2
        } else {
            0
        };
        if n == 2 && stat == 1 {
            format!("{name}: {n},{stat},\"00C3\",\"0010\"")
        } else {
            format!("{name}: {n},{stat}")
        }
    }

    /// The URCs of a registration that just completed, as `AT+CREG=` /
    /// `AT+CEREG=` asked for them.
    pub(super) fn announce_registration(&mut self) {
        for (name, n) in [
            ("+CREG", self.settings.creg),
            ("+CEREG", self.settings.cereg),
        ] {
            let line = match n {
                1 => format!("\r\n{name}: 1\r\n"),
                2 => format!("\r\n{name}: 1,\"00C3\",\"0010\"\r\n"),
                _ => continue,
            };
            self.urcs.push_back(line.into_bytes());
        }
    }

    /// `AT+CPIN="<pin>"`, or `AT+CPIN="<puk>","<new pin>"` once blocked.
    fn enter_pin(&mut self, given: &[&str], now: Instant) -> Step {
        match (self.sim, given) {
            (Sim::Ready, _) => Step::Stop(Final::Cme(3)),
            (Sim::Pin { tries_left }, [pin]) => {
                if self.config.sim_pin.as_ref().is_some_and(|p| p.matches(pin)) {
                    self.unlocked(now);
                    return Step::Next;
                }
                let tries_left = tries_left.saturating_sub(1);
                self.sim = match tries_left {
                    0 => Sim::Puk,
                    _ => Sim::Pin { tries_left },
                };
                self.events
                    .push_back(super::Event::PinRejected { tries_left });
                Step::Stop(Final::Cme(16))
            }
            (Sim::Puk, [puk, new_pin]) if *puk == PUK && !new_pin.is_empty() => {
                self.config.sim_pin = Some(Pin::new(*new_pin));
                self.unlocked(now);
                Step::Next
            }
            (Sim::Puk, [_, _]) => Step::Stop(Final::Cme(16)),
            (Sim::Puk, _) => Step::Stop(Final::Cme(12)),
            (Sim::Pin { .. }, _) => Step::Stop(Final::Cme(4)),
        }
    }

    fn unlocked(&mut self, now: Instant) {
        self.sim = Sim::Ready;
        self.start_registration(now);
    }
}
