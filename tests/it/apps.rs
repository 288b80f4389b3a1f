//! Apps and test numbers against the real daemon: texts chosen by app and recipient prefix,
//! per-app length, ttl, attempts and resend cooldown, test numbers that get nothing and verify
//! with their fixed code (exempt from rate limits and the lockout), a template change applied
//! by SIGHUP, and `otpd key create` checking its appid against the config.

use crate::client::{Client, assert_problem, code_of, eventually, recipient, wrong};
use crate::support::{Daemon, otpd, output_within_deadline};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[otp]
template = "Default {app} {code}"
resend_cooldown = "1h"
[otp.templates]
"+254" = "Kenya {app} {code}"
[limits]
per_recipient = ["2/10m"]
lockout_after = 2
[[app]]
id = "shop"
name = "Duka"
from = "DUKA"
template = "Your {app} code is {code}."
[app.templates]
"+255" = "Nambari ya {app} ni {code}. Inaisha baada ya dakika {ttl_min}."
[app.otp]
length = 4
ttl = "10m"
max_attempts = 2
resend_cooldown = "0s"
[[app]]
id = "bank"
name = "Benki"
[app.otp]
length = 8
resend_cooldown = "0s"
[[test_number]]
recipient = "+255 799 000 001"
code = "2468"
[[test_number]]
recipient = "+255799000002"
code = "97531"
app = "bank"
"#;

/// A test number of every app, and one of app "bank" only.
const ANY_APP_NUMBER: &str = "+255799000001";
const BANK_NUMBER: &str = "+255799000002";

static NEXT_KENYAN: AtomicU32 = AtomicU32::new(0);

/// A Kenyan mobile number no other test of this run uses.
fn kenyan() -> String {
    let n = NEXT_KENYAN.fetch_add(1, Ordering::Relaxed);
    format!("+254722{n:06}")
}

/// Sends as `appid` on the socket; returns the reply body.
async fn send_as(c: &Client, appid: &str, to: &str) -> Value {
    let reply = c.send(json!({ "recipient": to, "appid": appid })).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body
}

/// Waits for the `n`th message to `to` and returns its text.
async fn nth_text(c: &Client, to: &str, n: usize) -> String {
    eventually(&format!("message {n} for {to}"), || async {
        c.messages(to).await.into_iter().nth(n - 1)
    })
    .await
}

/// Seconds between two RFC 3339 times of a reply.
fn seconds_between(from: &Value, to: &Value) -> i64 {
    let t = |v: &Value| humantime::parse_rfc3339(v.as_str().unwrap()).unwrap();
    let d = t(to).duration_since(t(from)).unwrap();
    d.as_secs() as i64
}

