//! The [`Modem`]: the DCE side of an AT conversation, sans-IO. Bytes from the DTE and
//! `now` in; bytes for the DTE, delivered messages and [`Event`]s out. See the module doc
//! of `modem_sim` for its states.
//!
//! Here: the state, the timers, unsolicited output and the shape of responses. The
//! children add to `impl Modem`: `line.rs` reads command lines, `general.rs` answers V.250
//! and 27.007 commands, `sms.rs` the 27.005 ones, `send.rs` does the rest of `AT+CMGS`
//! (the PDU after the prompt, the network, the report that comes back).
//!
//! Output is collected in one buffer that [`Modem::poll_output`] hands over whole, so a
//! command typed one byte at a time (Gammu does) costs no allocation per byte.
//!
//! Unsolicited results (reports, registration, noise) wait while the link is reserved:
//! while a command line is being typed, a PDU is being entered after `> `, or a command
//! is executing. That is `AT+CNMI` mode 2 ("buffer while the link is reserved, flush
//! after"), and it keeps them out of the prompt exchange. Noise may also be put between
//! a response's information lines and its final result, as real sticks sometimes do.

mod general;
mod line;
mod send;
mod sms;

use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::time::{Duration, Instant, SystemTime};

use super::config::Config;
use super::noise::{self, Rng};
use super::store::{Reassembly, Storage};
use crate::proto::sms::DecodedSubmit;

/// Wrong PINs before the SIM wants its PUK.
const PIN_TRIES: u8 = 3;

/// A message the "network" delivered: what the recipient's handset shows. Concatenated
/// parts are joined. `Debug` shows the recipient and the length of the text, not the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivered {
    pub recipient: String,
    pub text: String,
}

impl fmt::Debug for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivered")
            .field("recipient", &self.recipient)
            .field(
                "text",
                &format_args!("<{} chars>", self.text.chars().count()),
            )
            .finish()
    }
}

/// What happened inside the modem, for logs and tests; never a message text or the PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A PDU went to the network with our TP-MR; `part` is (seq, total) when concatenated.
    Sent {
        reference: u8,
        recipient: String,
        part: Option<(u8, u8)>,
    },
    /// `AT+CMGS` ended with `+CMS ERROR: <cms>`.
    SendFailed { cms: u16 },
    /// A status report went out as `+CDS`.
    ReportSent { reference: u8 },
    /// A status report was stored (announced with `+CDSI` when `announced`).
    ReportStored {
        reference: u8,
        index: u32,
        announced: bool,
    },
    /// A report that was asked for will never come: the drop fault, a full memory, or a
    /// recipient that does not fit a report.
    ReportDropped { reference: u8 },
    /// `AT+CPIN` with a wrong PIN.
    PinRejected { tries_left: u8 },
    /// The hang fault: nothing is answered for this long.
    Hung { duration: Duration },
    /// The hang is over.
    Recovered,
    /// The vanish fault: the device should disappear for this long. The modem answers
    /// nothing until [`Modem::power_cycle`].
    Vanish { duration: Duration },
}

/// A final result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    Ok,
    Error,
    /// `+CME ERROR` (27.007), shown as `AT+CMEE` says.
    Cme(u16),
    /// `+CMS ERROR` (27.005), always numeric.
    Cms(u16),
}

/// What a command leaves the rest of its line to do.
enum Step {
    Next,
    Stop(Final),
    /// `AT+CMGS` prompted: the rest of the line is not executed.
    Prompt,
}

/// The volatile settings: what `ATZ` and a power cycle reset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    echo: bool,
    cmee: u8,
    /// 0: PDU mode, 1: text mode.
    cmgf: u8,
    cscs: &'static str,
    /// `<mode>,<mt>,<bm>,<ds>,<bfr>`.
    cnmi: [u8; 5],
    creg: u8,
    cereg: u8,
    cfun: u8,
    /// The first octet text mode submits with (`AT+CSMP`); 0x20 asks for a report.
    csmp_fo: u8,
    memories: [&'static str; 3],
    /// Huawei's `AT^CURC`: 0 silences the periodic `^` reports (`^RSSI`, `^MODE`,
    /// `^BOOT`) of the noise fault, as on the real stick; `RING`, `+CREG` and garbage stay.
    curc: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            echo: true,
            cmee: 0,
            cmgf: 0,
            cscs: "IRA",
            cnmi: [0; 5],
            creg: 0,
            cereg: 0,
            cfun: 1,
            csmp_fo: 17,
            memories: ["SM"; 3],
            curc: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    Ready,
    Pin { tries_left: u8 },
    Puk,
}

