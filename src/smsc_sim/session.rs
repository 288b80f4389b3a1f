//! One connection's SMPP state: binds, submits and their faults, receipts in flight. It
//! takes decoded frames and appends replies to `out`; the socket is `conn`'s business.
//!
//! ```text
//!             bind ok            unbind               unbind_resp due
//! Open ───────────────► Open ─────────────► Draining ────────────────► Closing
//! (unbound)             (bound)                                           │ out written
//!   │                     │ Nth submit with --drop-after                  ▼
//!   │ bad command_length  │ or bad command_length                       closed
//!   └─────────────────────┴──────────────► Dropping ── out written ──► closed
//! ```

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::BytesMut;
use rusmpp::{CommandId, CommandStatus, Pdu, pdus::SubmitSm};
use tokio::{sync::mpsc::UnboundedSender, time::Instant};

use super::{
    Shared,
    faults::{self, Refusal, Verdict},
    receipt::{Receipt, message_body},
    reply::{BindKind, Reply},
    stats::bump,
    wire::{self, BadLength, Frame},
};

/// Receipts written and not yet answered, per connection; past this the session waits for
/// `deliver_sm_resp`s before sending more, like an SMSC's window.
const RECEIPT_WINDOW: usize = 4_096;
/// Past this many unwritten bytes the session stops reading and pulling receipts until the
/// client reads what it has been sent.
const OUT_HIGH_WATER: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Reading requests.
    Open,
    /// Unbind received: not reading; its response may still be held back by `--stall`.
    Draining,
    /// The unbind_resp is in `out`: close once it is written.
    Closing,
    /// Close once `out` is written, dropping held-back responses (`--drop-after`, a stream
    /// that lost its framing).
    Dropping,
}

