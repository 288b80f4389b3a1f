//! The otpd configuration file (TOML).
//!
//! [`Config::load`] reads and checks the whole file up front, so that a typo
//! stops the daemon at start instead of surfacing at the first SMS. Every
//! refusal names the file, line, column and dotted key path, e.g.
//! `otpd.toml:14:10: channel[1].window: must be between 1 and 1000, got 0`.
//!
//! How: toml parses the text into a spanned document; serde then reads it
//! with `deny_unknown_fields` everywhere and value checks inside
//! deserialization (see `value`), so toml gives the span and
//! `serde_path_to_error` the key path. Checks across fields run afterwards
//! and find their key's position in the spanned document (see `locate`).
//! An empty file gives [`Config::default`].

mod apps;
mod channel;
mod fraud;
mod limits;
mod locate;
mod secret;
mod sections;
mod value;
mod webhook;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use apps::{AppOtpConfig, PrefixTemplates, TestNumberConfig};
pub use channel::{BindMode, ChannelConfig, ChannelKind, Concatenation, ModemConfig, SmppConfig};
pub use fraud::FraudConfig;
pub use limits::LimitsConfig;
pub use locate::ConfigError;
use locate::Locator;
pub use secret::Secret;
pub use sections::{
    ApiConfig, AppConfig, LogConfig, OtpConfig, RecipientLogging, StoreConfig, Synchronous,
};
pub use webhook::{EVENTS, WebhookConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: Option<PathBuf>,
    pub api: ApiConfig,
    pub otp: OtpConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub fraud: FraudConfig,
    /// `[[channel]]`; one "sim" channel when the file has none.
    pub channels: Vec<ChannelConfig>,
    /// `[[app]]`
    pub apps: Vec<AppConfig>,
    /// `[[webhook]]`
    pub webhooks: Vec<WebhookConfig>,
    /// `[[test_number]]`, recipients unique.
    pub test_numbers: Vec<TestNumberConfig>,
}

/// The file as written; `channel` still needs checks against its kind.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    api: ApiConfig,
    otp: OtpConfig,
    store: StoreConfig,
    log: LogConfig,
    limits: LimitsConfig,
    fraud: FraudConfig,
    channel: Vec<channel::RawChannel>,
    app: Vec<AppConfig>,
    webhook: Vec<webhook::RawWebhook>,
    test_number: Vec<TestNumberConfig>,
}

impl Default for Config {
    fn default() -> Self {
        let raw = RawConfig::default();
        Self {
            data_dir: raw.data_dir,
            api: raw.api,
            otp: raw.otp,
            store: raw.store,
            log: raw.log,
            limits: raw.limits,
            fraud: raw.fraud,
            channels: vec![ChannelConfig::default_sim()],
            apps: raw.app,
            webhooks: Vec::new(),
            test_numbers: raw.test_number,
        }
    }
}

