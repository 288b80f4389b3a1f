//! The OpenAPI document (`openapi.json`) against the code and the running daemon:
//!
//! - the daemon serves the file byte for byte at GET /openapi.json;
//! - it is a valid OpenAPI 3.1 document (the official schema, vendored in tests/openapi/), its
//!   schemas are valid JSON Schema 2020-12, and every `$ref` resolves;
//! - every route of src/ is documented;
//! - every operation is driven through a real daemon for its main outcomes, and each answer's
//!   status must be documented for that operation, its content type and body must match the
//!   documented schema, and its required headers must be there.
//!
//! Adding an endpoint: document it in openapi.json, then call it in
//! [`every_operation_answers_as_documented`]; the test fails while a documented operation is
//! not called there.

use crate::client::{Client, Reply, recipient, wrong};
use crate::support::Daemon;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

const DOCUMENT: &str = include_str!("../../openapi.json");
const OAS_SCHEMA: &str = include_str!("../openapi/oas-3.1-schema.json");

fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap()
}

/// A `#/a/b` reference's target in `doc`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// `value`, or what its `$ref` points to.
fn deref<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("unresolved $ref {r}")),
        None => value,
    }
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every (METHOD, path) of the document.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// How many operations the document has.
pub fn operation_count() -> usize {
    documented_operations(&document()).len()
}

/// Checks answers against the document and remembers which operations were checked.
struct Conformance {
    doc: Value,
    checked: Mutex<BTreeSet<(String, String)>>,
}

impl Conformance {
    fn new() -> Conformance {
        Conformance {
            doc: document(),
            checked: Mutex::default(),
        }
    }

    /// Panics with a readable message unless `reply` is a documented answer of
    /// `method path`: a documented status, content type and body, and its required headers.
    fn check(&self, method: &str, path: &str, reply: &Reply) {
        let doc = &self.doc;
        let what = format!(
            "{method} {path} answered {} {}",
            reply.status,
            reply.text.chars().take(400).collect::<String>()
        );
        let op_pointer = format!("/paths/{}/{}", escape(path), method.to_lowercase());
        let op = doc
            .pointer(&op_pointer)
            .unwrap_or_else(|| panic!("{method} {path} is not in openapi.json"));
        let status = reply.status.to_string();
        let response_pointer = match op["responses"].get(&status) {
            Some(r) => match r.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference.trim_start_matches('#').to_string(),
                None => format!("{op_pointer}/responses/{status}"),
            },
            None => panic!("{what}\nbut status {status} is not documented for {method} {path}"),
        };
        let response = doc.pointer(&response_pointer).unwrap();
        let content_type = reply.header("content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let content = response["content"].as_object().unwrap();
        assert!(
            content.contains_key(essence),
            "{what}\nbut its content type {content_type:?} is not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        );
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let header = deref(doc, header);
                let Some(value) = reply.header(name) else {
                    assert!(
                        header["required"] != true,
                        "{what}\nbut the required header {name} is missing"
                    );
                    continue;
                };
                let parsed: Value = serde_json::from_str(value).unwrap_or(json!(value));
                let errors = validate(doc, &header["schema"], &parsed);
                assert!(
                    errors.is_empty(),
                    "{what}\nbut its header {name}: {value} does not match: {errors:?}"
                );
            }
        }
        let schema_pointer = format!("{response_pointer}/content/{}/schema", escape(essence));
        let body = if essence.ends_with("json") {
            serde_json::from_str(&reply.text)
                .unwrap_or_else(|e| panic!("{what}\nbut the body is not JSON: {e}"))
        } else {
            Value::String(reply.text.clone())
        };
        let errors = validate(doc, &json!({ "$ref": format!("#{schema_pointer}") }), &body);
        assert!(
            errors.is_empty(),
            "{what}\nbut the body does not match the schema at #{schema_pointer}:\n  {}",
            errors.join("\n  ")
        );
        self.checked
            .lock()
            .unwrap()
            .insert((method.to_string(), path.to_string()));
    }
}

