//! Every refusal of API.md that the daemon can give here, each as problem+json with its
//! stable code, and none of them leaving a trace: no message, no row.

use crate::client::{Reply, assert_problem, encode, recipient};
use crate::support::{Daemon, shared};
use serde_json::{Value, json};

/// One sim channel that serves Kenya only, so that a Tanzanian number has no channel.
const KENYA_ONLY: &str = r#"
[api]
listen = []
[[channel]]
name = "kenya"
kind = "sim"
recipients = ["+254"]
"#;

/// What a request may leave behind: messages on every handset, and rows.
async fn traces(d: &Daemon) -> (usize, i64, i64, i64) {
    let phone = d.unix().get("/sim/messages").await;
    let messages = phone.body["messages"].as_array().unwrap().len();
    (
        messages,
        d.count("verification"),
        d.count("outbox"),
        d.count("event"),
    )
}

#[tokio::test]
async fn bad_sends_get_their_problem_and_change_nothing() {
    let d = Daemon::start(KENYA_ONLY);
    let c = d.unix();
    let kenyan = "+254712000001";
    let id = c.send_ok(json!({ "recipient": kenyan })).await;
    c.wait_status(&id, "delivery delivered", |s| {
        s["delivery"]["state"] == "delivered"
    })
    .await;
    let before = traces(&d).await;
    assert_eq!((before.0, before.1, before.2), (1, 1, 0));

    let ke = "+254712000002";
    // Each body, and "STATUS CODE words-of-the-detail" of the problem it must get.
    let json_cases = [
        (json!([1]), "400 invalid_json"),
        (json!("x"), "400 invalid_json"),
        (json!(null), "400 invalid_json"),
        (json!({}), "400 missing_field recipient"),
        (json!({ "length": 6 }), "400 missing_field recipient"),
        (
            json!({ "recipient": 255_712_345_678_u64 }),
            "400 invalid_field recipient",
        ),
        (
            json!({ "recipient": ke, "length": 11 }),
            "400 invalid_field length",
        ),
        (
            json!({ "recipient": ke, "length": 3 }),
            "400 invalid_field length",
        ),
        (
            json!({ "recipient": ke, "length": "six" }),
            "400 invalid_field length",
        ),
        (
            json!({ "recipient": ke, "ttl": 0 }),
            "400 invalid_field ttl",
        ),
        (
            json!({ "recipient": ke, "ttl": -5 }),
            "400 invalid_field ttl",
        ),
        (
            json!({ "recipient": ke, "ttl": 86_401 }),
            "400 invalid_field ttl",
        ),
        (
            json!({ "recipient": ke, "colour": "red" }),
            "400 invalid_field colour",
        ),
        (
            json!({ "recipient": ke, "appid": "a b" }),
            "400 invalid_field appid",
        ),
        (
            json!({ "recipient": ke, "channel": "nope" }),
            "400 invalid_field channel",
        ),
        (
            json!({ "recipient": ke, "from": "too long a name" }),
            "400 invalid_field from",
        ),
        (
            json!({ "recipient": "+255222123456" }),
            "400 invalid_recipient fixed line",
        ),
        (
            json!({ "recipient": "+2557" }),
            "400 invalid_recipient too short",
        ),
        (
            json!({ "recipient": "+999712345678" }),
            "400 invalid_recipient unknown country code",
        ),
        (
            json!({ "recipient": "255712345678" }),
            "400 invalid_recipient international form",
        ),
        (
            json!({ "recipient": "+255 abc" }),
            "400 invalid_recipient character",
        ),
        (json!({ "recipient": "" }), "400 invalid_recipient empty"),
        (
            json!({ "recipient": "+255712345678" }),
            "503 no_channel +255712345678",
        ),
    ];
    let mut replies: Vec<(String, Reply, &str)> = Vec::new();
    for (body, expect) in json_cases {
        replies.push((body.to_string(), c.post("/otp/send", &body).await, expect));
    }

    let ok_body = json!({ "recipient": ke }).to_string();
    let padded = json!({ "recipient": ke, "pad": "x".repeat(100_000) }).to_string();
    let json = Some("application/json");
    // Each body with its content type, and the problem it must get.
    let raw_cases = [
        ("{\"recipient\":", json, "400 invalid_json"),
        ("recipient=+254712000002", json, "400 invalid_json"),
        ("", json, "400 invalid_json"),
        (padded.as_str(), json, "413 body_too_large"),
        (
            ok_body.as_str(),
            Some("text/plain"),
            "415 unsupported_media_type",
        ),
        (ok_body.as_str(), None, "415 unsupported_media_type"),
    ];
    for (body, content_type, expect) in raw_cases {
        let bytes = body.as_bytes().to_vec();
        let reply = c
            .call("POST", "/otp/send", &[], content_type.map(|t| (t, bytes)))
            .await;
        let name = format!("{content_type:?} {:.40}", body);
        replies.push((name, reply, expect));
    }
    let long_key = [("idempotency-key", "k".repeat(300))];
    let headers: Vec<(&str, &str)> = long_key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = c
        .call(
            "POST",
            "/otp/send",
            &headers,
            Some(("application/json", ok_body.into())),
        )
        .await;
    replies.push((
        "a long Idempotency-Key".into(),
        reply,
        "400 invalid_field Idempotency-Key",
    ));

    for (name, reply, expect) in replies {
        let mut want = expect.splitn(3, ' ');
        let status: u16 = want.next().unwrap().parse().unwrap();
        let code = want.next().unwrap();
        let words = want.next().unwrap_or("");
        let detail = assert_problem(&reply, status, code);
        assert!(
            detail.contains(words),
            "{name}: detail {detail:?} lacks {words:?}"
        );
        assert_eq!(traces(&d).await, before, "{name} left a trace");
    }
}

