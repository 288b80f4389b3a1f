//! Load generator for otpd's HTTP API (HTTP/1.1 + JSON over TCP).
//!
//! It opens `--connections` keep-alive connections (one task each, `TCP_NODELAY`,
//! reconnecting when one dies) and measures, with every request's latency:
//! * send: for `--seconds`, every connection loops `POST /otp/send`, each time to
//!   a new recipient; it reports the 201s per second.
//! * verify: in rounds, it makes `--verifications` sends and waits until the
//!   simulated handset (`GET /sim/messages`) has each code (both untimed), then
//!   times `POST /otp/verify` over them: one wrong code (last digit changed), then
//!   the right one, which must come back `valid: true`. Rounds repeat until
//!   `--seconds` of timed verify work has passed.
//!
//! * floor (only when asked for with `--phase floor`): for `--seconds`, every connection
//!   loops `GET /healthz`, which touches neither the store nor the engine: the most
//!   requests per second this machine's loopback HTTP allows otpd and this client, the
//!   ceiling under the send and verify figures.
//!
//! Recipients are Tanzanian mobile numbers: +255712000000 onwards, then +255713...,
//! +255714..., +255715..., +255716..., +255754..., +255755..., +255765..., then the other
//! operator prefixes, from index `--seed` (default from the clock, so that reruns on
//! one database do not collide). Run it against a daemon with the simulated handset:
//!
//! ```text
//! OTPD_BENCH_KEY=... OTPD_BENCH_SECRET=... cargo run --release --example bench -- \
//!     --url http://127.0.0.1:8800 --connections 64 --seconds 10 --phase both
//! ```
//!
//! It prints a config line, then one line per phase, ready to paste in a README. It
//! exits non-zero if any request failed or a verification was not approved.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Load generator for otpd's HTTP API.
#[derive(Parser, Debug, Clone)]
struct Args {
    /// Base URL of the daemon (plain http over TCP).
    #[arg(long, default_value = "http://127.0.0.1:8800")]
    url: String,
    /// API key, sent as X-API-Key.
    #[arg(long, env = "OTPD_BENCH_KEY")]
    key: String,
    /// API secret, sent as X-API-Secret.
    #[arg(long, env = "OTPD_BENCH_SECRET", hide_env_values = true)]
    secret: String,
    /// Concurrent keep-alive HTTP/1.1 connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of timed work per phase.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Which phases to run.
    #[arg(long, value_enum, default_value_t = Phase::Both)]
    phase: Phase,
    /// Verifications per verify round.
    #[arg(long, default_value_t = 5000)]
    verifications: usize,
    /// Index of the first recipient number [default: from the clock].
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    Send,
    Verify,
    Both,
    /// `GET /healthz` only: the HTTP ceiling, no work behind it.
    Floor,
}

const FIRST_PREFIXES: [u64; 8] = [712, 713, 714, 715, 716, 754, 755, 765];
/// Two-digit operator ranges after +255 (Halotel, Tigo, Airtel, TTCL, Vodacom, Zantel).
const RANGES: [u64; 13] = [61, 62, 65, 67, 68, 69, 71, 73, 74, 75, 76, 77, 78];
/// How many numbers the generator has: 130 prefixes of 1,000,000.
const SPACE: u64 = 130_000_000;

/// The `index`-th recipient number, wrapping around after `SPACE`.
fn recipient_number(index: u64) -> String {
    let (i, n) = (index % SPACE, index % 1_000_000);
    let rest = RANGES.iter().flat_map(|r| (0..10).map(move |d| r * 10 + d));
    let rest = rest.filter(|p| !FIRST_PREFIXES.contains(p));
    let prefix = FIRST_PREFIXES
        .into_iter()
        .chain(rest)
        .nth((i / 1_000_000) as usize);
    format!("+255{}{n:06}", prefix.unwrap_or(712))
}

/// The code in a message: its first run of 4 to 10 consecutive digits.
fn extract_code(text: &str) -> Option<&str> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| (4..=10).contains(&run.len()))
}

