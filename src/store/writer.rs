//! The one writer: a thread that owns the write connection and commits in groups.
//!
//! Jobs queue on a bounded channel (back-pressure for the API). The thread takes the first job,
//! then everything already queued (up to [`MAX_GROUP`]), runs them in one transaction, each in a
//! savepoint so a failing job undoes only itself, commits once, and only then answers each
//! caller. A caller told "done" therefore knows its write is on disk (to the configured
//! durability), and one fsync serves the whole group.
//!
//! A savepoint costs: SQLite copies every page a job changes into the savepoint's journal
//! first (about a sixth of the writer's time on a send). The jobs of the hot paths (a send, a
//! verify, the dispatcher's claims and records, delivery reports) can fail after writing only
//! when the store itself fails, so they run without one ([`Writer::run_unguarded`]). If such a
//! job does fail after writing, the whole group is rolled back and every job that ran in it is
//! told its write did not happen (a retryable store error); the jobs still queued behind it
//! run in a fresh transaction.
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
    /// Runs the job; the completion answers its caller once the group's fate is known. The
    /// flag says the group must go: the job failed after writing outside a savepoint, or the
    /// transaction is no longer open.
    fn run(self: Box<Self>, tx: &WriteTx<'_>) -> (Completion, bool);
    fn fail(self: Box<Self>, why: &str);
}

struct FnJob<F, R, E> {
    f: F,
    reply: oneshot::Sender<Result<R, E>>,
    /// Run in a savepoint of its own (see the module's comment).
    savepoint: bool,
}