#[tokio::test]
async fn each_app_speaks_in_its_own_words_by_recipient_prefix_and_policy() {
    let d = Daemon::start(CONFIG);
    let c = d.unix();

    // shop to Tanzania: the app's "+255" text, 4 digits, 10 minutes, 2 attempts.
    let tz = recipient();
    let sent = send_as(&c, "shop", &tz).await;
    assert_eq!(sent["attempts_left"], 2, "{sent}");
    let text = nth_text(&c, &tz, 1).await;
    let code = code_of(&text);
    assert_eq!(code.len(), 4, "{text}");
    assert_eq!(
        text,
        format!("Nambari ya Duka ni {code}. Inaisha baada ya dakika 10.")
    );
    let status = c.status(sent["verification_id"].as_str().unwrap()).await;
    assert_eq!(
        seconds_between(&status.body["created_at"], &status.body["expires_at"]),
        600
    );

    // shop to Kenya: no "+254" of its own, so its own template (before [otp.templates]).
    let ke = kenyan();
    send_as(&c, "shop", &ke).await;
    let text = nth_text(&c, &ke, 1).await;
    assert_eq!(text, format!("Your Duka code is {}.", code_of(&text)));

    // bank to Kenya: no template of its own, so [otp.templates]; 8 digits, [otp] ttl.
    let ke = kenyan();
    let sent = send_as(&c, "bank", &ke).await;
    assert_eq!(sent["attempts_left"], 5);
    let text = nth_text(&c, &ke, 1).await;
    let code = code_of(&text);
    assert_eq!(
        (text.clone(), code.len()),
        (format!("Kenya Benki {code}"), 8)
    );
    let status = c.status(sent["verification_id"].as_str().unwrap()).await;
    assert_eq!(
        seconds_between(&status.body["created_at"], &status.body["expires_at"]),
        300
    );

    // The default app, and an app not in config: [otp] wholly, the id as the name.
    let tz = recipient();
    send_as(&c, "default", &tz).await;
    let text = nth_text(&c, &tz, 1).await;
    assert_eq!(text, format!("Default otpd {}", code_of(&text)));
    let tz = recipient();
    send_as(&c, "kiosk", &tz).await;
    let text = nth_text(&c, &tz, 1).await;
    assert_eq!(text, format!("Default kiosk {}", code_of(&text)));

    // A key of shop gets shop's policy over TCP too.
    let shop = d.tcp().with_key(&d.create_key("shop"));
    let tz = recipient();
    let id = shop.send_ok(json!({ "recipient": tz })).await;
    let first = code_of(&nth_text(&c, &tz, 1).await);
    assert_eq!(first.len(), 4);
    // shop's cooldown is 0 s (the [otp] one is an hour): a resend goes at once.
    let resent = shop.resend(&id).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    let second = code_of(&nth_text(&c, &tz, 2).await);
    // shop allows 2 attempts: the second wrong code ends it.
    let reply = shop.verify(&id, &wrong(&second)).await;
    assert_eq!(reply.body["attempts_left"], 1, "{}", reply.text);
    let reply = shop.verify(&id, &wrong(&second)).await;
    assert_eq!(
        reply.body["status"], "max_attempts_reached",
        "{}",
        reply.text
    );

    // The default app keeps the [otp] cooldown of an hour.
    let tz = recipient();
    let sent = send_as(&c, "default", &tz).await;
    let reply = c.resend(sent["verification_id"].as_str().unwrap()).await;
    assert_problem(&reply, 429, "resend_too_soon");
}

