//! The guard through the engine, on a real store, with a clock the tests move by hand: what is
//! counted (sends that go out, approvals under the send's keys), what is not (blocked sends,
//! late approvals, safe numbers), and a key that frees as its window slides on.

use super::*;
use crate::delivery::router::{Route, Router};
use crate::live::{Live, LiveConfig};
use crate::model::Clock;
use crate::otp::hash::Pepper;
use crate::otp::pin::Randomness;
use crate::otp::{
    Apps, Engine, Limits, Origin, OtpError, Policy, Scope, SendRequest, TestNumbers, VerifyRequest,
};
use crate::secret::Secret;
use crate::store::{Durability, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// A window start (a multiple of an hour), so the tests know which fixed window they are in.
const T0: i64 = 472_000 * HOUR;
const CODE: &str = "123456";

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

struct Harness {
    dir: tempfile::TempDir,
    engine: Engine,
    clock: Arc<FakeClock>,
}

fn guard(mode: Mode) -> Fraud {
    Fraud {
        mode,
        min_sends: 4,
        max_unverified_share: 0.5,
        ..Fraud::default()
    }
}

impl Harness {
    fn new(fraud: Fraud) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("otpd.db"), Durability::Normal).unwrap();
        let policy = Policy {
            length: 6,
            ttl: Duration::from_secs(2 * 3600),
            max_attempts: 5,
            resend_cooldown: Duration::ZERO,
            max_resends: 20,
            template: "{code}".into(),
            templates: Vec::new(),
        };
        let live = LiveConfig::new(Live {
            policy,
            apps: Apps::default(),
            test_numbers: TestNumbers::default(),
            limits: Limits {
                per_recipient: Vec::new(),
                ..Limits::default()
            },
            fraud,
            router: Router::new(vec![Route {
                channel: "sim".into(),
                prefixes: Vec::new(),
            }]),
            channels: Vec::new(),
        });
        let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
        let engine = Engine {
            handoff: None,
            store,
            pepper: Arc::new(Pepper::from_bytes([7; 32])),
            random: Arc::new(Randomness::from_seed([1; 32])),
            live,
            clock: clock.clone(),
            dispatch: Arc::default(),
        };
        Harness { dir, engine, clock }
    }

    fn at(&self, ms: i64) {
        self.clock.0.store(T0 + ms, Ordering::SeqCst);
    }

    async fn send_from(&self, to: &str, ip: Option<&str>) -> Result<String, OtpError> {
        let req = SendRequest {
            appid: "default".into(),
            recipient: to.into(),
            origin: Origin {
                key: None,
                ip: ip.map(|ip| ip.parse().unwrap()),
            },
            ..SendRequest::default()
        };
        let id = self.engine.send(req).await?.verification_id;
        // Stand in for the dispatcher: the code is CODE.
        let hash = self.engine.pepper.code_hash(&id, to, CODE);
        let for_id = id.clone();
        self.engine
            .store
            .writer
            .run(move |tx| tx.set_code_hash(&for_id, &hash))
            .await
            .unwrap();
        Ok(id)
    }

    async fn send(&self, to: &str) -> Result<String, OtpError> {
        self.send_from(to, None).await
    }

    async fn approve(&self, id: &str) {
        let req = VerifyRequest {
            verification_id: Some(id.into()),
            recipient: None,
            appid: "default".into(),
            code: Secret::new(CODE.into()),
            origin: Origin::default(),
        };
        let reply = self.engine.verify(&Scope::Any, req).await.unwrap();
        assert!(reply.valid, "{reply:?}");
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("otpd.db")).unwrap()
    }

    /// (sends, approvals) of a counter, in its current fixed window.
    fn counts(&self, scope: &str, key: &str) -> (i64, i64) {
        self.db()
            .query_row(
                "SELECT sends, approvals FROM fraud_counter WHERE scope = ?1 AND key = ?2",
                [scope, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, 0))
    }

    fn events(&self, event: &str) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT verification_id, detail FROM event WHERE event = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([event], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// The n-th number of a prefix: "+25571" + 7 digits.
fn number(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:07}")
}

