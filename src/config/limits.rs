//! `[limits]`: rate limits, the per-recipient lockout, and the proxies whose
//! `X-Forwarded-For` is believed. What the values mean is in `otp::limits`.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::value;
use crate::model::Rate;

const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// At most 100 a window: the store keeps a recipient's send times (see `otp::limits`).
    #[serde(deserialize_with = "rates::<_, 100>")]
    pub per_recipient: Vec<Rate>,
    #[serde(deserialize_with = "rates::<_, { u32::MAX }>")]
    pub per_app: Vec<Rate>,
    #[serde(deserialize_with = "rates::<_, { u32::MAX }>")]
    pub per_key: Vec<Rate>,
    #[serde(deserialize_with = "rates::<_, { u32::MAX }>")]
    pub per_ip: Vec<Rate>,
    #[serde(deserialize_with = "rates::<_, { u32::MAX }>")]
    pub per_prefix: Vec<Rate>,
    #[serde(deserialize_with = "proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// Failed verifies in a row that lock a recipient out; 0: no lockout.
    #[serde(deserialize_with = "value::int_in::<_, u32, 0, 1000>")]
    pub lockout_after: u32,
    #[serde(deserialize_with = "value::duration_in::<_, 1, DAY>")]
    pub lockout: Duration,
    #[serde(deserialize_with = "value::duration_in::<_, 1, { 30 * DAY }>")]
    pub lockout_max: Duration,
    #[serde(deserialize_with = "value::duration_in::<_, 1, { 365 * DAY }>")]
    pub lockout_reset: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = crate::otp::Limits::default();
        Self {
            per_recipient: l.per_recipient,
            per_app: l.per_app,
            per_key: l.per_key,
            per_ip: l.per_ip,
            per_prefix: l.per_prefix,
            trusted_proxies: l.trusted_proxies,
            lockout_after: l.lockout.after,
            lockout: l.lockout.first,
            lockout_max: l.lockout.max,
            lockout_reset: l.lockout.reset,
        }
    }
}

impl LimitsConfig {
    /// What the engine applies.
    pub fn to_limits(&self) -> crate::otp::Limits {
        crate::otp::Limits {
            per_recipient: self.per_recipient.clone(),
            per_app: self.per_app.clone(),
            per_key: self.per_key.clone(),
            per_ip: self.per_ip.clone(),
            per_prefix: self.per_prefix.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            lockout: crate::otp::limits::lockout::Lockout {
                after: self.lockout_after,
                first: self.lockout,
                max: self.lockout_max,
                reset: self.lockout_reset,
            },
        }
    }
}

fn rates<'de, D: Deserializer<'de>, const MAX: u32>(d: D) -> Result<Vec<Rate>, D::Error> {
    let rates = Vec::<RateIn<MAX>>::deserialize(d)?;
    Ok(rates.into_iter().map(|r| r.0).collect())
}

fn proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let nets = Vec::<Proxy>::deserialize(d)?;
    Ok(nets.into_iter().map(|p| p.0).collect())
}

/// One "COUNT/DURATION" of at most `MAX` in a window of at most 30 days. Checked inside the
/// visitor so that toml places the error on the element (see `channel::Prefix`).
struct RateIn<const MAX: u32>(Rate);

impl<'de, const MAX: u32> Deserialize<'de> for RateIn<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(RateVisitor::<MAX>)
    }
}

struct RateVisitor<const MAX: u32>;

impl<const MAX: u32> de::Visitor<'_> for RateVisitor<MAX> {
    type Value = RateIn<MAX>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rate such as \"5/10m\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RateIn<MAX>, E> {
        let rate = Rate::parse(text).map_err(E::custom)?;
        if rate.count > MAX {
            return Err(E::custom(format!(
                "the count must be at most {MAX}, got {text:?}"
            )));
        }
        if rate.window > Duration::from_secs(30 * DAY) {
            return Err(E::custom(format!(
                "the duration must be at most 30 days, got {text:?}"
            )));
        }
        Ok(RateIn(rate))
    }
}

/// An address ("10.0.0.1", "::1") or a network ("10.0.0.0/8", "fd00::/8").
struct Proxy(IpNet);

