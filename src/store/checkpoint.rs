//! WAL checkpoints on a thread of their own. The writer runs with `wal_autocheckpoint = 0`;
//! this thread copies committed WAL frames into the database file whenever the WAL has grown,
//! without blocking the writer (PASSIVE). Once a checkpoint has copied every frame, SQLite's
//! next write transaction starts the WAL over from its beginning, so the file stays small.

use super::StoreError;
use rusqlite::Connection;
use std::path::PathBuf;
use std::time::Duration;

/// How often the WAL is looked at.
const EVERY: Duration = Duration::from_millis(200);

/// Starts the thread; it runs until the returned handle is dropped (by the writer thread,
/// when the writer closes), then checkpoints one last time and ends.
pub(super) fn start(path: PathBuf) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = Connection::open(&path)?;
    conn.busy_timeout(Duration::from_millis(100))?;
    let (alive, closed) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("otpd-checkpoint".into())
        .spawn(move || run(conn, closed))
        .map_err(|e| {
            StoreError::CommitFailed(format!("cannot start the checkpoint thread: {e}"))
        })?;
    Ok(alive)
}

fn run(conn: Connection, closed: std::sync::mpsc::Receiver<()>) {
    // A checkpoint is crash-safe, so the process may end at any moment of this loop.
    loop {
        let last = !matches!(
            closed.recv_timeout(EVERY),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
        if last {
            break;
        }
    }
}
