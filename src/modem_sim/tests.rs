//! The simulated modem against a scripted DTE, with a hand-advanced clock: command
//! parsing, the answers drivers rely on, sending, reports, memory, SIM PIN. The faults
//! are in `fault_tests.rs`; otpd's own driver session runs against it in
//! `driver_tests.rs`.

use std::time::{Duration, Instant};

use super::{Config, Delivered, Event, Modem, Pin};
use crate::proto::sms::{EncodedPdu, Submit, decode_status_report, encode_submit};

/// A DTE that types into a [`Modem`] and reads what comes back.
pub(super) struct Dte {
    pub modem: Modem,
    pub now: Instant,
}

impl Dte {
    pub fn new(config: Config) -> Dte {
        let now = Instant::now();
        Dte {
            modem: Modem::new(config, now),
            now,
        }
    }

    /// A modem with echo off, as drivers leave it.
    pub fn quiet(config: Config) -> Dte {
        let mut dte = Dte::new(config);
        assert_eq!(dte.cmd("ATE0"), "ATE0\r\r\nOK\r\n");
        dte
    }

    /// Writes `bytes` at once; returns everything the modem said, as (lossy) text.
    pub fn send(&mut self, bytes: &[u8]) -> String {
        self.modem.input(bytes, self.now);
        self.output()
    }

    /// Writes `bytes` one at a time.
    pub fn send_bytewise(&mut self, bytes: &[u8]) -> String {
        let mut out = String::new();
        for b in bytes {
            out.push_str(&self.send(std::slice::from_ref(b)));
        }
        out
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r").as_bytes())
    }

