//! The [`Session`]: one modem conversation, one command in flight. See the module doc of
//! `modem` for the states.
//!
//! Queues, in the order they are served when nothing is in flight:
//!
//! 1. `urgent`: init steps, `AT+CNMA` after a `+CDS` / `+CMT`, `AT+CMGR` / `AT+CMGD` after
//!    a `+CMTI` / `+CDSI`. Acks go first because the network waits for them.
//! 2. `sends`: `AT+CMGS`, bounded by [`ModemConfig::max_queued_sends`], served only when
//!    Ready.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::commands::{self, Command};
use super::{Busy, Event, ModemConfig, PIN_REFUSED};
use crate::proto::at::{Digester, Final, Item, Urc};
use crate::proto::sms::{self, EncodedPdu};

/// Pause between registration polls.
const REGISTER_POLL: Duration = Duration::from_secs(1);
/// Acks and reads waiting behind the command in flight; a flood beyond this is dropped
/// (the modem re-announces what it still holds).
const MAX_URGENT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Ready,
    Failed,
    Hung,
}

/// The command being answered.
struct InFlight {
    command: Command,
    deadline: Instant,
    /// Information lines received so far.
    lines: Vec<String>,
    /// `AT+CMGS` only: the prompt came and the PDU is written.
    prompted: bool,
}

