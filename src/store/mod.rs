//! The store: every SQL statement of otpd lives in this module.
//!
//! ```text
//!   async callers ──jobs──▶ Writer thread ──▶ one write connection (WAL)
//!        │                    group commit: all queued jobs in one transaction,
//!        │                    each job in its own savepoint (not the hot paths'),
//!        │                    replies after COMMIT
//!        └──reads──▶ Readers: a pool of read-only connections on the blocking pool
//! ```
//!
//! Business rules live in `otp` and `delivery`: they hand the writer a closure that calls the
//! typed statements of [`WriteTx`], so a rule that reads and then writes (a verify that counts
//! an attempt) runs alone on the one writer and cannot race another.

mod checkpoint;
mod migrate;
mod readers;
mod writer;

pub mod attempts;
pub mod audit;
pub mod fraud;
pub mod held_reports;
pub mod keys;
pub mod limits;
pub mod outbox;
pub mod queries;
pub mod retention;
pub mod verification;
pub mod webhooks;

pub use migrate::{SCHEMA, schema_versions};
pub use readers::Readers;
pub use writer::{WriteTx, Writer};

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How hard SQLite syncs a commit to disk (config `[store] synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The WAL is synced at checkpoints only: survives a crash of otpd, may lose the last
    /// commits on a power cut.
    Normal,
    /// The WAL is synced at every commit: survives a power cut too.
    Full,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database could not commit: {0}")]
    CommitFailed(String),
    #[error("the store is shut down")]
    Closed,
    #[error(
        "the database at {path} has schema version {found}, newer than this otpd knows ({known}); upgrade otpd"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("bad value in column {column}: {value}")]
    BadValue { column: &'static str, value: String },
}

/// The open database: the writer and the readers.
#[derive(Clone)]
pub struct Store {
    pub writer: Writer,
    pub readers: Readers,
}

impl Store {
    /// Opens (creating and upgrading if needed) the database at `path` and starts the writer.
    pub fn open(path: &Path, durability: Durability) -> Result<Store, StoreError> {
        let conn = open_write_connection(path, durability)?;
        // The writer never checkpoints: copying the WAL into the database file would stall
        // every caller waiting on its commit. A thread of its own does it instead.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = checkpoint::start(path.to_path_buf())?;
        let writer = Writer::start(conn, checkpointer)?;
        let readers = Readers::new(path.to_path_buf());
        Ok(Store { writer, readers })
    }
}

/// Opens a write connection and brings the schema up to date. Also used by the admin
/// commands (`otpd key ...`), which write next to a running daemon.
pub fn open_write_connection(
    path: &Path,
    durability: Durability,
) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Pages are read through a memory map instead of a read() copy per page.
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    // Most jobs run in a savepoint; its sub-journal belongs in memory, not in a temp file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    migrate::upgrade(&mut conn, path)?;
    Ok(conn)
}

/// Prepared statements a connection keeps. rusqlite keeps 16 by default, fewer than the
/// writer's jobs use in turn: each miss parsed its SQL again (1.5 % of the daemon's CPU under
/// load). Every distinct statement of the code fits in this.
const STATEMENT_CACHE: usize = 256;

/// How much of the database file connections map into memory.
const MMAP_BYTES: i64 = 256 << 20;

/// Copies everything in the WAL into the database file and empties the WAL. Run at shutdown,
/// when the writer is idle.
pub fn checkpoint(path: &Path) -> Result<(), StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// A consistent copy of the database at `path` into `dest` (SQLite's online backup API), taken
/// while the daemon may be writing. Written to a temporary file first, then renamed, so `dest`
/// is never a partial copy.
pub fn backup(path: &Path, dest: &Path) -> Result<(), StoreError> {
    let src = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(Duration::from_secs(5))?;
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    {
        let mut out = Connection::open(&partial)?;
        let copy = rusqlite::backup::Backup::new(&src, &mut out)?;
        // All pages in one step (-1): the copy restarts if the daemon writes between steps,
        // so small steps could let a busy daemon keep it restarting for ever.
        loop {
            match copy.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                // The source is briefly locked (a checkpoint): try again shortly.
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        drop(copy);
        let ok: String = out.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::BadValue {
                column: "integrity_check",
                value: ok,
            });
        }
        out.pragma_update(None, "journal_mode", "DELETE")?;
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| StoreError::CommitFailed(format!("cannot write {}: {e}", dest.display())))?;
    Ok(())
}

fn open_read_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    Ok(conn)
}

/// Reads a column that holds one of our string enums.
fn parse_enum<T>(
    column: &'static str,
    value: String,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(&value).ok_or(StoreError::BadValue { column, value })
}
