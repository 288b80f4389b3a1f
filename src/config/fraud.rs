//! `[fraud]`: SMS-pumping protection: the mode of the guard, the country allow-list, the safe
//! numbers and the guard's thresholds. What the values mean is in `otp::fraud`.

use std::fmt;
use std::time::Duration;

use phonenumber::country::Id;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::value;
use crate::otp::fraud::{Country, Fraud, Mode, Watch};

const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudConfig {
    pub mode: FraudMode,
    #[serde(deserialize_with = "countries")]
    pub allow_countries: Vec<Country>,
    #[serde(deserialize_with = "safe_numbers")]
    pub safe_numbers: Vec<String>,
    #[serde(deserialize_with = "value::duration_in::<_, 60, { 30 * DAY }>")]
    pub window: Duration,
    #[serde(deserialize_with = "value::int_in::<_, u32, 1, 1_000_000>")]
    pub min_sends: u32,
    #[serde(deserialize_with = "share")]
    pub max_unverified_share: f64,
    pub per: Vec<FraudWatch>,
    #[serde(deserialize_with = "value::int_in::<_, u8, 0, 12>")]
    pub prefix_digits: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FraudMode {
    Off,
    Record,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FraudWatch {
    Prefix,
    Ip,
}

impl Default for FraudConfig {
    fn default() -> Self {
        let f = Fraud::default();
        Self {
            mode: match f.mode {
                Mode::Off => FraudMode::Off,
                Mode::Record => FraudMode::Record,
                Mode::Block => FraudMode::Block,
            },
            allow_countries: f.allow_countries,
            safe_numbers: f.safe_numbers,
            window: f.window,
            min_sends: f.min_sends,
            max_unverified_share: f.max_unverified_share,
            per: f
                .per
                .iter()
                .map(|w| match w {
                    Watch::Prefix => FraudWatch::Prefix,
                    Watch::Ip => FraudWatch::Ip,
                })
                .collect(),
            prefix_digits: f.prefix_digits,
        }
    }
}

impl FraudConfig {
    /// What the engine applies.
    pub fn to_fraud(&self) -> Fraud {
        Fraud {
            mode: match self.mode {
                FraudMode::Off => Mode::Off,
                FraudMode::Record => Mode::Record,
                FraudMode::Block => Mode::Block,
            },
            allow_countries: self.allow_countries.clone(),
            safe_numbers: self.safe_numbers.clone(),
            window: self.window,
            min_sends: self.min_sends,
            max_unverified_share: self.max_unverified_share,
            per: self
                .per
                .iter()
                .map(|w| match w {
                    FraudWatch::Prefix => Watch::Prefix,
                    FraudWatch::Ip => Watch::Ip,
                })
                .collect(),
            prefix_digits: self.prefix_digits,
        }
    }

    /// Checks across values, once the table is read: an error message and its key.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        for (i, w) in self.per.iter().enumerate() {
            if self.per.iter().take(i).any(|seen| seen == w) {
                return Err(("per", format!("{w:?} is listed twice").to_lowercase()));
            }
        }
        Ok(())
    }
}

/// A share in `0 ≤ x < 1` (1 could never be exceeded: use `mode = "off"` for no guard).
fn share<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let x = f64::deserialize(d)?;
    if !(0.0..1.0).contains(&x) {
        return Err(de::Error::custom(format!(
            "must be at least 0 and below 1 (0.8 is 80%), got {x}"
        )));
    }
    Ok(x)
}

fn countries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Country>, D::Error> {
    let list = Vec::<CountryIn>::deserialize(d)?;
    Ok(list.into_iter().map(|c| c.0).collect())
}

fn safe_numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Vec::<SafeNumber>::deserialize(d)?;
    Ok(list.into_iter().map(|n| n.0).collect())
}

/// "TZ" (ISO 3166 alpha-2, any case) or "+255" (a country calling code). Checked inside the
/// visitor so that toml places the error on the element (see `channel::Prefix`).
struct CountryIn(Country);

impl<'de> Deserialize<'de> for CountryIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CountryVisitor)
    }
}

struct CountryVisitor;

impl de::Visitor<'_> for CountryVisitor {
    type Value = CountryIn;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a country such as \"TZ\" or a calling code such as \"+255\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<CountryIn, E> {
        parse_country(text).map(CountryIn).map_err(E::custom)
    }
}

fn parse_country(text: &str) -> Result<Country, String> {
    let db = &*phonenumber::metadata::DATABASE;
    if let Some(digits) = text.strip_prefix('+') {
        let code = digits
            .parse::<u16>()
            .ok()
            .filter(|c| digits.len() <= 3 && !digits.starts_with('0') && db.by_code(c).is_some());
        return code.map(Country::Code).ok_or_else(|| {
            format!("{text:?} is not a country calling code (such as \"+255\" or \"+1\")")
        });
    }
    let upper = text.to_ascii_uppercase();
    let region = (upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()))
        .then(|| upper.parse::<Id>().ok())
        .flatten()
        .filter(|id| db.by_id(id.as_ref()).is_some());
    region.map(Country::Region).ok_or_else(|| {
        format!(
            "must be an ISO 3166 country code such as \"TZ\" or a calling code such as \"+255\", got {text:?}"
        )
    })
}

/// An E.164 number or the start of one: "+", a country calling code, and at most 15 digits
/// in all.
struct SafeNumber(String);

