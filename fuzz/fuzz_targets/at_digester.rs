//! The AT digester: a modem's output cut into finals, lines, prompts and URCs.
//!
//! The first byte picks the command in progress (it decides whether a read's answer is a line
//! or a URC); the rest is what the modem sent. Besides "no panic", this checks the digester's
//! promise that the items do not depend on how the bytes were split: everything at once,
//! one byte at a time and pieces of a size taken from the input must agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpd::proto::at::{Digester, Item};

const COMMANDS: &[&str] = &[
    "AT+CREG?",
    "AT+CMGS=23",
    "ATE0",
    "AT+CUSD=1,\"*100#\"",
    "AT+CMGR=3",
    "AT^HCSQ?",
];

fn digest(command: Option<&str>, stream: &[u8], piece: usize) -> (Vec<Item>, Vec<u8>) {
    let mut digester = Digester::new();
    if let Some(command) = command {
        digester.expect_echo(command);
    }
    let mut pending = Vec::new();
    let mut items = Vec::new();
    for chunk in stream.chunks(piece) {
        pending.extend_from_slice(chunk);
        items.extend(digester.feed(&mut pending));
    }
    (items, pending)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let command = COMMANDS.get(usize::from(selector % 8)).copied();
    let piece = usize::from(selector >> 3) + 1;
    let (whole, whole_rest) = digest(command, stream, stream.len().max(1));
    let (bytewise, _) = digest(command, stream, 1);
    let (pieces, _) = digest(command, stream, piece);
    assert_eq!(whole, bytewise, "whole vs one byte at a time");
    assert_eq!(whole, pieces, "whole vs pieces of {piece}");
    assert!(whole_rest.len() <= stream.len());
});