#[tokio::test]
async fn a_test_number_gets_nothing_and_verifies_with_its_fixed_code() {
    let d = Daemon::start(CONFIG);
    let c = d.unix();
    // Written with spaces in the config: normalised like any recipient.
    let sent = send_as(&c, "shop", "+255 799-000-001").await;
    assert_eq!(sent["recipient"], ANY_APP_NUMBER);
    assert_eq!(sent["channel"], "test");
    assert_eq!(sent["delivery"]["state"], "delivered");
    let id = sent["verification_id"].as_str().unwrap().to_string();
    let status = c.status(&id).await.body;
    assert_eq!(status["delivery"]["state"], "delivered", "{status}");
    assert_eq!(status["delivery"]["channel"], "test", "{status}");
    assert_eq!(d.count("outbox"), 0);
    let events: Vec<String> = {
        let db = d.db();
        let mut stmt = db
            .prepare("SELECT event FROM event WHERE verification_id = ?1 ORDER BY rowid")
            .unwrap();
        stmt.query_map([&id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(events, ["created", "test_number"]);

    // A wrong code counts as usual (shop allows 2), the fixed one is right.
    let reply = c.verify(&id, "1357").await;
    assert_eq!(reply.body["reason"], "incorrect_code", "{}", reply.text);
    let reply = c.verify(&id, "2468").await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);

    // A resend keeps the fixed code and sends nothing either.
    let id = send_as(&c, "shop", ANY_APP_NUMBER).await["verification_id"]
        .as_str()
        .unwrap()
        .to_string();
    let resent = c.resend(&id).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert_eq!(
        (&resent.body["channel"], &resent.body["delivery"]["state"]),
        (&json!("test"), &json!("delivered"))
    );
    assert_eq!(c.verify(&id, "2468").await.body["valid"], true);

    // Exempt from the rate limits (per_recipient 2/10m here) and the lockout (after 2).
    for _ in 0..4 {
        send_as(&c, "default", ANY_APP_NUMBER).await;
    }
    let by_recipient = |code: &str| json!({ "recipient": ANY_APP_NUMBER, "otp_code": code });
    for _ in 0..3 {
        let reply = c.post("/otp/verify", &by_recipient("0000")).await;
        assert_eq!(reply.body["reason"], "incorrect_code", "{}", reply.text);
    }
    let reply = c.post("/otp/verify", &by_recipient("2468")).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);

    // A test number of bank only: bank's send is a test; another app's is a real message.
    let sent = send_as(&c, "bank", BANK_NUMBER).await;
    assert_eq!(sent["channel"], "test");
    let id = sent["verification_id"].as_str().unwrap();
    assert_eq!(c.verify(id, "97531").await.body["valid"], true);
    assert!(c.messages(ANY_APP_NUMBER).await.is_empty());
    assert!(c.messages(BANK_NUMBER).await.is_empty());
    let sent = send_as(&c, "shop", BANK_NUMBER).await;
    assert_eq!(sent["channel"], "sim");
    let text = nth_text(&c, BANK_NUMBER, 1).await;
    assert_eq!(code_of(&text).len(), 4);
    let id = sent["verification_id"].as_str().unwrap();
    assert_eq!(c.verify(id, &code_of(&text)).await.body["valid"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_numbers_code_reaches_neither_the_database_nor_the_log() {
    const CODE: &str = "9753186420";
    let config = format!(
        "[api]\nlisten = []\n[otp]\nresend_cooldown = \"0s\"\n\
         [[test_number]]\nrecipient = \"+255799000009\"\ncode = \"{CODE}\"\n"
    );
    let mut d = Daemon::start_with_env(&config, &[("OTPD_LOG", "trace")]);
    let c = d.unix();
    let id = send_as(&c, "default", "+255799000009").await["verification_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(c.verify(&id, &wrong(CODE)).await.body["valid"], false);
    assert_eq!(c.resend(&id).await.status, 200);
    // Left pending: its hash stays in the database.
    send_as(&c, "default", "+255799000009").await;
    d.signal("HUP");
    eventually("the reload", || async {
        d.log_lines()
            .iter()
            .any(|l| l.contains("configuration reloaded"))
            .then_some(())
    })
    .await;
    let by_recipient = json!({ "recipient": "+255799000009", "otp_code": CODE });
    assert_eq!(
        c.post("/otp/verify", &by_recipient).await.body["valid"],
        true
    );
    assert_eq!(c.verify(&id, CODE).await.body["reason"], "canceled");

    let codes = [CODE.to_string(), wrong(CODE)];
    crate::secrets::assert_absent(&codes, &crate::secrets::files(&d.data_dir()));
    assert_eq!(d.stop().code(), Some(0));
    crate::secrets::assert_absent(&codes, &crate::secrets::files(&d.data_dir()));
    let log = d.log_lines().join("\n");
    assert!(log.contains("configuration reloaded"), "{log}");
    crate::secrets::assert_absent(&codes, &[("the log".to_string(), log.into_bytes())]);
}

fn reload_config(template: &str, length: u8) -> String {
    format!(
        "[api]\nlisten = []\n[[app]]\nid = \"shop\"\nname = \"Duka\"\n\
         template = \"{template}\"\n[app.otp]\nlength = {length}\n"
    )
}

#[tokio::test]
async fn sighup_applies_a_new_app_template_and_policy() {
    let d = Daemon::start(&reload_config("First {app} {code}", 4));
    let c = d.unix();
    let to = recipient();
    send_as(&c, "shop", &to).await;
    let text = nth_text(&c, &to, 1).await;
    let code = code_of(&text);
    assert_eq!(
        (text.clone(), code.len()),
        (format!("First Duka {code}"), 4)
    );

    std::fs::write(d.config_path(), reload_config("Second {app} {code}", 7)).unwrap();
    d.signal("HUP");
    eventually("the reload", || async {
        d.log_lines()
            .iter()
            .any(|l| l.contains("configuration reloaded"))
            .then_some(())
    })
    .await;
    send_as(&c, "shop", &to).await;
    let text = nth_text(&c, &to, 2).await;
    let code = code_of(&text);
    assert_eq!(
        (text.clone(), code.len()),
        (format!("Second Duka {code}"), 7)
    );
}

#[test]
fn key_create_checks_the_appid_and_warns_of_an_app_missing_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otpd.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[[app]]\nid = \"shop\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let create = |appid: &str| {
        output_within_deadline(
            otpd()
                .args(["key", "create", "--appid", appid, "--config"])
                .arg(&config),
        )
    };
    let out = create("shop");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let out = create("kiosk");
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("\"kiosk\""),
        "{stderr}"
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["appid"], "kiosk");

    let out = create("no spaces");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--appid"), "{stderr}");
}
