//! Group commit of whole transactions. A hot write path hands its transaction's work
//! (a closure over a [`Tx`]) to [`Writer::write`]; a writer task runs every piece of
//! work waiting at that moment inside one database transaction, each in its own
//! savepoint, commits once, and only then answers each caller. So a caller that
//! waits before answering its client keeps "answered means committed", also across
//! kill -9, while N transactions cost one commit (one WAL append of the pages they
//! share on SQLite, one fsync on PostgreSQL). A piece of work that fails is rolled
//! back to its savepoint alone; the others commit. Batches form by themselves:
//! while one is written, the next gathers.
//!
//! SQLite has one writer task (it has one writer connection). PostgreSQL has a few,
//! so batches of independent callers still run in parallel.
//!
//! The work must use only the transaction it is given: a work that waited for
//! another `write` would wait for itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::Tx;

/// Transactions per batch: bounds how long the first one in a batch waits.
const MAX_BATCH: usize = 64;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a caller hands over: the work, run once inside the shared transaction.
type Work = Box<dyn for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, anyhow::Result<()>> + Send>;
/// Answers the caller once the batch's fate is known (its result, or the commit's error).
type Answer = Box<dyn FnOnce(anyhow::Result<()>) + Send>;

struct Pending {
    work: Work,
    answer: Answer,
}

/// The queue of transactions waiting to be group-committed, and its writer tasks.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Pending>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Spawns `tasks` writer tasks on `pool` (call inside a tokio runtime); they end
    /// when every handle is dropped.
    pub fn start(pool: AnyPool, tasks: usize) -> Writer {
        let (queue, receiver) = mpsc::unbounded_channel::<Pending>();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let commits = Arc::new(AtomicU64::new(0));
        for _ in 0..tasks.max(1) {
            let (pool, receiver, commits) = (pool.clone(), receiver.clone(), commits.clone());
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                loop {
                    let taken = receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await;
                    if taken == 0 {
                        break;
                    }
                    commits.fetch_add(1, Ordering::Relaxed);
                    // Its own task: a panicking work loses its batch (rolled back,
                    // its callers told), not the writer.
                    let run = tokio::spawn(run_batch(pool.clone(), std::mem::take(&mut batch)));
                    if let Err(err) = run.await {
                        tracing::error!(error = %err, "a grouped transaction panicked; its batch was rolled back");
                    }
                }
            });
        }
        Writer { queue, commits }
    }

    /// Batches committed (or attempted) so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` in a shared transaction; returns its result once that transaction
    /// is committed (or its error, with nothing of it written).
    pub async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, anyhow::Result<T>> + Send + 'static,
    {
        let output: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let slot = output.clone();
        let work: Work = Box::new(move |tx| {
            Box::pin(async move {
                let value = work(tx).await?;
                *slot.lock().expect("write output") = Some(value);
                Ok(())
            })
        });
        let (done, answered) = oneshot::channel::<anyhow::Result<()>>();
        let answer: Answer = Box::new(move |result| {
            let _ = done.send(result);
        });
        self.queue
            .send(Pending { work, answer })
            .map_err(|_| anyhow::anyhow!("the store's writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the transaction was rolled back: its batch failed"))??;
        let value = output.lock().expect("write output").take();
        value.ok_or_else(|| anyhow::anyhow!("committed work left no result"))
    }
}

async fn run_batch(pool: AnyPool, batch: Vec<Pending>) {
    metrics::histogram!("kaicalls_group_commit_transactions").record(batch.len() as f64);
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(err) => {
            for pending in batch {
                (pending.answer)(Err(anyhow::anyhow!("cannot begin a transaction: {err}")));
            }
            return;
        }
    };
    // One piece of work needs no savepoint: its failure rolls back the transaction.
    if batch.len() == 1 {
        let pending = batch.into_iter().next().expect("one");
        let result = match (pending.work)(&mut tx).await {
            Ok(()) => tx.commit().await.map_err(anyhow::Error::from),
            Err(err) => Err(err),
        };
        (pending.answer)(result);
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    let mut healthy = true;
    for pending in batch {
        answers.push(pending.answer);
        if !healthy {
            results.push(Err(anyhow::anyhow!("rolled back with its batch")));
            continue;
        }
        let (result, ok) = run_in_savepoint(&mut tx, pending.work).await;
        healthy = ok;
        results.push(result);
    }
    // A savepoint that could not be rolled back may hold a failed work's writes:
    // nothing of the batch is committed then.
    let committed = if healthy {
        tx.commit().await.map_err(|e| e.to_string())
    } else {
        let _ = tx.rollback().await;
        Err("a savepoint could not be rolled back".to_string())
    };
    for (answer, result) in answers.into_iter().zip(results) {
        answer(match &committed {
            Ok(()) => result,
            Err(err) => Err(anyhow::anyhow!("the batch's commit failed: {err}")),
        });
    }
}

/// Runs one caller's work between `SAVEPOINT` and `RELEASE`; on failure rolls back to
/// the savepoint, leaving the transaction usable for the next (PostgreSQL aborts a
/// transaction at its first error until then). Also says whether the transaction is
/// still sound.
async fn run_in_savepoint(tx: &mut Tx, work: Work) -> (anyhow::Result<()>, bool) {
    if let Err(err) = sqlx::query("SAVEPOINT grouped").execute(&mut **tx).await {
        return (Err(err.into()), false);
    }
    match work(tx).await {
        Ok(()) => match sqlx::query("RELEASE SAVEPOINT grouped")
            .execute(&mut **tx)
            .await
        {
            Ok(_) => (Ok(()), true),
            Err(err) => (Err(err.into()), false),
        },
        Err(err) => {
            let undone = sqlx::query("ROLLBACK TO SAVEPOINT grouped")
                .execute(&mut **tx)
                .await;
            let released = sqlx::query("RELEASE SAVEPOINT grouped")
                .execute(&mut **tx)
                .await;
            let sound = undone.and(released).is_ok();
            (Err(err), sound)
        }
    }
}
