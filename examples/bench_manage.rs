//! Benchmark of the management endpoints (scripts/bench-manage.sh runs it).
//!
//! * `fill DB`: builds a database with the real schema (otpd's own migrations) holding
//!   `--verifications` verifications spread over `--days` days up to now, in time order as a
//!   daemon would have written them: five apps of very unequal size, `--recipients` phone
//!   numbers, every status (pending only in the last minutes, as the sweeper would leave it),
//!   two channels, delivery states and times, about four events and one or two judged attempts
//!   each. Bulk inserts in large transactions: a few seconds per million.
//! * `time SOCKET`: times requests over the daemon's Unix socket (one keep-alive HTTP/1.1
//!   connection, one request at a time) and prints p50/p99/max per scenario: first pages, pages
//!   deep into the list by cursor, filters by recipient, status and app, logs, attempts,
//!   rate limits and reports over a day and over 30 days.
//!
//! ```text
//! cargo run --release --example bench_manage -- fill /tmp/m/otpd.db --verifications 1000000
//! cargo run --release --example bench_manage -- time /tmp/m/otpd.sock --requests 200
//! ```

// A benchmark tool, like a test: a failure is a panic with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clap::{Parser, Subcommand};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill a new database.
    Fill {
        db: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        verifications: u64,
        #[arg(long, default_value_t = 200_000)]
        recipients: u64,
        #[arg(long, default_value_t = 60)]
        days: u64,
    },
    /// Time the endpoints of a running daemon.
    Time {
        socket: PathBuf,
        /// Requests per scenario.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// The --recipients the database was filled with.
        #[arg(long, default_value_t = 200_000)]
        recipients: u64,
    },
}

fn main() {
    match Args::parse().command {
        Command::Fill {
            db,
            verifications,
            recipients,
            days,
        } => fill(&db, verifications, recipients, days),
        Command::Time {
            socket,
            requests,
            recipients,
        } => time(&socket, requests, recipients),
    }
}

/// xorshift64*: fast, and reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Picks from `(weight, value)` pairs whose weights add up to 1000.
    fn pick<T: Copy>(&mut self, table: &[(u64, T)]) -> T {
        let mut x = self.below(1000);
        for (w, v) in table {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        table[table.len() - 1].1
    }
}

