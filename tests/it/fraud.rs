//! SMS-pumping protection against the real daemon: the country allow-list and the safe
//! numbers, the guard blocking a prefix whose codes go unverified while an approved one goes
//! on, its counts surviving a restart, record mode, and the per-IP guard over TCP. (The
//! window sliding with time is tested with a fake clock in `otp::fraud`.)

use crate::client::{Client, Reply, assert_problem};
use crate::support::{Daemon, otpd, output_within_deadline};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A mobile number under `prefix` ("+25571", "+25575", "+25471") that no other test of this
/// run uses.
fn number(prefix: &str) -> String {
    format!(
        "{prefix}{:07}",
        5_000_000 + NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Events of one kind as (verification_id, detail), oldest first.
fn events(d: &Daemon, event: &str) -> Vec<(String, String)> {
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT verification_id, detail FROM event WHERE event = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([event], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Checks a 403 blocked that names no number; returns its detail.
fn assert_blocked(reply: &Reply, to: &str) -> String {
    let detail = assert_problem(reply, 403, "blocked");
    assert!(
        !reply.text.contains(&to[1..]),
        "the recipient is echoed: {}",
        reply.text
    );
    detail
}

async fn metric(c: &Client, line: &str) -> bool {
    c.get("/metrics").await.text.lines().any(|l| l == line)
}

/// Sends to `to`, reads the code on the simulated handset and verifies it.
async fn send_and_approve(c: &Client, to: &str) {
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(to, 1).await;
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
}

const ALLOW_LIST: &str = r#"
[api]
listen = []
[fraud]
allow_countries = ["KE"]
safe_numbers = ["+255713999999"]
"#;

#[tokio::test]
async fn a_country_outside_the_allow_list_is_refused_and_a_safe_number_passes() {
    let d = Daemon::start(ALLOW_LIST);
    let c = d.unix();
    let to = number("+25571");
    let reply = c.send(json!({ "recipient": to })).await;
    let detail = assert_blocked(&reply, &to);
    assert_eq!(
        detail,
        "refused by abuse protection: sending to this country (TZ, +255) is not allowed"
    );
    assert!(
        reply.body.get("verification_id").is_none(),
        "{}",
        reply.text
    );
    // Nothing stored, queued or sent; the event belongs to no verification.
    assert_eq!((d.count("verification"), d.count("outbox")), (0, 0));
    assert!(c.messages(&to).await.is_empty());
    assert_eq!(
        events(&d, "blocked"),
        [(
            String::new(),
            "sending to this country (TZ, +255) is not allowed (app default)".to_string()
        )]
    );
    assert!(metric(&c, "otpd_fraud_blocked_total{reason=\"country\"} 1").await);
    assert!(metric(&c, "otpd_sends_total{outcome=\"blocked\"} 1").await);

    // A listed country and a safe number go out.
    send_and_approve(&c, &number("+25471")).await;
    send_and_approve(&c, "+255713999999").await;
    // Premium-rate and fixed-line numbers are refused before any list: not mobile.
    for bad in ["+449098790000", "+254202123456"] {
        let detail = assert_problem(
            &c.send(json!({ "recipient": bad })).await,
            400,
            "invalid_recipient",
        );
        assert!(detail.contains("not a mobile number"), "{detail}");
    }
}

const BLOCK_PREFIX: &str = r#"
[api]
listen = []
[fraud]
mode = "block"
min_sends = 4
max_unverified_share = 0.5
per = ["prefix"]
"#;

#[tokio::test]
async fn block_mode_stops_an_unverified_prefix_not_an_approved_one_and_remembers_it_across_a_restart()
 {
    let mut d = Daemon::start(BLOCK_PREFIX);
    let c = d.unix();
    // A prefix whose codes are all approved stays open.
    for _ in 0..6 {
        send_and_approve(&c, &number("+25575")).await;
    }
    // Four codes to +25571..., none verified: the fifth is blocked.
    for _ in 0..4 {
        c.send_ok(json!({ "recipient": number("+25571") })).await;
    }
    let to = number("+25571");
    let reply = c.send(json!({ "recipient": to })).await;
    let detail = assert_blocked(&reply, &to);
    assert!(detail.contains("+25571"), "{detail}");
    let id = reply.str("verification_id").to_string();

    // The refusal is a verification with status blocked; nothing was queued or sent.
    let status = c.status(&id).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.str("status"), "blocked");
    assert_eq!(status.body["delivery"]["state"], "rejected");
    assert!(c.messages(&to).await.is_empty());
    let queued: i64 = d
        .db()
        .query_row(
            "SELECT count(*) FROM outbox WHERE verification_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 0);
    assert_eq!(
        events(&d, "blocked"),
        [(
            id.clone(),
            "prefix +25571: 4 of 4 codes in the last 1h not verified (100%, over 50%)".to_string()
        )]
    );
    assert!(metric(&c, "otpd_fraud_blocked_total{reason=\"prefix\"} 1").await);
    // It cannot be verified, resent or canceled.
    let verify = c.verify(&id, "123456").await;
    assert_eq!(
        (verify.body["valid"].as_bool(), verify.str("reason")),
        (Some(false), "blocked")
    );
    assert_problem(&c.resend(&id).await, 409, "not_pending");
    // The approved prefix still goes on.
    send_and_approve(&c, &number("+25575")).await;

    // The counts are in the database: a restart keeps the prefix blocked.
    assert_eq!(d.stop().code(), Some(0));
    d.start_again();
    let c = d.unix();
    let to = number("+25571");
    assert_blocked(&c.send(json!({ "recipient": to })).await, &to);
    send_and_approve(&c, &number("+25575")).await;
}

#[tokio::test]
async fn record_mode_sends_and_flags() {
    let d = Daemon::start(
        "[api]\nlisten = []\n[fraud]\nmin_sends = 3\nmax_unverified_share = 0.5\nper = [\"prefix\"]\n",
    );
    let c = d.unix();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(c.send_ok(json!({ "recipient": number("+25571") })).await);
    }
    let flagged = events(&d, "flagged");
    assert_eq!(
        flagged,
        [(
            ids[3].clone(),
            "prefix +25571: 3 of 3 codes in the last 1h not verified (100%, over 50%)".to_string()
        )]
    );
    // The flagged code went out like the others.
    c.wait_status(&ids[3], "delivered", |s| {
        s["delivery"]["state"] == "delivered"
    })
    .await;
    assert!(metric(&c, "otpd_fraud_flagged_total{reason=\"prefix\"} 1").await);
    assert!(events(&d, "blocked").is_empty());
}

const BLOCK_IP: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[fraud]
mode = "block"
min_sends = 3
max_unverified_share = 0.5
per = ["ip"]
"#;

#[tokio::test]
async fn the_per_ip_guard_blocks_one_client_address_over_tcp() {
    let d = Daemon::start(BLOCK_IP);
    let key = d.create_key("shop");
    let a = d
        .tcp()
        .with_key(&key)
        .connecting_from("127.0.0.2".parse().unwrap());
    let b = d
        .tcp()
        .with_key(&key)
        .connecting_from("127.0.0.3".parse().unwrap());
    // Three unverified codes from one address, each to another prefix.
    for prefix in ["+25571", "+25575", "+25471"] {
        a.send_ok(json!({ "recipient": number(prefix) })).await;
    }
    let to = number("+25472");
    let reply = a.send(json!({ "recipient": to })).await;
    let detail = assert_blocked(&reply, &to);
    assert!(detail.contains("client address"), "{detail}");
    let (_, why) = events(&d, "blocked").pop().unwrap();
    assert_eq!(
        why,
        "ip 127.0.0.2: 3 of 3 codes in the last 1h not verified (100%, over 50%)"
    );
    assert!(metric(&d.unix(), "otpd_fraud_blocked_total{reason=\"ip\"} 1").await);
    // Another address, and the Unix socket (no address), go on.
    b.send_ok(json!({ "recipient": number("+25571") })).await;
    for _ in 0..4 {
        d.unix()
            .send_ok(json!({ "recipient": number("+25571") }))
            .await;
    }
}

#[test]
fn a_bad_fraud_key_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otpd.toml");
    std::fs::write(
        &config,
        "[fraud]\nmode = \"block\"\nallow_countries = [\"TZ\", \"Kenya\"]\n",
    )
    .unwrap();
    let out = output_within_deadline(otpd().arg("check-config").arg(&config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("otpd.toml:3:26: fraud.allow_countries[1]") && stderr.contains("ISO 3166"),
        "{stderr}"
    );
}
