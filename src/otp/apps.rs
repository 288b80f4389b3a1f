//! Apps (config `[[app]]`): each one's name, sender id, message templates and policy.
//!
//! Every place that reads a policy value or picks a text asks [`Apps::app`], so an app's
//! overrides apply to sends, resends and the dispatcher alike. An app that is not in the
//! config is valid: it gets its id as its name and the `[otp]` policy and templates.
//!
//! Which template a message uses, first match wins:
//!
//! ```text
//!   app.templates   longest prefix of the recipient
//!   app.template
//!   otp.templates   longest prefix of the recipient
//!   otp.template
//! ```
//!
//! An app that wrote its own `template` chose its wording; `[otp.templates]` localise the
//! default wording, for every app that did not.

use super::Policy;
use std::collections::HashMap;
use std::time::Duration;

/// The app used when a local caller names none.
pub const DEFAULT_APP: &str = "default";

/// What `[app.otp]` changes of `[otp]`; `None` keeps the `[otp]` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    pub length: Option<u8>,
    pub ttl: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub resend_cooldown: Option<Duration>,
    pub max_resends: Option<u32>,
}

/// One `[[app]]` as configured.
#[derive(Debug, Clone, Default)]
pub struct AppProfile {
    /// The `{app}` of the template.
    pub name: String,
    /// The sender id when a send names none.
    pub from: Option<String>,
    pub template: Option<String>,
    /// By recipient prefix ("+255"), in config order.
    pub templates: Vec<(String, String)>,
    pub otp: PolicyOverrides,
    /// The `appId` that Beem-compatible requests of this app must carry (config `beem_app_id`).
    pub beem_app_id: Option<u64>,
}

/// The apps known from config.
#[derive(Debug, Clone, Default)]
pub struct Apps {
    profiles: HashMap<String, AppProfile>,
}

/// An app as one send, resend or message sees it: `[otp]` with the app's overrides applied.
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    pub name: &'a str,
    pub from: Option<&'a str>,
    pub length: u8,
    pub ttl: Duration,
    pub max_attempts: u32,
    pub resend_cooldown: Duration,
    pub max_resends: u32,
    profile: Option<&'a AppProfile>,
    base: &'a Policy,
}

impl Apps {
    pub fn new(profiles: HashMap<String, AppProfile>) -> Apps {
        Apps { profiles }
    }

    /// The app `appid` under the `[otp]` policy `base`.
    pub fn app<'a>(&'a self, appid: &'a str, base: &'a Policy) -> App<'a> {
        let profile = self.profiles.get(appid);
        let o = profile.map(|p| &p.otp);
        let name = match profile {
            Some(p) => p.name.as_str(),
            // "Your default code is ..." reads badly; the built-in app speaks as otpd.
            None if appid == DEFAULT_APP => "otpd",
            None => appid,
        };
        App {
            name,
            from: profile.and_then(|p| p.from.as_deref()),
            length: o.and_then(|o| o.length).unwrap_or(base.length),
            ttl: o.and_then(|o| o.ttl).unwrap_or(base.ttl),
            max_attempts: o.and_then(|o| o.max_attempts).unwrap_or(base.max_attempts),
            resend_cooldown: o
                .and_then(|o| o.resend_cooldown)
                .unwrap_or(base.resend_cooldown),
            max_resends: o.and_then(|o| o.max_resends).unwrap_or(base.max_resends),
            profile,
            base,
        }
    }

    /// Whether `appid` has an `[[app]]` table.
    pub fn is_configured(&self, appid: &str) -> bool {
        self.profiles.contains_key(appid)
    }

    /// The app whose `beem_app_id` is `beem_app_id` (config keeps them unique).
    pub fn by_beem_app_id(&self, beem_app_id: u64) -> Option<&str> {
        self.profiles
            .iter()
            .find(|(_, p)| p.beem_app_id == Some(beem_app_id))
            .map(|(id, _)| id.as_str())
    }

    /// The `beem_app_id` of `appid`, if its `[[app]]` sets one.
    pub fn beem_app_id(&self, appid: &str) -> Option<u64> {
        self.profiles.get(appid).and_then(|p| p.beem_app_id)
    }
}

impl<'a> App<'a> {
    /// The sender id of a message: the one the send asked for, else the app's `from`, else
    /// none (the channel's own: an SMPP `source_addr`, a modem's SIM number).
    pub fn sender(&self, requested: Option<&str>) -> Option<String> {
        requested.or(self.from).map(str::to_string)
    }

    /// The template of a message to `recipient` (see the module doc for the order).
    pub fn template_for(&self, recipient: &str) -> &'a str {
        choose_template(
            recipient,
            self.profile
                .map(|p| (p.templates.as_slice(), p.template.as_deref())),
            (&self.base.templates, &self.base.template),
        )
    }
}

