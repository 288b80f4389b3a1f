//! Codes never rest anywhere: after a run of sends, resends and verifies, neither the
//! database files (WAL and shared memory included) nor the log hold any code that the
//! handset received or that a client tried.

use crate::client::{recipient, wrong};
use crate::support::Daemon;
use serde_json::json;
use std::path::Path;

const CODE_LENGTH: usize = 10;

/// TCP for keyed calls, and resends at once so that they draw more codes.
const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[otp]
resend_cooldown = "0s"
"#;

/// The bytes of every file in `dir`, by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Every run of ASCII digits at least `min` long in `bytes`: a code can only hide in one.
/// (One pass over the files; a naive search per code takes seconds in a debug build.)
fn digit_runs(bytes: &[u8], min: usize) -> Vec<String> {
    bytes
        .split(|b| !b.is_ascii_digit())
        .filter(|run| run.len() >= min)
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// Checks that no run of at least 10 digits in `places` holds one of `codes`.
pub fn assert_absent(codes: &[String], places: &[(String, Vec<u8>)]) {
    for (name, bytes) in places {
        for run in digit_runs(bytes, CODE_LENGTH) {
            for code in codes {
                assert!(!run.contains(code.as_str()), "code {code} found in {name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_code_reaches_the_database_or_the_log() {
    // Every log level on, so that a code in a debug or trace line is caught too.
    let mut d = Daemon::start_with_env(CONFIG, &[("OTPD_LOG", "trace")]);
    let c = d.unix();
    let tcp = d.tcp().with_key(&d.create_key("secretapp"));
    let mut codes: Vec<String> = Vec::new();

    for i in 0..12 {
        let to = recipient();
        // Half on TCP with a key, half on the socket; codes of 10 digits so that no other
        // number in the files can pass for one.
        let client = if i % 2 == 0 { &c } else { &tcp };
        let id = client
            .send_ok(json!({ "recipient": to, "length": CODE_LENGTH }))
            .await;
        let mut code = client.wait_code(&to, 1).await;
        assert_eq!(code.len(), CODE_LENGTH);
        codes.push(code.clone());
        let miss = wrong(&code);
        codes.push(miss.clone());
        assert_eq!(client.verify(&id, &miss).await.body["valid"], false);
        if i % 3 == 0 {
            assert_eq!(client.resend(&id).await.status, 200);
            code = client.wait_code(&to, 2).await;
            codes.push(code.clone());
        }
        let reply = match i % 4 {
            0 => {
                let by_recipient = json!({ "recipient": to, "otp_code": code });
                client.post("/otp/verify", &by_recipient).await
            }
            1 => client.verify(&id, &code).await,
            // Left pending: its hash stays in the database.
            _ => continue,
        };
        assert_eq!(reply.body["valid"], true, "{}", reply.text);
    }
    // Every message has been recorded as delivered before the files are read.
    crate::client::eventually("every delivery recorded", || async {
        let undelivered: i64 = d
            .db()
            .query_row(
                "SELECT count(*) FROM verification WHERE delivery_state != 'delivered'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (undelivered == 0).then_some(())
    })
    .await;

    let running = files(&d.data_dir());
    let names: Vec<&str> = running.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"otpd.db") && names.contains(&"otpd.db-wal"),
        "{names:?}"
    );
    assert_absent(&codes, &running);
    assert_eq!(d.stop().code(), Some(0));
    assert_absent(&codes, &files(&d.data_dir()));

    let log = d.log_lines().join("\n");
    assert!(
        log.contains("otpd is ready") && log.contains("stopped"),
        "{log}"
    );
    assert_absent(&codes, &[("the log".to_string(), log.into_bytes())]);
}

#[test]
fn the_pepper_is_32_bytes_that_only_the_owner_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let d = crate::support::shared();
    let pepper = d.data_dir().join("pepper");
    let meta = std::fs::metadata(&pepper).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}
