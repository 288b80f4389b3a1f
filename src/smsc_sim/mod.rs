//! `otpd smsc-sim`: an SMSC simulator (an SMPP 3.4 server) for loopback tests and
//! benchmarks of the `smpp` channel.
//!
//! It accepts any number of connections. A bind (transmitter, receiver or transceiver) must
//! give `--system-id` and `--password` (else ESME_RINVSYSID / ESME_RINVPASWD) and is answered
//! with system_id `smsc-sim` and sc_interface_version 0x34. Each accepted `submit_sm` gets
//! the next message id of a per-process counter, in upper-case hex. When its
//! registered_delivery asks for a receipt (bit 0), a `deliver_sm` receipt (esm_class 0x04,
//! `stat:` from `--dlr-stat`, with receipted_message_id and message_state TLVs) follows
//! after `--dlr-delay` on a receiver or transceiver session: the submitting connection when
//! it is a transceiver. Receipts wait for a receiver to bind, and a connection that closes
//! before answering a receipt hands it back, so a reconnecting client gets them all.
//! `enquire_link` and `unbind` are answered; what cannot be decoded gets a `generic_nack`.
//!
//! # Fault injection
//!
//! Counts are per connection and count the `submit_sm`s of a bound transmitter or
//! transceiver, from 1. Where several "every Nth" flags hit the same submit, throttling wins
//! over queue-full, which wins over rejection. An `N` of 0 turns an every-Nth flag and
//! `--drop-after` off, while `--stall-after 0` leaves every submit unanswered.
//!
//! - `--throttle-every N`: every Nth `submit_sm` is answered with ESME_RTHROTTLED (0x58).
//! - `--queue-full-every N`: every Nth is answered with ESME_RMSGQFUL (0x14).
//! - `--reject-every N`: every Nth is answered with ESME_RINVDSTADR (0x0B).
//! - `--drop-after N`: the Nth `submit_sm` is not answered; the responses already due are
//!   written and the connection is closed (responses held back by `--stall` are lost).
//! - `--stall DUR`: every response (binds, submits, enquire_link, unbind) goes out DUR
//!   late, in order. Receipts are not held back, so with a stall longer than `--dlr-delay`
//!   a receipt can overtake its `submit_sm_resp`, as it sometimes does on real links.
//! - `--stall-after N`: `submit_sm`s after the Nth get no answer at all; the link stays
//!   open and `enquire_link` is still answered (a stuck SMSC, not a dead one).
//! - `--garbage-every N`: after the response to every Nth `submit_sm`, a PDU with a valid
//!   header and the unassigned command id 0x00000099 (a client should `generic_nack` it).
//! - `--refuse-binds`: every bind is answered with ESME_RBINDFAIL (0x0D); the connection
//!   stays open for another try.
//! - `--receipt-id-format hex|decimal`: how the receipt's `id:` field and its
//!   receipted_message_id show the message id (`submit_sm_resp` always gives hex), to
//!   exercise the client's id normalisation.
//! - `--receipt-tlvs false`: receipts carry only the text, no TLVs.
//!
//! `--record FILE` appends a JSON line per accepted `submit_sm` (message id and destination,
//! not the text): what a test in another process counts, e.g. duplicates in the crash loop.
//!
//! # Layout
//!
//! - `wire`: framing and encoding, no I/O.
//! - `session`: one connection's protocol state (binds, submits, receipts in flight);
//!   `faults`: the fault flags as pure rules; `reply`: replies and their bytes.
//! - `conn`: the task that moves bytes between the socket and a session.
//! - `hub`: receipts waiting for their delay and for a receiver.
//! - `receipt`: the receipt's text and `deliver_sm`; `stats`: the counters; `record`: the
//!   `--record` file.

mod conn;
mod faults;
mod hub;
mod receipt;
mod record;
mod reply;
mod session;
mod stats;
mod wire;

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod test_client;
#[cfg(test)]
mod tests;

use std::{
    net::SocketAddr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use stats::{MESSAGE_LOG_CAP, Stats};

use hub::Hub;
use receipt::{ReceiptStyle, Stat};
use stats::{Counters, bump};

/// How a receipt shows the message id.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// Upper-case hex, as in `submit_sm_resp`.
    #[default]
    Hex,
    /// The same number in decimal.
    Decimal,
}

