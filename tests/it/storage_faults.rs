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
        d.log_lines().iter().any(|l| l.contains("database is locked")),
        "the log does not say why"
    );
    // The lock gone, sends are taken and delivered again, and the code works.
    let to = recipient();
    let after = c.send_ok(json!({ "recipient": to })).await;
    delivered(&c, &after).await;
    let code = c.wait_code(&to, 1).await;
    assert_eq!(c.verify(&after, &code).await.body["valid"], true);
}
