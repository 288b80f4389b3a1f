//! The plain sections: `[api]`, `[otp]`, `[store]` and `[[app]]` (whose template tables and
//! overrides are in `apps`).
//!
//! Each derives `Deserialize` with its checks inside deserialization (see
//! `value`), and its `Default` is what an absent table or key gives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::apps::{AppOtpConfig, PrefixTemplates};
use super::value::{self, UNBOUNDED};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// May be empty, to serve on the unix socket only.
    pub listen: Vec<SocketAddr>,
    /// None means `<data_dir>/otpd.sock`, resolved by the caller.
    pub unix_socket: Option<PathBuf>,
    #[serde(deserialize_with = "value::octal_mode")]
    pub unix_socket_mode: u32,
    #[serde(
        rename = "max_body",
        deserialize_with = "value::int_in::<_, usize, 256, 1_048_576>"
    )]
    pub max_body_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8800))],
            unix_socket: None,
            unix_socket_mode: 0o660,
            max_body_bytes: 16 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    #[serde(deserialize_with = "value::int_in::<_, u8, 4, 10>")]
    pub length: u8,
    #[serde(deserialize_with = "value::duration_in::<_, 1, DAY>")]
    pub ttl: Duration,
    #[serde(deserialize_with = "value::int_in::<_, u32, 1, 20>")]
    pub max_attempts: u32,
    #[serde(deserialize_with = "value::duration_in::<_, 0, HOUR>")]
    pub resend_cooldown: Duration,
    #[serde(deserialize_with = "value::int_in::<_, u32, 0, 20>")]
    pub max_resends: u32,
    /// Placeholders: {app}, {code} (required), {ttl_min}.
    #[serde(deserialize_with = "value::template")]
    pub template: String,
    pub pepper_file: Option<PathBuf>,
    /// `[otp.templates]`: by recipient prefix, for every app without its own text.
    pub templates: PrefixTemplates,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            length: 6,
            ttl: Duration::from_secs(5 * 60),
            max_attempts: 5,
            resend_cooldown: Duration::from_secs(60),
            max_resends: 3,
            template: "Your {app} code is {code}. It expires in {ttl_min} min.".to_string(),
            pepper_file: None,
            templates: PrefixTemplates::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub synchronous: Synchronous,
    #[serde(deserialize_with = "value::duration_in::<_, HOUR, UNBOUNDED>")]
    pub retention: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            retention: Duration::from_secs(30 * DAY),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// How log lines show phone numbers.
    pub recipients: RecipientLogging,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientLogging {
    /// `+2557****678`
    #[default]
    Masked,
    Full,
}

