//! Operations endpoints (/healthz, /readyz) and the answers to routes and methods that do
//! not exist.

use crate::client::assert_problem;
use crate::support::{Daemon, shared};
use serde_json::json;

#[tokio::test]
async fn health_and_readiness_report_the_sim_channel_up() {
    let d = shared();
    let c = d.unix();
    let health = c.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body, json!({ "status": "ok" }));

    let ready = c.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let channels = ready.body["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1, "{}", ready.text);
    assert_eq!(channels[0]["name"], "sim");
    assert_eq!(channels[0]["kind"], "sim");
    assert_eq!(channels[0]["state"], "up");
    assert_eq!(channels[0]["last_error"], serde_json::Value::Null);
}

#[tokio::test]
async fn readiness_lists_every_configured_channel() {
    let d = Daemon::start(
        "[api]\nlisten = []\n\
         [[channel]]\nname = \"tz\"\nkind = \"sim\"\nrecipients = [\"+255\"]\n\
         [[channel]]\nname = \"rest\"\nkind = \"sim\"\n",
    );
    let ready = d.unix().get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let names: Vec<&str> = ready.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["state"], "up", "{c}");
            c["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["tz", "rest"]);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let d = shared();
    let c = d.unix();
    for (method, path) in [("GET", "/nope"), ("POST", "/otp/nope"), ("GET", "/")] {
        let reply = c.call(method, path, &[], None).await;
        assert_problem(&reply, 404, "not_found");
    }
    for (method, path) in [
        ("GET", "/otp/send"),
        ("GET", "/otp/verify"),
        ("DELETE", "/otp/status"),
        ("POST", "/healthz"),
        ("PUT", "/readyz"),
    ] {
        let reply = c.call(method, path, &[], None).await;
        assert_problem(&reply, 405, "method_not_allowed");
    }
    // Likewise on TCP, where no key is needed to learn that a route does not exist.
    let tcp = d.tcp();
    assert_problem(&tcp.get("/nope").await, 404, "not_found");
    let reply = tcp.call("POST", "/healthz", &[], None).await;
    assert_problem(&reply, 405, "method_not_allowed");
}
