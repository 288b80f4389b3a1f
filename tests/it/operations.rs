//! Operations: systemd notifications, and backup and restore while the daemon runs.

use crate::client::{Client, recipient};
use crate::support::{Daemon, otpd, output_within_deadline};
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn next_datagram(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("no notification from otpd within the deadline");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn ready_and_stopping_reach_the_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut daemon = Daemon::start_with_env(
        "[api]\nlisten = []\n",
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    let first = next_datagram(&socket);
    assert!(first.contains("READY=1"), "{first}");
    assert!(daemon.stop().success());
    let mut seen = String::new();
    while !seen.contains("STOPPING=1") {
        seen.push_str(&next_datagram(&socket));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_with_the_pepper() {
    let mut daemon = Daemon::start("[api]\nlisten = []\n");
    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    // Until its submit is recorded, a message is still in the outbox, and a restored copy
    // would (rightly) send it again with a fresh code.
    c.wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;

    // Sends keep coming while the backup is taken.
    let load = {
        let c = c.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                c.send_ok(json!({ "recipient": recipient() })).await;
            }
        })
    };
    let backup = daemon.root().join("backup.db");
    let out = output_within_deadline(
        otpd()
            .arg("backup")
            .arg("--data-dir")
            .arg(daemon.data_dir())
            .arg(&backup),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    load.await.unwrap();
    let copy = rusqlite::Connection::open(&backup).unwrap();
    let ok: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let found: i64 = copy
        .query_row(
            "SELECT count(*) FROM verification WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 1);
    drop(copy);
    assert!(daemon.stop().success());

    // Restore: the backup as otpd.db, with the pepper kept beside it: the code still works.
    let restored = Daemon::start("[api]\nlisten = []\n");
    let mut restored = restored;
    assert!(restored.stop().success());
    std::fs::copy(&backup, restored.data_dir().join("otpd.db")).unwrap();
    for f in ["otpd.db-wal", "otpd.db-shm"] {
        let _ = std::fs::remove_file(restored.data_dir().join(f));
    }
    std::fs::copy(
        daemon.data_dir().join("pepper"),
        restored.data_dir().join("pepper"),
    )
    .unwrap();
    restored.start_again();
    let r = restored.unix();
    assert_eq!(r.status(&id).await.body["status"], "pending");
    let reply = r.verify(&id, &code).await;
    assert_eq!(reply.body["valid"], true, "{}", reply.text);
    check_without_pepper(&backup, &id, &code).await;
}

/// Restored without its pepper, the same code no longer verifies: the pepper must be kept.
async fn check_without_pepper(backup: &std::path::Path, id: &str, code: &str) {
    let mut other = Daemon::start("[api]\nlisten = []\n");
    assert!(other.stop().success());
    std::fs::copy(backup, other.data_dir().join("otpd.db")).unwrap();
    for f in ["otpd.db-wal", "otpd.db-shm"] {
        let _ = std::fs::remove_file(other.data_dir().join(f));
    }
    other.start_again();
    let c: Client = other.unix();
    let reply = c.verify(id, code).await;
    assert_eq!(reply.body["reason"], "incorrect_code", "{}", reply.text);
}

#[test]
fn the_systemd_unit_is_rated_2_or_better_by_systemd_analyze() {
    let unit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/otpd.service");
    let out = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian package systemd) is needed to rate the unit");
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for otpd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no rating in: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(level <= 2.0, "exposure {level}");
}

#[tokio::test]
async fn metrics_count_sends_verifies_and_deliveries_without_a_key() {
    let daemon = Daemon::start("[api]\nlisten = [\"127.0.0.1:0\"]\n");
    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    c.wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
    assert_eq!(
        c.verify(&id, &crate::client::wrong(&code)).await.status,
        200
    );
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);

    // On TCP, with no key.
    let reply = daemon.tcp().get("/metrics").await;
    assert_eq!(reply.status, 200);
    let text = &reply.text;
    for line in [
        "otpd_sends_total{outcome=\"accepted\"} 1",
        "otpd_verifies_total{outcome=\"incorrect_code\"} 1",
        "otpd_verifies_total{outcome=\"approved\"} 1",
        "otpd_deliveries_total{channel=\"sim\",state=\"submitted\"} 1",
        "otpd_deliveries_total{channel=\"sim\",state=\"delivered\"} 1",
        "otpd_channel_up{channel=\"sim\"} 1",
        "otpd_outbox_depth 0",
        "otpd_verify_duration_seconds_count 2",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(!text.contains(&code), "a code in the metrics");
}

#[tokio::test]
async fn socket_activation_serves_on_the_socket_systemd_passes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("otpd.toml");
    // No TCP listener of its own: only the passed socket can answer on TCP.
    std::fs::write(&config, "[api]\nlisten = []\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut activator = std::process::Command::new("systemd-socket-activate")
        .args(["-l", &format!("127.0.0.1:{port}")])
        .arg(env!("CARGO_BIN_EXE_otpd"))
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd) is needed");
    let c = Client::tcp(format!("127.0.0.1:{port}").parse().unwrap());
    // The first connection starts otpd, which then answers on the very same socket.
    let health = crate::client::eventually("otpd started by socket activation", || async {
        match c.try_call("GET", "/healthz", &[], None).await {
            Ok(reply) if reply.status == 200 => Some(reply),
            _ => None,
        }
    })
    .await;
    assert_eq!(health.body["status"], "ok");
    let _ = activator.kill();
    let _ = activator.wait();
}

#[tokio::test]
async fn a_pepper_credential_from_systemd_is_used() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("pepper"), [7u8; 32]).unwrap();
    let daemon = Daemon::start_with_env(
        "[api]\nlisten = []\n",
        &[("CREDENTIALS_DIRECTORY", creds.path().to_str().unwrap())],
    );
    // No pepper is made in the data directory: the credential is the key.
    assert!(!daemon.data_dir().join("pepper").exists());
    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let code = c.wait_code(&to, 1).await;
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
}