impl Config {
    /// Reads and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read config file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Checks config `text`; `origin` is only used to name it in errors.
    /// Files named by `password_file`, `sim_pin_file` and `secret_file` are read here.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let doc = toml::de::DeTable::parse(text)
            .map_err(|e| ConfigError::at(origin, text, e.span(), "", e.message()))?;
        let loc = Locator::new(origin, text, doc.get_ref().clone());
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Deserializer::from(doc))
            .map_err(|e| loc.serde_error(e))?;

        for (i, app) in raw.app.iter().enumerate() {
            if raw.app.iter().take(i).any(|a| a.id == app.id) {
                let msg = format!("duplicate app id {:?}", app.id);
                return Err(loc.error("app", i, "id", true, msg));
            }
            if let Some(first) = raw
                .app
                .iter()
                .take(i)
                .find(|a| a.beem_app_id.is_some() && a.beem_app_id == app.beem_app_id)
            {
                let msg = format!(
                    "beem_app_id {} is already the one of app {:?}",
                    app.beem_app_id.unwrap_or_default(),
                    first.id
                );
                return Err(loc.error("app", i, "beem_app_id", true, msg));
            }
        }
        for (i, number) in raw.test_number.iter().enumerate() {
            if raw
                .test_number
                .iter()
                .take(i)
                .any(|n| n.recipient == number.recipient)
            {
                let msg = format!("duplicate test number {:?}", number.recipient);
                return Err(loc.error("test_number", i, "recipient", true, msg));
            }
        }
        if raw.limits.lockout_max < raw.limits.lockout {
            let msg = format!(
                "must be at least lockout ({}), got {}",
                humantime::format_duration(raw.limits.lockout),
                humantime::format_duration(raw.limits.lockout_max)
            );
            return Err(loc.table_error("limits", "lockout_max", msg));
        }
        if let Err((key, msg)) = raw.fraud.check() {
            return Err(loc.table_error("fraud", key, msg));
        }
        Ok(Config {
            data_dir: raw.data_dir,
            api: raw.api,
            otp: raw.otp,
            store: raw.store,
            log: raw.log,
            limits: raw.limits,
            fraud: raw.fraud,
            channels: channel::build(raw.channel, &loc)?,
            apps: raw.app,
            webhooks: webhook::build(raw.webhook, &loc)?,
            test_numbers: raw.test_number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::Duration;

    const EXAMPLE: &str = r#"data_dir = "/var/lib/otpd"
[api]
listen = ["127.0.0.1:8800"]
unix_socket = "/run/otpd/otpd.sock"
unix_socket_mode = "0660"
[otp]
length = 6
ttl = "5m"
max_attempts = 5
resend_cooldown = "60s"
max_resends = 3
template = "Your {app} code is {code}. It expires in {ttl_min} min."
pepper_file = "/etc/otpd/pepper"
[store]
synchronous = "normal"
retention = "30d"
[log]
recipients = "full"
[[app]]
id = "shop"
name = "Shop"
from = "SHOP"
[[channel]]
name = "operator"
kind = "smpp"
host = "127.0.0.1"
port = 2775
system_id = "otpd"
password = "secret"
source_addr = "MyApp"
window = 10
max_tps = 50
enquire_link = "30s"
recipients = ["+255", "+254"]
[[channel]]
name = "dongle"
kind = "modem"
device = "/dev/ttyUSB0"
baud = 115200
sim_pin = "1234"
[[channel]]
name = "sim"
kind = "sim"
"#;

    pub(super) fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("otpd.toml")).unwrap()
    }

    fn err(text: &str) -> ConfigError {
        Config::parse(text, Path::new("otpd.toml")).unwrap_err()
    }

    /// Asserts line, column and key, and returns the message.
    pub(super) fn err_at(text: &str, line: usize, column: usize, key: &str) -> String {
        let e = err(text);
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (line, column, key),
            "{e}"
        );
        e.message
    }

    #[test]
    fn defaults_equal_empty_file() {
        let parsed = format!("{:?}", parse(""));
        assert_eq!(parsed, format!("{:?}", Config::default()));
        let c = Config::default();
        assert_eq!(c.api.listen, vec![SocketAddr::from(([127, 0, 0, 1], 8800))]);
        assert_eq!(c.api.unix_socket_mode, 0o660);
        assert_eq!(c.api.max_body_bytes, 16384);
        assert_eq!(c.otp.ttl, Duration::from_secs(300));
        assert_eq!(c.store.synchronous, Synchronous::Full);
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.channels[0].name, "sim");
        assert!(matches!(c.channels[0].kind, ChannelKind::Sim));
        assert!(c.apps.is_empty());
    }

    #[test]
    fn example_parses() {
        let c = parse(EXAMPLE);
        assert_eq!(c.data_dir, Some(PathBuf::from("/var/lib/otpd")));
        assert_eq!(
            c.api.unix_socket,
            Some(PathBuf::from("/run/otpd/otpd.sock"))
        );
        assert_eq!(c.otp.resend_cooldown, Duration::from_secs(60));
        assert_eq!(c.otp.pepper_file, Some(PathBuf::from("/etc/otpd/pepper")));
        assert_eq!(c.store.synchronous, Synchronous::Normal);
        assert_eq!(c.store.retention, Duration::from_secs(30 * 86400));
        assert_eq!(c.log.recipients, RecipientLogging::Full);
        assert_eq!(Config::default().log.recipients, RecipientLogging::Masked);
        assert_eq!(c.apps.len(), 1);
        assert_eq!(c.apps[0].from.as_deref(), Some("SHOP"));
        let names: Vec<&str> = c.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["operator", "dongle", "sim"]);
        assert_eq!(c.channels[0].recipients, ["+255", "+254"]);
        let ChannelKind::Smpp(smpp) = &c.channels[0].kind else {
            panic!("not smpp");
        };
        assert_eq!(smpp.password.expose(), "secret");
        assert_eq!(smpp.source_addr.as_deref(), Some("MyApp"));
        assert_eq!(smpp.bind, BindMode::Transceiver);
        let ChannelKind::Modem(modem) = &c.channels[1].kind else {
            panic!("not modem");
        };
        assert_eq!(modem.sim_pin.as_ref().unwrap().expose(), "1234");
        assert_eq!(modem.keepalive, Duration::from_secs(60));
    }

    #[test]
    fn syntax_error() {
        let msg = err_at("data_dir = \"/x\"\nport 8800\n", 2, 6, "");
        assert!(!msg.is_empty());
        err_at("[otp]\nlength = 6\n[otp]\n", 3, 2, "");
    }

    #[test]
    fn unknown_top_level_keys() {
        for table in ["[webhooks]", "[[test_numbers]]"] {
            let name = table.trim_matches(['[', ']']);
            let text = format!("data_dir = \"/x\"\n{table}\nx = 1\n");
            let e = err(&text);
            assert_eq!((e.line, e.key.as_str()), (2, name), "{e}");
            assert!(
                e.message
                    .starts_with("unknown key (expected one of: data_dir,")
            );
        }
    }

    #[test]
    fn unknown_nested_key() {
        let e = err("data_dir = \"/x\"\n[api]\nlisen = []\n");
        assert_eq!(
            e.to_string(),
            "otpd.toml:3:1: api.lisen: unknown key \
             (expected one of: listen, unix_socket, unix_socket_mode, max_body)"
        );
    }

    #[test]
    fn unreadable_file() {
        let path = Path::new("/nonexistent/otpd.toml");
        let e = Config::load(path).unwrap_err();
        assert_eq!((e.line, e.column, e.key.as_str()), (0, 0, ""));
        assert!(
            e.to_string()
                .starts_with("/nonexistent/otpd.toml:0:0: cannot read")
        );
    }
}
