//! The fault flags as pure functions of a connection's submit count, so that the rules
//! (which flag wins, where counting starts, what 0 means) are tested as a table.

use rusmpp::CommandStatus;

use super::SimArgs;

/// What the simulator does with the Nth `submit_sm` of a bound transmitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Close the connection without answering (`--drop-after`).
    Drop,
    /// Never answer; the link stays open (`--stall-after`).
    Silence,
    /// Answer with an error.
    Refuse(Refusal),
    /// Answer with a message id.
    Accept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// ESME_RTHROTTLED (`--throttle-every`).
    Throttled,
    /// ESME_RMSGQFUL (`--queue-full-every`).
    QueueFull,
    /// ESME_RINVDSTADR (`--reject-every`).
    Rejected,
}

impl Refusal {
    pub fn status(self) -> CommandStatus {
        match self {
            Refusal::Throttled => CommandStatus::EsmeRthrottled,
            Refusal::QueueFull => CommandStatus::EsmeRmsgqful,
            Refusal::Rejected => CommandStatus::EsmeRinvdstadr,
        }
    }
}

/// True for every `every`th count; `None` and 0 never are.
fn every(every: Option<u32>, n: u32) -> bool {
    every.is_some_and(|every| every != 0 && n.is_multiple_of(every))
}

/// The verdict on submit number `n` (from 1) of a connection.
pub(super) fn judge(args: &SimArgs, n: u32) -> Verdict {
    if args
        .drop_after
        .is_some_and(|limit| limit != 0 && n >= limit)
    {
        Verdict::Drop
    } else if args.stall_after.is_some_and(|limit| n > limit) {
        Verdict::Silence
    } else if every(args.throttle_every, n) {
        // Throttling first: it is the fault a client must handle most gently (pause, then
        // retry the same message), so a tie should exercise it.
        Verdict::Refuse(Refusal::Throttled)
    } else if every(args.queue_full_every, n) {
        Verdict::Refuse(Refusal::QueueFull)
    } else if every(args.reject_every, n) {
        Verdict::Refuse(Refusal::Rejected)
    } else {
        Verdict::Accept
    }
}

/// Whether the garbage PDU follows the response to submit number `n`.
pub(super) fn garbage_after(args: &SimArgs, n: u32) -> bool {
    every(args.garbage_every, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(flags: &[&str], count: u32) -> Vec<Verdict> {
        let args = SimArgs::from_flags(flags).unwrap();
        (1..=count).map(|n| judge(&args, n)).collect()
    }

    use Refusal::*;
    use Verdict::*;

    #[test]
    fn no_flags_accept_everything() {
        assert_eq!(verdicts(&[], 3), [Accept; 3]);
    }

    #[test]
    fn every_nth_counts_from_one_and_zero_is_off() {
        let table: [(&[&str], [Verdict; 4]); 5] = [
            (
                &["--throttle-every", "2"],
                [Accept, Refuse(Throttled), Accept, Refuse(Throttled)],
            ),
            (
                &["--queue-full-every", "3"],
                [Accept, Accept, Refuse(QueueFull), Accept],
            ),
            (&["--reject-every", "1"], [Refuse(Rejected); 4]),
            (
                &["--reject-every", "0", "--throttle-every", "0"],
                [Accept; 4],
            ),
            (
                &[
                    "--reject-every",
                    "2",
                    "--queue-full-every",
                    "2",
                    "--throttle-every",
                    "4",
                ],
                [Accept, Refuse(QueueFull), Accept, Refuse(Throttled)],
            ),
        ];
        for (flags, expected) in table {
            assert_eq!(verdicts(flags, 4), expected, "{flags:?}");
        }
    }

    #[test]
    fn drop_and_stall_come_before_every_answer() {
        assert_eq!(
            verdicts(&["--drop-after", "3"], 4),
            [Accept, Accept, Drop, Drop]
        );
        assert_eq!(verdicts(&["--drop-after", "0"], 2), [Accept; 2]);
        let stall = ["--stall-after", "1", "--throttle-every", "1"];
        assert_eq!(verdicts(&stall, 3), [Refuse(Throttled), Silence, Silence]);
        assert_eq!(verdicts(&["--stall-after", "0"], 1), [Silence]);
        let both = ["--stall-after", "1", "--drop-after", "3"];
        assert_eq!(verdicts(&both, 3), [Accept, Silence, Drop]);
    }

    #[test]
    fn garbage_follows_every_nth() {
        let args = SimArgs::from_flags(["--garbage-every", "3"]).unwrap();
        let after: Vec<bool> = (1..=6).map(|n| garbage_after(&args, n)).collect();
        assert_eq!(after, [false, false, true, false, false, true]);
    }
}