/// What the bytes from the DTE are being read as.
enum Entry {
    /// A command line.
    Line { buf: Vec<u8>, overflow: bool },
    /// The PDU after `AT+CMGS=<len>` and `> `, up to Ctrl-Z.
    Pdu {
        len: usize,
        hex: Vec<u8>,
        overflow: bool,
    },
    /// Text-mode `AT+CMGS="<da>"`: the text, up to Ctrl-Z.
    Text { destination: String, text: Vec<u8> },
}

impl Entry {
    fn line() -> Entry {
        Entry::Line {
            buf: Vec::new(),
            overflow: false,
        }
    }
}

/// A send the network is still working on (the send delay).
struct Busy {
    until: Instant,
    outcome: Result<(u8, DecodedSubmit), u16>,
}

/// A status report the network will send.
struct DueReport {
    at: Instant,
    reference: u8,
    recipient: String,
    submitted: SystemTime,
}

/// The simulated modem. `Debug` shows its state, never a message text or the PIN.
pub struct Modem {
    config: Config,
    /// The `now` of [`Modem::new`], against which `config.wall_clock` is set.
    started: Instant,
    rng: Rng,
    settings: Settings,
    sim: Sim,
    /// The service centre in the SIM; `AT+CSCA=` changes it, a power cycle does not.
    smsc: String,
    /// When registration completes; `None` while the SIM is locked or the radio off.
    registered_at: Option<Instant>,
    /// Whether the registration URC for `registered_at` has been considered.
    announced: bool,
    entry: Entry,
    /// Input that arrived while a send was executing, read when it ends.
    backlog: Vec<u8>,
    busy: Option<Busy>,
    out: Vec<u8>,
    /// Unsolicited results waiting for the link to be free.
    urcs: VecDeque<Vec<u8>>,
    /// A noise line waiting to go into the next response.
    noise: Option<Vec<u8>>,
    noise_at: Option<Instant>,
    /// The TP-MR of the next message (real modems number them, whatever the PDU says).
    next_reference: u8,
    /// PDUs that reached the network side of `AT+CMGS`: what the fault counts count.
    sends: u32,
    /// Reports asked for, for the drop fault.
    reports_asked: u32,
    /// Reports the network will send, in due order.
    reports: VecDeque<DueReport>,
    storage: Storage,
    reassembly: Reassembly,
    /// `+CDS` sent and not yet acknowledged with `AT+CNMA`.
    unacked: u32,
    delivered: VecDeque<Delivered>,
    events: VecDeque<Event>,
    hung_until: Option<Instant>,
    /// Vanished: deaf and mute until [`Modem::power_cycle`].
    gone: bool,
}

impl fmt::Debug for Modem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry = match &self.entry {
            Entry::Line { buf, .. } => format!("line ({} bytes)", buf.len()),
            Entry::Pdu { len, hex, .. } => format!("pdu ({len} octets, {} typed)", hex.len()),
            Entry::Text { text, .. } => format!("text ({} bytes)", text.len()),
        };
        f.debug_struct("Modem")
            .field("config", &self.config)
            .field("settings", &self.settings)
            .field("sim", &self.sim)
            .field("registered_at", &self.registered_at)
            .field("entry", &entry)
            .field("busy", &self.busy.is_some())
            .field("sends", &self.sends)
            .field("next_reference", &self.next_reference)
            .field("reports_due", &self.reports.len())
            .field("stored", &self.storage.used())
            .field("reassembly", &self.reassembly)
            .field("delivered", &self.delivered.len())
            .field("hung_until", &self.hung_until)
            .field("gone", &self.gone)
            .finish_non_exhaustive()
    }
}