impl<F, R, E> Job for FnJob<F, R, E>
where
    F: FnOnce(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &WriteTx<'_>) -> (Completion, bool) {
        let FnJob {
            f,
            reply,
            savepoint,
        } = *self;
        let changes = tx.conn.total_changes();
        let result = match savepoint {
            true => in_savepoint(tx, f),
            false => f(tx),
        };
        // SQLite rolls a whole transaction back by itself on some errors (disk full, I/O,
        // out of memory): then the rest of the group would run outside any transaction.
        let spoiled = (!savepoint && result.is_err() && tx.conn.total_changes() != changes)
            || tx.conn.is_autocommit();
        let completion = Box::new(move |commit: &Result<(), String>| {
            let result = match (commit, result) {
                (Ok(()), result) => result,
                (Err(_), Err(e)) => Err(e),
                (Err(msg), Ok(_)) => Err(StoreError::CommitFailed(msg.clone()).into()),
            };
            // The caller may have gone away (a dropped request); its write stands.
            let _ = reply.send(result);
        });
        (completion, spoiled)
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
        self.queue(f, true).await
    }

    /// Like [`Writer::run`], without a savepoint: for a job that returns an error after a
    /// write only when a statement failed (it validates before it writes, and a refusal that
    /// must be recorded is an `Ok`). If it does fail after writing, its group is rolled back:
    /// every job that ran in it fails with a store error (its caller may try again), and the
    /// jobs queued behind it run in a fresh transaction. Such a job must not swallow a store
    /// error and write on: if SQLite had ended the transaction, those writes would stand.
    pub async fn run_unguarded<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.queue(f, false).await
    }

    async fn queue<R, E, F>(&self, f: F, savepoint: bool) -> Result<R, E>
    where
        F: FnOnce(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, E>>();
        let job: Box<dyn Job> = Box::new(FnJob {
            f,
            reply,
            savepoint,
        });
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
    // Jobs of a rolled-back group that had not run yet: they start the next one.
    let mut left: Vec<Box<dyn Job>> = Vec::new();
    loop {
        if left.is_empty() {
            match jobs.blocking_recv() {
                Some(first) => group.push(first),
                None => break,
            }
        } else {
            group.append(&mut left);
        }
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
        let mut completions: Vec<Completion> = Vec::with_capacity(group.len());
        let mut spoiled = false;
        let mut queue = group.drain(..);
        for job in queue.by_ref() {
            let (done, spoils) = job.run(&tx);
            completions.push(done);
            if spoils {
                spoiled = true;
                break;
            }
        }
        left.extend(queue);
        let committed = if spoiled {
            let msg = "a job failed after writing without a savepoint, or its transaction ended; \
                       the group was rolled back";
            tracing::error!(jobs = completions.len(), "{msg}");
            let _ = conn.execute_batch("ROLLBACK");
            Err(msg.to_string())
        } else {
            let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
            if let Err(msg) = &committed {
                tracing::error!(error = %msg, jobs = completions.len(), "commit failed; nothing of this group was stored");
                let _ = conn.execute_batch("ROLLBACK");
            }
            committed
        };
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

    /// The values in `t`, in order.
    async fn values(w: &Writer) -> Vec<i64> {
        w.run(|tx| {
            let mut stmt = tx.conn.prepare("SELECT v FROM t ORDER BY v")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok::<_, StoreError>(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap()
    }

    /// Returns once `n` jobs wait in the queue.
    async fn queued(w: &Writer, n: usize) {
        while w.jobs.max_capacity() - w.jobs.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    /// Holds the writer in a job until the returned sender fires, so that the jobs queued
    /// meanwhile run together in the next group. Returns once the job runs.
    async fn hold(w: &Writer) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (running, started) = oneshot::channel::<()>();
        let w = w.clone();
        let held = tokio::spawn(async move {
            w.run(move |_| {
                let _ = running.send(());
                let _ = wait.recv();
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        });
        started.await.unwrap();
        (release, held)
    }

    #[tokio::test]
    async fn an_unguarded_job_that_fails_after_writing_rolls_its_group_back() {
        let (_dir, w) = writer();
        // While the writer is held, the next three are queued: they share a group.
        let (release, held) = hold(&w).await;
        let (w1, w2, w3) = (w.clone(), w.clone(), w.clone());
        let a = tokio::spawn(async move { w1.run_unguarded(|tx| insert(tx, 1)).await });
        let b = tokio::spawn(async move {
            w2.run_unguarded(|tx| {
                insert(tx, 2)?;
                insert(tx, 1) // violates UNIQUE after a write, with no savepoint to undo it
            })
            .await
        });
        let c = tokio::spawn(async move { w3.run(|tx| insert(tx, 3)).await });
        queued(&w, 3).await;
        release.send(()).unwrap();
        held.await.unwrap();
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        // a ran in b's group: rolled back with it, and told so. c, queued behind b, ran in a
        // fresh transaction.
        assert!(matches!(a, Err(StoreError::CommitFailed(_))), "{a:?}");
        assert!(matches!(b, Err(StoreError::Sqlite(_))), "{b:?}");
        assert_eq!(c.unwrap(), 1);
        let rows = values(&w).await;
        assert_eq!(rows, [3]);
    }

    #[tokio::test]
    async fn an_unguarded_job_that_fails_before_writing_spoils_nothing() {
        let (_dir, w) = writer();
        let (release, held) = hold(&w).await;
        let (w1, w2) = (w.clone(), w.clone());
        let a = tokio::spawn(async move { w1.run_unguarded(|tx| insert(tx, 1)).await });
        let b = tokio::spawn(async move {
            w2.run_unguarded(|tx| {
                count(tx)?;
                Err::<(), _>(StoreError::Closed) // a refusal found by reading
            })
            .await
        });
        queued(&w, 2).await;
        release.send(()).unwrap();
        held.await.unwrap();
        assert_eq!(a.await.unwrap().unwrap(), 1);
        assert!(b.await.unwrap().is_err());
        assert_eq!(w.run(count).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_transaction_that_sqlite_ended_fails_its_group_and_the_rest_run_anew() {
        let (_dir, w) = writer();
        let (release, held) = hold(&w).await;
        let (w1, w2, w3) = (w.clone(), w.clone(), w.clone());
        let a = tokio::spawn(async move { w1.run(|tx| insert(tx, 1)).await });
        // As SQLite does on disk full: the transaction is rolled back under the job's feet,
        // and the job carries on as if nothing happened.
        let b = tokio::spawn(async move {
            w2.run(|tx| {
                insert(tx, 2)?;
                tx.conn.execute_batch("ROLLBACK")?;
                insert(tx, 3) // would commit on its own, outside any transaction
            })
            .await
        });
        let c = tokio::spawn(async move { w3.run(|tx| insert(tx, 4)).await });
        queued(&w, 3).await;
        release.send(()).unwrap();
        held.await.unwrap();
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        assert!(matches!(a, Err(StoreError::CommitFailed(_))), "{a:?}");
        assert!(b.is_err(), "{b:?}"); // its savepoint went with the transaction
        assert_eq!(c.unwrap(), 1);
        let rows = values(&w).await;
        // b's last insert ran in autocommit mode and stayed: the group's failure is what its
        // caller hears, and nothing after it ran outside a transaction.
        assert_eq!(rows, [3, 4]);
    }
}
