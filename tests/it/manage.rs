//! The management endpoints against the real daemon: pages followed by cursor, filters, the
//! visible status, app scoping with two keys, logs and attempts of a verify, rate-limit state,
//! reports, and bad parameters answered with problem+json.

use crate::client::{Client, assert_problem, encode, recipient, wrong};
use crate::support::Daemon;
use serde_json::{Value, json};
use std::collections::HashSet;

const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[limits]
per_app = ["1000/1h"]
per_key = ["500/10m"]
"#;

/// Every item of `path` (which has a query string), page by page with `limit`.
async fn all_items(c: &Client, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}&limit={limit}");
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let r = c.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        let page = r.body["items"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        items.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["verification_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_pages_filters_and_keeps_each_key_to_its_app() {
    let d = Daemon::start(CONFIG);
    let shop = d.tcp().with_key(&d.create_key("shop"));
    let bank = d.tcp().with_key(&d.create_key("bank"));
    let unix = d.unix();
    let mut shop_ids = Vec::new();
    let mut recipients = Vec::new();
    for _ in 0..7 {
        let to = recipient();
        shop_ids.push(shop.send_ok(json!({ "recipient": to })).await);
        recipients.push(to);
    }
    let mut bank_ids = Vec::new();
    for _ in 0..3 {
        bank_ids.push(bank.send_ok(json!({ "recipient": recipient() })).await);
    }
    assert_eq!(shop.cancel(&shop_ids[2]).await.status, 200);

    // Newest first, every one once, through pages of 2.
    let newest_first: Vec<String> = shop_ids.iter().rev().cloned().collect();
    assert_eq!(ids(&all_items(&shop, "/otp/list?", 2).await), newest_first);
    assert_eq!(
        ids(&all_items(&shop, "/otp/list?appid=shop", 50).await),
        newest_first
    );
    let bank_seen = ids(&all_items(&bank, "/otp/list?", 2).await);
    assert_eq!(
        bank_seen,
        bank_ids.iter().rev().cloned().collect::<Vec<_>>()
    );
    // A key naming another app: not found, like another app's verification.
    assert_problem(&bank.get("/otp/list?appid=shop").await, 404, "not_found");
    // The Unix socket sees every app, or the one it names.
    let all: HashSet<String> = ids(&all_items(&unix, "/otp/list?", 3).await)
        .into_iter()
        .collect();
    assert_eq!(all.len(), 10);
    assert_eq!(
        ids(&all_items(&unix, "/otp/list?appid=bank", 2).await).len(),
        3
    );

    // Items are status objects, as GET /otp/status shows them.
    let page = shop.get("/otp/list?limit=1").await;
    let item = &page.body["items"][0];
    let status = shop.status(&shop_ids[6]).await.body;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(item), keys(&status));
    assert_eq!(item["verification_id"], status["verification_id"]);

    // Filters.
    let canceled = all_items(&shop, "/otp/list?status=canceled", 10).await;
    assert_eq!(ids(&canceled), vec![shop_ids[2].clone()]);
    assert_eq!(canceled[0]["status"], "canceled");
    let to = encode(&recipients[4]);
    let one = all_items(&shop, &format!("/otp/list?recipient={to}"), 10).await;
    assert_eq!(ids(&one), vec![shop_ids[4].clone()]);
    // Input numbers are normalised like everywhere else.
    let spaced = encode(&format!("{} {}", &recipients[4][..7], &recipients[4][7..]));
    let again = all_items(&shop, &format!("/otp/list?recipient={spaced}"), 10).await;
    assert_eq!(ids(&again), vec![shop_ids[4].clone()]);
    assert!(
        all_items(&bank, &format!("/otp/list?recipient={to}"), 10)
            .await
            .is_empty()
    );
    let future = "2100-01-01T00:00:00Z";
    assert_eq!(
        all_items(&shop, &format!("/otp/list?until={future}"), 3)
            .await
            .len(),
        7
    );
    assert!(
        all_items(&shop, &format!("/otp/list?since={future}"), 3)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_pending_verification_past_its_expiry_is_listed_as_expired() {
    let d = Daemon::start(CONFIG);
    let unix = d.unix();
    let short = unix
        .send_ok(json!({ "recipient": recipient(), "ttl": 1 }))
        .await;
    let long = unix.send_ok(json!({ "recipient": recipient() })).await;
    unix.wait_status(&short, "expired", |s| s["status"] == "expired")
        .await;
    let expired = ids(&all_items(&unix, "/otp/list?status=expired", 10).await);
    assert_eq!(expired, vec![short.clone()]);
    let pending = ids(&all_items(&unix, "/otp/list?status=pending", 10).await);
    assert_eq!(pending, vec![long]);
}

#[tokio::test]
async fn logs_and_attempts_show_each_judged_verify_and_where_it_came_from() {
    let d = Daemon::start(CONFIG);
    let (shop_key, shop_secret) = d.create_key("shop");
    let shop = d.tcp().with_key(&(shop_key.clone(), shop_secret));
    let bank = d.tcp().with_key(&d.create_key("bank"));
    let unix = d.unix();
    let to = recipient();
    let id = shop.send_ok(json!({ "recipient": to })).await;
    let code = unix.wait_code(&to, 1).await;
    assert_eq!(shop.verify(&id, &wrong(&code)).await.body["valid"], false);
    assert_eq!(unix.verify(&id, &code).await.body["valid"], true);
    // An ended verification is not judged: no attempt.
    assert_eq!(unix.verify(&id, &code).await.body["reason"], "already_used");

    let q = format!("/otp/attempts?verification_id={}", encode(&id));
    let attempts = shop.get(&q).await;
    assert_eq!(attempts.status, 200, "{}", attempts.text);
    let items = attempts.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", attempts.text);
    assert_eq!(items[0]["valid"], true);
    assert_eq!(items[0]["reason"], Value::Null);
    assert_eq!(items[0]["source"], "unix");
    assert_eq!(items[0]["api_key"], Value::Null);
    assert_eq!(items[1]["valid"], false);
    assert_eq!(items[1]["reason"], "incorrect_code");
    assert_eq!(items[1]["source"], "127.0.0.1");
    assert_eq!(items[1]["api_key"], shop_key.as_str());
    assert!(items[1]["at"].as_str().unwrap().ends_with('Z'));
    assert!(!attempts.text.contains(&code) && !attempts.text.contains(&wrong(&code)));
    assert_problem(&bank.get(&q).await, 404, "not_found");
    assert_problem(
        &shop.get("/otp/attempts?verification_id=nope").await,
        404,
        "not_found",
    );

    let logs = shop
        .get(&format!("/otp/logs?verification_id={}", encode(&id)))
        .await;
    assert_eq!(logs.status, 200, "{}", logs.text);
    let events: Vec<&str> = logs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events.first(), Some(&"approved"), "{}", logs.text);
    assert_eq!(events.last(), Some(&"created"), "{}", logs.text);
    assert!(events.contains(&"verify_failed"), "{}", logs.text);
    assert_eq!(logs.body["next_cursor"], Value::Null);
    assert_problem(
        &bank
            .get(&format!("/otp/logs?verification_id={}", encode(&id)))
            .await,
        404,
        "not_found",
    );

    // A send refused by a limit belongs to no verification, but to its app.
    let limited = recipient();
    for _ in 0..5 {
        shop.send_ok(json!({ "recipient": limited })).await;
    }
    assert_problem(
        &shop.send(json!({ "recipient": limited })).await,
        429,
        "rate_limited",
    );
    let shop_logs = all_items(&shop, "/otp/logs?", 4).await;
    assert!(
        shop_logs
            .iter()
            .any(|e| e["event"] == "rate_limited" && e["verification_id"].is_null()),
        "{shop_logs:?}"
    );
    let bank_logs = all_items(&bank, "/otp/logs?", 4).await;
    assert!(bank_logs.is_empty(), "{bank_logs:?}");
    // Only shop has events; delivery reports may still be adding some.
    let everything = all_items(&unix, "/otp/logs?", 7).await;
    assert!(everything.len() >= shop_logs.len());
    assert!(
        all_items(&unix, "/otp/logs?since=2100-01-01T00:00:00Z", 5)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn rate_limits_and_reports() {
    let d = Daemon::start(CONFIG);
    let (key, secret) = d.create_key("shop");
    let shop = d.tcp().with_key(&(key.clone(), secret));
    let bank = d.tcp().with_key(&d.create_key("bank"));
    let unix = d.unix();
    let to = recipient();
    let first = shop.send_ok(json!({ "recipient": to })).await;
    let code = unix.wait_code(&to, 1).await;
    shop.send_ok(json!({ "recipient": to })).await;
    assert_eq!(shop.verify(&first, &code).await.body["reason"], "canceled");
    bank.send_ok(json!({ "recipient": recipient() })).await;

    let r = shop
        .get(&format!("/otp/rate-limits?recipient={}", encode(&to)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["appid"], "shop");
    let limits = r.body["limits"].as_array().unwrap();
    let find = |name: &str| {
        limits
            .iter()
            .find(|l| l["limit"] == name)
            .unwrap_or_else(|| panic!("no {name} in {limits:?}"))
    };
    let ten = find("per_recipient 5/10m");
    assert_eq!(
        (ten["count"].as_u64(), ten["remaining"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(ten["max"], 5);
    assert_eq!(ten["window_seconds"], 600);
    assert_eq!(ten["retry_at"], Value::Null);
    assert!(ten["reset_at"].is_string());
    assert_eq!(find("per_recipient 10/24h")["count"], 2);
    assert_eq!(find("per_app 1000/1h")["count"], 2);
    let per_key = find("per_key 500/10m");
    assert_eq!(
        (per_key["key"].as_str(), per_key["count"].as_u64()),
        (Some(key.as_str()), Some(2))
    );
    assert_eq!(r.body["lockout"]["failures"], 0);
    assert_eq!(r.body["lockout"]["locked"], false);
    assert_problem(
        &bank.get("/otp/rate-limits?appid=shop").await,
        404,
        "not_found",
    );
    // The Unix socket has no key and no address: only the limits that apply to it.
    let local = unix.get("/otp/rate-limits?appid=bank").await;
    assert_eq!(local.status, 200, "{}", local.text);
    let local_limits = local.body["limits"].as_array().unwrap();
    assert_eq!(local_limits.len(), 1, "{}", local.text);
    assert_eq!(local_limits[0]["count"], 1);
    assert_eq!(local.body["lockout"], Value::Null);

    let report = unix.get("/otp/reports?group_by=appid").await;
    assert_eq!(report.status, 200, "{}", report.text);
    let groups = report.body["items"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{}", report.text);
    assert_eq!(groups[0]["group"], "bank");
    assert_eq!(groups[1]["group"], "shop");
    assert_eq!(groups[1]["sent"], 2);
    assert_eq!(groups[1]["approved"], 0);
    assert_eq!(groups[1]["conversion"], 0.0);
    let mine = shop.get("/otp/reports?group_by=day").await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let days = mine.body["items"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{}", mine.text);
    assert_eq!(days[0]["sent"], 2);
    let today = &mine.body["until"].as_str().unwrap()[..10];
    assert_eq!(days[0]["group"], today);
    let by_channel = unix.get("/otp/reports?group_by=channel").await;
    assert_eq!(by_channel.status, 200, "{}", by_channel.text);
    let sent: u64 = by_channel.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["sent"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 3);
}

#[tokio::test]
async fn bad_parameters_are_problems_and_change_nothing() {
    let d = Daemon::start(CONFIG);
    let shop = d.tcp().with_key(&d.create_key("shop"));
    let unix = d.unix();
    unix.send_ok(json!({ "recipient": recipient() })).await;
    unix.send_ok(json!({ "recipient": recipient() })).await;
    let page = unix.get("/otp/list?limit=1").await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let logs = unix.get("/otp/logs?limit=1").await;
    let logs_cursor = logs.body["next_cursor"].as_str().unwrap().to_string();
    let mut tampered = cursor.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (path, names) in [
        ("/otp/list?limit=0", "limit"),
        ("/otp/list?limit=501", "limit"),
        ("/otp/list?limit=ten", "limit"),
        ("/otp/list?since=yesterday", "since"),
        ("/otp/list?until=2026-13-01T00:00:00Z", "until"),
        (
            "/otp/list?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z",
            "since",
        ),
        ("/otp/list?status=done", "status"),
        ("/otp/list?cursor=%21%21", "cursor"),
        (&format!("/otp/list?cursor={tampered}"), "cursor"),
        (&format!("/otp/list?cursor={logs_cursor}"), "cursor"),
        (&format!("/otp/logs?cursor={cursor}"), "cursor"),
        ("/otp/list?colour=red", "colour"),
        ("/otp/list?limit=1&limit=2", "limit"),
        ("/otp/logs?since=now", "since"),
        ("/otp/logs?limit=-1", "limit"),
        ("/otp/reports?group_by=week", "group_by"),
        ("/otp/reports?until=1700000000", "until"),
        ("/otp/attempts?verification_id=x&extra=1", "extra"),
        ("/otp/rate-limits?recipients=x", "recipients"),
    ] {
        for c in [&unix, &shop] {
            let detail = assert_problem(&c.get(path).await, 400, "invalid_field");
            assert!(detail.contains(names), "{path}: {detail}");
        }
    }
    assert_problem(&unix.get("/otp/attempts").await, 400, "missing_field");
    assert_problem(
        &unix.get("/otp/list?recipient=12").await,
        400,
        "invalid_recipient",
    );
    assert_problem(
        &unix.get("/otp/rate-limits?recipient=abc").await,
        400,
        "invalid_recipient",
    );
    for path in [
        "/otp/list",
        "/otp/logs",
        "/otp/attempts?verification_id=x",
        "/otp/rate-limits",
        "/otp/reports",
    ] {
        assert_problem(&d.tcp().get(path).await, 401, "unauthorized");
    }
    // Still two verifications, and the tampered cursor's page is answered whole.
    assert_eq!(d.count("verification"), 2);
    let rest = unix.get(&format!("/otp/list?cursor={cursor}")).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
}
