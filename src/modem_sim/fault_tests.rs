//! Each fault against a scripted DTE with a hand-advanced clock.

use std::time::Duration;

use super::tests::{Dte, one_pdu};
use super::{Config, Event, Faults};

fn with(faults: Faults) -> Config {
    Config {
        faults,
        ..Config::default()
    }
}

#[test]
fn echo_stuck_keeps_echoing_after_ate0() {
    let mut dte = Dte::new(with(Faults {
        echo_stuck: true,
        ..Faults::default()
    }));
    assert_eq!(dte.cmd("ATE0"), "ATE0\r\r\nOK\r\n");
    assert_eq!(dte.cmd("AT"), "AT\r\r\nOK\r\n");
}

#[test]
fn cms_error_on_every_nth_send() {
    let mut dte = Dte::quiet(with(Faults {
        cms_error_every: Some(2),
        cms_error: 38,
        ..Faults::default()
    }));
    let answers: Vec<String> = (0..5).map(|_| dte.submit(&one_pdu("x", true))).collect();
    assert_eq!(
        answers,
        [
            "\r\n+CMGS: 0\r\n\r\nOK\r\n",
            "\r\n+CMS ERROR: 38\r\n",
            "\r\n+CMGS: 1\r\n\r\nOK\r\n",
            "\r\n+CMS ERROR: 38\r\n",
            "\r\n+CMGS: 2\r\n\r\nOK\r\n",
        ]
    );
    assert_eq!(dte.delivered().len(), 3, "refused messages go nowhere");
    // The default code is 500.
    let mut dte = Dte::quiet(with(Faults {
        cms_error_every: Some(1),
        ..Faults::default()
    }));
    assert_eq!(dte.submit(&one_pdu("x", false)), "\r\n+CMS ERROR: 500\r\n");
}

