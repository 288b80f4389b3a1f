//! SMS-pumping protection (config `[fraud]`).
//!
//! SMS pumping: someone has an app send codes to numbers whose operator pays them per SMS,
//! and never enters the codes. Three defences, in the order a send meets them:
//!
//! 1. `phone::normalize` refuses premium-rate, fixed-line and other non-mobile numbers
//!    (400 `invalid_recipient`), whatever this config says.
//! 2. The country allow-list (`allow_countries`): a recipient of another country is refused
//!    (403 `blocked`) before anything is stored. It is an explicit list, so it applies in
//!    every `mode`, "off" included.
//! 3. The guard: per number prefix and per client address, the share of codes sent in the
//!    last `window` that were never approved (see [`guard`]). Past `min_sends` codes and above
//!    `max_unverified_share`, a send is flagged (`mode = "record"`: it goes out, with an event
//!    `flagged`) or blocked (`mode = "block"`: the verification is created with status
//!    `blocked`, nothing is sent, 403 `blocked`).
//!
//! Numbers of `safe_numbers` pass 2 and 3 and are not counted by the guard.
//!
//! The guard reads its counters in the writer job that creates the verification, before the
//! rate limits (a blocked send is counted by neither), and counts the send after it is
//! stored, so parallel sends are judged one after the other. A blocked send is not counted:
//! a key frees again as its sends slide out of the window, rather than staying shut while
//! anyone keeps trying. The keys a send was counted under are kept on its verification, so
//! that its approval (in verify) is counted under the same ones.

pub mod guard;

use super::limits::ip_key;
use crate::model::Timestamp;
use crate::store::fraud::FraudRow;
use crate::store::{StoreError, WriteTx};
use guard::{Estimate, Tally};
use phonenumber::country::Id;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// What the guard does when a key trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No guard (the allow-list still applies).
    Off,
    /// Send anyway; record an event `flagged` and count it in the metrics.
    Record,
    /// Refuse: status `blocked`, 403, event `blocked`.
    Block,
}

/// What the guard counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// The country calling code and the first `prefix_digits` digits after it.
    Prefix,
    /// The client address (TCP only; IPv6 by its /64).
    Ip,
}

impl Watch {
    pub fn as_str(self) -> &'static str {
        match self {
            Watch::Prefix => "prefix",
            Watch::Ip => "ip",
        }
    }
}

/// One entry of `allow_countries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    /// An ISO 3166 alpha-2 code, as libphonenumber assigns numbers to regions ("CA" is not
    /// "US" though both are +1).
    Region(Id),
    /// A country calling code ("+1" is every NANP country).
    Code(u16),
}

/// Config `[fraud]`, as the engine applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fraud {
    pub mode: Mode,
    /// Empty: every country.
    pub allow_countries: Vec<Country>,
    /// E.164 numbers or prefixes ("+255712345678", "+25571") never blocked nor counted.
    pub safe_numbers: Vec<String>,
    pub window: Duration,
    /// Codes a key must have sent in the window before it can trip.
    pub min_sends: u32,
    /// A key trips when more than this share of its codes in the window were not approved.
    pub max_unverified_share: f64,
    pub per: Vec<Watch>,
    /// Digits after the country code that make a prefix ("+255" and 2: "+25571").
    pub prefix_digits: u8,
}

impl Default for Fraud {
    fn default() -> Fraud {
        Fraud {
            mode: Mode::Record,
            allow_countries: Vec::new(),
            safe_numbers: Vec::new(),
            window: Duration::from_secs(3600),
            min_sends: 20,
            max_unverified_share: 0.8,
            per: vec![Watch::Prefix, Watch::Ip],
            prefix_digits: 2,
        }
    }
}

/// Why a send was refused or flagged, for the metrics' `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Country,
    Prefix,
    Ip,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Country => "country",
            Reason::Prefix => "prefix",
            Reason::Ip => "ip",
        }
    }
}

/// A recipient outside `allow_countries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRefusal {
    /// For the reply and the event: the country as the list would name it, never the number.
    pub detail: String,
}

/// The keys one send is counted under (none for a safe number or with the guard off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    pub prefix: Option<String>,
    pub ip: Option<String>,
}

