//! Failover between channels: an SMPP channel whose bind is refused is down (with the reason in
//! /readyz), and messages go out on the next channel in config order.

use crate::client::recipient;
use crate::support::{Daemon, otpd};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// `otpd smsc-sim` as a child, on a free port, with `flags`.
pub struct Smsc(Child, pub u16);

impl Smsc {
    pub fn start(flags: &[&str]) -> Smsc {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = otpd()
            .args([
                "smsc-sim",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--system-id",
                "otpd",
                "--password",
                "pw",
            ])
            .args(flags)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        // Its first log line says it listens (or it exits and the lines end).
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            first.contains("listening"),
            "smsc-sim did not start: {first}"
        );
        std::thread::spawn(move || for _ in lines {});
        Smsc(child, port)
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn messages_fail_over_from_a_refused_smpp_bind_to_the_next_channel() {
    let smsc = Smsc::start(&["--refuse-binds"]);
    let config = format!(
        "[api]\nlisten = []\n[[channel]]\nname = \"operator\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\n\
         port = {}\nsystem_id = \"otpd\"\npassword = \"pw\"\n[[channel]]\nname = \"backup\"\nkind = \"sim\"\n",
        smsc.1
    );
    let daemon = Daemon::start(&config);
    let c = daemon.unix();
    crate::client::eventually("the SMPP channel down in /readyz", || async {
        let ready = c.get("/readyz").await;
        let operator = &ready.body["channels"][0];
        (operator["state"] == "down").then(|| {
            let error = operator["last_error"].as_str().unwrap_or_default();
            assert!(error.contains("ESME_RBINDFAIL"), "{}", ready.text);
            // The sim channel is up, so the daemon is ready.
            assert_eq!(ready.status, 200, "{}", ready.text);
        })
    })
    .await;
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let status = c
        .wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
    assert_eq!(status["delivery"]["channel"], "backup");
}

#[tokio::test]
async fn a_tls_channel_refuses_a_peer_that_does_not_speak_tls() {
    // smsc-sim speaks plain SMPP: the TLS handshake must fail and say so.
    let smsc = Smsc::start(&[]);
    let config = format!(
        "[api]\nlisten = []\n[[channel]]\nname = \"operator\"\nkind = \"smpp\"\nhost = \"localhost\"\n\
         port = {}\nsystem_id = \"otpd\"\npassword = \"pw\"\ntls = true\n[[channel]]\nname = \"sim\"\nkind = \"sim\"\n",
        smsc.1
    );
    let daemon = Daemon::start(&config);
    let c = daemon.unix();
    crate::client::eventually("the TLS channel down", || async {
        let ready = c.get("/readyz").await;
        let operator = &ready.body["channels"][0];
        (operator["state"] == "down").then(|| {
            let error = operator["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(error.contains("TLS"), "{}", ready.text);
        })
    })
    .await;
}
