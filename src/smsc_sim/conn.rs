//! The task of one connection: moves bytes between the socket and its [`Session`].
//!
//! One task per connection does both directions, so the session needs no lock. Each turn
//! handles everything that is ready (all whole PDUs read so far, every receipt the hub has
//! routed here) into one write buffer, and writes that buffer whenever the socket takes it.
//! Under load one read brings many PDUs and one write answers them all; when the
//! connection is quiet each reply goes out as soon as it is made. Nothing sleeps per
//! message: `--stall` is one timer reset for the reply at the head of the queue.

use std::{sync::Arc, time::Duration};

use bytes::BytesMut;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc::{UnboundedReceiver, unbounded_channel},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    Shared,
    receipt::Receipt,
    session::{Flow, Session},
    wire,
};

/// Read buffer size; a read of this many bytes holds well over a hundred submit_sm.
const READ_CHUNK: usize = 64 * 1024;

/// Serves one connection until the client leaves, the session closes it, or `shutdown`.
pub(super) async fn serve(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    connection: u64,
    shutdown: CancellationToken,
) {
    // Replies are already batched per read; Nagle would only hold the last one back.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "smsc-sim: cannot set TCP_NODELAY");
    }
    let (receipts_tx, mut receipts_rx) = unbounded_channel();
    let mut session = Session::new(shared, connection, receipts_tx);
    let outcome = pump(&mut stream, &mut session, &mut receipts_rx, &shutdown).await;
    match outcome {
        Ok(()) => {
            // Let the client see a clean close (a no-op if it has gone already).
            let _ = stream.shutdown().await;
        }
        Err(error) => tracing::debug!(connection, %error, "smsc-sim: connection ended"),
    }
    receipts_rx.close();
    let unsent = std::iter::from_fn(|| receipts_rx.try_recv().ok());
    session.finish(unsent);
    tracing::debug!(connection, "smsc-sim: connection closed");
}

/// Everything available now, without waiting: whole frames read so far.
fn handle_frames(session: &mut Session, read: &mut BytesMut) {
    while session.flow == Flow::Open {
        match wire::next_frame(read) {
            Ok(Some(frame)) => session.on_frame(frame),
            Ok(None) => break,
            Err(error) => session.on_bad_length(&error),
        }
    }
}

/// Receipts routed here, as many as the session's window takes.
fn take_receipts(session: &mut Session, receipts: &mut UnboundedReceiver<Receipt>) {
    while session.wants_receipts() {
        match receipts.try_recv() {
            Ok(receipt) => session.send_receipt(receipt),
            Err(_) => break,
        }
    }
}

/// Runs the connection; `Ok` when either side closed it, `Err` when the socket failed.
async fn pump(
    stream: &mut TcpStream,
    session: &mut Session,
    receipts: &mut UnboundedReceiver<Receipt>,
    shutdown: &CancellationToken,
) -> std::io::Result<()> {
    let (mut reader, mut writer) = stream.split();
    let mut read = BytesMut::with_capacity(READ_CHUNK);
    let stall_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(stall_timer);
    loop {
        take_receipts(session, receipts);
        if session.done() {
            return Ok(());
        }
        let release = session.next_release();
        if let Some(due) = release.filter(|due| *due != stall_timer.deadline()) {
            stall_timer.as_mut().reset(due);
        }
        let reading = session.reading();
        if reading && read.capacity() - read.len() < READ_CHUNK / 4 {
            read.reserve(READ_CHUNK);
        }
        // Writing comes first so that what a read produced goes out before the next read.
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            written = writer.write_buf(&mut session.out), if !session.out.is_empty() => {
                if written? == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
            }
            () = &mut stall_timer, if release.is_some() => session.release(Instant::now()),
            receipt = receipts.recv(), if session.wants_receipts() => {
                // The session holds a sender, so the channel never ends while it lives.
                if let Some(receipt) = receipt {
                    session.send_receipt(receipt);
                }
            }
            n = reader.read_buf(&mut read), if reading => {
                if n? == 0 {
                    // The client left; nothing it could still read matters.
                    return Ok(());
                }
                handle_frames(session, &mut read);
            }
        }
    }
}
