//! The Beem-compatible calls (`POST /v1/request`, `POST /v1/verify`) over real HTTP against
//! the daemon, the way a Beem OTP client makes them: Basic auth on TCP, `msisdn` without '+',
//! Beem's reply shapes and result codes with the HTTP statuses of src/api/beem/codes.rs.
//! Every refusal changes nothing: no verification, no message.

use crate::client::{Client, Reply, assert_problem, wrong};
use crate::support::Daemon;
use base64::Engine as _;
use serde_json::{Value, json};

/// shop answers to Beem appId 4695 and allows 2 attempts; quick (appId 7) has codes that
/// expire after a second; blog sets no beem_app_id. Only Tanzanian numbers have a channel,
/// and a number may be sent to 3 times in 10 minutes.
const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[otp]
resend_cooldown = "1h"
[limits]
per_recipient = ["3/10m"]
[[channel]]
name = "sim"
kind = "sim"
recipients = ["+255"]
[[app]]
id = "shop"
name = "Duka"
beem_app_id = 4695
[app.otp]
max_attempts = 2
[[app]]
id = "quick"
beem_app_id = 7
[app.otp]
ttl = "1s"
[[app]]
id = "blog"
"#;

const SHOP: u64 = 4695;
const QUICK: u64 = 7;

/// A TCP client with `key` as Basic auth, as Beem clients send it.
fn basic(d: &Daemon, (key, secret): &(String, String)) -> Client {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    d.tcp()
        .with_header("authorization", &format!("Basic {pair}"))
}

/// Asserts `reply` is exactly Beem's `{"data":{"message":{"code","message"}}}` (no pinId) with
/// the HTTP `status`.
fn assert_beem(reply: &Reply, status: u16, code: u16, message: &str) {
    let context = format!("want {status} {code}: got {} {}", reply.status, reply.text);
    assert_eq!(reply.status, status, "{context}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{context}"
    );
    assert_eq!(
        reply.body,
        json!({ "data": { "message": { "code": code, "message": message } } }),
        "{context}"
    );
}

/// Asserts `reply` is Beem's "sent" reply; returns its pinId.
fn assert_sent(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let pin_id = reply.body["data"]["pinId"]
        .as_str()
        .unwrap_or_else(|| panic!("no pinId in {}", reply.text))
        .to_string();
    assert!(!pin_id.is_empty());
    assert_eq!(
        reply.body,
        json!({ "data": { "pinId": pin_id,
            "message": { "code": 100, "message": "SMS sent successfully" } } })
    );
    pin_id
}

async fn request(c: &Client, body: Value) -> Reply {
    c.post("/v1/request", &body).await
}

async fn verify(c: &Client, pin_id: &str, pin: &str) -> Reply {
    c.post("/v1/verify", &json!({ "pinId": pin_id, "pin": pin }))
        .await
}

/// A Tanzanian number no other test of this daemon uses, as Beem's msisdn ("255...") and as
/// the E.164 otpd answers with.
fn msisdn(n: u32) -> (String, String) {
    let digits = format!("255714{n:06}");
    (digits.clone(), format!("+{digits}"))
}

/// Rows and messages a refusal must not add.
async fn traces(d: &Daemon) -> (i64, i64, usize) {
    let phone = d.unix().get("/sim/messages").await;
    (
        d.count("verification"),
        d.count("outbox"),
        phone.body["messages"].as_array().unwrap().len(),
    )
}