const APPS: [(u64, &str); 5] = [
    (500, "shop"),
    (250, "bank"),
    (150, "ride"),
    (70, "game"),
    (30, "clinic"),
];
const STATUSES: [(u64, &str); 6] = [
    (720, "approved"),
    (150, "expired"),
    (60, "canceled"),
    (30, "max_attempts_reached"),
    (30, "failed"),
    (10, "blocked"),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn recipient_of(i: u64) -> String {
    format!("+2557{:08}", 12_000_000 + i)
}

fn fill(db: &std::path::Path, n: u64, recipients: u64, days: u64) {
    let started = Instant::now();
    let mut conn = otpd::store::open_write_connection(db, otpd::store::Durability::Normal).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    conn.pragma_update(None, "cache_size", -262_144).unwrap();
    let end = now_ms();
    let span = (days * 86_400_000) as i64;
    let step = span / n.max(1) as i64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut events, mut attempts) = (0u64, 0u64);
    let batch = 100_000;
    let mut i = 0;
    while i < n {
        let tx = conn.transaction().unwrap();
        {
            let mut ins_v = tx
                .prepare(
                    "INSERT INTO verification (id, appid, recipient, status, code_length, ttl_ms, \
                     created_at, expires_at, last_send_at, verified_at, ended_at, attempts, \
                     max_attempts, sends, delivery_state, delivery_channel, message_id, \
                     submitted_at, delivered_at, delivery_error) VALUES \
                     (?1, ?2, ?3, ?4, 6, 300000, ?5, ?6, ?7, ?8, ?9, ?10, 5, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )
                .unwrap();
            let mut ins_e = tx
                .prepare(
                    "INSERT INTO event (at, verification_id, event, detail, appid) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .unwrap();
            let mut ins_a = tx
                .prepare(
                    "INSERT INTO attempt (verification_id, at, valid, reason, source, api_key) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .unwrap();
            for _ in 0..batch.min(n - i) {
                let created = end - span + i as i64 * step + rng.below(step.max(1) as u64) as i64;
                let id = format!("{:012x}{:016x}{:016x}", created, rng.next(), rng.next());
                let app = rng.pick(&APPS);
                let to = recipient_of(rng.below(recipients));
                // The last few minutes are still running.
                let status = if end - created < 300_000 {
                    "pending"
                } else {
                    rng.pick(&STATUSES)
                };
                let sends = 1 + i64::from(rng.below(10) == 0);
                let last_send = created + (sends - 1) * 60_000;
                let channel = if rng.below(10) < 8 {
                    "operator"
                } else {
                    "dongle"
                };
                let submitted = last_send + 20 + rng.below(200) as i64;
                let (state, delivered, error) = match (status, rng.below(100)) {
                    ("failed", _) => ("undelivered", None, Some("every channel gave up")),
                    ("blocked", _) => ("queued", None, None),
                    ("pending", _) => ("submitted", None, None),
                    (_, 0..=91) => (
                        "delivered",
                        Some(submitted + 1_500 + rng.below(8_000) as i64),
                        None,
                    ),
                    (_, 92..=96) => ("undelivered", None, Some("stat:UNDELIV err:001")),
                    _ => ("unknown", None, None),
                };
                let fails = match status {
                    "max_attempts_reached" => 5,
                    "approved" => i64::from(rng.below(5) == 0),
                    _ => i64::from(rng.below(20) == 0),
                };
                let verified = (status == "approved")
                    .then(|| delivered.unwrap_or(submitted) + 5_000 + rng.below(40_000) as i64);
                let ended = match status {
                    "pending" => None,
                    "expired" => Some(last_send + 300_000),
                    _ => Some(verified.unwrap_or(submitted + 30_000)),
                };
                let message_id = (state != "queued").then(|| format!("{:x}", rng.next() >> 20));
                ins_v
                    .execute(rusqlite::params![
                        id,
                        app,
                        to,
                        status,
                        created,
                        last_send + 300_000,
                        last_send,
                        verified,
                        ended,
                        fails,
                        sends,
                        state,
                        (state != "queued").then_some(channel),
                        message_id,
                        (state != "queued").then_some(submitted),
                        delivered,
                        error
                    ])
                    .unwrap();
                let mut event = |at: i64, name: &str, detail: Option<&str>| {
                    ins_e
                        .execute(rusqlite::params![at, id, name, detail, app])
                        .unwrap();
                    events += 1;
                };
                event(created, "created", None);
                if state != "queued" {
                    event(submitted, "submitted", None);
                }
                if let Some(at) = delivered {
                    event(at, "delivered", None);
                }
                if state == "undelivered" {
                    event(submitted + 3_000, "undelivered", error);
                }
                let source = if rng.below(4) == 0 {
                    "unix".to_string()
                } else {
                    format!(
                        "10.{}.{}.{}",
                        rng.below(256),
                        rng.below(256),
                        rng.below(256)
                    )
                };
                let key = (source != "unix").then(|| format!("ok_{app}"));
                for k in 0..fails {
                    let at = submitted + 4_000 + k * 3_000;
                    let reason = if k == 4 {
                        "max_attempts_reached"
                    } else {
                        "incorrect_code"
                    };
                    event(at, "verify_failed", Some(reason));
                    ins_a
                        .execute(rusqlite::params![id, at, false, reason, source, key])
                        .unwrap();
                    attempts += 1;
                }
                match (status, verified, ended) {
                    ("approved", Some(at), _) => {
                        event(at, "approved", None);
                        ins_a
                            .execute(rusqlite::params![id, at, true, None::<String>, source, key])
                            .unwrap();
                        attempts += 1;
                    }
                    ("pending" | "approved" | "max_attempts_reached", _, _) => {}
                    (other, _, Some(at)) => event(at, other, None),
                    _ => {}
                }
                i += 1;
            }
        }
        tx.commit().unwrap();
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let size = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0);
    println!(
        "filled {n} verifications, {events} events, {attempts} attempts over {days} days in {:.1} s; database {} MB",
        started.elapsed().as_secs_f64(),
        size >> 20
    );
}

/// One keep-alive HTTP/1.1 connection over a Unix socket.
struct Http {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Http {
    fn connect(path: &std::path::Path) -> Http {
        let s = UnixStream::connect(path).unwrap();
        Http {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// GET `path`; the status, the JSON body and the time taken.
    fn get(&mut self, path: &str) -> (u16, Value, Duration) {
        let t = Instant::now();
        write!(self.writer, "GET {path} HTTP/1.1\r\nHost: otpd\r\n\r\n").unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        let elapsed = t.elapsed();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, json, elapsed)
    }

    fn ok(&mut self, path: &str) -> (Value, Duration) {
        let (status, body, t) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        (body, t)
    }
}

fn report(name: &str, times: &mut [Duration], rows: usize) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {rows} |",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B")
}

fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms as u64)).to_string()
}

