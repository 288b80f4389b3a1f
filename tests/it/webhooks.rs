//! Webhooks against a receiver in the test (an axum server on 127.0.0.1:0 that records every
//! request): events arrive signed and verifiable by the README's algorithm, computed here
//! independently; a receiver that fails is retried; one app's webhook never gets another
//! app's events; a daemon killed with a delivery in flight delivers it after the restart.

use crate::client::recipient;
use crate::support::{DEADLINE, Daemon};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const SECRET: &str = "whsec_it_3f9a";

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
    json: Value,
}

#[derive(Default)]
struct Script {
    /// Statuses to answer, in order; 200 once they run out.
    statuses: VecDeque<u16>,
}

struct RxState {
    seen: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    /// While set, requests are recorded and never answered.
    hang: AtomicBool,
    changed: watch::Sender<usize>,
}

/// A webhook receiver that records requests.
struct Receiver {
    addr: SocketAddr,
    state: Arc<RxState>,
}

async fn receive(State(st): State<Arc<RxState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let status = st
        .script
        .lock()
        .unwrap()
        .statuses
        .pop_front()
        .unwrap_or(200);
    let hang = st.hang.load(Ordering::SeqCst);
    st.seen.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
        json,
    });
    st.changed.send_modify(|n| *n += 1);
    if hang {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Receiver {
        let state = Arc::new(RxState {
            seen: Mutex::default(),
            script: Mutex::new(Script {
                statuses: statuses.iter().copied().collect(),
            }),
            hang: AtomicBool::new(false),
            changed: watch::channel(0).0,
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn seen(&self) -> Vec<Received> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Waits until the requests seen satisfy `pred`, or panics after [`DEADLINE`].
    async fn wait<T>(&self, what: &str, pred: impl Fn(&[Received]) -> Option<T>) -> T {
        let mut rx = self.state.changed.subscribe();
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                if let Some(t) = pred(&self.seen()) {
                    return t;
                }
                rx.changed().await.unwrap();
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            let bodies: Vec<String> = self.seen().iter().map(|r| r.json.to_string()).collect();
            panic!(
                "timed out waiting for {what}; received:\n{}",
                bodies.join("\n")
            )
        })
    }

    /// Waits for `event` about verification `id`.
    async fn wait_event(&self, id: &str, event: &str) -> Received {
        self.wait(&format!("{event} of {id}"), |seen| {
            seen.iter()
                .find(|r| r.json["verification_id"] == id && r.json["event"] == event)
                .cloned()
        })
        .await
    }
}

/// A secret file in the daemon's directory, and a `[[webhook]]` table using it.
fn webhook(dir: &std::path::Path, name: &str, app: &str, url: &str, extra: &str) -> String {
    let secret = dir.join(format!("{name}.secret"));
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    format!(
        "[[webhook]]\nname = \"{name}\"\napp = \"{app}\"\nurl = \"{url}\"\nsecret_file = {secret:?}\n{extra}\n"
    )
}

const APPS: &str = "[[app]]\nid = \"shop\"\n[[app]]\nid = \"bank\"\n";

/// Starts a daemon on the Unix socket only, with two apps and the webhooks `hooks` makes.
/// The directory of the secret files comes along: a restart reads them again.
fn daemon(hooks: impl FnOnce(&std::path::Path) -> String) -> (Daemon, tempfile::TempDir) {
    daemon_listening("[]", hooks)
}

fn daemon_listening(
    listen: &str,
    hooks: impl FnOnce(&std::path::Path) -> String,
) -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[api]\nlisten = {listen}\n{APPS}{}", hooks(dir.path()));
    (Daemon::start(&config), dir)
}

