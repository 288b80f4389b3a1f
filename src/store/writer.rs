//! The one writer: a thread that owns the write connection and commits in groups.
//!
//! Jobs queue on a bounded channel (back-pressure for the API). The thread takes the first job,
//! then everything already queued (up to [`MAX_GROUP`]), runs them in one transaction, each in a
//! savepoint so a failing job undoes only itself, commits once, and only then answers each
//! caller. A caller told "done" therefore knows its write is on disk (to the configured
//! durability), and one fsync serves the whole group.
//!
//! The writer also holds the webhooks' subscriptions, so that `insert_event` can queue a
//! delivery in the event's own transaction, and wakes the webhook sender after a commit that
//! queued one.

use super::StoreError;
use super::webhooks::{SubscriptionTable, Subscriptions};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Jobs in one transaction at most; bounds the latency a large burst adds to its first job.
const MAX_GROUP: usize = 512;
/// Jobs waiting at most before callers wait for room.
const QUEUE: usize = 8192;

/// The statements a job may run; see the `impl WriteTx` blocks in the table modules.
pub struct WriteTx<'c> {
    pub(super) conn: &'c Connection,
    /// The webhooks' subscriptions as the group began: `insert_event` queues a delivery for
    /// each one that wants the event.
    pub(super) subs: &'c Subscriptions,
    /// Set when a job queued a webhook delivery; the sender is woken after the commit.
    pub(super) queued_webhooks: &'c std::cell::Cell<bool>,
}

type Completion = Box<dyn FnOnce(&Result<(), String>) + Send>;

/// A queued write: run inside the group, or failed without running if the group cannot begin.
trait Job: Send {
    fn run(self: Box<Self>, tx: &WriteTx<'_>) -> Completion;
    fn fail(self: Box<Self>, why: &str);
}

struct FnJob<F, R, E> {
    f: F,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for FnJob<F, R, E>
where
    F: FnOnce(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &WriteTx<'_>) -> Completion {
        let FnJob { f, reply } = *self;
        let result = in_savepoint(tx, f);
        Box::new(move |commit: &Result<(), String>| {
            let result = match (commit, result) {
                (Ok(()), result) => result,
                (Err(_), Err(e)) => Err(e),
                (Err(msg), Ok(_)) => Err(StoreError::CommitFailed(msg.clone()).into()),
            };
            // The caller may have gone away (a dropped request); its write stands.
            let _ = reply.send(result);
        })
    }

    fn fail(self: Box<Self>, why: &str) {
        let _ = self
            .reply
            .send(Err(StoreError::CommitFailed(why.to_string()).into()));
    }
}

/// A handle to the writer thread; cheap to clone. The thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// Read by the writer thread at the start of each group; set on (re)load.
    subs: SubscriptionTable,
}

impl Writer {
    /// Starts the writer thread. `companion` is dropped when the thread ends (the checkpoint
    /// thread watches it).
    pub(super) fn start<T: Send + 'static>(
        conn: Connection,
        companion: T,
    ) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let subs = SubscriptionTable::default();
        let table = subs.clone();
        std::thread::Builder::new()
            .name("otpd-writer".into())
            .spawn(move || {
                run_writer(conn, rx, &table);
                drop(companion);
            })
            .map_err(|e| {
                StoreError::CommitFailed(format!("cannot start the writer thread: {e}"))
            })?;
        Ok(Writer { jobs, subs })
    }

    /// Replaces the webhooks' subscriptions; groups that begin afterwards use the new ones.
    pub fn set_subscriptions(&self, subs: Subscriptions) {
        self.subs.set(subs);
    }

    /// Notified after every commit that queued a webhook delivery.
    pub fn webhooks_queued(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.subs.queued()
    }

    /// Runs `f` on the writer inside the next group transaction and returns its result once
    /// that transaction has committed. If `f` fails, its own writes are undone and the others'
    /// kept.
    pub async fn run<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, E>>();
        let job: Box<dyn Job> = Box::new(FnJob { f, reply });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn in_savepoint<R, E, F>(tx: &WriteTx<'_>, f: F) -> Result<R, E>
where
    F: FnOnce(&WriteTx<'_>) -> Result<R, E>,
    E: From<StoreError>,
{
    let exec = |sql: &str| -> Result<(), StoreError> {
        tx.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    exec("SAVEPOINT job")?;
    match f(tx) {
        Ok(r) => {
            exec("RELEASE job")?;
            Ok(r)
        }
        Err(e) => {
            exec("ROLLBACK TO job")?;
            exec("RELEASE job")?;
            Err(e)
        }
    }
}

fn run_writer(conn: Connection, mut jobs: mpsc::Receiver<Box<dyn Job>>, subs: &SubscriptionTable) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = jobs.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let begun = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string());
        if let Err(msg) = &begun {
            tracing::error!(error = %msg, "cannot begin a transaction");
            for job in group.drain(..) {
                job.fail(msg);
            }
            continue;
        }
        let current = subs.get();
        let queued = std::cell::Cell::new(false);
        let tx = WriteTx {
            conn: &conn,
            subs: &current,
            queued_webhooks: &queued,
        };
        let completions: Vec<Completion> = group.drain(..).map(|job| job.run(&tx)).collect();
        let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if let Err(msg) = &committed {
            tracing::error!(error = %msg, jobs = completions.len(), "commit failed; nothing of this group was stored");
            let _ = conn.execute_batch("ROLLBACK");
        }
        if committed.is_ok() && queued.get() {
            subs.wake();
        }
        for done in completions {
            done(&committed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER UNIQUE)")
            .unwrap();
        (dir, Writer::start(conn, ()).unwrap())
    }

    fn insert(tx: &WriteTx<'_>, v: i64) -> Result<usize, StoreError> {
        Ok(tx.conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?)
    }

    fn count(tx: &WriteTx<'_>) -> Result<i64, StoreError> {
        Ok(tx
            .conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn a_failing_job_undoes_only_its_own_writes() {
        let (_dir, w) = writer();
        let a = w.run(|tx| insert(tx, 1));
        let b = w.run(|tx| {
            insert(tx, 2)?;
            insert(tx, 1) // violates UNIQUE: job b must leave no trace
        });
        let c = w.run(|tx| insert(tx, 3));
        let (a, b, c) = tokio::join!(a, b, c);
        assert!(a.is_ok() && b.is_err() && c.is_ok());
        assert_eq!(w.run(count).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn many_concurrent_jobs_all_commit() {
        let (_dir, w) = writer();
        let mut tasks = Vec::new();
        for v in 0..2000 {
            let w = w.clone();
            tasks.push(tokio::spawn(
                async move { w.run(move |tx| insert(tx, v)).await },
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(w.run(count).await.unwrap(), 2000);
    }
}
