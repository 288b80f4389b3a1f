//! The limits through the engine, on a real store, with a clock the tests move by hand.

use super::*;
use crate::delivery::router::{Route, Router};
use crate::live::{Live, LiveConfig};
use crate::model::Clock;
use crate::otp::hash::Pepper;
use crate::otp::pin::Randomness;
use crate::otp::{
    Apps, Engine, Origin, OtpError, Policy, Scope, SendRequest, TestNumbers, VerifyRequest,
};
use crate::secret::Secret;
use crate::store::{Durability, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub(super) const MIN: i64 = 60_000;
pub(super) const T0: i64 = 1_700_000_000_000;
pub(super) const CODE: &str = "123456";

pub(super) struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

pub(super) struct Harness {
    dir: tempfile::TempDir,
    pub(super) engine: Engine,
    pub(super) clock: Arc<FakeClock>,
}

impl Harness {
    pub(super) fn new(limits: Limits) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("otpd.db"), Durability::Normal).unwrap();
        let policy = Policy {
            length: 6,
            ttl: Duration::from_secs(3600),
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
            limits,
            fraud: crate::otp::Fraud::default(),
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

    pub(super) fn at(&self, ms: i64) {
        self.clock.0.store(T0 + ms, Ordering::SeqCst);
    }

    async fn send_from(&self, to: &str, appid: &str, origin: Origin) -> Result<String, OtpError> {
        let req = SendRequest {
            appid: appid.into(),
            recipient: to.into(),
            origin,
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

    pub(super) async fn send(&self, to: &str) -> Result<String, OtpError> {
        self.send_from(to, "default", Origin::default()).await
    }

    pub(super) async fn verify(
        &self,
        id: &str,
        code: &str,
    ) -> Result<crate::otp::VerifyReply, OtpError> {
        let req = VerifyRequest {
            verification_id: Some(id.into()),
            recipient: None,
            appid: "default".into(),
            code: Secret::new(code.into()),
            origin: Origin::default(),
        };
        self.engine.verify(&Scope::Any, req).await
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("otpd.db")).unwrap()
    }

    pub(super) fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The events `rate_limited`, as (verification_id, detail).
    fn refusals(&self) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT verification_id, detail FROM event WHERE event = 'rate_limited' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

pub(super) fn limited(result: Result<impl std::fmt::Debug, OtpError>) -> (String, Duration) {
    match result {
        Err(OtpError::RateLimited { limit, retry_after }) => (limit, retry_after),
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub(super) fn rates(list: &[&str]) -> Vec<Rate> {
    list.iter().map(|r| Rate::parse(r).unwrap()).collect()
}

pub(super) const TO: &str = "+255712345678";
pub(super) const OTHER: &str = "+255712345679";

#[tokio::test]
async fn the_sixth_send_in_ten_minutes_is_refused_until_the_window_slides() {
    let h = Harness::new(Limits::default());
    for i in 0..5 {
        h.at(i * MIN);
        h.send(TO).await.unwrap();
    }
    let verifications = h.count("SELECT count(*) FROM verification");
    h.at(5 * MIN);
    let (limit, wait) = limited(h.send(TO).await);
    assert_eq!(
        (limit.as_str(), wait),
        ("per_recipient 5/10m", secs(5 * 60))
    );
    // Nothing made, nothing counted; the refusal is an event of no verification.
    assert_eq!(h.count("SELECT count(*) FROM verification"), verifications);
    assert_eq!(
        h.refusals(),
        [(
            String::new(),
            "send refused by per_recipient 5/10m (app default)".to_string()
        )]
    );
    // Another recipient is not affected.
    h.send(OTHER).await.unwrap();
    // A millisecond before the first send is ten minutes old: still refused.
    h.at(10 * MIN - 1);
    let (_, wait) = limited(h.send(TO).await);
    assert_eq!(wait, Duration::from_millis(1));
    h.at(10 * MIN);
    h.send(TO).await.unwrap();
    // The refused attempts did not count: the next one waits for the second send only.
    let (_, wait) = limited(h.send(TO).await);
    assert_eq!(wait, secs(60));
}

#[tokio::test]
async fn the_day_limit_holds_when_the_ten_minute_one_allows() {
    let h = Harness::new(Limits::default());
    for i in 0..10 {
        h.at(i * 11 * MIN);
        h.send(TO).await.unwrap();
    }
    h.at(110 * MIN);
    let (limit, wait) = limited(h.send(TO).await);
    assert_eq!(limit, "per_recipient 10/24h");
    assert_eq!(
        wait,
        Duration::from_millis((24 * 60 * MIN - 110 * MIN) as u64)
    );
    h.at(24 * 60 * MIN);
    h.send(TO).await.unwrap();
}

#[tokio::test]
async fn resends_count_as_sends() {
    let h = Harness::new(Limits {
        per_app: rates(&["100/1h"]),
        ..Limits::default()
    });
    let id = h.send(TO).await.unwrap();
    for _ in 0..4 {
        h.engine
            .resend(&Scope::Any, id.clone(), Origin::default())
            .await
            .unwrap();
    }
    let (limit, _) = limited(
        h.engine
            .resend(&Scope::Any, id.clone(), Origin::default())
            .await,
    );
    assert_eq!(limit, "per_recipient 5/10m");
    assert_eq!(
        h.refusals(),
        [(
            id.clone(),
            "resend refused by per_recipient 5/10m".to_string()
        )]
    );
    let sends: i64 = h
        .db()
        .query_row("SELECT sends FROM verification WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sends, 5);
    let counted: i64 = h.count("SELECT count FROM limit_counter WHERE scope = 'app'");
    assert_eq!(counted, 5);
}

#[tokio::test]
async fn app_key_ip_and_prefix_are_counted_apart() {
    let h = Harness::new(Limits {
        per_recipient: Vec::new(),
        per_app: rates(&["3/1h"]),
        per_key: rates(&["2/1h"]),
        per_ip: rates(&["2/1h"]),
        per_prefix: rates(&["4/1h"]),
        ..Limits::default()
    });
    let from = |key: &str, ip: &str| Origin {
        key: Some(key.into()),
        ip: Some(ip.parse().unwrap()),
    };
    let numbers = [
        "+255712000001",
        "+255712000002",
        "+255712000003",
        "+255712000004",
    ];
    // per_key: a key's third send.
    h.send_from(numbers[0], "a", from("k1", "192.0.2.1"))
        .await
        .unwrap();
    h.send_from(numbers[1], "a", from("k1", "192.0.2.2"))
        .await
        .unwrap();
    let (limit, _) = limited(h.send_from(numbers[2], "a", from("k1", "192.0.2.3")).await);
    assert_eq!(limit, "per_key 2/1h");
    // per_app: app a's fourth (k2 is fresh; k1's refusal did not count).
    h.send_from(numbers[2], "a", from("k2", "192.0.2.3"))
        .await
        .unwrap();
    let (limit, _) = limited(h.send_from(numbers[3], "a", from("k3", "192.0.2.4")).await);
    assert_eq!(limit, "per_app 3/1h");
    // per_ip: 192.0.2.1 sent once for app a; twice more is over.
    h.send_from(numbers[3], "b", from("k4", "192.0.2.1"))
        .await
        .unwrap();
    let (limit, _) = limited(
        h.send_from("+254712000001", "c", from("k5", "192.0.2.1"))
            .await,
    );
    assert_eq!(limit, "per_ip 2/1h");
    // IPv6 clients count by /64.
    let v6 = |ip: &str| from("k6", ip);
    h.send_from("+254712000001", "c", v6("2001:db8:1:2::1"))
        .await
        .unwrap();
    h.send_from(
        "+254712000002",
        "c",
        Origin {
            key: None,
            ..v6("2001:db8:1:2:ffff::9")
        },
    )
    .await
    .unwrap();
    let (limit, _) = limited(
        h.send_from(
            "+254712000003",
            "d",
            Origin {
                key: None,
                ..v6("2001:db8:1:2::7")
            },
        )
        .await,
    );
    assert_eq!(limit, "per_ip 2/1h");
    // per_prefix: +255 has had 4 sends; +254 only 2.
    let (limit, _) = limited(h.send_from("+255712000009", "e", Origin::default()).await);
    assert_eq!(limit, "per_prefix 4/1h");
    h.send_from("+254712000009", "e", Origin::default())
        .await
        .unwrap();
    // The Unix socket has no key and no address: only app and prefix apply.
    let keys: Vec<String> = {
        let db = h.db();
        let mut stmt = db
            .prepare("SELECT scope || ' ' || key || ' ' || count FROM limit_counter ORDER BY 1")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        keys,
        [
            "app a 3",
            "app b 1",
            "app c 2",
            "app e 1",
            "ip 192.0.2.1 2",
            "ip 192.0.2.2 1",
            "ip 192.0.2.3 1",
            "ip 2001:db8:1:2::/64 2",
            "key k1 2",
            "key k2 1",
            "key k4 1",
            "key k6 1",
            "prefix +254 3",
            "prefix +255 4",
        ]
    );
}

#[tokio::test]
async fn the_longest_refusal_is_the_one_named() {
    let h = Harness::new(Limits {
        per_recipient: rates(&["1/10m"]),
        per_app: rates(&["1/1h"]),
        ..Limits::default()
    });
    h.send(TO).await.unwrap();
    // Both refuse; the app's limit frees later (in its next hourly window), so it is named.
    let (limit, wait) = limited(h.send(TO).await);
    assert_eq!(limit, "per_app 1/1h");
    assert!(wait > secs(600), "{wait:?}");
}

fn lockout(after: u32) -> Limits {
    Limits {
        lockout: Lockout {
            after,
            first: secs(60),
            max: secs(240),
            reset: secs(3600),
        },
        ..Limits::default()
    }
}

async fn attempts(h: &Harness, id: &str) -> u32 {
    h.engine
        .status(&Scope::Any, id.into())
        .await
        .unwrap()
        .attempts
}

#[tokio::test]
async fn failed_verifies_lock_the_recipient_across_verifications_with_growing_back_off() {
    let h = Harness::new(lockout(3));
    let first = h.send(TO).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            h.verify(&first, "000000").await.unwrap().reason,
            Some("incorrect_code")
        );
    }
    // A new send does not reset the run; the third failure locks.
    h.at(MIN);
    let second = h.send(TO).await.unwrap();
    assert_eq!(
        h.verify(&second, "000000").await.unwrap().attempts_left,
        Some(4)
    );
    // Locked: even the right code is not judged, and no attempt is used.
    let (limit, wait) = limited(h.verify(&second, CODE).await);
    assert_eq!(
        (limit.as_str(), wait),
        ("lockout after 3 failed verifies in a row", secs(60))
    );
    assert_eq!(attempts(&h, &second).await, 1);
    // Sends to a locked recipient are refused too: no code that cannot be verified.
    h.at(MIN + 30_000);
    let (limit, wait) = limited(h.send(TO).await);
    assert_eq!(
        (limit.as_str(), wait),
        ("lockout after 3 failed verifies in a row", secs(30))
    );
    assert_eq!(h.refusals().len(), 2);
    assert_eq!(h.refusals()[0].0, second);
    // Another recipient is not locked.
    let other = h.send(OTHER).await.unwrap();
    assert!(h.verify(&other, CODE).await.unwrap().valid);

    // Once the lock ends, one more failure locks twice as long, then four times (the max).
    h.at(2 * MIN);
    assert_eq!(
        h.verify(&second, "000000").await.unwrap().reason,
        Some("incorrect_code")
    );
    let (_, wait) = limited(h.verify(&second, CODE).await);
    assert_eq!(wait, secs(120));
    h.at(4 * MIN);
    h.verify(&second, "000000").await.unwrap();
    let (_, wait) = limited(h.verify(&second, CODE).await);
    assert_eq!(wait, secs(240));
    h.at(8 * MIN);
    h.verify(&second, "000000").await.unwrap();
    let (_, wait) = limited(h.verify(&second, CODE).await);
    assert_eq!(wait, secs(240), "capped at lockout_max");

    // After the lock, the right code is judged and approved, which ends the run.
    h.at(12 * MIN);
    assert!(h.verify(&second, CODE).await.unwrap().valid);
    let third = h.send(TO).await.unwrap();
    for _ in 0..2 {
        h.verify(&third, "000000").await.unwrap();
    }
    assert!(
        h.verify(&third, CODE).await.unwrap().valid,
        "two failures do not lock"
    );
}

#[tokio::test]
async fn the_run_is_forgotten_after_a_quiet_reset_period() {
    let h = Harness::new(lockout(3));
    let id = h.send(TO).await.unwrap();
    for _ in 0..2 {
        h.verify(&id, "000000").await.unwrap();
    }
    // An hour without failures: the two are forgotten, so two more do not lock.
    h.at(60 * MIN);
    let id = h.send(TO).await.unwrap();
    for _ in 0..2 {
        h.verify(&id, "000000").await.unwrap();
    }
    assert!(h.verify(&id, CODE).await.unwrap().valid);
}

#[tokio::test]
async fn verifies_of_an_ended_verification_do_not_count() {
    let h = Harness::new(lockout(3));
    let id = h.send(TO).await.unwrap();
    assert!(h.verify(&id, CODE).await.unwrap().valid);
    for _ in 0..5 {
        let r = h.verify(&id, "000000").await.unwrap();
        assert_eq!(r.reason, Some("already_used"));
    }
    let id = h.send(TO).await.unwrap();
    assert!(h.verify(&id, CODE).await.unwrap().valid);
}

#[tokio::test]
async fn with_everything_off_nothing_is_stored() {
    let h = Harness::new(Limits {
        per_recipient: Vec::new(),
        ..lockout(0)
    });
    for _ in 0..20 {
        let id = h.send(TO).await.unwrap();
        h.verify(&id, "000000").await.unwrap();
    }
    assert_eq!(h.count("SELECT count(*) FROM limit_recipient"), 0);
    assert_eq!(h.count("SELECT count(*) FROM limit_counter"), 0);
}

#[tokio::test]
async fn rows_are_pruned_once_they_no_longer_matter() {
    let h = Harness::new(Limits {
        per_app: rates(&["100/1m"]),
        ..lockout(3)
    });
    h.send(TO).await.unwrap();
    let locked = h.send(OTHER).await.unwrap();
    for _ in 0..3 {
        h.verify(&locked, "000000").await.unwrap();
    }
    let prune = |at: i64| {
        let store = h.engine.store.clone();
        async move {
            store
                .writer
                .run(move |tx| tx.prune_limits(Timestamp(T0 + at), 100))
                .await
                .unwrap()
        }
    };
    assert_eq!(prune(0).await, 0);
    // The app counter goes after two minutes (its window and the next).
    prune(2 * MIN).await;
    assert_eq!(h.count("SELECT count(*) FROM limit_counter"), 0);
    assert_eq!(h.count("SELECT count(*) FROM limit_recipient"), 2);
    // TO's sends matter for a day; OTHER's lock ends at 1m and its run is forgotten an hour
    // later, but its sends too matter for a day (rounded up to the pruning grain).
    let day = coarse(Timestamp(T0 + 24 * 60 * MIN)).0 - T0;
    assert!((24 * 60 * MIN..24 * 60 * MIN + 10 * MIN).contains(&day));
    prune(day - 1).await;
    assert_eq!(h.count("SELECT count(*) FROM limit_recipient"), 2);
    prune(day).await;
    assert_eq!(h.count("SELECT count(*) FROM limit_recipient"), 0);
}

#[test]
fn pruning_times_are_rounded_up_to_ten_minutes() {
    assert_eq!(coarse(Timestamp(0)), Timestamp(0));
    assert_eq!(coarse(Timestamp(1)), Timestamp(10 * MIN));
    assert_eq!(coarse(Timestamp(10 * MIN)), Timestamp(10 * MIN));
    assert_eq!(coarse(Timestamp(10 * MIN + 1)), Timestamp(20 * MIN));
}

#[tokio::test]
async fn a_lock_outlives_the_send_window() {
    let h = Harness::new(Limits {
        per_recipient: rates(&["5/1m"]),
        ..lockout(1)
    });
    let id = h.send(TO).await.unwrap();
    h.verify(&id, "000000").await.unwrap();
    // The sends matter for a minute; the run for an hour after the lock (1m) ends.
    let forget: i64 = h.count("SELECT forget_at FROM limit_recipient");
    assert_eq!(Timestamp(forget), coarse(Timestamp(T0 + 61 * MIN)));
    // Once the lock is over, an approval ends the run; the send is out of its window too, so
    // the row has nothing left to say and goes.
    h.at(2 * MIN);
    assert!(h.verify(&id, CODE).await.unwrap().valid);
    assert_eq!(h.count("SELECT count(*) FROM limit_recipient"), 0);
}

#[tokio::test]
async fn an_approval_does_not_move_the_pruning_time_earlier() {
    let h = Harness::new(Limits {
        per_recipient: rates(&["5/10m"]),
        ..lockout(1)
    });
    let id = h.send(TO).await.unwrap();
    h.verify(&id, "000000").await.unwrap();
    h.at(2 * MIN);
    assert!(h.verify(&id, CODE).await.unwrap().valid);
    // The row now matters only for the send (until 10m), but moving forget_at earlier would
    // rewrite its index entry for nothing: it is kept.
    let (failures, forget): (i64, i64) = h
        .db()
        .query_row("SELECT failures, forget_at FROM limit_recipient", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (failures, Timestamp(forget)),
        (0, coarse(Timestamp(T0 + 61 * MIN)))
    );
}