/// Validates `instance` against `schema`, a schema inside `doc` (its `#/components/...`
/// references resolve within the document); returns the errors, each with its place.
fn validate(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = doc.clone();
    let object = root.as_object_mut().unwrap();
    object.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    // The document's own keys are not JSON Schema keywords, so they are ignored; the schema
    // under test is applied to the root through an `allOf`.
    object.insert("allOf".into(), json!([schema]));
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
        .collect()
}

#[tokio::test]
async fn the_daemon_serves_the_file_byte_for_byte_without_a_key() {
    let daemon = crate::support::shared();
    let reply = daemon.tcp().get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text, DOCUMENT);
    // The Unix socket serves the same.
    assert_eq!(daemon.unix().get("/openapi.json").await.text, DOCUMENT);
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = document();
    let oas: Value = serde_json::from_str(OAS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&oas).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "openapi.json:\n{}", errors.join("\n"));
    assert_eq!(doc["openapi"], "3.1.0");

    // That schema leaves schema objects unchecked: each must be valid JSON Schema 2020-12.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let mut schema = schema.clone();
        schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("components/schemas/{name} is not valid JSON Schema: {e}");
        }
    }

    // Every reference resolves, and every schema compiles with the document around it.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        assert!(resolve(&doc, r).is_some(), "unresolved $ref {r}");
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        validate(
            &doc,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
            &json!(null),
        );
    }
}

/// The `.route("PATH", get(..).post(..))` calls of the sources: (METHOD, PATH).
fn routes_in(dir: &Path, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            routes_in(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in text.split(".route(").skip(1) {
            // The arguments: up to the parenthesis that closes `.route(`, however formatted.
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(call.len(), |(i, _)| i);
            let args = &call[..end];
            let Some((route, handlers)) = args
                .trim_start()
                .strip_prefix('"')
                .and_then(|a| a.split_once('"'))
            else {
                continue;
            };
            for method in ["get", "post", "put", "delete", "patch"] {
                let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if called {
                    out.insert((method.to_uppercase(), route.to_string()));
                }
            }
        }
    }
}

#[test]
fn every_route_of_the_code_is_documented() {
    let mut routes = BTreeSet::new();
    routes_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut routes,
    );
    for known in [
        ("POST", "/otp/send"),
        ("GET", "/otp/status"),
        ("GET", "/openapi.json"),
    ] {
        assert!(
            routes.contains(&(known.0.into(), known.1.into())),
            "the route scan found {routes:?}"
        );
    }
    let documented = documented_operations(&document());
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes of src/ that openapi.json does not document: {missing:?}; describe them there \
         and call them in every_operation_answers_as_documented (README: OpenAPI document)"
    );
}

/// Small limits, so that each refusal is quick to reach; a webhook whose receiver refuses
/// connections (port 9, discard, is closed), so that the delivery log has tries to show.
const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
max_body = 1024
[otp]
max_attempts = 2
resend_cooldown = "0s"
max_resends = 1
[limits]
per_recipient = ["3/1h"]
[[webhook]]
name = "closed"
app = "*"
url = "http://127.0.0.1:9/otpd"
"#;