#[derive(Debug)]
pub(super) struct Session {
    shared: Arc<Shared>,
    connection: u64,
    bound: Option<BindKind>,
    /// submit_sm of a bound transmitter on this connection, for the "every Nth" faults.
    submits: u32,
    /// Sequence number of the last request this side sent (receipts, garbage).
    last_seq: u32,
    /// Bytes for the socket, written by `conn` whenever it can.
    pub out: BytesMut,
    /// Replies held back by `--stall`, due times in order as the stall is fixed.
    stalled: VecDeque<(Instant, Reply)>,
    /// Receipts sent and not yet answered, by sequence number.
    in_flight: HashMap<u32, Receipt>,
    /// This connection's way in from the hub; given to it once a receiver bind is answered.
    receipts_tx: UnboundedSender<Receipt>,
    attached: bool,
    pub flow: Flow,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl Session {
    pub fn new(
        shared: Arc<Shared>,
        connection: u64,
        receipts_tx: UnboundedSender<Receipt>,
    ) -> Self {
        Session {
            shared,
            connection,
            bound: None,
            submits: 0,
            last_seq: 0,
            out: BytesMut::with_capacity(16 * 1024),
            stalled: VecDeque::new(),
            in_flight: HashMap::new(),
            receipts_tx,
            attached: false,
            flow: Flow::Open,
        }
    }

    pub fn reading(&self) -> bool {
        self.flow == Flow::Open && self.out.len() < OUT_HIGH_WATER
    }

    pub fn wants_receipts(&self) -> bool {
        self.attached
            && self.flow == Flow::Open
            && self.in_flight.len() < RECEIPT_WINDOW
            && self.out.len() < OUT_HIGH_WATER
    }

    /// All said: the connection can close.
    pub fn done(&self) -> bool {
        matches!(self.flow, Flow::Closing | Flow::Dropping) && self.out.is_empty()
    }

    /// When the next held-back reply is due, if one waits.
    pub fn next_release(&self) -> Option<Instant> {
        match self.flow {
            Flow::Open | Flow::Draining => self.stalled.front().map(|(due, _)| *due),
            Flow::Closing | Flow::Dropping => None,
        }
    }

    /// Writes the held-back replies that are due by `now`.
    pub fn release(&mut self, now: Instant) {
        while let Some((due, _)) = self.stalled.front() {
            if *due > now {
                break;
            }
            if let Some((_, reply)) = self.stalled.pop_front() {
                self.emit(reply);
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        // SMPP sequence numbers run 1..=0x7FFFFFFF.
        self.last_seq = if self.last_seq >= 0x7FFF_FFFF {
            1
        } else {
            self.last_seq + 1
        };
        self.last_seq
    }

    fn reply(&mut self, reply: Reply) {
        match self.shared.args.stall {
            Some(stall) if !stall.is_zero() => {
                self.stalled.push_back((Instant::now() + stall, reply));
            }
            _ => self.emit(reply),
        }
    }

    fn header(&mut self, command_id: CommandId, status: CommandStatus, seq: u32) {
        self.reply(Reply::header(command_id, status, seq));
    }

    fn emit(&mut self, reply: Reply) {
        reply.encode(&mut self.out);
        match reply {
            Reply::Bind { kind, status, .. }
                if status == CommandStatus::EsmeRok && kind.receives() && !self.attached =>
            {
                // Only now, so that no receipt goes out before the bind_resp.
                self.attached = true;
                let tx = self.receipts_tx.clone();
                self.shared.hub.attach(self.connection, tx);
            }
            Reply::Close => self.flow = Flow::Closing,
            _ => {}
        }
    }

    /// The stream lost its framing: say so and close.
    pub fn on_bad_length(&mut self, error: &BadLength) {
        tracing::debug!(connection = self.connection, %error, "smsc-sim: closing");
        let seq = error.sequence_number.unwrap_or(0);
        Reply::header(CommandId::GenericNack, CommandStatus::EsmeRinvcmdlen, seq)
            .encode(&mut self.out);
        self.flow = Flow::Dropping;
    }

    pub fn on_frame(&mut self, frame: Frame) {
        let (seq, command_id) = (frame.sequence_number, frame.command_id);
        let command = match frame.decode() {
            Ok(command) => command,
            Err(error) => {
                tracing::debug!(connection = self.connection, command_id, %error, "smsc-sim: undecodable PDU");
                return self.header(CommandId::GenericNack, CommandStatus::EsmeRinvcmdlen, seq);
            }
        };
        let bind = match command.pdu() {
            Some(Pdu::BindTransmitter(b)) => {
                Some((BindKind::Transmitter, &b.system_id, &b.password))
            }
            Some(Pdu::BindReceiver(b)) => Some((BindKind::Receiver, &b.system_id, &b.password)),
            Some(Pdu::BindTransceiver(b)) => {
                Some((BindKind::Transceiver, &b.system_id, &b.password))
            }
            _ => None,
        };
        if let Some((kind, system_id, password)) = bind {
            return self.bind(kind, system_id.as_str(), password.as_str(), seq);
        }
        match command.pdu() {
            Some(Pdu::SubmitSm(submit)) => self.submit(submit, seq),
            Some(Pdu::EnquireLink) => {
                self.header(CommandId::EnquireLinkResp, CommandStatus::EsmeRok, seq)
            }
            Some(Pdu::Unbind) => {
                // Before the replies: without a stall, Close sets Closing at once.
                self.flow = Flow::Draining;
                self.header(CommandId::UnbindResp, CommandStatus::EsmeRok, seq);
                self.reply(Reply::Close);
            }
            _ if command.id() == CommandId::DeliverSmResp => {
                self.receipt_answered(seq, command.status());
            }
            // Responses to what this side sent (a client's generic_nack of the garbage PDU
            // among them) need nothing more.
            _ if command_id & 0x8000_0000 != 0 => {}
            // A known request without its body.
            None if !matches!(command.id(), CommandId::Other(_)) => {
                self.header(CommandId::GenericNack, CommandStatus::EsmeRinvcmdlen, seq);
            }
            // An unknown command id, or a request the simulator does not serve.
            _ => self.header(CommandId::GenericNack, CommandStatus::EsmeRinvcmdid, seq),
        }
    }

    fn bind(&mut self, kind: BindKind, system_id: &str, password: &str, seq: u32) {
        let args = &self.shared.args;
        let status = if self.bound.is_some() {
            CommandStatus::EsmeRalybnd
        } else if args.refuse_binds {
            CommandStatus::EsmeRbindfail
        } else if system_id != args.system_id {
            CommandStatus::EsmeRinvsysid
        } else if password != args.password {
            CommandStatus::EsmeRinvpaswd
        } else {
            CommandStatus::EsmeRok
        };
        if status == CommandStatus::EsmeRok {
            self.bound = Some(kind);
            bump(&self.shared.counters.binds_ok);
        } else {
            tracing::debug!(
                connection = self.connection,
                ?status,
                "smsc-sim: bind refused"
            );
            bump(&self.shared.counters.binds_refused);
        }
        self.reply(Reply::Bind { kind, status, seq });
    }

    fn submit(&mut self, submit: &SubmitSm, seq: u32) {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters;
        bump(&counters.submits);
        if !self.bound.is_some_and(BindKind::transmits) {
            bump(&counters.rejected);
            return self.header(CommandId::SubmitSmResp, CommandStatus::EsmeRinvbndsts, seq);
        }
        self.submits = self.submits.saturating_add(1);
        let n = self.submits;
        match faults::judge(&shared.args, n) {
            Verdict::Drop => {
                tracing::debug!(
                    connection = self.connection,
                    n,
                    "smsc-sim: dropping the connection (--drop-after)"
                );
                self.flow = Flow::Dropping;
                return;
            }
            Verdict::Silence => return,
            Verdict::Refuse(refusal) => {
                bump(match refusal {
                    Refusal::Throttled => &counters.throttled,
                    Refusal::QueueFull => &counters.queue_full,
                    Refusal::Rejected => &counters.rejected,
                });
                self.header(CommandId::SubmitSmResp, refusal.status(), seq);
            }
            Verdict::Accept => {
                let message_id = super::next_message_id();
                bump(&counters.submits_ok);
                let body = message_body(submit);
                let data_coding = u8::from(submit.data_coding);
                counters.record_message(submit.destination_addr.as_str(), body, data_coding);
                if let Some(recorder) = &shared.recorder {
                    let id = format!("{message_id:X}");
                    recorder.accepted(&id, submit.destination_addr.as_str());
                }
                self.reply(Reply::SubmitOk { seq, message_id });
                if u8::from(submit.registered_delivery) & 1 != 0 {
                    let receipt =
                        Receipt::new(submit, body, message_id, self.connection, unix_now());
                    shared.hub.schedule(receipt);
                }
            }
        }
        if faults::garbage_after(&shared.args, n) {
            let seq = self.next_seq();
            let command_id = wire::GARBAGE_COMMAND_ID;
            self.reply(Reply::Header {
                command_id,
                status: 0,
                seq,
            });
        }
    }

    /// Writes a receipt the hub routed here.
    pub fn send_receipt(&mut self, receipt: Receipt) {
        let seq = self.next_seq();
        match receipt.to_deliver_sm(seq, &self.shared.style, unix_now()) {
            Ok(command) => {
                wire::put_command(&mut self.out, &command);
                bump(&self.shared.counters.receipts_sent);
                self.in_flight.insert(seq, receipt);
            }
            Err(error) => {
                tracing::warn!(message_id = receipt.message_id, %error, "smsc-sim: dropping a receipt");
            }
        }
    }

    fn receipt_answered(&mut self, seq: u32, answer: CommandStatus) {
        match self.in_flight.remove(&seq) {
            Some(_) if answer == CommandStatus::EsmeRok => {
                bump(&self.shared.counters.receipts_acked)
            }
            // Refused by the client: a real SMSC might retry; the simulator only notes it.
            Some(receipt) => {
                tracing::debug!(
                    message_id = receipt.message_id,
                    ?answer,
                    "smsc-sim: receipt refused"
                );
            }
            None => tracing::debug!(seq, "smsc-sim: deliver_sm_resp for no receipt"),
        }
    }

    /// The connection is over: receipts routed here but not answered go back to the hub.
    pub fn finish(mut self, unsent: impl IntoIterator<Item = Receipt>) {
        if self.attached {
            self.shared.hub.detach(self.connection);
        }
        let unanswered = self.in_flight.drain().map(|(_, receipt)| receipt);
        let mut back: Vec<Receipt> = unanswered.chain(unsent).collect();
        back.sort_by_key(|receipt| receipt.message_id);
        self.shared.hub.reroute(back);
    }
}
