//! The commands the session writes, the labels it may log for them, and the parsers of
//! their information lines. Parsers are total: a line they do not understand is `None`.

use crate::proto::sms::EncodedPdu;

/// One command of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// ESC alone, to abort a PDU a previous run left half typed. No answer is expected:
    /// the session lets the modem settle and swallows any result it sends meanwhile.
    Escape,
    /// `AT`.
    Attention,
    /// `ATE0`.
    EchoOff,
    /// `AT+CMEE=1`: numeric `+CME ERROR` codes.
    ErrorCodes,
    /// `AT+CPIN?`.
    PinQuery,
    /// `AT+CPIN="<pin>"`; the PIN comes from the config when the bytes are built.
    PinEnter,
    /// `AT+CREG?`.
    Creg,
    /// `AT+CEREG?`.
    Cereg,
    /// `AT+CSQ`.
    Signal,
    /// `AT+CMGF=0`: PDU mode.
    PduMode,
    /// `AT+CNMI=2,1,0,1,0`: `+CMTI` for stored messages, `+CDS` for status reports.
    Indications,
    /// `AT+CSCA="<number>"`.
    ServiceCentre(String),
    /// `AT+CMGS=<tpdu_len>`, then the PDU and Ctrl-Z after the prompt.
    Submit { tag: u64, pdu: EncodedPdu },
    /// `AT+CNMA`: acknowledges a `+CDS` / `+CMT`.
    Ack,
    /// `AT+CMGR=<index>`.
    Read(u32),
    /// `AT+CMGD=<index>`.
    Delete(u32),
}

impl Command {
    /// The command line without its `\r`, for everything but [`Command::Escape`] and
    /// [`Command::PinEnter`], whose bytes [`Command::bytes`] builds. Safe to log.
    pub fn label(&self) -> String {
        match self {
            Command::Escape => "<ESC>".to_owned(),
            Command::Attention => "AT".to_owned(),
            Command::EchoOff => "ATE0".to_owned(),
            Command::ErrorCodes => "AT+CMEE=1".to_owned(),
            Command::PinQuery => "AT+CPIN?".to_owned(),
            Command::PinEnter => "AT+CPIN=<redacted>".to_owned(),
            Command::Creg => "AT+CREG?".to_owned(),
            Command::Cereg => "AT+CEREG?".to_owned(),
            Command::Signal => "AT+CSQ".to_owned(),
            Command::PduMode => "AT+CMGF=0".to_owned(),
            Command::Indications => "AT+CNMI=2,1,0,1,0".to_owned(),
            Command::ServiceCentre(number) => format!("AT+CSCA=\"{number}\""),
            Command::Submit { pdu, .. } => format!("AT+CMGS={}", pdu.tpdu_len),
            Command::Ack => "AT+CNMA".to_owned(),
            Command::Read(index) => format!("AT+CMGR={index}"),
            Command::Delete(index) => format!("AT+CMGD={index}"),
        }
    }

    /// The bytes to write. `pin` is used by [`Command::PinEnter`] only; `None` there gives
    /// an empty PIN, which the SIM refuses (the session never gets that far without one).
    pub fn bytes(&self, pin: Option<&str>) -> Vec<u8> {
        match self {
            Command::Escape => vec![0x1b],
            Command::PinEnter => format!("AT+CPIN=\"{}\"\r", pin.unwrap_or_default()).into_bytes(),
            other => format!("{}\r", other.label()).into_bytes(),
        }
    }
}

/// The comma-separated fields after `<prefix>` (`+CSQ:`), trimmed; `None` if the line does
/// not start with it.
fn fields<'a>(line: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = line.strip_prefix(prefix)?;
    Some(rest.split(',').map(str::trim).collect())
}

/// `<stat>` of a `+CREG: <n>,<stat>[,…]` (or `+CEREG:`) read answer. A lone field is taken
/// as the stat, as in the unsolicited form some modems send to the read.
pub fn registration_stat(line: &str, prefix: &str) -> Option<u8> {
    let f = fields(line, prefix)?;
    let stat = match f.as_slice() {
        [only] => only,
        [_, stat, ..] => stat,
        [] => return None,
    };
    stat.parse().ok()
}