#[tokio::test]
async fn every_operation_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("webhook.secret");
    std::fs::write(&secret, "a webhook secret\n").unwrap();
    let daemon = Daemon::start(&format!("{CONFIG}secret_file = {secret:?}\n"));
    let key = daemon.create_key("default");
    let api = daemon.tcp().with_key(&key);
    let anonymous = daemon.tcp();
    let c = Conformance::new();
    let json = |v: &Value| Some(("application/json", v.to_string().into_bytes()));

    // send: 201, 400 (each kind), 401, 413, 415, 422, 429.
    let to = recipient();
    let sent = api.send(json!({ "recipient": to })).await;
    c.check("POST", "/otp/send", &sent);
    assert_eq!(sent.status, 201);
    let id = sent.str("verification_id").to_string();
    for bad in [
        json!({}),
        json!({ "recipient": "+1" }),
        json!({ "recipient": to, "length": 3 }),
        json!({ "recipient": to, "colour": "red" }),
        json!([1]),
    ] {
        let reply = api.send(bad).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        c.check("POST", "/otp/send", &reply);
    }
    let not_json = api
        .call(
            "POST",
            "/otp/send",
            &[],
            Some(("application/json", b"{".to_vec())),
        )
        .await;
    c.check("POST", "/otp/send", &not_json);
    let no_key = anonymous.send(json!({ "recipient": to })).await;
    assert_eq!(no_key.status, 401);
    c.check("POST", "/otp/send", &no_key);
    let text = api
        .call(
            "POST",
            "/otp/send",
            &[],
            Some(("text/plain", b"hi".to_vec())),
        )
        .await;
    assert_eq!(text.status, 415);
    c.check("POST", "/otp/send", &text);
    let huge = json!({ "recipient": to, "from": "x".repeat(2000) });
    let too_large = api.call("POST", "/otp/send", &[], json(&huge)).await;
    assert_eq!(too_large.status, 413);
    c.check("POST", "/otp/send", &too_large);
    let other = recipient();
    let keyed = [("idempotency-key", "order-1")];
    let first = api
        .call(
            "POST",
            "/otp/send",
            &keyed,
            json(&json!({ "recipient": other })),
        )
        .await;
    c.check("POST", "/otp/send", &first);
    let reused = api
        .call(
            "POST",
            "/otp/send",
            &keyed,
            json(&json!({ "recipient": to })),
        )
        .await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    c.check("POST", "/otp/send", &reused);

    // sim/messages: 200, 400, 401.
    let code = api.wait_code(&to, 1).await;
    for path in [
        format!("/sim/messages?recipient={}", crate::client::encode(&to)),
        "/sim/messages".to_string(),
        "/sim/messages?recipient=12".to_string(),
    ] {
        c.check("GET", "/sim/messages", &api.get(&path).await);
    }
    c.check(
        "GET",
        "/sim/messages",
        &anonymous.get("/sim/messages").await,
    );

    // status: 200 (delivered), 400, 401, 404.
    api.wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
    c.check("GET", "/otp/status", &api.status(&id).await);
    c.check("GET", "/otp/status", &api.get("/otp/status").await);
    c.check("GET", "/otp/status", &api.status("no-such-id").await);
    c.check("GET", "/otp/status", &anonymous.status(&id).await);

    // verify: 200 invalid (pending) and valid, 200 already used, 400, 401, 404, 415.
    let wrong_code = api.verify(&id, &wrong(&code)).await;
    assert_eq!(
        wrong_code.body["reason"], "incorrect_code",
        "{}",
        wrong_code.text
    );
    c.check("POST", "/otp/verify", &wrong_code);
    let by_recipient = json!({ "recipient": to, "otp_code": code });
    let valid = api.post("/otp/verify", &by_recipient).await;
    assert_eq!(valid.body["valid"], true, "{}", valid.text);
    c.check("POST", "/otp/verify", &valid);
    c.check("POST", "/otp/verify", &api.verify(&id, &code).await);
    c.check("POST", "/otp/verify", &api.verify(&id, "12ab").await);
    c.check(
        "POST",
        "/otp/verify",
        &api.post("/otp/verify", &json!({ "otp_code": "1234" }))
            .await,
    );
    c.check(
        "POST",
        "/otp/verify",
        &api.verify("no-such-id", "1234").await,
    );
    c.check("POST", "/otp/verify", &anonymous.verify(&id, &code).await);
    let text = api
        .call(
            "POST",
            "/otp/verify",
            &[],
            Some(("text/plain", b"1".to_vec())),
        )
        .await;
    c.check("POST", "/otp/verify", &text);

    // verify: max_attempts_reached (max_attempts = 2).
    let third = recipient();
    let id3 = api.send_ok(json!({ "recipient": third })).await;
    for _ in 0..3 {
        c.check("POST", "/otp/verify", &api.verify(&id3, "0000").await);
    }

    // resend: 200, then 429 too_many_resends (max_resends = 1); 400, 401, 404, 409.
    let fourth = recipient();
    let id4 = api.send_ok(json!({ "recipient": fourth })).await;
    let resent = api.resend(&id4).await;
    assert_eq!(resent.status, 200, "{}", resent.text);
    c.check("POST", "/otp/resend", &resent);
    let too_many = api.resend(&id4).await;
    assert_eq!(too_many.status, 429, "{}", too_many.text);
    c.check("POST", "/otp/resend", &too_many);
    c.check(
        "POST",
        "/otp/resend",
        &api.post("/otp/resend", &json!({})).await,
    );
    c.check("POST", "/otp/resend", &api.resend("no-such-id").await);
    c.check("POST", "/otp/resend", &anonymous.resend(&id4).await);
    let ended = api.resend(&id).await;
    assert_eq!(ended.status, 409, "{}", ended.text);
    c.check("POST", "/otp/resend", &ended);

    // cancel: 200, 409, 400, 401, 404.
    let canceled = api.cancel(&id4).await;
    assert_eq!(canceled.body["status"], "canceled", "{}", canceled.text);
    c.check("POST", "/otp/cancel", &canceled);
    c.check("POST", "/otp/cancel", &api.cancel(&id4).await);
    c.check(
        "POST",
        "/otp/cancel",
        &api.post("/otp/cancel", &json!({ "id": 1 })).await,
    );
    c.check("POST", "/otp/cancel", &api.cancel("no-such-id").await);
    c.check("POST", "/otp/cancel", &anonymous.cancel(&id4).await);

    // send: 429 rate_limited, the fourth send to one number within the hour (3/1h).
    let mut last = None;
    for _ in 0..3 {
        last = Some(api.send(json!({ "recipient": third })).await);
    }
    let limited = last.unwrap();
    assert_eq!(limited.status, 429, "{}", limited.text);
    c.check("POST", "/otp/send", &limited);

    manage_operations(&c, &api, &anonymous, &to, &id).await;
    beem_operations(&c, &api, &anonymous).await;

    // Operations, without a key.
    c.check("GET", "/healthz", &anonymous.get("/healthz").await);
    c.check("GET", "/readyz", &anonymous.get("/readyz").await);
    c.check("GET", "/metrics", &anonymous.get("/metrics").await);
    c.check(
        "GET",
        "/openapi.json",
        &anonymous.get("/openapi.json").await,
    );

    let checked = c.checked.lock().unwrap().clone();
    let documented = documented_operations(&c.doc);
    let unchecked: Vec<_> = documented.difference(&checked).collect();
    assert!(
        unchecked.is_empty(),
        "operations of openapi.json that this test does not call: {unchecked:?}; call each \
         for its main outcomes above"
    );
}

