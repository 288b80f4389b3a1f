//! `otpd modem-sim` against a third-party modem client: Gammu (Debian package `gammu`,
//! installed by scripts/interop-setup.sh) opens the simulator's pty as it would a USB
//! stick and sends SMS through it; the simulator prints what the handsets get.

use crate::support::{DEADLINE, otpd, output_within_deadline};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

/// A running `otpd modem-sim`, its stdout (one JSON line per message) and its log lines.
pub(crate) struct ModemSim {
    child: Child,
    messages: mpsc::Receiver<Value>,
    log: mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

impl ModemSim {
    pub(crate) fn start(flags: &[&str]) -> ModemSim {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let setup = Command::new(root.join("scripts/interop-setup.sh"))
            .status()
            .unwrap();
        assert!(setup.success(), "scripts/interop-setup.sh failed");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("modem");
        std::fs::write(
            dir.path().join("gammurc"),
            format!("[gammu]\ndevice = {}\nconnection = at\n", link.display()),
        )
        .unwrap();
        let mut child = otpd()
            .arg("modem-sim")
            .arg("--link")
            .arg(&link)
            .args(flags)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, messages) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::String(line)));
            }
        });
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let sim = ModemSim {
            child,
            messages,
            log,
            dir,
        };
        sim.wait_log("modem-sim ready");
        sim
    }

    pub(crate) fn link(&self) -> PathBuf {
        self.dir.path().join("modem")
    }

    /// Waits for a log line containing `what`; earlier lines are passed over.
    pub(crate) fn wait_log(&self, what: &str) -> String {
        loop {
            let line = self
                .log
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("modem-sim did not log {what:?}"));
            if line.contains(what) {
                return line;
            }
        }
    }

    /// The next message the simulator delivered.
    pub(crate) fn next_message(&self) -> Value {
        self.messages
            .recv_timeout(DEADLINE)
            .expect("modem-sim printed no message")
    }

    /// `gammu -c <rc> <args>`, within the deadline.
    fn gammu(&self, args: &[&str]) -> Output {
        let out = output_within_deadline(
            Command::new("gammu")
                .arg("-c")
                .arg(self.dir.path().join("gammurc"))
                .args(args),
        );
        assert!(
            out.status.success(),
            "gammu {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn sendsms(&self, to: &str, extra: &[&str]) -> String {
        let args = [&["sendsms", "TEXT", to], extra].concat();
        String::from_utf8_lossy(&self.gammu(&args).stdout).into_owned()
    }
}

impl Drop for ModemSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(recipient: &str, text: &str) -> Value {
    serde_json::json!({ "recipient": recipient, "text": text })
}

#[test]
fn gammu_identifies_the_simulated_modem_and_sends_through_it() {
    let sim = ModemSim::start(&[]);
    let identify = String::from_utf8_lossy(&sim.gammu(&["identify"]).stdout).into_owned();
    assert!(identify.contains("Huawei"), "{identify}");
    assert!(identify.contains("E3372"), "{identify}");
    assert!(identify.contains("866000000000017"), "{identify}");
    let out = sim.sendsms("+255712345678", &["-text", "hello from gammu"]);
    assert!(out.contains("OK, message reference=0"), "{out}");
    assert_eq!(
        sim.next_message(),
        message("+255712345678", "hello from gammu")
    );
    // A national number, a status report asked for (Gammu does not wait for it).
    let out = sim.sendsms("0712345678", &["-text", "second", "-report"]);
    assert!(out.contains("OK, message reference=1"), "{out}");
    assert_eq!(sim.next_message(), message("0712345678", "second"));
}

#[test]
fn gammu_long_and_unicode_messages_arrive_whole() {
    let sim = ModemSim::start(&[]);
    let long = &"Your otpd code is 123456. ".repeat(16)[..400];
    let out = sim.sendsms("+255712345678", &["-len", "400", "-text", long]);
    assert!(out.contains("Sending SMS 3/3"), "{out}");
    assert_eq!(
        sim.next_message(),
        message("+255712345678", long),
        "three parts, one message"
    );
    let text = "Msimbo wako ni 123456 ✓";
    sim.sendsms("+255712345678", &["-unicode", "-text", text]);
    assert_eq!(sim.next_message(), message("+255712345678", text));
}