#[tokio::test]
async fn a_blocked_prefix_leaves_blocked_verifications_counts_nothing_and_frees_as_the_window_slides()
 {
    let h = Harness::new(guard(Mode::Block));
    for n in 0..4 {
        h.at(i64::from(n) * MIN);
        h.send(&number("+25571", n)).await.unwrap();
    }
    assert_eq!(h.counts("prefix", "+25571"), (4, 0));

    h.at(5 * MIN);
    let Err(OtpError::Blocked {
        verification_id: Some(id),
        reason: Reason::Prefix,
        detail,
    }) = h.send(&number("+25571", 9)).await
    else {
        panic!("not blocked");
    };
    assert!(detail.contains("+25571"), "{detail}");
    let v = h.engine.status(&Scope::Any, id.clone()).await.unwrap();
    assert_eq!(v.status, crate::model::Status::Blocked);
    assert_eq!(v.delivery.state, crate::model::DeliveryState::Rejected);
    assert_eq!(
        h.events("blocked"),
        [(
            id.clone(),
            "prefix +25571: 4 of 4 codes in the last 1h not verified (100%, over 50%)".into()
        )]
    );
    // Not counted, not queued, and it takes no code.
    assert_eq!(h.counts("prefix", "+25571"), (4, 0));
    let queued: i64 = h
        .db()
        .query_row(
            "SELECT count(*) FROM outbox WHERE verification_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 0);
    // Another prefix is not held back.
    h.send(&number("+25575", 1)).await.unwrap();

    // In the next fixed window, the four weigh 4 × (1 − e); below 3.5 they round to 3.
    h.at(HOUR + 6 * MIN);
    assert!(h.send(&number("+25571", 10)).await.is_err());
    h.at(HOUR + 8 * MIN);
    h.send(&number("+25571", 11)).await.unwrap();
}

#[tokio::test]
async fn approvals_count_under_the_keys_of_their_send_and_keep_a_prefix_open() {
    let h = Harness::new(guard(Mode::Block));
    // Half approved: 50% unverified is not above 50%.
    for n in 0..8 {
        let id = h
            .send_from(&number("+25571", n), Some("192.0.2.1"))
            .await
            .unwrap();
        if n % 2 == 0 {
            h.approve(&id).await;
        }
    }
    assert_eq!(h.counts("prefix", "+25571"), (8, 4));
    assert_eq!(h.counts("ip", "192.0.2.1"), (8, 4));
    // Another client on the same prefix: its approval counts under its own address.
    let id = h
        .send_from(&number("+25571", 100), Some("192.0.2.2"))
        .await
        .unwrap();
    h.approve(&id).await;
    assert_eq!(h.counts("ip", "192.0.2.2"), (1, 1));
    assert_eq!(h.counts("prefix", "+25571"), (9, 5));
    assert!(h.events("blocked").is_empty() && h.events("flagged").is_empty());

    // An approval of a code sent longer than the window ago is in no count any more.
    let late = h.send(&number("+25571", 200)).await.unwrap();
    h.at(HOUR + MIN);
    h.approve(&late).await;
    assert_eq!(h.counts("prefix", "+25571"), (10, 5));
}

#[tokio::test]
async fn record_mode_flags_and_sends_and_safe_numbers_are_not_counted() {
    let f = Fraud {
        safe_numbers: vec!["+2557100".into()],
        ..guard(Mode::Record)
    };
    let h = Harness::new(f);
    for n in 0..4 {
        h.send_from(&number("+25571", 1_000_000 + n), Some("198.51.100.4"))
            .await
            .unwrap();
    }
    // A safe number: sent, not counted, never flagged.
    for n in 0..3 {
        h.send_from(&number("+25571", n), Some("198.51.100.4"))
            .await
            .unwrap();
    }
    assert_eq!(h.counts("prefix", "+25571"), (4, 0));
    assert!(h.events("flagged").is_empty());

    let id = h
        .send_from(&number("+25571", 2_000_000), Some("198.51.100.4"))
        .await
        .unwrap();
    let flagged = h.events("flagged");
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].0, id);
    assert_eq!(
        flagged[0].1,
        "prefix +25571: 4 of 4 codes in the last 1h not verified (100%, over 50%); \
         ip 198.51.100.4: 4 of 4 codes in the last 1h not verified (100%, over 50%)"
    );
    // A flagged send goes out, and counts.
    assert_eq!(h.counts("prefix", "+25571"), (5, 0));
    let queued: i64 = h
        .db()
        .query_row(
            "SELECT count(*) FROM outbox WHERE verification_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn mode_off_counts_nothing_and_old_counters_are_pruned() {
    let h = Harness::new(guard(Mode::Off));
    for n in 0..6 {
        h.send(&number("+25571", n)).await.unwrap();
    }
    let rows: i64 = h
        .db()
        .query_row("SELECT count(*) FROM fraud_counter", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);

    let h = Harness::new(guard(Mode::Record));
    h.send(&number("+25571", 1)).await.unwrap();
    let prune = |at: i64| {
        h.engine
            .store
            .writer
            .run(move |tx| tx.prune_fraud(Timestamp(T0 + at), 100))
    };
    // The counter matters until the window after its own has ended.
    assert_eq!(prune(2 * HOUR - 1).await.unwrap(), 0);
    assert_eq!(prune(2 * HOUR).await.unwrap(), 1);
}

#[tokio::test]
async fn a_resend_is_judged_and_counted_as_a_send() {
    let h = Harness::new(guard(Mode::Block));
    let mut ids = Vec::new();
    for n in 0..4 {
        h.at(i64::from(n) * MIN);
        ids.push(h.send(&number("+25571", n)).await.unwrap());
    }
    h.at(5 * MIN);
    let first = ids.first().unwrap().clone();
    let refused = h
        .engine
        .resend(&Scope::Any, first.clone(), Origin::default())
        .await;
    let Err(OtpError::Blocked {
        verification_id: Some(id),
        ..
    }) = refused
    else {
        panic!("not blocked: {refused:?}");
    };
    assert_eq!(id, first);
    // Refused, the resend counts nowhere and the verification stays pending.
    assert_eq!(h.counts("prefix", "+25571"), (4, 0));
    let status: String = h
        .db()
        .query_row(
            "SELECT status FROM verification WHERE id = ?1",
            [&first],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "pending");
    let blocked = h.events("blocked");
    assert_eq!(blocked.len(), 1);
    assert!(blocked[0].1.starts_with("resend refused: "), "{blocked:?}");

    // In record mode the same resend goes out, counted and flagged.
    let h = Harness::new(guard(Mode::Record));
    let mut ids = Vec::new();
    for n in 0..4 {
        h.at(i64::from(n) * MIN);
        ids.push(h.send(&number("+25571", n)).await.unwrap());
    }
    h.at(5 * MIN);
    let first = ids.first().unwrap().clone();
    h.engine
        .resend(&Scope::Any, first.clone(), Origin::default())
        .await
        .unwrap();
    assert_eq!(h.counts("prefix", "+25571"), (5, 0));
    assert_eq!(h.events("flagged").last().unwrap().0, first);
}