/// `code` with its last digit changed, so surely wrong.
fn wrong_code(code: &str) -> String {
    let mut s = code.to_string();
    let last = s.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    s.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    s
}

type Pair = (String, String);
type Lat<'a> = Option<&'a mut Vec<u32>>;
type Res<T> = Result<T, String>;
type Outputs = Result<(Vec<Pair>, Tally), BoxError>;

struct Target {
    addr: String,
    authority: String,
    base: String,
    key: String,
    secret: String,
    next_recipient: AtomicU64,
}

/// One keep-alive connection, re-established when it dies.
struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    async fn ensure_connected(&mut self) -> Result<(), BoxError> {
        if let Some(s) = self.sender.as_mut() {
            if s.ready().await.is_ok() {
                return Ok(());
            }
            self.sender = None;
        }
        let stream = TcpStream::connect(&self.target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        self.sender = Some(sender);
        Ok(())
    }

    /// One request to `base + path`, a POST if there is a body; expects the API's
    /// success status and a JSON answer. Pushes the latency (µs) to `lat`.
    async fn api(&mut self, path: &str, body: Option<Value>, lat: Lat<'_>) -> Res<Value> {
        let (t0, t) = (Instant::now(), self.target.clone());
        let method = body.as_ref().map_or(Method::GET, |_| Method::POST);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let want = if path == "/otp/send" { 201 } else { 200 };
        let path = format!("{}{path}", t.base);
        if let Err(e) = self.ensure_connected().await {
            tokio::time::sleep(Duration::from_millis(20)).await; // no hot loop while down
            return Err(format!("connect {}: {e}", t.addr));
        }
        let req = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::HOST, &t.authority)
            .header("x-api-key", &t.key)
            .header("x-api-secret", &t.secret)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{path}: {e}"))?;
        let sender = self.sender.as_mut().ok_or("not connected")?;
        let res: Result<_, BoxError> = async {
            let res = sender.send_request(req).await?;
            Ok((res.status(), res.into_body().collect().await?.to_bytes()))
        }
        .await;
        let (status, bytes) = res.map_err(|e| {
            self.sender = None;
            format!("{path}: {e}")
        })?;
        if let Some(l) = lat {
            l.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
        }
        let text = String::from_utf8_lossy(&bytes);
        match serde_json::from_slice(&bytes) {
            Ok(v) if status == want => Ok(v),
            _ => Err(format!("{path}: HTTP {status}: {text}")),
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    errors: u64,
    approved: u64,
    incorrect: u64,
    other: u64,
    /// Verifications whose right code was not approved.
    unapproved: u64,
    lat_us: Vec<u32>,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
    fn merge(&mut self, o: Tally) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.approved += o.approved;
        self.incorrect += o.incorrect;
        self.other += o.other;
        self.unapproved += o.unapproved;
        self.lat_us.extend(o.lat_us);
        self.first_error = self.first_error.take().or(o.first_error);
    }
    /// `COUNT, E errors in S s = R /s, p50 .. ms, p99 .. ms[, max .. ms]`
    fn figures(&mut self, count: String, elapsed: Duration, with_max: bool) -> String {
        self.lat_us.sort_unstable();
        let lat = &self.lat_us;
        let at = |p: f64| {
            let i = (p * lat.len().saturating_sub(1) as f64).round() as usize;
            f64::from(lat.get(i).copied().unwrap_or(0)) / 1000.0
        };
        let (p50, p99) = (at(0.5), at(0.99));
        let (e, secs) = (self.errors, elapsed.as_secs_f64().max(1e-9));
        let rate = self.ok as f64 / secs;
        let mut s = format!("{count}, {e} errors in {secs:.2} s = {rate:.0} /s, p50 {p50:.2} ms");
        s += &format!(", p99 {p99:.2} ms");
        if with_max {
            s += &format!(", max {:.1} ms", at(1.0));
        }
        s
    }
}

