//! The life of a verification on the Unix socket: send, delivery to the simulated handset,
//! verify (right, wrong, reused, by recipient), expiry, the attempt limit and cancel.

use crate::client::{recipient, wrong};
use crate::support::shared;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// Parses an RFC 3339 time of the API.
fn time(v: &Value) -> SystemTime {
    humantime::parse_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not RFC 3339: {v}: {e}"))
}

/// `at` lies within `slack` of `now + offset`.
fn about(at: &Value, offset: Duration, slack: Duration) {
    let want = SystemTime::now() + offset;
    let got = time(at);
    let diff = got.duration_since(want).unwrap_or_else(|e| e.duration());
    assert!(diff <= slack, "{at} is {diff:?} away from now + {offset:?}");
}

/// "+255 713-000-123": the same number as a person might type it.
fn spaced(e164: &str) -> String {
    let (cc, rest) = e164.split_at(4);
    let (a, rest) = rest.split_at(3);
    let (b, c) = rest.split_at(3);
    format!(" {cc} {a}-{b}-{c} ")
}

#[tokio::test]
async fn send_deliver_verify_and_status() {
    let d = shared();
    let c = d.unix();
    let to = recipient();

    let sent = c.send(json!({ "recipient": spaced(&to) })).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let body = sent.body.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "appid",
            "attempts_left",
            "channel",
            "delivery",
            "expires_at",
            "recipient",
            "resend_available_at",
            "status",
            "verification_id"
        ]
    );
    let id = sent.str("verification_id").to_string();
    assert!(!id.is_empty() && id.len() <= 64, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "not URL-safe: {id}"
    );
    assert_eq!(body["appid"], "default");
    assert_eq!(body["recipient"], to.as_str());
    assert_eq!(body["status"], "pending");
    assert_eq!(body["channel"], "sim");
    assert_eq!(body["attempts_left"], 5);
    assert_eq!(body["delivery"], json!({ "state": "queued" }));
    let slack = Duration::from_secs(10);
    about(&body["expires_at"], Duration::from_secs(300), slack);
    about(
        &body["resend_available_at"],
        Duration::from_secs(3600),
        slack,
    );

    let code = c.wait_code(&to, 1).await;
    assert_eq!(code.len(), 6);
    let phone = c
        .get(&format!("/sim/messages?recipient=%2B{}", &to[1..]))
        .await;
    assert_eq!(phone.body["messages"].as_array().unwrap().len(), 1);
    let message = &phone.body["messages"][0];
    assert_eq!(
        message["text"],
        format!("Your otpd code is {code}. It expires in 5 min.")
    );
    assert_eq!(message["recipient"], to.as_str());
    assert_eq!(message["channel"], "sim");
    about(&message["received_at"], Duration::ZERO, slack);

    let reply = c.verify(&id, &wrong(&code)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "pending",
               "reason": "incorrect_code", "attempts_left": 4})
    );
    let reply = c.verify(&id, &code).await;
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": true, "status": "approved"})
    );
    let reply = c.verify(&id, &code).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "approved",
               "reason": "already_used"})
    );

    let status = c
        .wait_status(&id, "delivery delivered", |s| {
            s["delivery"]["state"] == "delivered"
        })
        .await;
    assert_eq!(status["verification_id"], id.as_str());
    assert_eq!(status["appid"], "default");
    assert_eq!(status["recipient"], to.as_str());
    assert_eq!(status["status"], "approved");
    assert_eq!(status["attempts"], 1);
    assert_eq!(status["attempts_left"], 4);
    assert_eq!(status["sends"], 1);
    about(&status["created_at"], Duration::ZERO, slack);
    about(&status["verified_at"], Duration::ZERO, slack);
    assert_eq!(status["expires_at"], body["expires_at"]);
    let delivery = &status["delivery"];
    assert_eq!(delivery["channel"], "sim");
    assert!(
        delivery["message_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(time(&delivery["submitted_at"]) <= time(&delivery["delivered_at"]));
    assert_eq!(delivery["error"], Value::Null);
}

#[tokio::test]
async fn a_code_expires_after_its_ttl() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let sent = c.send(json!({ "recipient": to, "ttl": 1 })).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    about(
        &sent.body["expires_at"],
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    let id = sent.str("verification_id");
    let code = c.wait_code(&to, 1).await;

    c.wait_status(id, "status expired", |s| s["status"] == "expired")
        .await;
    let reply = c.verify(id, &code).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "expired", "reason": "expired"})
    );
    let detail = crate::client::assert_problem(&c.resend(id).await, 409, "not_pending");
    assert!(detail.contains("expired"), "{detail}");
    crate::client::assert_problem(&c.cancel(id).await, 409, "not_pending");
}

