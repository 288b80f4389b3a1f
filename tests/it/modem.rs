//! The whole daemon sending through `otpd modem-sim` on a pseudo-terminal, as it would
//! through a USB stick: the real serial open, the AT conversation, the PDUs, the status
//! reports, and the faults a dongle on a Raspberry Pi shows (errors, a hang, vanishing).

use crate::client::{code_of, eventually, recipient};
use crate::modem_interop::ModemSim;
use crate::support::{Daemon, otpd, output_within_deadline};
use serde_json::json;

fn daemon_on(sim: &ModemSim) -> Daemon {
    Daemon::start(&format!(
        r#"
[api]
listen = []
[[channel]]
name = "dongle"
kind = "modem"
device = "{}"
baud = 115200
"#,
        sim.link().display()
    ))
}

/// Sends an OTP and returns its id and the code the handset got.
async fn send_and_read(daemon: &Daemon, sim: &ModemSim) -> (String, String) {
    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(serde_json::json!({ "recipient": to })).await;
    let got = sim.next_message();
    assert_eq!(got["recipient"], to.as_str());
    (id, code_of(got["text"].as_str().unwrap()))
}

#[tokio::test]
async fn an_otp_goes_out_through_the_modem_and_is_reported_delivered() {
    let sim = ModemSim::start(&[]);
    let daemon = daemon_on(&sim);
    let (id, code) = send_and_read(&daemon, &sim).await;
    let c = daemon.unix();
    let status = c
        .wait_status(&id, "delivered", |s| s["delivery"]["state"] == "delivered")
        .await;
    assert_eq!(status["delivery"]["channel"], "dongle");
    assert!(
        status["delivery"]["message_id"]
            .as_str()
            .unwrap()
            .contains('@')
    );
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
    let ready = c.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let metrics = c.get("/metrics").await.text;
    assert!(
        metrics.contains("otpd_modem_signal_dbm{channel=\"dongle\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_number_the_network_calls_unassigned_fails_the_verification() {
    let sim = ModemSim::start(&["--cms-error-every", "1", "--cms-error", "1"]);
    let daemon = daemon_on(&sim);
    let c = daemon.unix();
    let id = c
        .send_ok(serde_json::json!({ "recipient": recipient() }))
        .await;
    let status = c
        .wait_status(&id, "failed", |s| s["status"] == "failed")
        .await;
    let error = status["delivery"]["error"].as_str().unwrap();
    assert!(
        error.contains("+CMS ERROR: 1 (unassigned number)"),
        "{error}"
    );
}

#[tokio::test]
async fn logs_mask_recipients_unless_configured_otherwise_and_a_reload_applies_it() {
    let sim = ModemSim::start(&["--cms-error-every", "1", "--cms-error", "1"]);
    let daemon = daemon_on(&sim);
    let c = daemon.unix();
    let refused_line = |to: &str| {
        let to = to.to_string();
        let d = &daemon;
        async move {
            eventually("the refusal's log line", || async {
                d.log_lines()
                    .into_iter()
                    .filter(|l| l.contains("a channel did not take a message"))
                    .find(|l| l.contains(&to[..5]) && l.contains(&to[to.len() - 3..]))
            })
            .await
        }
    };
    let masked = recipient();
    c.send_ok(json!({ "recipient": masked })).await;
    let line = refused_line(&masked).await;
    let shown = format!("{}****{}", &masked[..5], &masked[masked.len() - 3..]);
    assert!(line.contains(&shown), "{line}");
    assert!(!line.contains(&masked), "{line}");

    let config = std::fs::read_to_string(daemon.config_path()).unwrap();
    std::fs::write(
        daemon.config_path(),
        format!("[log]\nrecipients = \"full\"\n{config}"),
    )
    .unwrap();
    daemon.signal("HUP");
    eventually("the reload", || async {
        let lines = daemon.log_lines();
        lines
            .iter()
            .any(|l| l.contains("configuration reloaded"))
            .then_some(())
    })
    .await;
    let full = recipient();
    c.send_ok(json!({ "recipient": full })).await;
    let line = refused_line(&full).await;
    assert!(line.contains(&full), "{line}");
}

#[tokio::test]
async fn the_daemon_rides_out_a_modem_that_vanishes_and_comes_back() {
    let sim = ModemSim::start(&["--vanish-after", "1", "--vanish-for", "2s"]);
    let daemon = daemon_on(&sim);
    send_and_read(&daemon, &sim).await;
    sim.wait_log("vanish");
    // Sent while the device is gone: it waits, and goes out once the stick is back.
    let (id, code) = send_and_read(&daemon, &sim).await;
    assert_eq!(daemon.unix().verify(&id, &code).await.body["valid"], true);
    assert!(
        daemon
            .log_lines()
            .iter()
            .any(|l| l.contains("reopening the device")),
        "no reopen in the log"
    );
}

#[tokio::test]
async fn a_status_report_that_comes_after_a_restart_still_settles_the_message() {
    // The network reports 6 s after the send; the daemon is killed and started again in
    // between, so the link that sent the message is not the one that hears the report.
    let sim = ModemSim::start(&["--report-delay", "6s"]);
    let mut daemon = daemon_on(&sim);
    let (id, code) = send_and_read(&daemon, &sim).await;
    daemon
        .unix()
        .wait_status(&id, "submitted", |s| s["delivery"]["state"] == "submitted")
        .await;
    daemon.kill();
    daemon.start_again();
    let c = daemon.unix();
    let status = c
        .wait_status(&id, "delivered after the restart", |s| {
            s["delivery"]["state"] == "delivered"
        })
        .await;
    assert_eq!(status["delivery"]["channel"], "dongle");
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
}

#[tokio::test]
async fn a_hung_modem_is_reopened_and_the_code_still_arrives() {
    let sim = ModemSim::start(&["--hang-after", "1", "--hang-for", "3s"]);
    let daemon = daemon_on(&sim);
    send_and_read(&daemon, &sim).await;
    // The modem stops answering after that send; this one times out, the driver reopens
    // the device, and the message is sent again (with a fresh code) once it answers.
    let c = daemon.unix();
    let to = recipient();
    let id = c.send_ok(serde_json::json!({ "recipient": to })).await;
    let got = sim.next_message();
    assert_eq!(got["recipient"], to.as_str());
    let code = code_of(got["text"].as_str().unwrap());
    assert_eq!(c.verify(&id, &code).await.body["valid"], true);
    assert!(
        daemon.log_lines().iter().any(|l| l.contains("modem hung")),
        "no hang in the log"
    );
}

#[test]
fn modem_probe_prints_what_the_modem_says() {
    let sim = ModemSim::start(&[]);
    let out = output_within_deadline(otpd().args(["modem", "probe"]).arg(sim.link()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for field in [
        "manufacturer:",
        "model:",
        "IMEI:",
        "SIM:            READY",
        "registered",
        "dBm",
        "bars",
    ] {
        assert!(text.contains(field), "no {field:?} in:\n{text}");
    }
    assert!(!text.contains("(no answer)"), "{text}");
}

#[test]
fn modem_probe_says_when_nothing_answers() {
    let out = output_within_deadline(otpd().args(["modem", "probe", "/dev/otpd-no-such-modem"]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open /dev/otpd-no-such-modem"), "{err}");
}
