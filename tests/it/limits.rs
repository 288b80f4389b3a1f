//! Rate limits and the lockout against the real daemon: a refused send leaves nothing but its
//! event, the counts survive a restart, per_ip follows X-Forwarded-For only from a trusted
//! proxy, failed verifies lock a recipient across verifications, and a bad limit in the config
//! stops the daemon with the key named. (Windows sliding with time are tested with a fake clock
//! in `otp::limits`; nothing here waits for time to pass.)

use crate::client::{Client, Reply, assert_problem, recipient, wrong};
use crate::support::{Daemon, otpd, output_within_deadline};
use serde_json::json;

/// Messages on every handset, verifications, outbox rows, events other than rate_limited, and
/// rate_limited events.
async fn traces(d: &Daemon) -> (usize, i64, i64, i64, i64) {
    let phone = d.unix().get("/sim/messages").await;
    let messages = phone.body["messages"].as_array().unwrap().len();
    let limited = |sql: &str| -> i64 { d.db().query_row(sql, [], |r| r.get(0)).unwrap() };
    (
        messages,
        d.count("verification"),
        d.count("outbox"),
        limited("SELECT count(*) FROM event WHERE event != 'rate_limited'"),
        limited("SELECT count(*) FROM event WHERE event = 'rate_limited'"),
    )
}

/// Checks a 429 rate_limited naming `limit`; returns its Retry-After in seconds, which the
/// body's retry_after repeats.
fn assert_limited(reply: &Reply, limit: &str) -> u64 {
    let detail = assert_problem(reply, 429, "rate_limited");
    assert!(detail.contains(limit), "{detail:?} does not name {limit:?}");
    let header: u64 = reply
        .header("retry-after")
        .expect("no Retry-After")
        .parse()
        .unwrap();
    assert_eq!(reply.body["retry_after"], header, "{}", reply.text);
    assert!(header >= 1);
    header
}

/// Sends to `to` and waits until the message is delivered, so nothing of it is left to happen.
async fn send_delivered(c: &Client, to: &str) -> String {
    let id = c.send_ok(json!({ "recipient": to })).await;
    c.wait_status(&id, "delivery delivered", |s| {
        s["delivery"]["state"] == "delivered"
    })
    .await;
    id
}

#[tokio::test]
async fn the_sixth_send_in_ten_minutes_is_refused_sends_nothing_and_survives_a_restart() {
    let mut d = Daemon::start("[api]\nlisten = []\n");
    let c = d.unix();
    let to = recipient();
    for _ in 0..5 {
        send_delivered(&c, &to).await;
    }
    let before = traces(&d).await;
    assert_eq!((before.0, before.1, before.2, before.4), (5, 5, 0, 0));

    let reply = c.send(json!({ "recipient": to })).await;
    let wait = assert_limited(&reply, "per_recipient 5/10m");
    assert!((590..=600).contains(&wait), "{wait}");
    assert!(
        !reply.text.contains(&to[1..]),
        "the recipient is echoed: {}",
        reply.text
    );
    // Nothing sent, nothing stored but the event.
    let after = traces(&d).await;
    assert_eq!(after, (before.0, before.1, before.2, before.3, 1));
    let (vid, detail): (String, String) = d
        .db()
        .query_row(
            "SELECT verification_id, detail FROM event WHERE event = 'rate_limited'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(vid, "");
    assert_eq!(detail, "send refused by per_recipient 5/10m (app default)");
    let metrics = c.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_sends_total{outcome=\"rate_limited\"} 1"),
        "{metrics}"
    );

    // Another recipient is not held back.
    let other = recipient();
    c.send_ok(json!({ "recipient": other })).await;

    // The count is in the database: a restart keeps the recipient refused.
    assert_eq!(d.stop().code(), Some(0));
    d.start_again();
    let reply = d.unix().send(json!({ "recipient": to })).await;
    let again = assert_limited(&reply, "per_recipient 5/10m");
    assert!(again <= wait, "{again} > {wait}");
    // The simulated handset starts empty with the process: nothing new reached it.
    assert!(d.unix().messages(&to).await.is_empty());
    assert_eq!(d.count("verification"), 6);
}

const PROXIED: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[limits]
per_ip = ["2/1h"]
trusted_proxies = ["127.0.0.1"]
"#;

