//! `otpd modem-sim --link PATH`: the simulated modem on a pseudo-terminal, reachable at
//! a stable path as a USB stick is through a udev symlink.
//!
//! - The slave side is put in raw mode, so the line discipline passes every byte as is
//!   (no echo of its own, no CR/LF translation, Ctrl-Z and ESC not special).
//! - The simulator keeps a slave descriptor open itself. Linux reports EIO (and hangup)
//!   on the master while no process holds the slave; clients that open and close the
//!   device many times (Gammu does for every command, our driver after every failure)
//!   would otherwise make the simulator see the device die between sessions.
//! - The vanish fault closes the pty and removes the symlink, then after a while makes a
//!   fresh pty (perhaps with another /dev/pts number) and points the symlink at it, as a
//!   stick that re-enumerates on USB comes back under the same udev name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::signals::StopSignals;
use anyhow::Context as _;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use tokio::io::{AsyncRead, AsyncWrite, Join, ReadBuf};
use tokio::net::unix::pipe;
use tokio_util::sync::CancellationToken;

use super::args::SimArgs;
use super::modem::{Delivered, Modem};
use super::serve::{Outcome, serve};

/// One pseudo-terminal: the master the simulator serves, and the slave it holds open.
///
/// The master is driven through tokio's pipe halves, one on the descriptor and one on a
/// duplicate of it: they are plain non-blocking descriptors registered with the reactor,
/// read and written with read(2) and write(2), so nothing in them is particular to pipes
/// once the FIFO check is skipped. `AsyncFd` would do as well, but its safe constructor
/// is deprecated and this crate forbids `unsafe`.
struct Pty {
    io: Join<pipe::Receiver, pipe::Sender>,
    /// Held so that the master never sees the slave closed; never read, only polled to
    /// see whether the client has read what was written to it.
    slave: File,
    /// The slave device, e.g. `/dev/pts/3`.
    device: PathBuf,
}

impl Pty {
    /// Opens a pty pair with the slave in raw mode. Needs a tokio runtime (the master is
    /// registered with its reactor).
    fn open() -> io::Result<Pty> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let device = PathBuf::from(ptsname_r(&master)?);
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NOCTTY.bits())
            .open(&device)?;
        let mut termios = tcgetattr(&slave)?;
        cfmakeraw(&mut termios);
        tcsetattr(&slave, SetArg::TCSANOW, &termios)?;
        let reader = OwnedFd::from(master);
        let writer = reader.try_clone()?;
        let io = tokio::io::join(
            pipe::Receiver::from_owned_fd_unchecked(reader)?,
            pipe::Sender::from_owned_fd_unchecked(writer)?,
        );
        Ok(Pty { io, slave, device })
    }

    /// Waits until the client has read everything written to it, for at most `limit`.
    /// Closing the master hangs the slave up and throws away what is still in its input
    /// queue, so without this a client would lose the answer just before a vanish.
    async fn drained(&self, limit: Duration) {
        let give_up = tokio::time::Instant::now() + limit;
        while self.unread() && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether bytes wait in the slave's input queue (which every opener shares).
    fn unread(&self) -> bool {
        let mut fds = [PollFd::new(self.slave.as_fd(), PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
    }
}

impl AsyncRead for Pty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// How long a vanish waits for the client to read the last answer.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Points `link` at `target`, replacing a symlink already there (left by an earlier run
/// or by the vanish fault) in one rename; refuses to replace anything else.
fn publish(link: &Path, target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a symlink", link.display()),
            ));
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = link.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary)?;
    fs::rename(&temporary, link)
}

/// Removes `link` if it is a symlink.
fn unpublish(link: &Path) {
    if fs::symlink_metadata(link).is_ok_and(|meta| meta.file_type().is_symlink()) {
        let _ = fs::remove_file(link);
    }
}