#[test]
fn the_device_vanishes_and_comes_back_under_the_same_link() {
    let sim = ModemSim::start(&["--vanish-after", "1", "--vanish-for", "1s"]);
    sim.sendsms("+255712345678", &["-text", "before"]);
    assert_eq!(sim.next_message(), message("+255712345678", "before"));
    sim.wait_log("device gone");
    sim.wait_log("modem-sim ready");
    assert!(std::fs::read_link(sim.link()).is_ok());
    let out = sim.sendsms("+255712345678", &["-text", "after"]);
    assert!(out.contains("OK, message reference=1"), "{out}");
    assert_eq!(sim.next_message(), message("+255712345678", "after"));
}

#[test]
fn sigterm_removes_the_link() {
    let mut sim = ModemSim::start(&[]);
    assert!(sim.link().symlink_metadata().is_ok());
    let pid = sim.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    sim.wait_log("modem-sim stopped");
    assert!(sim.child.wait().unwrap().success());
    assert!(
        sim.link().symlink_metadata().is_err(),
        "the symlink is gone"
    );
}

#[test]
fn a_regular_file_at_the_link_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modem");
    std::fs::write(&path, "precious").unwrap();
    let out = output_within_deadline(otpd().arg("modem-sim").arg("--link").arg(&path));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a symlink"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

/// Asks libGammu's PDU codec (tests/interop/gammu_sim_pdu.py) one JSON request per line.
fn libgammu(requests: &[Value]) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = Command::new(root.join("scripts/interop-setup.sh"))
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/interop-setup.sh failed");
    let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("requests");
    std::fs::write(&file, input).unwrap();
    // The Debian python3 has the gammu module; another python3 on PATH may not.
    let out = output_within_deadline(
        Command::new("sh")
            .arg("-c")
            .arg("exec /usr/bin/python3 \"$0\" < \"$1\"")
            .arg(root.join("tests/interop/gammu_sim_pdu.py"))
            .arg(&file),
    );
    assert!(
        out.status.success(),
        "gammu_sim_pdu.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn libgammu_reads_our_status_reports_and_we_read_its_submits() {
    use otpd::proto::sms::{Concat, NewStatusReport, decode_submit, encode_status_report};
    use std::time::{Duration, SystemTime};

    let reports: Vec<(u8, &str, u8)> = vec![(0, "+255712345678", 0), (255, "0712345678", 0x46)];
    let requests: Vec<Value> = reports
        .iter()
        .map(|&(reference, recipient, status)| {
            let pdu = encode_status_report(&NewStatusReport {
                smsc: "+255754000000",
                reference,
                recipient,
                service_centre_time: SystemTime::now(),
                discharge_time: SystemTime::now() + Duration::from_secs(5),
                status,
            })
            .unwrap();
            serde_json::json!({ "decode": pdu.hex })
        })
        .collect();
    for (answer, (reference, recipient, status)) in libgammu(&requests).iter().zip(&reports) {
        assert_eq!(answer["type"], "Status_Report", "{answer}");
        assert_eq!(answer["number"], *recipient);
        assert_eq!(answer["reference"], u64::from(*reference));
        assert_eq!(answer["status"], u64::from(*status));
    }

    let long = "Your otpd code is 123456. ".repeat(9);
    let submits = [
        serde_json::json!({ "encode": "hello [€] ~", "number": "+255712345678" }),
        serde_json::json!({ "encode": "Msimbo ✓ 😀", "number": "0712345678", "unicode": true }),
        serde_json::json!({ "encode": long, "number": "+255712345678" }),
        serde_json::json!({ "encode": long, "number": "+255712345678", "ref16": true }),
    ];
    for (answer, request) in libgammu(&submits).iter().zip(&submits) {
        let parts = answer["parts"].as_array().unwrap();
        let mut text = String::new();
        for (seq, part) in (1u8..).zip(parts) {
            let decoded = decode_submit(part.as_str().unwrap(), true).unwrap();
            assert_eq!(decoded.destination, request["number"]);
            if parts.len() > 1 {
                let Some(Concat {
                    total, seq: got, ..
                }) = decoded.concat
                else {
                    panic!("no concatenation header in {part}");
                };
                assert_eq!((total as usize, got), (parts.len(), seq));
            }
            text.push_str(&decoded.text);
        }
        assert_eq!(text, request["encode"].as_str().unwrap());
    }
}
