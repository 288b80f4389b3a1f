//! Faults of the database under a running daemon: another process holding SQLite's write lock
//! longer than the daemon's busy timeout, and a disk that fills up (the daemon's file size
//! limit, `prlimit --fsize`, with SIGXFSZ ignored so that write() fails as on a full disk).
//! In both, sends the daemon cannot store are answered with a problem, never with a 201, the
//! daemon stays up, and every send it answered 201 survives and is delivered once the fault
//! is gone.

use crate::client::{Client, assert_problem, recipient};
use crate::support::Daemon;
use serde_json::json;
use std::time::Duration;

const UNIX_ONLY: &str = "[api]\nlisten = []\n";

/// Rows of the tables a send writes, to show a refused send wrote nothing.
fn rows(d: &Daemon) -> (i64, i64, i64) {
    (d.count("verification"), d.count("outbox"), d.count("event"))
}

async fn delivered(c: &Client, id: &str) {
    c.wait_status(id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
}

#[tokio::test]
async fn a_database_locked_by_another_process_fails_sends_cleanly_until_it_is_released() {
    let d = Daemon::start(UNIX_ONLY);
    let c = d.unix();
    let before = c.send_ok(json!({ "recipient": recipient() })).await;
    delivered(&c, &before).await;
    let quiet = rows(&d);

    // Another process (this test) takes the write lock and keeps it past the daemon's 5 s busy
    // timeout: the send waits that long, then gets a problem instead of hanging.
    let holder = rusqlite::Connection::open(d.db_path()).unwrap();
    holder.busy_timeout(Duration::from_secs(20)).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let refused = c.send(json!({ "recipient": recipient() })).await;
    assert_problem(&refused, 500, "internal");
    // Reads do not need the write lock (WAL): the status of the earlier send still answers.
    assert_eq!(c.status(&before).await.body["status"], "pending");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    assert_eq!(rows(&d), quiet, "the refused send left rows behind");
    assert!(
        d.log_lines()
            .iter()
            .any(|l| l.contains("database is locked")),
        "the log does not say why"
    );
    // The lock gone, sends are taken and delivered again, and the code works.
    let to = recipient();
    let after = c.send_ok(json!({ "recipient": to })).await;
    delivered(&c, &after).await;
    let code = c.wait_code(&to, 1).await;
    assert_eq!(c.verify(&after, &code).await.body["valid"], true);
}

#[tokio::test]
async fn a_full_disk_refuses_what_it_cannot_store_and_loses_nothing_it_took() {
    let mut d = Daemon::start(UNIX_ONLY);
    assert_eq!(d.stop().code(), Some(0));
    // No file of the daemon may grow past 1 MiB beyond the database as it is now. write()
    // then fails with EFBIG (SIGXFSZ ignored, as a full disk sends no signal), which SQLite
    // reports as it does a full disk.
    let limit = std::fs::metadata(d.db_path()).unwrap().len() + 1024 * 1024;
    let limit = limit.to_string();
    d.set_launcher(&[
        "sh",
        "-c",
        "trap '' XFSZ; exec prlimit --fsize=\"$0\" -- \"$@\"",
        &limit,
    ]);
    d.start_again();
    let c = d.unix();

    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..5_000 {
        let to = recipient();
        let reply = c.send(json!({ "recipient": to })).await;
        if reply.status == 201 {
            accepted.push(reply.str("verification_id").to_string());
            continue;
        }
        assert_problem(&reply, 500, "internal");
        refused += 1;
        // A few more after the first refusal: still answered, and each either stored or not.
        if refused == 5 {
            break;
        }
    }
    assert_eq!(refused, 5, "the disk never filled up");
    // Still up and answering.
    assert_eq!(c.get("/healthz").await.status, 200);
    let lines = d.log_lines();
    assert!(
        // "disk I/O error" for EFBIG; "database or disk is full" for ENOSPC.
        lines.iter().any(|l| l.contains("disk")),
        "the log does not say why"
    );
    assert!(!lines.iter().any(|l| l.contains("panicked")), "a panic");
    // SIGTERM still stops it cleanly, with the disk still full.
    assert_eq!(d.stop().code(), Some(0));

    // Space again.
    d.set_launcher(&[]);
    d.start_again();
    let c = d.unix();
    let db = d.db();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The refused sends left nothing: every verification is one that was answered 201.
    assert_eq!(d.count("verification"), accepted.len() as i64);
    for id in &accepted {
        let status = c.status(id).await;
        assert_eq!(status.body["status"], "pending", "{id}: {}", status.text);
    }
    // What was still queued goes out now; what had gone out stays recorded.
    crate::client::eventually("an empty outbox", || async {
        (d.count("outbox") == 0).then_some(())
    })
    .await;
    for id in &accepted {
        let state = c.status(id).await.body["delivery"]["state"].clone();
        assert!(
            state == "submitted" || state == "delivered",
            "{id}: {state}"
        );
    }
    let to = recipient();
    let after = c.send_ok(json!({ "recipient": to })).await;
    delivered(&c, &after).await;
    let code = c.wait_code(&to, 1).await;
    assert_eq!(c.verify(&after, &code).await.body["valid"], true);
}