/// A prefix table of templates: ("+255", template), in config order.
pub type PrefixTable = [(String, String)];

/// An app's own texts: its prefix table and its template.
pub type AppTexts<'a> = (&'a PrefixTable, Option<&'a str>);

/// The template for `recipient`: the app's prefix table, the app's template, the default
/// prefix table, the default template, in that order.
pub fn choose_template<'a>(
    recipient: &str,
    app: Option<AppTexts<'a>>,
    (otp_templates, otp_template): (&'a PrefixTable, &'a str),
) -> &'a str {
    let (app_templates, app_template) = app.unwrap_or((&[], None));
    longest_prefix(recipient, app_templates)
        .or(app_template)
        .or_else(|| longest_prefix(recipient, otp_templates))
        .unwrap_or(otp_template)
}

/// The template of the longest prefix of `recipient` in `table`.
fn longest_prefix<'a>(recipient: &str, table: &'a PrefixTable) -> Option<&'a str> {
    table
        .iter()
        .filter(|(prefix, _)| recipient.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, template)| template.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn base() -> Policy {
        Policy {
            length: 6,
            ttl: Duration::from_secs(300),
            max_attempts: 5,
            resend_cooldown: Duration::from_secs(60),
            max_resends: 3,
            template: "otp {code}".into(),
            templates: table(&[("+254", "otp ke {code}")]),
        }
    }

    #[test]
    fn template_choice_table() {
        let app_t = table(&[
            ("+255", "app tz"),
            ("+2557", "app tz mobile"),
            ("+1", "app us"),
        ]);
        let otp_t = table(&[("+254", "otp ke"), ("+25", "otp 25")]);
        let with_app = Some((app_t.as_slice(), Some("app")));
        let no_app_template = Some((app_t.as_slice(), None));
        let only_template = Some((&[][..], Some("app")));
        let cases: &[(&str, Option<AppTexts<'_>>, &str)] = &[
            // The longest matching prefix of the app's table wins, whatever the file order.
            ("+255712345678", with_app, "app tz mobile"),
            ("+255612345678", with_app, "app tz"),
            ("+12025550123", with_app, "app us"),
            // No prefix of the app's: the app's template...
            ("+254712345678", with_app, "app"),
            // ...else the default table, longest first...
            ("+254712345678", no_app_template, "otp ke"),
            ("+256712345678", no_app_template, "otp 25"),
            // ...else the default template.
            ("+447700900123", no_app_template, "otp"),
            ("+447700900123", only_template, "app"),
            // An app not in config: the default table and template.
            ("+254712345678", None, "otp ke"),
            ("+255712345678", None, "otp 25"),
            ("+447700900123", None, "otp"),
        ];
        for (i, (recipient, app, expected)) in cases.iter().enumerate() {
            let got = choose_template(recipient, *app, (&otp_t, "otp"));
            assert_eq!(got, *expected, "case {i}: {recipient}");
        }
    }

    #[test]
    fn an_app_applies_its_overrides_and_keeps_the_rest() {
        let shop = AppProfile {
            name: "Duka".into(),
            from: Some("DUKA".into()),
            template: None,
            templates: table(&[("+255", "Nambari ya {app} ni {code}")]),
            otp: PolicyOverrides {
                length: Some(4),
                ttl: Some(Duration::from_secs(600)),
                max_resends: Some(0),
                ..PolicyOverrides::default()
            },
            beem_app_id: None,
        };
        let apps = Apps::new(HashMap::from([("shop".to_string(), shop)]));
        let base = base();
        let app = apps.app("shop", &base);
        assert_eq!((app.name, app.from), ("Duka", Some("DUKA")));
        assert_eq!(app.sender(None).as_deref(), Some("DUKA"));
        assert_eq!(app.sender(Some("OTHER")).as_deref(), Some("OTHER"));
        assert_eq!((app.length, app.ttl), (4, Duration::from_secs(600)));
        assert_eq!((app.max_attempts, app.max_resends), (5, 0));
        assert_eq!(app.resend_cooldown, Duration::from_secs(60));
        assert_eq!(
            app.template_for("+255712345678"),
            "Nambari ya {app} ni {code}"
        );
        assert_eq!(app.template_for("+254712345678"), "otp ke {code}");
        assert_eq!(app.template_for("+447700900123"), "otp {code}");
        assert!(apps.is_configured("shop"));

        // Not in config: its id is its name, and [otp] applies whole.
        let other = apps.app("kiosk", &base);
        assert_eq!((other.name, other.from, other.length), ("kiosk", None, 6));
        assert_eq!(other.sender(None), None);
        assert_eq!(other.template_for("+255712345678"), "otp {code}");
        assert!(!apps.is_configured("kiosk"));
        assert_eq!(apps.app(DEFAULT_APP, &base).name, "otpd");
    }
}
