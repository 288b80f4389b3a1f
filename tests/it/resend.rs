//! Sending again: resend (cooldown, new code, attempts kept, limit) and repeated sends with
//! an Idempotency-Key.

use crate::client::{Client, assert_problem, recipient, wrong};
use crate::support::{Daemon, shared};
use serde_json::json;

/// Resend at once, at most twice; a TCP port is not needed.
const QUICK_RESENDS: &str = r#"
[api]
listen = []
[otp]
resend_cooldown = "0s"
max_resends = 2
"#;

/// Verification rows of `recipient` in the daemon's database.
fn rows_for(d: &Daemon, recipient: &str) -> i64 {
    d.db()
        .query_row(
            "SELECT count(*) FROM verification WHERE recipient = ?1",
            [recipient],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn a_resend_within_the_cooldown_is_too_soon() {
    let d = shared(); // resend_cooldown = "1h"
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    c.wait_code(&to, 1).await;

    let reply = c.resend(&id).await;
    assert_problem(&reply, 429, "resend_too_soon");
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(reply.body["retry_after"], retry_after, "{}", reply.text);

    let status = c.status(&id).await;
    assert_eq!(status.body["sends"], 1);
    assert_eq!(status.body["status"], "pending");
    assert_eq!(c.messages(&to).await.len(), 1);
    assert_eq!(rows_for(&d, &to), 1);
}

#[tokio::test]
async fn a_resend_sends_a_new_code_and_keeps_the_failed_attempts() {
    let d = Daemon::start(QUICK_RESENDS);
    let c = d.unix();
    let to = recipient();
    let sent = c.send(json!({ "recipient": to, "length": 10 })).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let id = sent.str("verification_id").to_string();
    let old = c.wait_code(&to, 1).await;
    assert_eq!(old.len(), 10);
    let reply = c.verify(&id, &wrong(&old)).await;
    assert_eq!(reply.body["attempts_left"], 4, "{}", reply.text);

    let resent = c.resend(&id).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    let mut want = sent.body.clone();
    for moving in ["expires_at", "resend_available_at"] {
        want[moving] = resent.body[moving].clone();
    }
    want["attempts_left"] = json!(4);
    assert_eq!(resent.body, want, "the same shape as send");

    let new = c.wait_code(&to, 2).await;
    assert_eq!(new.len(), 10);
    assert_ne!(old, new);
    let reply = c.verify(&id, &old).await;
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "pending",
               "reason": "incorrect_code", "attempts_left": 3})
    );
    let reply = c.verify(&id, &new).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
    let status = c.status(&id).await;
    assert_eq!(status.body["attempts"], 2);
    assert_eq!(status.body["sends"], 2);
    assert_eq!(status.body["status"], "approved");
}

#[tokio::test]
async fn resends_beyond_max_resends_are_refused() {
    let d = Daemon::start(QUICK_RESENDS);
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    for n in 2..=3 {
        c.wait_code(&to, n - 1).await;
        let reply = c.resend(&id).await;
        assert_eq!(reply.status, 200, "resend {n}: {}", reply.text);
    }
    let code = c.wait_code(&to, 3).await;
    let reply = c.resend(&id).await;
    assert_problem(&reply, 429, "too_many_resends");
    assert_eq!(c.status(&id).await.body["sends"], 3);
    // Refused, not ended: the last code still works.
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
}

async fn send_with_key(c: &Client, key: &str, body: serde_json::Value) -> crate::client::Reply {
    let bytes = body.to_string().into_bytes();
    c.call(
        "POST",
        "/otp/send",
        &[("idempotency-key", key)],
        Some(("application/json", bytes)),
    )
    .await
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_send_only_once() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let key = format!("order-{to}");
    let first = send_with_key(&c, &key, json!({ "recipient": to })).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send_with_key(&c, &key, json!({ "recipient": to })).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body, first.body);

    // Replays racing each other get the first reply too.
    let mut replays = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (c, key, to) = (c.clone(), key.clone(), to.clone());
        replays.spawn(async move { send_with_key(&c, &key, json!({ "recipient": to })).await });
    }
    while let Some(replay) = replays.join_next().await {
        assert_eq!(replay.unwrap().body, first.body);
    }

    let id = first.str("verification_id");
    c.wait_status(id, "delivery delivered", |s| {
        s["delivery"]["state"] == "delivered"
    })
    .await;
    assert_eq!(c.status(id).await.body["status"], "pending");
    assert_eq!(c.messages(&to).await.len(), 1);
    assert_eq!(rows_for(&d, &to), 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused() {
    let d = shared();
    let c = d.unix();
    let (to, other) = (recipient(), recipient());
    let key = format!("order-{to}");
    let first = send_with_key(&c, &key, json!({ "recipient": to })).await;
    assert_eq!(first.status, 201, "{}", first.text);

    for body in [
        json!({ "recipient": other }),
        json!({ "recipient": to, "length": 8 }),
    ] {
        let reply = send_with_key(&c, &key, body).await;
        assert_problem(&reply, 422, "idempotency_key_reused");
    }
    assert_eq!(rows_for(&d, &to), 1);
    assert_eq!(rows_for(&d, &other), 0);
    assert_eq!(
        c.status(first.str("verification_id")).await.body["status"],
        "pending"
    );
}
