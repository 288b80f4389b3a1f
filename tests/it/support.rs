//! The daemon harness: runs the real `otpd` binary as a child process on a temporary data
//! directory, keeps its JSON log lines in memory, and waits for lines with a deadline.
//!
//! ```text
//!   Daemon::start(config) ──spawn──▶ otpd serve --log-format json
//!         │                               │ stderr
//!         │                    reader thread ──▶ Log { lines, closed } + Condvar
//!         └── wait_for("otpd is ready") ◀── notify on every line and at EOF
//!   stop(): SIGTERM, wait for EOF (the process has gone), exit status
//!   kill(): SIGKILL, likewise          start_again(): same directory, same config
//! ```
//!
//! Most tests share one daemon ([`shared`]); it lives while any test holds it and is
//! killed when the last one lets go, so no process outlives the test binary.

use crate::client::Client;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long any wait in these tests may take before it counts as a failure. Generous: a
/// loaded CI machine with a debug build is slow, and a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The config of the shared daemon: a free TCP port, the built-in sim channel, and a long
/// resend cooldown so that "too soon" is certain.
pub const SHARED_CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[otp]
resend_cooldown = "1h"
"#;

pub fn otpd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otpd"));
    cmd.env_remove("OTPD_LOG")
        .env_remove("OTPD_SOCKET")
        .env_remove("STATE_DIRECTORY");
    cmd
}

/// Runs a command that must end by itself, with its output captured; kills it and panics if
/// it is still running after [`DEADLINE`].
pub fn output_within_deadline(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("{cmd:?} was still running after {DEADLINE:?}");
        }
    }
}

/// The log of a daemon across all its runs, one JSON object a line.
#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    /// The current run's stderr has reached EOF: the process has exited.
    closed: bool,
}

#[derive(Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

