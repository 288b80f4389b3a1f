//! Clock jumps, through the injected clock (never the machine's): forward past a code's expiry,
//! and back (an NTP step, a VM restored from a snapshot). A jump forward ends what its time
//! has ended; a jump back revives nothing, resets no limit and yields no negative wait.

use super::Limits;
use super::tests::{CODE, Harness, MIN, OTHER, TO, limited, rates};
use crate::delivery::sweeper::Sweeper;
use crate::model::Status;
use crate::otp::Scope;
use std::time::Duration;

const HOUR: i64 = 60 * MIN;

fn sweeper(h: &Harness) -> Sweeper {
    Sweeper {
        store: h.engine.store.clone(),
        clock: h.clock.clone(),
        retention: Duration::from_secs(30 * 86_400),
    }
}

async fn status(h: &Harness, id: &str) -> Status {
    h.engine
        .status(&Scope::Any, id.into())
        .await
        .unwrap()
        .status
}

#[tokio::test]
async fn a_jump_past_expiry_ends_the_code_and_a_jump_back_does_not_revive_it() {
    let h = Harness::new(Limits::default()); // codes live an hour
    let id = h.send(TO).await.unwrap();
    h.at(2 * HOUR);
    assert_eq!(status(&h, &id).await, Status::Expired);
    // The sweeper writes it down and drops the message that had not gone out.
    sweeper(&h).sweep().await.unwrap();
    assert_eq!(
        h.count("SELECT count(*) FROM verification WHERE status = 'expired'"),
        1
    );
    assert_eq!(h.count("SELECT count(*) FROM outbox"), 0);
    // Back to a minute after the send: within the ttl again by the clock, but ended.
    h.at(MIN);
    assert_eq!(status(&h, &id).await, Status::Expired);
    let reply = h.verify(&id, CODE).await.unwrap();
    assert_eq!((reply.valid, reply.status), (false, Status::Expired));
}

#[tokio::test]
async fn a_verify_after_expiry_ends_the_code_before_any_sweep() {
    let h = Harness::new(Limits::default());
    let id = h.send(TO).await.unwrap();
    h.at(2 * HOUR);
    let reply = h.verify(&id, CODE).await.unwrap();
    assert_eq!((reply.valid, reply.status), (false, Status::Expired));
    h.at(MIN);
    let reply = h.verify(&id, CODE).await.unwrap();
    assert_eq!((reply.valid, reply.status), (false, Status::Expired));
}

#[tokio::test]
async fn a_jump_back_keeps_the_recipient_limit_and_its_wait_grows_by_the_jump() {
    let h = Harness::new(Limits::default()); // per_recipient 5/10m
    for i in 0..5 {
        h.at(20 * MIN + i * MIN);
        h.send(TO).await.unwrap();
    }
    // Twenty-five minutes back: the five sends still count, and the wait is until the first
    // of them is ten minutes old by the clock: 30 minutes, not a negative one.
    h.at(0);
    let (limit, wait) = limited(h.send(TO).await);
    assert_eq!(
        (limit.as_str(), wait),
        ("per_recipient 5/10m", Duration::from_secs(30 * 60))
    );
    h.at(30 * MIN);
    h.send(TO).await.unwrap();
}

#[tokio::test]
async fn a_jump_back_does_not_reset_an_app_limit() {
    let h = Harness::new(Limits {
        per_recipient: Vec::new(),
        per_app: rates(&["2/10m"]),
        ..Limits::default()
    });
    h.at(25 * MIN);
    h.send(TO).await.unwrap();
    h.send(OTHER).await.unwrap();
    // Back into an earlier ten-minute window: the app's count is not forgotten.
    h.at(5 * MIN);
    let (limit, wait) = limited(h.send("+255712345670").await);
    assert_eq!(limit, "per_app 2/10m");
    assert!(wait > Duration::from_secs(20 * 60), "{wait:?}");
}
