//! Retention on the running daemon: a verification that ended longer ago than `[store]
//! retention` goes with its events and attempts, as do events about no verification; a
//! pending one, one that ended recently, and the rate-limit rows stay.
//!
//! The daemon runs on the system clock and retention is at least an hour, so instead of
//! waiting the test ages rows: it stops the daemon, moves their times back by more than the
//! retention, and starts it again (the sweeper applies retention at start).

use crate::client::{recipient, wrong};
use crate::support::Daemon;
use serde_json::json;

const CONFIG: &str = r#"
[api]
listen = []
[store]
retention = "2h"
[limits]
per_recipient = ["1/1h"]
"#;

/// Three hours, in the store's milliseconds: more than the retention.
const AGE: i64 = 3 * 3600 * 1000;

#[tokio::test]
async fn ended_verifications_past_retention_are_purged_with_their_rows() {
    let mut d = Daemon::start(CONFIG);
    let unix = d.unix();

    // Old: approved after a wrong guess (events and attempts), then a refused send to the
    // same number (an event about no verification).
    let old_to = recipient();
    let old = unix.send_ok(json!({ "recipient": old_to })).await;
    let code = unix.wait_code(&old_to, 1).await;
    assert_eq!(unix.verify(&old, &wrong(&code)).await.status, 200);
    assert_eq!(unix.verify(&old, &code).await.body["status"], "approved");
    assert_eq!(unix.send(json!({ "recipient": old_to })).await.status, 429);
    // Recent: canceled, but not long ago. Pending: still open.
    let recent = unix.send_ok(json!({ "recipient": recipient() })).await;
    assert_eq!(unix.cancel(&recent).await.status, 200);
    let pending_to = recipient();
    let pending = unix.send_ok(json!({ "recipient": pending_to })).await;
    unix.wait_code(&pending_to, 1).await;
    let limits_before = d.count("limit_recipient");
    assert!(limits_before >= 3);

    d.stop();
    {
        let db = rusqlite::Connection::open(d.db_path()).unwrap();
        let aged = db
            .execute_batch(&format!(
                "BEGIN; \
                 UPDATE verification SET created_at = created_at - {AGE}, \
                   expires_at = expires_at - {AGE}, last_send_at = last_send_at - {AGE}, \
                   ended_at = ended_at - {AGE}, verified_at = verified_at - {AGE} WHERE id = '{old}'; \
                 UPDATE event SET at = at - {AGE} WHERE verification_id IN ('{old}', ''); \
                 UPDATE attempt SET at = at - {AGE} WHERE verification_id = '{old}'; \
                 COMMIT;"
            ));
        aged.unwrap();
    }
    let (_, old_events, old_attempts) = rows_of(&d, &old);
    assert!(
        old_events >= 3 && old_attempts == 2,
        "{old_events} {old_attempts}"
    );
    let app_events: i64 = d
        .db()
        .query_row(
            "SELECT count(*) FROM event WHERE verification_id = ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(app_events, 1);
    let recent_rows = rows_of(&d, &recent);
    let pending_rows = rows_of(&d, &pending);

    d.start_again();
    let line = d.wait_log("purged data past its retention");
    assert_eq!(line["verifications"], 1, "{line}");
    assert_eq!(line["events"], old_events + 1, "{line}");
    assert_eq!(line["attempts"], 2, "{line}");

    assert_eq!(rows_of(&d, &old), (0, 0, 0));
    assert_eq!(d.count("event WHERE verification_id = ''"), 0);
    assert_eq!(rows_of(&d, &recent), recent_rows);
    assert_eq!(rows_of(&d, &pending), pending_rows);
    // Rate limits and lockouts keep their own windows.
    assert_eq!(d.count("limit_recipient"), limits_before);
    let unix = d.unix();
    assert_eq!(unix.status(&old).await.status, 404);
    assert_eq!(unix.status(&recent).await.body["status"], "canceled");
    assert_eq!(unix.status(&pending).await.body["status"], "pending");
    let metrics = unix.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_purged_verifications_total 1"),
        "{metrics}"
    );
}

/// The rows of verification `id`, its events and its attempts.
fn rows_of(d: &Daemon, id: &str) -> (i64, i64, i64) {
    d.db()
        .query_row(
            "SELECT (SELECT count(*) FROM verification WHERE id = ?1), \
             (SELECT count(*) FROM event WHERE verification_id = ?1), \
             (SELECT count(*) FROM attempt WHERE verification_id = ?1)",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}
