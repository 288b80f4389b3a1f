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

pub(super) fn start(path: PathBuf) -> Result<(), StoreError> {
    let conn = Connection::open(&path)?;
    conn.busy_timeout(Duration::from_millis(100))?;
    std::thread::Builder::new()
        .name("otpd-checkpoint".into())
        .spawn(move || run(conn))
        .map_err(|e| {
            StoreError::CommitFailed(format!("cannot start the checkpoint thread: {e}"))
        })?;
    Ok(())
}

fn run(conn: Connection) {
    // The thread lives as long as the process; the database stays consistent whatever
    // moment the process ends at, since a checkpoint is itself crash-safe.
    loop {
        std::thread::sleep(EVERY);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
    }
}