/// What a connection task does with one item of work.
enum Job {
    /// Timed sends until the deadline.
    SendUntil(Instant),
    /// Timed `GET /healthz` until the deadline.
    HealthUntil(Instant),
    /// An untimed send, giving (recipient, verification_id).
    Send,
    /// Polls the handset of (recipient, verification_id), giving (verification_id, code).
    Poll(String, String),
    /// Timed: the wrong code, then the right one, for (verification_id, code).
    Verify(String, String),
}

async fn work(c: &mut Conn, job: &Job, t: &mut Tally) -> Option<Pair> {
    let r = match job {
        Job::SendUntil(deadline) => {
            while Instant::now() < *deadline {
                match send(c, Some(&mut t.lat_us)).await {
                    Ok(_) => t.ok += 1,
                    Err(e) => t.error(e),
                }
            }
            return None;
        }
        Job::HealthUntil(deadline) => {
            while Instant::now() < *deadline {
                match c.api("/healthz", None, Some(&mut t.lat_us)).await {
                    Ok(_) => t.ok += 1,
                    Err(e) => t.error(e),
                }
            }
            return None;
        }
        Job::Send => send(c, None).await,
        Job::Poll(to, id) => poll(c, to).await.map(|code| (id.clone(), code)),
        Job::Verify(id, code) => {
            let wrong = verify(c, id, &wrong_code(code), t).await;
            let right = verify(c, id, code, t).await;
            t.unapproved += u64::from(right != Ok(true));
            let errors = [wrong, right].into_iter().filter_map(Result::err);
            errors.for_each(|e| t.error(e));
            return None;
        }
    };
    r.map_err(|e| t.error(e)).ok()
}

async fn send(c: &mut Conn, lat: Lat<'_>) -> Res<Pair> {
    let to = recipient_number(c.target.next_recipient.fetch_add(1, Relaxed));
    let body = json!({ "recipient": to });
    let v = c.api("/otp/send", Some(body), lat).await?;
    match v.get("verification_id").and_then(Value::as_str) {
        Some(id) => Ok((to, id.to_string())),
        None => Err(format!("/otp/send: no verification_id in {v}")),
    }
}

/// The code in the latest message of a `/sim/messages` answer.
fn latest_code(v: &Value) -> Option<&str> {
    let mut messages = v.get("messages")?.as_array()?.iter().rev();
    messages.find_map(|m| extract_code(m.get("text")?.as_str()?))
}