impl Keys {
    fn each(&self) -> impl Iterator<Item = (Watch, &str)> {
        [(Watch::Prefix, &self.prefix), (Watch::Ip, &self.ip)]
            .into_iter()
            .filter_map(|(w, k)| Some((w, k.as_deref()?)))
    }
}

impl Fraud {
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn is_safe(&self, e164: &str) -> bool {
        self.safe_numbers
            .iter()
            .any(|p| e164.starts_with(p.as_str()))
    }

    /// Whether `e164` may be sent to under `allow_countries`.
    pub fn check_country(&self, e164: &str) -> Result<(), CountryRefusal> {
        if self.allow_countries.is_empty() || self.is_safe(e164) {
            return Ok(());
        }
        let code = super::phone::calling_code(e164);
        // The region needs a parse of the number: only when the list names regions.
        let wants_region = self
            .allow_countries
            .iter()
            .any(|c| matches!(c, Country::Region(_)));
        let region = if wants_region {
            super::phone::region(e164)
        } else {
            None
        };
        let allowed = self.allow_countries.iter().any(|c| match c {
            Country::Region(id) => region == Some(*id),
            Country::Code(n) => code == Some(*n),
        });
        if allowed {
            return Ok(());
        }
        let code = code.map(|c| format!("+{c}")).unwrap_or_default();
        let detail = match region {
            Some(id) => format!(
                "sending to this country ({}, {code}) is not allowed",
                id.as_ref()
            ),
            None => format!("sending to this country ({code}) is not allowed"),
        };
        Err(CountryRefusal { detail })
    }

    /// The keys a send to `e164` from `ip` is judged and counted under.
    pub fn keys(&self, e164: &str, ip: Option<IpAddr>) -> Keys {
        if self.mode == Mode::Off || self.is_safe(e164) {
            return Keys::default();
        }
        let prefix = self
            .per
            .contains(&Watch::Prefix)
            .then(|| prefix_of(e164, self.prefix_digits))
            .flatten();
        let ip = ip.filter(|_| self.per.contains(&Watch::Ip)).map(ip_key);
        Keys { prefix, ip }
    }
}

/// "+255" and the first `digits` digits of the national number: "+25571" for
/// "+255712345678" with 2. `None` if the number has no known calling code.
pub fn prefix_of(e164: &str, digits: u8) -> Option<String> {
    let code = super::phone::calling_code(e164)?;
    let len = 1 + code.to_string().len() + usize::from(digits);
    Some(e164.get(..len).unwrap_or(e164).to_string())
}

/// A key over its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub watch: Watch,
    pub key: String,
    pub estimate: Estimate,
    pub window: Duration,
    pub max_unverified_share: f64,
}

impl Trip {
    pub fn reason(&self) -> Reason {
        match self.watch {
            Watch::Prefix => Reason::Prefix,
            Watch::Ip => Reason::Ip,
        }
    }

    /// What the client is told: which guard, not its thresholds.
    pub fn public(&self) -> String {
        match self.watch {
            Watch::Prefix => format!(
                "too many recent codes to numbers starting {} were never verified",
                self.key
            ),
            Watch::Ip => {
                "too many recent codes requested from this client address were never verified"
                    .to_string()
            }
        }
    }
}

/// What the operator reads in the event: the guard, its key, the counts and the threshold.
impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.estimate;
        write!(
            f,
            "{} {}: {} of {} codes in the last {} not verified ({:.0}%, over {:.0}%)",
            self.watch.as_str(),
            self.key,
            e.unverified,
            e.sends,
            humantime::format_duration(self.window),
            e.share * 100.0,
            self.max_unverified_share * 100.0
        )
    }
}

