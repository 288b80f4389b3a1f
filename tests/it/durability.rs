//! Stops and restarts on the same data directory: a clean stop (SIGTERM) keeps pending
//! verifications and their codes; a SIGKILL in the middle of a burst of sends loses none
//! that was answered 201, and the next run delivers what the killed one had not.

use crate::client::{eventually, recipient};
use crate::support::{DEADLINE, Daemon, otpd, output_within_deadline};
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use tokio::sync::Notify;

const UNIX_ONLY: &str = "[api]\nlisten = []\n";

#[tokio::test]
async fn a_pending_verification_survives_a_clean_restart() {
    let mut d = Daemon::start(UNIX_ONLY);
    let to = recipient();
    let c = d.unix();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    c.wait_status(&id, "delivery delivered", |s| {
        s["delivery"]["state"] == "delivered"
    })
    .await;

    let exit = d.stop();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    assert!(!d.socket().exists(), "the socket file outlived the daemon");
    d.start_again();

    let c = d.unix();
    let status = c.status(&id).await;
    assert_eq!(status.body["status"], "pending", "{}", status.text);
    assert_eq!(status.body["sends"], 1);
    assert_eq!(status.body["delivery"]["state"], "delivered");
    // Nothing is sent again: the message had left before the stop.
    assert_eq!(d.count("outbox"), 0);
    let reply = c.verify(&id, &code).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
    assert_eq!(d.stop().code(), Some(0));
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_directory_refuses_to_start() {
    let d = Daemon::start(UNIX_ONLY);
    let out = output_within_deadline(
        otpd()
            .arg("serve")
            .arg("--config")
            .arg(d.config_path())
            .arg("--data-dir")
            .arg(d.data_dir()),
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // "another otpd is running on the data directory ...", or on its socket.
    assert!(stderr.contains("running"), "{stderr}");

    // The first one is unharmed and still serves on its socket.
    let c = d.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
}

#[test]
fn a_stop_does_not_wait_for_idle_clients() {
    let mut d = Daemon::start(UNIX_ONLY);
    // One client that never said anything, one idle between requests.
    let _silent = UnixStream::connect(d.socket()).unwrap();
    let mut idle = UnixStream::connect(d.socket()).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 12];
    idle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    let exit = d.stop();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}

#[test]
fn a_stop_does_not_wait_for_a_client_stalled_in_its_headers() {
    let mut d = Daemon::start("[api]\nlisten = [\"127.0.0.1:0\"]\n");
    let mut tcp = TcpStream::connect(d.tcp.unwrap()).unwrap();
    tcp.write_all(b"POST /otp/send HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut unix = UnixStream::connect(d.socket()).unwrap();
    unix.write_all(b"GET /otp/status?verification_id=x HTTP/1.1\r\n")
        .unwrap();
    // A later connection on each listener is answered, so both stalled ones were accepted.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for later in [d.tcp(), d.unix()] {
        let health = runtime.block_on(later.get("/healthz"));
        assert_eq!(health.status, 200);
    }

    let exit = d.stop();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
}

/// How far each accepted send had got when the daemon was killed, read from its database.
fn delivery_states(d: &Daemon, ids: &[String]) -> HashMap<String, String> {
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT delivery_state FROM verification WHERE id = ?1")
        .unwrap();
    ids.iter()
        .map(|id| {
            let state: String = stmt
                .query_row([id], |r| r.get(0))
                .unwrap_or_else(|e| panic!("accepted {id} is not in the database: {e}"));
            (id.clone(), state)
        })
        .collect()
}

/// Fires `n` concurrent sends (each to a new recipient) and returns once `first` of them have
/// been answered; the rest are still in flight. Each task gives its recipient and reply.
async fn sends_in_flight(
    c: &crate::client::Client,
    n: usize,
    first: usize,
) -> tokio::task::JoinSet<(String, Result<crate::client::Reply, String>)> {
    let answered = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, answered, progress) = (c.clone(), answered.clone(), progress.clone());
        tasks.spawn(async move {
            let to = recipient();
            let body = json!({ "recipient": to }).to_string().into_bytes();
            let reply = c
                .try_call("POST", "/otp/send", &[], Some(("application/json", body)))
                .await;
            answered.fetch_add(1, Ordering::SeqCst);
            progress.notify_one();
            (to, reply.map_err(|e| e.to_string()))
        });
    }
    tokio::time::timeout(DEADLINE, async {
        while answered.load(Ordering::SeqCst) < first {
            progress.notified().await;
        }
    })
    .await
    .expect("the first sends were not answered in time");
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sends_answered_before_a_kill_survive_it_and_are_delivered() {
    const SENDS: usize = 300;
    const KILL_AFTER: usize = 60;
    let mut d = Daemon::start(UNIX_ONLY);
    let c = d.unix();
    let mut tasks = sends_in_flight(&c, SENDS, KILL_AFTER).await;
    d.kill();

    let mut accepted: Vec<(String, String)> = Vec::new();
    let mut lost = 0;
    while let Some(done) = tasks.join_next().await {
        let (to, reply) = done.unwrap();
        match reply {
            Ok(reply) => {
                assert_eq!(reply.status, 201, "{}", reply.text);
                accepted.push((to, reply.str("verification_id").to_string()));
            }
            Err(_) => lost += 1,
        }
    }
    assert!(
        accepted.len() >= KILL_AFTER / 2,
        "{} accepted",
        accepted.len()
    );
    let ids: Vec<String> = accepted.iter().map(|(_, id)| id.clone()).collect();
    let at_kill = delivery_states(&d, &ids);
    let count = |state: &str| at_kill.values().filter(|s| *s == state).count();
    eprintln!(
        "kill -9: {} answered 201, {lost} cut off; at the kill {} queued, {} submitted, {} delivered",
        accepted.len(),
        count("queued"),
        count("submitted"),
        count("delivered"),
    );

    d.start_again();
    let c = d.unix();
    for (to, id) in &accepted {
        let status = c.status(id).await;
        assert_eq!(status.status, 200, "{id}: {}", status.text);
        assert_eq!(status.body["status"], "pending", "{id}: {}", status.text);
        match at_kill[id].as_str() {
            // Not yet handed to the channel: this run must deliver it, with a fresh code.
            "queued" => {
                c.wait_status(id, "delivery after the restart", |s| {
                    s["delivery"]["state"] == "delivered"
                })
                .await;
                assert_eq!(c.messages(to).await.len(), 1, "{to}");
            }
            // Delivered to the killed run's handset, which died with it.
            "delivered" => assert_eq!(status.body["delivery"]["state"], "delivered"),
            // Handed to the channel, whose delivery report died with the process.
            "submitted" => {
                let state = &status.body["delivery"]["state"];
                assert!(
                    state == "submitted" || state == "delivered",
                    "{id}: {state}"
                );
            }
            other => panic!("{id}: delivery state {other} at the kill"),
        }
    }
    // A code delivered by the new run works.
    if let Some((to, id)) = accepted.iter().find(|(_, id)| at_kill[id] == "queued") {
        let code = c.wait_code(to, 1).await;
        assert_eq!(c.verify(id, &code).await.body["valid"], true);
    }
    // Sends cut off before their answer may have been stored too; they go out as well.
    eventually("an empty outbox", || async {
        (d.count("outbox") == 0).then_some(())
    })
    .await;
    assert_eq!(d.stop().code(), Some(0));
}

