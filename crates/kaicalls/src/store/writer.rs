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

/// Whose transaction it is: a request's (a client waits for it) or background work's
/// (a job). A batch takes every waiting request's first and then background work,
/// only [`BACKGROUND_BESIDE_REQUESTS`] of it while requests wait: requests are not
/// held up behind a backlog of jobs, and jobs keep moving under any request load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Request,
    Background,
}

const BACKGROUND_BESIDE_REQUESTS: usize = 8;

/// Both queues, taken together by one writer task at a time.
struct Queues {
    requests: mpsc::UnboundedReceiver<Pending>,
    background: mpsc::UnboundedReceiver<Pending>,
}

impl Queues {
    /// Waits for work, then takes the next batch (empty once every sender is gone).
    async fn next_batch(&mut self, batch: &mut Vec<Pending>) {
        let (first, mut requests) = tokio::select! {
            biased;
            Some(p) = self.requests.recv() => (p, 1),
            Some(p) = self.background.recv() => (p, 0),
            else => return,
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match self.requests.try_recv() {
                Ok(p) => {
                    batch.push(p);
                    requests += 1;
                }
                Err(_) => break,
            }
        }
        let room = if requests == 0 {
            MAX_BATCH
        } else {
            (requests + BACKGROUND_BESIDE_REQUESTS).min(MAX_BATCH)
        };
        while batch.len() < room {
            match self.background.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
    }
}

/// The queues of transactions waiting to be group-committed, and its writer tasks.
#[derive(Clone)]
pub struct Writer {
    requests: mpsc::UnboundedSender<Pending>,
    background: mpsc::UnboundedSender<Pending>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Spawns `tasks` writer tasks on `pool` (call inside a tokio runtime); they end
    /// when every handle is dropped.
    pub fn start(pool: AnyPool, tasks: usize) -> Writer {
        let (requests, requests_rx) = mpsc::unbounded_channel::<Pending>();
        let (background, background_rx) = mpsc::unbounded_channel::<Pending>();
        let queues = Arc::new(tokio::sync::Mutex::new(Queues {
            requests: requests_rx,
            background: background_rx,
        }));
        let commits = Arc::new(AtomicU64::new(0));
        for _ in 0..tasks.max(1) {
            let (pool, queues, commits) = (pool.clone(), queues.clone(), commits.clone());
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                loop {
                    queues.lock().await.next_batch(&mut batch).await;
                    if batch.is_empty() {
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
        Writer {
            requests,
            background,
            commits,
        }
    }

    /// Batches committed (or attempted) so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` in a shared transaction; returns its result once that transaction
    /// is committed (or its error, with nothing of it written).
    pub async fn write<T, F>(&self, priority: Priority, work: F) -> anyhow::Result<T>
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
        let queue = match priority {
            Priority::Request => &self.requests,
            Priority::Background => &self.background,
        };
        queue
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
        if result.is_ok() {
            crate::wake::events_committed();
        }
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
    if committed.is_ok() {
        crate::wake::events_committed();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A pending write that, answered, logs its name.
    fn pending(name: String, log: &Arc<Mutex<Vec<String>>>) -> Pending {
        let log = log.clone();
        Pending {
            work: Box::new(|_tx| Box::pin(async { Ok(()) })),
            answer: Box::new(move |_| log.lock().unwrap().push(name)),
        }
    }

    #[test]
    fn requests_go_first_and_background_work_still_moves() {
        let (req_tx, requests) = mpsc::unbounded_channel();
        let (bg_tx, background) = mpsc::unbounded_channel();
        let mut queues = Queues {
            requests,
            background,
        };
        let log = Arc::new(Mutex::new(vec![]));
        for i in 0..100 {
            bg_tx.send(pending(format!("job-{i}"), &log)).ok().unwrap();
        }
        for i in 0..3 {
            req_tx.send(pending(format!("req-{i}"), &log)).ok().unwrap();
        }
        let taken = |queues: &mut Queues| {
            let mut batch = vec![];
            poll_ready(queues.next_batch(&mut batch));
            let names: Vec<String> = batch
                .into_iter()
                .map(|p| {
                    (p.answer)(Ok(()));
                    log.lock().unwrap().pop().unwrap()
                })
                .collect();
            names
        };
        let first = taken(&mut queues);
        let mut expected: Vec<String> = (0..3).map(|i| format!("req-{i}")).collect();
        expected.extend((0..BACKGROUND_BESIDE_REQUESTS).map(|i| format!("job-{i}")));
        assert_eq!(first, expected, "requests first, a few jobs beside them");
        let second = taken(&mut queues);
        assert_eq!(
            second.len(),
            MAX_BATCH,
            "with no request waiting, a full batch of jobs"
        );
        assert_eq!(second[0], format!("job-{BACKGROUND_BESIDE_REQUESTS}"));
    }

    /// Polls a future that is ready (the queues hold work) to its end.
    fn poll_ready<F: Future<Output = ()>>(future: F) {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        assert!(
            future.as_mut().poll(&mut cx).is_ready(),
            "the batch was ready"
        );
    }
}