/// The modem session. `Debug` shows the state and queue sizes, never bytes or the PIN.
pub struct Session {
    config: ModemConfig,
    phase: Phase,
    digester: Digester,
    in_flight: Option<InFlight>,
    urgent: VecDeque<Command>,
    sends: VecDeque<Command>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    /// Registration must succeed by then; set by the first `AT+CREG?`.
    register_by: Option<Instant>,
    /// The next registration poll, while waiting between polls.
    poll_at: Option<Instant>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("phase", &self.phase)
            .field(
                "in_flight",
                &self.in_flight.as_ref().map(|c| c.command.label()),
            )
            .field("urgent", &self.urgent.len())
            .field("sends", &self.sends.len())
            .field("transmit", &self.transmit.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that starts the init sequence: the ESC is ready in [`Session::poll_transmit`].
    pub fn new(config: ModemConfig, now: Instant) -> Session {
        let mut session = Session {
            config,
            phase: Phase::Init,
            digester: Digester::new(),
            in_flight: None,
            urgent: VecDeque::from([Command::Escape]),
            sends: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            register_by: None,
            poll_at: None,
        };
        session.start_next(now);
        session
    }

    /// Queues one PDU for `AT+CMGS`. Accepted during init too; it goes out once Ready.
    pub fn send(&mut self, tag: u64, pdu: EncodedPdu, now: Instant) -> Result<(), Busy> {
        if matches!(self.phase, Phase::Failed | Phase::Hung) {
            return Err(Busy::Down);
        }
        if self.sends.len() >= self.config.max_queued_sends {
            return Err(Busy::QueueFull);
        }
        self.sends.push_back(Command::Submit { tag, pdu });
        self.start_next(now);
        Ok(())
    }

    /// Queues `AT+CSQ` when Ready and idle: proves the modem answers and reports signal.
    pub fn keepalive(&mut self, now: Instant) {
        if self.phase == Phase::Ready
            && self.in_flight.is_none()
            && self.urgent.is_empty()
            && self.sends.is_empty()
        {
            self.urgent.push_back(Command::Signal);
            self.start_next(now);
        }
    }

    /// Digests what the modem sent; bytes of an unfinished line stay in `buf`.
    pub fn handle_input(&mut self, buf: &mut Vec<u8>, now: Instant) {
        for item in self.digester.feed(buf) {
            match item {
                Item::Urc(urc) => self.urc(urc),
                Item::Line(line) => {
                    if let Some(flight) = self.in_flight.as_mut() {
                        flight.lines.push(line);
                    }
                }
                Item::Prompt => self.prompt(now),
                Item::Final(fin) => self.final_result(fin, now),
            }
        }
        self.start_next(now);
    }

    /// Acts on deadlines that have passed: the ESC's settle time, a registration poll, a
    /// command that never answered ([`Event::Hung`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(flight) = self.in_flight.take_if(|f| f.deadline <= now) {
            if flight.command == Command::Escape {
                self.urgent.push_front(Command::Attention);
            } else {
                self.hang(&flight);
                return;
            }
        }
        if self.poll_at.is_some_and(|at| at <= now) {
            self.poll_at = None;
            self.urgent.push_back(Command::Creg);
        }
        self.start_next(now);
    }

    /// The next bytes to write, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] wants to be called; `None` when waiting for nothing.
    pub fn next_timeout(&self) -> Option<Instant> {
        let deadline = self.in_flight.as_ref().map(|f| f.deadline);
        match (deadline, self.poll_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Init finished and the modem has not hung.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Writes the next queued command if none is in flight.
    fn start_next(&mut self, now: Instant) {
        if self.in_flight.is_some() || matches!(self.phase, Phase::Failed | Phase::Hung) {
            return;
        }
        let command = match self.urgent.pop_front() {
            Some(command) => command,
            None if self.phase == Phase::Ready => match self.sends.pop_front() {
                Some(command) => command,
                None => return,
            },
            None => return,
        };
        let timeout = match command {
            Command::Escape => self.config.escape_settle,
            _ => self.config.command_timeout,
        };
        match command {
            // The PIN never reaches the digester: echo is off by now, and a stray echo
            // would only be an information line, which `AT+CPIN=` ignores.
            Command::Escape | Command::PinEnter => {}
            _ => self.digester.expect_echo(&command.label()),
        }
        if command == Command::Creg && self.register_by.is_none() {
            self.register_by = Some(now + self.config.register_deadline);
        }
        let pin = self.config.sim_pin.as_ref().map(|p| p.expose());
        self.transmit.push_back(command.bytes(pin));
        self.in_flight = Some(InFlight {
            command,
            deadline: now + timeout,
            lines: Vec::new(),
            prompted: false,
        });
    }

    fn prompt(&mut self, now: Instant) {
        let send_timeout = self.config.send_timeout;
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        let Command::Submit { pdu, .. } = &flight.command else {
            return;
        };
        if flight.prompted {
            return;
        }
        flight.prompted = true;
        flight.deadline = now + send_timeout;
        // Some modems echo the PDU back.
        self.digester.expect_echo(&pdu.hex);
        let mut bytes = pdu.hex.clone().into_bytes();
        bytes.push(0x1a);
        self.transmit.push_back(bytes);
    }

    fn urc(&mut self, urc: Urc) {
        match urc.name.as_str() {
            "+CDS" => {
                self.queue_urgent(Command::Ack);
                let report = urc.pdu.as_deref().and_then(|pdu| {
                    sms::decode_status_report(pdu, true)
                        .or_else(|_| sms::decode_status_report(pdu, false))
                        .ok()
                });
                self.events.push_back(match report {
                    Some(report) => Event::StatusReport(report),
                    None => Event::Urc(urc),
                });
            }
            "+CMT" => {
                self.queue_urgent(Command::Ack);
                let deliver = urc.pdu.as_deref().and_then(|pdu| {
                    sms::decode_deliver(pdu, true)
                        .or_else(|_| sms::decode_deliver(pdu, false))
                        .ok()
                });
                self.events.push_back(match deliver {
                    Some(deliver) => Event::Incoming(deliver),
                    None => Event::Urc(urc),
                });
            }
            "+CMTI" | "+CDSI" => match commands::storage_index(&urc.text) {
                Some(index) => {
                    self.queue_urgent(Command::Read(index));
                    self.queue_urgent(Command::Delete(index));
                }
                None => self.events.push_back(Event::Urc(urc)),
            },
            _ => self.events.push_back(Event::Urc(urc)),
        }
    }

    fn queue_urgent(&mut self, command: Command) {
        if self.urgent.len() < MAX_URGENT {
            self.urgent.push_back(command);
        }
    }

    fn final_result(&mut self, fin: Final, now: Instant) {
        let Some(flight) = self.in_flight.take() else {
            return; // A late or stray result: nothing is waiting for it.
        };
        if flight.command == Command::Escape {
            // The modem's answer to the ESC: keep settling until the deadline.
            self.in_flight = Some(flight);
            return;
        }
        let result = match fin {
            Final::Ok => Ok(()),
            other => Err(other),
        };
        self.complete(flight, result, now);
    }

    /// Moves on after `flight` ended with `result`.
    fn complete(&mut self, flight: InFlight, result: Result<(), Final>, now: Instant) {
        let InFlight { command, lines, .. } = flight;
        let label = command.label();
        let find = |prefix: &str| lines.iter().find(|l| l.starts_with(prefix));
        match (command, result) {
            (Command::Escape, _) => self.urgent.push_front(Command::Attention),
            (Command::Attention, Ok(())) => self.urgent.push_front(Command::EchoOff),
            (Command::EchoOff, Ok(())) => self.urgent.push_front(Command::ErrorCodes),
            // Verbose errors still end commands; numeric ones are only nicer to read.
            (Command::ErrorCodes, _) => self.urgent.push_front(Command::PinQuery),
            (Command::PinQuery, Ok(())) => {
                match find("+CPIN:").and_then(|l| commands::pin_state(l)) {
                    Some("READY") => self.urgent.push_front(Command::Creg),
                    Some("SIM PIN") if self.config.sim_pin.is_some() => {
                        self.urgent.push_front(Command::PinEnter);
                    }
                    Some("SIM PIN") => self.fail("the SIM wants a PIN and none is configured"),
                    Some(state) => self.fail(&format!("SIM state {state}")),
                    None => self.fail("AT+CPIN? gave no +CPIN line"),
                }
            }
            (Command::PinEnter, Ok(())) => self.urgent.push_front(Command::Creg),
            (Command::PinEnter, Err(fin)) => self.fail(&format!(
                "{PIN_REFUSED} ({}); not retried, to spare the PUK",
                describe(&fin)
            )),
            (Command::Creg, result) => {
                let stat = find("+CREG:").and_then(|l| commands::registration_stat(l, "+CREG:"));
                if result.is_ok() && stat.is_some_and(commands::is_registered) {
                    self.registered();
                } else {
                    self.urgent.push_front(Command::Cereg);
                }
            }
            (Command::Cereg, result) => {
                let stat = find("+CEREG:").and_then(|l| commands::registration_stat(l, "+CEREG:"));
                if result.is_ok() && stat.is_some_and(commands::is_registered) {
                    self.registered();
                } else if self.register_by.is_some_and(|by| now >= by) {
                    self.fail("not registered on a network before the deadline");
                } else {
                    self.poll_at = Some(now + REGISTER_POLL);
                }
            }
            // Any answer, even an error, proves the modem alive; signal is informative.
            (Command::Signal, _) => {
                if let Some(dbm) = find("+CSQ:").and_then(|l| commands::signal_dbm(l)) {
                    self.events.push_back(Event::SignalDbm(dbm));
                }
                if self.phase == Phase::Init {
                    self.urgent.push_front(Command::PduMode);
                }
            }
            (Command::PduMode, Ok(())) => self.urgent.push_front(Command::Indications),
            (Command::Indications, Ok(())) => match self.config.smsc.clone() {
                Some(number) => self.urgent.push_front(Command::ServiceCentre(number)),
                None => self.ready(),
            },
            (Command::ServiceCentre(_), Ok(())) => self.ready(),
            (Command::Submit { tag, .. }, Ok(())) => {
                self.events.push_back(
                    match find("+CMGS:").and_then(|l| commands::message_reference(l)) {
                        Some(reference) => Event::Sent { tag, reference },
                        None => Event::SendFailed {
                            tag,
                            cms: None,
                            error: "OK without a +CMGS reference".to_owned(),
                        },
                    },
                );
            }
            (Command::Submit { tag, .. }, Err(fin)) => {
                let cms = match fin {
                    Final::CmsError(n) => Some(n),
                    _ => None,
                };
                let error = describe(&fin);
                self.events.push_back(Event::SendFailed { tag, cms, error });
            }
            (Command::Read(_), Ok(())) => self.read_back(&lines),
            // An unacknowledged ack or a failed read/delete changes nothing we can act on.
            (Command::Ack | Command::Read(_) | Command::Delete(_), _) => {}
            (_, Err(fin)) => self.fail(&format!("{label}: {}", describe(&fin))),
        }
    }

    /// The PDU line after `+CMGR:`: a message or a status report.
    fn read_back(&mut self, lines: &[String]) {
        let Some(header) = lines.iter().position(|l| l.starts_with("+CMGR:")) else {
            return;
        };
        let Some(pdu) = lines.get(header + 1) else {
            return;
        };
        if let Ok(deliver) = sms::decode_deliver(pdu, true) {
            self.events.push_back(Event::Incoming(deliver));
        } else if let Ok(report) = sms::decode_status_report(pdu, true) {
            self.events.push_back(Event::StatusReport(report));
        }
    }

    fn registered(&mut self) {
        self.poll_at = None;
        self.urgent.push_front(Command::Signal);
    }

    fn ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(Event::Ready);
    }

    fn fail(&mut self, why: &str) {
        self.phase = Phase::Failed;
        self.events.push_back(Event::InitFailed(why.to_owned()));
        self.shut_down("modem init failed");
    }

    fn hang(&mut self, flight: &InFlight) {
        self.phase = Phase::Hung;
        let label = flight.command.label();
        if let Command::Submit { tag, .. } = flight.command {
            self.events.push_back(Event::SendFailed {
                tag,
                cms: None,
                error: format!("{label} timed out; it may have been sent"),
            });
        }
        self.events
            .push_back(Event::Hung(format!("{label} timed out")));
        self.shut_down("modem hung");
    }

    /// Fails every queued send and forgets everything else: the session is over.
    fn shut_down(&mut self, why: &str) {
        for command in self.sends.drain(..) {
            if let Command::Submit { tag, .. } = command {
                self.events.push_back(Event::SendFailed {
                    tag,
                    cms: None,
                    error: why.to_owned(),
                });
            }
        }
        self.urgent.clear();
        self.poll_at = None;
    }
}

