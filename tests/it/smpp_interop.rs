//! otpd's SMPP channel against a third-party SMSC: the server side of the `smpp` package from
//! npm (tests/interop/npm-smsc.js, installed by scripts/interop-setup.sh). Bind, submit,
//! receipt, delivered state, unbind.

use crate::client::recipient;
use crate::support::Daemon;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The npm SMSC as a child process, with its JSON event lines on a channel.
struct NpmSmsc {
    child: Child,
    events: mpsc::Receiver<Value>,
    port: u16,
}

impl NpmSmsc {
    fn start() -> NpmSmsc {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let setup = Command::new(root.join("scripts/interop-setup.sh"))
            .status()
            .unwrap();
        assert!(setup.success(), "scripts/interop-setup.sh failed");
        let mut child = Command::new("node")
            .arg(root.join("tests/interop/npm-smsc.js"))
            .args(["0", "otpd", "s3cret"])
            .env("NODE_PATH", root.join("target/interop/node_modules"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is needed for the SMPP interop test");
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let mut smsc = NpmSmsc {
            child,
            events,
            port: 0,
        };
        let listening = smsc.next("listening");
        smsc.port = listening["port"].as_u64().unwrap() as u16;
        smsc
    }

    /// The next event named `name`, within a deadline; other events in between are skipped.
    fn next(&self, name: &str) -> Value {
        loop {
            let event = self
                .events
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("the npm SMSC did not report {name:?}"));
            if event["event"] == name {
                return event;
            }
            assert_ne!(event["event"], "error", "{event}");
        }
    }
}

impl Drop for NpmSmsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_goes_through_a_third_party_smsc_and_is_delivered() {
    let smsc = NpmSmsc::start();
    let config = format!(
        r#"
[api]
listen = []
[[channel]]
name = "operator"
kind = "smpp"
host = "127.0.0.1"
port = {}
system_id = "otpd"
password = "s3cret"
source_addr = "MyApp"
window = 10
max_tps = 50
"#,
        smsc.port
    );
    let mut daemon = Daemon::start(&config);
    let bind = smsc.next("bind");
    assert_eq!(bind["command"], "bind_transceiver");
    assert_eq!(bind["interface_version"], 0x34);

    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(json!({ "recipient": to })).await;
    let submit = smsc.next("submit");
    assert_eq!(submit["destination_addr"], to.trim_start_matches('+'));
    assert_eq!(
        (
            submit["dest_addr_ton"].as_u64(),
            submit["dest_addr_npi"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(submit["source_addr"], "MyApp");
    assert_eq!(
        (
            submit["source_addr_ton"].as_u64(),
            submit["source_addr_npi"].as_u64()
        ),
        (Some(5), Some(0))
    );
    assert_eq!(submit["registered_delivery"], 1);
    assert_eq!(submit["data_coding"], 0);
    assert_eq!(submit["esm_class"], 0);
    // The npm library reads our relative validity ("...R") and shows it as the absolute time:
    // about the OTP ttl (5 min) from now.
    let until = humantime::parse_rfc3339(submit["validity_period"].as_str().unwrap()).unwrap();
    let ahead = until
        .duration_since(std::time::SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((240..=300).contains(&ahead), "{submit}");
    let acked = smsc.next("receipt_acked");
    assert_eq!(acked["command_status"], 0);

    let status = c
        .wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
    assert_eq!(status["delivery"]["channel"], "operator");
    let sent_id = submit["message_id"].as_str().unwrap().to_ascii_lowercase();
    assert_eq!(
        status["delivery"]["message_id"].as_str(),
        Some(sent_id.trim_start_matches('0'))
    );

    let ready = c.get("/readyz").await;
    assert_eq!(ready.body["channels"][0]["state"], "up", "{}", ready.text);
    let metrics = c.get("/metrics").await.text;
    for line in [
        "otpd_smpp_round_trip_seconds_count{channel=\"operator\"} 1",
        "otpd_smpp_in_flight{channel=\"operator\"} 0",
        "otpd_deliveries_total{channel=\"operator\",state=\"delivered\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in:\n{metrics}"
        );
    }

    assert!(daemon.stop().success());
    smsc.next("unbind");
}