impl Log {
    /// The state, even after a test panicked while holding it.
    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `pred` holds for the state, or panics after [`DEADLINE`].
    fn wait<T>(&self, what: &str, mut pred: impl FnMut(&LogState) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        let mut state = self.lock();
        loop {
            if let Some(found) = pred(&state) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; log so far:\n{}",
                state.lines.join("\n")
            );
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

pub struct Daemon {
    /// Holds the config and the data directory; removed when the daemon is dropped.
    root: tempfile::TempDir,
    child: Option<Child>,
    log: Arc<Log>,
    /// Index of the first log line of the current run.
    run_start: usize,
    pub tcp: Option<SocketAddr>,
    /// Extra environment of every run.
    env: Vec<(String, String)>,
    /// A program (and its arguments) that runs `otpd` for the next runs, e.g. `prlimit`.
    launcher: Vec<String>,
}

impl Daemon {
    /// Starts a daemon with `config` (TOML) on a fresh data directory and waits until it is
    /// ready.
    pub fn start(config: &str) -> Daemon {
        Daemon::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Daemon {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("otpd.toml"), config).unwrap();
        let mut daemon = Daemon {
            root,
            child: None,
            log: Arc::default(),
            run_start: 0,
            tcp: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            launcher: Vec::new(),
        };
        daemon.start_again();
        daemon
    }

    /// Starts the daemon (again) on the same data directory and config, and waits until the
    /// new run says it is ready.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the daemon is still running");
        let mut cmd = otpd();
        if let Some((program, args)) = self.launcher.split_first() {
            let mut wrapped = Command::new(program);
            wrapped.args(args).arg(cmd.get_program());
            // The same environment as otpd() gives: the removals carry through the exec.
            for (key, _) in cmd.get_envs() {
                wrapped.env_remove(key);
            }
            cmd = wrapped;
        }
        cmd.arg("serve")
            .arg("--config")
            .arg(self.config_path())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["--log-format", "json"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        {
            let mut state = self.log.lock();
            state.closed = false;
            self.run_start = state.lines.len();
        }
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().lines.push(line);
                log.changed.notify_all();
            }
            log.lock().closed = true;
            log.changed.notify_all();
        });
        self.child = Some(child);
        let start = self.run_start;
        self.log.wait("\"otpd is ready\"", |s| {
            assert!(
                !s.closed,
                "otpd exited before it was ready:\n{}",
                s.lines.get(start..).unwrap_or_default().join("\n")
            );
            s.lines
                .get(start..)
                .unwrap_or_default()
                .iter()
                .any(|l| message(l).is_some_and(|m| m == "otpd is ready"))
                .then_some(())
        });
        self.tcp = self.log_lines_of_run().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let m = v.get("message")?.as_str()?;
            m.starts_with("listening on TCP")
                .then(|| v.get("addr")?.as_str()?.parse().ok())?
        });
    }

    /// Runs the next starts through `launcher` (program and arguments, before otpd's path);
    /// empty to run otpd directly again. The launcher must `exec` otpd, so that the process
    /// the harness signals is otpd itself.
    pub fn set_launcher(&mut self, launcher: &[&str]) {
        self.launcher = launcher.iter().map(|s| s.to_string()).collect();
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.path().join("otpd.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn socket(&self) -> PathBuf {
        self.data_dir().join("otpd.sock")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("otpd.db")
    }

    /// A client on the Unix socket (trusted, no key).
    pub fn unix(&self) -> Client {
        Client::unix(self.socket())
    }

    /// A client on the TCP listener, without a key.
    pub fn tcp(&self) -> Client {
        Client::tcp(self.tcp.expect("this daemon has no TCP listener"))
    }

    /// Creates an API key of `appid` with `otpd key create`; returns (key, secret).
    pub fn create_key(&self, appid: &str) -> (String, String) {
        let out = otpd()
            .args(["key", "create", "--appid", appid, "--data-dir"])
            .arg(self.data_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "key create: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["appid"], appid);
        (
            v["api_key"].as_str().unwrap().to_string(),
            v["api_secret"].as_str().unwrap().to_string(),
        )
    }

    pub fn revoke_key(&self, key: &str) {
        let out = otpd()
            .args(["key", "revoke", key, "--data-dir"])
            .arg(self.data_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "key revoke: {out:?}");
    }

    /// A read-only connection to the daemon's database.
    pub fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn
    }

    /// `SELECT count(*) FROM table` on a read-only connection.
    pub fn count(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Waits for a log line of the current run whose message is `what`; returns it parsed.
    pub fn wait_log(&self, what: &str) -> Value {
        let start = self.run_start;
        self.log.wait(&format!("{what:?} in the log"), |s| {
            s.lines
                .get(start..)
                .unwrap_or_default()
                .iter()
                .find_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    (v.get("message")?.as_str()? == what).then_some(v)
                })
        })
    }

    /// Every log line of every run so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().lines.clone()
    }

    fn log_lines_of_run(&self) -> Vec<String> {
        let lines = self.log_lines();
        lines.get(self.run_start..).unwrap_or_default().to_vec()
    }

    /// SIGTERM, then waits for the process to exit; returns its exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.as_ref().expect("not running").id();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        self.wait_exit()
    }

    /// Sends a signal (e.g. "HUP") to the running daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("not running").id();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {pid}");
    }

    /// SIGKILL, then waits for the process to exit.
    pub fn kill(&mut self) {
        self.child.as_mut().expect("not running").kill().unwrap();
        self.wait_exit();
    }

    /// Waits for the end of stderr (the process is gone), then reaps it.
    fn wait_exit(&mut self) -> ExitStatus {
        self.log.wait("otpd to exit", |s| s.closed.then_some(()));
        self.child.take().unwrap().wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `message` of a JSON log line.
pub fn message(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    Some(v.get("message")?.as_str()?.to_string())
}

static SHARED: Mutex<Weak<Daemon>> = Mutex::new(Weak::new());

/// The daemon most tests share (config [`SHARED_CONFIG`]). Tests must keep to their own
/// recipients (see [`crate::client::recipient`]) since a send cancels the recipient's
/// pending verification.
pub fn shared() -> Arc<Daemon> {
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(daemon) = slot.upgrade() {
        return daemon;
    }
    let daemon = Arc::new(Daemon::start(SHARED_CONFIG));
    *slot = Arc::downgrade(&daemon);
    daemon
}
