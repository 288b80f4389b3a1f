//! Requests that race each other: verifies of one id, and sends to one recipient. The store
//! judges them one after the other, so the limits hold whatever the interleaving.

use crate::client::{Client, assert_problem, recipient, wrong};
use crate::support::shared;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_codes_never_get_more_than_max_attempts() {
    let d = shared();
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let bad = wrong(&c.wait_code(&to, 1).await);

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (c, id, bad) = (c.clone(), id.clone(), bad.clone());
        tasks.spawn(async move { c.verify(&id, &bad).await });
    }
    let (mut incorrect, mut max_reached) = (0, 0);
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["valid"], false);
        match reply.body["reason"].as_str() {
            Some("incorrect_code") => incorrect += 1,
            Some("max_attempts_reached") => max_reached += 1,
            _ => panic!("unexpected reply {}", reply.text),
        }
    }
    assert_eq!((incorrect, max_reached), (4, 46));
    // Of the 46, one used the last try and 45 found the verification ended: the events
    // record exactly five judged codes, the fifth ending it.
    let judged: Vec<String> = d
        .db()
        .prepare(
            "SELECT detail FROM event WHERE verification_id = ?1 AND event = 'verify_failed' \
             ORDER BY id",
        )
        .unwrap()
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut want = vec!["incorrect_code"; 4];
    want.push("max_attempts_reached");
    assert_eq!(judged, want);
    let status = c.status(&id).await;
    assert_eq!(status.body["attempts"], 5);
    assert_eq!(status.body["status"], "max_attempts_reached");
}

/// Sends `n` codes to `to` at once; returns the ids of those accepted and the statuses they
/// end up with. The others must be refused by the default per-recipient limit (5 in 10 min).
async fn racing_sends(c: &Client, to: &str, n: usize) -> Vec<(String, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, to) = (c.clone(), to.to_string());
        tasks.spawn(async move { c.send(json!({ "recipient": to })).await });
    }
    let mut ids = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        if reply.status == 201 {
            ids.push(reply.str("verification_id").to_string());
        } else {
            let detail = assert_problem(&reply, 429, "rate_limited");
            assert!(detail.contains("per_recipient 5/10m"), "{detail}");
        }
    }
    // Statuses only once every send is answered: one read earlier may predate a later cancel.
    let mut out = Vec::new();
    for id in ids {
        let status = c.status(&id).await.str("status").to_string();
        out.push((id, status));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_to_one_recipient_leave_exactly_one_pending_and_keep_the_limit() {
    let d = shared();
    let sent = racing_sends(&d.unix(), &recipient(), 20).await;
    let pending = sent.iter().filter(|(_, s)| s == "pending").count();
    let canceled = sent.iter().filter(|(_, s)| s == "canceled").count();
    // Exactly five get past the per-recipient limit, however the twenty interleave.
    assert_eq!((pending, canceled), (1, 4), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_by_recipient_judges_the_pending_one_among_racing_sends() {
    let d = shared();
    let c = d.unix();
    // The wrong pick depends on the interleaving: enough rounds make it all but certain.
    for _ in 0..30 {
        let to = recipient();
        let sent = racing_sends(&c, &to, 20).await;
        let (pending, _) = sent.iter().find(|(_, s)| s == "pending").unwrap();
        // Four digits can never be a six-digit code: an incorrect code for the pending one.
        let by_recipient = json!({ "recipient": to, "otp_code": "0000" });
        let reply = c.post("/otp/verify", &by_recipient).await;
        assert_eq!(
            reply.body,
            json!({"verification_id": pending, "valid": false, "status": "pending",
                   "reason": "incorrect_code", "attempts_left": 4}),
            "{sent:?}"
        );
    }
}
