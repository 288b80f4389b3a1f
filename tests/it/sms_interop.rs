//! otpd's GSM 03.40 SMS-SUBMIT encoder checked against a third-party decoder: the
//! `smspdudecoder` package from PyPI (tests/interop/sms_decode.py, installed by
//! scripts/interop-setup.sh).

use otpd::proto::sms::{Submit, encode_submit};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Decodes PDUs with smspdudecoder; one JSON object per PDU.
fn third_party_decode(pdus: &[String]) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = Command::new(root.join("scripts/interop-setup.sh"))
        .status()
        .unwrap();
    assert!(setup.success(), "scripts/interop-setup.sh failed");
    let mut child = Command::new("python3")
        .arg(root.join("tests/interop/sms_decode.py"))
        .env("PYTHONPATH", root.join("target/interop/py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for pdu in pdus {
        writeln!(stdin, "{pdu}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "smspdudecoder failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn submit(text: &str) -> Submit<'_> {
    Submit {
        destination: "+255712345678",
        text,
        reference: 7,
        status_report: true,
        validity: Some(Duration::from_secs(300)),
        concat_reference: 0x42,
    }
}

#[test]
fn a_third_party_decoder_reads_our_sms_submit_pdus() {
    let texts = [
        "Your otpd code is 123456. It expires in 5 min.",
        "Code {123456} costs 0€ [ok] ~ | ^ \\",
        "Msimbo wako ni 123456 ✓",
        &"Your otpd code is 123456. ".repeat(8), // 208 GSM-7 characters: two parts
    ];
    for text in texts {
        let parts = encode_submit(&submit(text));
        assert!(!parts.is_empty(), "{text}");
        let hex: Vec<String> = parts.iter().map(|p| p.hex.clone()).collect();
        let decoded = third_party_decode(&hex);
        assert_eq!(decoded.len(), parts.len());
        let mut joined = String::new();
        for (i, d) in decoded.iter().enumerate() {
            assert_eq!(d["recipient"], "255712345678", "{d}");
            assert_eq!(d["ton"], "international");
            assert_eq!(d["srr"], true);
            assert_eq!(d["mr"], 7 + i as u64);
            assert_eq!(d["vpf"], 2, "relative validity");
            assert_eq!(d["vp"], 0, "5 minutes is TP-VP 0 ((0 + 1) × 5 min)");
            let gsm = text.chars().all(|c| c.is_ascii() || c == '€');
            assert_eq!(d["encoding"], if gsm { "gsm" } else { "ucs2" }, "{d}");
            if parts.len() > 1 {
                assert_eq!(d["udhi"], true);
                let concat: Vec<u64> = d["concat"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert_eq!(concat, [0x42, parts.len() as u64, i as u64 + 1]);
            }
            joined.push_str(d["text"].as_str().unwrap());
        }
        assert_eq!(joined, text);
    }
}
