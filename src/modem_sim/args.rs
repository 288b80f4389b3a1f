//! The command line of `otpd modem-sim`, and the [`Config`] it makes.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::config::{Config, Faults, Pin};

/// A simulated GSM modem (AT commands, PDU mode) on a pseudo-terminal, for tests and
/// demos; the fault flags below make it misbehave on purpose. Every message it sends is
/// printed on stdout as one JSON line: {"recipient":"+255…","text":"…"}.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Path of the symlink to create to the pty (e.g. /tmp/modem); an old symlink there is
    /// replaced, anything else is refused. Removed on exit.
    #[arg(long, value_name = "PATH")]
    pub link: PathBuf,
    /// The SIM asks for this PIN (AT+CPIN? says SIM PIN until it is entered).
    #[arg(long, value_name = "PIN")]
    pub sim_pin: Option<String>,
    /// Registration takes this long after the SIM is unlocked.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = humantime::parse_duration)]
    pub register_after: Duration,
    /// The network's time for AT+CMGS, from Ctrl-Z to +CMGS.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = humantime::parse_duration)]
    pub send_delay: Duration,
    /// From +CMGS to the status report, when the message asked for one.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = humantime::parse_duration)]
    pub report_delay: Duration,
    /// The service centre number in the SIM (AT+CSCA?), also put in front of reports.
    #[arg(long, value_name = "NUMBER", default_value = "+255754000000", value_parser = parse_number)]
    pub smsc: String,
    /// ATE0 answers OK but the echo stays on.
    #[arg(long)]
    pub echo_stuck: bool,
    /// Answer every Nth send with +CMS ERROR (see --cms-error).
    #[arg(long, value_name = "N")]
    pub cms_error_every: Option<u32>,
    /// The +CMS ERROR code of --cms-error-every.
    #[arg(long, value_name = "CODE", default_value_t = 500)]
    pub cms_error: u16,
    /// Never send every Nth status report.
    #[arg(long, value_name = "N")]
    pub drop_reports_every: Option<u32>,
    /// Store status reports and announce them with +CDSI, even when AT+CNMI asked for +CDS.
    #[arg(long)]
    pub stored_reports: bool,
    /// Unsolicited noise (^RSSI, ^BOOT, RING, +CREG, ^MODE, garbage bytes) this often.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub noise_every: Option<Duration>,
    /// After every Nth send, answer nothing for --hang-for.
    #[arg(long, value_name = "N")]
    pub hang_after: Option<u32>,
    /// How long a hang lasts.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = humantime::parse_duration)]
    pub hang_for: Duration,
    /// After every Nth send, remove the device (pty and symlink) for --vanish-for, then
    /// come back on a fresh pty behind the same symlink, as a USB stick re-enumerates.
    #[arg(long, value_name = "N")]
    pub vanish_after: Option<u32>,
    /// How long the device stays away.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = humantime::parse_duration)]
    pub vanish_for: Duration,
    /// Seed of the noise; by default it changes from run to run.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// A phone number as a report carries it: `+` and up to 20 digits, or digits alone.
fn parse_number(number: &str) -> Result<String, String> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected + and digits, e.g. +255754000000".to_owned());
    }
    Ok(number.to_owned())
}

impl SimArgs {
    /// Parses flags as `otpd modem-sim` would (without the program name).
    pub fn from_flags<I, T>(flags: I) -> Result<SimArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: SimArgs,
        }
        let argv = std::iter::once(std::ffi::OsString::from("modem-sim"))
            .chain(flags.into_iter().map(Into::into));
        <Command as clap::Parser>::try_parse_from(argv).map(|command| command.args)
    }

    /// The modem these flags describe, with the wall clock read now.
    pub fn config(&self) -> Config {
        let wall_clock = SystemTime::now();
        let seed = self.seed.unwrap_or_else(|| {
            wall_clock
                .duration_since(UNIX_EPOCH)
                .map_or(1, |since| u64::from(since.subsec_nanos()) ^ since.as_secs())
        });
        Config {
            sim_pin: self.sim_pin.clone().map(Pin::new),
            register_after: self.register_after,
            send_delay: self.send_delay,
            report_delay: self.report_delay,
            smsc: self.smsc.clone(),
            seed,
            wall_clock,
            faults: Faults {
                echo_stuck: self.echo_stuck,
                cms_error_every: self.cms_error_every,
                cms_error: self.cms_error,
                drop_reports_every: self.drop_reports_every,
                stored_reports: self.stored_reports,
                noise_every: self.noise_every,
                hang_after: self.hang_after,
                hang_for: self.hang_for,
                vanish_after: self.vanish_after,
                vanish_for: self.vanish_for,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_well_behaved_modem() {
        let args = SimArgs::from_flags(["--link", "/tmp/m"]).unwrap();
        let config = args.config();
        assert_eq!(config.faults, Faults::default());
        assert_eq!(config.sim_pin, None);
        assert_eq!(config.send_delay, Duration::ZERO);
        assert!(
            SimArgs::from_flags(["--echo-stuck"]).is_err(),
            "--link is required"
        );
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let args = SimArgs::from_flags([
            "--link",
            "/tmp/m",
            "--sim-pin",
            "4711",
            "--register-after",
            "2s",
            "--send-delay",
            "300ms",
            "--report-delay",
            "1m",
            "--smsc",
            "+41794999000",
            "--echo-stuck",
            "--cms-error-every",
            "3",
            "--cms-error",
            "38",
            "--drop-reports-every",
            "2",
            "--stored-reports",
            "--noise-every",
            "5s",
            "--hang-after",
            "4",
            "--hang-for",
            "10s",
            "--vanish-after",
            "6",
            "--vanish-for",
            "1s",
            "--seed",
            "9",
        ])
        .unwrap();
        let config = args.config();
        assert_eq!(config.sim_pin, Some(Pin::new("4711")));
        assert_eq!(config.register_after, Duration::from_secs(2));
        assert_eq!(config.send_delay, Duration::from_millis(300));
        assert_eq!(config.report_delay, Duration::from_secs(60));
        assert_eq!(config.smsc, "+41794999000");
        assert_eq!(config.seed, 9);
        assert_eq!(
            config.faults,
            Faults {
                echo_stuck: true,
                cms_error_every: Some(3),
                cms_error: 38,
                drop_reports_every: Some(2),
                stored_reports: true,
                noise_every: Some(Duration::from_secs(5)),
                hang_after: Some(4),
                hang_for: Duration::from_secs(10),
                vanish_after: Some(6),
                vanish_for: Duration::from_secs(1),
            }
        );
    }
}
