//! Which lines are unsolicited result codes, and which of those are followed by a second
//! line that belongs to them.
//!
//! The table covers 3GPP TS 27.005 / 27.007 codes and those of the Huawei, Quectel and SIMCom
//! sticks we drive. A code not listed here comes out as a line, which the session ignores
//! while no command is in progress: an unknown URC is noise, never a lost response.

use super::Urc;

/// What follows a URC's header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Nothing: the URC is one line.
    Nothing,
    /// The next line is the URC's PDU (or message text) and completes it.
    Pdu,
}

/// Codes with a colon, by name. `+CDS` is handled apart: it has a PDU line only in PDU mode.
const COLON_CODES: &[(&str, Follow)] = &[
    ("+CMT", Follow::Pdu),
    ("+CBM", Follow::Pdu),
    ("+CDSI", Follow::Nothing),
    ("+CMTI", Follow::Nothing),
    ("+CBMI", Follow::Nothing),
    ("+CREG", Follow::Nothing),
    ("+CGREG", Follow::Nothing),
    ("+CEREG", Follow::Nothing),
    ("+C5GREG", Follow::Nothing),
    ("+CUSD", Follow::Nothing),
    ("+CIEV", Follow::Nothing),
    ("+CGEV", Follow::Nothing),
    ("+CRING", Follow::Nothing),
    ("+CLIP", Follow::Nothing),
    ("+CTZV", Follow::Nothing),
    ("+CTZE", Follow::Nothing),
    ("+QIND", Follow::Nothing),
    ("+QUSIM", Follow::Nothing),
    ("^RSSI", Follow::Nothing),
    ("^BOOT", Follow::Nothing),
    ("^MODE", Follow::Nothing),
    ("^HCSQ", Follow::Nothing),
    ("^SIMST", Follow::Nothing),
    ("^SRVST", Follow::Nothing),
    ("^DSFLOWRPT", Follow::Nothing),
    ("^STIN", Follow::Nothing),
    ("^CEND", Follow::Nothing),
    ("^ORIG", Follow::Nothing),
    ("^CONF", Follow::Nothing),
    ("^CONN", Follow::Nothing),
];

/// Codes that are a whole line, with no colon.
const BARE_CODES: &[&str] = &[
    "RING",
    "RDY",
    "^SYSSTART",
    "SMS DONE",
    "PB DONE",
    "Call Ready",
    "SMS Ready",
    "NORMAL POWER DOWN",
];

/// Classifies a trimmed, non-empty line. `command` is the command in progress, if any: a
/// read of a code's own name turns that code into a line (see the module doc of `at`).
pub fn classify(line: &str, command: Option<&str>) -> Option<(Urc, Follow)> {
    if BARE_CODES.contains(&line) {
        let urc = Urc {
            name: line.to_owned(),
            text: String::new(),
            pdu: None,
        };
        return Some((urc, Follow::Nothing));
    }
    let (name, rest) = line.split_once(':')?;
    let text = rest.strip_prefix(' ').unwrap_or(rest);
    let follow = if name == "+CDS" {
        // PDU mode: `+CDS: <length>` then the PDU. Text mode: every field on one line.
        if text.trim().parse::<u16>().is_ok() {
            Follow::Pdu
        } else {
            Follow::Nothing
        }
    } else {
        COLON_CODES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, follow)| *follow)?
    };
    if command.is_some_and(|c| reads(c, name)) {
        return None;
    }
    let urc = Urc {
        name: name.to_owned(),
        text: text.to_owned(),
        pdu: None,
    };
    Some((urc, follow))
}

/// Whether `command` reads `name`: `AT<name>?`, `AT<name>=?` or `AT<name>` alone, also as
/// one part of a `;`-joined command line.
fn reads(command: &str, name: &str) -> bool {
    let upper = command.trim().to_ascii_uppercase();
    let body = upper.strip_prefix("AT").unwrap_or(&upper);
    body.split(';').any(|part| {
        part.trim()
            .strip_prefix(name)
            .is_some_and(|tail| matches!(tail, "" | "?" | "=?"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(line: &str, command: Option<&str>) -> Option<(String, String, Follow)> {
        classify(line, command).map(|(u, f)| (u.name, u.text, f))
    }

    #[test]
    fn known_codes() {
        assert_eq!(
            name_of("+CMTI: \"SM\",3", None),
            Some(("+CMTI".into(), "\"SM\",3".into(), Follow::Nothing))
        );
        assert_eq!(
            name_of("RING", None),
            Some(("RING".into(), String::new(), Follow::Nothing))
        );
        assert_eq!(
            name_of("^RSSI:17", None),
            Some(("^RSSI".into(), "17".into(), Follow::Nothing))
        );
    }

    #[test]
    fn cds_has_a_pdu_only_in_pdu_mode() {
        assert_eq!(name_of("+CDS: 25", None).unwrap().2, Follow::Pdu);
        let text_mode = "+CDS: 6,46,\"+4912345\",145,\"26/11/22,05:05:40+04\"";
        assert_eq!(name_of(text_mode, None).unwrap().2, Follow::Nothing);
        assert_eq!(name_of("+CMT: ,24", None).unwrap().2, Follow::Pdu);
    }

    #[test]
    fn unknown_and_info_lines_are_not_urcs() {
        assert_eq!(name_of("+CSQ: 21,99", None), None);
        assert_eq!(name_of("+CMGS: 12", None), None);
        assert_eq!(name_of("+CPIN: READY", None), None);
        assert_eq!(name_of("Quectel", None), None);
        assert_eq!(name_of("+CMTIX: 1", None), None);
    }

    #[test]
    fn a_read_of_the_same_name_makes_a_line() {
        assert_eq!(name_of("+CREG: 0,1", Some("AT+CREG?")), None);
        assert_eq!(name_of("+CREG: (0-2)", Some("at+creg=?")), None);
        assert_eq!(name_of("^HCSQ: \"LTE\",1,2,3,4", Some("AT^HCSQ?")), None);
        assert_eq!(name_of("+CEREG: 0,1", Some("AT+CSQ;+CEREG?")), None);
        assert!(name_of("+CREG: 1", Some("AT+CSQ")).is_some());
        assert!(name_of("+CREG: 1", Some("AT+CREG=2")).is_some());
        assert!(name_of("+CUSD: 0,\"x\",15", Some("AT+CUSD=1,\"*100#\",15")).is_some());
        assert!(name_of("+CREG: 1", Some("AT+CREGX?")).is_some());
    }
}