/// The management endpoints, after the calls above left verifications, events and attempts.
async fn manage_operations(c: &Conformance, api: &Client, anonymous: &Client, to: &str, id: &str) {
    let to = crate::client::encode(to);
    let get = |path: String, status: u16| async move {
        let reply = api.get(&path).await;
        assert_eq!(reply.status, status, "GET {path}: {}", reply.text);
        reply
    };
    for (path, status) in [
        ("/otp/list".to_string(), 200),
        (format!("/otp/list?recipient={to}&status=approved"), 200),
        ("/otp/list?limit=0".into(), 400),
        ("/otp/list?colour=red".into(), 400),
        ("/otp/list?appid=another".into(), 404),
    ] {
        c.check("GET", "/otp/list", &get(path, status).await);
    }
    let first = get("/otp/list?limit=1".into(), 200).await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let next = format!(
        "/otp/list?limit=1&cursor={}",
        crate::client::encode(&cursor)
    );
    c.check("GET", "/otp/list", &get(next, 200).await);
    c.check("GET", "/otp/list", &anonymous.get("/otp/list").await);

    for (path, status) in [
        (format!("/otp/logs?verification_id={id}"), 200),
        ("/otp/logs?limit=2".into(), 200),
        ("/otp/logs?verification_id=no-such-id".into(), 404),
        ("/otp/logs?since=yesterday".into(), 400),
    ] {
        c.check("GET", "/otp/logs", &get(path, status).await);
    }
    c.check("GET", "/otp/logs", &anonymous.get("/otp/logs").await);

    for (path, status) in [
        (format!("/otp/attempts?verification_id={id}"), 200),
        ("/otp/attempts".into(), 400),
        ("/otp/attempts?verification_id=no-such-id".into(), 404),
    ] {
        c.check("GET", "/otp/attempts", &get(path, status).await);
    }
    c.check(
        "GET",
        "/otp/attempts",
        &anonymous.get("/otp/attempts?verification_id=x").await,
    );

    for (path, status) in [
        (format!("/otp/rate-limits?recipient={to}"), 200),
        ("/otp/rate-limits".into(), 200),
        ("/otp/rate-limits?recipient=12".into(), 400),
        ("/otp/rate-limits?appid=another".into(), 404),
    ] {
        c.check("GET", "/otp/rate-limits", &get(path, status).await);
    }
    c.check(
        "GET",
        "/otp/rate-limits",
        &anonymous.get("/otp/rate-limits").await,
    );

    for (path, status) in [
        ("/otp/reports".to_string(), 200),
        ("/otp/reports?group_by=channel".into(), 200),
        (
            "/otp/reports?group_by=appid&since=2026-01-01T00:00:00Z".into(),
            200,
        ),
        ("/otp/reports?group_by=week".into(), 400),
        ("/otp/reports?appid=another".into(), 404),
    ] {
        c.check("GET", "/otp/reports", &get(path, status).await);
    }
    c.check("GET", "/otp/reports", &anonymous.get("/otp/reports").await);

    // The webhook's first tries have failed (connection refused) by now, or soon.
    let tried = crate::client::eventually("a failed webhook try", || async {
        let reply = api.get("/otp/webhooks?limit=5").await;
        let items = reply.body["items"].as_array()?;
        items
            .iter()
            .any(|i| i["attempts"].as_array().is_some_and(|a| !a.is_empty()))
            .then_some(reply)
    })
    .await;
    c.check("GET", "/otp/webhooks", &tried);
    for (path, status) in [
        ("/otp/webhooks?state=delivered".to_string(), 200),
        ("/otp/webhooks?appid=another".into(), 200),
        ("/otp/webhooks?state=lost".into(), 400),
        ("/otp/webhooks?limit=0".into(), 400),
    ] {
        c.check("GET", "/otp/webhooks", &get(path, status).await);
    }
    c.check(
        "GET",
        "/otp/webhooks",
        &anonymous.get("/otp/webhooks").await,
    );
}