/// Prints a delivered message as one JSON line; a closed stdout is not an error (the
/// simulator keeps answering the DTE).
fn print(message: Delivered) {
    let line = serde_json::json!({ "recipient": message.recipient, "text": message.text });
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Runs until SIGINT or SIGTERM: what `otpd modem-sim` calls.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let signals = StopSignals::install()?;
    tokio::spawn({
        let stop = stop.clone();
        async move {
            signals.recv().await;
            stop.cancel();
        }
    });
    let result = serve_on_ptys(&args, &stop).await;
    unpublish(&args.link);
    tracing::info!("modem-sim stopped");
    result
}

async fn serve_on_ptys(args: &SimArgs, stop: &CancellationToken) -> anyhow::Result<()> {
    let mut modem = Modem::new(args.config(), now());
    loop {
        let pty = Pty::open().context("modem-sim: cannot open a pseudo-terminal")?;
        publish(&args.link, &pty.device).with_context(|| {
            format!(
                "modem-sim: cannot create the symlink {}",
                args.link.display()
            )
        })?;
        tracing::info!(
            link = %args.link.display(),
            device = %pty.device.display(),
            "modem-sim ready"
        );
        let mut pty = pty;
        let outcome = serve(&mut pty, &mut modem, print, stop.clone())
            .await
            .with_context(|| format!("modem-sim: I/O error on {}", pty.device.display()))?;
        match outcome {
            Outcome::Stopped => return Ok(()),
            // The master never reads end of file while the slave is held open; if it
            // does, a fresh pty is the way on.
            Outcome::Closed => tracing::warn!("modem-sim: the pty closed; opening another"),
            Outcome::Vanished(duration) => {
                // The answer to the last send must reach the client before the hangup.
                pty.drained(DRAIN_LIMIT).await;
                unpublish(&args.link);
                // Closing the master: clients see a hangup, as on a USB unplug.
                drop(pty);
                tracing::warn!(?duration, link = %args.link.display(), "modem-sim: device gone");
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(duration) => {}
                }
                modem.power_cycle(now());
            }
        }
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_replaced_but_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("modem");
        publish(&link, Path::new("/dev/pts/98")).unwrap();
        publish(&link, Path::new("/dev/pts/99")).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/dev/pts/99"));
        unpublish(&link);
        assert!(fs::symlink_metadata(&link).is_err());
        fs::write(&link, "precious").unwrap();
        let refused = publish(&link, Path::new("/dev/pts/99")).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        unpublish(&link);
        assert_eq!(fs::read_to_string(&link).unwrap(), "precious");
    }

    #[tokio::test]
    async fn a_client_can_come_and_go() {
        let mut modem = Modem::new(super::super::Config::default(), now());
        let pty = Pty::open().unwrap();
        let device = pty.device.clone();
        let stop = CancellationToken::new();
        let server = tokio::spawn({
            let stop = stop.clone();
            async move { serve(pty, &mut modem, |_| {}, stop).await }
        });
        for _ in 0..3 {
            let device = device.clone();
            // A blocking client, as Gammu is: open, command, read the answer, close.
            let client = tokio::task::spawn_blocking(move || {
                let mut client = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(OFlag::O_NOCTTY.bits())
                    .open(&device)
                    .unwrap();
                std::io::Write::write_all(&mut client, b"ATI\r").unwrap();
                let mut seen = Vec::new();
                let mut buf = [0u8; 256];
                while !seen.ends_with(b"\r\nOK\r\n") {
                    let n = std::io::Read::read(&mut client, &mut buf).unwrap();
                    assert!(n > 0);
                    seen.extend_from_slice(&buf[..n]);
                }
                String::from_utf8(seen).unwrap()
            });
            let answer = tokio::time::timeout(std::time::Duration::from_secs(20), client)
                .await
                .expect("no answer on the pty")
                .unwrap();
            assert!(answer.contains("Model: E3372"), "{answer}");
        }
        stop.cancel();
        assert_eq!(server.await.unwrap().unwrap(), Outcome::Stopped);
    }
}
