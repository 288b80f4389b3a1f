//! API fuzzing with schemathesis (PyPI; installed into target/interop/schemathesis by
//! scripts/interop-setup.sh): it reads the daemon's own /openapi.json, generates requests for
//! every operation (valid and invalid bodies, queries and headers, and chains of calls that
//! follow the document's links), and fails on any 5xx, any status the document does not list
//! for the operation, and any body, content type or header that breaks the document.
//!
//! The run is reproducible (a fixed seed, no example database) and bounded ([`MAX_EXAMPLES`] an
//! operation: about 15 s on an idle 2-core machine with a debug build). To fuzz longer by
//! hand: `OTPD_SCHEMATHESIS_EXAMPLES=2000 cargo test schemathesis`.

use crate::support::Daemon;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Examples per operation and phase.
const MAX_EXAMPLES: u32 = 50;
const SEED: &str = "1";
/// The run must end by then (it takes a fraction of it).
const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// Every check that compares answers with the document, plus: a request the document calls
/// invalid must be refused (4xx), an operation with a security scheme must refuse a request
/// without credentials, and a method a path does not take is a 405 with `Allow`. Not
/// `positive_data_acceptance`: some rules are not for a JSON schema to say (a `channel` must
/// name a configured channel; on TCP an `appid` must be the key's own app), so schema-valid
/// requests are rightly refused.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_schema_conformance,response_headers_conformance,negative_data_rejection,\
    ignored_auth,unsupported_method";

/// Limits off: the fuzzer sends thousands of requests, and a 429 would hide the rest.
const CONFIG: &str = r#"
[api]
listen = ["127.0.0.1:0"]
[limits]
per_recipient = []
lockout_after = 0
"#;

#[test]
fn schemathesis_finds_nothing_against_our_openapi_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = Command::new(root.join("scripts/interop-setup.sh"))
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/interop-setup.sh failed");

    let daemon = Daemon::start(CONFIG);
    let (key, secret) = daemon.create_key("default");
    let base = format!("http://{}", daemon.tcp.unwrap());
    let examples =
        std::env::var("OTPD_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.to_string());
    let child = Command::new(root.join("target/interop/schemathesis/bin/st"))
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", &base])
        .args(["--header", &format!("X-API-Key: {key}")])
        .args(["--header", &format!("X-API-Secret: {secret}")])
        .args(["--checks", &CHECKS.replace(' ', "")])
        .args(["--max-examples", &examples, "--seed", SEED])
        .args(["--generation-database", "none", "--workers", "1"])
        .args(["--request-timeout", "20", "--no-color"])
        // Its report directory and any cache go to the daemon's temporary directory.
        .current_dir(daemon.root())
        .env("NO_COLOR", "1")
        // Mobile numbers for the format `phone` (see the file).
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", root.join("tests/interop"))
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
    let Ok(out) = output.recv_timeout(RUN_DEADLINE) else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("schemathesis was still running after {RUN_DEADLINE:?}");
    };
    let out = out.unwrap();
    let status = out.status;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success(),
        "schemathesis found problems ({status}); reproduce with the seed {SEED} and the \
         commands it prints:\n{stdout}\n{stderr}"
    );
    // It did test every operation (a document it could not read would also end without
    // failures), but GET /openapi.json, which it leaves out as the one serving the document.
    let operations = crate::openapi::operation_count() - 1;
    assert!(
        stdout.contains(&format!("Tested: {operations}\n")),
        "schemathesis did not test the {operations} operations of openapi.json:\n{stdout}"
    );
    // And the daemon is still well.
    assert!(
        daemon.log_lines().iter().all(|l| !l.contains("panicked")),
        "the daemon panicked while fuzzed"
    );
}