impl<'de> Deserialize<'de> for Proxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ProxyVisitor)
    }
}

struct ProxyVisitor;

impl de::Visitor<'_> for ProxyVisitor {
    type Value = Proxy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an IP address or network such as \"10.0.0.0/8\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Proxy, E> {
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                E::custom(format!(
                    "must be an IP address or a network like \"10.0.0.0/8\", got {text:?}"
                ))
            })?;
        Ok(Proxy(net.trunc()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err_at, parse};
    use super::*;

    #[test]
    fn defaults_are_the_per_recipient_limits_and_the_lockout() {
        let l = parse("").limits;
        let texts: Vec<&str> = l.per_recipient.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["5/10m", "10/24h"]);
        assert!(l.per_app.is_empty() && l.per_key.is_empty());
        assert!(l.per_ip.is_empty() && l.per_prefix.is_empty());
        assert!(l.trusted_proxies.is_empty());
        assert_eq!(l.lockout_after, 10);
        assert_eq!(l.lockout, Duration::from_secs(60));
        assert_eq!(l.lockout_max, Duration::from_secs(DAY));
        assert_eq!(l.lockout_reset, Duration::from_secs(DAY));
    }

    #[test]
    fn every_key_parses() {
        let l = parse(
            "[limits]\nper_recipient = [\"3/1h\"]\nper_app = [\"1000/1m\", \"20000/1h\"]\n\
             per_key = [\"500/1m\"]\nper_ip = [\"50/1h\"]\nper_prefix = [\"2000/1h\"]\n\
             trusted_proxies = [\"10.0.0.0/8\", \"::1\", \"192.168.1.7/24\"]\n\
             lockout_after = 0\nlockout = \"5m\"\nlockout_max = \"2h\"\nlockout_reset = \"7d\"\n",
        )
        .limits;
        assert_eq!(l.per_recipient[0].count, 3);
        assert_eq!(l.per_app[1].window, Duration::from_secs(3600));
        let proxies: Vec<String> = l.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "::1/128", "192.168.1.0/24"]);
        let limits = parse("[limits]\nper_recipient = []\n").limits.to_limits();
        assert!(limits.per_recipient.is_empty());
        assert_eq!(limits.lockout.after, 10);
    }

    #[test]
    fn bad_values_name_the_key_and_element() {
        let msg = err_at(
            "[limits]\nper_recipient = [\"5/10m\", \"10/24 hours please\"]\n",
            2,
            27,
            "limits.per_recipient[1]",
        );
        assert!(msg.contains("bad duration"), "{msg}");
        let msg = err_at(
            "[limits]\nper_app = [\"0/1m\"]\n",
            2,
            12,
            "limits.per_app[0]",
        );
        assert!(msg.contains("at least 1"), "{msg}");
        let msg = err_at(
            "[limits]\nper_recipient = [\"101/1h\"]\n",
            2,
            18,
            "limits.per_recipient[0]",
        );
        assert!(msg.contains("at most 100"), "{msg}");
        err_at(
            "[limits]\nper_ip = [\"5/31d\"]\n",
            2,
            11,
            "limits.per_ip[0]",
        );
        err_at("[limits]\nper_key = \"5/1m\"\n", 2, 11, "limits.per_key");
        let msg = err_at(
            "[limits]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            2,
            20,
            "limits.trusted_proxies[0]",
        );
        assert!(msg.contains("IP address"), "{msg}");
        err_at(
            "[limits]\nlockout_after = -1\n",
            2,
            17,
            "limits.lockout_after",
        );
        err_at("[limits]\nlockout = \"0s\"\n", 2, 11, "limits.lockout");
        let msg = err_at("[limits]\nlockot = \"1m\"\n", 2, 1, "limits.lockot");
        assert!(msg.starts_with("unknown key"), "{msg}");
    }

    #[test]
    fn the_longest_lock_is_at_least_the_first() {
        let msg = err_at(
            "[limits]\nlockout = \"1h\"\nlockout_max = \"10m\"\n",
            3,
            15,
            "limits.lockout_max",
        );
        assert_eq!(msg, "must be at least lockout (1h), got 10m");
    }
}