/// The Beem-compatible calls: each code otpd sends, and the problems of the transport.
async fn beem_operations(c: &Conformance, api: &Client, anonymous: &Client) {
    let beem = |path: &'static str, body: Value, status: u16, code: u64| async move {
        let reply = api.post(path, &body).await;
        assert_eq!(reply.status, status, "POST {path} {body}: {}", reply.text);
        assert_eq!(
            reply.body["data"]["message"]["code"], code,
            "{}",
            reply.text
        );
        c.check("POST", path, &reply);
        reply
    };
    // A PIN sent to a new number, and its code from the simulated handset.
    let new_pin = || async {
        let to = recipient();
        let msisdn = to.trim_start_matches('+');
        let body = json!({ "appId": 1, "msisdn": msisdn });
        let sent = beem("/v1/request", body, 200, 100).await;
        let pin_id = sent.body["data"]["pinId"].as_str().unwrap().to_string();
        (pin_id, api.wait_code(&to, 1).await)
    };
    let to = recipient();
    let msisdn = to.trim_start_matches('+').to_string();
    let sent = beem(
        "/v1/request",
        json!({ "appId": 1, "msisdn": msisdn }),
        200,
        100,
    )
    .await;
    let pin_id = sent.body["data"]["pinId"].as_str().unwrap().to_string();
    beem("/v1/request", json!({ "appId": "1" }), 400, 103).await;
    beem(
        "/v1/request",
        json!({ "appId": 1, "msisdn": "0712345678" }),
        400,
        102,
    )
    .await;
    beem("/v1/request", json!({ "msisdn": msisdn }), 400, 104).await;
    beem(
        "/v1/request",
        json!({ "appId": "shop", "msisdn": msisdn }),
        403,
        106,
    )
    .await;
    let no_key = anonymous
        .post("/v1/request", &json!({ "appId": 1, "msisdn": msisdn }))
        .await;
    assert_eq!(no_key.status, 401, "{}", no_key.text);
    c.check("POST", "/v1/request", &no_key);
    let not_object = api.post("/v1/request", &json!([1])).await;
    assert_eq!(not_object.status, 400, "{}", not_object.text);
    c.check("POST", "/v1/request", &not_object);
    let text = Some(("text/plain", b"{}".to_vec()));
    c.check(
        "POST",
        "/v1/request",
        &api.call("POST", "/v1/request", &[], text).await,
    );
    let huge = json!({ "appId": 1, "msisdn": "x".repeat(2000) });
    let huge = Some(("application/json", huge.to_string().into_bytes()));
    c.check(
        "POST",
        "/v1/request",
        &api.call("POST", "/v1/request", &[], huge).await,
    );
    // per_recipient 3/1h: the fourth request for one number.
    for _ in 0..2 {
        beem(
            "/v1/request",
            json!({ "appId": 1, "msisdn": msisdn }),
            200,
            100,
        )
        .await;
    }
    let limited = beem(
        "/v1/request",
        json!({ "appId": 1, "msisdn": msisdn }),
        429,
        101,
    )
    .await;
    assert!(limited.header("retry-after").is_some());

    // The first PIN was replaced by the later requests: a timeout for the client.
    let code = api.wait_code(&to, 1).await;
    beem(
        "/v1/verify",
        json!({ "pinId": pin_id, "pin": code }),
        200,
        115,
    )
    .await;
    let (pin_id, code) = new_pin().await;
    for (pin, outcome) in [
        (wrong(&code), 114),
        (code.clone(), 117),
        (code.clone(), 118),
    ] {
        beem(
            "/v1/verify",
            json!({ "pinId": pin_id, "pin": pin }),
            200,
            outcome,
        )
        .await;
    }
    beem("/v1/verify", json!({ "pinId": pin_id }), 400, 111).await;
    beem("/v1/verify", json!({ "pin": code }), 400, 112).await;
    beem(
        "/v1/verify",
        json!({ "pinId": "no-such-id", "pin": "1234" }),
        404,
        113,
    )
    .await;
    let no_key = anonymous
        .post("/v1/verify", &json!({ "pinId": pin_id, "pin": code }))
        .await;
    assert_eq!(no_key.status, 401, "{}", no_key.text);
    c.check("POST", "/v1/verify", &no_key);
    c.check(
        "POST",
        "/v1/verify",
        &api.post("/v1/verify", &json!("pin")).await,
    );
    // max_attempts = 2: the second wrong PIN ends it.
    let (pin_id, code) = new_pin().await;
    for outcome in [114, 116] {
        let body = json!({ "pinId": pin_id, "pin": wrong(&code) });
        beem("/v1/verify", body, 200, outcome).await;
    }
}