/// A final result as text for an event.
fn describe(fin: &Final) -> String {
    match fin {
        Final::Ok => "OK".to_owned(),
        Final::Error => "ERROR".to_owned(),
        Final::CmsError(n) => format!("+CMS ERROR: {n}"),
        Final::CmeError(n) => format!("+CME ERROR: {n}"),
        Final::CmeErrorText(text) => format!("+CME ERROR: {text}"),
        Final::Other(line) => line.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::modem::SimPin;

    const ESCAPE_SETTLE: Duration = Duration::from_millis(500);
    use crate::proto::sms::StatusReport;

    const PIN: &str = "9317";
    /// A status report (TS 23.040 §9.2.2.3) for TP-MR 0x2A, with its SMSC part.
    const REPORT_PDU: &str = "07917283010010F5062A0B916407281553F8621122505014616211226050146100";

    /// An SMS-DELIVER from the `sms::deliver` tests: "How are you?" from +31641600986.
    const DELIVER_PDU: &str =
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

    /// The fake modem's state: what it answers is decided by [`answer`].
    struct Sim {
        echo: bool,
        pin_locked: bool,
        /// `AT+CREG?` answers "searching" this many times before "registered".
        searching: usize,
        /// Prefixed to every answer.
        garbage: &'static [u8],
        /// The answer to the ESC.
        escape_answer: &'static [u8],
        /// The answer to a written PDU; `None`: never answers (a hung modem).
        pdu_answer: Option<Vec<u8>>,
        /// Every command written, as text (the PDU without its Ctrl-Z).
        log: Vec<String>,
    }

    impl Default for Sim {
        fn default() -> Sim {
            Sim {
                echo: true,
                pin_locked: false,
                searching: 0,
                garbage: b"",
                escape_answer: b"",
                pdu_answer: Some(b"\r\n+CMGS: 42\r\n\r\nOK\r\n".to_vec()),
                log: Vec::new(),
            }
        }
    }

    /// The fake modem: the bytes it sends back for the bytes written.
    fn answer(sim: &mut Sim, written: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(written).into_owned();
        sim.log
            .push(text.trim_end_matches(['\r', '\x1a']).to_owned());
        if written == [0x1b] {
            return sim.escape_answer.to_vec();
        }
        let mut out = sim.garbage.to_vec();
        if written.last() == Some(&0x1a) {
            return match &sim.pdu_answer {
                Some(reply) => [out, reply.clone()].concat(),
                None => Vec::new(),
            };
        }
        if sim.echo {
            out.extend_from_slice(written);
        }
        let cmd = text.trim_end_matches('\r');
        let body: String = match cmd {
            "ATE0" => {
                sim.echo = false;
                "OK".into()
            }
            "AT" | "AT+CMEE=1" | "AT+CMGF=0" | "AT+CNMI=2,1,0,1,0" | "AT+CNMA" => "OK".into(),
            "AT+CPIN?" if sim.pin_locked => "+CPIN: SIM PIN\r\n\r\nOK".into(),
            "AT+CPIN?" => "+CPIN: READY\r\n\r\nOK".into(),
            "AT+CREG?" if sim.searching > 0 => {
                sim.searching -= 1;
                "+CREG: 0,2\r\n\r\nOK".into()
            }
            "AT+CREG?" => "+CREG: 0,1\r\n\r\nOK".into(),
            "AT+CEREG?" => "+CEREG: 0,4\r\n\r\nOK".into(),
            "AT+CSQ" => "+CSQ: 21,99\r\n\r\nOK".into(),
            c if c == format!("AT+CPIN=\"{PIN}\"") => {
                sim.pin_locked = false;
                "OK".into()
            }
            c if c.starts_with("AT+CSCA=\"") || c.starts_with("AT+CMGD=") => "OK".into(),
            "AT+CMGR=3" => format!("+CMGR: 0,,40\r\n{DELIVER_PDU}\r\n\r\nOK"),
            "AT+CMGR=4" => format!("+CMGR: 0,,25\r\n{REPORT_PDU}\r\n\r\nOK"),
            c if c.starts_with("AT+CMGS=") => return [out, b"\r\n> ".to_vec()].concat(),
            _ => "ERROR".into(),
        };
        out.extend_from_slice(format!("\r\n{body}\r\n").as_bytes());
        out
    }

    /// A session wired to a [`Sim`], with a hand-advanced clock.
    struct Rig {
        session: Session,
        sim: Sim,
        now: Instant,
        start: Instant,
        buf: Vec<u8>,
        events: Vec<Event>,
        /// Replies are fed in pieces of this many bytes.
        chunk: usize,
    }

    impl Rig {
        fn new(config: ModemConfig, sim: Sim) -> Rig {
            let now = Instant::now();
            Rig {
                session: Session::new(config, now),
                sim,
                now,
                start: now,
                buf: Vec::new(),
                events: Vec::new(),
                chunk: usize::MAX,
            }
        }

        /// Exchanges bytes until the session is quiet, advancing the clock to each
        /// deadline it asks for (settle, polls, and the timeouts of an unanswered command).
        fn pump(&mut self) {
            for _ in 0..10_000 {
                if let Some(bytes) = self.session.poll_transmit() {
                    let reply = answer(&mut self.sim, &bytes);
                    for piece in reply.chunks(self.chunk) {
                        self.buf.extend_from_slice(piece);
                        self.session.handle_input(&mut self.buf, self.now);
                    }
                } else if let Some(at) = self.session.next_timeout() {
                    self.now = self.now.max(at);
                    self.session.handle_timeout(self.now);
                } else {
                    break;
                }
                while let Some(event) = self.session.poll_event() {
                    self.events.push(event);
                }
            }
        }

        fn send(&mut self, tag: u64) -> Result<(), Busy> {
            let pdu = EncodedPdu {
                hex: format!("0011000B91{tag:04}"),
                tpdu_len: 23,
            };
            self.session.send(tag, pdu, self.now)
        }
    }

    fn with_pin() -> ModemConfig {
        ModemConfig {
            sim_pin: Some(SimPin::new(PIN)),
            smsc: Some("+41794999000".into()),
            ..ModemConfig::default()
        }
    }

    fn ready_rig(sim: Sim) -> Rig {
        let mut rig = Rig::new(ModemConfig::default(), sim);
        rig.pump();
        assert!(rig.session.is_ready(), "{:?}", rig.events);
        rig.events.clear();
        rig.sim.log.clear();
        rig
    }

    const INIT: &[&str] = &[
        "\x1b",
        "AT",
        "ATE0",
        "AT+CMEE=1",
        "AT+CPIN?",
        "AT+CREG?",
        "AT+CSQ",
        "AT+CMGF=0",
        "AT+CNMI=2,1,0,1,0",
    ];

    #[test]
    fn init_without_and_with_pin() {
        let table: &[(ModemConfig, bool, &[&str])] = &[
            (ModemConfig::default(), false, INIT),
            (
                with_pin(),
                true,
                &[
                    "\x1b",
                    "AT",
                    "ATE0",
                    "AT+CMEE=1",
                    "AT+CPIN?",
                    "AT+CPIN=\"9317\"",
                    "AT+CREG?",
                    "AT+CSQ",
                    "AT+CMGF=0",
                    "AT+CNMI=2,1,0,1,0",
                    "AT+CSCA=\"+41794999000\"",
                ],
            ),
            // A configured PIN is not entered when the SIM does not ask for it.
            (
                with_pin(),
                false,
                &[INIT, &["AT+CSCA=\"+41794999000\""]].concat(),
            ),
        ];
        for (config, locked, want) in table {
            let sim = Sim {
                pin_locked: *locked,
                ..Sim::default()
            };
            let mut rig = Rig::new(config.clone(), sim);
            rig.pump();
            assert_eq!(&rig.sim.log, want);
            assert_eq!(rig.events, [Event::SignalDbm(-71), Event::Ready]);
            assert!(rig.session.is_ready());
            assert_eq!(rig.session.next_timeout(), None);
            // The ESC settles for its fixed time; nothing else waited.
            assert_eq!(rig.now - rig.start, ESCAPE_SETTLE);
        }
    }

    #[test]
    fn pin_wanted_but_not_configured() {
        let sim = Sim {
            pin_locked: true,
            ..Sim::default()
        };
        let mut rig = Rig::new(ModemConfig::default(), sim);
        rig.pump();
        assert_eq!(
            rig.events,
            [Event::InitFailed(
                "the SIM wants a PIN and none is configured".into()
            )]
        );
        assert!(!rig.session.is_ready());
        assert_eq!(rig.send(1), Err(Busy::Down));
    }

    #[test]
    fn registration_is_polled_until_stat_1() {
        let sim = Sim {
            searching: 3,
            ..Sim::default()
        };
        let mut rig = Rig::new(ModemConfig::default(), sim);
        rig.pump();
        assert!(rig.session.is_ready());
        let polls: Vec<&str> = rig
            .sim
            .log
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with("AT+CREG") || c.starts_with("AT+CEREG"))
            .collect();
        let mut want = ["AT+CREG?", "AT+CEREG?"].repeat(3);
        want.push("AT+CREG?");
        assert_eq!(polls, want);
        assert_eq!(rig.now - rig.start, ESCAPE_SETTLE + REGISTER_POLL * 3);
    }

    #[test]
    fn registration_deadline_fails_init() {
        let sim = Sim {
            searching: usize::MAX,
            ..Sim::default()
        };
        let config = ModemConfig {
            register_deadline: Duration::from_secs(10),
            ..ModemConfig::default()
        };
        let mut rig = Rig::new(config, sim);
        rig.pump();
        assert_eq!(
            rig.events,
            [Event::InitFailed(
                "not registered on a network before the deadline".into()
            )]
        );
        assert!(rig.now - rig.start >= Duration::from_secs(10));
        assert!(rig.now - rig.start < Duration::from_secs(12));
    }

    #[test]
    fn send_outcomes() {
        let table: &[(&[u8], Event)] = &[
            (
                b"\r\n+CMGS: 42\r\n\r\nOK\r\n",
                Event::Sent {
                    tag: 7,
                    reference: 42,
                },
            ),
            (
                b"\r\n+CMS ERROR: 500\r\n",
                Event::SendFailed {
                    tag: 7,
                    cms: Some(500),
                    error: "+CMS ERROR: 500".into(),
                },
            ),
            (
                b"\r\nOK\r\n",
                Event::SendFailed {
                    tag: 7,
                    cms: None,
                    error: "OK without a +CMGS reference".into(),
                },
            ),
        ];
        for (reply, want) in table {
            let mut rig = ready_rig(Sim {
                pdu_answer: Some(reply.to_vec()),
                ..Sim::default()
            });
            rig.send(7).unwrap();
            rig.pump();
            assert_eq!(rig.sim.log, ["AT+CMGS=23", "0011000B910007"]);
            assert_eq!(rig.events, std::slice::from_ref(want));
            assert!(rig.session.is_ready());
        }
    }

    #[test]
    fn cds_mid_command_is_reported_and_acked_after_it() {
        let cds = format!("\r\n+CDS: 25\r\n{REPORT_PDU}\r\n\r\n+CMGS: 42\r\n\r\nOK\r\n");
        let mut rig = ready_rig(Sim {
            pdu_answer: Some(cds.into_bytes()),
            ..Sim::default()
        });
        rig.send(1).unwrap();
        rig.send(2).unwrap();
        rig.pump();
        assert_eq!(
            rig.sim.log[..5],
            [
                "AT+CMGS=23",
                "0011000B910001",
                "AT+CNMA",
                "AT+CMGS=23",
                "0011000B910002"
            ]
        );
        let report = StatusReport {
            reference: 42,
            recipient: "+46708251358".into(),
            service_centre_time: "26-11-22 05:05:41 +04:00".into(),
            discharge_time: "26-11-22 06:05:41 +04:00".into(),
            status: 0,
        };
        assert_eq!(rig.events[0], Event::StatusReport(report));
        assert_eq!(
            rig.events[1],
            Event::Sent {
                tag: 1,
                reference: 42
            }
        );
    }

    #[test]
    fn stored_message_and_report_are_read_then_deleted() {
        let mut rig = ready_rig(Sim::default());
        let mut buf = b"\r\n+CMTI: \"SM\",3\r\n+CDSI: \"SR\",4\r\n+CMTI: \"SM\"\r\n".to_vec();
        rig.session.handle_input(&mut buf, rig.now);
        rig.pump();
        assert_eq!(
            rig.sim.log,
            ["AT+CMGR=3", "AT+CMGD=3", "AT+CMGR=4", "AT+CMGD=4"]
        );
        let [
            Event::Urc(bad),
            Event::Incoming(deliver),
            Event::StatusReport(report),
        ] = rig.events.as_slice()
        else {
            panic!("{:?}", rig.events);
        };
        assert_eq!(bad.name, "+CMTI", "no index: handed over as is");
        assert_eq!(deliver.originator, "+31641600986");
        assert_eq!(deliver.text, "How are you?");
        assert_eq!(report.reference, 42);
    }

    #[test]
    fn unanswered_command_hangs_the_session() {
        let mut rig = ready_rig(Sim {
            pdu_answer: None,
            ..Sim::default()
        });
        rig.send(9).unwrap();
        rig.send(10).unwrap();
        let before = rig.now;
        rig.pump();
        assert_eq!(rig.now - before, Duration::from_secs(60));
        assert_eq!(
            rig.events,
            [
                Event::SendFailed {
                    tag: 9,
                    cms: None,
                    error: "AT+CMGS=23 timed out; it may have been sent".into()
                },
                Event::Hung("AT+CMGS=23 timed out".into()),
                Event::SendFailed {
                    tag: 10,
                    cms: None,
                    error: "modem hung".into()
                },
            ]
        );
        assert!(!rig.session.is_ready());
        assert_eq!(rig.session.next_timeout(), None);
        assert_eq!(rig.send(11), Err(Busy::Down));
    }

    #[test]
    fn init_command_timeout_is_hung_after_five_seconds() {
        let mut session = Session::new(ModemConfig::default(), Instant::now());
        let start = session.next_timeout().unwrap() - ESCAPE_SETTLE;
        assert_eq!(session.poll_transmit(), Some(vec![0x1b]));
        session.handle_timeout(start + ESCAPE_SETTLE);
        assert_eq!(session.poll_transmit(), Some(b"AT\r".to_vec()));
        let deadline = session.next_timeout().unwrap();
        assert_eq!(deadline, start + ESCAPE_SETTLE + Duration::from_secs(5));
        session.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(session.poll_event(), None);
        session.handle_timeout(deadline);
        assert_eq!(
            session.poll_event(),
            Some(Event::Hung("AT timed out".into()))
        );
    }

    #[test]
    fn garbage_before_responses_and_after_the_escape() {
        // Whole replies, then byte by byte, then in threes: the same outcome.
        for chunk in [usize::MAX, 1, 3] {
            let sim = Sim {
                pin_locked: true,
                garbage: b"\x00\xff\x1b\x7f junk~\r\n",
                escape_answer: b"\r\nOK\r\n\r\nERROR\r\n",
                ..Sim::default()
            };
            let mut rig = Rig::new(with_pin(), sim);
            rig.chunk = chunk;
            rig.pump();
            assert_eq!(rig.events, [Event::SignalDbm(-71), Event::Ready], "{chunk}");
            rig.events.clear();
            rig.send(3).unwrap();
            rig.pump();
            let sent = Event::Sent {
                tag: 3,
                reference: 42,
            };
            assert_eq!(rig.events, [sent], "{chunk}");
        }
    }

    #[test]
    fn queue_is_bounded() {
        let config = ModemConfig {
            max_queued_sends: 2,
            ..ModemConfig::default()
        };
        let mut rig = Rig::new(config, Sim::default());
        assert_eq!(rig.send(1), Ok(()));
        assert_eq!(rig.send(2), Ok(()));
        assert_eq!(rig.send(3), Err(Busy::QueueFull));
        rig.pump();
        let sent: Vec<_> = rig
            .events
            .iter()
            .filter(|e| matches!(e, Event::Sent { .. }))
            .collect();
        assert_eq!(sent.len(), 2);
    }

    #[test]
    fn keepalive_reports_signal_only_when_idle() {
        let mut rig = ready_rig(Sim::default());
        rig.session.keepalive(rig.now);
        rig.pump();
        assert_eq!(rig.sim.log, ["AT+CSQ"]);
        assert_eq!(rig.events, [Event::SignalDbm(-71)]);
        rig.sim.log.clear();
        rig.send(1).unwrap();
        rig.session.keepalive(rig.now);
        rig.pump();
        assert_eq!(rig.sim.log, ["AT+CMGS=23", "0011000B910001"]);
    }

    #[test]
    fn pin_never_shows() {
        let config = with_pin();
        assert!(!format!("{config:?}").contains(PIN));
        let sim = Sim {
            pin_locked: true,
            ..Sim::default()
        };
        let mut session = Session::new(config, Instant::now());
        let mut now = session.next_timeout().unwrap();
        let mut sim = sim;
        let mut debug = Vec::new();
        let mut events = Vec::new();
        let mut buf = Vec::new();
        session.handle_timeout(now);
        for _ in 0..100 {
            debug.push(format!("{session:?}"));
            match session.poll_transmit() {
                Some(bytes) => {
                    buf.extend(answer(&mut sim, &bytes));
                    debug.push(format!("{session:?}"));
                    session.handle_input(&mut buf, now);
                }
                None => match session.next_timeout() {
                    Some(at) => {
                        now = at;
                        session.handle_timeout(now);
                    }
                    None => break,
                },
            }
            events.extend(std::iter::from_fn(|| session.poll_event()));
        }
        assert!(session.is_ready());
        assert!(sim.log.iter().any(|c| c.contains(PIN)), "the PIN was sent");
        debug.extend(events.iter().map(|e| format!("{e:?}")));
        for text in &debug {
            assert!(!text.contains(PIN), "{text}");
        }
        // A refused PIN is reported without it, and not retried.
        let mut rig = Rig::new(
            ModemConfig {
                sim_pin: Some(SimPin::new("0000")),
                ..with_pin()
            },
            Sim {
                pin_locked: true,
                ..Sim::default()
            },
        );
        rig.pump();
        assert_eq!(
            rig.sim
                .log
                .iter()
                .filter(|c| c.starts_with("AT+CPIN="))
                .count(),
            1
        );
        let [Event::InitFailed(why)] = rig.events.as_slice() else {
            panic!("{:?}", rig.events);
        };
        assert!(!why.contains("0000") && why.contains("refused"), "{why}");
    }
}