/// SQLite's `PRAGMA synchronous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Unique across `[[app]]`.
    #[serde(deserialize_with = "value::app_id")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    /// Overrides `otp.template` for this app.
    #[serde(default, deserialize_with = "value::opt_template")]
    pub template: Option<String>,
    /// `[app.templates]`: by recipient prefix; the longest match wins over `template`.
    #[serde(default)]
    pub templates: PrefixTemplates,
    /// `[app.otp]`: overrides of `[otp]` for this app.
    #[serde(default)]
    pub otp: AppOtpConfig,
    /// The Beem OTP application id this app answers to on `POST /v1/request` (the `appId`
    /// field); unique across `[[app]]`. Unset: any `appId` is accepted from this app's keys.
    #[serde(default)]
    pub beem_app_id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err_at, parse};

    #[test]
    fn out_of_range_integers() {
        let msg = err_at("[otp]\nlength = 3\n", 2, 10, "otp.length");
        assert_eq!(msg, "must be between 4 and 10, got 3");
        err_at("[api]\nmax_body = 100\n", 2, 12, "api.max_body");
        err_at("[otp]\nmax_resends = -1\n", 2, 15, "otp.max_resends");
    }

    #[test]
    fn bad_durations() {
        let msg = err_at("[otp]\nttl = \"5 parsecs\"\n", 2, 7, "otp.ttl");
        assert!(msg.starts_with("invalid duration \"5 parsecs\""), "{msg}");
        let msg = err_at("[otp]\nttl = \"25h\"\n", 2, 7, "otp.ttl");
        assert_eq!(msg, "must be between 1s and 1day, got 1day 1h");
        let msg = err_at("[store]\nretention = \"30m\"\n", 2, 13, "store.retention");
        assert_eq!(msg, "must be at least 1h, got 30m");
        let otp = parse("[otp]\nresend_cooldown = \"0s\"\n").otp;
        assert!(otp.resend_cooldown.is_zero());
    }

    #[test]
    fn bare_integer_duration() {
        let msg = err_at("[otp]\nttl = 300\n", 2, 7, "otp.ttl");
        assert!(msg.contains("e.g. \"90s\""), "{msg}");
    }

    #[test]
    fn bad_octal_mode() {
        let mode_err = |value: &str| {
            let text = format!("[api]\nunix_socket_mode = {value}\n");
            err_at(&text, 2, 20, "api.unix_socket_mode")
        };
        assert!(mode_err("\"0680\"").contains("octal"));
        assert!(mode_err("\"1777\"").contains("at most"));
        assert!(mode_err("660").contains("\"0660\""));
        let api = parse("[api]\nunix_socket_mode = \"600\"").api;
        assert_eq!(api.unix_socket_mode, 0o600);
    }

    #[test]
    fn bad_listen_address() {
        let text = "[api]\nlisten = [\"127.0.0.1:8800\", \"localhost\"]\n";
        err_at(text, 2, 29, "api.listen[1]");
        assert!(parse("[api]\nlisten = []\n").api.listen.is_empty());
    }

    #[test]
    fn template_errors() {
        let msg = err_at("[otp]\ntemplate = \"Code: {pin}\"\n", 2, 12, "otp.template");
        assert!(msg.contains("{pin}"), "{msg}");
        let msg = err_at("[otp]\ntemplate = \"hello\"\n", 2, 12, "otp.template");
        assert_eq!(msg, "must contain {code}");
        let text = "[[app]]\nid = \"a\"\ntemplate = \"{foo} {code}\"\n";
        let msg = err_at(text, 3, 12, "app[0].template");
        assert!(msg.contains("{foo}"), "{msg}");
    }

    #[test]
    fn app_errors() {
        let text = "[[app]]\nid = \"a\"\n[[app]]\nid = \"b\"\n[[app]]\nid = \"a\"\n";
        let msg = err_at(text, 6, 6, "app[2].id");
        assert_eq!(msg, "duplicate app id \"a\"");
        err_at("[[app]]\nid = \"a b\"\n", 2, 6, "app[0].id");
        err_at("[[app]]\nname = \"A\"\n", 1, 1, "app[0].id");
    }

    #[test]
    fn beem_app_ids() {
        let text = "[[app]]\nid = \"a\"\nbeem_app_id = 4695\n[[app]]\nid = \"b\"\n";
        let apps = parse(text).apps;
        assert_eq!(apps[0].beem_app_id, Some(4695));
        assert_eq!(apps[1].beem_app_id, None);
        err_at(
            "[[app]]\nid = \"a\"\nbeem_app_id = -1\n",
            3,
            15,
            "app[0].beem_app_id",
        );
        err_at(
            "[[app]]\nid = \"a\"\nbeem_app_id = \"7\"\n",
            3,
            15,
            "app[0].beem_app_id",
        );
        let text = "[[app]]\nid = \"a\"\nbeem_app_id = 7\n[[app]]\nid = \"b\"\nbeem_app_id = 7\n";
        let msg = err_at(text, 6, 15, "app[1].beem_app_id");
        assert_eq!(msg, "beem_app_id 7 is already the one of app \"a\"");
    }
}