#[test]
fn sigterm_stops_the_daemon_even_when_nobody_reads_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otpd.toml");
    std::fs::write(&config, UNIX_ONLY).unwrap();
    let mut child = otpd()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    // Reads up to "ready", then closes the pipe, as a log collector that died would.
    let (ready_tx, ready) = mpsc::channel();
    std::thread::spawn(move || {
        let seen = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("otpd is ready"));
        let _ = ready_tx.send(seen);
    });
    assert_eq!(ready.recv_timeout(DEADLINE), Ok(true), "otpd did not start");
    let (exit_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });

    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(sent.success(), "kill {name} {pid}");
    };
    signal("-TERM");
    match exited.recv_timeout(DEADLINE) {
        Ok(status) => assert_eq!(status.unwrap().code(), Some(0)),
        Err(_) => {
            signal("-KILL");
            panic!("otpd ignored SIGTERM once its stderr was closed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_sends_in_flight_loses_nothing_and_exits_0() {
    const SENDS: usize = 300;
    const STOP_AFTER: usize = 60;
    let mut d = Daemon::start(UNIX_ONLY);
    let c = d.unix();
    let mut tasks = sends_in_flight(&c, SENDS, STOP_AFTER).await;
    let (d, status) = tokio::task::spawn_blocking(move || {
        let status = d.stop();
        (d, status)
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut d = d;

    let mut accepted = Vec::new();
    while let Some(done) = tasks.join_next().await {
        // Requests refused because the listener had closed were never accepted.
        if let (_, Ok(reply)) = done.unwrap()
            && reply.status == 201
        {
            accepted.push(reply.str("verification_id").to_string());
        }
    }
    assert!(accepted.len() >= STOP_AFTER, "{} accepted", accepted.len());
    d.start_again();
    let c = d.unix();
    for id in &accepted {
        c.wait_status(id, "delivered after the restart", |s| {
            s["delivery"]["state"] == "delivered"
        })
        .await;
    }
}