#[tokio::test]
async fn a_pin_requested_the_beem_way_verifies_the_beem_way() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));
    let reply = request(
        &shop,
        json!({ "appId": SHOP, "msisdn": "255712345678", "source_addr": "ignored" }),
    )
    .await;
    let pin_id = assert_sent(&reply);
    let pin = d.unix().wait_code("+255712345678", 1).await;

    // The pinId is the verification id of the normal API, in shop's app, recipient in E.164.
    let status = shop.status(&pin_id).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(
        (&status.body["appid"], &status.body["recipient"]),
        (&json!("shop"), &json!("+255712345678"))
    );
    let listed = shop.get("/otp/list?recipient=%2B255712345678").await;
    assert_eq!(listed.body["items"][0]["verification_id"], pin_id.as_str());

    assert_beem(
        &verify(&shop, &pin_id, &wrong(&pin)).await,
        200,
        114,
        "Incorrect Pin",
    );
    assert_beem(&verify(&shop, &pin_id, &pin).await, 200, 117, "Valid Pin");
    assert_beem(
        &verify(&shop, &pin_id, &pin).await,
        200,
        118,
        "Pin already used",
    );
    let status = shop.status(&pin_id).await.body;
    assert_eq!(
        (&status["status"], &status["attempts"]),
        (&json!("approved"), &json!(1))
    );
}

#[tokio::test]
async fn beem_clients_spellings_are_accepted() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));
    // appId as a string (PHP clients), msisdn as a number and with '+', pin as a number.
    let (digits, e164) = msisdn(1);
    let as_number: u64 = digits.parse().unwrap();
    let pin_id =
        assert_sent(&request(&shop, json!({ "appId": "4695", "msisdn": as_number })).await);
    let pin = d.unix().wait_code(&e164, 1).await;
    let body = match pin.parse::<u64>() {
        // A pin with a leading zero only survives as a string.
        Ok(n) if !pin.starts_with('0') => json!({ "pinId": pin_id, "pin": n }),
        _ => json!({ "pinId": pin_id, "pin": pin }),
    };
    assert_beem(&shop.post("/v1/verify", &body).await, 200, 117, "Valid Pin");

    let (_, e164) = msisdn(2);
    let pin_id = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": e164 })).await);
    assert_eq!(shop.status(&pin_id).await.body["recipient"], e164.as_str());

    // An app without beem_app_id takes any appId; the key decides the app.
    let blog = basic(&d, &d.create_key("blog"));
    let (digits, _) = msisdn(3);
    let pin_id = assert_sent(&request(&blog, json!({ "appId": 1, "msisdn": digits })).await);
    assert_eq!(blog.status(&pin_id).await.body["appid"], "blog");

    // On the trusted socket (no key) the appId picks the app.
    let (digits, _) = msisdn(4);
    let pin_id =
        assert_sent(&request(&d.unix(), json!({ "appId": QUICK, "msisdn": digits })).await);
    assert_eq!(d.unix().status(&pin_id).await.body["appid"], "quick");
}

#[tokio::test]
async fn bad_requests_get_their_beem_code_and_change_nothing() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));
    let (digits, _) = msisdn(10);
    let before = traces(&d).await;
    let cases = [
        (json!({ "appId": SHOP }), 400, 103, "Phone number missing"),
        (
            json!({ "appId": SHOP, "msisdn": "" }),
            400,
            103,
            "Phone number missing",
        ),
        (
            json!({ "appId": SHOP, "msisdn": "0712345678" }),
            400,
            102,
            "Invalid phone number",
        ),
        (
            json!({ "appId": SHOP, "msisdn": "abc" }),
            400,
            102,
            "Invalid phone number",
        ),
        // Too short, unknown country, a fixed line: the engine's own checks.
        (
            json!({ "appId": SHOP, "msisdn": "2557" }),
            400,
            102,
            "Invalid phone number",
        ),
        (
            json!({ "appId": SHOP, "msisdn": "999712345678" }),
            400,
            102,
            "Invalid phone number",
        ),
        (
            json!({ "appId": SHOP, "msisdn": "255222123456" }),
            400,
            102,
            "Invalid phone number",
        ),
        (
            json!({ "msisdn": digits }),
            400,
            104,
            "Application id missing",
        ),
        (
            json!({ "appId": null, "msisdn": digits }),
            400,
            104,
            "Application id missing",
        ),
        (
            json!({ "appId": 9999, "msisdn": digits }),
            403,
            106,
            "Application not found",
        ),
        (
            json!({ "appId": "shop", "msisdn": digits }),
            403,
            106,
            "Application not found",
        ),
        // quick's appId with shop's key: the key decides, and its app answers to 4695 only.
        (
            json!({ "appId": QUICK, "msisdn": digits }),
            403,
            106,
            "Application not found",
        ),
        // Kenya has no channel here.
        (
            json!({ "appId": SHOP, "msisdn": "254722000001" }),
            503,
            108,
            "No channel",
        ),
    ];
    for (body, status, code, message) in cases {
        let reply = request(&shop, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert_beem(&reply, status, code, message);
    }
    assert_eq!(traces(&d).await, before);
}