#[tokio::test]
async fn bad_verifies_get_their_problem_and_cost_no_attempt() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "verification_id": id, "otp_code": "abc" }),
            "invalid_field",
        ),
        (
            json!({ "verification_id": id, "otp_code": "" }),
            "invalid_field",
        ),
        (
            json!({ "verification_id": id, "otp_code": "12345678901" }),
            "invalid_field",
        ),
        (
            json!({ "verification_id": id, "otp_code": 123_456 }),
            "invalid_field",
        ),
        (json!({ "verification_id": id }), "missing_field"),
        (json!({ "otp_code": "123456" }), "invalid_field"),
        (
            json!({ "verification_id": id, "otp_code": "123456", "x": 1 }),
            "invalid_field",
        ),
        (
            json!({ "verification_id": id, "otp_code": "123456", "recipient": "+2557" }),
            "invalid_recipient",
        ),
        (json!([id]), "invalid_json"),
    ];
    for (body, code) in cases {
        let reply = c.post("/otp/verify", &body).await;
        assert_problem(&reply, 400, code);
    }
    for path in ["/otp/resend", "/otp/cancel"] {
        assert_problem(&c.post(path, &json!({})).await, 400, "missing_field");
        let reply = c.post(path, &json!({ "verification_id": 7 })).await;
        assert_problem(&reply, 400, "invalid_field");
    }
    assert_problem(&c.get("/otp/status").await, 400, "missing_field");
    let status = c.status(&id).await;
    assert_eq!(status.body["attempts"], 0, "{}", status.text);
    assert_eq!(status.body["status"], "pending");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let d = shared();
    let c = d.unix();
    let ids = [
        "0".repeat(44),
        "../../etc/passwd".to_string(),
        "x".repeat(500),
        "' OR 1=1 --".to_string(),
        "ünïcödé".to_string(),
        String::new(),
    ];
    for id in &ids {
        let reply = c
            .get(&format!("/otp/status?verification_id={}", encode(id)))
            .await;
        assert_problem(&reply, 404, "not_found");
        let body = json!({ "verification_id": id, "otp_code": "123456" });
        assert_problem(&c.post("/otp/verify", &body).await, 404, "not_found");
        assert_problem(&c.resend(id).await, 404, "not_found");
        assert_problem(&c.cancel(id).await, 404, "not_found");
    }
}
