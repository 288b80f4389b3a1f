//! What a failed `AT+CMS` send means for the message: `+CMS ERROR` codes (3GPP TS 27.005
//! §3.2.5) mapped to retry, fail over or reject. Codes below 128 are RP-cause values the
//! network gave (TS 24.011 Annex E-2), 128–255 TP-FCS values from the SMSC (TS 23.040
//! §9.2.3.22), 300 and up the modem's own. hw/README.md has the same table for operators.

use crate::channel::SubmitOutcome;
use crate::model::DeliveryState;
use std::time::Duration;

/// How long the same modem waits before it tries a message again after a passing error.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What to do about a send that failed with `cms` (`None`: a plain `ERROR`, a timeout, a
/// closed device). `error` is the text the dispatcher records.
pub fn outcome(cms: Option<u16>, error: String) -> SubmitOutcome {
    let Some(code) = cms else {
        return SubmitOutcome::Retry {
            after: RETRY_AFTER,
            error,
        };
    };
    let error = match name(code) {
        Some(name) => format!("{error} ({name})"),
        None => error,
    };
    match code {
        // Passing trouble in the network, the SMSC or the modem: the same modem will do.
        27 | 38 | 41 | 42 | 47 | 192 | 314 | 332 | 500 | 512.. => SubmitOutcome::Retry {
            after: RETRY_AFTER,
            error,
        },
        // The number itself: no other channel would do better.
        1 | 195 | 196 => SubmitOutcome::Reject {
            state: DeliveryState::Rejected,
            error,
        },
        // This SIM or modem cannot send now (barred, no credit, no network, SIM trouble).
        _ => SubmitOutcome::Failover { error },
    }
}

/// The standard name of a code, for logs and the recorded error.
pub fn name(code: u16) -> Option<&'static str> {
    Some(match code {
        1 => "unassigned number",
        8 => "operator determined barring",
        10 => "call barred",
        21 => "short message transfer rejected",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable",
        50 => "requested facility not subscribed",
        69 => "requested facility not implemented",
        81 => "invalid short message reference",
        95 => "invalid message",
        96 => "invalid mandatory information",
        97 => "message type non-existent",
        98 => "message not compatible with protocol state",
        99 => "information element non-existent",
        111 => "protocol error",
        127 => "interworking unspecified",
        128..=143 => "TP-PID error",
        144..=159 => "TP-DCS error",
        192 => "SC busy",
        193 => "no SC subscription",
        194 => "SC system failure",
        195 => "invalid SME address",
        196 => "destination SME barred",
        197 => "SM rejected, duplicate",
        198 => "TP-VPF not supported",
        199 => "TP-VP not supported",
        208 => "SIM SMS storage full",
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(cms: Option<u16>) -> &'static str {
        match outcome(cms, "x".into()) {
            SubmitOutcome::Retry { .. } => "retry",
            SubmitOutcome::Failover { .. } => "failover",
            SubmitOutcome::Reject { .. } => "reject",
            SubmitOutcome::Accepted { .. } => "accepted",
        }
    }

    #[test]
    fn codes_map_to_what_the_hardware_guide_says() {
        let table: &[(Option<u16>, &str)] = &[
            (None, "retry"),
            (Some(27), "retry"),
            (Some(38), "retry"),
            (Some(42), "retry"),
            (Some(192), "retry"),
            (Some(314), "retry"),
            (Some(332), "retry"),
            (Some(500), "retry"),
            (Some(515), "retry"),
            (Some(1), "reject"),
            (Some(195), "reject"),
            (Some(196), "reject"),
            (Some(8), "failover"),
            (Some(21), "failover"),
            (Some(30), "failover"),
            (Some(193), "failover"),
            (Some(310), "failover"),
            (Some(330), "failover"),
            (Some(331), "failover"),
        ];
        for (cms, want) in table {
            assert_eq!(kind(*cms), *want, "{cms:?}");
        }
    }

    #[test]
    fn the_error_names_the_code() {
        let SubmitOutcome::Failover { error } = outcome(Some(330), "+CMS ERROR: 330".into()) else {
            panic!()
        };
        assert_eq!(error, "+CMS ERROR: 330 (SMSC address unknown)");
    }
}
