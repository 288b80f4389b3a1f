//! otpd's own driver session (`proto::modem::Session`) against the simulator, in process
//! with a hand-advanced clock: what the `sim` channel will do over `tokio::io::duplex`.
//! Init (with a PIN), a message in two parts, its two status reports, under the faults a
//! driver must live with.

use std::time::Duration;

use super::tests::{Dte, pdus};
use super::{Config, Faults, Pin};
use crate::proto::modem::{Event as DriverEvent, ModemConfig, Session, SimPin};

/// The driver session wired to a simulated modem.
struct Rig {
    dte: Dte,
    session: Session,
    buf: Vec<u8>,
    events: Vec<DriverEvent>,
}

impl Rig {
    fn new(config: Config) -> Rig {
        let dte = Dte::new(config);
        let driver = ModemConfig {
            sim_pin: Some(SimPin::new("2468")),
            smsc: Some("+255754000001".into()),
            ..ModemConfig::default()
        };
        let session = Session::new(driver, dte.now);
        Rig {
            dte,
            session,
            buf: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Moves bytes both ways and the clock forward, to each side's next timer, for `span`.
    fn run_for(&mut self, span: Duration) {
        let until = self.dte.now + span;
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(bytes) = self.session.poll_transmit() {
                self.dte.modem.input(&bytes, self.dte.now);
                moved = true;
            }
            while let Some(bytes) = self.dte.modem.poll_output() {
                self.buf.extend(bytes);
                self.session.handle_input(&mut self.buf, self.dte.now);
                moved = true;
            }
            self.events
                .extend(std::iter::from_fn(|| self.session.poll_event()));
            if moved {
                continue;
            }
            let next = [self.session.next_timeout(), self.dte.modem.next_timeout()]
                .into_iter()
                .flatten()
                .min()
                .filter(|at| *at <= until);
            let Some(at) = next else {
                self.dte.now = until;
                return;
            };
            self.dte.now = self.dte.now.max(at);
            self.session.handle_timeout(self.dte.now);
            self.dte.modem.handle_timeout(self.dte.now);
        }
        panic!("the conversation never settles");
    }
}

fn base() -> Config {
    Config {
        sim_pin: Some(Pin::new("2468")),
        register_after: Duration::from_secs(3),
        send_delay: Duration::from_millis(800),
        report_delay: Duration::from_secs(5),
        ..Config::default()
    }
}

#[test]
fn otpds_driver_session_works_against_it() {
    let table: Vec<(&str, Config)> = vec![
        ("well behaved", base()),
        (
            "echo stuck",
            Config {
                faults: Faults {
                    echo_stuck: true,
                    ..Faults::default()
                },
                ..base()
            },
        ),
        (
            "stored reports (+CDSI, read and deleted)",
            Config {
                faults: Faults {
                    stored_reports: true,
                    ..Faults::default()
                },
                ..base()
            },
        ),
        (
            "noise every 300 ms",
            Config {
                seed: 11,
                faults: Faults {
                    noise_every: Some(Duration::from_millis(300)),
                    ..Faults::default()
                },
                ..base()
            },
        ),
    ];
    let text = "Your otpd code is 123456. ".repeat(8);
    for (name, config) in table {
        let mut rig = Rig::new(config);
        rig.run_for(Duration::from_secs(30));
        assert!(rig.session.is_ready(), "{name}: {:?}", rig.events);
        let parts = pdus("+255712345678", &text, true);
        assert_eq!(parts.len(), 2);
        for (tag, pdu) in (0u64..).zip(parts) {
            rig.session.send(tag, pdu, rig.dte.now).unwrap();
        }
        rig.run_for(Duration::from_secs(60));
        let sent: Vec<(u64, u8)> = rig
            .events
            .iter()
            .filter_map(|e| match e {
                DriverEvent::Sent { tag, reference } => Some((*tag, *reference)),
                _ => None,
            })
            .collect();
        assert_eq!(sent, [(0, 0), (1, 1)], "{name}: {:?}", rig.events);
        let reports: Vec<u8> = rig
            .events
            .iter()
            .filter_map(|e| match e {
                DriverEvent::StatusReport(r) => Some(r.reference),
                _ => None,
            })
            .collect();
        assert_eq!(reports, [0, 1], "{name}: {:?}", rig.events);
        let delivered = rig.dte.delivered();
        assert_eq!(delivered.len(), 1, "{name}");
        assert_eq!(delivered[0].text, text, "{name}");
        assert!(rig.session.is_ready(), "{name}");
    }
}

#[test]
fn the_driver_sees_a_hang_as_hung() {
    let config = Config {
        faults: Faults {
            hang_after: Some(1),
            hang_for: Duration::from_secs(600),
            ..Faults::default()
        },
        ..base()
    };
    let mut rig = Rig::new(config);
    rig.run_for(Duration::from_secs(30));
    let mut parts = pdus("+255712345678", "one", false);
    rig.session.send(1, parts.remove(0), rig.dte.now).unwrap();
    rig.run_for(Duration::from_secs(5));
    let mut parts = pdus("+255712345678", "two", false);
    rig.session.send(2, parts.remove(0), rig.dte.now).unwrap();
    rig.run_for(Duration::from_secs(120));
    assert!(
        rig.events.iter().any(|e| matches!(e, DriverEvent::Hung(_))),
        "{:?}",
        rig.events
    );
    assert!(!rig.session.is_ready());
}
