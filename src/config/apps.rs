//! The parts of `[[app]]` and `[otp]` that shape an app's messages and policy, and
//! `[[test_number]]`:
//!
//! ```toml
//! [otp.templates]                 # or [app.templates]: by the recipient's prefix
//! "+255" = "Nambari ya {app} ni {code}."
//! [app.otp]                       # per-app overrides of [otp]
//! length = 4
//! [[test_number]]                 # nothing is sent; the fixed code verifies
//! recipient = "+255700000001"
//! code = "123456"
//! app = "shop"                    # optional: only for this app's sends
//! ```
//!
//! Every value is checked as it is read (see `value`), so errors carry their line and key.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::secret::Secret;
use super::value;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// A table of message templates keyed by number prefix ("+255"), in file order. Which one a
/// message uses is decided by `otp::apps` (the longest prefix that matches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixTemplates(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for PrefixTemplates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PrefixTemplatesVisitor)
    }
}

/// A key of a template table, checked inside its own visitor so that toml places an error at
/// the key.
struct TemplatePrefix(String);

impl<'de> Deserialize<'de> for TemplatePrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        value::check_template_prefix(&text).map_err(de::Error::custom)?;
        Ok(TemplatePrefix(text))
    }
}

struct PrefixTemplatesVisitor;

impl<'de> Visitor<'de> for PrefixTemplatesVisitor {
    type Value = PrefixTemplates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of \"+PREFIX\" = \"template\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PrefixTemplates, A::Error> {
        let mut entries = Vec::new();
        while let Some(TemplatePrefix(prefix)) = map.next_key()? {
            let value::Template(template) = map.next_value()?;
            entries.push((prefix, template));
        }
        Ok(PrefixTemplates(entries))
    }
}

/// `[app.otp]`: what an app changes of `[otp]`; an absent key keeps `[otp]`'s value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppOtpConfig {
    #[serde(deserialize_with = "value::opt_int_in::<_, u8, 4, 10>")]
    pub length: Option<u8>,
    #[serde(deserialize_with = "value::opt_duration_in::<_, 1, DAY>")]
    pub ttl: Option<Duration>,
    #[serde(deserialize_with = "value::opt_int_in::<_, u32, 1, 20>")]
    pub max_attempts: Option<u32>,
    #[serde(deserialize_with = "value::opt_duration_in::<_, 0, HOUR>")]
    pub resend_cooldown: Option<Duration>,
    #[serde(deserialize_with = "value::opt_int_in::<_, u32, 0, 20>")]
    pub max_resends: Option<u32>,
}

/// `[[test_number]]`: a number for which nothing is sent and `code` always verifies (for
/// app-store reviewers and QA). Recipients are unique across the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestNumberConfig {
    /// E.164, normalised like any recipient.
    #[serde(deserialize_with = "recipient")]
    pub recipient: String,
    /// In clear in the file (that is accepted); never printed.
    #[serde(deserialize_with = "test_code")]
    pub code: Secret,
    /// Only sends of this app use the fixed code; `None`: any app.
    #[serde(default, deserialize_with = "value::opt_app_id")]
    pub app: Option<String>,
}

fn recipient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    crate::otp::phone::normalize(&text)
        .map_err(|e| de::Error::custom(format!("not a valid mobile number: {}", e.0)))
}

fn test_code<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    // Not through `String::deserialize`: a bare number (code = 123456) would lose its leading
    // zeros, so only the quoted form is taken.
    let text = Secret::new(String::deserialize(d)?);
    value::check_test_code(text.expose()).map_err(de::Error::custom)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err_at, parse};
    use super::*;

    const APPS: &str = r#"
