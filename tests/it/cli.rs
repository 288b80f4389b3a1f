//! The command line: `otpd check-config`, and `otpd send|verify|status` as clients of a
//! running daemon over its socket.

use crate::client::{recipient, wrong};
use crate::support::{SHARED_CONFIG, otpd, shared};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn check_config(dir: &Path, text: &str) -> Output {
    let path = dir.join("otpd.toml");
    std::fs::write(&path, text).unwrap();
    otpd().arg("check-config").arg(&path).output().unwrap()
}

#[test]
fn check_config_accepts_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = format!(
        "{SHARED_CONFIG}\n[store]\nsynchronous = \"normal\"\n\
         [[app]]\nid = \"shop\"\nname = \"Shop\"\n\
         [[channel]]\nname = \"sim\"\nkind = \"sim\"\nrecipients = [\"+255\"]\n"
    );
    for text in [SHARED_CONFIG, "", full.as_str()] {
        let out = check_config(dir.path(), text);
        assert_eq!(out.status.code(), Some(0), "{text}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("ok"),
            "{out:?}"
        );
    }
}

#[test]
fn check_config_names_the_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[api]\nlisten = []\n[otp]\nttl = \"5m\"\nlenght = 6\n",
            "otpd.toml:5:1: otp.lenght",
            "unknown key",
        ),
        (
            "[otp]\nlength = 3\n",
            "otpd.toml:2:10: otp.length",
            "between 4 and 10",
        ),
        (
            "[otp]\nttl = \"0s\"\n",
            "otpd.toml:2:7: otp.ttl",
            "between 1s and 1day",
        ),
        ("colour = \"red\"\n", "otpd.toml:1:1: colour", "unknown key"),
        (
            "[[channel]]\nname = \"x\"\nkind = \"sim\"\nrecipients = [\"254\"]\n",
            "otpd.toml:4:15: channel[0].recipients[0]",
            "\"254\"",
        ),
    ];
    for (text, place, why) in cases {
        let out = check_config(dir.path(), text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{text}: {out:?}");
        assert!(stderr.contains(place), "{text}: {stderr:?} lacks {place:?}");
        assert!(stderr.contains(why), "{text}: {stderr:?} lacks {why:?}");
    }
}

/// Runs `otpd ARGS --socket SOCKET`; returns the exit code and the printed JSON.
fn client(socket: &Path, args: &[&str]) -> (i32, Value) {
    let out = otpd()
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out:?}"));
    (out.status.code().expect("killed by a signal"), json)
}

#[tokio::test]
async fn send_verify_and_status_commands_talk_to_the_socket() {
    let d = shared();
    let socket = d.socket();
    let to = recipient();

    let (code, sent) = client(&socket, &["send", &to]);
    assert_eq!(code, 0, "{sent}");
    assert_eq!(sent["recipient"], to.as_str());
    assert_eq!(sent["status"], "pending");
    assert_eq!(sent["appid"], "default");
    let id = sent["verification_id"].as_str().unwrap().to_string();

    let (code, status) = client(&socket, &["status", &id]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["verification_id"], id.as_str());
    assert_eq!(status["status"], "pending");

    let otp = d.unix().wait_code(&to, 1).await;
    let (code, reply) = client(&socket, &["verify", &id, &wrong(&otp)]);
    assert_eq!(code, 1, "a wrong code must fail: {reply}");
    assert_eq!(reply["reason"], "incorrect_code");
    let (code, reply) = client(&socket, &["verify", &id, &otp]);
    assert_eq!(code, 0, "{reply}");
    assert_eq!(reply["valid"], true);
    let (code, reply) = client(&socket, &["verify", &id, &otp]);
    assert_eq!(code, 1, "a used code must fail: {reply}");
    assert_eq!(reply["reason"], "already_used");

    let (code, status) = client(&socket, &["status", &id]);
    assert_eq!(code, 0);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["attempts"], 1);
}

#[tokio::test]
async fn client_commands_fail_on_refusals_and_take_the_socket_from_the_environment() {
    let d = shared();
    let socket = d.socket();

    let (code, reply) = client(&socket, &["status", "no-such-id"]);
    assert_eq!(code, 1, "{reply}");
    assert_eq!(reply["code"], "not_found");
    let (code, reply) = client(&socket, &["verify", "no-such-id", "123456"]);
    assert_eq!(code, 1, "{reply}");
    assert_eq!(reply["code"], "not_found");
    let (code, reply) = client(&socket, &["send", "+255222123456"]);
    assert_eq!(code, 1, "{reply}");
    assert_eq!(reply["code"], "invalid_recipient");

    let to = recipient();
    let out = otpd()
        .args(["send", &to, "--appid", "shop"])
        .env("OTPD_SOCKET", &socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["appid"], "shop");

    let missing = d.root().join("nowhere.sock");
    let out = otpd()
        .args(["status", "x", "--socket"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nowhere.sock"), "{stderr}");
}

#[test]
fn key_list_shows_keys_but_never_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = |args: &[&str]| {
        let out = otpd()
            .arg("key")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, created) = key(&["create", "--appid", "shop"]);
    assert_eq!(code, Some(0), "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let api_key = created["api_key"].as_str().unwrap();
    let secret = created["api_secret"].as_str().unwrap();
    assert!(secret.len() >= 32, "a short secret: {secret}");

    let (code, listed) = key(&["list"]);
    assert_eq!(code, Some(0), "{listed}");
    assert!(
        listed.contains(api_key) && listed.contains("shop"),
        "{listed}"
    );
    assert!(
        !listed.contains(secret),
        "key list shows a secret: {listed}"
    );

    assert_eq!(key(&["revoke", api_key]).0, Some(0));
    assert_ne!(key(&["revoke", api_key]).0, Some(0), "revoked twice");
    assert_ne!(key(&["revoke", "ok_nosuchkey"]).0, Some(0));
    let (_, listed) = key(&["list"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert!(
        listed[0]["revoked_at"].is_number() || listed[0]["revoked_at"].is_string(),
        "{listed}"
    );
}

#[test]
fn audit_prints_key_changes_newest_first_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = otpd()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env("USER", "auditor")
            .env_remove("SUDO_USER")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, created, _) = run(&["key", "create", "--appid", "shop"]);
    assert_eq!(code, Some(0), "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let api_key = created["api_key"].as_str().unwrap();
    let secret = created["api_secret"].as_str().unwrap();
    assert_eq!(run(&["key", "revoke", api_key]).0, Some(0));
    // A refused revoke changes nothing, so it is not audited.
    assert_ne!(run(&["key", "revoke", api_key]).0, Some(0));

    let (code, audit, err) = run(&["audit"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !audit.contains(secret),
        "the audit log shows a secret: {audit}"
    );
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let target = format!("shop/{api_key}");
    let summary: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["actor"].as_str().unwrap(),
                l["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("key_revoked", "cli:auditor", target.as_str()),
            ("key_created", "cli:auditor", target.as_str()),
        ]
    );
    assert!(lines[0]["at"].as_str().unwrap().ends_with('Z'));

    let (_, newest, _) = run(&["audit", "--limit", "1"]);
    assert_eq!(newest.lines().count(), 1);
    assert!(newest.contains("key_revoked"), "{newest}");
    let (code, later, _) = run(&["audit", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!((code, later.as_str()), (Some(0), ""));
    let (code, _, err) = run(&["audit", "--since", "last tuesday"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--since") && err.contains("RFC 3339"), "{err}");
}