/// The receiver's check, as the README shows it in Python: HMAC-SHA256(secret, t + "." + body)
/// in hex, compared with v1, and t no older than five minutes.
fn verify_signature(r: &Received) {
    let header = r.headers["otpd-signature"].to_str().unwrap();
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (t, v1) = (t.unwrap(), v1.unwrap());
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {}", r.json);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t: i64 = t.parse().unwrap();
    assert!(
        (now - t).abs() < 300,
        "timestamp {t} is not recent (now {now})"
    );
}

/// Runs the README's Python check (the block after `<!-- webhook-verify`) on a request;
/// `None` when there is no python3 on this machine.
fn readme_python_check(secret: &str, header: &str, body: &[u8]) -> Option<bool> {
    use std::io::Write;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (_, after) = readme.split_once("<!-- webhook-verify").unwrap();
    let (_, block) = after.split_once("```python\n").unwrap();
    let (code, _) = block.split_once("```").unwrap();
    let script = format!(
        "{code}\nimport sys\nprint(otpd_signature_ok(sys.argv[1].encode(), sys.argv[2], sys.stdin.buffer.read()))\n"
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script, secret, header])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "True" => Some(true),
        "False" => Some(false),
        other => panic!("the README's check printed {other:?}"),
    }
}

#[test]
fn the_readme_python_check_accepts_otpd_signatures_only() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = br#"{"id":"whd_1","event":"approved"}"#;
    let header = otpd::webhook::sign::header_value(SECRET.as_bytes(), now, body);
    let Some(ok) = readme_python_check(SECRET, &header, body) else {
        eprintln!("no python3: the README's Python check was not run");
        return;
    };
    assert!(ok, "{header}");
    let tampered = br#"{"id":"whd_1","event":"expired"}"#;
    assert_eq!(readme_python_check(SECRET, &header, tampered), Some(false));
    assert_eq!(readme_python_check("other", &header, body), Some(false));
    let old = otpd::webhook::sign::header_value(SECRET.as_bytes(), now - 3600, body);
    assert_eq!(
        readme_python_check(SECRET, &old, body),
        Some(false),
        "a replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_signed_and_verifiable() {
    let rx = Receiver::start(&[]).await;
    let url = rx.url();
    let (d, _secrets) = daemon(|dir| webhook(dir, "shop-hook", "shop", &url, ""));
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to, "appid": "shop" })).await;
    let code = c.wait_code(&to, 1).await;
    let reply = c.verify(&id, &code).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);

    for event in ["created", "submitted"] {
        rx.wait_event(&id, event).await;
    }
    let delivered = rx.wait_event(&id, "delivered").await;
    assert_eq!(delivered.json["delivery"]["state"], "delivered");
    assert_eq!(delivered.json["delivery"]["channel"], "sim");
    let approved = rx.wait_event(&id, "approved").await;
    let seen: Vec<Received> = rx
        .seen()
        .into_iter()
        .filter(|r| r.json["verification_id"] == id.as_str())
        .collect();
    let header = approved.headers["otpd-signature"].to_str().unwrap();
    if let Some(ok) = readme_python_check(SECRET, header, &approved.body) {
        assert!(ok, "the README's check refused {header}");
    }
    for r in &seen {
        verify_signature(r);
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["otpd-delivery"], r.json["id"].as_str().unwrap());
        assert_eq!(r.headers["otpd-event"], r.json["event"].as_str().unwrap());
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains(&code), "the code reached a webhook: {text}");
    }
    let b = &approved.json;
    assert_eq!(b["appid"], "shop");
    assert_eq!(b["recipient"], to.as_str());
    assert_eq!(b["status"], "approved");
    assert!(b["id"].as_str().unwrap().starts_with("whd_"), "{b}");
    assert!(b["at"].as_str().unwrap().ends_with('Z'), "{b}");
    // Delivery ids are unique.
    let mut ids: Vec<&str> = seen
        .iter()
        .map(|r| r.json["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), seen.len());

    // The log shows them delivered, each after one 2xx try.
    let log = c.get(&format!("/otp/webhooks?verification_id={id}")).await;
    assert_eq!(log.status, 200, "{}", log.text);
    let items = log.body["items"].as_array().unwrap();
    assert!(items.len() >= 4, "{}", log.text);
    for item in items {
        assert_eq!(item["webhook"], "shop-hook");
        if item["state"] == "delivered" {
            assert_eq!(item["attempts"][0]["http_status"], 200, "{item}");
        }
    }
    let metrics = c.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_webhook_deliveries_total{outcome=\"delivered\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("otpd_webhook_queue_depth"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_for_one_app_does_not_get_another_apps_events() {
    let shop_rx = Receiver::start(&[]).await;
    let bank_rx = Receiver::start(&[]).await;
    let (shop_url, bank_url) = (shop_rx.url(), bank_rx.url());
    let (d, _secrets) = daemon(|dir| {
        webhook(dir, "shop", "shop", &shop_url, "")
            + &webhook(dir, "bank", "bank", &bank_url, "events = [\"approved\"]")
    });
    let c = d.unix();
    let (to_shop, to_bank) = (recipient(), recipient());
    let shop_id = c
        .send_ok(json!({ "recipient": to_shop, "appid": "shop" }))
        .await;
    let bank_id = c
        .send_ok(json!({ "recipient": to_bank, "appid": "bank" }))
        .await;
    let code = c.wait_code(&to_bank, 1).await;
    assert_eq!(c.verify(&bank_id, &code).await.body["valid"], true);
    let code = c.wait_code(&to_shop, 1).await;
    assert_eq!(c.verify(&shop_id, &code).await.body["valid"], true);

    bank_rx.wait_event(&bank_id, "approved").await;
    shop_rx.wait_event(&shop_id, "approved").await;
    assert!(shop_rx.seen().iter().all(|r| r.json["appid"] == "shop"));
    let bank_seen = bank_rx.seen();
    assert!(
        bank_seen
            .iter()
            .all(|r| r.json["appid"] == "bank" && r.json["event"] == "approved")
    );
    // Nothing of the other app was even queued.
    let db = d.db();
    let queued = |hook: &str, appid: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM webhook_delivery WHERE webhook = ?1 AND appid = ?2",
            [hook, appid],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(queued("shop", "bank"), 0);
    assert_eq!(queued("bank", "shop"), 0);
    assert_eq!(queued("bank", "bank"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_until_it_answers() {
    let rx = Receiver::start(&[500, 503]).await;
    let url = rx.url();
    let (d, _secrets) = daemon(|dir| {
        webhook(
            dir,
            "flaky",
            "*",
            &url,
            "events = [\"created\"]\nretry_min = \"20ms\"\nretry_max = \"100ms\"",
        )
    });
    let c = d.unix();
    let id = c.send_ok(json!({ "recipient": recipient() })).await;
    let tries = rx
        .wait(&format!("three tries of created for {id}"), |seen| {
            let tries: Vec<Received> = seen
                .iter()
                .filter(|r| r.json["verification_id"] == id.as_str())
                .cloned()
                .collect();
            (tries.len() >= 3).then_some(tries)
        })
        .await;
    // The same delivery each time, each try signed afresh.
    for r in &tries {
        assert_eq!(r.json["id"], tries[0].json["id"]);
        assert_eq!(r.body, tries[0].body);
        verify_signature(r);
    }
    let log = crate::client::eventually("the log to show the delivery delivered", || async {
        let log = c.get(&format!("/otp/webhooks?verification_id={id}")).await;
        (log.body["items"][0]["state"] == "delivered").then_some(log)
    })
    .await;
    let item = &log.body["items"][0];
    assert_eq!(item["tries"], 3, "{item}");
    let statuses: Vec<&Value> = item["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["http_status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)], "{item}");
    assert_eq!(item["attempts"][0]["error"], "HTTP 500");
    let metrics = c.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_webhook_deliveries_total{outcome=\"retried\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_at_a_kill_is_made_after_the_restart() {
    let rx = Receiver::start(&[]).await;
    rx.state.hang.store(true, Ordering::SeqCst);
    let url = rx.url();
    let (mut d, _secrets) = daemon(|dir| {
        webhook(
            dir,
            "slow",
            "*",
            &url,
            "events = [\"created\"]\ntimeout = \"5m\"",
        )
    });
    let id = d.unix().send_ok(json!({ "recipient": recipient() })).await;
    rx.wait_event(&id, "created").await;
    // The try hangs in the receiver: the daemon dies with the delivery leased.
    d.kill();
    rx.state.hang.store(false, Ordering::SeqCst);
    d.start_again();
    rx.wait(&format!("a second try of created for {id}"), |seen| {
        (seen
            .iter()
            .filter(|r| r.json["verification_id"] == id.as_str())
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    let c = d.unix();
    crate::client::eventually("the delivery to be recorded", || async {
        let log = c.get(&format!("/otp/webhooks?verification_id={id}")).await;
        (log.body["items"][0]["state"] == "delivered").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sees_only_its_own_apps_deliveries() {
    let rx = Receiver::start(&[]).await;
    let url = rx.url();
    let (d, _secrets) = daemon_listening("[\"127.0.0.1:0\"]", |dir| {
        webhook(dir, "all", "*", &url, "events = [\"created\"]")
    });
    let c = d.unix();
    let shop_id = c
        .send_ok(json!({ "recipient": recipient(), "appid": "shop" }))
        .await;
    let bank_id = c
        .send_ok(json!({ "recipient": recipient(), "appid": "bank" }))
        .await;
    rx.wait_event(&shop_id, "created").await;
    rx.wait_event(&bank_id, "created").await;
    let shop = d.tcp().with_key(&d.create_key("shop"));
    let log = shop.get("/otp/webhooks").await;
    assert_eq!(log.status, 200, "{}", log.text);
    let ids: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["verification_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&shop_id.as_str()), "{}", log.text);
    assert!(!ids.contains(&bank_id.as_str()), "{}", log.text);
    let other = shop.get("/otp/webhooks?appid=bank").await;
    assert_eq!(other.body["items"], json!([]), "{}", other.text);
    let bad = shop.get("/otp/webhooks?state=lost").await;
    crate::client::assert_problem(&bad, 400, "invalid_field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_given_up_at_max_age() {
    let rx = Receiver::start(&[500; 1000]).await;
    let url = rx.url();
    let (d, _secrets) = daemon(|dir| {
        webhook(
            dir,
            "down",
            "*",
            &url,
            "events = [\"created\"]\nmax_age = \"1s\"\nretry_min = \"100ms\"\nretry_max = \"200ms\"",
        )
    });
    let c = d.unix();
    let id = c.send_ok(json!({ "recipient": recipient() })).await;
    let log = crate::client::eventually("the delivery to be given up", || async {
        let log = c
            .get(&format!("/otp/webhooks?verification_id={id}&state=failed"))
            .await;
        (log.body["items"].as_array().is_some_and(|i| !i.is_empty())).then_some(log)
    })
    .await;
    let item = &log.body["items"][0];
    let tries = item["tries"].as_u64().unwrap();
    assert!(tries >= 2, "{item}");
    assert_eq!(item["attempts"].as_array().unwrap().len() as u64, tries);
    assert_eq!(item["last_error"], "HTTP 500");
    assert!(item["ended_at"].is_string(), "{item}");
    let metrics = c.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_webhook_deliveries_total{outcome=\"failed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("otpd_webhook_queue_depth 0"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_and_removes_webhooks() {
    let rx = Receiver::start(&[]).await;
    let url = rx.url();
    let (d, secrets) = daemon(|_| String::new());
    let c = d.unix();
    let before = c.send_ok(json!({ "recipient": recipient() })).await;

    let hook = webhook(secrets.path(), "late", "*", &url, "events = [\"created\"]");
    std::fs::write(d.config_path(), format!("[api]\nlisten = []\n{APPS}{hook}")).unwrap();
    d.signal("HUP");
    crate::client::eventually("the reload", || async {
        d.log_lines()
            .iter()
            .any(|l| l.contains("configuration reloaded"))
            .then_some(())
    })
    .await;
    let after = c.send_ok(json!({ "recipient": recipient() })).await;
    rx.wait_event(&after, "created").await;
    // An event written before the webhook existed is not sent.
    assert!(
        !rx.seen()
            .iter()
            .any(|r| r.json["verification_id"] == before.as_str())
    );

    // Removed again: nothing more is queued.
    std::fs::write(d.config_path(), format!("[api]\nlisten = []\n{APPS}")).unwrap();
    d.signal("HUP");
    crate::client::eventually("the second reload", || async {
        (d.log_lines()
            .iter()
            .filter(|l| l.contains("configuration reloaded"))
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    c.send_ok(json!({ "recipient": recipient() })).await;
    assert_eq!(d.count("webhook_delivery"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_hangs_holds_only_its_own_slots() {
    let slow = Receiver::start(&[]).await;
    slow.state.hang.store(true, Ordering::SeqCst);
    let fast = Receiver::start(&[]).await;
    let (slow_url, fast_url) = (slow.url(), fast.url());
    let only_created = "events = [\"created\"]\ntimeout = \"5m\"\nmax_in_flight = 2";
    let (d, _secrets) = daemon(|dir| {
        webhook(dir, "slow", "*", &slow_url, only_created)
            + &webhook(dir, "fast", "*", &fast_url, "events = [\"created\"]")
    });
    let c = d.unix();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(c.send_ok(json!({ "recipient": recipient() })).await);
    }
    for id in &ids {
        fast.wait_event(id, "created").await;
    }
    slow.wait("two hanging tries", |seen| (seen.len() >= 2).then_some(()))
        .await;
    // Its other four wait for a free slot of their own webhook.
    assert_eq!(slow.seen().len(), 2);
    let pending = c.get("/otp/webhooks?webhook=slow&state=pending").await;
    assert_eq!(
        pending.body["items"].as_array().unwrap().len(),
        6,
        "{}",
        pending.text
    );
}

/// A TLS terminator for "localhost" in front of `backend`, with a self-signed certificate;
/// returns its port and the certificate as PEM (the CA to trust).
async fn tls_front(backend: SocketAddr) -> (u16, String) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = key.cert.pem();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca_and_not_without_it() {
    let rx = Receiver::start(&[]).await;
    let (port, ca) = tls_front(rx.addr).await;
    let url = format!("https://localhost:{port}/hook");
    let (d, _secrets) = daemon(|dir| {
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &ca).unwrap();
        let created = "events = [\"created\"]";
        webhook(
            dir,
            "private",
            "*",
            &url,
            &format!("{created}\ntls_ca_file = {ca_file:?}"),
        ) + &webhook(
            dir,
            "public",
            "*",
            &url,
            &format!("{created}\nretry_min = \"1h\""),
        )
    });
    let c = d.unix();
    let id = c.send_ok(json!({ "recipient": recipient() })).await;
    let r = rx.wait_event(&id, "created").await;
    verify_signature(&r);
    assert_eq!(r.headers["host"], format!("localhost:{port}").as_str());
    // The Mozilla roots do not trust a self-signed certificate.
    let log = crate::client::eventually("the public webhook's failed try", || async {
        let log = c.get("/otp/webhooks?webhook=public").await;
        let error = log.body["items"][0]["attempts"][0]["error"]
            .as_str()?
            .to_string();
        Some(error)
    })
    .await;
    assert!(log.contains("TLS handshake with localhost failed"), "{log}");
    assert_eq!(rx.seen().len(), 1);
}