/// The check itself: an answer that breaks the document fails with a message that says how.
#[test]
fn a_nonconforming_answer_fails_readably() {
    let c = Conformance::new();
    let reply = |status: u16, content_type: &str, body: Value| Reply {
        status,
        headers: {
            let mut h = hyper::HeaderMap::new();
            h.insert("content-type", content_type.parse().unwrap());
            h
        },
        text: body.to_string(),
        body,
    };
    let message = |r: Reply| {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.check("POST", "/otp/verify", &r)
        }));
        let err = caught.expect_err("the check passed");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let m = message(reply(
        200,
        "application/json",
        json!({"verification_id": "abc", "valid": true, "status": "pending"}),
    ));
    assert!(m.contains("does not match the schema"), "{m}");
    let m = message(reply(409, "application/problem+json", json!({})));
    assert!(m.contains("status 409 is not documented"), "{m}");
    let m = message(reply(
        200,
        "application/json",
        json!({"verification_id": "abc", "valid": false, "status": "pending", "reason": "incorrect_code", "extra": 1}),
    ));
    assert!(m.contains("extra"), "{m}");
    let ok = reply(
        200,
        "application/json",
        json!({"verification_id": "abc", "valid": false, "status": "pending", "reason": "incorrect_code", "attempts_left": 1}),
    );
    c.check("POST", "/otp/verify", &ok);
}
