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
        // ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RX_T_APPN (temporary application error)
        0x58 | 0x14 | 0x64 => Verdict::Pause(Duration::from_secs(1)),
        // About the destination itself: ESME_RINVDSTADR, ESME_RINVDSTTON, ESME_RINVDSTNPI,
        // ESME_RX_P_APPN (permanent application error), ESME_RDELIVERYFAILURE.
        0x0B | 0x50 | 0x51 | 0x65 | 0xFE => Verdict::Permanent,
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
        0x06 => "ESME_RINVPRTFLG",
        0x07 => "ESME_RINVREGDLVFLG",
        0x08 => "ESME_RSYSERR",
        0x0A => "ESME_RINVSRCADR",
        0x0B => "ESME_RINVDSTADR",
        0x0C => "ESME_RINVMSGID",
        0x0D => "ESME_RBINDFAIL",
        0x0E => "ESME_RINVPASWD",
        0x0F => "ESME_RINVSYSID",
        0x11 => "ESME_RCANCELFAIL",
        0x13 => "ESME_RREPLACEFAIL",
        0x14 => "ESME_RMSGQFUL",
        0x15 => "ESME_RINVSERTYP",
        0x33 => "ESME_RINVNUMDESTS",
        0x34 => "ESME_RINVDLNAME",
        0x40 => "ESME_RINVDESTFLAG",
        0x42 => "ESME_RINVSUBREP",
        0x43 => "ESME_RINVESMCLASS",
        0x44 => "ESME_RCNTSUBDL",
        0x45 => "ESME_RSUBMITFAIL",
        0x48 => "ESME_RINVSRCTON",
        0x49 => "ESME_RINVSRCNPI",
        0x50 => "ESME_RINVDSTTON",
        0x51 => "ESME_RINVDSTNPI",
        0x53 => "ESME_RINVSYSTYP",
        0x54 => "ESME_RINVREPFLAG",
        0x55 => "ESME_RINVNUMMSGS",
        0x58 => "ESME_RTHROTTLED",
        0x61 => "ESME_RINVSCHED",
        0x62 => "ESME_RINVEXPIRY",
        0x63 => "ESME_RINVDFTMSGID",
        0x64 => "ESME_RX_T_APPN",
        0x65 => "ESME_RX_P_APPN",
        0x66 => "ESME_RX_R_APPN",
        0x67 => "ESME_RQUERYFAIL",
        0xC0 => "ESME_RINVOPTPARSTREAM",
        0xC1 => "ESME_ROPTPARNOTALLWD",
        0xC2 => "ESME_RINVPARLEN",
        0xC3 => "ESME_RMISSINGOPTPARAM",
        0xC4 => "ESME_RINVOPTPARAMVAL",
        0xFE => "ESME_RDELIVERYFAILURE",
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
        assert_eq!(verdict(0x45), Verdict::Failover);
        assert_eq!(verdict(0x51), Verdict::Permanent);
        assert_eq!(verdict(0x04), Verdict::Failover);
    }

    #[test]
    fn names() {
        assert_eq!(name(0x0B), "ESME_RINVDSTADR (0x0000000B)");
        assert_eq!(name(0x1234), "0x00001234");
    }
}