fn time(socket: &std::path::Path, n: usize, recipients: u64) {
    let mut http = Http::connect(socket);
    let mut rng = Rng(42);
    println!("| request | n | p50 ms | p99 ms | max ms | items (last) |");
    println!("|---|---|---|---|---|---|");

    let mut repeat = |http: &mut Http, name: &str, paths: &mut dyn FnMut(&mut Rng) -> String| {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..n {
            let path = paths(&mut rng);
            let (body, t) = http.ok(&path);
            rows = body["items"].as_array().map_or(0, Vec::len);
            times.push(t);
        }
        report(name, &mut times, rows);
    };

    repeat(&mut http, "list, first page (50), all apps", &mut |_| {
        "/otp/list".into()
    });
    repeat(&mut http, "list, first page (50), app=clinic", &mut |_| {
        "/otp/list?appid=clinic".into()
    });
    repeat(&mut http, "list, first page (500), app=shop", &mut |_| {
        "/otp/list?appid=shop&limit=500".into()
    });

    // Walk deep by cursor: every page timed, page n×k reached.
    let walk = |http: &mut Http, name: &str, base: &str| -> Vec<Value> {
        let mut times = Vec::new();
        let mut cursor: Option<String> = None;
        let mut last = Vec::new();
        for _ in 0..n {
            let path = match &cursor {
                Some(c) => format!("{base}&cursor={c}"),
                None => base.to_string(),
            };
            let (body, t) = http.ok(&path);
            times.push(t);
            last = body["items"].as_array().cloned().unwrap_or_default();
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let pages = times.len();
        report(
            &format!("{name}, pages 1..{pages} by cursor"),
            &mut times,
            last.len(),
        );
        last
    };
    let deep = walk(
        &mut http,
        "list app=shop limit=100",
        "/otp/list?appid=shop&limit=100",
    );
    walk(&mut http, "list all apps limit=50", "/otp/list?limit=50");
    walk(
        &mut http,
        "list status=failed app=bank",
        "/otp/list?appid=bank&status=failed",
    );
    walk(&mut http, "list status=expired", "/otp/list?status=expired");
    walk(&mut http, "list status=blocked", "/otp/list?status=blocked");
    let since = rfc3339(now_ms() - 10 * 86_400_000);
    let until = rfc3339(now_ms() - 9 * 86_400_000);
    walk(
        &mut http,
        "list app=ride one day 10 days ago",
        &format!("/otp/list?appid=ride&since={since}&until={until}"),
    );
    let ids: Vec<String> = deep
        .iter()
        .map(|v| v["verification_id"].as_str().unwrap().to_string())
        .collect();

    repeat(&mut http, "list recipient=R (random)", &mut |rng| {
        format!(
            "/otp/list?recipient={}",
            enc(&recipient_of(rng.below(recipients)))
        )
    });
    repeat(
        &mut http,
        "list recipient=R app=shop (random)",
        &mut |rng| {
            format!(
                "/otp/list?appid=shop&recipient={}",
                enc(&recipient_of(rng.below(recipients)))
            )
        },
    );
    repeat(&mut http, "logs, first page (50), app=bank", &mut |_| {
        "/otp/logs?appid=bank".into()
    });
    walk(
        &mut http,
        "logs app=game limit=100",
        "/otp/logs?appid=game&limit=100",
    );
    walk(&mut http, "logs all apps limit=50", "/otp/logs?limit=50");
    let mut k = 0;
    repeat(&mut http, "logs verification_id=V", &mut |_| {
        k += 1;
        format!("/otp/logs?verification_id={}", ids[k % ids.len()])
    });
    repeat(&mut http, "attempts verification_id=V", &mut |_| {
        k += 1;
        format!("/otp/attempts?verification_id={}", ids[k % ids.len()])
    });
    repeat(&mut http, "rate-limits recipient=R app=shop", &mut |rng| {
        format!(
            "/otp/rate-limits?appid=shop&recipient={}",
            enc(&recipient_of(rng.below(recipients)))
        )
    });

    let few = (n / 10).max(5);
    let reports = |http: &mut Http, name: &str, path: String| {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..few {
            let (body, t) = http.ok(&path);
            rows = body["items"].as_array().map_or(0, Vec::len);
            times.push(t);
        }
        report(name, &mut times, rows);
    };
    let day_ago = rfc3339(now_ms() - 86_400_000);
    let month_ago = rfc3339(now_ms() - 30 * 86_400_000);
    reports(
        &mut http,
        "reports last 24 h, group_by=channel",
        format!("/otp/reports?since={day_ago}&group_by=channel"),
    );
    reports(
        &mut http,
        "reports last 24 h, app=clinic",
        format!("/otp/reports?since={day_ago}&appid=clinic"),
    );
    reports(
        &mut http,
        "reports last 30 days, group_by=day",
        format!("/otp/reports?since={month_ago}&group_by=day"),
    );
    reports(
        &mut http,
        "reports last 30 days, app=shop, group_by=channel",
        format!("/otp/reports?since={month_ago}&appid=shop&group_by=channel"),
    );
}