#[tokio::test]
async fn without_valid_credentials_it_is_110_and_401() {
    let d = Daemon::start(CONFIG);
    let key = d.create_key("shop");
    let shop = basic(&d, &key);
    let (digits, e164) = msisdn(20);
    let pin_id = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    let pin = d.unix().wait_code(&e164, 1).await;
    // The handset may see the code before the outbox row is gone: settle first.
    d.unix()
        .wait_status(&pin_id, "delivery delivered", |s| {
            s["delivery"]["state"] == "delivered"
        })
        .await;
    let before = traces(&d).await;

    let tcp = d.tcp();
    let callers = [
        ("none", tcp.clone()),
        (
            "wrong secret",
            basic(&d, &(key.0.clone(), format!("{}x", key.1))),
        ),
        (
            "unknown key",
            basic(&d, &("ok_nosuchkey".to_string(), key.1.clone())),
        ),
        ("not base64", tcp.with_header("authorization", "Basic !!!")),
        ("no colon", tcp.with_header("authorization", "Basic a2V5")),
        ("Digest", tcp.with_header("authorization", "Digest abc")),
    ];
    for (what, c) in &callers {
        let sent = request(c, json!({ "appId": SHOP, "msisdn": digits })).await;
        assert_eq!(sent.status, 401, "{what}: {}", sent.text);
        assert_beem(&sent, 401, 110, "Credentials missing");
        let judged = verify(c, &pin_id, &pin).await;
        assert_eq!(judged.status, 401, "{what}: {}", judged.text);
        assert_beem(&judged, 401, 110, "Credentials missing");
        // Credentials come first: a bad body does not tell a stranger more.
        for path in ["/v1/request", "/v1/verify"] {
            let garbage = c
                .call(
                    "POST",
                    path,
                    &[],
                    Some(("application/json", b"{not json".to_vec())),
                )
                .await;
            assert_beem(&garbage, 401, 110, "Credentials missing");
            let empty = c.call("POST", path, &[], None).await;
            assert_beem(&empty, 401, 110, "Credentials missing");
        }
    }
    assert_eq!(traces(&d).await, before);
    // None of those tries counted: the pin still works.
    assert_beem(&verify(&shop, &pin_id, &pin).await, 200, 117, "Valid Pin");
}

#[tokio::test]
async fn bad_verifies_get_their_beem_code() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));
    let blog = basic(&d, &d.create_key("blog"));
    let (digits, e164) = msisdn(30);
    let pin_id = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    let pin = d.unix().wait_code(&e164, 1).await;

    let cases = [
        (json!({ "pinId": pin_id }), 400, 111, "Pin missing"),
        (
            json!({ "pinId": pin_id, "pin": "" }),
            400,
            111,
            "Pin missing",
        ),
        (json!({ "pin": pin }), 400, 112, "Pin id missing"),
        (
            json!({ "pinId": "", "pin": pin }),
            400,
            112,
            "Pin id missing",
        ),
        (
            json!({ "pinId": "no-such-pin-id", "pin": pin }),
            404,
            113,
            "Pin id not found",
        ),
        // Not digits: cannot be right, and no attempt is counted for it.
        (
            json!({ "pinId": pin_id, "pin": "12ab" }),
            200,
            114,
            "Incorrect Pin",
        ),
    ];
    for (body, status, code, message) in cases {
        assert_beem(&shop.post("/v1/verify", &body).await, status, code, message);
    }
    // Another app's pinId is as unknown as any other; its pin is not spent.
    assert_beem(
        &verify(&blog, &pin_id, &pin).await,
        404,
        113,
        "Pin id not found",
    );
    assert_eq!(shop.status(&pin_id).await.body["attempts"], 0);
    assert_beem(&verify(&shop, &pin_id, &pin).await, 200, 117, "Valid Pin");
}

