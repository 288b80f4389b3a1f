//! TCP authentication: the three header forms of API.md, keys created and revoked while the
//! daemon runs, apps that cannot see each other's verifications, and the routes that need
//! no key.

use crate::client::{Client, Reply, assert_problem, recipient};
use crate::support::shared;
use base64::Engine as _;
use serde_json::json;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The same key in each form API.md allows.
fn every_form(tcp: &Client, (key, secret): &(String, String)) -> Vec<(&'static str, Client)> {
    let pair = format!("{key}:{secret}");
    vec![
        (
            "X-API-Key",
            tcp.with_header("x-api-key", key)
                .with_header("x-api-secret", secret),
        ),
        (
            "Basic",
            tcp.with_header("authorization", &format!("Basic {}", b64(&pair))),
        ),
        (
            "Bearer K:S",
            tcp.with_header("authorization", &format!("Bearer {pair}")),
        ),
        (
            "Bearer base64",
            tcp.with_header("authorization", &format!("Bearer {}", b64(&pair))),
        ),
    ]
}

#[tokio::test]
async fn a_key_works_in_each_header_form() {
    let d = shared();
    let key = d.create_key("formsapp");
    for (form, c) in every_form(&d.tcp(), &key) {
        let to = recipient();
        let sent = c.send(json!({ "recipient": to })).await;
        assert_eq!(sent.status, 201, "{form}: {}", sent.text);
        assert_eq!(sent.body["appid"], "formsapp", "{form}");
        let id = sent.str("verification_id");
        let code = c.wait_code(&to, 1).await;
        assert_eq!(c.status(id).await.status, 200, "{form}");
        let reply = c.verify(id, &code).await;
        assert_eq!(reply.body["valid"], true, "{form}: {}", reply.text);
    }
}

#[tokio::test]
async fn tcp_without_a_valid_key_is_unauthorized() {
    let d = shared();
    let key = d.create_key("wrongapp");
    let tcp = d.tcp();
    let wrong_secret = (key.0.clone(), format!("{}x", key.1));
    let unknown_key = ("ok_nosuchkey".to_string(), key.1.clone());
    let mut callers = vec![("no key", tcp.clone())];
    for (form, c) in every_form(&tcp, &wrong_secret) {
        callers.push((form, c));
    }
    callers.extend(every_form(&tcp, &unknown_key));
    callers.push(("key without secret", tcp.with_header("x-api-key", &key.0)));
    callers.push(("Digest", tcp.with_header("authorization", "Digest abc")));
    callers.push((
        "Basic garbage",
        tcp.with_header("authorization", "Basic !!!"),
    ));

    let to = recipient();
    for (what, c) in callers {
        let unauthorized = |reply: Reply| {
            assert_eq!(reply.status, 401, "{what}: {}", reply.text);
            assert_problem(&reply, 401, "unauthorized");
        };
        unauthorized(c.send(json!({ "recipient": to })).await);
        unauthorized(c.status("0").await);
        unauthorized(c.verify("0", "123456").await);
        unauthorized(
            c.get(&format!("/sim/messages?recipient=%2B{}", &to[1..]))
                .await,
        );
    }
    assert_eq!(d.unix().messages(&to).await.len(), 0);
}

#[tokio::test]
async fn a_new_key_works_at_once_and_a_revoked_one_stops_within_two_seconds() {
    let d = shared();
    let tcp = d.tcp();
    let key = d.create_key("revokeapp");
    let c = tcp.with_key(&key);
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    assert_eq!(c.status(&id).await.status, 200);

    d.revoke_key(&key.0);
    // Key lookups are cached for 2 s (api/key_cache.rs): the revoked key must fail by then.
    let revoked_at = std::time::Instant::now();
    loop {
        let reply = c.status(&id).await;
        if reply.status == 401 {
            assert_problem(&reply, 401, "unauthorized");
            break;
        }
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(3),
            "a revoked key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_problem(
        &c.send(json!({ "recipient": to })).await,
        401,
        "unauthorized",
    );
    // The verification itself is untouched.
    assert_eq!(d.unix().status(&id).await.body["status"], "pending");
}

#[tokio::test]
async fn a_key_cannot_see_another_apps_verifications() {
    let d = shared();
    let tcp = d.tcp();
    let alpha = tcp.with_key(&d.create_key("alpha"));
    let beta = tcp.with_key(&d.create_key("beta"));
    let to = recipient();
    let id = alpha.send_ok(json!({ "recipient": to })).await;
    let code = alpha.wait_code(&to, 1).await;

    assert_problem(&beta.status(&id).await, 404, "not_found");
    assert_problem(&beta.verify(&id, &code).await, 404, "not_found");
    assert_problem(&beta.resend(&id).await, 404, "not_found");
    assert_problem(&beta.cancel(&id).await, 404, "not_found");
    let by_recipient = json!({ "recipient": to, "otp_code": code });
    assert_problem(
        &beta.post("/otp/verify", &by_recipient).await,
        404,
        "not_found",
    );
    // Naming the other app in the body does not help.
    let as_alpha = json!({ "recipient": to, "otp_code": code, "appid": "alpha" });
    assert_eq!(beta.post("/otp/verify", &as_alpha).await.status, 400);
    let send_as_alpha = json!({ "recipient": to, "appid": "alpha" });
    assert_problem(&beta.send(send_as_alpha).await, 400, "invalid_field");

    let status = alpha.status(&id).await;
    assert_eq!(status.body["appid"], "alpha");
    assert_eq!(status.body["attempts"], 0, "beta's tries must not count");
    assert_eq!(status.body["status"], "pending");
    assert_eq!(alpha.verify(&id, &code).await.body["valid"], true);
}

#[tokio::test]
async fn health_and_readiness_need_no_key_but_the_handset_does() {
    let d = shared();
    let tcp = d.tcp();
    let health = tcp.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body, json!({ "status": "ok" }));
    let ready = tcp.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_problem(&tcp.get("/sim/messages").await, 401, "unauthorized");
    let keyed = tcp.with_key(&d.create_key("phoneapp"));
    assert_eq!(keyed.get("/sim/messages").await.status, 200);
}

#[test]
fn the_trusted_socket_is_for_owner_and_group_only() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let d = shared();
    let meta = std::fs::metadata(d.socket()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
}
