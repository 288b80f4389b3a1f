//! `[[webhook]]`: where to POST the events of an app's verifications, signed with a secret.
//!
//! `app = "*"` reports every app. `events` defaults to every event; a name that no event has
//! is refused (a typo would otherwise silently report nothing). The secret is read from
//! `secret_file` at load (and at each reload), never written inline in the config.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::locate::{ConfigError, Locator};
use super::secret::{Secret, read_secret_file};
use super::value::{self, UNBOUNDED};

/// Events a webhook can ask for: those of GET /otp/logs (API.md).
pub const EVENTS: [&str; 15] = [
    "created",
    "queued",
    "submitted",
    "delivered",
    "undelivered",
    "verify_failed",
    "approved",
    "expired",
    "resent",
    "canceled",
    "rate_limited",
    "blocked",
    "channel_error",
    // Also written by otpd, beyond API.md's list: the fraud guard let a suspicious send
    // through (mode "record"), and a test number's send (nothing sent).
    "flagged",
    "test_number",
];

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Names the webhook in the queue and the delivery log: `name`, else the URL.
    pub name: String,
    /// `None` for `app = "*"`: every app.
    pub app: Option<String>,
    pub url: Uri,
    /// From `tls_ca_file`: trust only its CAs for https (`None`: the Mozilla roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub secret: Secret,
    /// `None`: every event.
    pub events: Option<Vec<String>>,
    /// For one HTTP try, connection included.
    pub timeout: Duration,
    /// A delivery not made within this time after its event is given up (`failed`).
    pub max_age: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Deliveries to this webhook in flight at once.
    pub max_in_flight: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    name: Option<String>,
    app: Option<String>,
    #[serde(default, deserialize_with = "url")]
    url: Option<Uri>,
    secret_file: Option<PathBuf>,
    tls_ca_file: Option<PathBuf>,
    events: Option<Vec<EventName>>,
    #[serde(
        default = "timeout",
        deserialize_with = "value::duration_in::<_, 1, 300>"
    )]
    timeout: Duration,
    #[serde(
        default = "max_age",
        deserialize_with = "value::duration_in::<_, 1, UNBOUNDED>"
    )]
    max_age: Duration,
    // Zero is refused after parsing; below a second is allowed (tests, a receiver next door).
    #[serde(
        default = "retry_min",
        deserialize_with = "value::duration_in::<_, 0, UNBOUNDED>"
    )]
    retry_min: Duration,
    #[serde(
        default = "retry_max",
        deserialize_with = "value::duration_in::<_, 0, UNBOUNDED>"
    )]
    retry_max: Duration,
    #[serde(
        default = "max_in_flight",
        deserialize_with = "value::int_in::<_, usize, 1, 64>"
    )]
    max_in_flight: usize,
}

fn timeout() -> Duration {
    Duration::from_secs(10)
}
fn max_age() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn retry_min() -> Duration {
    Duration::from_secs(10)
}
fn retry_max() -> Duration {
    Duration::from_secs(3600)
}
fn max_in_flight() -> usize {
    8
}

/// An absolute http or https URL with a host.
fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uri>, D::Error> {
    let text = String::deserialize(d)?;
    let uri: Uri = text
        .parse()
        .map_err(|e| de::Error::custom(format!("invalid URL {text:?}: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(de::Error::custom(format!(
                "must be an http:// or https:// URL, got {text:?}"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(de::Error::custom(format!("has no host: {text:?}")));
    }
    // The name defaults to the URL and shows in logs and the delivery log; a password in it
    // would show too. The signature is what authenticates otpd to the receiver.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(de::Error::custom(
            "must not hold credentials (user:password@); receivers check the signature instead",
        ));
    }
    Ok(Some(uri))
}

/// The URL without its query string, which may hold a token.
fn default_name(url: &Uri) -> String {
    format!(
        "{}://{}{}",
        url.scheme_str().unwrap_or("http"),
        url.authority().map_or("", |a| a.as_str()),
        url.path()
    )
}

/// One of [`EVENTS`], checked inside its visitor so the error points at the element.
struct EventName(String);

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(EventVisitor)
    }
}