[otp]
template = "Default {code}"
[otp.templates]
"+254" = "Kenya {code}"
[[app]]
id = "shop"
name = "Duka"
from = "DUKA"
template = "Your {app} code is {code}."
[app.templates]
"+255" = "Nambari ya {app} ni {code}. Inaisha baada ya dakika {ttl_min}."
"+2557" = "Simu {code}"
[app.otp]
length = 4
ttl = "10m"
max_attempts = 3
resend_cooldown = "0s"
max_resends = 1
[[app]]
id = "bank"
[[test_number]]
recipient = "+255 700 000 001"
code = "0123"
[[test_number]]
recipient = "+255700000002"
code = "987654"
app = "bank"
"#;

    #[test]
    fn apps_templates_overrides_and_test_numbers_parse() {
        let c = parse(APPS);
        assert_eq!(
            c.otp.templates.0,
            vec![("+254".to_string(), "Kenya {code}".to_string())]
        );
        let shop = &c.apps[0];
        let prefixes: Vec<&str> = shop.templates.0.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(prefixes, ["+255", "+2557"]);
        assert_eq!(
            shop.otp,
            AppOtpConfig {
                length: Some(4),
                ttl: Some(Duration::from_secs(600)),
                max_attempts: Some(3),
                resend_cooldown: Some(Duration::ZERO),
                max_resends: Some(1),
            }
        );
        let bank = &c.apps[1];
        assert_eq!(bank.otp, AppOtpConfig::default());
        assert!(bank.templates.0.is_empty());
        assert_eq!(c.test_numbers.len(), 2);
        assert_eq!(c.test_numbers[0].recipient, "+255700000001");
        assert_eq!(c.test_numbers[0].code.expose(), "0123");
        assert_eq!(c.test_numbers[0].app, None);
        assert_eq!(c.test_numbers[1].app.as_deref(), Some("bank"));
        // The config's Debug (e.g. in a panic) never shows a code.
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("0123") && !debug.contains("987654"),
            "{debug}"
        );
    }

    #[test]
    fn template_table_errors_name_the_key() {
        let text = "[otp.templates]\n\"+255\" = \"Code {pin}\"\n";
        let msg = err_at(text, 2, 10, "otp.templates.+255");
        assert!(msg.contains("{pin}"), "{msg}");
        let text = "[otp.templates]\n\"+255\" = \"no code\"\n";
        assert_eq!(
            err_at(text, 2, 10, "otp.templates.+255"),
            "must contain {code}"
        );
        let text = "[[app]]\nid = \"a\"\n[app.templates]\n\"255\" = \"{code}\"\n";
        let msg = err_at(text, 4, 1, "app[0].templates.255");
        assert!(msg.contains("1 to 6 digits"), "{msg}");
        let text = "[[app]]\nid = \"a\"\n[app.templates]\n\"+2551234\" = \"{code}\"\n";
        err_at(text, 4, 1, "app[0].templates.+2551234");
        let text = "[otp.templates]\n\"+255\" = 5\n";
        err_at(text, 2, 10, "otp.templates.+255");
    }

    #[test]
    fn app_otp_errors_name_the_key() {
        let text = "[[app]]\nid = \"a\"\n[app.otp]\nlength = 11\n";
        let msg = err_at(text, 4, 10, "app[0].otp.length");
        assert_eq!(msg, "must be between 4 and 10, got 11");
        let text = "[[app]]\nid = \"a\"\n[app.otp]\nttl = \"2d\"\n";
        err_at(text, 4, 7, "app[0].otp.ttl");
        let text = "[[app]]\nid = \"a\"\n[app.otp]\nmax_attempts = 0\n";
        err_at(text, 4, 16, "app[0].otp.max_attempts");
        let text = "[[app]]\nid = \"a\"\n[app.otp]\ntemplate = \"{code}\"\n";
        let msg = err_at(text, 4, 1, "app[0].otp.template");
        assert!(msg.starts_with("unknown key"), "{msg}");
    }

    #[test]
    fn test_number_errors_name_the_key() {
        let text = "[[test_number]]\nrecipient = \"0712345678\"\ncode = \"1234\"\n";
        let msg = err_at(text, 2, 13, "test_number[0].recipient");
        assert!(msg.starts_with("not a valid mobile number"), "{msg}");
        let text = "[[test_number]]\nrecipient = \"+255700000001\"\ncode = \"123\"\n";
        let msg = err_at(text, 3, 8, "test_number[0].code");
        assert_eq!(msg, "must be 4 to 10 digits");
        let text = "[[test_number]]\nrecipient = \"+255700000001\"\ncode = 1234\n";
        err_at(text, 3, 8, "test_number[0].code");
        let text = "[[test_number]]\nrecipient = \"+255700000001\"\n";
        err_at(text, 1, 1, "test_number[0].code");
        let text =
            "[[test_number]]\nrecipient = \"+255700000001\"\ncode = \"1234\"\napp = \"a b\"\n";
        err_at(text, 4, 7, "test_number[0].app");
        let text = "[[test_number]]\nrecipient = \"+255700000001\"\ncode = \"1234\"\n\
                    [[test_number]]\nrecipient = \"+255 700 000 001\"\ncode = \"5678\"\n";
        let msg = err_at(text, 5, 13, "test_number[1].recipient");
        assert_eq!(msg, "duplicate test number \"+255700000001\"");
    }
}