    pub fn output(&mut self) -> String {
        let mut out = Vec::new();
        while let Some(bytes) = self.modem.poll_output() {
            out.extend(bytes);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Moves the clock `by` forward, firing every timer on the way at its own time.
    pub fn advance(&mut self, by: Duration) -> String {
        let target = self.now + by;
        for _ in 0..100_000 {
            match self.modem.next_timeout() {
                Some(at) if at <= target => {
                    assert!(at >= self.now, "a timer in the past: {:?}", self.now - at);
                    self.now = at;
                    self.modem.handle_timeout(at);
                }
                _ => {
                    self.now = target;
                    return self.output();
                }
            }
        }
        panic!("the timers never settle");
    }

    /// `AT+CMGS` with `pdu`, up to the prompt; then the PDU and Ctrl-Z. Returns what
    /// came after the PDU.
    pub fn submit(&mut self, pdu: &EncodedPdu) -> String {
        let prompt = self.cmd(&format!("AT+CMGS={}", pdu.tpdu_len));
        assert!(prompt.ends_with("\r\n> "), "{prompt:?}");
        self.send(format!("{}\x1a", pdu.hex).as_bytes())
    }

    pub fn delivered(&mut self) -> Vec<Delivered> {
        std::iter::from_fn(|| self.modem.poll_delivered()).collect()
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.modem.poll_event()).collect()
    }
}

pub(super) fn pdus(destination: &str, text: &str, status_report: bool) -> Vec<EncodedPdu> {
    encode_submit(&Submit {
        destination,
        text,
        reference: 77,
        status_report,
        validity: Some(Duration::from_secs(300)),
        concat_reference: 9,
    })
}

pub(super) fn one_pdu(text: &str, status_report: bool) -> EncodedPdu {
    pdus("+255712345678", text, status_report).remove(0)
}

#[test]
fn echo_is_on_at_power_up_until_ate0() {
    let mut dte = Dte::new(Config::default());
    assert_eq!(dte.cmd("AT"), "AT\r\r\nOK\r\n");
    assert_eq!(dte.cmd("ATE0"), "ATE0\r\r\nOK\r\n");
    assert_eq!(dte.cmd("AT"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("ATE1"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("at"), "at\r\r\nOK\r\n");
    assert_eq!(dte.cmd("ATZ"), "ATZ\r\r\nOK\r\n");
}

#[test]
fn line_ends_case_and_byte_at_a_time() {
    let script: &[u8] = b"at+csq\rAT+CSQ\r\nAT+CGMI\nAt+cgmm\r";
    let whole = Dte::quiet(Config::default()).send(script);
    let bytewise = Dte::quiet(Config::default()).send_bytewise(script);
    assert_eq!(whole, bytewise);
    assert_eq!(
        whole,
        "\r\n+CSQ: 21,99\r\n\r\nOK\r\n\r\n+CSQ: 21,99\r\n\r\nOK\r\n\
         \r\nhuawei\r\n\r\nOK\r\n\r\nE3372\r\n\r\nOK\r\n"
    );
}

#[test]
fn garbage_empty_and_overlong_lines() {
    let mut dte = Dte::quiet(Config::default());
    assert_eq!(dte.cmd("hello"), "\r\nERROR\r\n");
    assert_eq!(dte.send(b"\xff\xfe\x00AT\r"), "\r\nERROR\r\n");
    assert_eq!(dte.send(b"\r\n\r  \r"), "", "empty lines are ignored");
    assert_eq!(dte.cmd("AT+NOSUCH"), "\r\nERROR\r\n");
    assert_eq!(dte.cmd("AT+CMGF=7"), "\r\nERROR\r\n");
    let long = format!("AT{}", "X".repeat(5000));
    assert_eq!(dte.cmd(&long), "\r\nERROR\r\n");
    assert_eq!(dte.cmd("AT"), "\r\nOK\r\n");
    // Backspace edits the line.
    assert_eq!(dte.send(b"AT+CSQX\x08\r"), "\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
}

#[test]
fn escape_abandons_a_half_typed_line() {
    let mut dte = Dte::quiet(Config::default());
    assert_eq!(dte.send(b"AT+CMGF=\x1bAT\r"), "\r\nOK\r\n");
    assert_eq!(dte.send(b"\x1b\r"), "", "Gammu's ESC CR says nothing");
    let mut echoing = Dte::new(Config::default());
    assert_eq!(echoing.send(b"AT+C\x1bAT\r"), "AT+CAT\r\r\nOK\r\n");
}

#[test]
fn chained_commands_stop_at_the_first_error() {
    let mut dte = Dte::quiet(Config::default());
    assert_eq!(
        dte.cmd("AT+CMGF=0;+CNMI=2,1,0,1,0;+CNMI?"),
        "\r\n+CNMI: 2,1,0,1,0\r\n\r\nOK\r\n"
    );
    assert_eq!(dte.cmd("AT+CMGF=1;+BAD;+CMGF=0"), "\r\nERROR\r\n");
    assert_eq!(dte.cmd("AT+CMGF?"), "\r\n+CMGF: 1\r\n\r\nOK\r\n");
}

#[test]
fn identity_and_status_queries() {
    let mut dte = Dte::quiet(Config::default());
    let table: &[(&str, &str)] = &[
        ("AT+CGMI", "\r\nhuawei\r\n\r\nOK\r\n"),
        ("AT+CGMM", "\r\nE3372\r\n\r\nOK\r\n"),
        ("AT+CGMR", "\r\n22.200.15.00.00\r\n\r\nOK\r\n"),
        ("AT+CGSN", "\r\n866000000000017\r\n\r\nOK\r\n"),
        ("AT+CIMI", "\r\n640040000000001\r\n\r\nOK\r\n"),
        ("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CEREG?", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+COPS?", "\r\n+COPS: 0,0,\"otpd-sim\",7\r\n\r\nOK\r\n"),
        ("AT+CSCA?", "\r\n+CSCA: \"+255754000000\",145\r\n\r\nOK\r\n"),
        ("AT+CSCS=\"UCS2\"", "\r\nOK\r\n"),
        ("AT+CSCS?", "\r\n+CSCS: \"UCS2\"\r\n\r\nOK\r\n"),
        ("AT+CSCS=\"KOI8\"", "\r\nERROR\r\n"),
        (
            "AT+CPMS?",
            "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n",
        ),
        (
            "AT+CPMS=\"SR\",\"ME\"",
            "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n",
        ),
        ("AT+CPMS=\"XX\"", "\r\n+CMS ERROR: 302\r\n"),
        ("AT+CFUN?", "\r\n+CFUN: 1\r\n\r\nOK\r\n"),
        ("AT^CURC=0", "\r\nOK\r\n"),
        ("AT^PORTSEL=1", "\r\nOK\r\n"),
        ("AT+CSCA=\"+41794999000\"", "\r\nOK\r\n"),
        ("AT+CSCA?", "\r\n+CSCA: \"+41794999000\",145\r\n\r\nOK\r\n"),
        ("AT+CSCA=\"not\"", "\r\n+CMS ERROR: 302\r\n"),
        ("ATD123;", "\r\nERROR\r\n"),
    ];
    for (command, want) in table {
        assert_eq!(dte.cmd(command), *want, "{command}");
    }
    let ati = dte.cmd("ATI");
    assert!(
        ati.starts_with("\r\nManufacturer: huawei\r\nModel: E3372\r\n"),
        "{ati}"
    );
    assert!(ati.ends_with("+GCAP: +CGSM,+DS,+ES\r\n\r\nOK\r\n"), "{ati}");
}

#[test]
fn cme_errors_follow_cmee() {
    let config = Config {
        sim_pin: Some(Pin::new("1234")),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    assert_eq!(dte.cmd("AT+CIMI"), "\r\nERROR\r\n", "CMEE=0: plain ERROR");
    assert_eq!(dte.cmd("AT+CMEE=1"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CIMI"), "\r\n+CME ERROR: 11\r\n");
    assert_eq!(dte.cmd("AT+CMEE=2"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CIMI"), "\r\n+CME ERROR: SIM PIN required\r\n");
    assert_eq!(dte.cmd("AT+CMEE?"), "\r\n+CMEE: 2\r\n\r\nOK\r\n");
    // +CMS ERROR is numeric whatever CMEE says.
    assert_eq!(dte.cmd("AT+CMGR=1"), "\r\n+CMS ERROR: 311\r\n");
}

#[test]
fn wrong_pins_then_puk() {
    let config = Config {
        sim_pin: Some(Pin::new("1234")),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    dte.cmd("AT+CMEE=1");
    assert_eq!(dte.cmd("AT+CPIN?"), "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    for tries_left in [2, 1, 0] {
        assert_eq!(dte.cmd("AT+CPIN=\"0000\""), "\r\n+CME ERROR: 16\r\n");
        assert_eq!(dte.events(), [Event::PinRejected { tries_left }]);
    }
    assert_eq!(dte.cmd("AT+CPIN?"), "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CPIN=\"1234\""), "\r\n+CME ERROR: 12\r\n");
    assert_eq!(
        dte.cmd("AT+CPIN=\"87654321\",\"4321\""),
        "\r\n+CME ERROR: 16\r\n"
    );
    assert_eq!(dte.cmd("AT+CPIN=\"12345678\",\"4321\""), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CPIN?"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CPIN=\"4321\""), "\r\n+CME ERROR: 3\r\n");
    // The new PIN is asked for after a power cycle.
    dte.modem.power_cycle(dte.now);
    dte.cmd("ATE0");
    assert_eq!(dte.cmd("AT+CPIN?"), "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CPIN=\"4321\""), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn registration_takes_its_time_and_is_announced() {
    let config = Config {
        register_after: Duration::from_secs(5),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    assert_eq!(dte.cmd("AT+CREG=1;+CEREG=2"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 1,2\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CSQ"), "\r\n+CSQ: 99,99\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+COPS?"), "\r\n+COPS: 0\r\n\r\nOK\r\n");
    assert_eq!(dte.submit(&one_pdu("x", false)), "\r\n+CMS ERROR: 331\r\n");
    assert_eq!(dte.advance(Duration::from_millis(4999)), "");
    assert_eq!(
        dte.advance(Duration::from_millis(1)),
        "\r\n+CREG: 1\r\n\r\n+CEREG: 1,\"00C3\",\"0010\"\r\n"
    );
    assert_eq!(
        dte.cmd("AT+CEREG?"),
        "\r\n+CEREG: 2,1,\"00C3\",\"0010\"\r\n\r\nOK\r\n"
    );
    assert_eq!(dte.cmd("AT+CFUN=0"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 1,0\r\n\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CFUN=1"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 1,2\r\n\r\nOK\r\n");
}

#[test]
fn a_message_is_sent_with_the_modems_own_reference() {
    let mut dte = Dte::quiet(Config::default());
    for reference in 0..3 {
        let answer = dte.submit(&one_pdu("Your code is 123456", false));
        assert_eq!(answer, format!("\r\n+CMGS: {reference}\r\n\r\nOK\r\n"));
        assert_eq!(
            dte.events(),
            [Event::Sent {
                reference,
                recipient: "+255712345678".into(),
                part: None
            }]
        );
    }
    let delivered = dte.delivered();
    assert_eq!(delivered.len(), 3);
    assert_eq!(delivered[0].recipient, "+255712345678");
    assert_eq!(delivered[0].text, "Your code is 123456");
}

#[test]
fn the_prompt_exchange_with_echo_on() {
    let mut dte = Dte::new(Config::default());
    let pdu = one_pdu("hi", false);
    let prompt = dte.cmd(&format!("AT+CMGS={}", pdu.tpdu_len));
    assert_eq!(prompt, format!("AT+CMGS={}\r\r\n> ", pdu.tpdu_len));
    // The PDU is echoed as typed, the Ctrl-Z is not.
    let answer = dte.send_bytewise(format!("{}\x1a", pdu.hex).as_bytes());
    assert_eq!(answer, format!("{}\r\n+CMGS: 0\r\n\r\nOK\r\n", pdu.hex));
}

#[test]
fn long_messages_are_joined_when_the_last_part_is_sent() {
    let mut dte = Dte::quiet(Config::default());
    let text = "Msimbo wako ni 123456 ✓ ".repeat(10);
    let parts = pdus("0712345678", &text, true);
    assert_eq!(parts.len(), 4);
    // Out of order: the message is complete only when every part is in.
    for (i, index) in [3, 0, 2, 1].into_iter().enumerate() {
        let answer = dte.submit(&parts[index]);
        assert_eq!(answer, format!("\r\n+CMGS: {i}\r\n\r\nOK\r\n"));
        let delivered = dte.delivered();
        if i < 3 {
            assert!(delivered.is_empty(), "after part {index}");
        } else {
            assert_eq!(
                delivered,
                [Delivered {
                    recipient: "0712345678".into(),
                    text: text.clone()
                }]
            );
        }
    }
}

#[test]
fn bad_pdus_are_refused_with_304() {
    let mut dte = Dte::quiet(Config::default());
    let pdu = one_pdu("hello", false);
    let cases: Vec<(usize, String)> = vec![
        // <length> one too many, one too few.
        (pdu.tpdu_len + 1, pdu.hex.clone()),
        (pdu.tpdu_len - 1, pdu.hex.clone()),
        // The SMSC part missing: the length counts everything.
        (pdu.tpdu_len, pdu.hex[2..].to_owned()),
        (pdu.tpdu_len, format!("{}Z", &pdu.hex[..pdu.hex.len() - 1])),
        // TP-MTI 2: not an SMS-SUBMIT.
        (pdu.tpdu_len, format!("0012{}", &pdu.hex[4..])),
        (pdu.tpdu_len, "é".repeat(pdu.hex.len() / 2)),
        (pdu.tpdu_len, "F".repeat(pdu.hex.len() * 3)),
    ];
    for (len, hex) in cases {
        assert_eq!(dte.cmd(&format!("AT+CMGS={len}")), "\r\n> ");
        let answer = dte.send(format!("{hex}\x1a").as_bytes());
        assert_eq!(answer, "\r\n+CMS ERROR: 304\r\n", "{len} {hex}");
        assert_eq!(dte.events(), [Event::SendFailed { cms: 304 }]);
    }
    assert_eq!(dte.cmd("AT+CMGS=3"), "\r\n+CMS ERROR: 304\r\n");
    assert_eq!(dte.cmd("AT+CMGS=200"), "\r\n+CMS ERROR: 304\r\n");
    assert_eq!(dte.cmd("AT+CMGS"), "\r\nERROR\r\n");
    assert!(dte.delivered().is_empty());
    // Nothing was counted: the next good PDU gets reference 0.
    assert_eq!(dte.submit(&pdu), "\r\n+CMGS: 0\r\n\r\nOK\r\n");
}

#[test]
fn escape_mid_pdu_sends_nothing() {
    let mut dte = Dte::quiet(Config::default());
    let pdu = one_pdu("hello", false);
    dte.cmd(&format!("AT+CMGS={}", pdu.tpdu_len));
    let half = &pdu.hex[..pdu.hex.len() / 2];
    assert_eq!(dte.send(format!("{half}\x1b").as_bytes()), "\r\nOK\r\n");
    assert!(dte.delivered().is_empty());
    assert_eq!(dte.cmd("AT"), "\r\nOK\r\n");
    // Line ends inside the PDU are tolerated.
    dte.cmd(&format!("AT+CMGS={}", pdu.tpdu_len));
    let split = format!("{}\r\n{}\r\x1a", half, &pdu.hex[half.len()..]);
    assert_eq!(dte.send(split.as_bytes()), "\r\n+CMGS: 0\r\n\r\nOK\r\n");
}

#[test]
fn status_report_as_cds_and_acknowledged() {
    let mut dte = Dte::quiet(Config::default());
    dte.cmd("AT+CNMI=2,1,0,1,0");
    assert_eq!(dte.cmd("AT+CNMA"), "\r\n+CMS ERROR: 340\r\n");
    let answer = dte.submit(&one_pdu("code", true));
    let (sent, urc) = answer.split_once("OK\r\n").unwrap();
    assert_eq!(sent, "\r\n+CMGS: 0\r\n\r\n");
    let lines: Vec<&str> = urc.split("\r\n").collect();
    assert_eq!(lines[..2], ["", "+CDS: 25"]);
    let report = decode_status_report(lines[2], true).unwrap();
    assert_eq!(report.reference, 0);
    assert_eq!(report.recipient, "+255712345678");
    assert_eq!(report.status, 0);
    assert_eq!(report.service_centre_time, "70-01-01 00:00:00 +00:00");
    assert!(
        lines[2].starts_with("0791527545000000"),
        "the SMSC in front"
    );
    assert_eq!(dte.cmd("AT+CNMA"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CNMA"), "\r\n+CMS ERROR: 340\r\n");
    // No report asked for, none sent.
    assert_eq!(
        dte.submit(&one_pdu("code", false)),
        "\r\n+CMGS: 1\r\n\r\nOK\r\n"
    );
    assert_eq!(dte.advance(Duration::from_secs(60)), "");
}

#[test]
fn stored_reports_are_read_listed_and_deleted() {
    let mut dte = Dte::quiet(Config::default());
    // CNMI ds=0 (the default): stored without a word.
    dte.submit(&one_pdu("one", true));
    assert_eq!(
        dte.events()[1],
        Event::ReportStored {
            reference: 0,
            index: 1,
            announced: false
        }
    );
    dte.cmd("AT+CNMI=2,1,0,2,0");
    let answer = dte.submit(&one_pdu("two", true));
    assert!(
        answer.ends_with("OK\r\n\r\n+CDSI: \"SR\",2\r\n"),
        "{answer:?}"
    );
    let read = dte.cmd("AT+CMGR=2");
    let lines: Vec<&str> = read.split("\r\n").collect();
    assert_eq!(lines[1], "+CMGR: 0,,25");
    assert_eq!(decode_status_report(lines[2], true).unwrap().reference, 1);
    assert!(dte.cmd("AT+CMGR=2").contains("+CMGR: 1,,25"), "now read");
    let listed = dte.cmd("AT+CMGL=4");
    assert_eq!(listed.matches("+CMGL: ").count(), 2, "{listed}");
    assert!(listed.contains("+CMGL: 1,0,,25\r\n"), "{listed}");
    assert_eq!(dte.cmd("AT+CMGL=0"), "\r\nOK\r\n", "all read now");
    assert_eq!(dte.cmd("AT+CMGD=2"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CMGR=2"), "\r\nOK\r\n", "an empty slot");
    assert_eq!(dte.cmd("AT+CMGR=31"), "\r\n+CMS ERROR: 321\r\n");
    assert_eq!(dte.cmd("AT+CMGD=0"), "\r\n+CMS ERROR: 321\r\n");
    assert_eq!(dte.cmd("AT+CMGD=1,4"), "\r\nOK\r\n");
    assert_eq!(dte.cmd("AT+CMGL=4"), "\r\nOK\r\n");
    // Text mode shows the fields.
    dte.cmd("AT+CMGF=1");
    dte.submit_text("+255712345678", "three");
    let read = dte.cmd("AT+CMGL=\"ALL\"");
    assert!(
        read.starts_with(
            "\r\n+CMGL: 1,\"REC UNREAD\",6,2,\"+255712345678\",145,\"70/01/01,00:00:00+00\""
        ),
        "{read}"
    );
}

impl Dte {
    /// Text-mode `AT+CMGS`, asking for a report through `AT+CSMP`.
    fn submit_text(&mut self, destination: &str, text: &str) -> String {
        assert_eq!(self.cmd("AT+CSMP=49,167,0,0"), "\r\nOK\r\n");
        assert_eq!(self.cmd(&format!("AT+CMGS=\"{destination}\"")), "\r\n> ");
        self.send(format!("{text}\x1a").as_bytes())
    }
}

#[test]
fn text_mode_sends_minimally() {
    let mut dte = Dte::quiet(Config::default());
    dte.cmd("AT+CMGF=1");
    assert_eq!(dte.cmd("AT+CMGS=\"+255712345678\""), "\r\n> ");
    assert_eq!(dte.send(b"line one\r"), "\r\n> ");
    assert_eq!(dte.send(b"line two\x1a"), "\r\n+CMGS: 0\r\n\r\nOK\r\n");
    dte.cmd("AT+CSCS=\"UCS2\"");
    dte.cmd("AT+CMGS=\"0712\"");
    dte.send(b"004A00E42713\x1a");
    let delivered = dte.delivered();
    assert_eq!(delivered[0].text, "line one\nline two");
    assert_eq!(delivered[1].text, "Jä✓");
    assert_eq!(delivered[1].recipient, "0712");
    dte.cmd("AT+CNMI=2,1,0,1,0");
    dte.cmd("AT+CSCS=\"GSM\"");
    let answer = dte.submit_text("+1555", "report me");
    assert!(
        answer.contains(
            "\r\n+CDS: 6,2,\"+1555\",145,\"70/01/01,00:00:00+00\",\"70/01/01,00:00:00+00\",0\r\n"
        ),
        "{answer}"
    );
}

#[test]
fn debug_shows_neither_texts_nor_the_pin() {
    let config = Config {
        sim_pin: Some(Pin::new("8642")),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    dte.cmd("AT+CPIN=\"8642\"");
    let parts = pdus("+1", &"secret text 777 ".repeat(20), true);
    dte.submit(&parts[0]);
    let shown = format!("{:?}", dte.modem);
    assert!(!shown.contains("8642"), "{shown}");
    assert!(!shown.contains("secret"), "{shown}");
    dte.submit(&parts[1]);
    let delivered = dte.delivered();
    let shown = format!("{:?} {delivered:?}", dte.modem);
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn never_panics_on_random_input() {
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: &[&[u8]] = &[
        b"AT",
        b"+CMGS=",
        b"23",
        b"\r",
        b"\x1a",
        b"\x1b",
        b"+CPIN=\"1\"",
        b"?",
        b"=?",
        b";",
        b"\"",
        b"0011000B91",
        b"+CMGR=",
        b"+CNMI=2,1,0,2,0",
        b"E1",
        b"\xff",
        b"+CMGF=1",
        b"+CMGD=1,4",
        b"+CSCS=\"UCS2\"",
        b",",
        b"\n",
        b"+CFUN=0",
    ];
    let config = Config {
        sim_pin: Some(Pin::new("1")),
        send_delay: Duration::from_millis(300),
        report_delay: Duration::from_secs(1),
        faults: super::Faults {
            noise_every: Some(Duration::from_millis(700)),
            hang_after: Some(5),
            hang_for: Duration::from_secs(2),
            cms_error_every: Some(3),
            ..Default::default()
        },
        ..Config::default()
    };
    let mut dte = Dte::new(config);
    for _ in 0..20_000 {
        let word = words[(next() % words.len() as u64) as usize];
        dte.send(word);
        if next() % 7 == 0 {
            dte.advance(Duration::from_millis(next() % 1500));
        }
        dte.delivered();
        dte.events();
    }
}