impl Modem {
    /// A modem just powered up at `now`: echo on, PDU mode, SIM locked if a PIN is set.
    pub fn new(config: Config, now: Instant) -> Modem {
        let mut modem = Modem {
            rng: Rng::new(config.seed),
            smsc: config.smsc.clone(),
            started: now,
            settings: Settings::default(),
            sim: Sim::Ready,
            registered_at: None,
            announced: false,
            entry: Entry::line(),
            backlog: Vec::new(),
            busy: None,
            out: Vec::new(),
            urcs: VecDeque::new(),
            noise: None,
            noise_at: None,
            next_reference: 0,
            sends: 0,
            reports_asked: 0,
            reports: VecDeque::new(),
            storage: Storage::default(),
            reassembly: Reassembly::default(),
            unacked: 0,
            delivered: VecDeque::new(),
            events: VecDeque::new(),
            hung_until: None,
            gone: false,
            config,
        };
        modem.boot(now);
        modem
    }

    /// Power off and on, as after the device vanished: settings, SIM lock, registration
    /// and input start over. Stored reports, reports the network still owes and the
    /// message counter survive (they live on the SIM and in the network).
    pub fn power_cycle(&mut self, now: Instant) {
        self.boot(now);
    }

    fn boot(&mut self, now: Instant) {
        self.settings = Settings::default();
        self.sim = match (&self.config.sim_pin, self.sim) {
            (_, Sim::Puk) => Sim::Puk,
            (Some(_), _) => Sim::Pin {
                tries_left: PIN_TRIES,
            },
            (None, _) => Sim::Ready,
        };
        self.start_registration(now);
        self.entry = Entry::line();
        self.backlog.clear();
        self.busy = None;
        self.out.clear();
        self.urcs.clear();
        self.noise = None;
        self.noise_at = self
            .config
            .faults
            .noise_every
            .map(|every| after(now, every));
        self.unacked = 0;
        self.hung_until = None;
        self.gone = false;
    }

    /// Registration starts over: at `now + register_after` when the SIM is unlocked and
    /// the radio on, never otherwise.
    fn start_registration(&mut self, now: Instant) {
        self.registered_at = (self.sim == Sim::Ready && self.settings.cfun == 1)
            .then(|| after(now, self.config.register_after));
        self.announced = false;
    }

    fn registered(&self, now: Instant) -> bool {
        self.registered_at.is_some_and(|at| at <= now)
    }

    /// Bytes from the DTE.
    pub fn input(&mut self, bytes: &[u8], now: Instant) {
        self.handle_timeout(now);
        if self.gone || self.hung_until.is_some() {
            return; // A hung or vanished modem loses what it is sent.
        }
        if self.busy.is_some() {
            self.keep_for_later(bytes);
            return;
        }
        self.feed(bytes, now);
        // What the input made due at once (a send without delay, its report) goes now.
        self.handle_timeout(now);
    }

