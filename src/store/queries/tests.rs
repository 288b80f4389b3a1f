use super::*;
use crate::store::open_write_connection;
use std::collections::HashSet;

const APPS: [&str; 3] = ["shop", "bank", "game"];
const STATUSES: [&str; 4] = ["pending", "approved", "expired", "canceled"];

/// A database of `n` verifications: several per millisecond (ties on created_at), spread over
/// three apps, five recipients and four statuses; each with two events.
fn db(n: i64) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn =
        open_write_connection(&dir.path().join("t.db"), crate::store::Durability::Normal).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..n {
        let id = format!("v{i:05}");
        let created = 1_000 + i / 3; // three rows per millisecond
        conn.execute(
            "INSERT INTO verification (id, appid, recipient, status, code_length, ttl_ms, \
             created_at, expires_at, last_send_at, max_attempts) \
             VALUES (?1, ?2, ?3, ?4, 6, 100, ?5, ?6, ?5, 5)",
            rusqlite::params![
                id,
                APPS[(i % 3) as usize],
                format!("+25571234567{}", i % 5),
                STATUSES[(i % 4) as usize],
                created,
                created + 100
            ],
        )
        .unwrap();
        for event in ["created", "submitted"] {
            conn.execute(
                "INSERT INTO event (at, verification_id, event, appid) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![created, id, event, APPS[(i % 3) as usize]],
            )
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    (dir, conn)
}

/// Every page of `q`, following the keys, as the ids in order.
fn all_pages(conn: &Connection, mut q: VerificationQuery, size: usize) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        q.limit = size;
        let page = list(conn, &q).unwrap();
        let full = page.len() == size;
        q.after = page.last().map(|(k, _)| *k);
        ids.extend(page.into_iter().map(|(_, v)| v.id));
        if !full {
            return ids;
        }
    }
}

/// What the filter should give, newest first (ids grow with created_at and rowid).
fn expected(n: i64, keep: impl Fn(i64) -> bool) -> Vec<String> {
    (0..n)
        .rev()
        .filter(|i| keep(*i))
        .map(|i| format!("v{i:05}"))
        .collect()
}

#[test]
fn pages_cover_everything_once_in_order_for_every_filter() {
    let n = 200;
    let (_dir, conn) = db(n);
    let none = VerificationQuery::default();
    for size in [1, 7, 50, 500] {
        assert_eq!(
            all_pages(&conn, none.clone(), size),
            expected(n, |_| true),
            "size {size}"
        );
    }
    let shop = VerificationQuery {
        appid: Some("shop".into()),
        ..Default::default()
    };
    assert_eq!(all_pages(&conn, shop, 7), expected(n, |i| i % 3 == 0));
    let approved = VerificationQuery {
        status: Some(Status::Approved),
        ..Default::default()
    };
    assert_eq!(all_pages(&conn, approved, 7), expected(n, |i| i % 4 == 1));
    let bank_expired = VerificationQuery {
        appid: Some("bank".into()),
        status: Some(Status::Expired),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&conn, bank_expired, 3),
        expected(n, |i| i % 3 == 1 && i % 4 == 2)
    );
    let recipient = VerificationQuery {
        recipient: Some("+255712345672".into()),
        appid: Some("game".into()),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&conn, recipient, 4),
        expected(n, |i| i % 5 == 2 && i % 3 == 2)
    );
    // since inclusive, until exclusive, on created_at = 1000 + i / 3.
    let range = VerificationQuery {
        since: Some(Timestamp(1_010)),
        until: Some(Timestamp(1_020)),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&conn, range, 4),
        expected(n, |i| (30..60).contains(&i))
    );
    // Pending rows still running at 1_150 (expires_at = created_at + 100 > 1_150).
    let running = VerificationQuery {
        status: Some(Status::Pending),
        expiry: Some(Expiry::After(Timestamp(1_150))),
        ..Default::default()
    };
    assert_eq!(
        all_pages(&conn, running, 5),
        expected(n, |i| i % 4 == 0 && 1_000 + i / 3 + 100 > 1_150)
    );
}

#[test]
fn event_pages_cover_everything_once() {
    let n = 60;
    let (_dir, conn) = db(n);
    for appid in [None, Some("bank".to_string())] {
        let mut q = EventQuery {
            appid: appid.clone(),
            limit: 7,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = events(&conn, &q).unwrap();
            q.after = page.last().map(|(k, _)| *k);
            let full = page.len() == 7;
            seen.extend(page.into_iter().map(|(k, e)| (k, e.verification_id)));
            if !full {
                break;
            }
        }
        let want = if appid.is_some() { 40 } else { 120 };
        assert_eq!(seen.len(), want);
        let keys: HashSet<Key> = seen.iter().map(|s| s.0).collect();
        assert_eq!(keys.len(), want, "no duplicates");
        assert!(seen.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
    }
    let one = EventQuery {
        verification_id: Some("v00007".into()),
        since: Some(Timestamp(0)),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(events(&conn, &one).unwrap().len(), 2);
}

fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let n = stmt.parameter_count();
    let params: Vec<i64> = vec![0; n];
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
}

#[test]
fn every_list_is_one_index_range_in_order() {
    let (_dir, conn) = db(10);
    let mut queries = Vec::new();
    for appid in [None, Some("shop".to_string())] {
        for recipient in [None, Some("+255712345670".to_string())] {
            for status in [None, Some(Status::Approved)] {
                for expiry in [None, Some(Expiry::After(Timestamp(0)))] {
                    queries.push(VerificationQuery {
                        appid: appid.clone(),
                        recipient: recipient.clone(),
                        status,
                        expiry,
                        ..Default::default()
                    });
                }
            }
        }
    }
    for q in queries {
        let p = plan(&conn, &q.sql());
        assert!(
            p.starts_with("SEARCH verification USING INDEX"),
            "{q:?}: {p}"
        );
        assert!(!p.contains("TEMP B-TREE"), "{q:?}: {p}");
    }
    for q in [
        EventQuery::default(),
        EventQuery {
            appid: Some("shop".into()),
            ..Default::default()
        },
    ] {
        let p = plan(&conn, &q.sql());
        assert!(p.starts_with("SEARCH event USING INDEX"), "{q:?}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{q:?}: {p}");
    }
    // A verification's few events are sorted, but found by its index.
    let q = EventQuery {
        verification_id: Some("v".into()),
        ..Default::default()
    };
    assert!(plan(&conn, &q.sql()).starts_with("SEARCH event USING INDEX event_verification"));
    for appid in [false, true] {
        let p = plan(&conn, &report_sql(appid));
        assert!(p.starts_with("SEARCH verification USING INDEX"), "{p}");
    }
}

#[test]
fn report_rows_are_those_created_in_the_range() {
    let (_dir, conn) = db(30);
    let mut seen = 0;
    report_rows(&conn, Timestamp(1_002), Timestamp(1_004), None, |_| {
        seen += 1
    })
    .unwrap();
    assert_eq!(seen, 6);
    let mut shop = 0;
    report_rows(&conn, Timestamp(0), Timestamp(2_000), Some("shop"), |r| {
        assert_eq!(r.appid, "shop");
        shop += 1
    })
    .unwrap();
    assert_eq!(shop, 10);
}
