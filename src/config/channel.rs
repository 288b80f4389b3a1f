//! `[[channel]]` tables: the ways otpd can send an SMS.
//!
//! A channel table accepts the keys of every kind, so that serde can refuse
//! keys that belong to no kind with the usual "unknown key" error. Which of
//! them apply depends on `kind`, so that check, required keys and secrets
//! read from files are done after deserialization, placed by `Locator`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

use super::locate::{ConfigError, Locator};
use super::secret::{Secret, read_secret};
use super::value::{self, UNBOUNDED};

/// A channel and the recipients it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelConfig {
    pub name: String,
    /// Number prefixes such as "+255"; empty means every recipient.
    pub recipients: Vec<String>,
    pub kind: ChannelKind,
}

impl ChannelConfig {
    /// The channel used when the file has no `[[channel]]`.
    pub(super) fn default_sim() -> Self {
        Self {
            name: "sim".to_string(),
            recipients: Vec::new(),
            kind: ChannelKind::Sim,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// Simulated delivery, for development and tests.
    Sim,
    Smpp(SmppConfig),
    Modem(ModemConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmppConfig {
    pub host: String,
    pub port: u16,
    pub system_id: String,
    pub password: Secret,
    pub system_type: String,
    pub source_addr: Option<String>,
    pub bind: BindMode,
    pub tls: bool,
    /// PEM file of the CA that signed the SMSC's certificate, when it is not a public one.
    pub tls_ca_file: Option<PathBuf>,
    /// How long texts are split: UDH in the message (default) or SAR TLVs.
    pub concatenation: Concatenation,
    pub window: u32,
    pub max_tps: u32,
    pub enquire_link: Duration,
    pub submit_timeout: Duration,
    pub validity: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concatenation {
    Udh,
    Sar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    Transceiver,
    TransmitterReceiver,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModemConfig {
    pub device: PathBuf,
    pub baud: u32,
    pub sim_pin: Option<Secret>,
    pub smsc: Option<String>,
    pub keepalive: Duration,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Sim,
    Smpp,
    Modem,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Sim => "sim",
            Kind::Smpp => "smpp",
            Kind::Modem => "modem",
        }
    }

    /// Whether a channel of this kind may set `key`.
    fn accepts(self, key: &str) -> bool {
        let own = match self {
            Kind::Sim => "",
            Kind::Smpp => {
                "host port system_id password password_file system_type source_addr \
                 bind tls tls_ca_file concatenation window max_tps enquire_link submit_timeout validity"
            }
            Kind::Modem => "device baud sim_pin sim_pin_file smsc keepalive",
        };
        ["name", "kind", "recipients"].contains(&key) || own.split_whitespace().any(|k| k == key)
    }
}

/// A `[[channel]]` table as written: the union of all kinds' keys. Absent
/// keys take the defaults of [`Default`]; required ones are `Option`s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawChannel {
    #[serde(deserialize_with = "channel_name")]
    name: Option<String>,
    kind: Option<Kind>,
    recipients: Vec<Prefix>,
    host: Option<String>,
    port: u16,
    #[serde(deserialize_with = "system_id")]
    system_id: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    system_type: String,
    source_addr: Option<String>,
    bind: BindMode,
    tls: bool,
    tls_ca_file: Option<PathBuf>,
    concatenation: Concatenation,
    #[serde(deserialize_with = "value::int_in::<_, u32, 1, 1000>")]
    window: u32,
    #[serde(deserialize_with = "value::int_in::<_, u32, 1, 100_000>")]
    max_tps: u32,
    // Timers must be non-zero: a zero interval would spin or never wait.
    #[serde(deserialize_with = "value::duration_in::<_, 1, UNBOUNDED>")]
    enquire_link: Duration,
    #[serde(deserialize_with = "value::duration_in::<_, 1, UNBOUNDED>")]
    submit_timeout: Duration,
    #[serde(deserialize_with = "value::opt_duration_in::<_, 1, UNBOUNDED>")]
    validity: Option<Duration>,
    device: Option<PathBuf>,
    baud: u32,
    sim_pin: Option<String>,
    sim_pin_file: Option<PathBuf>,
    smsc: Option<String>,
    #[serde(deserialize_with = "value::duration_in::<_, 1, UNBOUNDED>")]
    keepalive: Duration,
}

impl Default for RawChannel {
    fn default() -> Self {
        Self {
            name: None,
            kind: None,
            recipients: Vec::new(),
            host: None,
            port: 2775,
            system_id: None,
            password: None,
            password_file: None,
            system_type: String::new(),
            source_addr: None,
            bind: BindMode::Transceiver,
            tls: false,
            tls_ca_file: None,
            concatenation: Concatenation::Udh,
            window: 10,
            max_tps: 50,
            enquire_link: Duration::from_secs(30),
            submit_timeout: Duration::from_secs(30),
            validity: None,
            device: None,
            baud: 115_200,
            sim_pin: None,
            sim_pin_file: None,
            smsc: None,
            keepalive: Duration::from_secs(60),
        }
    }
}

fn channel_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    value::check_ident(&name, 32, "_-").map_err(de::Error::custom)?;
    Ok(Some(name))
}

/// SMPP limits system_id to 15 octets (16 with its terminating NUL).
fn system_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let id = String::deserialize(d)?;
    if id.len() > 15 {
        return Err(de::Error::custom(format!(
            "must be at most 15 bytes, got {}",
            id.len()
        )));
    }
    Ok(Some(id))
}

/// A recipient prefix in E.164 form: "+" then 1 to 15 digits.
struct Prefix(String);

// Checked inside the visitor, not with `#[serde(try_from)]`: toml attaches
// the span of the value being visited, while an error raised after it
// returns would be placed at the whole `recipients` array.
impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(PrefixVisitor)
    }
}