/// Polls the simulated handset until it has a code for `to` (10 s at most).
async fn poll(c: &mut Conn, to: &str) -> Res<String> {
    let path = format!("/sim/messages?recipient={}", to.replace('+', "%2B"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = c.api(&path, None, None).await?;
        if let Some(code) = latest_code(&v) {
            return Ok(code.to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("{to}: no code on the sim handset in 10 s: {v}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One timed verify, counted in `t`; whether it was approved.
async fn verify(c: &mut Conn, id: &str, code: &str, t: &mut Tally) -> Res<bool> {
    let body = json!({ "verification_id": id, "otp_code": code });
    let lat = Some(&mut t.lat_us);
    let v = c.api("/otp/verify", Some(body), lat).await?;
    let is = |k: &str, want: Value| v.get(k) == Some(&want);
    let approved = is("valid", json!(true)) && is("status", json!("approved"));
    let incorrect = is("valid", json!(false)) && is("reason", json!("incorrect_code"));
    t.ok += 1;
    t.approved += u64::from(approved);
    t.incorrect += u64::from(incorrect);
    t.other += u64::from(!approved && !incorrect);
    Ok(approved)
}

/// Runs `jobs` on up to `width` connections, one task each, and gives the
/// connections back; returns what the jobs produced, and their tally.
async fn each(conns: &mut Vec<Conn>, width: usize, jobs: Vec<Job>) -> Outputs {
    let (jobs, next) = (Arc::new(jobs), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for mut c in conns.drain(..width.min(conns.len())) {
        let (jobs, next) = (jobs.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut t, mut out) = (Tally::default(), Vec::new());
            while let Some(job) = jobs.get(next.fetch_add(1, Relaxed)) {
                out.extend(work(&mut c, job, &mut t).await);
            }
            (c, out, t)
        }));
    }
    let (mut out, mut tally) = (Vec::new(), Tally::default());
    for task in tasks {
        let (c, o, t) = task.await?;
        conns.push(c);
        out.extend(o);
        tally.merge(t);
    }
    Ok((out, tally))
}

#[derive(Default, Debug)]
struct Summary {
    send: Tally,
    verify: Tally,
    /// The untimed sends and polls of the verify rounds.
    setup: Tally,
}

impl Summary {
    fn ok(&self) -> bool {
        self.send.errors + self.verify.errors + self.setup.errors + self.verify.unapproved == 0
    }
}

async fn run(args: Args) -> Result<Summary, BoxError> {
    let dur = Duration::try_from_secs_f64(args.seconds).unwrap_or_default();
    if dur.is_zero() || args.connections == 0 || args.verifications == 0 {
        return Err("--seconds, --connections and --verifications must be positive".into());
    }
    let uri: hyper::Uri = args.url.parse()?;
    let auth = uri.authority().filter(|_| uri.scheme_str() == Some("http"));
    let auth = auth.ok_or("--url must be http://HOST[:PORT]")?;
    // Runs started >= 1 s apart do not overlap below 50,000 sends/s (for 43 minutes).
    let clock = UNIX_EPOCH.elapsed().map_or(0, |d| d.as_secs());
    let seed = args.seed.unwrap_or(clock.wrapping_mul(50_000) % SPACE);
    let target = Arc::new(Target {
        addr: format!("{}:{}", auth.host(), auth.port_u16().unwrap_or(80)),
        authority: auth.to_string(),
        base: uri.path().trim_end_matches('/').to_string(),
        key: args.key,
        secret: args.secret,
        next_recipient: AtomicU64::new(seed),
    });
    let (url, n, phase) = (&args.url, args.connections, args.phase);
    let (secs, per_round) = (args.seconds, args.verifications);
    print!("bench: url {url}, {n} connections, {secs} s, phase {phase:?}, ");
    println!("{per_round} verifications per round, seed {seed}");
    let mut conns = Vec::new();
    for _ in 0..n {
        let (target, sender) = (target.clone(), None);
        let mut c = Conn { target, sender };
        let err = |e| format!("cannot connect to {url}: {e}");
        c.ensure_connected().await.map_err(err)?;
        conns.push(c);
    }
    let mut s = Summary::default();
    if phase == Phase::Floor {
        let start = Instant::now();
        let jobs = (0..n).map(|_| Job::HealthUntil(start + dur)).collect();
        s.send = each(&mut conns, n, jobs).await?.1;
        let count = format!("{} ok", s.send.ok);
        println!(
            "floor (GET /healthz): {}",
            s.send.figures(count, start.elapsed(), true)
        );
        return Ok(s);
    }
    if phase != Phase::Verify {
        let start = Instant::now();
        let jobs = (0..n).map(|_| Job::SendUntil(start + dur)).collect();
        s.send = each(&mut conns, n, jobs).await?.1;
        let count = format!("{} ok", s.send.ok);
        println!("send: {}", s.send.figures(count, start.elapsed(), true));
    }
    let (mut round, mut timed) = (0, Duration::ZERO);
    while phase != Phase::Send && timed < dur {
        round += 1;
        let jobs = (0..args.verifications).map(|_| Job::Send).collect();
        let (sent, t) = each(&mut conns, n, jobs).await?;
        s.setup.merge(t);
        let jobs = sent.into_iter().map(|(to, id)| Job::Poll(to, id)).collect();
        let (codes, t) = each(&mut conns, 8, jobs).await?;
        s.setup.merge(t);
        if codes.is_empty() {
            let e = format!("verify round {round}: could not set up any verification");
            s.setup.error(e);
            break;
        }
        let (total, start) = (codes.len() as u64, Instant::now());
        let jobs = codes.into_iter().map(|(i, c)| Job::Verify(i, c)).collect();
        let (_, t) = each(&mut conns, n, jobs).await?;
        timed += start.elapsed();
        if t.unapproved > 0 {
            let ok = total - t.unapproved;
            println!("verify round {round}: only {ok} of {total} verifications approved");
        }
        s.verify.merge(t);
    }
    if phase != Phase::Send {
        let v = &s.verify;
        let (a, i, o) = (v.approved, v.incorrect, v.other);
        let count = format!("{} ok ({a} approved, {i} incorrect_code, {o} other)", v.ok);
        println!("verify: {}", s.verify.figures(count, timed, false));
        let e = s.setup.errors;
        println!("verify setup (untimed sends and polls): {round} rounds, {e} errors");
    }
    for (name, t) in [
        ("send", &s.send),
        ("verify", &s.verify),
        ("setup", &s.setup),
    ] {
        if let Some(e) = &t.first_error {
            println!("{name}: first error: {e}");
        }
    }
    Ok(s)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(s) if s.ok() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A fake daemon: sends so far, vid -> code, recipient -> (text, polls before it shows).
    #[derive(Default)]
    struct Fake(u64, HashMap<String, String>, HashMap<String, (String, u8)>);

    /// Key "k" is honest; key "broken" never approves. Some codes arrive late.
    fn route(fake: &Mutex<Fake>, head: &str, body: &[u8]) -> (u16, Value) {
        let Ok(mut f) = fake.lock() else {
            return (500, json!({}));
        };
        let Fake(n, codes, inbox) = &mut *f;
        let req: Value = serde_json::from_slice(body).unwrap_or_default();
        let arg = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let line = head.lines().next().unwrap_or("");
        let key = head.lines().find_map(|l| l.strip_prefix("x-api-key: "));
        let empty = json!({ "messages": [] });
        if !head.contains("\r\nx-api-secret: s") || !matches!(key, Some("k" | "broken")) {
            (401, json!({ "error": "unauthorized" }))
        } else if line.starts_with("POST /otp/send ") {
            let to = arg("recipient");
            if to.len() != 13 || !to.starts_with("+255") || inbox.contains_key(&to) {
                return (400, json!({ "error": format!("bad/reused {to}") }));
            }
            *n += 1;
            let (id, code) = (format!("v{n}"), format!("{:06}", *n * 7919 % 1_000_000));
            let text = format!("Your otpd code is {code}. It expires in 5 min.");
            inbox.insert(to, (text, u8::from(*n % 5 == 0)));
            codes.insert(id.clone(), code);
            (201, json!({ "verification_id": id, "status": "pending" }))
        } else if let Some(q) = line.strip_prefix("GET /sim/messages?recipient=%2B") {
            let to = format!("+{}", q.split(' ').next().unwrap_or(""));
            match inbox.get_mut(&to) {
                Some((text, 0)) => (200, json!({ "messages": [{ "text": text }] })),
                Some((_, late)) => {
                    *late -= 1;
                    (200, empty)
                }
                None => (200, empty),
            }
        } else if line.starts_with("POST /otp/verify ") {
            let right = codes.get(&arg("verification_id")) == Some(&arg("otp_code"));
            match (right, key) {
                (true, Some("k")) => (200, json!({ "valid": true, "status": "approved" })),
                (true, _) => (200, json!({ "valid": false, "status": "expired" })),
                _ => (200, json!({ "valid": false, "reason": "incorrect_code" })),
            }
        } else {
            (404, json!({ "error": "not found" }))
        }
    }

    /// Crude HTTP/1.1: one request at a time, keep-alive, Content-Length bodies.
    async fn serve(mut s: TcpStream, fake: Arc<Mutex<Fake>>) -> Result<(), BoxError> {
        let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
        loop {
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
            let head = String::from_utf8_lossy(buf.get(..end.unwrap_or(0)).unwrap_or_default());
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "));
            let total = end.map(|e| e + 4 + len.and_then(|l| l.parse().ok()).unwrap_or(0));
            if let Some(body) = total.and_then(|t| buf.get(end.unwrap_or(0) + 4..t)) {
                let (status, json) = route(&fake, &head, body);
                let json = json.to_string();
                let len = json.len();
                let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: {len}\r\n\r\n{json}");
                s.write_all(resp.as_bytes()).await?;
                buf.drain(..total.unwrap_or(0));
                continue;
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    async fn fake_daemon() -> Result<String, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (url, fake) = (format!("http://{}", listener.local_addr()?), Arc::default());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, Arc::clone(&fake)));
            }
        });
        Ok(url)
    }

    fn args(url: &str, key: &str) -> Result<Args, clap::Error> {
        let more = "--secret s --connections 4 --seconds 0.2 --verifications 300 --seed 999900";
        let argv = ["bench", "--url", url, "--key", key].into_iter();
        Args::try_parse_from(argv.chain(more.split(' ')))
    }

    #[test]
    fn extracts_codes() {
        let msg = |text: &str| json!({ "messages": [{ "text": "old 1111" }, { "text": text }] });
        let text = "Your otpd code is 123456. It expires in 5 min.";
        assert_eq!(latest_code(&msg(text)), Some("123456"));
        assert_eq!(latest_code(&msg("No code, 5 min")), Some("1111"));
        assert_eq!(latest_code(&json!({ "messages": [] })), None);
        assert_eq!(extract_code("ref 12345678901, code 0042"), Some("0042"));
        assert_eq!(extract_code("msimbo:9876543210"), Some("9876543210"));
        assert_eq!(extract_code("12 345 ٤٥٦٧"), None);
        assert_eq!([wrong_code("123456"), wrong_code("09")], ["123457", "00"]);
    }

    #[test]
    fn recipients_are_distinct_valid_numbers() {
        let per_prefix = (0..SPACE / 1_000_000).map(|p| p * 1_000_000 + 500_000);
        let all: Vec<_> = (999_000..1_001_000)
            .chain(per_prefix)
            .map(recipient_number)
            .collect();
        let digits = |r: &String| r.chars().skip(1).all(|c| c.is_ascii_digit());
        let mobile = |r: &String| r.starts_with("+2556") || r.starts_with("+2557");
        assert!(all.iter().all(|r| r.len() == 13 && digits(r) && mobile(r)));
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        assert_eq!(recipient_number(0), "+255712000000");
        assert_eq!(recipient_number(5_000_042), "+255754000042");
        assert_eq!(recipient_number(7_999_999), "+255765999999");
        assert_eq!(recipient_number(SPACE + 3), recipient_number(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn end_to_end_against_fake_daemon() -> Result<(), BoxError> {
        let s = run(args(&fake_daemon().await?, "k")?).await?;
        assert!(s.ok(), "{:?} {:?}", s.send.first_error, s.setup.first_error);
        assert!(s.send.ok > 50 && s.send.lat_us.len() as u64 == s.send.ok);
        let v = &s.verify;
        assert!(v.approved >= 300 && v.approved == v.incorrect && v.other == 0);
        assert!(v.ok == 2 * v.approved && v.lat_us.len() as u64 == v.ok);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_reported() -> Result<(), BoxError> {
        let s = run(args(&fake_daemon().await?, "wrong")?).await?;
        assert!(!s.ok() && s.send.ok == 0 && s.send.errors > 0 && s.setup.errors > 0);
        assert!(s.send.first_error.unwrap_or_default().contains("HTTP 401"));
        let s = run(args(&fake_daemon().await?, "broken")?).await?;
        assert!(!s.ok() && s.setup.errors == 0 && s.verify.unapproved > 0);
        assert!(s.verify.approved == 0 && s.verify.other == s.verify.incorrect);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", closed.local_addr()?);
        drop(closed);
        assert!(run(args(&url, "k")?).await.is_err());
        Ok(())
    }
}