    /// The next bytes for the DTE: everything pending, in one piece.
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| mem::take(&mut self.out))
    }

    /// The next message the network delivered to a handset.
    pub fn poll_delivered(&mut self) -> Option<Delivered> {
        self.delivered.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Modem::handle_timeout`] has something to do; `None` while it waits for
    /// input only (or has vanished).
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.gone {
            return None;
        }
        if let Some(until) = self.hung_until {
            return Some(until);
        }
        let registration = self.registered_at.filter(|_| !self.announced);
        // The network hands reports over only to a registered modem.
        let report = self
            .reports
            .front()
            .zip(self.registered_at)
            .map(|(report, registered)| report.at.max(registered));
        [
            self.busy.as_ref().map(|b| b.until),
            self.noise_at,
            registration,
            report,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on everything due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.gone {
            return;
        }
        if let Some(until) = self.hung_until {
            if until > now {
                return;
            }
            self.hung_until = None;
            self.entry = Entry::line();
            self.events.push_back(Event::Recovered);
        }
        if self.busy.as_ref().is_some_and(|b| b.until <= now) {
            self.finish_send(now);
            if self.gone || self.hung_until.is_some() {
                return;
            }
        }
        if self
            .registered_at
            .is_some_and(|at| !self.announced && at <= now)
        {
            self.announced = true;
            self.announce_registration();
        }
        while self.registered(now) && self.reports.front().is_some_and(|r| r.at <= now) {
            if let Some(report) = self.reports.pop_front() {
                self.report_due(report, now);
            }
        }
        if let Some(every) = self.config.faults.noise_every
            && self.noise_at.is_some_and(|at| at <= now)
        {
            self.noise_at = Some(after(now, every));
            self.make_noise();
        }
        self.flush_urcs();
    }

    /// The link is free for unsolicited output: no line half typed, no PDU being entered,
    /// no command executing.
    fn link_free(&self) -> bool {
        self.busy.is_none()
            && self.hung_until.is_none()
            && !self.gone
            && matches!(&self.entry, Entry::Line { buf, .. } if buf.is_empty())
    }

    fn flush_urcs(&mut self) {
        if self.link_free() {
            for urc in self.urcs.drain(..) {
                self.out.extend(urc);
            }
        }
    }

    fn make_noise(&mut self) {
        let line = noise::pick(&mut self.rng);
        if !self.settings.curc && line.starts_with(b"\r\n^") {
            return;
        }
        // A line already waiting for a response goes out now, if it can.
        if let Some(waiting) = self.noise.take() {
            if self.link_free() {
                self.out.extend(waiting);
            } else {
                self.noise = Some(waiting);
                return;
            }
        }
        // One time in three, or whenever the link is reserved, it waits to be put into
        // the next response.
        if self.link_free() && self.rng.below(3) != 0 {
            self.out.extend(line);
        } else {
            self.noise = Some(line);
        }
    }

    /// One information line of a response.
    fn info(&mut self, line: &str) {
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// One information line, and on to the next command.
    fn answer(&mut self, line: &str) -> Step {
        self.info(line);
        Step::Next
    }

    /// Several lines as one block, as `ATI` prints them.
    fn info_block(&mut self, lines: &[&str]) {
        self.out.extend_from_slice(b"\r\n");
        for line in lines {
            self.out.extend_from_slice(line.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
    }

    /// Ends the response that started at `start` in `out`. A noise line waiting is put
    /// before the final result when the response has information lines, after it if not.
    fn final_result(&mut self, start: usize, result: Final) {
        let at = self.out.len();
        let text = match result {
            Final::Ok => "OK".to_owned(),
            Final::Error => "ERROR".to_owned(),
            Final::Cms(code) => format!("+CMS ERROR: {code}"),
            Final::Cme(code) => match self.settings.cmee {
                0 => "ERROR".to_owned(),
                1 => format!("+CME ERROR: {code}"),
                _ => format!("+CME ERROR: {}", general::cme_text(code)),
            },
        };
        self.info(&text);
        if let Some(noise) = self.noise.take() {
            if at > start {
                self.out.splice(at..at, noise);
            } else {
                self.out.extend(noise);
            }
        }
    }

    /// The wall-clock time at `now`.
    fn wall(&self, now: Instant) -> SystemTime {
        let elapsed = now.saturating_duration_since(self.started);
        self.config
            .wall_clock
            .checked_add(elapsed)
            .unwrap_or(self.config.wall_clock)
    }
}

/// `now + delay`, for a delay of any size: one too long for the clock is taken as about
/// a century, which no test or demo waits out.
pub(super) fn after(now: Instant, delay: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    now.checked_add(delay.min(CENTURY))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_debug_hides_the_text() {
        let d = Delivered {
            recipient: "+255712345678".into(),
            text: "Your code is 123456".into(),
        };
        let shown = format!("{d:?}");
        assert!(shown.contains("+255712345678") && shown.contains("<19 chars>"));
        assert!(!shown.contains("123456\""));
        assert!(!shown.contains("Your code"));
    }
}