/// The details of all trips, for an event.
pub fn describe(trips: &[Trip]) -> String {
    trips
        .iter()
        .map(Trip::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A send as the guard judged it: the keys' tallies (to be counted if it goes out) and the
/// keys that tripped.
#[derive(Debug, Default)]
pub struct Judged {
    tallies: Vec<Counted>,
    pub trips: Vec<Trip>,
}

#[derive(Debug)]
struct Counted {
    watch: Watch,
    key: String,
    tally: Tally,
    /// The fixed window of the stored row, if there is one.
    stored_bucket: Option<i64>,
}

/// Reads the tallies of a send's keys and judges it at `now`. Writes nothing.
pub fn judge_send(
    tx: &WriteTx<'_>,
    fraud: &Fraud,
    keys: &Keys,
    now: Timestamp,
) -> Result<Judged, StoreError> {
    let mut judged = Judged::default();
    let window_ms = fraud.window_ms();
    for (watch, key) in keys.each() {
        let row = tx.fraud_counter(watch.as_str(), key, window_ms)?;
        let tally = row.map(tally_of).unwrap_or_default().at(window_ms, now);
        let estimate = guard::estimate(tally, window_ms, now);
        if guard::trips(&estimate, fraud.min_sends, fraud.max_unverified_share) {
            judged.trips.push(Trip {
                watch,
                key: key.to_string(),
                estimate,
                window: fraud.window,
                max_unverified_share: fraud.max_unverified_share,
            });
        }
        judged.tallies.push(Counted {
            watch,
            key: key.to_string(),
            tally,
            stored_bucket: row.map(|r| r.bucket),
        });
    }
    Ok(judged)
}

/// Counts a send that went out (the verification `id` is stored) under the keys it was
/// judged by, and keeps those keys on the verification for its approval.
pub fn count_send(
    tx: &WriteTx<'_>,
    fraud: &Fraud,
    judged: &Judged,
    keys: &Keys,
    id: &str,
) -> Result<(), StoreError> {
    if judged.tallies.is_empty() {
        return Ok(());
    }
    let window_ms = fraud.window_ms();
    for c in &judged.tallies {
        let tally = c.tally.sent();
        if c.stored_bucket == Some(tally.bucket) {
            // Same fixed window: only the count changes (not forget_at and its index).
            tx.count_fraud_send(c.watch.as_str(), &c.key, window_ms, to_i64(tally.sends))?;
        } else {
            let forget_at = tally.forget_at(window_ms);
            tx.save_fraud_counter(
                c.watch.as_str(),
                &c.key,
                window_ms,
                row_of(tally),
                forget_at,
            )?;
        }
    }
    tx.set_fraud_keys(id, keys.prefix.as_deref(), keys.ip.as_deref())
}

/// Counts the approval of verification `id`, created at `created_at`, under the keys its
/// send was counted by. A code sent before the window began is no longer in any count.
pub fn count_approval(
    tx: &WriteTx<'_>,
    fraud: &Fraud,
    id: &str,
    created_at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let window_ms = fraud.window_ms();
    if fraud.mode == Mode::Off || now.0.saturating_sub(created_at.0) >= window_ms {
        return Ok(());
    }
    let (prefix, ip) = tx.fraud_keys(id)?;
    let keys = Keys { prefix, ip };
    for (watch, key) in keys.each() {
        let row = tx.fraud_counter(watch.as_str(), key, window_ms)?;
        let tally = row
            .map(tally_of)
            .unwrap_or_default()
            .at(window_ms, now)
            .approved();
        let forget_at = tally.forget_at(window_ms);
        tx.save_fraud_counter(watch.as_str(), key, window_ms, row_of(tally), forget_at)?;
    }
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn tally_of(row: FraudRow) -> Tally {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Tally {
        bucket: row.bucket,
        sends: n(row.sends),
        approvals: n(row.approvals),
        previous_sends: n(row.previous_sends),
        previous_approvals: n(row.previous_approvals),
    }
}

fn row_of(t: Tally) -> FraudRow {
    FraudRow {
        bucket: t.bucket,
        sends: to_i64(t.sends),
        approvals: to_i64(t.approvals),
        previous_sends: to_i64(t.previous_sends),
        previous_approvals: to_i64(t.previous_approvals),
    }
}

#[cfg(test)]
mod engine_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn fraud() -> Fraud {
        Fraud::default()
    }

    #[test]
    fn prefixes_are_the_calling_code_and_some_digits() {
        assert_eq!(prefix_of("+255712345678", 2).as_deref(), Some("+25571"));
        assert_eq!(prefix_of("+255712345678", 0).as_deref(), Some("+255"));
        assert_eq!(prefix_of("+12025550123", 3).as_deref(), Some("+1202"));
        assert_eq!(prefix_of("+447911123456", 4).as_deref(), Some("+447911"));
        // More digits than the number has: the whole number.
        assert_eq!(
            prefix_of("+255712345678", 20).as_deref(),
            Some("+255712345678")
        );
        assert_eq!(prefix_of("+999", 2), None);
    }

    #[test]
    fn keys_follow_the_mode_the_watches_and_the_safe_list() {
        let ip: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let f = fraud();
        assert_eq!(
            f.keys("+255712345678", Some(ip)),
            Keys {
                prefix: Some("+25571".into()),
                ip: Some("2001:db8:1:2::/64".into())
            }
        );
        assert_eq!(f.keys("+255712345678", None).ip, None);
        let prefix_only = Fraud {
            per: vec![Watch::Prefix],
            ..fraud()
        };
        assert_eq!(prefix_only.keys("+255712345678", Some(ip)).ip, None);
        let off = Fraud {
            mode: Mode::Off,
            ..fraud()
        };
        assert_eq!(off.keys("+255712345678", Some(ip)), Keys::default());
        let safe = Fraud {
            safe_numbers: vec!["+2557123".into()],
            ..fraud()
        };
        assert_eq!(safe.keys("+255712345678", Some(ip)), Keys::default());
        assert!(safe.keys("+255713345678", Some(ip)).prefix.is_some());
    }

    #[test]
    fn the_allow_list_takes_regions_and_calling_codes() {
        let by_region = Fraud {
            allow_countries: vec![Country::Region(Id::TZ), Country::Region(Id::CA)],
            ..fraud()
        };
        assert_eq!(by_region.check_country("+255712345678"), Ok(()));
        assert_eq!(by_region.check_country("+14165550123"), Ok(()));
        let us = by_region.check_country("+12025550123").unwrap_err();
        assert_eq!(us.detail, "sending to this country (US, +1) is not allowed");
        let ke = by_region.check_country("+254712345678").unwrap_err();
        assert_eq!(
            ke.detail,
            "sending to this country (KE, +254) is not allowed"
        );

        let by_code = Fraud {
            allow_countries: vec![Country::Code(255), Country::Code(1)],
            ..fraud()
        };
        assert_eq!(by_code.check_country("+12025550123"), Ok(()));
        assert_eq!(by_code.check_country("+14165550123"), Ok(()));
        let ke = by_code.check_country("+254712345678").unwrap_err();
        assert_eq!(ke.detail, "sending to this country (+254) is not allowed");

        // Empty: all; a safe number passes any list; the list holds with the guard off.
        assert_eq!(fraud().check_country("+254712345678"), Ok(()));
        let safe = Fraud {
            safe_numbers: vec!["+254712345678".into()],
            mode: Mode::Off,
            ..by_code.clone()
        };
        assert_eq!(safe.check_country("+254712345678"), Ok(()));
        assert!(safe.check_country("+254712345679").is_err());
    }

    #[test]
    fn a_trip_reads_well_in_an_event_and_says_less_to_the_client() {
        let trip = Trip {
            watch: Watch::Prefix,
            key: "+25571".into(),
            estimate: Estimate {
                sends: 25,
                unverified: 24,
                share: 0.96,
            },
            window: Duration::from_secs(3600),
            max_unverified_share: 0.8,
        };
        assert_eq!(
            trip.to_string(),
            "prefix +25571: 24 of 25 codes in the last 1h not verified (96%, over 80%)"
        );
        assert_eq!(
            trip.public(),
            "too many recent codes to numbers starting +25571 were never verified"
        );
        let ip = Trip {
            watch: Watch::Ip,
            key: "192.0.2.7".into(),
            ..trip.clone()
        };
        assert_eq!(
            describe(&[trip, ip]),
            "prefix +25571: 24 of 25 codes in the last 1h not verified (96%, over 80%); \
             ip 192.0.2.7: 24 of 25 codes in the last 1h not verified (96%, over 80%)"
        );
    }
}
