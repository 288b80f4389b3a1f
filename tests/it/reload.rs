//! SIGHUP: templates and channels change while the daemon runs, an unchanged SMPP link stays
//! bound, and a config with an error is refused whole.

use crate::client::{eventually, recipient};
use crate::failover::Smsc;
use crate::support::Daemon;
use serde_json::json;

fn config(template: &str, smsc_port: u16, extra_channel: &str) -> String {
    format!(
        "[api]\nlisten = []\n[otp]\ntemplate = \"{template}\"\n\
         [[channel]]\nname = \"sim\"\nkind = \"sim\"\n\
         [[channel]]\nname = \"operator\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {smsc_port}\n\
         system_id = \"otpd\"\npassword = \"pw\"\n{extra_channel}"
    )
}

async fn log_count(d: &Daemon, what: &str, at_least: usize) -> usize {
    eventually(what, || async {
        let n = d.log_lines().iter().filter(|l| l.contains(what)).count();
        (n >= at_least).then_some(n)
    })
    .await
}

#[tokio::test]
async fn sighup_reloads_templates_and_channels_and_keeps_unchanged_links() {
    let smsc = Smsc::start(&[]);
    let d = Daemon::start(&config("First {code}", smsc.1, ""));
    log_count(&d, "SMPP link bound", 1).await;
    let c = d.unix();
    let to = recipient();
    c.send_ok(json!({ "recipient": to })).await;
    let first = c.wait_code(&to, 1).await;
    assert!(c.messages(&to).await[0].starts_with("First "), "{first}");

    // A new template and one more channel; the SMPP channel is unchanged.
    let extra = "[[channel]]\nname = \"spare\"\nkind = \"sim\"\n";
    std::fs::write(d.config_path(), config("Second {code}", smsc.1, extra)).unwrap();
    d.signal("HUP");
    log_count(&d, "configuration reloaded", 1).await;
    c.send_ok(json!({ "recipient": to })).await;
    c.wait_code(&to, 2).await;
    assert!(c.messages(&to).await[1].starts_with("Second "));
    let ready = c.get("/readyz").await;
    let names: Vec<&str> = ready.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| ch["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sim", "operator", "spare"]);
    assert_eq!(ready.body["channels"][1]["state"], "up");
    // The link was not dropped and bound again.
    assert_eq!(log_count(&d, "SMPP link bound", 1).await, 1);
    assert!(!d.log_lines().iter().any(|l| l.contains("SMPP link down")));

    // A broken config changes nothing.
    std::fs::write(d.config_path(), "[otp]\nlength = 99\n").unwrap();
    d.signal("HUP");
    log_count(&d, "keeping the running one", 1).await;
    c.send_ok(json!({ "recipient": to })).await;
    c.wait_code(&to, 3).await;
    assert!(c.messages(&to).await[2].starts_with("Second "));
}
