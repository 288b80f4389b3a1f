//! SMPP command_status values: their names (for logs and records) and what each means for
//! the message: retry it here, fail over to another channel, or give up on it.

use std::time::Duration;

/// What to do with a message that a submit_sm_resp refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The SMSC is busy: pause this message (and the link), then try again here.
    Pause(Duration),
    /// Nothing another attempt anywhere would change (a bad number): the message ends.
    Permanent,
    /// This link cannot take it now (bind or system trouble): another channel may.
    Failover,
}

pub fn verdict(status: u32) -> Verdict {
    match status {
        0x58 | 0x14 => Verdict::Pause(Duration::from_secs(1)), // ESME_RTHROTTLED, ESME_RMSGQFUL
        0x0A | 0x0B | 0x0C | 0x33 | 0x34 | 0x42 | 0x43 | 0x44 | 0x45 | 0x48 | 0x49 | 0x50
        | 0x51 | 0x61 | 0x62 | 0x66 => Verdict::Permanent,
        _ => Verdict::Failover,
    }
}

/// The SMPP 3.4 name of a command_status, or its hex value.
pub fn name(status: u32) -> String {
    let known = match status {
        0x00 => "ESME_ROK",
        0x01 => "ESME_RINVMSGLEN",
        0x02 => "ESME_RINVCMDLEN",
        0x03 => "ESME_RINVCMDID",
        0x04 => "ESME_RINVBNDSTS",
        0x05 => "ESME_RALYBND",
        0x08 => "ESME_RSYSERR",
        0x0A => "ESME_RINVSRCADR",
        0x0B => "ESME_RINVDSTADR",
        0x0C => "ESME_RINVMSGID",
        0x0D => "ESME_RBINDFAIL",
        0x0E => "ESME_RINVPASWD",
        0x0F => "ESME_RINVSYSID",
        0x14 => "ESME_RMSGQFUL",
        0x15 => "ESME_RINVSERTYP",
        0x33 => "ESME_RINVNUMDESTS",
        0x34 => "ESME_RINVDLNAME",
        0x42 => "ESME_RINVSRCTON",
        0x43 => "ESME_RINVSRCNPI",
        0x44 => "ESME_RINVDSTTON",
        0x45 => "ESME_RINVDSTNPI",
        0x48 => "ESME_RINVSYSTYP",
        0x49 => "ESME_RINVREPFLAG",
        0x50 => "ESME_RINVESMCLASS",
        0x51 => "ESME_RCNTSUBDL",
        0x53 => "ESME_RSUBMITFAIL",
        0x58 => "ESME_RTHROTTLED",
        0x61 => "ESME_RINVSCHED",
        0x62 => "ESME_RINVEXPIRY",
        0x66 => "ESME_RX_P_APPN",
        0xFF => "ESME_RUNKNOWNERR",
        _ => "",
    };
    if known.is_empty() {
        format!("0x{status:08X}")
    } else {
        format!("{known} (0x{status:08X})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(verdict(0x58), Verdict::Pause(Duration::from_secs(1)));
        assert_eq!(verdict(0x14), Verdict::Pause(Duration::from_secs(1)));
        assert_eq!(verdict(0x0B), Verdict::Permanent);
        assert_eq!(verdict(0x08), Verdict::Failover);
        assert_eq!(verdict(0x04), Verdict::Failover);
    }

    #[test]
    fn names() {
        assert_eq!(name(0x0B), "ESME_RINVDSTADR (0x0000000B)");
        assert_eq!(name(0x1234), "0x00001234");
    }
}