#[tokio::test]
async fn the_fifth_wrong_code_ends_it_and_then_even_the_right_one_fails() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    let bad = wrong(&code);
    for left in (1..=4).rev() {
        let reply = c.verify(&id, &bad).await;
        assert_eq!(reply.body["reason"], "incorrect_code", "{}", reply.text);
        assert_eq!(reply.body["attempts_left"], left, "{}", reply.text);
    }
    let reply = c.verify(&id, &bad).await;
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "max_attempts_reached",
               "reason": "max_attempts_reached", "attempts_left": 0})
    );
    let reply = c.verify(&id, &code).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["valid"], false);
    assert_eq!(reply.body["status"], "max_attempts_reached");
    assert_eq!(reply.body["reason"], "max_attempts_reached");
    let status = c.status(&id).await;
    assert_eq!(status.body["status"], "max_attempts_reached");
    assert_eq!(status.body["attempts"], 5);
    assert_eq!(status.body["attempts_left"], 0);
}

#[tokio::test]
async fn cancel_ends_a_verification() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    // The handset has the code before its status report reaches otpd; wait
    // for the report so that the two reads below see the same delivery.
    c.wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;

    let reply = c.cancel(&id).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["verification_id"], id.as_str());
    assert_eq!(reply.body["status"], "canceled");
    assert_eq!(reply.body["recipient"], to.as_str());
    // The status object, as GET /otp/status shows it.
    assert_eq!(reply.body, c.status(&id).await.body);
    let reply = c.verify(&id, &code).await;
    assert_eq!(
        reply.body,
        json!({"verification_id": id, "valid": false, "status": "canceled", "reason": "canceled"})
    );
    crate::client::assert_problem(&c.cancel(&id).await, 409, "not_pending");
    crate::client::assert_problem(&c.resend(&id).await, 409, "not_pending");
}

#[tokio::test]
async fn a_new_send_cancels_the_pending_one() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let first = c.send_ok(json!({ "recipient": to })).await;
    let first_code = c.wait_code(&to, 1).await;
    let second = c.send_ok(json!({ "recipient": spaced(&to) })).await;
    assert_ne!(first, second);
    let second_code = c.wait_code(&to, 2).await;

    assert_eq!(c.status(&first).await.body["status"], "canceled");
    assert_eq!(c.status(&second).await.body["status"], "pending");
    let reply = c.verify(&first, &first_code).await;
    assert_eq!(reply.body["reason"], "canceled", "{}", reply.text);
    let reply = c.verify(&second, &second_code).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
}

#[tokio::test]
async fn verify_by_recipient_checks_the_latest_pending_one() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let first = c.send_ok(json!({ "recipient": to })).await;
    let old_code = c.wait_code(&to, 1).await;
    let latest = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 2).await;
    let by_recipient = |otp: &str| json!({ "recipient": spaced(&to), "otp_code": otp });

    // The code of the canceled one is wrong for the latest; it counts as an attempt.
    let reply = c.post("/otp/verify", &by_recipient(&old_code)).await;
    if old_code != code {
        assert_eq!(
            reply.body,
            json!({"verification_id": latest, "valid": false, "status": "pending",
                   "reason": "incorrect_code", "attempts_left": 4})
        );
    }
    let reply = c.post("/otp/verify", &by_recipient(&code)).await;
    assert_eq!(
        reply.body,
        json!({"verification_id": latest, "valid": true, "status": "approved"})
    );
    assert_eq!(c.status(&first).await.body["status"], "canceled");
    // Nothing is pending any more: "no such verification", or the latest one's outcome.
    let reply = c.post("/otp/verify", &by_recipient(&code)).await;
    if reply.status == 200 {
        assert_eq!(
            reply.body,
            json!({"verification_id": latest, "valid": false, "status": "approved",
                   "reason": "already_used"})
        );
    } else {
        crate::client::assert_problem(&reply, 404, "not_found");
    }
}

#[tokio::test]
async fn a_verify_naming_another_recipient_is_an_incorrect_code() {
    let d = shared();
    let c = d.unix();
    let (to, other) = (recipient(), recipient());
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    let ask = |r: &str| json!({ "verification_id": id, "otp_code": code, "recipient": r });

    let reply = c.post("/otp/verify", &ask(&other)).await;
    assert_eq!(reply.body["reason"], "incorrect_code", "{}", reply.text);
    assert_eq!(reply.body["attempts_left"], 4, "{}", reply.text);
    let reply = c.post("/otp/verify", &ask(&spaced(&to))).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
}

#[tokio::test]
async fn send_options_shape_the_code_and_the_message() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let body =
        json!({ "recipient": to, "length": 4, "ttl": 600, "channel": "sms", "from": "MyShop" });
    let sent = c.send(body).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    assert_eq!(sent.body["channel"], "sim");
    about(
        &sent.body["expires_at"],
        Duration::from_secs(600),
        Duration::from_secs(10),
    );
    let code = c.wait_code(&to, 1).await;
    assert_eq!(code.len(), 4);
    assert_eq!(
        c.messages(&to).await,
        [format!("Your otpd code is {code}. It expires in 10 min.")]
    );

    let other = recipient();
    let by_name = c
        .send(json!({ "recipient": other, "channel": "sim", "length": 10 }))
        .await;
    assert_eq!(by_name.status, 201, "{}", by_name.text);
    assert_eq!(c.wait_code(&other, 1).await.len(), 10);
}
