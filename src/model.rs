//! Plain data shared by the layers: statuses, delivery states, the verification record and
//! timestamps. No behaviour beyond conversions lives here.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC. Every layer takes "now" as one of these, so tests
/// can run time at any speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_system(t: SystemTime) -> Self {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }

    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// The time from `self` until `later`, zero if `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }

    /// RFC 3339 in UTC with milliseconds, as the API shows times.
    pub fn rfc3339(self) -> String {
        let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0));
        humantime::format_rfc3339_millis(t).to_string()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text)
            .map(Timestamp::from_system)
            .map_err(serde::de::Error::custom)
    }
}

/// A rate limit "COUNT/DURATION" of config `[limits]`: at most `count` in `window`. The text
/// is kept as written, to name the limit in replies ("per_recipient 5/10m").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub window: Duration,
    pub text: String,
}

impl Rate {
    /// Parses "5/10m": a count of at least 1, a slash, a humantime duration of at least 1 s.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = |why: &str| format!("{why}: write COUNT/DURATION, e.g. \"5/10m\"; got {text:?}");
        let (count, window) = text.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| bad("the count is not a whole number"))?;
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        let window = humantime::parse_duration(window.trim())
            .map_err(|e| bad(&format!("bad duration ({e})")))?;
        if window < Duration::from_secs(1) {
            return Err(bad("the duration must be at least 1s"));
        }
        Ok(Rate {
            count,
            window,
            text: text.trim().to_string(),
        })
    }

    /// The window in milliseconds, as the store counts time.
    pub fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where time comes from. The daemon uses the system clock; tests inject their own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system(SystemTime::now())
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_enum! {
    /// The status of a verification, exactly as API.md names them.
    Status {
        Pending => "pending",
        Approved => "approved",
        Expired => "expired",
        Canceled => "canceled",
        MaxAttemptsReached => "max_attempts_reached",
        Failed => "failed",
        Blocked => "blocked",
    }
}

string_enum! {
    /// The delivery state of a verification's latest message, as API.md names them.
    DeliveryState {
        Queued => "queued",
        Submitted => "submitted",
        Delivered => "delivered",
        Undelivered => "undelivered",
        Expired => "expired",
        Rejected => "rejected",
        Unknown => "unknown",
    }
}

impl DeliveryState {
    /// A final state: no later report changes it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered
                | DeliveryState::Undelivered
                | DeliveryState::Expired
                | DeliveryState::Rejected
        )
    }
}

/// The delivery of a verification's latest message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub channel: Option<String>,
    pub message_id: Option<String>,
    pub submitted_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub error: Option<String>,
}

/// One verification as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub id: String,
    pub appid: String,
    pub recipient: String,
    pub status: Status,
    pub channel_request: Option<String>,
    pub sender: Option<String>,
    pub code_length: u8,
    pub ttl_ms: i64,
    /// HMAC of the current code; `None` until the dispatcher draws one.
    pub code_hash: Option<Vec<u8>>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_send_at: Timestamp,
    pub verified_at: Option<Timestamp>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub sends: u32,
    pub delivery: Delivery,
}

impl Delivery {
    /// A message waiting for a channel.
    pub fn queued() -> Delivery {
        Delivery {
            state: DeliveryState::Queued,
            channel: None,
            message_id: None,
            submitted_at: None,
            delivered_at: None,
            error: None,
        }
    }
}

impl Verification {
    /// A verification just created at `now`: pending, no code drawn yet, its message queued.
    pub fn new_pending(
        id: String,
        appid: String,
        recipient: String,
        now: Timestamp,
        ttl: Duration,
        code_length: u8,
        max_attempts: u32,
    ) -> Verification {
        Verification {
            id,
            appid,
            recipient,
            status: Status::Pending,
            channel_request: None,
            sender: None,
            code_length,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            code_hash: None,
            created_at: now,
            expires_at: now.plus(ttl),
            last_send_at: now,
            verified_at: None,
            attempts: 0,
            max_attempts,
            sends: 1,
            delivery: Delivery::queued(),
        }
    }

    pub fn attempts_left(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            Status::Pending,
            Status::Approved,
            Status::Expired,
            Status::Canceled,
            Status::MaxAttemptsReached,
            Status::Failed,
            Status::Blocked,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(Status::parse("Pending"), None);
    }

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_700_000_000_123).rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn rates_parse_count_slash_duration() {
        let r = Rate::parse("5/10m").unwrap();
        assert_eq!((r.count, r.window), (5, Duration::from_secs(600)));
        assert_eq!(r.to_string(), "5/10m");
        assert_eq!(Rate::parse(" 10 / 24h ").unwrap().window_ms(), 86_400_000);
        for (bad, why) in [
            ("5", "no '/'"),
            ("x/10m", "count"),
            ("-1/10m", "count"),
            ("0/10m", "at least 1"),
            ("5/", "bad duration"),
            ("5/10", "bad duration"),
            ("5/10 parsecs", "bad duration"),
            ("5/500ms", "at least 1s"),
            ("99999999999/1h", "count"),
        ] {
            let err = Rate::parse(bad).unwrap_err();
            assert!(
                err.contains(why) && err.contains("COUNT/DURATION"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn until_never_goes_negative() {
        assert_eq!(Timestamp(10).until(Timestamp(5)), Duration::ZERO);
        assert_eq!(Timestamp(5).until(Timestamp(10)), Duration::from_millis(5));
    }
}