struct PrefixVisitor;

impl de::Visitor<'_> for PrefixVisitor {
    type Value = Prefix;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number prefix such as \"+255\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Prefix, E> {
        let digits = text.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!(
                "must be \"+\" then 1 to 15 digits, got {text:?}"
            )));
        }
        Ok(Prefix(text.to_string()))
    }
}

/// Checks every channel against its kind and builds the public form.
pub(super) fn build(
    raw: Vec<RawChannel>,
    loc: &Locator<'_>,
) -> Result<Vec<ChannelConfig>, ConfigError> {
    // TOML cannot write an empty array of tables, so no [[channel]] at all
    // is the only way to ask for the default.
    if raw.is_empty() {
        return Ok(vec![ChannelConfig::default_sim()]);
    }
    let mut channels: Vec<ChannelConfig> = Vec::with_capacity(raw.len());
    for (i, ch) in raw.into_iter().enumerate() {
        let channel = ch.build(i, loc)?;
        if channels.iter().any(|c| c.name == channel.name) {
            let msg = format!("duplicate channel name {:?}", channel.name);
            return Err(loc.error("channel", i, "name", true, msg));
        }
        channels.push(channel);
    }
    Ok(channels)
}

impl RawChannel {
    fn build(self, i: usize, loc: &Locator<'_>) -> Result<ChannelConfig, ConfigError> {
        let missing = |key: &str| loc.error("channel", i, key, false, "missing required key");
        let kind = self.kind.ok_or_else(|| missing("kind"))?;
        for (key, _) in loc.keys("channel", i) {
            if !kind.accepts(key) {
                let msg = format!("does not apply to a channel of kind {:?}", kind.as_str());
                return Err(loc.error("channel", i, key, false, msg));
            }
        }
        let name = match (self.name, kind) {
            (Some(name), _) => name,
            (None, Kind::Sim) => "sim".to_string(),
            (None, _) => return Err(missing("name")),
        };
        let secret = |inline, file, key| read_secret(inline, file, key, i, loc);
        let kind = match kind {
            Kind::Sim => ChannelKind::Sim,
            Kind::Smpp => ChannelKind::Smpp(SmppConfig {
                host: self.host.ok_or_else(|| missing("host"))?,
                port: self.port,
                system_id: self.system_id.ok_or_else(|| missing("system_id"))?,
                password: secret(self.password, self.password_file, "password")?.ok_or_else(
                    || {
                        let msg = "missing required key (or set password_file)";
                        loc.error("channel", i, "password", false, msg)
                    },
                )?,
                system_type: self.system_type,
                source_addr: self.source_addr,
                bind: self.bind,
                tls: self.tls,
                tls_ca_file: self.tls_ca_file,
                concatenation: self.concatenation,
                window: self.window,
                max_tps: self.max_tps,
                enquire_link: self.enquire_link,
                submit_timeout: self.submit_timeout,
                validity: self.validity,
            }),
            Kind::Modem => ChannelKind::Modem(ModemConfig {
                device: self.device.ok_or_else(|| missing("device"))?,
                baud: self.baud,
                sim_pin: secret(self.sim_pin, self.sim_pin_file, "sim_pin")?,
                smsc: self.smsc,
                keepalive: self.keepalive,
            }),
        };
        let recipients = self.recipients.into_iter().map(|p| p.0).collect();
        Ok(ChannelConfig {
            name,
            recipients,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::err_at;
    use super::*;

    const SMPP: &str =
        "[[channel]]\nname = \"op\"\nkind = \"smpp\"\nhost = \"h\"\nsystem_id = \"id\"\n";

    fn parse(text: &str) -> Vec<ChannelConfig> {
        super::super::tests::parse(text).channels
    }

    #[test]
    fn smpp_defaults_and_sim_name() {
        let text = format!("{SMPP}password = \"pw\"\n[[channel]]\nkind = \"sim\"\n");
        let channels = parse(&text);
        let ChannelKind::Smpp(smpp) = &channels[0].kind else {
            panic!("not smpp");
        };
        assert_eq!((smpp.port, smpp.window, smpp.max_tps), (2775, 10, 50));
        assert_eq!(smpp.enquire_link, Duration::from_secs(30));
        assert_eq!((smpp.system_type.as_str(), smpp.tls), ("", false));
        assert_eq!(smpp.validity, None);
        assert_eq!(channels[1].name, "sim");
    }

    #[test]
    fn value_errors_inside_second_channel() {
        let text =
            "[[channel]]\nkind = \"sim\"\n[[channel]]\nname = \"b\"\nkind = \"sim\"\nwidnow = 1\n";
        let msg = err_at(text, 6, 1, "channel[1].widnow");
        assert!(msg.starts_with("unknown key (expected one of: name, kind, recipients,"));
        let text = format!("{SMPP}password = \"pw\"\nwindow = 0\n");
        let msg = err_at(&text, 7, 10, "channel[0].window");
        assert_eq!(msg, "must be between 1 and 1000, got 0");
        let text = "[[channel]]\nkind = \"sim\"\nrecipients = [\"+1\", \"255\"]\n";
        err_at(text, 3, 21, "channel[0].recipients[1]");
        err_at("[[channel]]\nkind = \"fax\"\n", 2, 8, "channel[0].kind");
        err_at(
            "[[channel]]\nname = \"a b\"\nkind = \"sim\"\n",
            2,
            8,
            "channel[0].name",
        );
    }

    #[test]
    fn duplicate_names() {
        let text = "[[channel]]\nkind = \"sim\"\n[[channel]]\nkind = \"sim\"\n  name = \"sim\"\n";
        let msg = err_at(text, 5, 10, "channel[1].name");
        assert_eq!(msg, "duplicate channel name \"sim\"");
    }

    #[test]
    fn key_of_another_kind() {
        let text = "[[channel]]\nkind = \"sim\"\nrecipients = []\nhost = \"h\"\n";
        let msg = err_at(text, 4, 1, "channel[0].host");
        assert_eq!(msg, "does not apply to a channel of kind \"sim\"");
        let text = format!("{SMPP}password = \"pw\"\nbaud = 9600\n");
        err_at(&text, 7, 1, "channel[0].baud");
    }

    #[test]
    fn missing_required_keys() {
        let text = "[[channel]]\nname = \"op\"\nkind = \"smpp\"\nsystem_id = \"x\"\n";
        let msg = err_at(text, 1, 1, "channel[0].host");
        assert_eq!(msg, "missing required key");
        err_at(SMPP, 1, 1, "channel[0].password");
        err_at(
            "[[channel]]\nkind = \"modem\"\ndevice = \"/d\"\n",
            1,
            1,
            "channel[0].name",
        );
        err_at("[[channel]]\nname = \"x\"\n", 1, 1, "channel[0].kind");
    }
}
