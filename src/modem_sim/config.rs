//! What a simulated modem is like: its SIM, its network, its delays and its faults. Plain
//! data; `args.rs` builds it from the command line and tests build it by hand.

use std::fmt;
use std::time::{Duration, SystemTime};

/// The simulated modem's settings. [`Config::default`] is a well-behaved modem: no PIN,
/// registered at once, instant sends and reports, no faults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The PIN the SIM asks for; `None`: the SIM is unlocked at power-up.
    pub sim_pin: Option<Pin>,
    /// How long registration takes once the SIM is unlocked (`+CREG: 0,2` until then).
    pub register_after: Duration,
    /// The network's time for `AT+CMGS`: from Ctrl-Z to `+CMGS: <mr>`.
    pub send_delay: Duration,
    /// From `+CMGS` to the status report of a message that asked for one.
    pub report_delay: Duration,
    /// The service centre number in the SIM (`AT+CSCA?`), also put in front of reports.
    pub smsc: String,
    /// Seeds the noise generator, so that a test sees the same noise every run.
    pub seed: u64,
    /// The wall-clock time at the `now` given to `Modem::new`: status report timestamps
    /// are this plus the `Instant`s elapsed since, so the core never reads a clock.
    pub wall_clock: SystemTime,
    pub faults: Faults,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sim_pin: None,
            register_after: Duration::ZERO,
            send_delay: Duration::ZERO,
            report_delay: Duration::ZERO,
            smsc: "+255754000000".to_owned(),
            seed: 0x5EED,
            wall_clock: SystemTime::UNIX_EPOCH,
            faults: Faults::default(),
        }
    }
}

/// Misbehaviour on request; all off by default. Counts start at 1 and count the PDUs
/// that reached the network side of `AT+CMGS` (decoded, whatever the answer); an `N`
/// of 0 is the same as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// `ATE0` answers `OK` but the echo stays on.
    pub echo_stuck: bool,
    /// Every Nth send is answered `+CMS ERROR: <cms_error>` and goes nowhere.
    pub cms_error_every: Option<u32>,
    /// The code of those errors (500: unknown error).
    pub cms_error: u16,
    /// Every Nth status report that was asked for never comes.
    pub drop_reports_every: Option<u32>,
    /// Reports are stored and announced with `+CDSI: "SR",<index>` even when
    /// `AT+CNMI` asked for `+CDS` (as some sticks do).
    pub stored_reports: bool,
    /// Unsolicited noise (`^RSSI`, `^BOOT`, `RING`, `+CREG`, `^MODE`, garbage bytes) about
    /// this often.
    pub noise_every: Option<Duration>,
    /// After every Nth send the modem stops answering anything for `hang_for`.
    pub hang_after: Option<u32>,
    pub hang_for: Duration,
    /// After every Nth send the device disappears for `vanish_for` (the runner removes
    /// it; the core only says so, see `Event::Vanish`).
    pub vanish_after: Option<u32>,
    pub vanish_for: Duration,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            echo_stuck: false,
            cms_error_every: None,
            cms_error: 500,
            drop_reports_every: None,
            stored_reports: false,
            noise_every: None,
            hang_after: None,
            hang_for: Duration::from_secs(30),
            vanish_after: None,
            vanish_for: Duration::from_secs(5),
        }
    }
}

/// True for every `every`th count from 1; `None` and 0 never are.
pub(super) fn every(every: Option<u32>, n: u32) -> bool {
    every.is_some_and(|every| every != 0 && n.is_multiple_of(every))
}

/// The SIM's PIN. Not a real secret, but it is handled like one so that copying this code
/// into a real driver does not copy a leak: `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn new(pin: impl Into<String>) -> Pin {
        Pin(pin.into())
    }

    pub(super) fn matches(&self, given: &str) -> bool {
        self.0 == given
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth() {
        let hits: Vec<bool> = (1..=4).map(|n| every(Some(2), n)).collect();
        assert_eq!(hits, [false, true, false, true]);
        assert!(!every(Some(0), 3) && !every(None, 3));
        assert!(every(Some(1), 1));
    }

    #[test]
    fn pin_is_redacted() {
        let config = Config {
            sim_pin: Some(Pin::new("4711")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("4711"));
        assert!(config.sim_pin.unwrap().matches("4711"));
    }
}