struct EventVisitor;

impl de::Visitor<'_> for EventVisitor {
    type Value = EventName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event name such as \"approved\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<EventName, E> {
        if !EVENTS.contains(&text) {
            return Err(E::custom(format!(
                "unknown event {text:?} (expected one of: {})",
                EVENTS.join(", ")
            )));
        }
        Ok(EventName(text.to_string()))
    }
}

pub(super) fn build(
    raw: Vec<RawWebhook>,
    loc: &Locator<'_>,
) -> Result<Vec<WebhookConfig>, ConfigError> {
    let mut hooks: Vec<WebhookConfig> = Vec::with_capacity(raw.len());
    for (i, w) in raw.into_iter().enumerate() {
        let hook = w.build(i, loc)?;
        if hooks.iter().any(|h| h.name == hook.name) {
            let key = if loc.keys("webhook", i).iter().any(|(k, _)| *k == "name") {
                "name"
            } else {
                "url"
            };
            let msg = format!(
                "duplicate webhook name {:?} (give each webhook of the same URL its own `name`)",
                hook.name
            );
            return Err(loc.error("webhook", i, key, true, msg));
        }
        hooks.push(hook);
    }
    Ok(hooks)
}

impl RawWebhook {
    fn build(self, i: usize, loc: &Locator<'_>) -> Result<WebhookConfig, ConfigError> {
        let err =
            |key: &str, at_value: bool, msg: String| loc.error("webhook", i, key, at_value, msg);
        let missing = |key: &str| err(key, false, "missing required key".into());
        let app = self.app.ok_or_else(|| missing("app"))?;
        if app.is_empty() {
            return Err(err(
                "app",
                true,
                "must be an app id, or \"*\" for every app".into(),
            ));
        }
        let url = self.url.ok_or_else(|| missing("url"))?;
        let path = self.secret_file.ok_or_else(|| missing("secret_file"))?;
        let secret = read_secret_file(&path).map_err(|e| {
            err(
                "secret_file",
                true,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        if secret.expose().is_empty() {
            let msg = format!("{} is empty; a webhook needs a secret", path.display());
            return Err(err("secret_file", true, msg));
        }
        let tls = match &self.tls_ca_file {
            None => None,
            Some(path) => Some(
                crate::webhook::client::tls_config(Some(path))
                    .map_err(|e| err("tls_ca_file", true, e))?,
            ),
        };
        let events = self
            .events
            .map(|e| e.into_iter().map(|e| e.0).collect::<Vec<_>>());
        if events.as_ref().is_some_and(Vec::is_empty) {
            let msg = "is empty; leave it out for every event".to_string();
            return Err(err("events", true, msg));
        }
        if self.retry_min.is_zero() {
            return Err(err("retry_min", true, "must be more than 0s".into()));
        }
        if self.retry_max < self.retry_min {
            let msg = format!(
                "must be at least retry_min ({}), got {}",
                humantime::format_duration(self.retry_min),
                humantime::format_duration(self.retry_max)
            );
            return Err(err("retry_max", true, msg));
        }
        Ok(WebhookConfig {
            name: self.name.unwrap_or_else(|| default_name(&url)),
            app: (app != "*").then_some(app),
            url,
            tls,
            secret,
            events,
            timeout: self.timeout,
            max_age: self.max_age,
            retry_min: self.retry_min,
            retry_max: self.retry_max,
            max_in_flight: self.max_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err_at, parse};
    use super::*;

    /// A secret file under the temp dir, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, content: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("otpd-hook-{}-{name}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn hook(secret: &TempFile, extra: &str) -> String {
        format!(
            "[[webhook]]\napp = \"shop\"\nurl = \"https://example.com/hook\"\nsecret_file = {:?}\n{extra}",
            secret.0
        )
    }

    #[test]
    fn defaults_and_values() {
        let s = TempFile::new("ok", "whsec\n");
        let c = parse(&hook(&s, ""));
        let w = &c.webhooks[0];
        assert_eq!(w.name, "https://example.com/hook");
        assert_eq!(w.app.as_deref(), Some("shop"));
        assert_eq!(w.secret.expose(), "whsec");
        assert_eq!(w.events, None);
        assert_eq!(w.timeout, Duration::from_secs(10));
        assert_eq!(w.max_age, Duration::from_secs(86400));
        assert_eq!((w.retry_min, w.retry_max), (retry_min(), retry_max()));
        assert_eq!(w.max_in_flight, 8);
        assert!(!format!("{c:?}").contains("whsec"));

        let text = hook(
            &s,
            "name = \"n\"\nevents = [\"approved\", \"expired\"]\ntimeout = \"2s\"\n\
             retry_min = \"50ms\"\nretry_max = \"1s\"\nmax_age = \"1m\"\n",
        );
        let w = parse(&text).webhooks.remove(0);
        assert_eq!(w.name, "n");
        assert_eq!(w.events.unwrap(), ["approved", "expired"]);
        assert_eq!(w.retry_min, Duration::from_millis(50));
        let star = parse(&hook(&s, "").replace("\"shop\"", "\"*\""));
        assert_eq!(star.webhooks[0].app, None);
        let query = parse(&hook(&s, "").replace("/hook", "/hook?token=t0k"));
        assert_eq!(query.webhooks[0].name, "https://example.com/hook");
        assert_eq!(query.webhooks[0].url.query(), Some("token=t0k"));
    }

    #[test]
    fn refusals_name_line_and_key() {
        let s = TempFile::new("refuse", "whsec");
        let msg = err_at(
            &hook(&s, "events = [\"approved\", \"aproved\"]\n"),
            5,
            23,
            "webhook[0].events[1]",
        );
        assert!(msg.starts_with("unknown event \"aproved\""), "{msg}");
        let text = hook(&s, "").replace("https://example.com/hook", "ftp://x/y");
        let msg = err_at(&text, 3, 7, "webhook[0].url");
        assert!(msg.contains("http:// or https://"), "{msg}");
        let text = hook(&s, "").replace("https://example.com/hook", "/relative");
        err_at(&text, 3, 7, "webhook[0].url");
        let text = hook(&s, "").replace("https://", "https://u:pw@");
        let msg = err_at(&text, 3, 7, "webhook[0].url");
        assert!(msg.contains("credentials"), "{msg}");
        let msg = err_at(
            &hook(&s, "retry_max = \"1s\"\n"),
            5,
            13,
            "webhook[0].retry_max",
        );
        assert!(msg.starts_with("must be at least retry_min"), "{msg}");
        err_at(&hook(&s, "events = []\n"), 5, 10, "webhook[0].events");
        err_at(&hook(&s, "colour = 1\n"), 5, 1, "webhook[0].colour");
        let msg = err_at(
            &hook(&s, "tls_ca_file = \"/nonexistent/ca\"\n"),
            5,
            15,
            "webhook[0].tls_ca_file",
        );
        assert!(msg.starts_with("cannot read /nonexistent/ca"), "{msg}");
        let msg = err_at(
            &hook(&s, &format!("tls_ca_file = {:?}\n", s.0)),
            5,
            15,
            "webhook[0].tls_ca_file",
        );
        assert!(msg.starts_with("no certificate in"), "{msg}");
        let text = format!("{}{}", hook(&s, ""), hook(&s, ""));
        let msg = err_at(&text, 7, 7, "webhook[1].url");
        assert!(msg.starts_with("duplicate webhook name"), "{msg}");
        err_at("[[webhook]]\nurl = \"http://x/\"\n", 1, 1, "webhook[0].app");
    }

    #[test]
    fn secret_file_must_exist_and_not_be_empty() {
        let empty = TempFile::new("empty", "\n");
        let msg = err_at(&hook(&empty, ""), 4, 15, "webhook[0].secret_file");
        assert!(msg.contains("is empty"), "{msg}");
        let text =
            "[[webhook]]\napp = \"a\"\nurl = \"http://x/\"\nsecret_file = \"/nonexistent/s\"\n";
        let msg = err_at(text, 4, 15, "webhook[0].secret_file");
        assert!(msg.starts_with("cannot read /nonexistent/s"), "{msg}");
    }
}