#[tokio::test]
async fn attempts_run_out_and_pins_time_out() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));

    // shop allows 2 attempts: the second wrong pin ends it, then even the right one fails.
    let (digits, e164) = msisdn(40);
    let pin_id = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    let pin = d.unix().wait_code(&e164, 1).await;
    assert_beem(
        &verify(&shop, &pin_id, &wrong(&pin)).await,
        200,
        114,
        "Incorrect Pin",
    );
    assert_beem(
        &verify(&shop, &pin_id, &wrong(&pin)).await,
        200,
        116,
        "Attempts exceeded",
    );
    assert_beem(
        &verify(&shop, &pin_id, &pin).await,
        200,
        116,
        "Attempts exceeded",
    );

    // quick's pins live one second: once its status says expired, any pin is 115. (Not
    // waiting for the code: on a loaded machine it may not be sent within the second, and an
    // expired code is never judged, so which pin is sent does not matter;
    // otp_flow::a_code_expires_after_its_ttl shows the right code refused after expiry.)
    let quick = basic(&d, &d.create_key("quick"));
    let (digits, _) = msisdn(41);
    let pin_id = assert_sent(&request(&quick, json!({ "appId": QUICK, "msisdn": digits })).await);
    quick
        .wait_status(&pin_id, "status expired", |s| s["status"] == "expired")
        .await;
    assert_beem(
        &verify(&quick, &pin_id, "000000").await,
        200,
        115,
        "Pin Timeout",
    );

    // A new request for the same number replaces the pending one: its pin times out too.
    let (digits, e164) = msisdn(42);
    let first = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    let old_pin = d.unix().wait_code(&e164, 1).await;
    let second = assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    let new_pin = d.unix().wait_code(&e164, 2).await;
    assert_beem(
        &verify(&shop, &first, &old_pin).await,
        200,
        115,
        "Pin Timeout",
    );
    assert_beem(
        &verify(&shop, &second, &new_pin).await,
        200,
        117,
        "Valid Pin",
    );

    // per_recipient 3/10m: a third request goes, the fourth is refused with 101, 429 and
    // Retry-After.
    assert_sent(&request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await);
    d.unix().wait_code(&e164, 3).await;
    let refused = request(&shop, json!({ "appId": SHOP, "msisdn": digits })).await;
    assert_beem(&refused, 429, 101, "Failed to send SMS");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    assert_eq!(d.unix().messages(&e164).await.len(), 3);
}

#[tokio::test]
async fn broken_bodies_get_a_problem_and_change_nothing() {
    let d = Daemon::start(CONFIG);
    let shop = basic(&d, &d.create_key("shop"));
    let before = traces(&d).await;
    let json = "application/json";
    let huge = json!({ "appId": SHOP, "msisdn": "255714000050", "pad": "x".repeat(100_000) });
    for path in ["/v1/request", "/v1/verify"] {
        let call = |content_type: &'static str, body: Vec<u8>| {
            let shop = shop.clone();
            async move {
                shop.call("POST", path, &[], Some((content_type, body)))
                    .await
            }
        };
        let detail = assert_problem(
            &call(json, b"{\"appId\": 4695,".to_vec()).await,
            400,
            "invalid_json",
        );
        assert!(detail.contains("not JSON"), "{detail}");
        assert_problem(&call(json, b"[4695]".to_vec()).await, 400, "invalid_json");
        assert_problem(&call(json, Vec::new()).await, 400, "invalid_json");
        assert_problem(
            &call(json, huge.to_string().into_bytes()).await,
            413,
            "body_too_large",
        );
        assert_problem(
            &call(
                "text/plain",
                json!({ "appId": SHOP, "msisdn": "255714000050" })
                    .to_string()
                    .into_bytes(),
            )
            .await,
            415,
            "unsupported_media_type",
        );
    }
    assert_eq!(traces(&d).await, before);
}