#[tokio::test]
async fn per_ip_counts_clients_behind_a_trusted_proxy_apart_and_ignores_an_untrusted_peer() {
    let d = Daemon::start(PROXIED);
    let key = d.create_key("shop");
    let proxy = d.tcp().with_key(&key);
    let as_client = |xff: &str| proxy.with_header("x-forwarded-for", xff);
    let send = |c: Client| async move { c.send(json!({ "recipient": recipient() })).await };

    // Two clients through the same proxy (peer 127.0.0.1) are counted apart.
    let a = as_client("198.51.100.7");
    for _ in 0..2 {
        assert_eq!(send(a.clone()).await.status, 201);
    }
    assert_limited(&send(a.clone()).await, "per_ip 2/1h");
    // Its earlier hops are the client's own claims: the rightmost untrusted one counts.
    assert_limited(
        &send(as_client("203.0.113.1, 198.51.100.7")).await,
        "per_ip 2/1h",
    );
    let b = as_client("198.51.100.8, 127.0.0.1");
    for _ in 0..2 {
        assert_eq!(send(b.clone()).await.status, 201);
    }
    assert_limited(&send(b).await, "per_ip 2/1h");

    // A peer that is not a trusted proxy: its X-Forwarded-For is ignored, it is the client.
    let untrusted = proxy.connecting_from("127.0.0.2".parse().unwrap());
    for n in 0..2 {
        let c = untrusted.with_header("x-forwarded-for", &format!("192.0.2.{n}"));
        assert_eq!(send(c).await.status, 201);
    }
    let c = untrusted.with_header("x-forwarded-for", "192.0.2.99");
    assert_limited(&send(c).await, "per_ip 2/1h");

    // A malformed header from the proxy is ignored: the proxy itself is the client.
    for _ in 0..2 {
        assert_eq!(send(as_client("not-an-ip")).await.status, 201);
    }
    assert_limited(&send(proxy.clone()).await, "per_ip 2/1h");

    // On the Unix socket there is no address: per_ip does not apply.
    for _ in 0..3 {
        assert_eq!(send(d.unix()).await.status, 201);
    }
}

#[tokio::test]
async fn failed_verifies_across_verifications_lock_the_recipient_out() {
    let mut d = Daemon::start("[api]\nlisten = []\n[limits]\nlockout_after = 3\n");
    let c = d.unix();
    let to = recipient();

    // Two failures and then the right code: the run ends.
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    for _ in 0..2 {
        assert_eq!(c.verify(&id, &wrong(&code)).await.body["valid"], false);
    }
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);

    // Two failures on one verification, one more on the next: a new send does not reset.
    let first = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 2).await;
    for _ in 0..2 {
        assert_eq!(c.verify(&first, &wrong(&code)).await.body["valid"], false);
    }
    let second = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 3).await;
    let third_failure = c.verify(&second, &wrong(&code)).await;
    assert_eq!(third_failure.body["reason"], "incorrect_code");
    assert_eq!(third_failure.body["attempts_left"], 4);

    // Locked: the right code is not judged, and no attempt is used.
    let limit = "lockout after 3 failed verifies in a row";
    let wait = assert_limited(&c.verify(&second, &code).await, limit);
    assert!((55..=60).contains(&wait), "{wait}");
    let by_recipient = json!({ "recipient": to, "otp_code": code });
    assert_limited(&c.post("/otp/verify", &by_recipient).await, limit);
    let status = c.status(&second).await;
    assert_eq!(
        (status.body["attempts"].as_u64(), status.str("status")),
        (Some(1), "pending")
    );
    // No new code for a recipient that cannot verify one.
    assert_limited(&c.send(json!({ "recipient": to })).await, limit);
    assert_eq!(c.messages(&to).await.len(), 3);
    let refused: i64 = d
        .db()
        .query_row(
            "SELECT count(*) FROM event WHERE event = 'rate_limited' AND verification_id = ?1",
            [&second],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refused, 2);

    // The lock is in the database: it holds across a restart.
    assert_eq!(d.stop().code(), Some(0));
    d.start_again();
    assert_limited(&d.unix().verify(&second, &code).await, limit);
    assert_eq!(d.unix().status(&second).await.body["attempts"], 1);
}

#[test]
fn a_bad_limit_stops_the_daemon_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otpd.toml");
    std::fs::write(
        &config,
        "[api]\nlisten = []\n[limits]\nper_recipient = [\"5/10m\", \"ten/24h\"]\n",
    )
    .unwrap();
    let out = output_within_deadline(
        otpd()
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("otpd.toml:4:27: limits.per_recipient[1]")
            && stderr.contains("the count is not a whole number"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").join("otpd.db").exists());
}

#[tokio::test]
async fn sighup_reloads_the_limits() {
    let d = Daemon::start("[api]\nlisten = []\n[limits]\nper_recipient = [\"1/1h\"]\n");
    let c = d.unix();
    let to = recipient();
    c.send_ok(json!({ "recipient": to })).await;
    assert_limited(
        &c.send(json!({ "recipient": to })).await,
        "per_recipient 1/1h",
    );
    std::fs::write(
        d.config_path(),
        "[api]\nlisten = []\n[limits]\nper_recipient = [\"2/1h\"]\n",
    )
    .unwrap();
    d.signal("HUP");
    crate::client::eventually("the reload", || async {
        d.log_lines()
            .iter()
            .any(|l| l.contains("configuration reloaded"))
            .then_some(())
    })
    .await;
    // The send counted under the old limit still counts under the new one.
    c.send_ok(json!({ "recipient": to })).await;
    assert_limited(
        &c.send(json!({ "recipient": to })).await,
        "per_recipient 2/1h",
    );
}