/// An SMSC simulator (SMPP 3.4 server) for loopback tests and benchmarks; the fault flags
/// below make it misbehave on purpose.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// The system_id a bind must give.
    #[arg(long, default_value = "otpd")]
    pub system_id: String,
    /// The password a bind must give.
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// How long after the submit a receipt is sent.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub dlr_delay: Duration,
    /// The receipt's stat: DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD or ENROUTE.
    #[arg(long, default_value = "DELIVRD", value_parser = receipt::parse_stat)]
    pub dlr_stat: String,
    /// Answer every Nth submit_sm with ESME_RTHROTTLED (0x58).
    #[arg(long, value_name = "N")]
    pub throttle_every: Option<u32>,
    /// Answer every Nth submit_sm with ESME_RMSGQFUL (0x14).
    #[arg(long, value_name = "N")]
    pub queue_full_every: Option<u32>,
    /// Answer every Nth submit_sm with ESME_RINVDSTADR (0x0B).
    #[arg(long, value_name = "N")]
    pub reject_every: Option<u32>,
    /// Close the connection at the Nth submit_sm, without answering it.
    #[arg(long, value_name = "N")]
    pub drop_after: Option<u32>,
    /// Delay every response by this long.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub stall: Option<Duration>,
    /// Stop answering submit_sm after N of them (the link stays open).
    #[arg(long, value_name = "N")]
    pub stall_after: Option<u32>,
    /// After every Nth submit_sm, send a PDU with the unknown command id 0x00000099.
    #[arg(long, value_name = "N")]
    pub garbage_every: Option<u32>,
    /// Answer every bind with ESME_RBINDFAIL (0x0D).
    #[arg(long)]
    pub refuse_binds: bool,
    /// How the receipt's id: field and receipted_message_id show the message id.
    #[arg(long, value_enum, default_value = "hex")]
    pub receipt_id_format: IdFormat,
    /// Also put receipted_message_id and message_state TLVs in the receipt.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub receipt_tlvs: bool,
    /// Append a JSON line per accepted submit_sm (message id, destination) to FILE.
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
}

impl SimArgs {
    /// Parses flags as `otpd smsc-sim` would (without the program name), e.g.
    /// `SimArgs::from_flags(["--listen", "127.0.0.1:0", "--throttle-every", "2"])`.
    pub fn from_flags<I, T>(flags: I) -> Result<SimArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: SimArgs,
        }
        let argv = std::iter::once(std::ffi::OsString::from("smsc-sim"))
            .chain(flags.into_iter().map(Into::into));
        <Command as clap::Parser>::try_parse_from(argv).map(|command| command.args)
    }
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    args: SimArgs,
    style: ReceiptStyle,
    counters: Counters,
    hub: Arc<Hub>,
    recorder: Option<record::Recorder>,
}

/// The next message id of this process (every simulator in it draws from one counter).
fn next_message_id() -> u64 {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    NEXT.get_or_init(|| AtomicU64::new(first_message_id()))
        .fetch_add(1, Ordering::Relaxed)
}

/// A running simulator; [`SmscSim::stop`] ends it, and so does dropping it.
#[derive(Debug)]
pub struct SmscSim {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    /// Tells the accept loop, the scheduler and every connection to end.
    shutdown: CancellationToken,
    /// Every task the simulator started, to wait for in `stop`.
    tasks: TaskTracker,
}

impl SmscSim {
    /// Binds the listener (port 0 allowed) and starts serving in a background task.
    pub async fn start(args: SimArgs) -> anyhow::Result<SmscSim> {
        let stat = Stat::parse(&args.dlr_stat)
            .map_err(|why| anyhow::anyhow!("--dlr-stat {}: {why}", args.dlr_stat))?;
        // A longer one could never be given: a bind carrying it does not decode.
        anyhow::ensure!(
            args.system_id.len() <= 15 && args.password.len() <= 8,
            "smsc-sim: SMPP 3.4 allows a system_id of at most 15 characters and a password of at most 8"
        );
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("smsc-sim: cannot listen on {}", args.listen))?;
        let local_addr = listener.local_addr()?;
        let recorder =
            match &args.record {
                Some(path) => Some(record::Recorder::open(path).with_context(|| {
                    format!("smsc-sim: cannot open --record {}", path.display())
                })?),
                None => None,
            };
        let (hub, scheduler) = Hub::new(args.dlr_delay);
        let style = ReceiptStyle {
            stat,
            id_format: args.receipt_id_format,
            tlvs: args.receipt_tlvs,
        };
        let shared = Arc::new(Shared {
            args,
            style,
            counters: Counters::default(),
            hub: Arc::new(hub),
            recorder,
        });
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        if let Some(input) = scheduler {
            tasks.spawn(hub::run_scheduler(
                shared.hub.clone(),
                input,
                shutdown.clone(),
            ));
        }
        tasks.spawn(accept_loop(
            listener,
            shared.clone(),
            shutdown.clone(),
            tasks.clone(),
        ));
        Ok(SmscSim {
            local_addr,
            shared,
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Closes the listener and every connection, and waits for their tasks to end.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for SmscSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Ids differ from one run to the next, as a real SMSC's do, so that a receipt of an
/// earlier run cannot match a message of this one; starting high also makes most ids
/// contain hex letters, which shows up an id compared in the wrong base.
fn first_message_id() -> u64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    (u64::try_from(millis).unwrap_or(0) << 4) | 0xA
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let mut connection = 0u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                connection += 1;
                bump(&shared.counters.connections);
                tracing::debug!(%peer, connection, "smsc-sim: connection accepted");
                tasks.spawn(conn::serve(
                    stream,
                    shared.clone(),
                    connection,
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(%error, "smsc-sim: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Runs until SIGINT or SIGTERM: what `otpd smsc-sim` calls.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let signals = crate::signals::StopSignals::install().context("smsc-sim: signal handlers")?;
    let sim = SmscSim::start(args).await?;
    tracing::info!(listen = %sim.local_addr(), "smsc-sim listening");
    signals.recv().await;
    let stats = sim.stats();
    sim.stop().await;
    tracing::info!(
        submits = stats.submits,
        accepted = stats.submits_ok,
        receipts_sent = stats.receipts_sent,
        receipts_acked = stats.receipts_acked,
        "smsc-sim stopped"
    );
    Ok(())
}