/// Registered on the home network (1) or roaming (5).
pub fn is_registered(stat: u8) -> bool {
    stat == 1 || stat == 5
}

/// `+CSQ: <rssi>,<ber>` in dBm: `-113 + 2 * rssi` for 0..=31, `None` for 99 (unknown) and
/// anything out of range.
pub fn signal_dbm(line: &str) -> Option<i32> {
    let rssi: i32 = fields(line, "+CSQ:")?.first()?.parse().ok()?;
    (0..=31).contains(&rssi).then_some(-113 + 2 * rssi)
}

/// `<mr>` of `+CMGS: <mr>[,<ackpdu>]`.
pub fn message_reference(line: &str) -> Option<u8> {
    fields(line, "+CMGS:")?.first()?.parse().ok()
}

/// `<value>` of `+CPIN: <value>`, e.g. `READY`, `SIM PIN`.
pub fn pin_state(line: &str) -> Option<&str> {
    line.strip_prefix("+CPIN:").map(str::trim)
}

/// `<index>` of `+CMTI: <mem>,<index>` / `+CDSI: <mem>,<index>`: the last field.
pub fn storage_index(text: &str) -> Option<u32> {
    text.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_stats() {
        let table: &[(&str, &str, Option<u8>)] = &[
            ("+CREG: 0,1", "+CREG:", Some(1)),
            ("+CREG: 2,5,\"00C3\",\"0010\",7", "+CREG:", Some(5)),
            ("+CREG: 0,2", "+CREG:", Some(2)),
            ("+CEREG: 0,1", "+CEREG:", Some(1)),
            ("+CREG: 3", "+CREG:", Some(3)),
            ("+CREG: 0,x", "+CREG:", None),
            ("+CEREG: 0,1", "+CREG:", None),
            ("OK", "+CREG:", None),
        ];
        for (line, prefix, want) in table {
            assert_eq!(registration_stat(line, prefix), *want, "{line}");
        }
        assert!(is_registered(1) && is_registered(5));
        assert!(!is_registered(0) && !is_registered(2) && !is_registered(3));
    }

    #[test]
    fn csq_to_dbm() {
        let table: &[(&str, Option<i32>)] = &[
            ("+CSQ: 0,99", Some(-113)),
            ("+CSQ: 21,99", Some(-71)),
            ("+CSQ: 31,0", Some(-51)),
            ("+CSQ: 99,99", None),
            ("+CSQ: 32,99", None),
            ("+CSQ: ,99", None),
            ("+CREG: 0,1", None),
        ];
        for (line, want) in table {
            assert_eq!(signal_dbm(line), *want, "{line}");
        }
    }

    #[test]
    fn small_parsers() {
        assert_eq!(message_reference("+CMGS: 42"), Some(42));
        assert_eq!(message_reference("+CMGS: 7,\"0011\""), Some(7));
        assert_eq!(message_reference("+CMGS: 300"), None);
        assert_eq!(pin_state("+CPIN: SIM PIN"), Some("SIM PIN"));
        assert_eq!(pin_state("+CPIN: READY"), Some("READY"));
        assert_eq!(storage_index("\"SM\",3"), Some(3));
        assert_eq!(storage_index("\"SR\", 12"), Some(12));
        assert_eq!(storage_index("\"SM\""), None);
    }

    #[test]
    fn bytes_and_labels() {
        assert_eq!(Command::Escape.bytes(None), vec![0x1b]);
        assert_eq!(Command::Indications.bytes(None), b"AT+CNMI=2,1,0,1,0\r");
        assert_eq!(Command::PinEnter.bytes(Some("1234")), b"AT+CPIN=\"1234\"\r");
        assert!(!Command::PinEnter.label().contains("1234"));
        let pdu = EncodedPdu {
            hex: "0001".to_owned(),
            tpdu_len: 23,
        };
        assert_eq!(Command::Submit { tag: 1, pdu }.bytes(None), b"AT+CMGS=23\r");
    }
}