impl<'de> Deserialize<'de> for SafeNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SafeNumberVisitor)
    }
}

struct SafeNumberVisitor;

impl de::Visitor<'_> for SafeNumberVisitor {
    type Value = SafeNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or prefix such as \"+255712345678\" or \"+25571\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<SafeNumber, E> {
        let digits = text.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!(
                "must be \"+\" then 1 to 15 digits (E.164, no spaces), got {text:?}"
            )));
        }
        if crate::otp::phone::calling_code(text).is_none() {
            return Err(E::custom(format!(
                "{text:?} does not start with a country calling code"
            )));
        }
        Ok(SafeNumber(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err_at, parse};
    use super::*;

    #[test]
    fn defaults_record_with_both_guards() {
        let f = parse("").fraud.to_fraud();
        assert_eq!(f, Fraud::default());
        assert_eq!(f.mode, Mode::Record);
        assert!(f.allow_countries.is_empty() && f.safe_numbers.is_empty());
        assert_eq!(f.window, Duration::from_secs(3600));
        assert_eq!((f.min_sends, f.max_unverified_share), (20, 0.8));
        assert_eq!(f.per, [Watch::Prefix, Watch::Ip]);
        assert_eq!(f.prefix_digits, 2);
    }

    #[test]
    fn every_key_parses() {
        let f = parse(
            "[fraud]\nmode = \"block\"\nallow_countries = [\"TZ\", \"ke\", \"+1\"]\n\
             safe_numbers = [\"+255712345678\", \"+25475\"]\nwindow = \"30m\"\nmin_sends = 5\n\
             max_unverified_share = 0.5\nper = [\"ip\"]\nprefix_digits = 3\n",
        )
        .fraud
        .to_fraud();
        assert_eq!(f.mode, Mode::Block);
        assert_eq!(
            f.allow_countries,
            [
                Country::Region(Id::TZ),
                Country::Region(Id::KE),
                Country::Code(1)
            ]
        );
        assert_eq!(f.safe_numbers, ["+255712345678", "+25475"]);
        assert_eq!(f.window, Duration::from_secs(1800));
        assert_eq!((f.min_sends, f.max_unverified_share), (5, 0.5));
        assert_eq!(
            (f.per.as_slice(), f.prefix_digits),
            ([Watch::Ip].as_slice(), 3)
        );
        let off = parse("[fraud]\nmode = \"off\"\nper = []\nmax_unverified_share = 0\n").fraud;
        assert_eq!(off.to_fraud().mode, Mode::Off);
        assert!(off.per.is_empty());
    }

    #[test]
    fn bad_values_name_the_key_and_element() {
        let msg = err_at("[fraud]\nmode = \"warn\"\n", 2, 8, "fraud.mode");
        assert!(msg.contains("record"), "{msg}");
        let msg = err_at(
            "[fraud]\nallow_countries = [\"TZ\", \"Tanzania\"]\n",
            2,
            26,
            "fraud.allow_countries[1]",
        );
        assert!(msg.contains("ISO 3166"), "{msg}");
        err_at(
            "[fraud]\nallow_countries = [\"XX\"]\n",
            2,
            20,
            "fraud.allow_countries[0]",
        );
        let msg = err_at(
            "[fraud]\nallow_countries = [\"+2550\"]\n",
            2,
            20,
            "fraud.allow_countries[0]",
        );
        assert!(msg.contains("not a country calling code"), "{msg}");
        err_at(
            "[fraud]\nallow_countries = [\"+999\"]\n",
            2,
            20,
            "fraud.allow_countries[0]",
        );
        let msg = err_at(
            "[fraud]\nsafe_numbers = [\"+255 712 345 678\"]\n",
            2,
            17,
            "fraud.safe_numbers[0]",
        );
        assert!(msg.contains("E.164"), "{msg}");
        let msg = err_at(
            "[fraud]\nsafe_numbers = [\"+25\"]\n",
            2,
            17,
            "fraud.safe_numbers[0]",
        );
        assert!(msg.contains("calling code"), "{msg}");
        err_at("[fraud]\nwindow = \"10s\"\n", 2, 10, "fraud.window");
        err_at("[fraud]\nmin_sends = 0\n", 2, 13, "fraud.min_sends");
        let msg = err_at(
            "[fraud]\nmax_unverified_share = 1.0\n",
            2,
            24,
            "fraud.max_unverified_share",
        );
        assert!(msg.contains("below 1"), "{msg}");
        err_at(
            "[fraud]\nmax_unverified_share = \"80%\"\n",
            2,
            24,
            "fraud.max_unverified_share",
        );
        err_at("[fraud]\nper = [\"app\"]\n", 2, 8, "fraud.per[0]");
        err_at(
            "[fraud]\nprefix_digits = 13\n",
            2,
            17,
            "fraud.prefix_digits",
        );
        let msg = err_at("[fraud]\nblock = true\n", 2, 1, "fraud.block");
        assert!(msg.starts_with("unknown key"), "{msg}");
    }

    #[test]
    fn a_watch_listed_twice_is_refused() {
        let msg = err_at(
            "[fraud]\nper = [\"ip\", \"prefix\", \"ip\"]\n",
            2,
            7,
            "fraud.per",
        );
        assert_eq!(msg, "ip is listed twice");
    }
}