#[test]
fn report_and_send_delays() {
    let config = Config {
        send_delay: Duration::from_secs(2),
        report_delay: Duration::from_secs(30),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    dte.cmd("AT+CNMI=2,1,0,1,0");
    assert_eq!(dte.submit(&one_pdu("x", true)), "");
    // Typed while the network works: answered once the send is done.
    assert_eq!(dte.cmd("AT"), "");
    assert_eq!(dte.advance(Duration::from_millis(1999)), "");
    assert!(dte.delivered().is_empty());
    assert_eq!(
        dte.advance(Duration::from_millis(1)),
        "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nOK\r\n"
    );
    assert_eq!(dte.delivered().len(), 1);
    assert_eq!(dte.advance(Duration::from_millis(29_999)), "");
    assert!(
        dte.advance(Duration::from_millis(1))
            .starts_with("\r\n+CDS: 25\r\n")
    );
}

#[test]
fn every_nth_report_is_dropped() {
    let mut dte = Dte::quiet(with(Faults {
        drop_reports_every: Some(2),
        ..Faults::default()
    }));
    dte.cmd("AT+CNMI=2,1,0,1,0");
    let reports: Vec<bool> = (0..4)
        .map(|_| dte.submit(&one_pdu("x", true)).contains("+CDS:"))
        .collect();
    assert_eq!(reports, [true, false, true, false]);
    let events = dte.events();
    assert!(events.contains(&Event::ReportDropped { reference: 1 }));
    assert!(events.contains(&Event::ReportDropped { reference: 3 }));
}

#[test]
fn stored_reports_even_when_cds_was_asked_for() {
    let mut dte = Dte::quiet(with(Faults {
        stored_reports: true,
        ..Faults::default()
    }));
    dte.cmd("AT+CNMI=2,1,0,1,0");
    let answer = dte.submit(&one_pdu("x", true));
    assert_eq!(answer, "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CDSI: \"SR\",1\r\n");
    assert!(dte.cmd("AT+CMGR=1").starts_with("\r\n+CMGR: 0,,25\r\n"));
}

#[test]
fn noise_comes_between_and_inside_responses_but_not_in_the_prompt_exchange() {
    let mut dte = Dte::quiet(Config {
        seed: 42,
        ..with(Faults {
            noise_every: Some(Duration::from_secs(1)),
            ..Faults::default()
        })
    });
    let mut idle = String::new();
    let mut inside = 0;
    for _ in 0..200 {
        idle.push_str(&dte.advance(Duration::from_millis(900)));
        let pdu = one_pdu("x", false);
        let prompt = dte.cmd(&format!("AT+CMGS={}", pdu.tpdu_len));
        // The prompt comes alone, and noise waits while the PDU is typed.
        assert!(prompt.ends_with("\r\n> "), "{prompt:?}");
        assert_eq!(dte.advance(Duration::from_secs(3)), "");
        let answer = dte.send(format!("{}\x1a", pdu.hex).as_bytes());
        assert!(answer.contains("\r\n+CMGS: "), "{answer:?}");
        let lines: Vec<&str> = answer.split("\r\n").filter(|l| !l.is_empty()).collect();
        let cmgs = lines.iter().position(|l| l.starts_with("+CMGS:")).unwrap();
        let ok = lines.iter().position(|l| *l == "OK").unwrap();
        if ok > cmgs + 1 {
            inside += 1;
        }
    }
    assert!(inside > 0, "noise went between +CMGS and OK at least once");
    for noise in ["^RSSI: 17", "RING", "+CREG: 1", "^MODE: 5,4", "^BOOT:"] {
        assert!(idle.contains(noise), "{noise}");
    }
    assert!(idle.contains('\u{FFFD}'), "garbage that is not UTF-8");
    // Huawei's AT^CURC=0 silences the ^ reports, not the rest.
    dte.cmd("AT^CURC=0");
    let quieter = dte.advance(Duration::from_secs(300));
    assert!(
        !quieter.contains('^') && quieter.contains("RING"),
        "{quieter}"
    );
}

#[test]
fn hang_after_n_sends_then_recover() {
    let mut dte = Dte::quiet(with(Faults {
        hang_after: Some(2),
        hang_for: Duration::from_secs(20),
        ..Faults::default()
    }));
    assert!(dte.submit(&one_pdu("x", false)).contains("+CMGS: 0"));
    assert_eq!(dte.events().len(), 1);
    // The second send is answered, then nothing is.
    assert!(dte.submit(&one_pdu("x", false)).contains("+CMGS: 1"));
    assert_eq!(
        dte.events()[1..],
        [Event::Hung {
            duration: Duration::from_secs(20)
        }]
    );
    assert_eq!(dte.cmd("AT"), "");
    assert_eq!(dte.advance(Duration::from_millis(19_999)), "");
    assert_eq!(dte.cmd("AT"), "", "still hung, and this is lost too");
    dte.advance(Duration::from_millis(1));
    assert_eq!(dte.events(), [Event::Recovered]);
    assert_eq!(dte.cmd("AT"), "\r\nOK\r\n");
    // Every Nth: again after two more.
    dte.submit(&one_pdu("x", false));
    dte.submit(&one_pdu("x", false));
    assert_eq!(dte.cmd("AT"), "");
}

#[test]
fn vanish_after_n_sends_until_power_cycle() {
    let mut dte = Dte::quiet(with(Faults {
        vanish_after: Some(1),
        vanish_for: Duration::from_secs(4),
        ..Faults::default()
    }));
    dte.cmd("AT+CNMI=2,1,0,1,0");
    dte.cmd("AT+CMGF=0");
    assert!(dte.submit(&one_pdu("x", true)).contains("+CMGS: 0"));
    let events = dte.events();
    assert_eq!(
        events.last(),
        Some(&Event::Vanish {
            duration: Duration::from_secs(4)
        })
    );
    assert_eq!(dte.cmd("AT"), "");
    assert_eq!(dte.modem.next_timeout(), None);
    dte.modem.power_cycle(dte.now);
    // A fresh start: echo on, indications off again.
    assert_eq!(dte.cmd("AT"), "AT\r\r\nOK\r\n");
    assert_eq!(
        dte.cmd("AT+CNMI?"),
        "AT+CNMI?\r\r\n+CNMI: 0,0,0,0,0\r\n\r\nOK\r\n"
    );
    // The report owed for the message before the vanish is stored, reference 0.
    let listed = dte.cmd("AT+CMGL=4");
    assert!(listed.contains("+CMGL: 1,0,,25"), "{listed}");
    // And the counter went on.
    dte.cmd("ATE0");
    assert!(dte.submit(&one_pdu("x", false)).contains("+CMGS: 1"));
}

#[test]
fn sim_pin_and_registration_delay() {
    let config = Config {
        sim_pin: Some(super::Pin::new("1357")),
        register_after: Duration::from_secs(10),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    assert_eq!(dte.cmd("AT+CMGS=20"), "\r\n+CMS ERROR: 311\r\n");
    assert_eq!(dte.advance(Duration::from_secs(60)), "");
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 0,0\r\n\r\nOK\r\n");
    dte.cmd("AT+CPIN=\"1357\"");
    // Registration starts when the PIN is in.
    dte.advance(Duration::from_millis(9_999));
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 0,2\r\n\r\nOK\r\n");
    dte.advance(Duration::from_millis(1));
    assert_eq!(dte.cmd("AT+CREG?"), "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
}

#[test]
fn reports_wait_for_registration() {
    let config = Config {
        report_delay: Duration::from_secs(1),
        ..Config::default()
    };
    let mut dte = Dte::quiet(config);
    dte.cmd("AT+CNMI=2,1,0,1,0");
    dte.submit(&one_pdu("x", true));
    // The radio goes off before the report is due: it waits for the next registration.
    dte.cmd("AT+CFUN=0");
    assert_eq!(dte.advance(Duration::from_secs(60)), "");
    assert_eq!(dte.modem.next_timeout(), None);
    let answer = dte.cmd("AT+CFUN=1");
    assert!(
        answer.starts_with("\r\nOK\r\n\r\n+CDS: 25\r\n"),
        "{answer:?}"
    );
}
